/* SPDX-License-Identifier: MIT */
/* util/log.h: the one logging entry point. policy/ and cgroup/ use log_debug() at most;
 * daemon/ decides what the operator sees. Target: journald when stderr is the journal stream (or forced),
 * stderr otherwise. */
#pragma once

#include <syslog.h>

#include "macro.h"

typedef enum LogTarget {
        LOG_TARGET_AUTO,    /* journal if $JOURNAL_STREAM matches stderr, else stderr */
        LOG_TARGET_STDERR,
        LOG_TARGET_JOURNAL,
} LogTarget;

void log_set_target(LogTarget t);
void log_set_max_level(int level);
int log_get_max_level(void);
/* Parses "debug", "info", "notice", "warning", "err"/"error", "crit", "alert", "emerg" or a number 0-7.
 * Returns the level, or -EINVAL. */
int log_level_from_string(const char *s);
const char *log_level_to_string(int level);
/* True when messages go to journald (structured records are then worth sending). */
bool log_to_journal(void);

/* Logs and returns -abs(error) (or 0 when error is 0), so callers can `return log_error_errno(r, ...)`.
 * %m in fmt is the error's strerror. */
int log_internal(int level, int error, const char *file, int line, const char *func, const char *fmt, ...)
        _printf_(6, 7);

#define log_full_errno(level, error, ...)                                                                   \
        ({                                                                                                  \
                int _l = (level), _e = (error);                                                             \
                (log_get_max_level() >= _l) ?                                                               \
                        log_internal(_l, _e, __FILE__, __LINE__, __func__, __VA_ARGS__) :                   \
                        (_e < 0 ? _e : -_e);                                                                \
        })
#define log_full(level, ...) (void) log_full_errno(level, 0, __VA_ARGS__)
#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)
#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, e, __VA_ARGS__)

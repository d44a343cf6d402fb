/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-restart.h: what the restart rung needs besides D-Bus: a [Restart] Command= template and its
 * expansion (pure), and a
 * StartLimit-style counter (pure). No logging above debug. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup-fs.h"

/* Checks a Command= template: at least one word; '%' only in %c %u %p %%. Returns 0; -EINVAL with
 * *ret_bad set to the unknown specifier character (0 when the problem is an empty command). */
int restart_command_check(const char *tmpl, char *ret_bad);

typedef struct RestartCommandVars {
        const char *container_id; /* %c */
        const char *unit;         /* %u */
        const char *cgroup;       /* %p */
} RestartCommandVars;

/* Splits tmpl at blanks (no quoting, no shell) and expands the specifiers in every word (a missing value
 * expands to ""). Returns 0 with a NULL-terminated malloc'd argv (strv_free()); -EINVAL as
 * restart_command_check(); -ENODATA when a specifier is used whose value is missing (e.g. %c for a
 * cgroup that is not a container): running "podman restart" without its argument would do harm. */
int restart_command_expand(const char *tmpl, const RestartCommandVars *v, char ***ret_argv);

/* The start time (field 22, clock ticks since boot) from the contents of /proc/PID/stat. The comm field
 * may hold anything, ") " included: the fields are counted after the last ')'. Returns 0, -EINVAL. */
int proc_stat_parse_starttime(const char *buf, uint64_t *ret);

/* At most burst restarts per interval (systemd's StartLimitBurst=/StartLimitIntervalSec=). burst or interval
 * 0: no limit. */
#define RESTART_LIMIT_BURST_MAX 64
typedef struct RestartLimit {
        uint64_t at_usec[RESTART_LIMIT_BURST_MAX]; /* ring of the most recent restarts */
        unsigned n, head;
} RestartLimit;

/* Would a restart at now be within the limit? If so records it and returns true; false: over the limit (not
 * recorded). A burst larger than RESTART_LIMIT_BURST_MAX counts as RESTART_LIMIT_BURST_MAX. */
bool restart_limit_take(RestartLimit *l, uint64_t now_usec, unsigned burst, uint64_t interval_usec);

/* SPDX-License-Identifier: MIT */
/* daemon/action-trim-inject.h: the trim rung's injected calls ([Trim] Inject=yes), for processes without a
 * SIGRTMIN+18 handler. The injection itself (cgroup/cgroup-inject.c) stops a thread of the target and can
 * take seconds, so the daemon never runs it in its event loop: it spawns one helper per cgroup,
 * `memwardenctl trim --inject --report --timeout T PID:START...`, which injects one process after the
 * other, and reads the helper's report lines through a pipe as they come. One helper per cgroup at a time;
 * each process at most once per TRIM_INJECT_COOLDOWN_USEC. Killing the helper (overall timeout, or the
 * daemon exiting) is safe: a target mid-call finishes it and restores itself. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "manager.h"

#define TRIM_INJECT_COOLDOWN_USEC (60 * USEC_PER_SEC)
#define TRIM_INJECT_BATCH_MAX 64

/* One report line of the helper (ctl/ctl-inject.c --report). */
typedef struct TrimInjectLine {
        pid_t pid;
        char result[16];   /* injected, refused, gone, error */
        char how[16];      /* malloc_trim, mallctl-purge */
        char was[24];      /* what the thread was doing */
        uint64_t rss_before, rss_after, released, call_usec, stop_usec;
        char reason[200];
} TrimInjectLine;

/* Pure: parses one --report line. Returns 0 or -EINVAL. */
int trim_inject_line_parse(const char *line, TrimInjectLine *ret);

/* The processes one trim asks to inject. */
typedef struct TrimInjectBatch {
        pid_t pids[TRIM_INJECT_BATCH_MAX];
        uint64_t starts[TRIM_INJECT_BATCH_MAX];
        size_t n;
        unsigned cooling; /* left out: injected less than TRIM_INJECT_COOLDOWN_USEC ago */
        unsigned full;    /* left out: more than TRIM_INJECT_BATCH_MAX */
} TrimInjectBatch;

/* Adds pid (start time read now) unless it is cooling down or the batch is full. Returns true if added. */
bool trim_inject_batch_add(TrimInjectBatch *b, const CgroupRoot *root, pid_t pid, usec_t now);

/* Starts the helper for the guard's cgroup. Returns 1 started, 0 when the batch is empty, -EBUSY when the
 * previous helper of this cgroup still runs, negative errno. */
int trim_inject_start(Manager *m, const char *guard_path, usec_t per_process_timeout_usec,
                      const TrimInjectBatch *b);

/* The helper's line for pid from the last run for this cgroup (true), false when there is none yet. */
bool trim_inject_result(const char *guard_path, pid_t pid, TrimInjectLine *ret);

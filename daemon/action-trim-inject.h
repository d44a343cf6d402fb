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
        uint64_t held_before, free_before; /* what the allocator reports before the call: glibc's mallinfo2()
                                            * arena + hblkhd, fordblks; jemalloc's stats.resident,
                                            * resident - allocated */
        uint64_t held_after, free_after;   /* the same after the call; 0 when not read */
        unsigned arenas;                   /* glibc: arenas counted from its heaps; 0 unknown */
        char reason[200];
} TrimInjectLine;

/* Pure: parses one --report line. Returns 0 or -EINVAL. */
int trim_inject_line_parse(const char *line, TrimInjectLine *ret);

/* The processes one trim asks to inject. The helper takes them largest first (trim_inject_batch_sort()):
 * one injection can take seconds under pressure, and the process holding most is the one to reach before
 * the limit. */
typedef struct TrimInjectBatch {
        pid_t pids[TRIM_INJECT_BATCH_MAX];
        uint64_t starts[TRIM_INJECT_BATCH_MAX];
        uint64_t rss[TRIM_INJECT_BATCH_MAX];
        size_t n;
        unsigned cooling; /* left out: injected less than TRIM_INJECT_COOLDOWN_USEC ago */
        unsigned full;    /* left out: smaller than the TRIM_INJECT_BATCH_MAX largest */
} TrimInjectBatch;

/* Adds pid (start time read now) unless it is cooling down; a full batch keeps its TRIM_INJECT_BATCH_MAX
 * largest (by rss_bytes). Returns true if added (a smaller one may have been dropped for it: its caller
 * learns that from trim_inject_batch_has()). */
bool trim_inject_batch_add(TrimInjectBatch *b, const CgroupRoot *root, pid_t pid, uint64_t rss_bytes, usec_t now);

/* Pure: whether pid is (still) in the batch. */
bool trim_inject_batch_has(const TrimInjectBatch *b, pid_t pid);

/* Pure: orders the batch by RSS, largest first (ties: lower PID first). */
void trim_inject_batch_sort(TrimInjectBatch *b);

/* Sorts the batch and starts the helper for the guard's cgroup. Returns 1 started, 0 when the batch is empty, -EBUSY when the
 * previous helper of this cgroup still runs, negative errno. */
int trim_inject_start(Manager *m, const char *guard_path, usec_t per_process_timeout_usec, TrimInjectBatch *b);

/* Appends " via=injected how=... released=... ..." (or " via=injected result=refused reason=...") for one
 * helper line to a TRIM_PROCESS= value. Pure. Returns what snprintf returns. */
int trim_inject_line_format(const TrimInjectLine *l, char *buf, size_t size);

/* Whether the injection helper of this cgroup still runs, and for how many processes. */
bool trim_inject_running(const char *guard_path, size_t *ret_n);

/* The helper's line for pid from the last run for this cgroup (true), false when there is none yet. */
bool trim_inject_result(const char *guard_path, pid_t pid, TrimInjectLine *ret);

/* At start and reload: when a policy asks for Inject=yes but the daemon's own seccomp filter refuses the
 * system calls an injection needs, one warning record (INJECT=blocked) says what to add. */
void trim_inject_check_sandbox(Manager *m);

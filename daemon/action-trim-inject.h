/* SPDX-License-Identifier: MIT */
/* daemon/action-trim-inject.h: the trim rung's injected calls ([Trim] Inject=yes), for processes without a
 * SIGRTMIN+18 handler. The injection itself (cgroup/cgroup-inject.c) stops a thread of the target and can
 * take seconds, so the daemon never runs it in its event loop: it spawns one helper per cgroup,
 * `memwardenctl trim --inject --report --timeout T PID:START...`, which injects one process after the
 * other, and reads the helper's report lines through a pipe as they come. One helper per cgroup at a time;
 * each process at most once per TRIM_INJECT_COOLDOWN_USEC. Killing the helper (overall timeout, its guard
 * going, or the daemon exiting) is safe: a target mid-call finishes it and restores itself.
 * Where the state lives: a guard's run (InjectRun) in the guard's trim state (daemon/action-trim.c), freed
 * with it; the per-process cooldowns in the Manager (a process may sit under two nested guards, and moves),
 * freed with it. Neither survives a daemon restart: a cooldown is a minute, and the helper dies with us. */
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
bool trim_inject_batch_add(TrimInjectBatch *b, const Manager *m, pid_t pid, uint64_t rss_bytes, usec_t now);

/* Pure: whether pid is (still) in the batch. */
bool trim_inject_batch_has(const TrimInjectBatch *b, pid_t pid);

/* Pure: orders the batch by RSS, largest first (ties: lower PID first). */
void trim_inject_batch_sort(TrimInjectBatch *b);

/* Sorts the batch and starts the helper for the guard's cgroup guard_path; the run goes into *runp (the
 * guard's), replacing the finished one there. g (may be NULL) gets the result record when the helper ends.
 * Returns 1 started, 0 when the batch is empty, -EBUSY when *runp's helper still runs, negative errno. */
int trim_inject_start(Manager *m, Guard *g, const char *guard_path, InjectRun **runp, usec_t per_process_timeout_usec,
                      TrimInjectBatch *b);

/* Appends " via=injected how=... released=... ..." (or " via=injected result=refused reason=...") for one
 * helper line to a TRIM_PROCESS= value. Pure. Returns what snprintf returns. */
int trim_inject_line_format(const TrimInjectLine *l, char *buf, size_t size);

/* Whether the run's helper still runs, and for how many processes. */
bool trim_inject_running(const InjectRun *r, size_t *ret_n);

/* The helper's line for pid from the run (true), false when there is none (yet, or no run). */
bool trim_inject_result(const InjectRun *r, pid_t pid, TrimInjectLine *ret);

/* The guard goes: a finished run is freed; a running helper is killed and its run kept by the manager until
 * the helper is reaped (the loop never waits for it). *runp becomes NULL. */
void trim_inject_run_drop(InjectRun **runp);

/* At exit, after the guards: frees the cooldowns and the runs whose helper was not reaped yet. */
void trim_inject_manager_free(Manager *m);

/* At start and reload: when a policy asks for Inject=yes but the daemon's own seccomp filter refuses the
 * system calls an injection needs, one warning record (INJECT=blocked) says what to add. */
void trim_inject_check_sandbox(Manager *m);

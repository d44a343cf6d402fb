/* SPDX-License-Identifier: MIT */
/* daemon/sentinel.h: shared PSI triggers (docs/scale.md). On Debian's 6.1 kernel every cgroup with a PSI trigger
 * gets its own SCHED_FIFO "psimon" kernel thread and ~41 KiB of kernel memory. PSI "some" is hierarchical
 * (kernel/sched/psi.c: a task's state counts in every ancestor's group), so one "some" trigger on a parent
 * cgroup (the sentinel) stands for all of its guarded children that share a trigger setting: when it fires,
 * each child's memory.pressure total since the last look says which one stalled. A child that stalled gets
 * its own trigger back ("hot") while it may be under pressure, and loses it again once calm.
 *
 * Grouping: one Sentinel per (kind, STALL, WINDOW, parent cgroup). A group of one keeps its own trigger (the
 * exact semantics of today, for the same cost); from two members on, the parent's trigger stands in.
 *
 * The parent's stall is a weighted average over CPUs (each CPU's stall times that CPU's non-idle time of the
 * group): a child stalled on one CPU while its siblings keep other CPUs busy shows less stall in the
 * parent than in itself. The sentinel's threshold is therefore lowered to the least the parent can show
 * when a child reaches STALL within WINDOW (sentinel_stall_usec()). "full" is not hierarchical, but a
 * child's full stall is part of its some stall, so the parent's "some" trigger also bounds a FullTrigger=. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "cgroup/cgroup-psi.h"
#include "util/macro.h"

typedef struct Guard Guard;
typedef struct Manager Manager;
typedef struct Sentinel Sentinel;

/* A guard's membership of one sentinel group (one per PsiKind), embedded in Guard. */
typedef struct SentinelLink {
        Sentinel *sentinel;              /* NULL: not a member */
        uint32_t index;                  /* position in the sentinel's member array */
        bool hot;                        /* its own trigger is armed because it stalled */
        uint64_t last_total_usec;        /* memory.pressure total (some or full) at the last look */
        usec_t last_look_usec;           /* CLOCK_MONOTONIC of that look; 0: none yet */
} SentinelLink;

/* Members of one sentinel above which the sentinel, not each child, holds the trigger. */
#define SENTINEL_MIN_MEMBERS 2
/* At most this many members of one sentinel have their own (hot) trigger at a time: a pressure wave over
 * thousands of siblings must not bring thousands of psimon threads back. Beyond it, stalled members are
 * still stepped from the sentinel's scans. */
#define SENTINEL_HOT_MAX 64

typedef enum SentinelVerdict {
        SENTINEL_CALM,     /* no stall since the last look */
        SENTINEL_WARM,     /* stalled, but its own trigger would not have fired (or we cannot tell) */
        SENTINEL_FIRED,    /* stalled STALL or more within WINDOW: its own trigger would have fired */
        SENTINEL_RESET,    /* the total went backwards (cgroup recreated): new baseline */
} SentinelVerdict;

/* Pure: what a member's total says. FIRED only when the growth since a look at most WINDOW ago reaches
 * STALL (a lower bound of its growth within the window: its own trigger would have fired). */
SentinelVerdict sentinel_classify(uint64_t last_total_usec, usec_t last_look_usec, uint64_t total_usec,
                                  usec_t now_usec, usec_t stall_usec, usec_t window_usec);

/* Pure: whether a hot member may drop its own trigger: not under pressure and its stall rate since the last
 * look below half the trigger's (STALL/WINDOW). */
bool sentinel_may_cool(bool under_pressure, uint64_t last_total_usec, usec_t last_look_usec,
                       uint64_t total_usec, usec_t now_usec, usec_t stall_usec, usec_t window_usec);

/* Pure: the parent's threshold. When a child's stall within WINDOW reaches STALL on n_cpus CPUs, the parent
 * shows at least STALL^2 / (STALL + (n_cpus - 1) * WINDOW) (the worst case: the child stalled on one CPU,
 * every other CPU busy in the parent; the bound is jointly convex, so it holds summed over the kernel's
 * aggregation periods too). At least 1 us. */
usec_t sentinel_stall_usec(usec_t stall_usec, usec_t window_usec, unsigned n_cpus);

/* Pure: "/a/b" -> "/a", "/a" -> "/". Returns -ENOBUFS when size is too small, -EINVAL for a relative path. */
int sentinel_parent_path(const char *cgpath, char *buf, size_t size);

/* Pure: the group key of a member cgroup: "KIND STALL WINDOW PARENT", e.g. "some 100000 1000000 /a". Two
 * guards share a sentinel exactly when their keys are equal. Returns 0, -ENOBUFS, -EINVAL. */
int sentinel_key(PsiKind kind, usec_t stall_usec, usec_t window_usec, const char *cgpath, char *buf, size_t size);

/* Watches g's enabled PSI triggers: through a sentinel, or its own trigger fds. Returns 0, or -errno when
 * the cgroup is gone (ERRNO_IS_GONE) or on -ENOMEM. */
int sentinel_guard_attach(Guard *g);
/* Leaves every sentinel group (O(1)) and closes g's own trigger fds. */
void sentinel_guard_detach(Guard *g);
/* Number of g's enabled trigger kinds that are watched (own fd or sentinel). */
unsigned sentinel_guard_watched(const Guard *g);
/* Frees what is left when the manager goes (all guards already freed). */
void sentinel_manager_done(Manager *m);
/* Number of sentinel triggers open (status). */
size_t sentinel_count_open(Manager *m);

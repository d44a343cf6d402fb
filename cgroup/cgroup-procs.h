/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-procs.h: the one process picker, shared by the map, kill and restart. A policy can match any
 * shape: a leaf service, a slice of services (its own cgroup.procs is empty), a unit with delegated
 * sub-cgroups, a container scope, a pod slice with several container scopes. memory.current is
 * hierarchical, so the processes that make it up are those of cgroup.procs of the cgroup AND of every
 * cgroup below it: that is the list.
 *
 * Ranking ("largest"), as the map ranks before it reads smaps_rollup: anonymous memory estimated from
 * /proc/PID/statm (resident - shared pages: what a kill gives back; constant time in the kernel), then
 * resident, then the lower PID. Kernel threads and zombies (statm all zero) are counted and left out.
 * Processes that exit while we look are counted as gone. Every process handed out is held by a pidfd
 * opened after the look and checked to still be in the cgroup it was listed in (no PID reuse). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup-fs.h"

typedef struct ProcPick {
        pid_t pid;
        const char *cgroup;   /* the cgroup it sits in (points into ProcList.cgroups) */
        size_t cgroup_index;  /* its index in ProcList.cgroups */
        uint64_t anon_bytes;  /* statm (resident - shared) */
        uint64_t rss_bytes;   /* statm resident */
        uint64_t start_time;  /* /proc/PID/stat starttime (clock ticks after boot); with proc_list_rank() */
} ProcPick;

typedef struct ProcList {
        char **cgroups;         /* the cgroups walked, the start first */
        ProcPick *procs;        /* collect: PID order; rank: largest first */
        size_t n_procs;
        size_t n_listed;        /* PIDs in the cgroup.procs files (a PID listed twice, once) */
        size_t n_own;           /* processes directly in the start cgroup */
        size_t n_child_cgroups; /* cgroups below the start that hold at least one process */
        size_t n_gone, n_not_processes;
        bool ranked;
        bool truncated;         /* more cgroups than max_cgroups: the list is partial */
} ProcList;

/* Lists the PIDs of cgpath and (with max_cgroups > 1) its descendants, depth-first, at most max_cgroups
 * cgroups (0: no cap). Returns 0; -ENOENT when cgpath does not exist; -ENOMEM. */
int proc_list_collect(const CgroupRoot *r, const char *cgpath, size_t max_cgroups, ProcList **ret);
/* Reads statm (and /proc/PID/stat for the start time) of every listed PID, drops kernel threads, zombies
 * and the gone, and sorts largest first. Returns 0 or -ENOMEM. */
int proc_list_rank(const CgroupRoot *r, ProcList *l);
ProcList *proc_list_free(ProcList *l);
static inline void proc_list_freep(ProcList **l)
{
        proc_list_free(*l);
}

/* A pidfd for procs[i], checked to be in its cgroup. Returns the pidfd, -ESRCH when it exited or moved. */
int proc_list_open(const CgroupRoot *r, const ProcList *l, size_t i);

/* The largest process of cgpath's subtree, held by a pidfd (the next one when it exits first). Returns the
 * pidfd; -ESRCH when there is no process. ret_pick (its pid, rss, anon, and cgroup copied into
 * ret_cgroup) may be NULL. */
int proc_open_largest(const CgroupRoot *r, const char *cgpath, ProcPick *ret_pick, char **ret_cgroup);
/* The process of cgpath's subtree that started first (the main process of a service or a container), as a
 * pidfd. Returns the pidfd; -ESRCH when there is no process. */
int proc_open_oldest(const CgroupRoot *r, const char *cgpath, pid_t *ret_pid);

/* Why a list has nothing to act on, in words a person can act on, e.g. "no process in /a.slice or below
 * it (2 child cgroups, all empty)". Writes into buf and returns it. */
const char *proc_list_explain_empty(const ProcList *l, const char *cgpath, char *buf, size_t size);

/* The same for cgpath's subtree as it is now (collected and ranked afresh). Writes into buf, returns it. */
const char *proc_explain_empty(const CgroupRoot *r, const char *cgpath, char *buf, size_t size);

/* The direct child cgroup of cgpath with the largest memory.current (ties: the first in name order).
 * Returns 0 with a malloc'd path and its memory.current; -ENOENT when cgpath has no child cgroup with a
 * memory.current. */
int cgroup_largest_child(const CgroupRoot *r, const char *cgpath, char **ret_path, uint64_t *ret_current);

/* The topmost cgroup between cgpath (the process's) and guard (inclusive) with memory.oom.group=1: the
 * kernel's OOM killer would kill that whole group. Returns 1 with a malloc'd path, 0 when none. */
int cgroup_oom_group_of(const CgroupRoot *r, const char *guard, const char *cgpath, char **ret_path);

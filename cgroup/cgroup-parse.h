/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-parse.h: pure parsers for cgroupfs and procfs file contents. They take a NUL-terminated
 * buffer and never do I/O. Hostile input (truncated, non-numbers, overflow) gives -EINVAL or -ERANGE,
 * never a crash. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/macro.h"

/* "max" in a limit file (memory.max, memory.high, ...). */
#define CGROUP_LIMIT_MAX UINT64_MAX

/* Parses a single unsigned value followed by optional whitespace/newline: memory.current, memory.max etc.
 * "max" gives CGROUP_LIMIT_MAX. Returns 0; -EINVAL (empty, not a number, trailing junk), -ERANGE (> 2^64-1).
 * Note 18446744073709551615 itself is accepted and equals CGROUP_LIMIT_MAX. */
int cgroup_parse_u64(const char *buf, uint64_t *ret);

typedef struct PsiLine {
        double avg10, avg60, avg300; /* percent */
        uint64_t total_usec;
} PsiLine;

typedef struct Psi {
        PsiLine some;
        PsiLine full;
        bool has_full; /* the "full" line is absent for the cpu controller on old kernels */
} Psi;

/* Parses memory.pressure / /proc/pressure/memory:
 *   some avg10=0.00 avg60=0.00 avg300=0.00 total=0
 *   full avg10=0.00 avg60=0.00 avg300=0.00 total=0
 * Unknown extra keys are ignored; a missing "some" line or a missing avg10/total is -EINVAL. */
int psi_parse(const char *buf, Psi *ret);

typedef struct MemoryEvents {
        uint64_t low, high, max, oom, oom_kill, oom_group_kill;
} MemoryEvents;

/* Parses memory.events / memory.events.local ("key value" lines). Unknown keys ignored, missing keys 0
 * (oom_group_kill is 5.17+). A line with a known key and a bad number is -EINVAL. No known key at all (an
 * empty file) is -ENODATA: the kernel always writes them, so that is no reading (a file being rewritten),
 * and zeros from it would make every counter seem to restart. */
int memory_events_parse(const char *buf, MemoryEvents *ret);

typedef struct MemoryStat {
        uint64_t anon, file, active_file, inactive_file, active_anon, inactive_anon;
        uint64_t shmem, file_mapped, file_dirty, file_writeback, sock;
        uint64_t slab_reclaimable, slab_unreclaimable, kernel_stack, pagetables;
        uint64_t workingset_refault_anon, workingset_refault_file;
        uint64_t pgscan, pgsteal;
} MemoryStat;

/* Parses memory.stat. Unknown keys ignored, missing keys 0; a known key with a bad number is -EINVAL. */
int memory_stat_parse(const char *buf, MemoryStat *ret);

/* From /proc/PID/status: the SigCgt mask (caught signals) and the Name. ret_name may be NULL. */
typedef struct ProcStatus {
        uint64_t sig_cgt;  /* bit (n-1) set = signal n has a handler */
        uint64_t sig_blk;
        uint64_t vm_rss_bytes;
        pid_t tgid;
        bool is_kernel_thread; /* "Kthread: 1" (6.x), or else no VmSize line and not a zombie */
        char state;            /* State: 'R', 'S', 'D', 'Z' (zombie: no mm, no VmSize)...; 0 if absent */
} ProcStatus;
/* Returns 0; -EINVAL when Tgid/SigCgt/SigBlk is missing (truncated), a value is malformed, or a key we use
 * appears twice (a forged line); -ERANGE for numbers that do not fit. The Name is not parsed. */
int proc_status_parse(const char *buf, ProcStatus *ret);

/* From /proc/PID/cgroup: the cgroup2 path of the "0::<path>" line (also present on hybrid hosts).
 * Returns 0 with a malloc'd path; -ENODATA when there is no "0::" line; -EINVAL when it is not a path. */
int proc_cgroup_parse_unified(const char *buf, char **ret);

/* Parses cgroup.procs (one PID per line). Returns the number of distinct PIDs (first occurrence kept, file
 * order) with a malloc'd array in *ret (NULL when 0); -EINVAL for a non-number, -ERANGE for 0 or a PID
 * beyond 2^31-1. */
int cgroup_procs_parse(const char *buf, pid_t **ret);

/* Is controller listed in a cgroup.controllers / cgroup.subtree_control buffer? Returns 1, 0, or -EINVAL. */
int cgroup_controllers_has(const char *buf, const char *controller);

/* Lists the mount points of cgroup2 filesystems in a /proc/self/mountinfo buffer (\ooo escapes undone),
 * in file order. Returns the count with a NULL-terminated strv in *ret (NULL when 0), or -ENOMEM. */
int mountinfo_cgroup2_mounts(const char *buf, char ***ret);

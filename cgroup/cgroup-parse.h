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
 * (oom_group_kill is 5.17+). A line with a known key and a bad number is -EINVAL. */
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
        bool is_kernel_thread; /* no VmSize line: kernel threads have no mm */
} ProcStatus;
int proc_status_parse(const char *buf, ProcStatus *ret);

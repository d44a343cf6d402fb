/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-inject.h: call the allocator's own release function inside a running process that never
 * opted in (glibc malloc_trim(0); jemalloc's purge of all arenas), through ptrace, on one thread that is
 * provably outside the allocator, with a signal frame on the target's stack so that the target restores
 * its own registers when the call returns: if the caller dies mid-call, the target still resumes as it
 * was. docs/inject.md tells the design and the safety rules. x86_64 only.
 *
 * Blocks the calling thread for the whole injection (up to InjectOptions.timeout_usec and the call):
 * the daemon runs it in a helper process (memwardenctl trim --inject --report), never in its event loop.
 * The ptrace tracer is the calling thread. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup-inject-parse.h"
#include "util/macro.h"

typedef struct InjectOptions {
        usec_t timeout_usec;     /* for one process, from the pidfd to the detach; 0 = 10 s */
        unsigned max_threads;    /* threads stopped and looked at before giving up; 0 = 8 */
        bool mallinfo;           /* what the allocator reports, before the release (glibc: mallinfo2(); jemalloc:
                                  * epoch + stats.allocated/resident), chained on the same stop, and after it:
                                  * chained when following, else one more stop once the release returned */
        bool follow_syscalls;    /* follow the release call with PTRACE_SYSCALL, counting its madvise/munmap/brk
                                  * (a stop per system call: 40,000 for a big jemalloc purge); default: run it
                                  * without stops and see its end in /proc (SigBlk) */
        bool mallinfo_only;      /* glibc: call only mallinfo2() (the allocator view of the map), no release */
        bool stats_only;         /* what the allocator reports, nothing released: glibc mallinfo2(); jemalloc
                                  * mallctl "epoch", then "stats.allocated" and "stats.resident" (into
                                  * ret->mallinfo_before / ret->jemalloc_before) */
        uint64_t call_address;   /* tests only: call this void f(void) in the target instead */
        const char *yama_path;   /* tests only: the ptrace_scope file read; NULL = INJECT_YAMA_PATH */
} InjectOptions;

typedef struct InjectMallinfo {
        uint64_t arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost;
} InjectMallinfo;

/* jemalloc's own figures (mallctl, after an "epoch" refresh): bytes the application has allocated, and
 * bytes in physically resident data pages mapped by the allocator. */
typedef struct InjectJemallocStats {
        uint64_t allocated, resident;
} InjectJemallocStats;

typedef struct InjectResult {
        InjectAllocator allocator;
        const char *how;            /* "malloc_trim(0)", "mallctl(\"arena.4096.purge\")", "test call" */
        pid_t tid;                  /* the thread that made the call */
        char thread_was[32];        /* what it was doing: "read", "futex", "running", ... */
        uint64_t rss_before, rss_after;     /* VmRSS, bytes */
        bool have_mallinfo, have_mallinfo_after;
        InjectMallinfo mallinfo_before, mallinfo_after;
        bool have_jemalloc_before, have_jemalloc_after;
        InjectJemallocStats jemalloc_before, jemalloc_after;
        usec_t stats_after_usec;    /* the extra stop that read the allocator's figures after a watched release
                                     * (stop + calls); 0 when none */
        unsigned arenas;            /* glibc: the main arena + the first heaps of the others in /proc/PID/maps
                                     * (inject_heap_candidates()); 0 when not counted */
        bool watched;               /* the release call ran without syscall stops: release_calls and
                                     * released_bytes are not counted */
        unsigned release_calls;     /* following: madvise(DONTNEED/FREE), munmap and brk shrinks made by the call */
        uint64_t released_bytes;    /* following: the lengths passed to those calls (pages already released count
                                     * again: RSS before/after is what was really given back) */
        usec_t call_usec;           /* from resuming the thread into the call to its rt_sigreturn */
        usec_t stop_usec;           /* how long the thread was stopped by us, in total */
        unsigned threads_tried;
        bool timed_out;             /* detached before the call returned: it finishes on its own */
        char reason[256];           /* why not injected (or what went wrong) */
} InjectResult;

/* Injects into one process. expected_starttime (field 22 of /proc/PID/stat) pins it against PID reuse
 * (0: not checked; the pidfd still pins the process for the rest). Returns 1 when the call ran, 0 when
 * the process was refused or skipped (ret->reason says why), negative errno on errors (-ESRCH: gone). */
int inject_process(pid_t pid, uint64_t expected_starttime, const InjectOptions *o, InjectResult *ret);

#define INJECT_YAMA_PATH "/proc/sys/kernel/yama/ptrace_scope"

/* Yama's ptrace_scope from path (NULL: INJECT_YAMA_PATH): 0-3, 0 without Yama (no such file), -EINVAL for
 * anything else, negative errno. At 3 nothing may be traced (and the setting cannot be lowered until reboot). */
int inject_yama_scope(const char *path);

/* Whether this process may make the system calls an injection needs (ptrace, process_vm_readv/writev):
 * 1 yes, 0 when a seccomp filter refuses them (systemd's SystemCallFilter=: EPERM, or ENOSYS). Probes
 * with calls that have no effect (PTRACE_PEEKUSER on itself, a zero-length process_vm_readv). */
int inject_syscalls_allowed(void);


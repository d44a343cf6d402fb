/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-trim.h: the trim request (systemd's "common signal": SIGRTMIN+18 with sigqueue value 0x300
 * "trim", 0x301 "report the allocator's state") and the reports libmemwarden-trim.so writes back.
 *
 * The one rule: an unhandled real-time signal terminates its receiver, so a process is signalled only when
 * its SigCgt mask (/proc/PID/status) has the SIGRTMIN+18 bit, read after a pidfd holds the process (no PID
 * reuse in between). The remaining race (the process execs between that read and the signal, which resets
 * its handlers) is microseconds wide; systemd's own sender has the same one. SIGRTMIN is taken from the C
 * library at run time (glibc 34, musl 35): never a literal. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup-fs.h"
#include "trim/memwarden-trim.h"

/* The protocol is the library's (its installed header): defined there once. */
#define TRIM_REQUEST_TRIM MEMWARDEN_TRIM_REQUEST_TRIM
#define TRIM_REQUEST_INFO MEMWARDEN_TRIM_REQUEST_INFO
/* Where libmemwarden-trim.so writes <pid>.json (trim) and <pid>.info.json (0x301) unless
 * $MEMWARDEN_TRIM_DIR says otherwise. memwardend uses StateDirectory=/trim, which is this by default. */
#define TRIM_DIR_DEFAULT MEMWARDEN_TRIM_DIR_DEFAULT
#define TRIM_REPORT_FILE_MAX (64U * 1024U)

/* SIGRTMIN+18 as this C library numbers it. */
int trim_signal(void);

/* Does a SigCgt/SigBlk-style mask (bit n-1 = signal n) have signal sig? False for sig outside 1..64. */
bool sigcgt_has(uint64_t mask, int sig);

typedef enum TrimVerdict {
        TRIM_VERDICT_CANDIDATE,     /* has a SIGRTMIN+18 handler: may be asked */
        TRIM_VERDICT_NO_HANDLER,    /* would be killed by the signal: never sent */
        TRIM_VERDICT_NOT_A_PROCESS, /* kernel thread or zombie */
        _TRIM_VERDICT_MAX,
} TrimVerdict;

const char *trim_verdict_to_string(TrimVerdict v);
/* Pure: the verdict for a process from its /proc/PID/status. */
TrimVerdict trim_verdict(const ProcStatus *st);

typedef struct TrimCandidate {
        pid_t pid;
        TrimVerdict verdict;
        uint64_t rss_bytes;
        char comm[32];   /* /proc/PID/comm, "" when unreadable */
} TrimCandidate;

/* Lists the processes directly in cgroup cgpath (cgroup.procs, through the process picker's
 * proc_list_collect()) with their verdicts, in PID order; processes that vanish while we look are left out. Returns the count with a malloc'd array in *ret (NULL when 0), or
 * -errno (-ENOENT: the cgroup is gone; -ENOMEM). */
int trim_list(const CgroupRoot *r, const char *cgpath, TrimCandidate **ret);

/* Asks one process: opens a pidfd (and, when cgpath is not NULL, checks that the process is in that
 * cgroup), then reads its status and sends SIGRTMIN+18 with value (TRIM_REQUEST_*) only when SigCgt has
 * the bit. Returns 1 when sent, 0 when not (ret_verdict says why), -ESRCH when it exited or is not in
 * cgpath, -EMEDIUMTYPE when the root's proc is not procfs (a fixture: its PIDs are not the processes a pidfd
 * would reach, so nothing is ever sent), other -errno (-EPERM: not ours to signal). ret_verdict, ret_rss_bytes may be NULL; they are
 * written whenever the status was read. */
int trim_send(const CgroupRoot *r, pid_t pid, const char *cgpath, int value, TrimVerdict *ret_verdict,
              uint64_t *ret_rss_bytes);

/* A report libmemwarden-trim.so wrote. Sizes in bytes; time_usec is CLOCK_REALTIME. */
typedef struct TrimMallinfo {
        bool valid;
        uint64_t arena, hblkhd, uordblks, fordblks, keepcost;
} TrimMallinfo;

typedef struct TrimReport {
        pid_t pid;
        bool is_info;             /* "request":"info" (0x301), else "trim" */
        char comm[32];
        char allocator[32];
        uint64_t seq, time_usec, duration_usec;
        uint64_t rss_before, rss_after, released;
        uint64_t anon_huge_before, anon_huge_after;
        TrimMallinfo mallinfo_before, mallinfo_after;
        /* info reports */
        uint64_t rss, system, free, in_use;
        unsigned n_arenas;
} TrimReport;

/* Parses a report (a JSON object; unknown keys ignored, nesting at most 8 deep). Returns 0; -EINVAL when it
 * is not JSON, lacks pid/request/time_usec (or, for a trim, rss_before/rss_after/released), or a known key
 * has the wrong type; -ERANGE for a number beyond 2^64-1. */
int trim_report_parse(const char *buf, TrimReport *ret);

/* Reads dirfd/<pid>.json (info: <pid>.info.json) without following symlinks. The file must be owned by
 * root or by uid (the process's owner: a user cannot forge another user's report in the shared directory),
 * and name pid. Returns 0, -ENOENT (no report yet), -EPERM (wrong owner or pid), -EINVAL. */
int trim_report_read(int dirfd, pid_t pid, bool info, uid_t uid, TrimReport *ret);

/* The owner of /proc/PID (the process's effective uid, as procfs shows it). Returns 0 or -errno. */
int proc_read_uid(const CgroupRoot *r, pid_t pid, uid_t *ret);

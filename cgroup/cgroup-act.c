/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-act.c: writes to cgroupfs and signals through pidfds. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cgroup-act.h"
#include "util/fileio.h"
#include "util/log.h"

/* glibc 2.36 has pidfd_open()/pidfd_send_signal() wrappers in <sys/pidfd.h>, musl and older glibc do not:
 * the raw syscalls work everywhere the kernel has them (5.3 / 5.1). */
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

static int sys_pidfd_open(pid_t pid)
{
        long r = syscall(SYS_pidfd_open, pid, 0U);
        return r < 0 ? -errno : (int) r;
}

static int sys_pidfd_send_signal(int pidfd, int sig, siginfo_t *info)
{
        return syscall(SYS_pidfd_send_signal, pidfd, sig, info, 0U) < 0 ? -errno : 0;
}

int cgroup_reclaim(int cgfd, uint64_t bytes)
{
        char buf[32];
        int r;

        snprintf(buf, sizeof buf, "%" PRIu64, bytes);
        r = write_string_file_at(cgfd, "memory.reclaim", buf);
        if (r < 0 && r != -EAGAIN)
                log_debug_errno(r, "Cannot write %s to memory.reclaim: %m", buf);
        return r;
}

int cgroup_write_high(int cgfd, uint64_t bytes)
{
        char buf[32];
        int r;

        if (bytes == CGROUP_LIMIT_MAX)
                strcpy(buf, "max");
        else
                snprintf(buf, sizeof buf, "%" PRIu64, bytes);
        r = write_string_file_at(cgfd, "memory.high", buf);
        if (r < 0)
                log_debug_errno(r, "Cannot write %s to memory.high: %m", buf);
        return r;
}

int cgroup_kill_all(int cgfd)
{
        int r = write_string_file_at(cgfd, "cgroup.kill", "1");
        if (r < 0)
                log_debug_errno(r, "Cannot write cgroup.kill: %m");
        return r;
}

/* Compares two cgroup paths, ignoring doubled and trailing slashes. */
static bool cgroup_path_equal(const char *a, const char *b)
{
        for (;;) {
                while (*a == '/')
                        a++;
                while (*b == '/')
                        b++;
                if (!*a || !*b)
                        return !*a && !*b;
                while (*a && *a != '/' && *a == *b) {
                        a++;
                        b++;
                }
                if ((*a && *a != '/') || (*b && *b != '/'))
                        return false;
        }
}

int pidfd_open_in_cgroup(const CgroupRoot *r, pid_t pid, const char *cgpath)
{
        _cleanup_close_ int pidfd = -EBADF;
        _cleanup_free_ char *actual = NULL;
        int k;

        if (!r || pid <= 0 || !cgpath)
                return -EINVAL;

        pidfd = sys_pidfd_open(pid);
        if (pidfd < 0)
                return pidfd == -ESRCH ? -ESRCH :
                                         log_debug_errno(pidfd, "pidfd_open(%d) failed: %m", (int) pid);

        k = proc_read_cgroup(r, pid, &actual);
        if (ERRNO_IS_GONE(k))
                return -ESRCH;
        if (k < 0)
                return log_debug_errno(k, "Cannot read /proc/%d/cgroup: %m", (int) pid);

        /* The PID cannot have been reused while the pidfd's process still exists, so if it still does
         * after the read, what we read was about it. */
        k = sys_pidfd_send_signal(pidfd, 0, NULL);
        if (k < 0)
                return k == -ESRCH ? -ESRCH :
                                     log_debug_errno(k, "pidfd_send_signal(%d, 0) failed: %m", (int) pid);

        if (!cgroup_path_equal(actual, cgpath)) {
                log_debug("Process %d is in %s, not %s, ignoring", (int) pid, actual, cgpath);
                return -ESRCH;
        }
        return TAKE_FD(pidfd);
}

int pidfd_signal(int pidfd, int sig, int info_value)
{
        siginfo_t si = {};
        int r;

        if (pidfd < 0 || sig < 0 || sig >= _NSIG)
                return -EINVAL;

        if (info_value >= 0) {
                si.si_signo = sig;
                si.si_code = SI_QUEUE;
                si.si_pid = getpid();
                si.si_uid = getuid();
                si.si_value.sival_int = info_value;
        }
        r = sys_pidfd_send_signal(pidfd, sig, info_value >= 0 ? &si : NULL);
        if (r < 0 && r != -ESRCH)
                log_debug_errno(r, "pidfd_send_signal(%d) failed: %m", sig);
        return r;
}

/* Errors that would fail for every other candidate too. */
#define IN_SET_FATAL(k) ((k) == -ENOMEM || (k) == -EMFILE || (k) == -ENFILE || (k) == -ENOSYS)

typedef struct Candidate {
        pid_t pid;
        uint64_t rss;
} Candidate;

static int candidate_cmp(const void *a, const void *b)
{
        const Candidate *x = a, *y = b;
        if (x->rss != y->rss)
                return x->rss > y->rss ? -1 : 1; /* largest first */
        return x->pid < y->pid ? -1 : x->pid > y->pid;
}

int cgroup_open_largest(const CgroupRoot *r, const char *cgpath, pid_t *ret_pid, uint64_t *ret_rss_bytes)
{
        _cleanup_close_ int cgfd = -EBADF;
        _cleanup_free_ pid_t *pids = NULL;
        _cleanup_free_ Candidate *c = NULL;
        size_t nc = 0;
        int n, k;

        if (!r || !cgpath)
                return -EINVAL;

        cgfd = cgroup_open(r, cgpath);
        if (cgfd < 0)
                return ERRNO_IS_GONE(cgfd) ? -ESRCH : cgfd;
        n = cgroup_read_procs(cgfd, &pids);
        if (n < 0)
                return ERRNO_IS_GONE(n) ? -ESRCH : n;
        if (n == 0)
                return -ESRCH;

        c = calloc((size_t) n, sizeof *c);
        if (!c)
                return -ENOMEM;
        for (int i = 0; i < n; i++) {
                ProcStatus st;

                k = proc_read_status(r, pids[i], &st);
                if (k == -ENOMEM)
                        return k;
                if (k < 0) {
                        log_debug_errno(k, "Cannot read status of process %d: %m, ignoring", (int) pids[i]);
                        continue;
                }
                if (st.is_kernel_thread || st.state == 'Z' || st.state == 'X')
                        continue;
                c[nc++] = (Candidate) { .pid = pids[i], .rss = st.vm_rss_bytes };
        }
        if (nc > 1)
                qsort(c, nc, sizeof *c, candidate_cmp);

        /* The largest may exit before we hold it: then the next one. */
        for (size_t i = 0; i < nc; i++) {
                k = pidfd_open_in_cgroup(r, c[i].pid, cgpath);
                if (IN_SET_FATAL(k))
                        return k;
                if (k < 0)
                        continue; /* exited, moved, or unopenable: the next one */
                if (ret_pid)
                        *ret_pid = c[i].pid;
                if (ret_rss_bytes)
                        *ret_rss_bytes = c[i].rss;
                return k;
        }
        return -ESRCH;
}

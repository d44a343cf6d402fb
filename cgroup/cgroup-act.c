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

int pidfd_open_pid(pid_t pid)
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

        pidfd = pidfd_open_pid(pid);
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

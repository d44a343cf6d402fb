/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-act.h: the actions that write to cgroupfs or signal processes. Never a bare PID: signals
 * go through pidfds. These functions do not log above debug; the daemon reports. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "cgroup-fs.h"

/* Writes bytes to memory.reclaim (5.19+). Returns 0 when the kernel reclaimed it all; -EAGAIN when it
 * reclaimed less than asked (not an error for us: measure memory.current); -ENOENT when memory.reclaim
 * does not exist (old kernel: use cgroup_write_high() as a fallback); other -errno. */
int cgroup_reclaim(int cgfd, uint64_t bytes);

/* Writes memory.high ("max" for CGROUP_LIMIT_MAX). Returns 0 or -errno. */
int cgroup_write_high(int cgfd, uint64_t bytes);

/* Writes "1" to cgroup.kill (5.14+): SIGKILL to every process in the subtree. -ENOENT when missing. */
int cgroup_kill_all(int cgfd);

/* pidfd_open(2) (the raw system call: older C libraries lack the wrapper). Returns the pidfd (O_CLOEXEC) or
 * -errno (-ESRCH: no such process). For a child of ours that has not been reaped this is race-free; for any
 * other process use pidfd_open_in_cgroup() or check after opening. */
int pidfd_open_pid(pid_t pid);

/* Opens a pidfd for pid, then checks (after opening, so the PID cannot be reused in between) that the
 * process is still in cgroup cgpath (/proc/PID/cgroup "0::<cgpath>"). Returns the pidfd; -ESRCH if it
 * exited or moved elsewhere. */
int pidfd_open_in_cgroup(const CgroupRoot *r, pid_t pid, const char *cgpath);

/* Sends sig through a pidfd (pidfd_send_signal). info_value >= 0 sends SI_QUEUE with sival_int =
 * info_value (systemd's common-signal protocol uses this). Returns 0, -ESRCH if the process exited (was
 * reaped; a zombie still accepts signals), -EINVAL for a bad signal number, other -errno (-EPERM). */
int pidfd_signal(int pidfd, int sig, int info_value);

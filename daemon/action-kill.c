/* SPDX-License-Identifier: MIT */
/* kill: the last resort, on every shape a policy can match (cgroup/cgroup-procs.h).
 * - Mode=cgroup: cgroup.kill (5.14+) of the guarded cgroup: every process of its subtree.
 * - Mode=largest: the largest process of the subtree (the picker's ranking), through a pidfd. When its cgroup
 *   or one between it and the guarded cgroup has memory.oom.group=1, that whole group instead (the kernel's
 *   OOM killer would kill it whole).
 * - Mode=largest-child: the direct child cgroup with the largest memory.current (a slice's service, a pod's
 *   container scope), whole, through its cgroup.kill; systemd-oomd and oomd choose the same way. Without
 *   child cgroups (a leaf service) the largest process, and the record says so.
 * memory.oom.group=1 on the guarded cgroup itself always kills the whole group. */
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "action.h"
#include "cgroup/cgroup-act.h"
#include "cgroup/cgroup-procs.h"
#include "util/log.h"

static int kill_cgroup(Guard *g, const char *cgpath, const char *target, ActionOutcome *out)
{
        bool self = streq(cgpath, g->path);
        _cleanup_close_ int fd = self ? -EBADF : cgroup_open(g->manager->root, cgpath);
        int r;
        if (!self && fd < 0)
                r = ERRNO_IS_GONE(fd) ? -ESRCH : fd; /* the child went away: never the guard's own fd */
        else
                r = cgroup_kill_all(self ? g->cgfd : fd);
        action_add_field(out, "KILL_TARGET=%s", target);
        action_add_field(out, "KILLED_CGROUP=%s", cgpath);
        if (r >= 0)
                snprintf(out->summary, sizeof out->summary, "killed every process in %s", cgpath);
        else
                snprintf(out->summary, sizeof out->summary, "could not kill %s (cgroup.kill)", cgpath);
        return r;
}

static int kill_largest_process(Guard *g, const char *below, ActionOutcome *out)
{
        const CgroupRoot *root = g->manager->root;
        ProcPick pick = {};
        _cleanup_free_ char *cg = NULL, *group = NULL;

        int pidfd = proc_open_largest(root, below, &pick, &cg);
        if (pidfd < 0) {
                action_add_field(out, "KILL_TARGET=largest-process");
                if (pidfd == -ESRCH) {
                        char why[256];
                        snprintf(out->summary, sizeof out->summary, "%s",
                                 proc_explain_empty(root, below, why, sizeof why));
                } else
                        snprintf(out->summary, sizeof out->summary, "cannot pick a process in %s", below);
                return pidfd;
        }

        /* The kernel would kill a memory.oom.group=1 cgroup whole: so do we. */
        if (cgroup_oom_group_of(root, g->path, cg, &group) > 0) {
                close(pidfd);
                action_add_field(out, "KILL_OOM_GROUP=%s", group);
                return kill_cgroup(g, group, "oom-group", out);
        }

        int r = pidfd_signal(pidfd, SIGKILL, -1);
        close(pidfd);
        action_add_field(out, "KILL_TARGET=largest-process");
        action_add_field(out, "KILLED_PID=%i", (int) pick.pid);
        action_add_field(out, "KILLED_CGROUP=%s", cg);
        action_add_field(out, "KILLED_RSS=%" PRIu64, pick.rss_bytes);
        action_add_field(out, "KILLED_ANON=%" PRIu64, pick.anon_bytes);
        if (r >= 0)
                snprintf(out->summary, sizeof out->summary, "killed PID %d in %s, the largest process", (int) pick.pid,
                         cg);
        else
                snprintf(out->summary, sizeof out->summary, "could not kill PID %d in %s", (int) pick.pid, cg);
        return r;
}

int action_kill(Guard *g, const Observation *o, ActionOutcome *out)
{
        KillMode mode = g->policy->kill_mode;
        bool oom_group = false;
        int r;

        if (mode != KILL_MODE_CGROUP && cgroup_read_oom_group(g->cgfd, &oom_group) >= 0 && oom_group) {
                action_add_field(out, "KILL_OOM_GROUP=%s", g->path);
                mode = KILL_MODE_CGROUP; /* memory.oom.group=1: the workload wants to die as a whole */
        }

        if (mode == KILL_MODE_CGROUP) {
                r = kill_cgroup(g, g->path, "cgroup", out);
                if (r != -ENOENT)
                        return out->result = r;
                log_debug("%s: no cgroup.kill (before 5.14), killing the largest process instead", g->path);
                action_outcome_done(out);
                return out->result = kill_largest_process(g, g->path, out);
        }

        if (mode == KILL_MODE_LARGEST_CHILD) {
                _cleanup_free_ char *child = NULL;
                uint64_t cur = 0;
                r = cgroup_largest_child(g->manager->root, g->path, &child, &cur);
                if (r == -ENOENT) {
                        action_add_field(out, "KILL_FALLBACK=no-child-cgroup");
                        return out->result = kill_largest_process(g, g->path, out);
                }
                if (r < 0) {
                        snprintf(out->summary, sizeof out->summary, "cannot list the child cgroups of %s",
                                 g->path);
                        return out->result = r;
                }
                action_add_field(out, "KILLED_CGROUP_MEMORY=%" PRIu64, cur);
                r = kill_cgroup(g, child, "largest-child", out);
                if (r == -ENOENT) {
                        /* No cgroup.kill (before 5.14): its largest process. */
                        action_outcome_done(out);
                        action_add_field(out, "KILL_FALLBACK=no-cgroup-kill");
                        r = kill_largest_process(g, child, out);
                }
                return out->result = r;
        }

        return out->result = kill_largest_process(g, g->path, out);
}

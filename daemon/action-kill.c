/* SPDX-License-Identifier: MIT */
/* kill: the last resort. cgroup.kill (5.14+) for the whole group (Mode=cgroup, and always when
 * memory.oom.group=1), or the process with the largest RSS (Mode=largest), always through a pidfd. */
#include <inttypes.h>
#include <signal.h>
#include <unistd.h>

#include "action.h"
#include "cgroup/cgroup-act.h"
#include "util/log.h"

int action_kill(Guard *g, const Observation *o, ActionOutcome *out)
{
        bool group = g->policy->kill_mode == KILL_MODE_CGROUP;
        bool oom_group = false;
        if (!group && cgroup_read_oom_group(g->cgfd, &oom_group) >= 0 && oom_group)
                group = true; /* memory.oom.group=1: the workload wants to die as a whole */

        if (group) {
                int r = cgroup_kill_all(g->cgfd);
                if (r != -ENOENT) {
                        action_add_field(out, "KILL_TARGET=cgroup");
                        snprintf(out->summary, sizeof out->summary, "killed every process in the cgroup");
                        return out->result = r;
                }
                log_debug("%s: no cgroup.kill (before 5.14), killing the largest process instead", g->path);
        }

        pid_t pid = 0;
        uint64_t rss = 0;
        int pidfd = cgroup_open_largest(g->manager->root, g->path, &pid, &rss);
        action_add_field(out, "KILL_TARGET=largest-process");
        if (pidfd < 0)
                return out->result = pidfd;
        int r = pidfd_signal(pidfd, SIGKILL, -1);
        close(pidfd);
        if (r >= 0) {
                action_add_field(out, "KILLED_PID=%i", (int) pid);
                action_add_field(out, "KILLED_RSS=%" PRIu64, rss);
                snprintf(out->summary, sizeof out->summary, "killed PID %i, the largest process", (int) pid);
        }
        return out->result = r;
}

/* SPDX-License-Identifier: MIT */
/* daemon/action-restart.c in process: the restart of a cgroup that is no service (SIGTERM to its main
 * process, SIGKILL after [Restart] StopTimeout=) leaves a watch pending on the manager's event loop. It is
 * the Manager's: it outlives its guard and fires then, and manager_free() frees it (its timer, pidfd and
 * path) without firing. A fixture cgroup tree and /proc (the cgroup file names a real child that ignores
 * SIGTERM, daemon-fixture.h's tree); the Manager is the daemon's own (manager_new(), its default sd-event
 * loop), in this process: no memwardend is started. */
#include "daemon-fixture.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup/cgroup-fs.h"
#include "daemon/action.h"
#include "daemon/manager.h"
#include "policy/policy.h"

static pid_t child;

static void setup(void)
{
        int ready[2];
        char c;
        fx_setup();
        cr_assert_eq(pipe(ready), 0);
        child = fork();
        cr_assert_geq(child, 0);
        if (child == 0) {
                signal(SIGTERM, SIG_IGN);
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                (void) !write(ready[1], "r", 1);
                for (;;)
                        pause();
        }
        /* Not before it ignores SIGTERM (a loaded host may run the restart first). */
        close(ready[1]);
        cr_assert_eq(read(ready[0], &c, 1), 1);
        close(ready[0]);
        char rel[100];
        fx_make_cgroup("/app.scope", "100000000\n");
        fx_putf("cg/app.scope/cgroup.procs", "%d\n", (int) child);
        snprintf(rel, sizeof rel, "%s/proc/%d", fx_dir, (int) child);
        cr_assert_eq(mkdir(rel, 0755), 0, "%s: %s", rel, strerror(errno));
        snprintf(rel, sizeof rel, "proc/%d/cgroup", (int) child);
        fx_put(rel, "0::/app.scope\n");
        snprintf(rel, sizeof rel, "proc/%d/status", (int) child);
        fx_putf(rel, "Name:\tstubborn\nState:\tS (sleeping)\nTgid:\t%d\nPid:\t%d\nVmSize:\t2000 kB\n"
                     "VmRSS:\t1000 kB\nSigBlk:\t0000000000000000\nSigCgt:\t0000000000000000\n", (int) child, (int) child);
        snprintf(rel, sizeof rel, "proc/%d/statm", (int) child);
        fx_put(rel, "500 250 0 1 0 250 0\n");
}

static void teardown(void)
{
        if (child > 0) {
                kill(child, SIGKILL);
                waitpid(child, NULL, 0);
        }
        fx_teardown();
}

TestSuite(action_restart, .init = setup, .fini = teardown, .timeout = 30);

static unsigned count_fds(void)
{
        unsigned n = 0;
        DIR *d = opendir("/proc/self/fd");
        cr_assert_not_null(d);
        for (struct dirent *e; (e = readdir(d));)
                n += e->d_name[0] != '.';
        closedir(d);
        return n - 1; /* the one opendir() holds */
}

/* The daemon's Manager with the fixture as its roots, and a guard on /app.scope with the given policy. */
static Manager *manager_with_guard(const Policy *p, Guard **ret_guard)
{
        Manager *m = NULL;
        char cg[100], proc[100];
        cr_assert_eq(manager_new(&m), 0);
        snprintf(cg, sizeof cg, "%s/cg", fx_dir);
        snprintf(proc, sizeof proc, "%s/proc", fx_dir);
        cr_assert_eq(cgroup_root_open(cg, proc, &m->root), 0);

        const char *path = "/app.scope";
        Guard *g = calloc(1, sizeof *g + strlen(path) + 1);
        cr_assert_not_null(g);
        *g = (Guard) { .manager = m, .policy = p, .cgfd = -EBADF, .trigger_fd = { -EBADF, -EBADF },
                       .events_wd = -1, .limit_wd = -1 };
        engine_state_init(&g->engine);
        strcpy(g->path, path);
        cr_assert_eq(hashmap_put(m->guards, g->path, g), 0);
        *ret_guard = g;
        return m;
}

static void restart_with_sigterm(Guard *g)
{
        ActionOutcome out = {};
        cr_assert_eq(action_restart(g, &(Observation) {}, &out), 0, "%s", out.summary);
        char want[64];
        snprintf(want, sizeof want, "sent SIGTERM to PID %d", (int) child);
        cr_assert(strstr(out.summary, want), "%s", out.summary);
        action_outcome_done(&out);
        usleep(100 * 1000);
        cr_assert_eq(waitpid(child, NULL, WNOHANG), 0, "the child did not ignore SIGTERM");
}

/* The fds open now in *ret_fds; a Manager whose guard restarted the child (StopTimeout= stop_timeout_usec,
 * p is the guard's policy) and went. */
static Manager *restart_then_the_guard_goes(Policy *p, usec_t stop_timeout_usec, unsigned *ret_fds)
{
        policy_init_defaults(p);
        p->restart_stop_timeout_usec = stop_timeout_usec;
        *ret_fds = count_fds();
        Guard *g;
        Manager *m = manager_with_guard(p, &g);
        restart_with_sigterm(g);
        /* The guard goes: the watch is not the guard's, nothing of it is freed here. */
        cr_assert_eq(hashmap_remove(m->guards, g->path), g);
        guard_free(g, /* cgroup_gone= */ true);
        return m;
}

/* The daemon exits while the stop timeout is pending (60 s): nothing of it stays. Before the watch was the
 * Manager's, its timer held the event loop (and the loop its epoll and timer fds) and its pidfd stayed open
 * after manager_free(): the fd count did not come back, and sd_event_default() found the old loop. */
Test(action_restart, a_pending_stop_timeout_is_freed_with_the_manager)
{
        Policy p;
        unsigned fds;
        Manager *m = restart_then_the_guard_goes(&p, 60 * USEC_PER_SEC, &fds);
        cr_assert_geq(sd_event_run(m->event, 0), 0);
        manager_free(m);

        cr_assert_eq(count_fds(), fds, "fds open before the manager: %u, after it was freed: %u", fds, count_fds());
        sd_event *e = NULL;
        int r = sd_event_default(&e);
        sd_event_unref(e);
        cr_assert_eq(r, 1, "the daemon's event loop outlived manager_free() (sd_event_default() = %d)", r);
        cr_assert_eq(waitpid(child, NULL, WNOHANG), 0, "freeing the watch sent its SIGKILL");
}

/* The guard goes first: the SIGKILL still comes at StopTimeout= (200 ms), then the watch is gone. */
Test(action_restart, the_stop_timeout_fires_after_its_guard_went)
{
        Policy p;
        unsigned fds;
        Manager *m = restart_then_the_guard_goes(&p, 200 * USEC_PER_MSEC, &fds);
        int status = 0;
        pid_t w = 0;
        for (int i = 0; i < 50 && w == 0; i++) {
                cr_assert_geq(sd_event_run(m->event, 100 * USEC_PER_MSEC), 0);
                w = waitpid(child, &status, WNOHANG);
        }
        cr_assert_eq(w, child, "no SIGKILL within 5 s of a 200 ms StopTimeout=");
        child = 0;
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "status %#x", status);
        manager_free(m);
        cr_assert_eq(count_fds(), fds);
}

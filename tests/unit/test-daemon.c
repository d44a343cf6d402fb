/* SPDX-License-Identifier: MIT */
/* The real memwardend binary against a fixture cgroup tree of regular files in a temp dir: what can be
 * shown without a cgroup v2 kernel. inotify works on any filesystem, so discovery of new cgroups and
 * memory.events changes are real; PSI triggers are not (regular files cannot be polled for EPOLLPRI):
 * those are covered in the VM (tests/integration). Records go to stderr as one line each. The fixture
 * (tree, daemon start/stop, control socket, valgrind wrapper) is tests/unit/daemon-fixture.h. */
#include <time.h>

#include "daemon-fixture.h"

TestSuite(daemon, .init = fx_setup, .fini = fx_teardown, .timeout = 60);

static const char *POLICY =
        "[Match]\nUnit=web.service new-*.service\n"
        "[Pressure]\nBrake=90%\nHysteresis=1s\nSampleInterval=200ms\n"
        "[Actions]\nLadder=alert reclaim kill\n"
        "[Alert]\nSettle=500ms\n[Reclaim]\nSettle=500ms\nAmount=10%\n[Kill]\nSettle=1s\n";

Test(daemon, guards_matching_cgroups_and_sets_the_brake)
{
        fx_start(&(FxRun){ .policy = POLICY });
        char *st = fx_control("status json\n");
        cr_assert(strstr(st, "\"cgroup\":\"/system.slice/web.service\""), "status: %s", st);
        cr_assert_null(strstr(st, "other.service"), "unmatched cgroup guarded: %s", st);
        cr_assert(strstr(st, "\"guarded\":1"), "%s", st);
        /* 90% of 100000000, rounded down to a page. */
        char *high = fx_slurp("cg/system.slice/web.service/memory.high");
        cr_assert_str_eq(high, "89997312", "brake: %s", high);
        cr_assert(strstr(fx_slurp("daemon.log"), "BRAKE=set"));

        /* SIGTERM restores the brake. */
        int status = fx_stop();
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
        /* A fixture is a regular file: "max" overwrites the start of the old value (cgroupfs replaces). */
        cr_assert_eq(strncmp(fx_slurp("cg/system.slice/web.service/memory.high"), "max", 3), 0, "not restored");
        cr_assert(strstr(fx_slurp("daemon.log"), "BRAKE=restored"));
}

Test(daemon, high_event_climbs_the_ladder_and_reclaims)
{
        fx_start(&(FxRun){ .policy = POLICY });
        fx_put("cg/system.slice/web.service/memory.events",
                "low 0\nhigh 7\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n");
        char *log = fx_wait_log("MESSAGE_ID=cc09ac76392d4205bf123cd640dcc1a6", 3000);
        cr_assert_not_null(log, "no pressure record");
        cr_assert(strstr(log, "REASONS=high-event"), "%s", log);
        cr_assert(strstr(log, "EVENTS_HIGH_DELTA=7"), "%s", log);
        cr_assert(strstr(log, "UNIT=web.service"), "%s", log);
        cr_assert(strstr(log, "STAT_ANON=30000000"), "where the memory went: %s", log);

        /* The alert in front costs no time: the onset record is the alert, and reclaim runs with it. */
        cr_assert(strstr(log, "ACTION=reclaim"), "the onset did not reclaim: %s", log);
        log = fx_wait_log("ACTION=reclaim", 3000);
        cr_assert_not_null(log, "no reclaim");
        /* 10% of memory.current = 5000000 bytes written to memory.reclaim. */
        cr_assert_str_eq(fx_slurp("cg/system.slice/web.service/memory.reclaim"), "5000000");
        cr_assert(strstr(log, "RECLAIM_REQUEST_BYTES=5000000"), "%s", log);

        /* No more signals: relief after the hysteresis. */
        cr_assert_not_null(fx_wait_log("MESSAGE_ID=c45d22c01f94415eb5aab3c6cd52fc02", 4000), "no relief record");
        cr_assert_null(strstr(fx_slurp("daemon.log"), "ACTION=kill"), "killed although relieved");
}

Test(daemon, oom_kill_counter_is_reported_and_restart_does_not_replay)
{
        fx_put("cg/system.slice/web.service/memory.events",
                "low 0\nhigh 0\nmax 3\noom 2\noom_kill 2\noom_group_kill 0\n");
        fx_start(&(FxRun){ .policy = POLICY });
        usleep(300 * 1000 * fx_scale());
        /* Old counters at start-up are a baseline, not events. */
        cr_assert_null(strstr(fx_slurp("daemon.log"), "MESSAGE_ID=fe022f9f3cd047d2bcbda2bb17ec3356"));
        fx_put("cg/system.slice/web.service/memory.events",
                "low 0\nhigh 0\nmax 4\noom 3\noom_kill 3\noom_group_kill 0\n");
        char *log = fx_wait_log("MESSAGE_ID=fe022f9f3cd047d2bcbda2bb17ec3356", 3000);
        cr_assert_not_null(log, "no OOM-kill record");
        cr_assert(strstr(log, "OOM_KILLS=1"), "%s", log);
}

/* A read of memory.events while it is being rewritten (the fixture truncates, then writes) finds it empty. That
 * is no reading: taken as all zero, the counters seemed to go backwards, the baseline was reset to 0 and the
 * next read reported every old OOM kill as new (OOM_KILLS=3 for one, seen once under valgrind). */
Test(daemon, empty_events_read_does_not_reset_the_baseline)
{
        fx_put("cg/system.slice/web.service/memory.events",
                "low 0\nhigh 0\nmax 3\noom 2\noom_kill 2\noom_group_kill 0\n");
        fx_start(&(FxRun){ .policy = POLICY });
        usleep(300 * 1000 * fx_scale());
        fx_put("cg/system.slice/web.service/memory.events", "");
        usleep(300 * 1000 * fx_scale());
        fx_put("cg/system.slice/web.service/memory.events",
                "low 0\nhigh 0\nmax 4\noom 3\noom_kill 3\noom_group_kill 0\n");
        char *log = fx_wait_log("MESSAGE_ID=fe022f9f3cd047d2bcbda2bb17ec3356", 3000);
        cr_assert_not_null(log, "no OOM-kill record");
        cr_assert(strstr(log, "OOM_KILLS=1 "), "%s", log);
}

Test(daemon, new_and_removed_cgroups_are_seen_without_polling)
{
        fx_start(&(FxRun){ .policy = POLICY });
        /* Built aside and moved in, as a real cgroup appears with its files at once. */
        fx_make_cgroup("/new-1.service", "200000000\n");
        char from[300], to[300];
        snprintf(from, sizeof from, "%s/cg/new-1.service", fx_dir);
        snprintf(to, sizeof to, "%s/cg/system.slice/new-1.service", fx_dir);
        cr_assert_eq(rename(from, to), 0);
        bool seen = false;
        for (int i = 0; i < 60 * fx_scale() && !seen; i++) {
                seen = strstr(fx_control("status\n"), "/system.slice/new-1.service") != NULL;
                if (!seen)
                        usleep(50 * 1000);
        }
        cr_assert(seen, "new cgroup not guarded: %s", fx_control("status\n"));

        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s/cg/system.slice/new-1.service'", fx_dir);
        cr_assert_eq(system(cmd), 0);
        bool gone = false;
        for (int i = 0; i < 60 * fx_scale() && !gone; i++) {
                gone = strstr(fx_control("status\n"), "new-1.service") == NULL;
                if (!gone)
                        usleep(50 * 1000);
        }
        cr_assert(gone, "removed cgroup still guarded");
}

Test(daemon, reload_with_a_broken_policy_keeps_the_old_one)
{
        fx_start(&(FxRun){ .policy = POLICY });
        fx_put("pol/zz-broken.conf", "[Match]\nUnit=x.service\n[Pressure]\nSomeTrigger=10 parsecs\n");
        char *reply = fx_control("reload\n");
        cr_assert(strstr(reply, "error:"), "reply: %s", reply);
        cr_assert(strstr(reply, "zz-broken.conf:4"), "reply lacks file:line: %s", reply);
        char *log = fx_wait_log("MESSAGE_ID=731a61ff7d8b4b13820062ed415dec13", 2000);
        cr_assert_not_null(log);
        cr_assert(strstr(log, "CONFIG_LINE=4"), "%s", log);
        cr_assert(strstr(fx_control("status\n"), "/system.slice/web.service"), "old policy dropped");

        /* SIGHUP takes the same path. */
        kill(fx_pid, SIGHUP);
        usleep(300 * 1000 * fx_scale());
        cr_assert_eq(kill(fx_pid, 0), 0, "daemon died on SIGHUP");
        cr_assert(strstr(fx_control("status\n"), "/system.slice/web.service"));

        /* Fixed: the new policy set is in force. */
        fx_put("pol/zz-broken.conf", "[Match]\nUnit=other.service\n[Actions]\nLadder=alert\n");
        reply = fx_control("reload\n");
        cr_assert_str_eq(reply, "ok\n");
        char *st = fx_control("status\n");
        cr_assert(strstr(st, "/system.slice/other.service"), "%s", st);
}

Test(daemon, refuses_to_start_with_a_broken_policy)
{
        fx_put("pol/bad.conf", "[Match]\nUnit=nginx\n");
        fx_put("main.conf", "");
        char cmd[1200];
        snprintf(cmd, sizeof cmd,
                "%s/memwardend --cgroup-root %s/cg --control-socket %s/ctl2 -c %s/main.conf -p %s/pol "
                "--log-target stderr 2>%s/start.log",
                BUILD_ROOT, fx_dir, fx_dir, fx_dir, fx_dir, fx_dir);
        int status = system(cmd);
        cr_assert(WIFEXITED(status));
        cr_assert_eq(WEXITSTATUS(status), 6, "exit status %d, want 6 (configuration rejected)", WEXITSTATUS(status));
        char *log = fx_slurp("start.log");
        cr_assert(strstr(log, "bad.conf:2"), "no file:line: %s", log);
}

Test(daemon, dry_run_changes_nothing)
{
        fx_start(&(FxRun){ .policy = POLICY, .main_conf = "DryRun=yes\n" });
        cr_assert_str_eq(fx_slurp("cg/system.slice/web.service/memory.high"), "max\n", "dry-run set a brake");
        cr_assert(strstr(fx_slurp("daemon.log"), "would set a memory.high brake"));
        fx_put("cg/system.slice/web.service/memory.events", "low 0\nhigh 7\nmax 0\noom 0\noom_kill 0\n");
        usleep(700 * 1000 * fx_scale());
        fx_put("cg/system.slice/web.service/memory.events", "low 0\nhigh 9\nmax 0\noom 0\noom_kill 0\n");
        char *log = fx_wait_log("ACTION=reclaim", 3000);
        cr_assert_not_null(log);
        cr_assert(strstr(log, "RESULT=dry-run"), "%s", log);
        cr_assert_str_eq(fx_slurp("cg/system.slice/web.service/memory.reclaim"), "", "dry-run reclaimed");
}

Test(daemon, hostile_cgroup_files_are_survived_and_named)
{
        fx_make_cgroup("/system.slice/new-bad.service", "not-a-number\n");
        fx_make_cgroup("/system.slice/new-trunc.service", "100000000\n");
        fx_put("cg/system.slice/new-trunc.service/memory.current", "");
        fx_make_cgroup("/system.slice/new-huge.service", "18446744073709551615\n");
        fx_put("cg/system.slice/new-huge.service/memory.current", "99999999999999999999999\n");
        fx_start(&(FxRun){ .policy = POLICY });
        char *st = fx_control("status json\n");
        cr_assert(strstr(st, "\"cgroup\":\"/system.slice/new-bad.service\",\"unit\":\"new-bad.service\","
                             "\"policy\":\"test\",\"state\":\"unknown\""), "%s", st);
        cr_assert(strstr(st, "/system.slice/new-trunc.service\",\"unit\":\"new-trunc.service\",\"policy\":"
                             "\"test\",\"state\":\"unknown\""), "%s", st);
        cr_assert(strstr(st, "/system.slice/new-huge.service\",\"unit\":\"new-huge.service\",\"policy\":"
                             "\"test\",\"state\":\"unknown\""), "%s", st);
        /* The healthy one is unaffected. */
        cr_assert(strstr(st, "\"cgroup\":\"/system.slice/web.service\",\"unit\":\"web.service\",\"policy\":"
                             "\"test\",\"state\":\"calm\""), "%s", st);
        char *log = fx_slurp("daemon.log");
        cr_assert(strstr(log, "/system.slice/new-bad.service: cannot read its memory state"), "%s", log);
        cr_assert(strstr(log, "/system.slice/new-trunc.service: cannot read its memory state"), "%s", log);

        /* Events on an unreadable cgroup change nothing and crash nothing; fixed files recover it. */
        fx_put("cg/system.slice/new-bad.service/memory.events", "high 5\n");
        fx_put("cg/system.slice/new-bad.service/memory.max", "100000000\n");
        fx_put("cg/system.slice/new-bad.service/memory.events", "high 6\n");
        cr_assert_not_null(fx_wait_log("new-bad.service: memory state readable again", 3000));
        cr_assert_eq(kill(fx_pid, 0), 0, "daemon died");
}

/* The brake is raised for a rung that needs the processes' own work, then lifted for good when no rung can
 * act (here: trim finds no process to ask, and it is the last rung), and set again once calm. */
static const char *POLICY_RELIEF =
        "[Match]\nUnit=web.service\n"
        "[Pressure]\nBrake=90%\nBrakeRelief=50%\nHysteresis=1s\nSampleInterval=100ms\nMaxThrottle=1s\n"
        "[Actions]\nLadder=alert trim\n"
        "[Trim]\nSettle=300ms\nCooldown=10min\n";

Test(daemon, relief_for_trim_then_release_when_nothing_can_act)
{
        /* 95 MB of 100: above the 90% brake (89997312). Relief: 95 MB + 50% of the 5 MB headroom. */
        fx_put("cg/system.slice/web.service/memory.current", "95000000\n");
        fx_start(&(FxRun){ .policy = POLICY_RELIEF });
        cr_assert_str_eq(fx_slurp("cg/system.slice/web.service/memory.high"), "89997312", "brake not set");

        fx_events("/system.slice/web.service", 5);
        char *log = fx_wait_log("BRAKE=relieved", 3000);
        cr_assert_not_null(log, "no relief before trim");
        cr_assert(strstr(log, "BRAKE_RELIEF_BYTES=97497088"), "%s", log);
        /* (The relief record names ACTION=trim too: wait for the action's own record.) */
        log = fx_wait_log("ACTION=trim CAUSE=onset", 3000);
        cr_assert_not_null(log);
        cr_assert(strstr(log, "RESULT=failed"), "trim with nobody to ask must fail: %s", log);
        cr_assert(strstr(log, "REASON_TEXT=no process in /system.slice/web.service or below it"), "%s", log);
        cr_assert(strstr(log, "BRAKE_RELIEF_BYTES=97497088"), "the action record names the relief: %s", log);

        /* After trim's settle time the brake is put back. */
        log = fx_wait_log("BRAKE_AFTER_RELIEF=yes", 3000);
        cr_assert_not_null(log, "the brake was not put back after the relief");

        /* The pressure goes on (a high event every 200 ms, within Hysteresis=); nothing can act: after
         * MaxThrottle=1s the brake goes. */
        log = NULL;
        for (unsigned k = 0, high = 6; k < 50 * (unsigned) fx_scale() && !log; k++) {
                fx_events("/system.slice/web.service", high++);
                usleep(200 * 1000);
                char *l = fx_slurp("daemon.log");
                if (strstr(l, "BRAKE=released"))
                        log = l;
        }
        cr_assert_not_null(log, "the brake outlived the ability to act");
        cr_assert(strstr(log, "BRAKE_REASON=last-rung-failed"), "%s", log);
        cr_assert_eq(strncmp(fx_slurp("cg/system.slice/web.service/memory.high"), "max", 3), 0,
                     "memory.high not back to max: %s", fx_slurp("cg/system.slice/web.service/memory.high"));
        /* A fixture is a regular file: "max" overwrote the start of the old value; cgroupfs replaces it. */
        fx_put("cg/system.slice/web.service/memory.high", "max\n");
        char *st = fx_control("status\n");
        cr_assert(strstr(st, "brake lifted"), "%s", st);
        cr_assert(strstr(st, "last trim failed: no process in"), "%s", st);

        /* Calm (no signal for Hysteresis=1s): the brake comes back. */
        cr_assert_not_null(fx_wait_log("MESSAGE_ID=c45d22c01f94415eb5aab3c6cd52fc02", 4000), "no relief record:\n%s",
                           fx_slurp("daemon.log"));
        usleep(300 * 1000 * fx_scale());
        log = fx_slurp("daemon.log");
        const char *rel = strstr(log, "BRAKE=released");
        cr_assert(rel && strstr(rel, "BRAKE=set"), "not re-armed after calm");
        cr_assert_eq(strncmp(fx_slurp("cg/system.slice/web.service/memory.high"), "89997312", 8), 0,
                     "%s", fx_slurp("cg/system.slice/web.service/memory.high"));
}

Test(daemon, memory_high_written_by_someone_else_during_a_relief_is_theirs)
{
        /* As POLICY_RELIEF, with trim's settle time long enough to write memory.high during the relief. */
        fx_put("cg/system.slice/web.service/memory.current", "95000000\n");
        fx_start(&(FxRun){ .policy = "[Match]\nUnit=web.service\n"
                                     "[Pressure]\nBrake=90%\nBrakeRelief=50%\nHysteresis=5s\nSampleInterval=100ms\n"
                                     "[Actions]\nLadder=alert trim\n"
                                     "[Trim]\nSettle=1s\nCooldown=10min\n" });
        cr_assert_str_eq(fx_slurp("cg/system.slice/web.service/memory.high"), "89997312", "brake not set");
        fx_events("/system.slice/web.service", 5);
        cr_assert_not_null(fx_wait_log("BRAKE=relieved", 3000), "no relief before trim");
        cr_assert_str_eq(fx_slurp("cg/system.slice/web.service/memory.high"), "97497088");

        /* An operator (or the kubelet) sets memory.high while the relief is on. */
        fx_put("cg/system.slice/web.service/memory.high", "77777216\n");
        char *log = fx_wait_log("BRAKE=left", 3000);
        cr_assert_not_null(log, "the end of the relief did not notice someone else's memory.high");
        cr_assert(strstr(log, "MEMORY_HIGH=77777216"), "%s", log);
        cr_assert_null(strstr(log, "BRAKE_AFTER_RELIEF=yes"), "the brake was put back over theirs:\n%s", log);
        cr_assert_str_eq(fx_slurp("cg/system.slice/web.service/memory.high"), "77777216\n");

        /* Not ours any more: not restored at stop either. */
        fx_stop();
        cr_assert_str_eq(fx_slurp("cg/system.slice/web.service/memory.high"), "77777216\n");
        cr_assert_null(strstr(fx_slurp("daemon.log"), "BRAKE=restored"), "%s", fx_slurp("daemon.log"));
}

/* A [Restart] Command= still running when the daemon stops: the daemon does not wait for it (it runs on in
 * its own session), exits 0 within its usual time, and its watch is freed with the manager (under valgrind,
 * daemon-valgrind: exit 99 on a definite leak). The watches belong to the Manager, not to a module global. */
Test(daemon, a_command_running_at_stop_is_not_waited_for)
{
        fx_start(&(FxRun){ .policy = "[Match]\nUnit=web.service\n[Pressure]\nHighEvents=yes\n"
                                     "[Actions]\nLadder=restart\n"
                                     "[Restart]\nCommand=/bin/sleep 30\nCommandTimeout=60s\n",
                           .no_bus = true });
        fx_put("cg/system.slice/web.service/memory.events",
               "low 0\nhigh 7\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n");
        char *log = fx_wait_log("RESTART_VIA=command", 5000);
        cr_assert_not_null(log, "the restart command was not started");

        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int status = fx_stop();
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double secs = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "memwardend ended with status %#x:\n%s", status,
                  fx_slurp("daemon.log"));
        /* The command would run 30 s; the daemon's stop (valgrind included) takes a few. */
        cr_assert_lt(secs, 20.0, "memwardend took %.1f s to stop: it waited for the command", secs);
        cr_assert_null(strstr(fx_slurp("daemon.log"), "RESULT=timeout"), "the command was timed out at stop");
}

static pid_t spawn_sleep(void)
{
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                execl("/bin/sleep", "sleep", "120", (char *) NULL);
                _exit(127);
        }
        return pid;
}

/* The PIDs the fake injection helper wrote (one per start), in *pids; returns how many. */
static size_t helper_pids(pid_t *pids, size_t max)
{
        size_t n = 0;
        for (char *s = fx_slurp("helpers"), *end; *s && n < max; s = end) {
                long v = strtol(s, &end, 10);
                if (end == s)
                        break;
                pids[n++] = (pid_t) v;
                end += strspn(end, "\n");
        }
        return n;
}

static bool process_alive(pid_t pid)
{
        return kill(pid, 0) == 0; /* a zombie counts: the daemon must also reap it */
}

/* [Trim] Inject=yes: the injection helper's run is the guard's. The guard goes (its cgroup is removed) while
 * its helper runs: the helper is killed and reaped, not left to run for processes that are gone; a new
 * cgroup of the same unit at the same path gets a helper of its own at its first trim (it is not told
 * TRIM_INJECT_BUSY=1 by the old cgroup's run, as when the runs were kept per path in a module global). The
 * helper is a stand-in (MEMWARDEN_INJECT_HELPER) that notes its PID and sleeps; the process to inject is a
 * sleep(1) without a trim handler. Under AddressSanitizer (unit-asan) a leak of the killed run (kept by
 * the manager until reaped) or of the guard's trim state makes the daemon's exit status non-zero. */
Test(daemon, an_injection_helper_goes_with_its_guard)
{
        const char *wrapper = getenv("MEMWARDEN_DAEMON_WRAPPER");
        if (wrapper && strstr(wrapper, "valgrind"))
                cr_skip_test("valgrind does not know pidfd_open(2): the daemon cannot watch the helper under it");
        char helper[300], script[600];
        snprintf(helper, sizeof helper, "%s/fake-inject-helper", fx_dir);
        snprintf(script, sizeof script, "#!/bin/sh\necho $$ >> '%s/helpers'\nexec sleep 60\n", fx_dir);
        fx_put("fake-inject-helper", script);
        cr_assert_eq(chmod(helper, 0755), 0);
        setenv("MEMWARDEN_INJECT_HELPER", helper, 1);

        const char *web = "cg/system.slice/web.service";
        pid_t first = spawn_sleep(), second = spawn_sleep();
        fx_putf("cg/system.slice/web.service/cgroup.procs", "%d\n", (int) first);
        fx_put("cg/system.slice/web.service/memory.current", "95000000\n");
        fx_start(&(FxRun){ .policy = "[Match]\nUnit=web.service\n"
                                     "[Pressure]\nBrake=90%\nHysteresis=1s\nSampleInterval=100ms\n"
                                     "[Actions]\nLadder=trim\n"
                                     "[Trim]\nInject=yes\nSettle=300ms\nCooldown=1s\n",
                           .no_bus = true });
        fx_events("/system.slice/web.service", 5);
        char *log = fx_wait_log("TRIM_INJECT_QUEUED=1", 5000);
        cr_assert_not_null(log, "the first trim queued no injection");
        pid_t pids[4];
        for (int t = 0; t < 100 && helper_pids(pids, 4) < 1; t++)
                usleep(50 * 1000);
        cr_assert_eq(helper_pids(pids, 4), 1, "helpers: %s", fx_slurp("helpers"));
        pid_t old = pids[0];
        cr_assert(process_alive(old));

        /* The unit's cgroup goes (a restart of the unit): its guard goes, and the helper with it. */
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s/%s'", fx_dir, web);
        cr_assert_eq(system(cmd), 0);
        bool gone = false;
        for (int t = 0; t < 60 * fx_scale() && !gone; t++) {
                gone = strstr(fx_control("status\n"), "web.service") == NULL;
                if (!gone)
                        usleep(50 * 1000);
        }
        cr_assert(gone, "the guard was not dropped");
        for (int t = 0; t < 60 * fx_scale() && process_alive(old); t++)
                usleep(50 * 1000);
        bool old_alive = process_alive(old);
        if (old_alive)
                kill(old, SIGKILL);
        cr_assert_not(old_alive, "the injection helper (PID %d) outlived its guard", (int) old);

        /* The unit comes back at the same path, with another process; its first trim starts its own helper. */
        usleep(1100 * 1000); /* the unit's trim Cooldown=1s (kept in the unit's record) */
        unsigned brakes = fx_count(fx_slurp("daemon.log"), "BRAKE=set");
        fx_make_cgroup_at("aside", "/web.service", "100000000\n");
        fx_put("aside/web.service/memory.current", "95000000\n");
        fx_putf("aside/web.service/cgroup.procs", "%d\n", (int) second);
        snprintf(cmd, sizeof cmd, "mv '%s/aside/web.service' '%s/%s'", fx_dir, fx_dir, web);
        cr_assert_eq(system(cmd), 0); /* moved in: a real cgroup appears with its files at once */
        for (int t = 0; t < 100 * fx_scale() && fx_count(fx_slurp("daemon.log"), "BRAKE=set") <= brakes; t++)
                usleep(50 * 1000);
        cr_assert_gt(fx_count(fx_slurp("daemon.log"), "BRAKE=set"), brakes, "the new cgroup is not guarded:\n%s",
                     fx_slurp("daemon.log"));
        fx_events("/system.slice/web.service", 9);
        for (int t = 0; t < 100 * fx_scale() && fx_count(fx_slurp("daemon.log"), "TRIM_INJECT_QUEUED=") < 2; t++)
                usleep(50 * 1000);
        log = fx_slurp("daemon.log");
        cr_assert_null(strstr(log, "TRIM_INJECT_BUSY=1"), "the new cgroup was told the old one's helper is busy:\n%s",
                       log);
        cr_assert_eq(fx_count(log, "TRIM_INJECT_QUEUED=1"), 2, "the second trim queued no injection:\n%s", log);
        for (int t = 0; t < 100 && helper_pids(pids, 4) < 2; t++)
                usleep(50 * 1000); /* the helper notes its PID once it runs */
        cr_assert_eq(helper_pids(pids, 4), 2, "helpers: %s", fx_slurp("helpers"));
        cr_assert(process_alive(pids[1]));

        /* At stop the running helper is killed with its guard too. */
        int status = fx_stop();
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "memwardend ended with status %#x", status);
        for (int t = 0; t < 40 && process_alive(pids[1]); t++)
                usleep(50 * 1000);
        old_alive = process_alive(pids[1]);
        if (old_alive)
                kill(pids[1], SIGKILL);
        kill(first, SIGKILL);
        kill(second, SIGKILL);
        waitpid(first, NULL, 0);
        waitpid(second, NULL, 0);
        cr_assert_not(old_alive, "the second helper (PID %d) outlived the daemon", (int) pids[1]);
}

/* The daemon in a user namespace of its own (root mapped to root), whose fs.inotify.max_user_watches
 * (/proc/sys/user/max_inotify_watches there, counted besides the host's) is `limit`: a wrapper script in front
 * of the valgrind wrapper, if any. */
static void start_with_inotify_watch_limit(const FxRun *run, unsigned limit)
{
        char script[600], wrapper[900];
        fx_putf("limit-watches.sh", "#!/bin/sh\nexec unshare -U -r sh -c "
                "'echo %u >/proc/sys/user/max_inotify_watches && exec \"$@\"' sh \"$@\"\n", limit);
        snprintf(script, sizeof script, "%s/limit-watches.sh", fx_dir);
        cr_assert_eq(chmod(script, 0755), 0);
        const char *w = getenv("MEMWARDEN_DAEMON_WRAPPER");
        snprintf(wrapper, sizeof wrapper, "%s %s", script, w ?: "");
        setenv("MEMWARDEN_DAEMON_WRAPPER", wrapper, 1);
        fx_start(run);
        if (w)
                setenv("MEMWARDEN_DAEMON_WRAPPER", w, 1);
        else
                unsetenv("MEMWARDEN_DAEMON_WRAPPER");
}

static void set_inotify_watch_limit(unsigned limit)
{
        char cmd[200];
        snprintf(cmd, sizeof cmd, "nsenter -U -t %d sh -c 'echo %u >/proc/sys/user/max_inotify_watches'",
                 (int) fx_pid, limit);
        cr_assert_eq(system(cmd), 0, "%s", cmd);
}

/* Out of inotify watches (limit 0): the guard has no memory.events watch and is not blind. A high event is
 * acted on within a poll tick (1 s) plus the policy's own time; the count is said once (UNWATCHED=1), shown
 * by status (text and JSON) and the metrics. Once the limit allows, the watch comes back at the next tick
 * (UNWATCHED=0) and the next change is seen through it. */
Test(daemon, a_guard_out_of_inotify_watches_is_polled_not_blind)
{
        start_with_inotify_watch_limit(&(FxRun){ .policy = POLICY, .no_bus = true }, 0);
        char *log = fx_wait_log("UNWATCHED=1", 3000);
        cr_assert_not_null(log, "no record of the unwatched guard");
        cr_assert(strstr(log, "ERRNO=28"), "%s", log);
        cr_assert(strstr(log, "MAX_USER_WATCHES="), "%s", log);
        char *st = fx_control("status json\n");
        cr_assert(strstr(st, "\"unwatched\":1"), "%s", st);
        st = fx_control("status\n");
        cr_assert(strstr(st, "1 guarded cgroup without an inotify watch on memory.events (fs.inotify.max_user_watches="), "%s", st);
        cr_assert(strstr(fx_control("metrics\n"), "memwarden_guarded_cgroups_unwatched 1\n"));

        fx_put("cg/system.slice/web.service/memory.events",
               "low 0\nhigh 7\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n");
        log = fx_wait_log("MESSAGE_ID=cc09ac76392d4205bf123cd640dcc1a6", 3000);
        cr_assert_not_null(log, "the unwatched guard did not act on its high event");
        cr_assert(strstr(log, "REASONS=high-event"), "%s", log);
        cr_assert(strstr(log, "ACTION=reclaim"), "%s", log);
        cr_assert_not_null(fx_wait_log("MESSAGE_ID=c45d22c01f94415eb5aab3c6cd52fc02", 5000), "no relief record");

        set_inotify_watch_limit(1000);
        log = fx_wait_log("UNWATCHED=0", 3000);
        cr_assert_not_null(log, "the watch did not come back");
        st = fx_control("status json\n");
        cr_assert(strstr(st, "\"unwatched\":0"), "%s", st);
        cr_assert_null(strstr(fx_control("status\n"), "without an inotify watch"));
        /* Through the watch now: the second onset comes as fast as with a watch from the start. */
        unsigned onsets = fx_count(fx_slurp("daemon.log"), "MESSAGE_ID=cc09ac76392d4205bf123cd640dcc1a6");
        fx_put("cg/system.slice/web.service/memory.events",
               "low 0\nhigh 9\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n");
        for (int t = 0; t < 3000 * fx_scale(); t += 50) {
                if (fx_count(fx_slurp("daemon.log"), "MESSAGE_ID=cc09ac76392d4205bf123cd640dcc1a6") > onsets)
                        break;
                usleep(50 * 1000);
        }
        cr_assert_gt(fx_count(fx_slurp("daemon.log"), "MESSAGE_ID=cc09ac76392d4205bf123cd640dcc1a6"), onsets,
                     "no second onset through the watch:\n%s", fx_slurp("daemon.log"));
}

/* The inotify queue overflows (IN_Q_OVERFLOW) and a memory.events change is among the events lost: the rescan
 * reads every guard's memory.events and steps each that changed, as the lost event would have. The daemon is
 * stopped (SIGSTOP) while more than fs.inotify.max_queued_events events are queued (files made and removed in
 * a watched directory), then the counters change, then it goes on. */
Test(daemon, a_change_lost_in_an_inotify_overflow_is_seen_by_the_rescan)
{
        char buf[32] = "";
        FILE *f = fopen("/proc/sys/fs/inotify/max_queued_events", "re");
        cr_assert_not_null(f);
        cr_assert_not_null(fgets(buf, sizeof buf, f));
        fclose(f);
        unsigned max = (unsigned) strtoul(buf, NULL, 10);
        cr_assert_gt(max, 0u);

        fx_start(&(FxRun){ .policy = POLICY, .no_bus = true });
        cr_assert_eq(kill(fx_pid, SIGSTOP), 0);
        /* No assertion until SIGCONT: the teardown's SIGTERM would wait for a stopped daemon. */
        unsigned made = 0;
        char p[512];
        for (unsigned i = 0; i < max / 2 + 64; i++) {
                snprintf(p, sizeof p, "%s/cg/system.slice/flood-%u", fx_dir, i);
                int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
                if (fd < 0)
                        break;
                close(fd);
                if (unlink(p) == 0)
                        made += 2; /* IN_CREATE, IN_DELETE: names differ, nothing is merged */
        }
        FILE *e = NULL;
        snprintf(p, sizeof p, "%s/cg/system.slice/web.service/memory.events", fx_dir);
        if ((e = fopen(p, "we"))) {
                fputs("low 0\nhigh 7\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n", e);
                fclose(e);
        }
        cr_assert_eq(kill(fx_pid, SIGCONT), 0);
        cr_assert_gt(made, max, "only %u events made", made);
        cr_assert_not_null(e, "%s: %s", p, strerror(errno));

        cr_assert_not_null(fx_wait_log("inotify queue overflowed", 5000), "the queue did not overflow");
        char *log = fx_wait_log("MESSAGE_ID=cc09ac76392d4205bf123cd640dcc1a6", 3000);
        cr_assert_not_null(log, "the memory.events change lost in the overflow was not seen by the rescan");
        cr_assert(strstr(log, "REASONS=high-event"), "%s", log);
        cr_assert(strstr(log, "EVENTS_HIGH_DELTA=7"), "%s", log);
        cr_assert(strstr(log, "CGROUP=/system.slice/web.service"), "%s", log);
}

/* Out of inotify watches (limit 0), no cgroup directory has a watch either: a cgroup made below one later is
 * found by the poll (within a tick), guarded (its brake set) and acted on (its memory.events polled too). The
 * directories are counted in the record and in status; once the limit allows, their watches come back. */
Test(daemon, a_cgroup_made_below_a_directory_out_of_inotify_watches_is_found)
{
        start_with_inotify_watch_limit(&(FxRun){ .policy = POLICY, .no_bus = true }, 0);
        cr_assert_not_null(fx_wait_log("UNWATCHED=1", 3000), "no record of the unwatched guard");

        fx_make_cgroup_at("aside", "/new-poll.service", "100000000\n");
        fx_put("aside/new-poll.service/memory.current", "95000000\n");
        char cmd[300];
        snprintf(cmd, sizeof cmd, "mv '%s/aside/new-poll.service' '%s/cg/system.slice/'", fx_dir, fx_dir);
        cr_assert_eq(system(cmd), 0); /* moved in: a cgroup appears with its files at once */
        char *log = fx_wait_log("CGROUP=/system.slice/new-poll.service UNIT=new-poll.service SLICE=system.slice "
                                "POLICY=test", 4000);
        cr_assert_not_null(log, "the cgroup made below an unwatched directory was not guarded");
        cr_assert(strstr(log, "BRAKE=set"), "%s", log);

        fx_events("/system.slice/new-poll.service", 5);
        log = fx_wait_log("MESSAGE_ID=cc09ac76392d4205bf123cd640dcc1a6 CGROUP=/system.slice/new-poll.service", 4000);
        cr_assert_not_null(log, "the cgroup found by the poll did not act on its high event");
        cr_assert(strstr(log, "EVENTS_HIGH_DELTA=5"), "%s", log);

        log = fx_slurp("daemon.log");
        cr_assert(strstr(log, "UNWATCHED_DIRS=4"), "/, system.slice and its two services: %s", log);
        cr_assert(strstr(fx_control("status\n"), "5 cgroup directories without an inotify watch for new cgroups"),
                  "%s", fx_control("status\n"));

        set_inotify_watch_limit(1000);
        log = fx_wait_log("UNWATCHED=0 UNWATCHED_DIRS=0", 3000);
        cr_assert_not_null(log, "the watches did not come back");
        cr_assert_null(strstr(fx_control("status\n"), "without an inotify watch"));
        /* Through the directory's watch now. */
        fx_make_cgroup_at("aside", "/new-watched.service", "100000000\n");
        snprintf(cmd, sizeof cmd, "mv '%s/aside/new-watched.service' '%s/cg/system.slice/'", fx_dir, fx_dir);
        cr_assert_eq(system(cmd), 0);
        cr_assert_not_null(fx_wait_log("CGROUP=/system.slice/new-watched.service UNIT=new-watched.service", 3000),
                           "the cgroup made below the watched directory was not guarded");
}

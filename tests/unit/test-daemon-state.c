/* SPDX-License-Identifier: MIT */
/* A memwardend restart loses nothing that matters (daemon/state.h): the real daemon on a fixture tree is
 * SIGKILLed mid-cooldown and started again; the cooled rung does not run again, and the brake the first
 * instance set is known to the second (kept while the policy wants it, removed when it does not), or
 * removed by `memwardenctl release-brakes` (the unit's ExecStopPost=) when no daemon runs. Plus the state
 * file's parser on hostile input. */
#include "daemon-fixture.h"

#include "daemon/state.h"

TestSuite(state, .init = fx_setup, .fini = fx_teardown, .timeout = 90);

/* The brake is 90% of 100000000 rounded down to a page: 89997312. */
#define BRAKE "89997312"

static const char *POLICY =
        "[Match]\nUnit=web.service\n"
        "[Pressure]\nBrake=90%\nHysteresis=2s\nSampleInterval=100ms\n"
        "[Actions]\nLadder=alert reclaim\n"
        "[Alert]\nSettle=300ms\n[Reclaim]\nSettle=300ms\nCooldown=10min\nAmount=10%\n";

static const char *POLICY_NO_BRAKE =
        "[Match]\nUnit=web.service\n"
        "[Pressure]\nHysteresis=1s\nSampleInterval=100ms\n"
        "[Actions]\nLadder=alert reclaim\n"
        "[Alert]\nSettle=300ms\n[Reclaim]\nSettle=300ms\nCooldown=10min\nAmount=10%\n";

/* Runs the ladder up to reclaim on web.service, then SIGKILLs the daemon. */
static void reclaim_then_crash(void)
{
        fx_start(&(FxRun) { .policy = POLICY });
        cr_assert_str_eq(fx_slurp("cg/system.slice/web.service/memory.high"), BRAKE, "brake not set");
        fx_events("/system.slice/web.service", 7);
        cr_assert_not_null(fx_wait_log("MESSAGE_ID=cc09ac76392d4205bf123cd640dcc1a6", 3000), "no onset");
        /* The alert in front costs no time: reclaim runs with the onset. The crash comes 0.4 s later, so
         * that the restored episode's duration tells the first instance's onset from the restart. */
        cr_assert_not_null(fx_wait_log("ACTION=reclaim", 3000), "no reclaim");
        usleep(400 * 1000 * fx_scale());
        cr_assert_str_eq(fx_slurp("cg/system.slice/web.service/memory.reclaim"), "5000000");

        /* Saved before the action ran. */
        char *st = fx_slurp("state/state");
        cr_assert(strstr(st, "memwarden-state 1\n"), "state file: %s", st);
        cr_assert(strstr(st, "cgroup /system.slice/web.service "), "%s", st);
        cr_assert(strstr(st, " run.reclaim="), "no reclaim cooldown saved: %s", st);
        cr_assert(strstr(st, " brake=" BRAKE " original=max via=cgroupfs"), "no brake saved: %s", st);
        cr_assert(strstr(st, " pressure=1 "), "pressure episode not saved: %s", st);

        fx_kill9();
        /* Nothing was restored: the brake is still there. */
        cr_assert_str_eq(fx_slurp("cg/system.slice/web.service/memory.high"), BRAKE);
        fx_put("cg/system.slice/web.service/memory.reclaim", "");
}

/* Fresh pressure after the restart: two high events a settle time apart, then time to escalate. */
static void pressure_again(unsigned from)
{
        fx_events("/system.slice/web.service", from);
        usleep(400 * 1000 * fx_scale());
        fx_events("/system.slice/web.service", from + 2);
        usleep(400 * 1000 * fx_scale());
        fx_events("/system.slice/web.service", from + 4);
        usleep(700 * 1000 * fx_scale());
}

Test(state, sigkill_mid_cooldown_then_restart_does_not_rerun_the_rung)
{
        reclaim_then_crash();

        fx_start(&(FxRun) { .policy = POLICY });
        char *log = fx_slurp("daemon.log");
        cr_assert(strstr(log, "Saved state of 1 cgroup(s)"), "%s", log);
        /* The brake is adopted, not taken for the operator's and not set again. */
        cr_assert_null(strstr(log, "BRAKE=set"), "%s", log);
        char *status = fx_control("status json\n");
        cr_assert(strstr(status, "\"brake\":" BRAKE), "brake not known to the new instance: %s", status);
        /* One action: reclaim at the onset (the alert in front is passed through, it costs no time). */
        cr_assert(strstr(status, "\"actions\":1"), "counters lost: %s", status);

        pressure_again(20);
        /* The episode of the first instance goes on (no new onset, no alert burst) and ends in one relief
         * record whose duration counts from the first instance's onset. */
        log = fx_wait_log("MESSAGE_ID=c45d22c01f94415eb5aab3c6cd52fc02", 4000);
        cr_assert_not_null(log, "no relief");
        cr_assert_null(strstr(log, "ACTION=reclaim"), "reclaim ran again within its cooldown:\n%s", log);
        cr_assert_null(strstr(log, "MESSAGE_ID=cc09ac76392d4205bf123cd640dcc1a6"), "a second onset:\n%s", log);
        cr_assert_str_eq(fx_slurp("cg/system.slice/web.service/memory.reclaim"), "", "reclaimed again");
        const char *d = strstr(log, "PRESSURE_DURATION_USEC=");
        cr_assert_not_null(d);
        /* Signals came from the first onset (> 0.4 s before the crash) to the last event of pressure_again
         * (0.8 s after the restart): counted from the restart it would be below 1 s. */
        cr_assert_gt(strtoull(d + strlen("PRESSURE_DURATION_USEC="), NULL, 10), 1150000ULL, "%s", d);
        cr_assert_eq(kill(fx_pid, 0), 0, "daemon died");

        /* The new instance removes the adopted brake when it stops, as if it had set it. */
        int status_code = fx_stop();
        cr_assert(WIFEXITED(status_code) && WEXITSTATUS(status_code) == 0);
        cr_assert_eq(strncmp(fx_slurp("cg/system.slice/web.service/memory.high"), "max", 3), 0, "brake left");
        /* A clean stop keeps the cooldown for the next one, without the brake. */
        char *st = fx_slurp("state/state");
        cr_assert(strstr(st, " run.reclaim="), "%s", st);
        cr_assert_null(strstr(st, " brake="), "%s", st);
}

Test(state, without_the_state_file_the_rung_runs_again)
{
        /* The control experiment: the same sequence with the state removed reruns reclaim at once, and takes
         * the leftover brake for the operator's (it would never be removed). */
        reclaim_then_crash();
        char p[300];
        snprintf(p, sizeof p, "%s/state/state", fx_dir);
        cr_assert_eq(unlink(p), 0);

        fx_start(&(FxRun) { .policy = POLICY });
        cr_assert_null(strstr(fx_control("status json\n"), "\"brake\":"), "brake known without state?");
        pressure_again(20);
        cr_assert_not_null(fx_wait_log("ACTION=reclaim", 2000), "reclaim did not run again without state");
        fx_stop();
        cr_assert_str_eq(fx_slurp("cg/system.slice/web.service/memory.high"), BRAKE, "the orphan brake stays");
}

Test(state, brake_of_previous_instance_removed_when_policy_no_longer_wants_it)
{
        reclaim_then_crash();
        fx_start(&(FxRun) { .policy = POLICY_NO_BRAKE });
        char *log = fx_wait_log("brake of the previous instance removed", 2000);
        cr_assert_not_null(log);
        cr_assert(strstr(log, "BRAKE=restored"), "%s", log);
        cr_assert(strstr(log, "BRAKE_FROM=previous-instance"), "%s", log);
        cr_assert_eq(strncmp(fx_slurp("cg/system.slice/web.service/memory.high"), "max", 3), 0);
        /* A fixture is a regular file: "max" overwrote the start of the old value; cgroupfs replaces it. */
        fx_put("cg/system.slice/web.service/memory.high", "max\n");

        /* The cooldown still holds under the new policy: the episode goes on and ends without reclaim. */
        pressure_again(20);
        log = fx_wait_log("MESSAGE_ID=c45d22c01f94415eb5aab3c6cd52fc02", 4000);
        cr_assert_not_null(log, "no relief");
        cr_assert_null(strstr(log, "ACTION=reclaim"), "%s", log);
}

Test(state, brake_of_previous_instance_removed_when_nothing_matches)
{
        reclaim_then_crash();
        fx_start(&(FxRun) { .policy = "[Match]\nUnit=other.service\n[Actions]\nLadder=alert\n" });
        cr_assert_not_null(fx_wait_log("no policy guards the cgroup now", 2000));
        cr_assert_eq(strncmp(fx_slurp("cg/system.slice/web.service/memory.high"), "max", 3), 0);
        /* Dropped from the state: nothing to remember about a cgroup nobody guards. */
        usleep(200 * 1000);
        cr_assert_null(strstr(fx_slurp("state/state"), "web.service"), "%s", fx_slurp("state/state"));
}

Test(state, brake_changed_by_someone_else_is_theirs)
{
        reclaim_then_crash();
        fx_put("cg/system.slice/web.service/memory.high", "77777216\n");
        fx_start(&(FxRun) { .policy = POLICY_NO_BRAKE });
        usleep(300 * 1000);
        fx_stop();
        cr_assert_str_eq(fx_slurp("cg/system.slice/web.service/memory.high"), "77777216\n");
}

static int run_ctl(const char *args, char **ret_out)
{
        const char *ctl = getenv("MEMWARDENCTL");
        cr_assert_not_null(ctl, "MEMWARDENCTL not set");
        char cmd[1500];
        snprintf(cmd, sizeof cmd, "%s %s >%s/ctl.out 2>&1", ctl, args, fx_dir);
        int status = system(cmd);
        *ret_out = fx_copy(fx_slurp("ctl.out"));
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Test(state, release_brakes_after_a_crash)
{
        reclaim_then_crash();
        char args[800], *out;
        snprintf(args, sizeof args, "release-brakes --state-dir %s/state --cgroup-root %s/cg -c %s/main.conf",
                fx_dir, fx_dir, fx_dir);
        cr_assert_eq(run_ctl(args, &out), 0, "%s", out);
        cr_assert(strstr(out, "/system.slice/web.service: memory.high brake removed (memory.high=max, via "
                              "cgroupfs)"), "%s", out);
        cr_assert_eq(strncmp(fx_slurp("cg/system.slice/web.service/memory.high"), "max", 3), 0);
        char *st = fx_slurp("state/state");
        cr_assert_null(strstr(st, " brake="), "brake still in the state: %s", st);
        cr_assert(strstr(st, " run.reclaim="), "cooldown lost: %s", st);

        /* Twice: nothing left to do. */
        cr_assert_eq(run_ctl(args, &out), 0, "%s", out);
        cr_assert(strstr(out, "No memory.high brake"), "%s", out);
        fx_put("cg/system.slice/web.service/memory.high", "max\n"); /* cgroupfs replaces, a file does not */

        /* The next instance neither adopts a brake nor reruns the cooled rung. */
        fx_start(&(FxRun) { .policy = POLICY });
        cr_assert(strstr(fx_slurp("daemon.log"), "BRAKE=set"), "brake not set again");
        pressure_again(20);
        char *log = fx_wait_log("MESSAGE_ID=c45d22c01f94415eb5aab3c6cd52fc02", 4000);
        cr_assert_not_null(log, "no relief");
        cr_assert_null(strstr(log, "ACTION=reclaim"), "%s", log);
}

Test(state, release_brakes_leaves_a_changed_memory_high)
{
        reclaim_then_crash();
        fx_put("cg/system.slice/web.service/memory.high", "77777216\n");
        char args[800], *out;
        snprintf(args, sizeof args, "release-brakes --state-dir %s/state --cgroup-root %s/cg -c %s/main.conf",
                fx_dir, fx_dir, fx_dir);
        cr_assert_eq(run_ctl(args, &out), 0, "%s", out);
        cr_assert(strstr(out, "brake gone already"), "%s", out);
        cr_assert_str_eq(fx_slurp("cg/system.slice/web.service/memory.high"), "77777216\n");
}

Test(state, recreated_cgroup_starts_afresh)
{
        reclaim_then_crash();
        /* The unit restarted while no daemon ran: same path, new cgroup (another inode; made before the old
         * one is removed, or the fixture's file system could hand out the same inode number again, which
         * cgroupfs never does: its inode number is the 64-bit cgroup ID). */
        fx_make_cgroup_at("aside", "/web.service", "100000000\n");
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s/cg/system.slice/web.service' && mv '%s/aside/web.service' "
                 "'%s/cg/system.slice/web.service'", fx_dir, fx_dir, fx_dir);
        cr_assert_eq(system(cmd), 0);
        fx_start(&(FxRun) { .policy = POLICY });
        cr_assert(strstr(fx_slurp("daemon.log"), "BRAKE=set"), "the new cgroup got no brake");
        pressure_again(20);
        cr_assert_not_null(fx_wait_log("ACTION=reclaim", 2000), "a new cgroup inherited an old cooldown");
}

/* The parser, without a daemon. */

Test(state_parse, round_trip_and_hostile_lines)
{
        SavedGuard s = {
                .path = (char *) "/a b/%x\n.service",
                .unit = (char *) "x y.service",
                .ino = 42,
                .brake = true,
                .brake_bytes = 4096,
                .brake_original = CGROUP_LIMIT_MAX,
                .brake_via_dbus = true,
                .pressure = true,
                .pressure_since_usec = 5,
                .last_signal_usec = 6,
                .rung = RUNG_RECLAIM,
                .rung_at_usec = 7,
                .n_actions = 3,
        };
        s.last_run_usec[RUNG_RECLAIM] = 7;
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        fputs("memwarden-state 1\nboot abc\n", f);
        state_format_guard(f, &s);
        fputs("cgroup /bad key-without-value\n"
              "cgroup relative ino=1\n"
              "cgroup /bad2 brake=-5\n"
              "cgroup /bad3 ino=99999999999999999999999\n"
              "cgroup /bad%00nul ino=1\n"
              "cgroup /ok ino=1 future=yes run.nonsense=5 run.kill=9\n"
              "garbage line\n",
                f);
        fclose(f);

        Hashmap *h = NULL;
        cr_assert_eq(state_parse(buf, "abc", NULL, &h), 0);
        cr_assert_eq(hashmap_size(h), 2, "%zu entries from:\n%s", hashmap_size(h), buf);
        SavedGuard *g = hashmap_get(h, "/a b/%x\n.service");
        cr_assert_not_null(g, "%s", buf);
        cr_assert_str_eq(g->unit, "x y.service");
        cr_assert_eq(g->ino, 42);
        cr_assert(g->brake && g->brake_bytes == 4096 && g->brake_original == CGROUP_LIMIT_MAX && g->brake_via_dbus);
        cr_assert(g->pressure && g->pressure_since_usec == 5 && g->last_signal_usec == 6);
        cr_assert_eq(g->rung, RUNG_RECLAIM);
        cr_assert_eq(g->last_run_usec[RUNG_RECLAIM], 7);
        cr_assert_eq(g->n_actions, 3);
        SavedGuard *ok = hashmap_get(h, "/ok");
        cr_assert_not_null(ok);
        cr_assert_eq(ok->last_run_usec[RUNG_KILL], 9);
        saved_state_free(h);

        /* Another boot: monotonic stamps mean nothing now. */
        cr_assert_eq(state_parse(buf, "def", NULL, &h), 0);
        cr_assert_eq(hashmap_size(h), 0);
        saved_state_free(h);

        /* Another hierarchy (a fixture tree, say): not ours either. */
        char *rooted = NULL;
        cr_assert_neq(asprintf(&rooted, "memwarden-state 1\nboot abc\nroot /tmp/x%%20y\n%s", strstr(buf, "cgroup ")), -1);
        cr_assert_eq(state_parse(rooted, "abc", "/sys/fs/cgroup", &h), 0);
        cr_assert_eq(hashmap_size(h), 0);
        saved_state_free(h);
        cr_assert_eq(state_parse(rooted, "abc", "/tmp/x y", &h), 0);
        cr_assert_eq(hashmap_size(h), 2);
        saved_state_free(h);
        free(rooted);
        free(buf);

        cr_assert_eq(state_parse("something else\n", "abc", NULL, &h), -EINVAL);
        cr_assert_eq(state_parse("", "abc", NULL, &h), 0);
        cr_assert_eq(hashmap_size(h), 0);
        saved_state_free(h);
}

Test(state_parse, unit_records_round_trip)
{
        /* A unit record (daemon/unit-record.h): its brake, cooldowns and restarts, oldest first, from a ring
         * that wrapped around. */
        SavedGuard s = {
                .path = (char *) "unit web x.service",
                .unit = (char *) "web x.service",
                .unit_record = true,
                .brake = true,
                .brake_bytes = 8192,
                .brake_original = 123456,
                .brake_via_dbus = true,
                .rung = _RUNG_INVALID,
        };
        s.last_run_usec[RUNG_RESTART] = 77;
        for (unsigned i = 0; i < RESTART_LIMIT_BURST_MAX + 3; i++)
                cr_assert(restart_limit_take(&s.restarts, 1000 + i, RESTART_LIMIT_BURST_MAX, 1));
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        fputs("memwarden-state 1\nboot abc\n", f);
        state_format_guard(f, &s);
        fputs("unit /a/path restarts=5,6\n"
              "unit bad.service restarts=5,,6\n"
              "unit bad2.service restarts=5,\n"
              "unit bad3.service restarts=0\n"
              "cgroup /a/path ino=1 run.kill=3\n",
              f);
        fclose(f);
        cr_assert(strstr(buf, "unit web%20x.service brake=8192 original=123456 via=systemd run.restart=77 "
                              "restarts=1003,1004,"), "%s", buf);

        Hashmap *h = NULL;
        cr_assert_eq(state_parse(buf, "abc", NULL, &h), 0);
        cr_assert_eq(hashmap_size(h), 3, "%zu entries from:\n%s", hashmap_size(h), buf);
        SavedGuard *u = hashmap_get(h, "unit web x.service");
        cr_assert_not_null(u, "%s", buf);
        cr_assert(u->unit_record);
        cr_assert_str_eq(u->unit, "web x.service");
        cr_assert(u->brake && u->brake_bytes == 8192 && u->brake_original == 123456 && u->brake_via_dbus);
        cr_assert_eq(u->last_run_usec[RUNG_RESTART], 77);
        cr_assert_eq(u->restarts.n, RESTART_LIMIT_BURST_MAX);
        /* Within the limit as before: the ring holds the same restarts (the oldest three dropped). */
        cr_assert_not(restart_limit_take(&u->restarts, 1000 + RESTART_LIMIT_BURST_MAX + 2, RESTART_LIMIT_BURST_MAX,
                                         100000));
        /* A unit record keyed by a path and a cgroup line of the same path are two entries. */
        SavedGuard *p = hashmap_get(h, "unit /a/path"), *c = hashmap_get(h, "/a/path");
        cr_assert(p && p->unit_record && p->restarts.n == 2, "%s", buf);
        cr_assert(c && !c->unit_record && c->last_run_usec[RUNG_KILL] == 3);
        saved_state_free(h);
        free(buf);
}

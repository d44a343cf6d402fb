/* SPDX-License-Identifier: MIT */
/* A unit restarted by systemd gets a new cgroup, and so a new guard (daemon/unit-record.h): the brake set
 * through systemd comes with the unit to its new cgroup and stays memwarden's (relieved, restored at stop),
 * and the cooldowns and the restart rate limit are not forgotten. The real memwardend on a fixture tree,
 * talking to a fake systemd (tests/unit/fake-systemd.c) on a private bus (dbus-daemon); the test plays
 * systemd's part of a restart: the old cgroup goes, a new one (another inode) comes with the runtime
 * MemoryHigh= the fake systemd kept for the unit. */
#include "daemon-fixture.h"

#include <time.h>

static pid_t bus_pid, systemd_pid;
static char bus_address[200];

static const char *refuse_unit; /* FAKE_SYSTEMD_REFUSE for the next bus_start() */
static bool late_writes;         /* FAKE_SYSTEMD_LATE=1 for the next bus_start() */

static pid_t spawn(char *const argv[], const char *log, const char *delay_ms)
{
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                char p[512];
                snprintf(p, sizeof p, "%s/%s", fx_dir, log);
                int fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                dup2(fd, 1);
                dup2(fd, 2);
                if (delay_ms)
                        setenv("FAKE_SYSTEMD_DELAY_MS", delay_ms, 1);
                if (refuse_unit)
                        setenv("FAKE_SYSTEMD_REFUSE", refuse_unit, 1);
                if (late_writes)
                        setenv("FAKE_SYSTEMD_LATE", "1", 1);
                execv(argv[0], argv);
                _exit(127);
        }
        return pid;
}

/* dbus-daemon on DIR/bus and the fake systemd on it; delay_ms: its replies' delay (NULL: none). */
static void bus_start(const char *delay_ms)
{
        const char *dbus = getenv("DBUS_DAEMON"), *fake = getenv("FAKE_SYSTEMD");
        if (!dbus || !*dbus)
                cr_skip_test("no dbus-daemon (scripts/install-deps installs it)");
        cr_assert(fake && *fake, "FAKE_SYSTEMD not set");
        fx_putf("bus.conf",
                "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
                " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                "<busconfig><type>memwarden-test</type><listen>unix:path=%s/bus</listen><auth>EXTERNAL</auth>\n"
                "<policy context=\"default\"><allow send_destination=\"*\" eavesdrop=\"true\"/>"
                "<allow eavesdrop=\"true\"/><allow own=\"*\"/><allow user=\"*\"/></policy></busconfig>\n",
                fx_dir);
        char conf[300];
        snprintf(conf, sizeof conf, "--config-file=%s/bus.conf", fx_dir);
        bus_pid = spawn((char *const[]) { (char *) dbus, conf, (char *) "--nofork", (char *) "--nopidfile", NULL },
                        "dbus.log", NULL);
        snprintf(bus_address, sizeof bus_address, "unix:path=%s/bus", fx_dir);
        char p[300];
        snprintf(p, sizeof p, "%s/bus", fx_dir);
        for (int t = 0; t < 5000 && access(p, F_OK) != 0; t += 20)
                usleep(20 * 1000);
        cr_assert_eq(access(p, F_OK), 0, "dbus-daemon did not start: %s", fx_slurp("dbus.log"));
        systemd_pid = spawn((char *const[]) { (char *) fake, bus_address, fx_dir, NULL }, "fake-systemd.log",
                            delay_ms);
        for (int t = 0; t < 5000 && !strstr(fx_slurp("systemd.log"), "ready"); t += 20)
                usleep(20 * 1000);
        cr_assert(strstr(fx_slurp("systemd.log"), "ready"), "fake systemd did not start: %s",
                  fx_slurp("fake-systemd.log"));
}

static void units_teardown(void)
{
        fx_teardown(); /* stops the daemon first: it may talk to systemd on its way out */
        pid_t pids[] = { systemd_pid, bus_pid };
        for (size_t i = 0; i < 2; i++)
                if (pids[i] > 0) {
                        kill(pids[i], SIGTERM);
                        waitpid(pids[i], NULL, 0);
                }
        systemd_pid = bus_pid = 0;
}

TestSuite(units, .init = fx_setup, .fini = units_teardown, .timeout = 90);

/* 90% of 100000000 rounded down to a page. */
#define BRAKE "89997312"
#define WEB "cg/system.slice/web.service"

/* systemd's part of a restart: the old cgroup goes, the new one (another inode: made aside, then moved into
 * place) comes with the runtime MemoryHigh= kept for the unit. */
static void systemd_restarts_web(void)
{
        fx_make_cgroup_at("aside", "/web.service", "100000000\n");
        fx_put("aside/web.service/memory.current", "95000000\n");
        char *kept = fx_slurp("runtime/web.service.MemoryHigh");
        if (*kept)
                fx_putf("aside/web.service/memory.high", "%s\n", fx_copy(kept));
        char cmd[900];
        snprintf(cmd, sizeof cmd, "rm -rf '%s/" WEB "' && mv '%s/aside/web.service' '%s/" WEB "'", fx_dir, fx_dir,
                 fx_dir);
        cr_assert_eq(system(cmd), 0);
}

static unsigned count_in(const char *file, const char *needle)
{
        return fx_count(fx_slurp(file), needle);
}

/* Waits until file holds at least n copies of needle. */
static bool wait_count(const char *file, const char *needle, unsigned n, int timeout_ms)
{
        timeout_ms *= fx_scale();
        for (int t = 0; t < timeout_ms; t += 50) {
                if (count_in(file, needle) >= n)
                        return true;
                usleep(50 * 1000);
        }
        return false;
}

static const char *POLICY_COOLDOWN =
        "[Match]\nUnit=web.service\n"
        "[Pressure]\nBrake=90%\nBrakeRelief=50%\nHysteresis=1s\nSampleInterval=100ms\n"
        "[Actions]\nLadder=restart\n"
        "[Restart]\nSettle=300ms\nCooldown=5min\nBurst=10\nInterval=10min\n";

/* Pressure on web.service (high events a sample apart) until the log holds n copies of needle or time is
 * up. */
static bool pressure_until(const char *file, const char *needle, unsigned n, unsigned *high, int ms)
{
        for (int t = 0; t < ms * fx_scale(); t += 200) {
                fx_events("/system.slice/web.service", (*high)++);
                usleep(200 * 1000);
                if (count_in(file, needle) >= n)
                        return true;
        }
        return false;
}

Test(units, restarted_unit_keeps_its_brake_and_its_cooldown)
{
        bus_start(NULL);
        fx_put(WEB "/memory.current", "95000000\n");
        fx_start(&(FxRun) { .policy = POLICY_COOLDOWN, .bus_address = bus_address });
        cr_assert(wait_count("systemd.log", "SetUnitProperties web.service MemoryHigh=" BRAKE, 1, 3000),
                  "brake not set through systemd: %s", fx_slurp("systemd.log"));
        /* (the record comes with systemd's answer, a moment after the call) */
        cr_assert_not_null(fx_wait_log("BRAKE_VIA=systemd", 3000), "%s", fx_slurp("daemon.log"));

        unsigned high = 1;
        cr_assert(pressure_until("systemd.log", "RestartUnit web.service", 1, &high, 3000), "no restart: %s",
                  fx_slurp("daemon.log"));
        /* The restart relieved the brake first (the service's stop must not be throttled). */
        cr_assert(strstr(fx_slurp("daemon.log"), "BRAKE=relieved"), "%s", fx_slurp("daemon.log"));
        systemd_restarts_web();
        usleep(300 * 1000 * fx_scale()); /* the new guard */

        /* Pressure on the new cgroup: [Restart] Cooldown=5min holds, across the new cgroup. */
        pressure_until("systemd.log", "RestartUnit web.service", 2, &high, 2500);
        cr_assert_eq(count_in("systemd.log", "RestartUnit web.service"), 1,
                     "restarted again within its 5 min cooldown:\n%s", fx_slurp("daemon.log"));
        cr_assert_eq(count_in("daemon.log", "MESSAGE_ID=cc09ac76392d4205bf123cd640dcc1a6"), 2,
                     "the new cgroup's pressure was not seen:\n%s", fx_slurp("daemon.log"));

        /* The new cgroup has the brake (systemd carried it): memwarden's, not the operator's. */
        char *log = fx_wait_log("BRAKE=adopted", 3000);
        cr_assert_not_null(log, "the carried brake was not taken back");
        cr_assert(strstr(log, "BRAKE_FROM=previous-cgroup"), "%s", log);
        cr_assert_eq(fx_count(log, "BRAKE=set BRAKE_BYTES="), 1, "a second brake on top of the carried one:\n%s", log);
        char *st = fx_control("status json\n");
        cr_assert(strstr(st, "\"brake\":" BRAKE), "the new guard does not know the brake: %s", st);

        /* At stop the brake goes, through systemd (which would otherwise keep it for the unit for good). */
        int status = fx_stop();
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
        cr_assert(strstr(fx_slurp("systemd.log"), "SetUnitProperties web.service MemoryHigh=max"),
                  "brake not restored at stop: %s", fx_slurp("systemd.log"));
        cr_assert_str_eq(fx_slurp(WEB "/memory.high"), "max");
        cr_assert_str_eq(fx_slurp("runtime/web.service.MemoryHigh"), "max");
}

static const char *POLICY_AGAIN =
        "[Match]\nUnit=web.service\n"
        "[Pressure]\nBrake=90%\nBrakeRelief=50%\nHysteresis=1s\nSampleInterval=100ms\n"
        "[Actions]\nLadder=restart\n"
        "[Restart]\nSettle=300ms\nCooldown=1s\nBurst=10\nInterval=10min\n";

Test(units, second_restart_relieves_the_carried_brake)
{
        bus_start(NULL);
        fx_put(WEB "/memory.current", "95000000\n");
        fx_start(&(FxRun) { .policy = POLICY_AGAIN, .bus_address = bus_address });
        cr_assert(wait_count("systemd.log", "MemoryHigh=" BRAKE, 1, 3000), "%s", fx_slurp("systemd.log"));
        unsigned high = 1;
        cr_assert(pressure_until("systemd.log", "RestartUnit web.service", 1, &high, 3000));
        systemd_restarts_web();
        cr_assert_not_null(fx_wait_log("BRAKE=adopted", 3000));
        /* The second restart gets its relief as the first did: the brake is ours. */
        cr_assert(pressure_until("systemd.log", "RestartUnit web.service", 2, &high, 4000), "no second restart:\n%s",
                  fx_slurp("daemon.log"));
        cr_assert(wait_count("daemon.log", "BRAKE=relieved", 2, 2000), "no relief for the second restart:\n%s",
                  fx_slurp("daemon.log"));
        cr_assert_null(strstr(fx_slurp("daemon.log"), "BRAKE=left"), "%s", fx_slurp("daemon.log"));
        systemd_restarts_web();
        cr_assert(wait_count("daemon.log", "BRAKE=adopted", 2, 3000), "%s", fx_slurp("daemon.log"));
        fx_stop();
        cr_assert_str_eq(fx_slurp("runtime/web.service.MemoryHigh"), "max", "brake left behind in systemd");
        cr_assert_str_eq(fx_slurp(WEB "/memory.high"), "max");
}

/* web.service braked and restarted by the fake systemd, then stopped and not started again (a failed
 * start, RestartSec= still running): no cgroup, our brake still in its MemoryHigh=. */
static void braked_unit_loses_its_cgroup(void)
{
        bus_start(NULL);
        fx_put(WEB "/memory.current", "95000000\n");
        fx_start(&(FxRun) { .policy = POLICY_COOLDOWN, .bus_address = bus_address });
        unsigned high = 1;
        cr_assert(pressure_until("systemd.log", "RestartUnit web.service", 1, &high, 3000));
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s/" WEB "'", fx_dir);
        cr_assert_eq(system(cmd), 0);
        usleep(300 * 1000 * fx_scale());
        cr_assert_str_eq(fx_slurp("runtime/web.service.MemoryHigh"), BRAKE);
}

Test(units, brake_of_a_unit_without_a_cgroup_is_restored_at_stop)
{
        braked_unit_loses_its_cgroup();
        fx_stop();
        cr_assert_str_eq(fx_slurp("runtime/web.service.MemoryHigh"), "max",
                         "the unit would start with our brake: %s", fx_slurp("daemon.log"));
        cr_assert(strstr(fx_slurp("daemon.log"), "BRAKE_FROM=unit-record"), "%s", fx_slurp("daemon.log"));
}

/* The same, but the operator set MemoryHigh= meanwhile (`systemctl set-property --runtime web.service
 * MemoryHigh=50000000`): at stop, theirs is left alone, as brake_restore() leaves a memory.high someone else
 * wrote. */
Test(units, operator_memory_high_of_a_unit_without_a_cgroup_is_left_at_stop)
{
        braked_unit_loses_its_cgroup();
        fx_put("runtime/web.service.MemoryHigh", "50000000");
        fx_stop();
        cr_assert(strstr(fx_slurp("systemd.log"), "Get web.service MemoryHigh"), "MemoryHigh= not read back: %s",
                  fx_slurp("systemd.log"));
        cr_assert_null(strstr(fx_slurp("systemd.log"), "SetUnitProperties web.service MemoryHigh=max"),
                       "the operator's MemoryHigh= was overwritten at stop: %s", fx_slurp("systemd.log"));
        cr_assert_str_eq(fx_slurp("runtime/web.service.MemoryHigh"), "50000000", "%s", fx_slurp("daemon.log"));
        char *log = fx_slurp("daemon.log");
        cr_assert(strstr(log, "BRAKE=left") && strstr(log, "BRAKE_FROM=unit-record"), "%s", log);
        cr_assert_null(strstr(log, "BRAKE=restored"), "%s", log);
}

Test(units, daemon_restart_takes_back_the_brake_of_a_restarted_unit)
{
        bus_start(NULL);
        fx_start(&(FxRun) { .policy = POLICY_COOLDOWN, .bus_address = bus_address });
        cr_assert(wait_count("systemd.log", "MemoryHigh=" BRAKE, 1, 3000));
        usleep(300 * 1000 * fx_scale()); /* the state is saved once the loop is idle */
        cr_assert(strstr(fx_slurp("state/state"), "via=systemd"), "%s", fx_slurp("state/state"));
        fx_kill9();
        /* The unit restarted while no daemon ran: another inode, the brake carried by systemd. */
        systemd_restarts_web();
        fx_start(&(FxRun) { .policy = POLICY_COOLDOWN, .bus_address = bus_address });
        char *log = fx_wait_log("BRAKE=adopted", 3000);
        cr_assert_not_null(log, "the brake of the previous instance was taken for the operator's");
        cr_assert_null(strstr(log, "BRAKE=set BRAKE_BYTES="), "%s", log);
        fx_stop();
        cr_assert_str_eq(fx_slurp("runtime/web.service.MemoryHigh"), "max", "brake left behind");
}

static const char *POLICY_BURST =
        "[Match]\nUnit=web.service\n"
        "[Pressure]\nHysteresis=1s\nSampleInterval=100ms\n"
        "[Actions]\nLadder=restart\n"
        "[Restart]\nSettle=300ms\nCooldown=1s\nBurst=1\nInterval=10min\n";

Test(units, restart_rate_limit_survives_a_daemon_restart)
{
        bus_start(NULL);
        fx_start(&(FxRun) { .policy = POLICY_BURST, .bus_address = bus_address });
        unsigned high = 1;
        cr_assert(pressure_until("systemd.log", "RestartUnit web.service", 1, &high, 3000));
        usleep(300 * 1000 * fx_scale());
        char *st = fx_slurp("state/state");
        cr_assert(strstr(st, "unit web.service ") && strstr(st, " restarts="), "rate limit not saved: %s", st);
        fx_stop();
        systemd_restarts_web();

        fx_start(&(FxRun) { .policy = POLICY_BURST, .bus_address = bus_address });
        cr_assert(pressure_until("daemon.log", "ACTION=restart", 1, &high, 3000), "no restart attempt after the "
                  "daemon restart:\n%s", fx_slurp("daemon.log"));
        char *log = fx_wait_log("RESULT=rate-limited", 2000);
        cr_assert_not_null(log, "the restart was not rate-limited");
        cr_assert_eq(count_in("systemd.log", "RestartUnit web.service"), 1,
                     "Burst=1 per 10 min, restarted twice across a daemon restart:\n%s", log);
}

/* Nothing waits for systemd (daemon/brake.c): a PID 1 that takes 2 s to answer SetUnitProperties does not
 * stall the loop; the outcome and its record come with the answer. */

static const char *POLICY_NEW =
        "[Match]\nUnit=new-*.service\n"
        "[Pressure]\nBrake=90%\nHysteresis=1s\nSampleInterval=100ms\n"
        "[Actions]\nLadder=alert reclaim\n";

/* A new unit's cgroup: made aside, moved into place (the daemon sees it whole, as cgroupfs shows it). */
static void new_unit(void)
{
        fx_make_cgroup_at("aside", "/new-a.service", "100000000\n");
        char cmd[600];
        snprintf(cmd, sizeof cmd, "mv '%s/aside/new-a.service' '%s/cg/system.slice/new-a.service'", fx_dir, fx_dir);
        cr_assert_eq(system(cmd), 0);
}

static long long now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

Test(units, a_slow_systemd_does_not_stall_the_loop)
{
        bus_start("2000");
        fx_start(&(FxRun) { .policy = POLICY_NEW, .bus_address = bus_address });
        new_unit();
        cr_assert(wait_count("systemd.log", "SetUnitProperties new-a.service MemoryHigh=" BRAKE, 1, 3000),
                  "no brake call: %s", fx_slurp("daemon.log"));
        long long t0 = now_ms();
        char *st = fx_copy(fx_control("status\n"));
        long long t1 = now_ms();
        bool answered = strstr(fx_slurp("systemd.log"), "reply SetUnitProperties new-a.service");
        cr_log_info("status took %lld ms while systemd's answer was %s", t1 - t0, answered ? "in" : "pending");
        cr_assert(strstr(st, "guarding 1 cgroups"), "%s", st);
        cr_assert_not(answered, "systemd answered before the status did (the loop waited for it?): %lld ms",
                      t1 - t0);
        cr_assert_lt(t1 - t0, 1000, "status took %lld ms while a brake call to systemd was in flight", t1 - t0);

        /* The outcome comes with the answer: set through systemd. */
        char *log = fx_wait_log("BRAKE_VIA=systemd", 4000);
        cr_assert_not_null(log, "no brake record after systemd's answer");
        cr_assert(strstr(log, "BRAKE=set"), "%s", log);
        cr_assert_str_eq(fx_slurp("cg/system.slice/new-a.service/memory.high"), BRAKE);
        /* Restored at stop (synchronously: the loop is over), through systemd. */
        fx_stop();
        cr_assert_str_eq(fx_slurp("runtime/new-a.service.MemoryHigh"), "max", "%s", fx_slurp("daemon.log"));
}

/* The brake holds from the moment it is set, not from systemd's answer. Seen in the project's CI (Debian's 6.1
 * kernel under TCG): systemd answered SetUnitProperties(MemoryHigh=) only at the call's 25 s timeout, the
 * unit's memory.high stayed "max" meanwhile, and a grower went from the brake's level through memory.max
 * into the kernel OOM killer before memwardend was woken. cgroupfs is written at once, systemd told after. */
Test(units, the_brake_holds_before_systemd_answers)
{
        late_writes = true; /* the busy PID 1 writes memory.high only as it answers, as systemd does */
        bus_start("3000");
        late_writes = false;
        fx_start(&(FxRun) { .policy = POLICY_NEW, .bus_address = bus_address });
        new_unit();
        cr_assert(wait_count("systemd.log", "SetUnitProperties new-a.service MemoryHigh=" BRAKE, 1, 3000),
                  "no brake call: %s", fx_slurp("daemon.log"));
        cr_assert_null(strstr(fx_slurp("systemd.log"), "reply SetUnitProperties new-a.service"),
                       "systemd answered already: the test needs a slow one: %s", fx_slurp("systemd.log"));
        cr_assert_str_eq(fx_slurp("cg/system.slice/new-a.service/memory.high"), BRAKE,
                         "memory.high while systemd has not answered the brake call: %s", fx_slurp("daemon.log"));
        /* systemd is still told, and its answer is the record. */
        char *log = fx_wait_log("BRAKE_VIA=systemd", 5000);
        cr_assert_not_null(log, "no brake record after systemd's answer: %s", fx_slurp("daemon.log"));
        cr_assert_str_eq(fx_slurp("runtime/new-a.service.MemoryHigh"), BRAKE, "%s", fx_slurp("systemd.log"));
        fx_stop();
        cr_assert_str_eq(fx_slurp("runtime/new-a.service.MemoryHigh"), "max", "%s", fx_slurp("daemon.log"));
        cr_assert_str_eq(fx_slurp("cg/system.slice/new-a.service/memory.high"), "max");
}

Test(units, stop_while_the_brake_call_is_in_flight_leaves_no_brake)
{
        bus_start("1500");
        fx_start(&(FxRun) { .policy = POLICY_NEW, .bus_address = bus_address });
        new_unit();
        cr_assert(wait_count("systemd.log", "SetUnitProperties new-a.service MemoryHigh=" BRAKE, 1, 3000));
        cr_assert_null(strstr(fx_slurp("systemd.log"), "reply"));
        /* SIGTERM before systemd answered: the restore goes after the set, in order. */
        int status = fx_stop();
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
        cr_assert(wait_count("systemd.log", "SetUnitProperties new-a.service MemoryHigh=max", 1, 1000), "%s",
                  fx_slurp("systemd.log"));
        cr_assert_str_eq(fx_slurp("runtime/new-a.service.MemoryHigh"), "max");
        cr_assert_str_eq(fx_slurp("cg/system.slice/new-a.service/memory.high"), "max");
}

Test(units, systemd_refuses_the_brake_cgroupfs_instead)
{
        refuse_unit = "new-a.service";
        bus_start("300");
        refuse_unit = NULL;
        fx_start(&(FxRun) { .policy = POLICY_NEW, .bus_address = bus_address });
        new_unit();
        char *log = fx_wait_log("BRAKE=set", 3000);
        cr_assert_not_null(log);
        cr_assert(strstr(log, "BRAKE_VIA=cgroupfs"), "%s", log);
        cr_assert(strstr(fx_slurp("systemd.log"), "SetUnitProperties new-a.service refused"), "%s",
                  fx_slurp("systemd.log"));
        cr_assert_str_eq(fx_slurp("cg/system.slice/new-a.service/memory.high"), BRAKE);
        fx_stop();
        /* Restored the way it was set: cgroupfs ("max" over the start of the old value in a regular file). */
        cr_assert_eq(strncmp(fx_slurp("cg/system.slice/new-a.service/memory.high"), "max", 3), 0, "%s",
                     fx_slurp("daemon.log"));
        cr_assert_null(strstr(fx_slurp("systemd.log"), "MemoryHigh=max"), "%s", fx_slurp("systemd.log"));
}

static const char *POLICY_RESTART_KILL =
        "[Match]\nUnit=web.service\n"
        "[Pressure]\nBrake=90%\nHysteresis=1s\nSampleInterval=100ms\n"
        "[Actions]\nLadder=restart kill\n"
        "[Restart]\nSettle=500ms\nCooldown=5min\n[Kill]\nSettle=500ms\n";

Test(units, restart_cooling_down_hands_over_to_kill_on_the_new_cgroup)
{
        bus_start(NULL);
        fx_put(WEB "/memory.current", "95000000\n");
        fx_start(&(FxRun) { .policy = POLICY_RESTART_KILL, .bus_address = bus_address });
        unsigned high = 1;
        cr_assert(pressure_until("systemd.log", "RestartUnit web.service", 1, &high, 3000));
        systemd_restarts_web();
        cr_assert_not_null(fx_wait_log("BRAKE=adopted", 3000));
        /* The new cgroup under pressure: restart is cooling down (counted as tried), kill comes next. */
        cr_assert(pressure_until("daemon.log", "ACTION=kill", 1, &high, 4000), "no kill on the new cgroup:\n%s",
                  fx_slurp("daemon.log"));
        cr_assert_eq(count_in("systemd.log", "RestartUnit web.service"), 1, "%s", fx_slurp("daemon.log"));
}

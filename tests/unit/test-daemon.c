/* SPDX-License-Identifier: MIT */
/* The real memwardend binary against a fixture cgroup tree of regular files in a temp dir: what can be
 * shown without a cgroup v2 kernel. inotify works on any filesystem, so discovery of new cgroups and
 * memory.events changes are real; PSI triggers are not (regular files cannot be polled for EPOLLPRI):
 * those are covered in the VM (tests/integration). Records go to stderr as one line each. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef BUILD_ROOT
#error BUILD_ROOT
#endif

static char dir[64];

/* Under a wrapper such as valgrind everything is slower. */
static int timeout_scale(void)
{
        return getenv("MEMWARDEN_DAEMON_WRAPPER") ? 10 : 1;
}

static pid_t daemon_pid;

static void put(const char *rel, const char *content)
{
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, rel);
        FILE *f = fopen(p, "we");
        cr_assert_not_null(f, "open %s", p);
        fputs(content, f);
        fclose(f);
}

static char *slurp(const char *rel)
{
        static char buf[1 << 16];
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, rel);
        FILE *f = fopen(p, "re");
        if (!f)
                return NULL;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = 0;
        fclose(f);
        return buf;
}

static void make_cgroup(const char *rel, const char *max)
{
        char p[512];
        snprintf(p, sizeof p, "%s/cg%s", dir, rel);
        cr_assert_eq(mkdir(p, 0755), 0, "mkdir %s: %s", p, strerror(errno));
        char f[600];
#define PUT(name, val)                                                                                      \
        snprintf(f, sizeof f, "cg%s/%s", rel, name);                                                        \
        put(f, val)
        PUT("memory.current", "50000000\n");
        PUT("memory.max", max);
        PUT("memory.high", "max\n");
        PUT("memory.low", "0\n");
        PUT("memory.min", "0\n");
        PUT("memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n");
        PUT("memory.pressure", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
                               "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
        PUT("memory.stat", "anon 30000000\nfile 20000000\nshmem 1000\n");
        PUT("memory.reclaim", "");
        PUT("cgroup.kill", "");
        PUT("cgroup.procs", "");
#undef PUT
}

/* Waits until the daemon's stderr log contains needle; returns the log. */
static char *wait_log(const char *needle, int timeout_ms)
{
        timeout_ms *= timeout_scale();
        for (int t = 0; t < timeout_ms; t += 50) {
                char *s = slurp("daemon.log");
                if (s && strstr(s, needle)) {
                        /* slurp()'s buffer is reused by its next call: hand out a copy. */
                        static char copy[1 << 16];
                        strcpy(copy, s);
                        return copy;
                }
                usleep(50 * 1000);
        }
        char *s = slurp("daemon.log");
        cr_log_error("daemon log:\n%s", s ? s : "(none)");
        return NULL;
}

/* $MEMWARDEN_DAEMON_WRAPPER (e.g. "valgrind --error-exitcode=99 --leak-check=full") runs the daemon
 * under a tool; teardown then checks its exit status. */

_Noreturn static void exec_daemon(const char *root, const char *sock, const char *conf, const char *pol)
{
        const char *w = getenv("MEMWARDEN_DAEMON_WRAPPER");
        char *argv[32];
        int n = 0;
        char *copy = w ? strdup(w) : NULL;
        for (char *t = copy ? strtok(copy, " ") : NULL; t && n < 20; t = strtok(NULL, " "))
                argv[n++] = t;
        argv[n++] = (char *) BUILD_ROOT "/memwardend";
        const char *rest[] = { "--cgroup-root", root, "--control-socket", sock, "-c", conf, "-p", pol,
                               "--log-target", "stderr", NULL };
        for (size_t i = 0; rest[i]; i++)
                argv[n++] = (char *) rest[i];
        argv[n] = NULL;
        execvp(argv[0], argv);
        _exit(127);
}

static void start_daemon(const char *policy)
{
        char p[512];
        put("pol/test.conf", policy);
        /* StateDirectory= of its own: the saved state of one test must not reach the next (daemon/state.h). */
        snprintf(p, sizeof p, "[Daemon]\nRateLimitBurst=100\nStateDirectory=%s/state\n", dir);
        put("main.conf", p);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                snprintf(p, sizeof p, "%s/daemon.log", dir);
                int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                dup2(fd, 2);
                dup2(fd, 1);
                char root[300], pol[300], conf[300], sock[300];
                snprintf(root, sizeof root, "%s/cg", dir);
                snprintf(pol, sizeof pol, "%s/pol", dir);
                snprintf(conf, sizeof conf, "%s/main.conf", dir);
                snprintf(sock, sizeof sock, "%s/ctl", dir);
                unsetenv("JOURNAL_STREAM");
                unsetenv("NOTIFY_SOCKET");
                exec_daemon(root, sock, conf, pol);
        }
        daemon_pid = pid;
        cr_assert_not_null(wait_log("MESSAGE_ID=0f497462c8564442a45216908fdf07c9", 5000), "daemon did not start");
}

static int stop_daemon(void)
{
        int status = 0;
        if (daemon_pid <= 0)
                return -1;
        kill(daemon_pid, SIGTERM);
        waitpid(daemon_pid, &status, 0);
        daemon_pid = 0;
        return status;
}

static char *control(const char *req)
{
        static char buf[1 << 16];
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s/ctl", dir);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cr_assert_geq(fd, 0);
        cr_assert_eq(connect(fd, (struct sockaddr *) &sa, sizeof sa), 0, "connect: %s", strerror(errno));
        cr_assert_gt(write(fd, req, strlen(req)), 0);
        size_t n = 0;
        ssize_t k;
        while ((k = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
                n += (size_t) k;
        buf[n] = 0;
        close(fd);
        return buf;
}

static void setup(void)
{
        snprintf(dir, sizeof dir, "/tmp/memwarden-test-daemon-XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
        char p[512];
        snprintf(p, sizeof p, "%s/cg", dir);
        mkdir(p, 0755);
        snprintf(p, sizeof p, "%s/pol", dir);
        mkdir(p, 0755);
        make_cgroup("/system.slice", "max\n");
        make_cgroup("/system.slice/web.service", "100000000\n");
        make_cgroup("/system.slice/other.service", "100000000\n");
}

static void teardown(void)
{
        int status = stop_daemon();
        /* Under valgrind: 99 = errors or leaks found. */
        if (getenv("MEMWARDEN_DAEMON_WRAPPER") && status >= 0)
                cr_expect(!(WIFEXITED(status) && WEXITSTATUS(status) == 99), "the daemon wrapper found errors:\n%s",
                        slurp("daemon.log"));
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        (void) system(cmd);
}

TestSuite(daemon, .init = setup, .fini = teardown, .timeout = 60);

static const char *POLICY =
        "[Match]\nUnit=web.service new-*.service\n"
        "[Pressure]\nBrake=90%\nHysteresis=1s\nSampleInterval=200ms\n"
        "[Actions]\nLadder=alert reclaim kill\n"
        "[Alert]\nSettle=500ms\n[Reclaim]\nSettle=500ms\nAmount=10%\n[Kill]\nSettle=1s\n";

Test(daemon, guards_matching_cgroups_and_sets_the_brake)
{
        start_daemon(POLICY);
        char *st = control("status json\n");
        cr_assert(strstr(st, "\"cgroup\":\"/system.slice/web.service\""), "status: %s", st);
        cr_assert_null(strstr(st, "other.service"), "unmatched cgroup guarded: %s", st);
        cr_assert(strstr(st, "\"guarded\":1"), "%s", st);
        /* 90% of 100000000, rounded down to a page. */
        char *high = slurp("cg/system.slice/web.service/memory.high");
        cr_assert_str_eq(high, "89997312", "brake: %s", high);
        cr_assert(strstr(slurp("daemon.log"), "BRAKE=set"));

        /* SIGTERM restores the brake. */
        int status = stop_daemon();
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
        /* A fixture is a regular file: "max" overwrites the start of the old value (cgroupfs replaces). */
        cr_assert_eq(strncmp(slurp("cg/system.slice/web.service/memory.high"), "max", 3), 0, "not restored");
        cr_assert(strstr(slurp("daemon.log"), "BRAKE=restored"));
}

Test(daemon, high_event_climbs_the_ladder_and_reclaims)
{
        start_daemon(POLICY);
        put("cg/system.slice/web.service/memory.events",
                "low 0\nhigh 7\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n");
        char *log = wait_log("MESSAGE_ID=cc09ac76392d4205bf123cd640dcc1a6", 3000);
        cr_assert_not_null(log, "no pressure record");
        cr_assert(strstr(log, "REASONS=high-event"), "%s", log);
        cr_assert(strstr(log, "EVENTS_HIGH_DELTA=7"), "%s", log);
        cr_assert(strstr(log, "UNIT=web.service"), "%s", log);
        cr_assert(strstr(log, "STAT_ANON=30000000"), "where the memory went: %s", log);

        /* Pressure persists (another high event after the alert's settle time): reclaim comes next. */
        usleep(600 * 1000 * timeout_scale());
        put("cg/system.slice/web.service/memory.events",
                "low 0\nhigh 9\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n");
        log = wait_log("ACTION=reclaim", 3000);
        cr_assert_not_null(log, "no reclaim");
        /* 10% of memory.current = 5000000 bytes written to memory.reclaim. */
        cr_assert_str_eq(slurp("cg/system.slice/web.service/memory.reclaim"), "5000000");
        cr_assert(strstr(log, "RECLAIM_REQUEST_BYTES=5000000"), "%s", log);

        /* No more signals: relief after the hysteresis. */
        cr_assert_not_null(wait_log("MESSAGE_ID=c45d22c01f94415eb5aab3c6cd52fc02", 4000), "no relief record");
        cr_assert_null(strstr(slurp("daemon.log"), "ACTION=kill"), "killed although relieved");
}

Test(daemon, oom_kill_counter_is_reported_and_restart_does_not_replay)
{
        put("cg/system.slice/web.service/memory.events",
                "low 0\nhigh 0\nmax 3\noom 2\noom_kill 2\noom_group_kill 0\n");
        start_daemon(POLICY);
        usleep(300 * 1000 * timeout_scale());
        /* Old counters at start-up are a baseline, not events. */
        cr_assert_null(strstr(slurp("daemon.log"), "MESSAGE_ID=fe022f9f3cd047d2bcbda2bb17ec3356"));
        put("cg/system.slice/web.service/memory.events",
                "low 0\nhigh 0\nmax 4\noom 3\noom_kill 3\noom_group_kill 0\n");
        char *log = wait_log("MESSAGE_ID=fe022f9f3cd047d2bcbda2bb17ec3356", 3000);
        cr_assert_not_null(log, "no OOM-kill record");
        cr_assert(strstr(log, "OOM_KILLS=1"), "%s", log);
}

Test(daemon, new_and_removed_cgroups_are_seen_without_polling)
{
        start_daemon(POLICY);
        /* Built aside and moved in, as a real cgroup appears with its files at once. */
        make_cgroup("/new-1.service", "200000000\n");
        char from[300], to[300];
        snprintf(from, sizeof from, "%s/cg/new-1.service", dir);
        snprintf(to, sizeof to, "%s/cg/system.slice/new-1.service", dir);
        cr_assert_eq(rename(from, to), 0);
        bool seen = false;
        for (int i = 0; i < 60 * timeout_scale() && !seen; i++) {
                seen = strstr(control("status\n"), "/system.slice/new-1.service") != NULL;
                if (!seen)
                        usleep(50 * 1000);
        }
        cr_assert(seen, "new cgroup not guarded: %s", control("status\n"));

        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s/cg/system.slice/new-1.service'", dir);
        cr_assert_eq(system(cmd), 0);
        bool gone = false;
        for (int i = 0; i < 60 * timeout_scale() && !gone; i++) {
                gone = strstr(control("status\n"), "new-1.service") == NULL;
                if (!gone)
                        usleep(50 * 1000);
        }
        cr_assert(gone, "removed cgroup still guarded");
}

Test(daemon, reload_with_a_broken_policy_keeps_the_old_one)
{
        start_daemon(POLICY);
        put("pol/zz-broken.conf", "[Match]\nUnit=x.service\n[Pressure]\nSomeTrigger=10 parsecs\n");
        char *reply = control("reload\n");
        cr_assert(strstr(reply, "error:"), "reply: %s", reply);
        cr_assert(strstr(reply, "zz-broken.conf:4"), "reply lacks file:line: %s", reply);
        char *log = wait_log("MESSAGE_ID=731a61ff7d8b4b13820062ed415dec13", 2000);
        cr_assert_not_null(log);
        cr_assert(strstr(log, "CONFIG_LINE=4"), "%s", log);
        cr_assert(strstr(control("status\n"), "/system.slice/web.service"), "old policy dropped");

        /* SIGHUP takes the same path. */
        kill(daemon_pid, SIGHUP);
        usleep(300 * 1000 * timeout_scale());
        cr_assert_eq(kill(daemon_pid, 0), 0, "daemon died on SIGHUP");
        cr_assert(strstr(control("status\n"), "/system.slice/web.service"));

        /* Fixed: the new policy set is in force. */
        put("pol/zz-broken.conf", "[Match]\nUnit=other.service\n[Actions]\nLadder=alert\n");
        reply = control("reload\n");
        cr_assert_str_eq(reply, "ok\n");
        char *st = control("status\n");
        cr_assert(strstr(st, "/system.slice/other.service"), "%s", st);
}

Test(daemon, refuses_to_start_with_a_broken_policy)
{
        put("pol/bad.conf", "[Match]\nUnit=nginx\n");
        put("main.conf", "");
        char cmd[1200];
        snprintf(cmd, sizeof cmd,
                "%s/memwardend --cgroup-root %s/cg --control-socket %s/ctl2 -c %s/main.conf -p %s/pol "
                "--log-target stderr 2>%s/start.log",
                BUILD_ROOT, dir, dir, dir, dir, dir);
        int status = system(cmd);
        cr_assert(WIFEXITED(status));
        cr_assert_eq(WEXITSTATUS(status), 6, "exit status %d, want 6 (configuration rejected)", WEXITSTATUS(status));
        char *log = slurp("start.log");
        cr_assert(strstr(log, "bad.conf:2"), "no file:line: %s", log);
}

Test(daemon, dry_run_changes_nothing)
{
        put("pol/test.conf", POLICY);
        char conf_text[300];
        snprintf(conf_text, sizeof conf_text, "[Daemon]\nDryRun=yes\nStateDirectory=%s/state\n", dir);
        put("main.conf", conf_text);
        pid_t pid = fork();
        if (pid == 0) {
                char p[512], root[300], pol[300], conf[300], sock[300];
                snprintf(p, sizeof p, "%s/daemon.log", dir);
                int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                dup2(fd, 2);
                snprintf(root, sizeof root, "%s/cg", dir);
                snprintf(pol, sizeof pol, "%s/pol", dir);
                snprintf(conf, sizeof conf, "%s/main.conf", dir);
                snprintf(sock, sizeof sock, "%s/ctl", dir);
                unsetenv("JOURNAL_STREAM");
                exec_daemon(root, sock, conf, pol);
        }
        daemon_pid = pid;
        cr_assert_not_null(wait_log("MESSAGE_ID=0f497462c8564442a45216908fdf07c9", 5000));
        cr_assert_str_eq(slurp("cg/system.slice/web.service/memory.high"), "max\n", "dry-run set a brake");
        cr_assert(strstr(slurp("daemon.log"), "would set a memory.high brake"));
        put("cg/system.slice/web.service/memory.events", "low 0\nhigh 7\nmax 0\noom 0\noom_kill 0\n");
        usleep(700 * 1000 * timeout_scale());
        put("cg/system.slice/web.service/memory.events", "low 0\nhigh 9\nmax 0\noom 0\noom_kill 0\n");
        char *log = wait_log("ACTION=reclaim", 3000);
        cr_assert_not_null(log);
        cr_assert(strstr(log, "RESULT=dry-run"), "%s", log);
        cr_assert_str_eq(slurp("cg/system.slice/web.service/memory.reclaim"), "", "dry-run reclaimed");
}

Test(daemon, hostile_cgroup_files_are_survived_and_named)
{
        make_cgroup("/system.slice/new-bad.service", "not-a-number\n");
        make_cgroup("/system.slice/new-trunc.service", "100000000\n");
        put("cg/system.slice/new-trunc.service/memory.current", "");
        make_cgroup("/system.slice/new-huge.service", "18446744073709551615\n");
        put("cg/system.slice/new-huge.service/memory.current", "99999999999999999999999\n");
        start_daemon(POLICY);
        char *st = control("status json\n");
        cr_assert(strstr(st, "\"cgroup\":\"/system.slice/new-bad.service\",\"unit\":\"new-bad.service\","
                             "\"policy\":\"test\",\"state\":\"unknown\""), "%s", st);
        cr_assert(strstr(st, "/system.slice/new-trunc.service\",\"unit\":\"new-trunc.service\",\"policy\":"
                             "\"test\",\"state\":\"unknown\""), "%s", st);
        cr_assert(strstr(st, "/system.slice/new-huge.service\",\"unit\":\"new-huge.service\",\"policy\":"
                             "\"test\",\"state\":\"unknown\""), "%s", st);
        /* The healthy one is unaffected. */
        cr_assert(strstr(st, "\"cgroup\":\"/system.slice/web.service\",\"unit\":\"web.service\",\"policy\":"
                             "\"test\",\"state\":\"calm\""), "%s", st);
        char *log = slurp("daemon.log");
        cr_assert(strstr(log, "/system.slice/new-bad.service: cannot read its memory state"), "%s", log);
        cr_assert(strstr(log, "/system.slice/new-trunc.service: cannot read its memory state"), "%s", log);

        /* Events on an unreadable cgroup change nothing and crash nothing; fixed files recover it. */
        put("cg/system.slice/new-bad.service/memory.events", "high 5\n");
        put("cg/system.slice/new-bad.service/memory.max", "100000000\n");
        put("cg/system.slice/new-bad.service/memory.events", "high 6\n");
        cr_assert_not_null(wait_log("new-bad.service: memory state readable again", 3000));
        cr_assert_eq(kill(daemon_pid, 0), 0, "daemon died");
}

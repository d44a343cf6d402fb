/* SPDX-License-Identifier: MIT */
/* The real memwardend on a fixture tree, when the world around it fails: no D-Bus / systemd, no journald,
 * the process chosen for a kill exits before it is signalled, hundreds of cgroups coming and going; and the
 * control socket refusing every acting request to a non-root peer. What needs a real kernel is in
 * tests/integration (test-crash-brakes.sh, test-churn-fds.sh). */
#include "daemon-fixture.h"

#include <grp.h>
#include <time.h>
#include <sys/prctl.h>

#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif

TestSuite(faults, .init = fx_setup, .fini = fx_teardown, .timeout = 120);

static const char *POLICY =
        "[Match]\nUnit=web.service\n"
        "[Pressure]\nBrake=90%\nHysteresis=1s\nSampleInterval=100ms\n"
        "[Actions]\nLadder=alert reclaim\n"
        "[Alert]\nSettle=300ms\n[Reclaim]\nSettle=300ms\nAmount=10%\n";

Test(faults, no_dbus_brake_goes_to_cgroupfs_and_the_daemon_works)
{
        /* No system bus (and on this host no /run/systemd/private either; where PID 1 is systemd the private
         * socket answers, and SetUnitProperties of a unit it does not know fails: cgroupfs again). */
        fx_start(&(FxRun) { .policy = POLICY, .no_bus = true });
        char *log = fx_slurp("daemon.log");
        cr_assert(strstr(log, "BRAKE=set"), "%s", log);
        cr_assert(strstr(log, "BRAKE_VIA=cgroupfs"), "%s", log);
        cr_assert_str_eq(fx_slurp("cg/system.slice/web.service/memory.high"), "89997312");
        fx_events("/system.slice/web.service", 3);
        usleep(400 * 1000 * fx_scale());
        fx_events("/system.slice/web.service", 5);
        log = fx_wait_log("ACTION=reclaim", 3000);
        cr_assert_not_null(log, "the ladder stopped without D-Bus");
        cr_assert_eq(fx_stop(), 0);
        cr_assert(strstr(fx_slurp("daemon.log"), "BRAKE=restored"));
}

Test(faults, journal_unavailable_falls_back_to_stderr)
{
        /* --log-target journal with no journald listening (hidden in a mount namespace where one runs):
         * sd_journal_send() would drop everything silently (ENOENT); records and log lines go to stderr
         * instead, nothing crashes. */
        fx_make_cgroup("/system.slice/broken.service", "not-a-number\n");
        fx_start(&(FxRun) {
                .policy = "[Match]\nUnit=web.service broken.service\n[Pressure]\nBrake=90%\n[Actions]\nLadder=alert\n",
                .log_target = "journal",
                .hide_journal = true,
        });
        char *log = fx_slurp("daemon.log");
        cr_assert(strstr(log, "journald is not listening"), "%s", log);
        cr_assert_eq(fx_count(log, "journald is not listening"), 1, "said more than once:\n%s", log);
        cr_assert(strstr(log, "| MESSAGE_ID=0f497462c8564442a45216908fdf07c9"), "records not on stderr:\n%s", log);
        /* A plain log line (util/log.c) too. */
        cr_assert(strstr(log, "/system.slice/broken.service: cannot read its memory state"), "%s", log);
        fx_events("/system.slice/web.service", 3);
        cr_assert_not_null(fx_wait_log("memory pressure (high-event)", 3000));
        cr_assert_eq(kill(fx_pid, 0), 0, "daemon died");
        int st = fx_stop();
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
}

/* A fake /proc entry for pid: status with VmRSS, and cgroup "0::cgpath". */
static void fake_proc(pid_t pid, unsigned rss_kb, const char *cgpath)
{
        char p[300];
        snprintf(p, sizeof p, "%s/proc/%d", fx_dir, (int) pid);
        cr_assert_eq(mkdir(p, 0755), 0);
        snprintf(p, sizeof p, "proc/%d/status", (int) pid);
        fx_putf(p, "Name:\tworker\nState:\tS (sleeping)\nTgid:\t%d\nPid:\t%d\nVmSize:\t%u kB\nVmRSS:\t%u kB\n"
                   "SigBlk:\t0000000000000000\nSigCgt:\t0000000000000000\n",
                (int) pid, (int) pid, rss_kb * 2, rss_kb);
        snprintf(p, sizeof p, "proc/%d/cgroup", (int) pid);
        fx_putf(p, "0::%s\n", cgpath);
        /* The process picker ranks by statm (pages): resident = rss, nothing shared. */
        snprintf(p, sizeof p, "proc/%d/statm", (int) pid);
        fx_putf(p, "%u %u 0 1 0 %u 0\n", rss_kb / 2, rss_kb / 4, rss_kb / 4);
}

static const char *KILL_POLICY = "[Match]\nUnit=web.service\n"
                                 "[Pressure]\nHysteresis=5s\nSampleInterval=100ms\n"
                                 "[Actions]\nLadder=kill\n[Kill]\nMode=largest\nSettle=1s\nCooldown=1s\n";

/* A PID that cannot be running: beyond the kernel's pid_max (4194304 at most). It stands for a process that
 * was listed in cgroup.procs and chosen, and exited before it could be held: pidfd_open() says ESRCH, as for
 * a process that exited and was reaped (and no PID reuse can make the test kill a stranger). */
#define GONE_PID (4194304 + 4242)

Test(faults, kill_target_that_exited_is_reported_and_the_next_is_taken)
{
        /* A real child, listed after the larger one that is gone. */
        pid_t child = fork();
        cr_assert_geq(child, 0);
        if (child == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                for (;;)
                        pause();
        }
        fake_proc(GONE_PID, 900000, "/system.slice/web.service");
        fake_proc(child, 1000, "/system.slice/web.service");
        fx_putf("cg/system.slice/web.service/cgroup.procs", "%d\n%d\n", GONE_PID, (int) child);
        fx_put("cg/system.slice/web.service/memory.oom.group", "0\n");
        fx_start(&(FxRun) { .policy = KILL_POLICY, .proc_fixture = true });

        fx_events("/system.slice/web.service", 3);
        char needle[64];
        snprintf(needle, sizeof needle, "KILLED_PID=%d", (int) child);
        char *log = fx_wait_log(needle, 3000);
        cr_assert_not_null(log, "the next process was not taken");
        cr_assert(strstr(log, "ACTION=kill"), "%s", log);
        cr_assert(strstr(log, "RESULT=ok"), "%s", log);
        int status;
        cr_assert_eq(waitpid(child, &status, 0), child);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "status %d", status);

        /* Now only the gone one is listed: the kill fails with ESRCH, reported, and the daemon goes on. */
        fx_putf("cg/system.slice/web.service/cgroup.procs", "%d\n", GONE_PID);
        usleep(1200 * 1000 * fx_scale()); /* past the settle time: the last rung repeats */
        fx_events("/system.slice/web.service", 5);
        usleep(300 * 1000 * fx_scale());
        fx_events("/system.slice/web.service", 7);
        log = fx_wait_log("ERRNO=3", 4000);
        cr_assert_not_null(log, "no failed kill record");
        cr_assert(strstr(log, "RESULT=failed"), "%s", log);
        cr_assert(strstr(log, "KILL_TARGET=largest-process"), "%s", log);
        cr_assert_eq(kill(fx_pid, 0), 0, "daemon died");
        cr_assert(strstr(fx_control("status\n"), "web.service"), "daemon not answering");
}

Test(faults, churn_of_500_cgroups_logs_no_storm_and_leaks_no_fd)
{
        /* Matching cgroups come and go while guarded, many removed while the daemon is still setting them up
         * (ENOENT mid-way must be silent), some with broken files (reported once each, at debug for the
         * vanished). The log must stay bounded and the daemon's fd count flat. */
        fx_start(&(FxRun) {
                .policy = "[Match]\nUnit=web.service churn-*.service\n[Pressure]\nBrake=90%\n"
                          "[Actions]\nLadder=alert\n",
        });
        usleep(200 * 1000);
        (void) fx_control("status\n"); /* sd-event makes its timerfd on the first timer: count after it */
        size_t lines_before = fx_count(fx_slurp("daemon.log"), "\n");
        int fds_before = fx_count_fds(fx_pid);
        cr_assert_gt(fds_before, 0);

        char cmd[1200];
        for (int i = 0; i < 500; i++) {
                char rel[64];
                snprintf(rel, sizeof rel, "/churn-%d.service", i);
                fx_make_cgroup_at("aside", rel, "100000000\n");
                snprintf(cmd, sizeof cmd, "%s/aside/churn-%d.service", fx_dir, i);
                char to[300];
                snprintf(to, sizeof to, "%s/cg/system.slice/churn-%d.service", fx_dir, i);
                cr_assert_eq(rename(cmd, to), 0);
                if (i % 2 == 0) {
                        /* Gone at once: likely while the daemon sets up its guard. */
                        snprintf(cmd, sizeof cmd, "rm -rf '%s'", to);
                        cr_assert_eq(system(cmd), 0);
                }
        }
        snprintf(cmd, sizeof cmd, "rm -rf %s/cg/system.slice/churn-*", fx_dir);
        cr_assert_eq(system(cmd), 0);

        bool settled = false;
        for (int t = 0; t < 100 * fx_scale() && !settled; t++) {
                settled = strstr(fx_control("status json\n"), "\"guarded\":1,") != NULL;
                if (!settled)
                        usleep(100 * 1000);
        }
        cr_assert(settled, "stale guards: %.300s", fx_control("status json\n"));
        char *log = fx_copy(fx_slurp("daemon.log"));
        size_t lines = fx_count(log, "\n") - lines_before;
        unsigned brakes = fx_count(log, "BRAKE=set") - 1; /* web.service's at start-up */
        /* One brake record per cgroup that lived long enough to be braked; nothing else per cgroup. */
        cr_log_info("churn: %zu log lines for 500 cgroups, %u of them brake records", lines, brakes);
        cr_assert_leq(brakes, 500);
        cr_assert_leq(lines - brakes, 10, "error storm: %zu lines besides the brake records:\n%s", lines - brakes,
                log + strlen(log) - MIN(strlen(log), 3000));
        cr_assert_null(strstr(log, "cannot guard"), "%s", log);
        cr_assert_null(strstr(log, "cannot watch"), "%s", log);
        /* A leak stays; an fd the daemon holds for a moment (the state file being written) goes. */
        int fds_after = fx_count_fds(fx_pid);
        for (int t = 0; t < 40 * fx_scale() && fds_after != fds_before; t++) {
                usleep(50 * 1000);
                fds_after = fx_count_fds(fx_pid);
        }
        cr_assert_eq(fds_after, fds_before, "fds %d -> %d after 500 cgroups", fds_before, fds_after);
}

/* Security: the control socket as seen by an unprivileged user. */

static int as_nobody(const char *req, char *reply, size_t size)
{
        int pipefd[2];
        cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0 || getuid() != 65534)
                        _exit(77);
                struct sockaddr_un sa = { .sun_family = AF_UNIX };
                snprintf(sa.sun_path, sizeof sa.sun_path, "%s/ctl", fx_dir);
                int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                        _exit(2);
                if (write(fd, req, strlen(req)) < 0)
                        _exit(3);
                char buf[8192];
                ssize_t k;
                while ((k = read(fd, buf, sizeof buf)) > 0)
                        if (write(pipefd[1], buf, (size_t) k) < 0)
                                _exit(4);
                _exit(0);
        }
        close(pipefd[1]);
        size_t n = 0;
        ssize_t k;
        while (n < size - 1 && (k = read(pipefd[0], reply + n, size - 1 - n)) > 0)
                n += (size_t) k;
        reply[n] = 0;
        close(pipefd[0]);
        int status;
        waitpid(pid, &status, 0);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Test(faults, control_socket_refuses_acting_requests_to_non_root)
{
        if (geteuid() != 0)
                cr_skip_test("needs root to become uid 65534");
        fx_start(&(FxRun) { .policy = POLICY });
        cr_assert_eq(chmod(fx_dir, 0755), 0); /* mkdtemp made it 0700: let nobody reach the socket */
        char reply[8192];

        /* status is open to everyone (it shows what /sys/fs/cgroup shows). */
        int r = as_nobody("status\n", reply, sizeof reply);
        if (r == 77)
                cr_skip_test("cannot become uid 65534 here");
        cr_assert_eq(r, 0, "nobody could not talk to the socket (%d)", r);
        cr_assert(strstr(reply, "/system.slice/web.service"), "status refused to nobody: %s", reply);
        cr_assert_eq(as_nobody("status json\n", reply, sizeof reply), 0);
        cr_assert(strstr(reply, "\"guarded\":1"), "%s", reply);

        /* Everything that acts is refused, and nothing happens. */
        fx_put("pol/zz-new.conf", "[Match]\nUnit=other.service\n[Actions]\nLadder=alert\n");
        cr_assert_eq(as_nobody("reload\n", reply, sizeof reply), 0);
        cr_assert(strstr(reply, "permission denied"), "reload by nobody: %s", reply);
        cr_assert_null(strstr(fx_control("status\n"), "other.service"), "the reload happened anyway");

        /* Unknown or future verbs are not a way around it. */
        const char *others[] = { "trim /system.slice/web.service\n", "kill /system.slice/web.service\n",
                                 "reclaim /system.slice/web.service\n", "restart web.service\n",
                                 "release-brakes\n", "reload \n", "RELOAD\n" };
        for (size_t i = 0; i < sizeof others / sizeof *others; i++) {
                cr_assert_eq(as_nobody(others[i], reply, sizeof reply), 0);
                cr_assert(strncmp(reply, "error:", 6) == 0, "'%s' by nobody: %s", others[i], reply);
        }
        cr_assert_null(strstr(fx_control("status\n"), "other.service"));
        cr_assert_str_eq(fx_slurp("cg/system.slice/web.service/memory.high"), "89997312", "brake touched");

        /* root may. */
        cr_assert_str_eq(fx_control("reload\n"), "ok\n");
        cr_assert(strstr(fx_control("status\n"), "other.service"));
}

/* The control socket never blocks the loop: clients that ask for a large reply and never read it. */

#define MANY 1400

static int ctl_connect(void)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s/ctl", fx_dir);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cr_assert_geq(fd, 0);
        cr_assert_eq(connect(fd, (struct sockaddr *) &sa, sizeof sa), 0, "connect: %s", strerror(errno));
        return fd;
}

/* Everything until EOF, malloc'd; *ret_len its length. */
static char *ctl_read_all(int fd, size_t *ret_len)
{
        size_t n = 0, cap = 1 << 20;
        char *buf = malloc(cap);
        cr_assert_not_null(buf);
        ssize_t k;
        while ((k = read(fd, buf + n, cap - 1 - n)) > 0) {
                n += (size_t) k;
                if (n == cap - 1) {
                        cap *= 2;
                        buf = realloc(buf, cap);
                        cr_assert_not_null(buf);
                }
        }
        buf[n] = 0;
        *ret_len = n;
        return buf;
}

static char *ctl_ask(const char *req, size_t *ret_len)
{
        int fd = ctl_connect();
        cr_assert_eq(write(fd, req, strlen(req)), (ssize_t) strlen(req));
        char *r = ctl_read_all(fd, ret_len);
        close(fd);
        return r;
}

static bool status_json_complete(const char *s, size_t len)
{
        char want[64];
        snprintf(want, sizeof want, "\"guarded\":%d,", MANY + 1);
        return len > 3 && memcmp(s + len - 3, "]}\n", 3) == 0 && strstr(s, want);
}

Test(faults, control_clients_that_never_read_do_not_stall_the_loop)
{
        /* MANY guarded cgroups make `status json` larger than a socket buffer holds (~260 KB against ~210 KB). */
        fx_make_cgroup("/many", "max\n");
        for (int i = 0; i < MANY; i++) {
                char rel[64];
                snprintf(rel, sizeof rel, "/many/c%04d", i);
                fx_make_cgroup(rel, "100000000\n");
        }
        fx_start(&(FxRun) {
                .policy = "[Match]\nUnit=web.service\nCgroup=/many/c*\n"
                          "[Pressure]\nHysteresis=5s\nSampleInterval=100ms\n[Actions]\nLadder=alert\n",
                .start_ms = 60000, /* MANY guards to set up, on a loaded machine */
        });
        size_t len = 0;
        char *ref = NULL;
        for (int t = 0; t < 200 * fx_scale(); t++) {
                free(ref);
                ref = ctl_ask("status json\n", &len);
                if (status_json_complete(ref, len))
                        break;
                usleep(100 * 1000);
        }
        cr_assert(status_json_complete(ref, len), "not all guarded: %.300s", ref);
        cr_assert_gt(len, 240000, "status json is only %zu bytes: no test of a full socket buffer", len);
        free(ref);

        /* Eight clients ask and never read. Before, the daemon wrote each reply blocking with a 2 s
         * SO_SNDTIMEO: 16 s during which it served nothing, and each of them got a truncated reply. */
        enum { STUCK = 8 };
        int stuck[STUCK];
        char *got;
        for (int i = 0; i < STUCK; i++) {
                stuck[i] = ctl_connect();
                cr_assert_eq(write(stuck[i], "status json\n", 12), 12);
        }
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        usleep(300 * 1000);

        /* While they are stuck, the loop serves a kernel event... */
        fx_events("/system.slice/web.service", 3);
        char *log = fx_wait_log("CGROUP=/system.slice/web.service", 3000);
        cr_assert_not_null(log, "the pressure event was not served while clients were stuck");
        clock_gettime(CLOCK_MONOTONIC, &t1);
        cr_log_info("pressure event served %.2f s after %d clients asked for status json and did not read",
                    (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9, STUCK);

        /* ...the stuck ones were never given up on (within the idle timeout): read late, each reply is
         * whole (before, each got what the socket buffer held when the 2 s SO_SNDTIMEO expired)... */
        for (int i = 0; i < STUCK; i++) {
                got = ctl_read_all(stuck[i], &len);
                cr_assert(status_json_complete(got, len), "stuck client %d got %zu bytes", i, len);
                free(got);
                close(stuck[i]);
        }
        /* ...and a client that reads gets the whole reply. */
        got = ctl_ask("status json\n", &len);
        cr_assert(status_json_complete(got, len), "%zu bytes: %.200s", len, got);
        free(got);

        /* A bound on connections: 100 that never send a request hold at most 64 of the daemon's fds; the
         * rest are told "busy". Once they have stalled (1 s), a newcomer takes the place of the oldest. */
        usleep(200 * 1000);
        int fds_before = fx_count_fds(fx_pid);
        enum { IDLE = 100 };
        int idle[IDLE], busy = 0;
        for (int i = 0; i < IDLE; i++)
                idle[i] = ctl_connect();
        usleep(300 * 1000);
        for (int i = 0; i < IDLE; i++) {
                char b[64] = "";
                ssize_t k = recv(idle[i], b, sizeof b - 1, MSG_DONTWAIT);
                busy += k > 0 && strstr(b, "error: busy");
        }
        int fds_idle = fx_count_fds(fx_pid);
        cr_assert_leq(fds_idle, fds_before + 64, "%d fds before, %d with %d idle clients", fds_before, fds_idle,
                      IDLE);
        cr_assert_eq(busy, IDLE - 64, "%d of %d idle clients were told busy", busy, IDLE);
        usleep(1200 * 1000);
        got = ctl_ask("status json\n", &len);
        cr_assert(status_json_complete(got, len), "with 64 stalled connections: %zu bytes: %.200s", len, got);
        free(got);
        for (int i = 0; i < IDLE; i++)
                close(idle[i]);
        cr_assert_eq(kill(fx_pid, 0), 0, "daemon died");
}

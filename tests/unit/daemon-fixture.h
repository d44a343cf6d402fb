/* SPDX-License-Identifier: MIT */
/* tests/unit/daemon-fixture.h: the real memwardend against a fixture cgroup tree of regular files in a temp
 * dir, for test-daemon.c and the tests that restart, crash or starve the daemon. Header-only
 * (static functions): included by one test file each. Records go to stderr as one line each. */
#pragma once

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef _unused_
#define _unused_ __attribute__((unused))
#endif

#ifndef BUILD_ROOT
#error BUILD_ROOT
#endif

static char fx_dir[64];
static pid_t fx_pid;

static int fx_scale(void)
{
        return getenv("MEMWARDEN_DAEMON_WRAPPER") ? 10 : 1;
}

static void fx_put(const char *rel, const char *content)
{
        char p[512];
        snprintf(p, sizeof p, "%s/%s", fx_dir, rel);
        FILE *f = fopen(p, "we");
        cr_assert_not_null(f, "open %s: %s", p, strerror(errno));
        fputs(content, f);
        fclose(f);
}

static void fx_putf(const char *rel, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fx_putf(const char *rel, const char *fmt, ...)
{
        char buf[4096];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        fx_put(rel, buf);
}

/* The file's contents in a static buffer ("" when missing), reused by the next call. */
static char *fx_slurp(const char *rel)
{
        static char buf[1 << 18];
        char p[512];
        snprintf(p, sizeof p, "%s/%s", fx_dir, rel);
        buf[0] = 0;
        FILE *f = fopen(p, "re");
        if (!f)
                return buf;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = 0;
        fclose(f);
        return buf;
}

static char *fx_copy(const char *s)
{
        static char copy[1 << 18];
        snprintf(copy, sizeof copy, "%s", s);
        return copy;
}

/* A cgroup directory with the files the daemon reads, at dir/<base><rel>. */
static void fx_make_cgroup_at(const char *base, const char *rel, const char *max)
{
        char p[512], f[700];
        snprintf(p, sizeof p, "%s/%s%s", fx_dir, base, rel);
        cr_assert_eq(mkdir(p, 0755), 0, "mkdir %s: %s", p, strerror(errno));
#define FX_PUT(name, val)                                                                                   \
        snprintf(f, sizeof f, "%s%s/%s", base, rel, name);                                                 \
        fx_put(f, val)
        FX_PUT("memory.current", "50000000\n");
        FX_PUT("memory.max", max);
        FX_PUT("memory.high", "max\n");
        FX_PUT("memory.low", "0\n");
        FX_PUT("memory.min", "0\n");
        FX_PUT("memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n");
        FX_PUT("memory.pressure", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
                                  "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
        FX_PUT("memory.stat", "anon 30000000\nfile 20000000\nshmem 1000\n");
        FX_PUT("memory.reclaim", "");
        FX_PUT("cgroup.kill", "");
        FX_PUT("cgroup.procs", "");
#undef FX_PUT
}

static void fx_make_cgroup(const char *rel, const char *max)
{
        fx_make_cgroup_at("cg", rel, max);
}

_unused_ static void fx_events(const char *cgrel, unsigned high)
{
        char rel[300];
        snprintf(rel, sizeof rel, "cg%s/memory.events", cgrel);
        fx_putf(rel, "low 0\nhigh %u\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n", high);
}

/* Waits until the daemon's log contains needle; returns a copy of the log, or NULL (log printed). */
_unused_ static char *fx_wait_log(const char *needle, int timeout_ms)
{
        timeout_ms *= fx_scale();
        for (int t = 0; t < timeout_ms; t += 50) {
                char *s = fx_slurp("daemon.log");
                if (strstr(s, needle))
                        return fx_copy(s);
                usleep(50 * 1000);
        }
        cr_log_error("daemon log (waiting for %s):\n%s", needle, fx_slurp("daemon.log"));
        return NULL;
}

_unused_ static unsigned fx_count(const char *hay, const char *needle)
{
        unsigned n = 0;
        for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

/* Options for one daemon run. */
typedef struct FxRun {
        const char *policy;        /* pol/test.conf */
        const char *main_conf;     /* main.conf; StateDirectory= is added */
        const char *log_target;    /* default stderr */
        bool proc_fixture;         /* --proc-root dir/proc */
        bool host_fixture;         /* --host-root dir/host (container and pod names) */
        bool no_bus;               /* DBUS_SYSTEM_BUS_ADDRESS pointing nowhere */
        const char *bus_address;   /* DBUS_SYSTEM_BUS_ADDRESS (a private bus with a fake systemd) */
        bool hide_journal;         /* a private mount namespace without /run/systemd/journal */
        const char *wait_for;      /* default: the STARTED record */
        int start_ms;              /* how long to wait for it; default 5000 */
} FxRun;

_unused_ static void fx_start(const FxRun *run)
{
        char p[512];
        if (run->policy)
                fx_put("pol/test.conf", run->policy);
        fx_putf("main.conf", "[Daemon]\nRateLimitBurst=100\nStateDirectory=%s/state\n%s", fx_dir,
                run->main_conf ?: "");
        /* The previous run's log must not satisfy the wait below. */
        snprintf(p, sizeof p, "%s/daemon.log", fx_dir);
        (void) unlink(p);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                dup2(fd, 2);
                dup2(fd, 1);
                unsetenv("JOURNAL_STREAM");
                unsetenv("NOTIFY_SOCKET");
                if (run->no_bus)
                        setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/memwarden-test-bus", 1);
                if (run->bus_address)
                        setenv("DBUS_SYSTEM_BUS_ADDRESS", run->bus_address, 1);
                if (run->hide_journal && access("/run/systemd/journal/socket", F_OK) == 0) {
                        /* A host with journald: hide it in a mount namespace of our own. */
                        if (unshare(CLONE_NEWNS) < 0 ||
                            mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
                            mount("tmpfs", "/run/systemd/journal", "tmpfs", 0, NULL) < 0)
                                _exit(77);
                }
                char root[300], pol[300], conf[300], sock[300], proc[300];
                snprintf(root, sizeof root, "%s/cg", fx_dir);
                snprintf(pol, sizeof pol, "%s/pol", fx_dir);
                snprintf(conf, sizeof conf, "%s/main.conf", fx_dir);
                snprintf(sock, sizeof sock, "%s/ctl", fx_dir);
                snprintf(proc, sizeof proc, "%s/proc", fx_dir);
                char *argv[32];
                int n = 0;
                const char *w = getenv("MEMWARDEN_DAEMON_WRAPPER");
                char *copy = w ? strdup(w) : NULL;
                for (char *t = copy ? strtok(copy, " ") : NULL; t && n < 20; t = strtok(NULL, " "))
                        argv[n++] = t;
                argv[n++] = (char *) BUILD_ROOT "/memwardend";
                const char *rest[] = { "--cgroup-root", root, "--control-socket", sock, "-c", conf, "-p", pol,
                                       "--log-target", run->log_target ?: "stderr", NULL };
                for (size_t i = 0; rest[i]; i++)
                        argv[n++] = (char *) rest[i];
                if (run->proc_fixture) {
                        argv[n++] = (char *) "--proc-root";
                        argv[n++] = proc;
                }
                char host[300];
                snprintf(host, sizeof host, "%s/host", fx_dir);
                if (run->host_fixture) {
                        argv[n++] = (char *) "--host-root";
                        argv[n++] = host;
                }
                argv[n] = NULL;
                execvp(argv[0], argv);
                _exit(127);
        }
        fx_pid = pid;
        const char *needle = run->wait_for ?: "MESSAGE_ID=0f497462c8564442a45216908fdf07c9";
        for (int t = 0; t < (run->start_ms ?: 5000) * fx_scale(); t += 50) {
                if (strstr(fx_slurp("daemon.log"), needle))
                        return;
                int status;
                if (waitpid(pid, &status, WNOHANG) == pid) {
                        fx_pid = 0;
                        if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
                                cr_skip_test("cannot hide the journal here");
                        cr_assert_fail("daemon exited (status %d):\n%s", status, fx_slurp("daemon.log"));
                }
                usleep(50 * 1000);
        }
        cr_assert_fail("daemon did not start:\n%s", fx_slurp("daemon.log"));
}

static int fx_stop(void)
{
        int status = 0;
        if (fx_pid <= 0)
                return -1;
        kill(fx_pid, SIGTERM);
        waitpid(fx_pid, &status, 0);
        fx_pid = 0;
        return status;
}

/* A crash: no SIGTERM handler runs, nothing is restored. */
_unused_ static void fx_kill9(void)
{
        cr_assert_gt(fx_pid, 0);
        kill(fx_pid, SIGKILL);
        int status = 0;
        waitpid(fx_pid, &status, 0);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        fx_pid = 0;
}

_unused_ static char *fx_control(const char *req)
{
        static char buf[1 << 16];
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s/ctl", fx_dir);
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

_unused_ static int fx_count_fds(pid_t pid)
{
        char p[64];
        snprintf(p, sizeof p, "/proc/%d/fd", (int) pid);
        DIR *d = opendir(p);
        if (!d)
                return -1;
        int n = 0;
        for (struct dirent *de; (de = readdir(d));)
                n += de->d_name[0] != '.';
        closedir(d);
        return n;
}

static void fx_setup(void)
{
        snprintf(fx_dir, sizeof fx_dir, "/tmp/memwarden-test-state-XXXXXX");
        cr_assert_not_null(mkdtemp(fx_dir));
        char p[512];
        const char *dirs[] = { "cg", "pol", "state", "proc", "aside" };
        for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
                snprintf(p, sizeof p, "%s/%s", fx_dir, dirs[i]);
                mkdir(p, 0755);
        }
        fx_make_cgroup("/system.slice", "max\n");
        fx_make_cgroup("/system.slice/web.service", "100000000\n");
        fx_make_cgroup("/system.slice/other.service", "100000000\n");
}

static void fx_teardown(void)
{
        int status = fx_stop();
        if (getenv("MEMWARDEN_DAEMON_WRAPPER") && status >= 0)
                cr_expect(!(WIFEXITED(status) && WEXITSTATUS(status) == 99), "the daemon wrapper found errors:\n%s",
                        fx_slurp("daemon.log"));
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx_dir);
        (void) system(cmd);
}

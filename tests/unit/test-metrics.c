/* SPDX-License-Identifier: MIT */
/* daemon/metrics.c and daemon/metrics-daemon.c: the exposition formatter against a golden file, label
 * escaping with hostile cgroup names, the atomic writer (replaced by rename, untouched when unchanged, errors
 * for a missing directory), and the real memwardend on a fixture tree: the textfile written after a pressure
 * episode and not rewritten while calm, one warning for a missing directory, `metrics` on the control socket,
 * the file removed at stop. When PROMTOOL is set (tests/unit/meson.build: Debian's prometheus package),
 * `promtool check metrics` must accept the golden file and the daemon's file. */
#include <sys/stat.h>
#include <sys/wait.h>

#include "daemon-fixture.h"
#include "daemon/metrics.h"

#define GOLDEN FIXTURES_DIR "/metrics/golden.prom"

static char *format_to_string(const MetricsDaemon *d, const MetricsCgroup *c, size_t n)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        cr_assert_not_null(f);
        cr_assert_eq(metrics_format(d, c, n, f), 0);
        fclose(f);
        return buf;
}

static char *read_file(const char *path)
{
        FILE *f = fopen(path, "re");
        cr_assert_not_null(f, "%s: %s", path, strerror(errno));
        static char buf[1 << 16];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = 0;
        fclose(f);
        return strdup(buf);
}

/* Runs `promtool check metrics` on text; returns its exit status, or -1 when PROMTOOL is not set. */
static int promtool_check(const char *text, char *out, size_t outsize)
{
        const char *promtool = getenv("PROMTOOL");
        if (!promtool || !*promtool)
                return -1;
        char in[] = "/tmp/memwarden-promtool-XXXXXX";
        int fd = mkstemp(in);
        cr_assert_geq(fd, 0);
        cr_assert_eq(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);
        char cmd[600];
        snprintf(cmd, sizeof cmd, "'%s' check metrics < %s 2>&1", promtool, in);
        FILE *p = popen(cmd, "r");
        cr_assert_not_null(p);
        size_t n = fread(out, 1, outsize - 1, p);
        out[n] = 0;
        int status = pclose(p);
        unlink(in);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static const Rung LADDER[] = { RUNG_ALERT, RUNG_RECLAIM, RUNG_KILL };

static void golden_input(MetricsDaemon *d, MetricsCgroup c[2])
{
        *d = (MetricsDaemon){
                .cpu_usec = 1500000,
                .rss_bytes = 4194304,
                .guarded = 2,
                .under_pressure = 1,
                .records_suppressed = 3,
                .start_time_seconds = 1764590000.25,
                .version = "0.1.0",
        };
        c[0] = (MetricsCgroup){
                .cgroup = "/system.slice/web.service",
                .unit = "web.service",
                .policy = "web",
                .ladder = LADDER,
                .n_ladder = 3,
                .pressure_usec = 2500000,
                .under_pressure = true,
                .brake_active = true,
                .brake_bytes = 89997312,
                .early_warning = true,
        };
        c[0].m.episodes = 2;
        c[0].m.actions[RUNG_ALERT][METRICS_RESULT_OK] = 2;
        c[0].m.actions[RUNG_RECLAIM][METRICS_RESULT_PARTIAL] = 1;
        c[0].m.freed_bytes[RUNG_RECLAIM] = 5000000;
        c[0].m.oom_kills = 1;
        c[1] = (MetricsCgroup){
                .cgroup = "/kubepods.slice/kubepods-pod0f0e.slice/cri-containerd-ab.scope",
                .unit = "cri-containerd-ab.scope",
                .policy = "pods",
                .container_id = "ab",
                .pod_uid = "0f0e",
                .ladder = LADDER,
                .n_ladder = 1,
                .early_warning = false,
        };
        c[1].m.actions[RUNG_KILL][METRICS_RESULT_DRY_RUN] = 4;
}

TestSuite(metrics);

Test(metrics, format_matches_the_golden_file)
{
        MetricsDaemon d;
        MetricsCgroup c[2];
        golden_input(&d, c);
        char *out = format_to_string(&d, c, 2);
        char *golden = read_file(GOLDEN);
        cr_assert_str_eq(out, golden, "output differs from %s:\n%s", GOLDEN, out);

        char check[8192];
        int r = promtool_check(golden, check, sizeof check);
        if (r >= 0)
                cr_assert_eq(r, 0, "promtool check metrics on %s: %s", GOLDEN, check);
        free(out);
        free(golden);
}

Test(metrics, no_cgroups_no_cgroup_families)
{
        MetricsDaemon d = { .version = "x", .guarded = 0 };
        char *out = format_to_string(&d, NULL, 0);
        cr_assert(strstr(out, "memwarden_guarded_cgroups 0\n"), "%s", out);
        cr_assert_null(strstr(out, "memwarden_cgroup_"), "%s", out);
        free(out);
}

Test(metrics, hostile_label_values_are_escaped)
{
        MetricsDaemon d = { .version = "1\"\\\n" };
        MetricsCgroup c = {
                .cgroup = "/system.slice/a\"b\\c\nd}{,e=\"f\".service",
                .unit = "a\"b\\c\nd}{,e=\"f\".service",
                .policy = "p\\",
        };
        char *out = format_to_string(&d, &c, 1);
        cr_assert(strstr(out, "memwarden_build_info{version=\"1\\\"\\\\\\n\"} 1\n"), "%s", out);
        cr_assert(strstr(out, "memwarden_cgroup_oom_kills_total{cgroup=\"/system.slice/a\\\"b\\\\c\\nd}{,e=\\\"f\\\""
                              ".service\",unit=\"a\\\"b\\\\c\\nd}{,e=\\\"f\\\".service\",policy=\"p\\\\\"} 0\n"),
                "%s", out);
        /* Every line is a comment or one sample: no raw newline escaped into a label. */
        for (char *line = out; *line;) {
                char *nl = strchr(line, '\n');
                cr_assert_not_null(nl);
                cr_assert(line[0] == '#' || strncmp(line, "memwarden_", 10) == 0, "bad line: %.*s",
                        (int) (nl - line), line);
                line = nl + 1;
        }
        char check[8192];
        int r = promtool_check(out, check, sizeof check);
        if (r >= 0)
                cr_assert_eq(r, 0, "promtool: %s\n%s", check, out);
        free(out);
}

Test(metrics, pod_uid_from_kubepods_paths)
{
        char *uid = NULL;
        cr_assert_eq(metrics_pod_uid_from_path("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
                                               "6f1c2a3b_1d2e_4f50_8a9b_0c1d2e3f4a5b.slice/cri-containerd-"
                                               "0123.scope", &uid), 0);
        cr_assert_str_eq(uid, "6f1c2a3b-1d2e-4f50-8a9b-0c1d2e3f4a5b");
        free(uid);
        cr_assert_eq(metrics_pod_uid_from_path("/kubepods/besteffort/pod6f1c2a3b-1d2e-4f50-8a9b-0c1d2e3f4a5b/0123",
                &uid), 0);
        cr_assert_str_eq(uid, "6f1c2a3b-1d2e-4f50-8a9b-0c1d2e3f4a5b");
        free(uid);
        /* Not a pod: a unit whose name has "pod" in it, a short id, a non-hex id. */
        const char *no[] = { "/system.slice/podman.service", "/system.slice/x-pod1234.slice",
                             "/kubepods.slice/kubepods-podzzzzzzzz_1d2e_4f50_8a9b_0c1d2e3f4a5b.slice", "/" };
        for (size_t i = 0; i < ELEMENTSOF(no); i++) {
                uid = (char *) 1;
                cr_assert_eq(metrics_pod_uid_from_path(no[i], &uid), 0);
                cr_assert_null(uid, "%s", no[i]);
        }
}

Test(metrics, early_warning)
{
        /* No limit: nothing for the cgroup OOM killer to enforce. */
        cr_assert(metrics_early_warning(false, CGROUP_LIMIT_MAX, CGROUP_LIMIT_MAX, false));
        /* A limit, no swap, no brake, memory.high max: no warning at all. */
        cr_assert_not(metrics_early_warning(false, 100, CGROUP_LIMIT_MAX, false));
        cr_assert_not(metrics_early_warning(false, 100, 100, false));
        cr_assert(metrics_early_warning(true, 100, CGROUP_LIMIT_MAX, false));
        cr_assert(metrics_early_warning(false, 100, 90, false));
        cr_assert(metrics_early_warning(false, 100, CGROUP_LIMIT_MAX, true));
}

static char wdir[64];

static void writer_setup(void)
{
        snprintf(wdir, sizeof wdir, "/tmp/memwarden-test-metrics-XXXXXX");
        cr_assert_not_null(mkdtemp(wdir));
}

static void writer_teardown(void)
{
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", wdir);
        (void) system(cmd);
}

Test(metrics, writer_replaces_atomically_and_skips_unchanged, .init = writer_setup, .fini = writer_teardown)
{
        char path[128], tmp[160];
        snprintf(path, sizeof path, "%s/memwarden.prom", wdir);
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        char *last = NULL;
        size_t last_len = 0;
        struct stat a, b, c;

        cr_assert_eq(metrics_file_write(path, "x 1\n", 4, &last, &last_len), 1);
        cr_assert_eq(stat(path, &a), 0);
        cr_assert_eq(a.st_mode & 07777, 0644);
        cr_assert_neq(access(tmp, F_OK), 0, "temporary file left behind");
        char *s = read_file(path);
        cr_assert_str_eq(s, "x 1\n");
        free(s);

        /* A reader holding the old file keeps the old content: the new one is a new inode (rename). */
        int rfd = open(path, O_RDONLY | O_CLOEXEC);
        cr_assert_geq(rfd, 0);
        cr_assert_eq(metrics_file_write(path, "x 2\n", 4, &last, &last_len), 1);
        cr_assert_eq(stat(path, &b), 0);
        cr_assert_neq(a.st_ino, b.st_ino, "not replaced by rename");
        char old[8] = {};
        cr_assert_eq(read(rfd, old, sizeof old - 1), 4);
        cr_assert_str_eq(old, "x 1\n");
        close(rfd);

        /* Unchanged: nothing touched (same inode, same mtime). */
        usleep(20 * 1000);
        cr_assert_eq(metrics_file_write(path, "x 2\n", 4, &last, &last_len), 0);
        cr_assert_eq(stat(path, &c), 0);
        cr_assert_eq(b.st_ino, c.st_ino);
        cr_assert(b.st_mtim.tv_sec == c.st_mtim.tv_sec && b.st_mtim.tv_nsec == c.st_mtim.tv_nsec);

        /* Removed behind our back: written again even though the content is the same. */
        cr_assert_eq(unlink(path), 0);
        cr_assert_eq(metrics_file_write(path, "x 2\n", 4, &last, &last_len), 1);
        cr_assert_eq(access(path, F_OK), 0);
        free(last);
}

Test(metrics, writer_errors, .init = writer_setup, .fini = writer_teardown)
{
        char path[160];
        char *last = NULL;
        size_t last_len = 0;
        snprintf(path, sizeof path, "%s/missing/memwarden.prom", wdir);
        cr_assert_eq(metrics_file_write(path, "x 1\n", 4, &last, &last_len), -ENOENT);
        cr_assert_null(last);
        /* A file where the directory should be. */
        snprintf(path, sizeof path, "%s/file", wdir);
        FILE *f = fopen(path, "we");
        fclose(f);
        snprintf(path, sizeof path, "%s/file/memwarden.prom", wdir);
        cr_assert_eq(metrics_file_write(path, "x 1\n", 4, &last, &last_len), -ENOTDIR);
        cr_assert_null(last);
}

/* The real daemon. */
TestSuite(metrics_daemon, .init = fx_setup, .fini = fx_teardown, .timeout = 60);

static const char *POLICY =
        "[Match]\nUnit=web.service\nCgroup=/system.slice/ev*\n"
        "[Pressure]\nBrake=90%\nHysteresis=1s\nSampleInterval=200ms\n"
        "[Actions]\nLadder=alert reclaim\n"
        "[Alert]\nSettle=500ms\n[Reclaim]\nSettle=500ms\nAmount=10%\n";

static void start_with_metrics(const char *rel)
{
        char conf[300];
        snprintf(conf, sizeof conf, "MetricsFile=%s/%s\n", fx_dir, rel);
        fx_start(&(FxRun){ .policy = POLICY, .main_conf = conf });
}

/* Waits until the file (relative to fx_dir) contains needle; returns a copy or NULL. */
static char *wait_file(const char *rel, const char *needle, int timeout_ms)
{
        timeout_ms *= fx_scale();
        for (int t = 0; t < timeout_ms; t += 50) {
                char *s = fx_slurp(rel);
                if (strstr(s, needle))
                        return fx_copy(s);
                usleep(50 * 1000);
        }
        cr_log_error("%s (waiting for %s):\n%s", rel, needle, fx_slurp(rel));
        return NULL;
}

Test(metrics_daemon, episode_in_the_file_and_on_the_socket)
{
        /* A hostile name, guarded through Cgroup=/system.slice/ev*. */
        fx_make_cgroup("/system.slice/ev\"il\\x\n.service", "100000000\n");
        char d[300];
        snprintf(d, sizeof d, "%s/textfile", fx_dir);
        cr_assert_eq(mkdir(d, 0755), 0);
        start_with_metrics("textfile/memwarden.prom");

        const char *F = "textfile/memwarden.prom";
        char *s = wait_file(F, "memwarden_guarded_cgroups 2\n", 3000);
        cr_assert_not_null(s, "no metrics file");
        cr_assert(strstr(s, "memwarden_cgroup_brake_active{cgroup=\"/system.slice/web.service\",unit=\"web.service\","
                            "policy=\"test\"} 1\n"), "%s", s);
        cr_assert(strstr(s, "cgroup=\"/system.slice/ev\\\"il\\\\x\\n.service\""), "hostile name not escaped: %s", s);
        cr_assert(strstr(s, "memwarden_cgroup_pressure_episodes_total{cgroup=\"/system.slice/web.service\","
                            "unit=\"web.service\",policy=\"test\"} 0\n"), "%s", s);

        /* An episode: a high event (the alert in front costs no time: reclaim acts at the onset), then
         * another 0.6 s later (reclaim is the last rung and cooling down: nothing more acts). */
        fx_events("/system.slice/web.service", 7);
        cr_assert_not_null(fx_wait_log("ACTION=reclaim", 3000));
        usleep(600 * 1000 * fx_scale());
        fx_events("/system.slice/web.service", 9);
        cr_assert_not_null(fx_wait_log("MESSAGE_ID=c45d22c01f94415eb5aab3c6cd52fc02", 5000), "no relief");
        s = wait_file(F, "memwarden_cgroup_under_pressure{cgroup=\"/system.slice/web.service\",unit=\"web.service\","
                         "policy=\"test\"} 0\n", 3000);
        cr_assert_not_null(s);
        const char *lbl = "{cgroup=\"/system.slice/web.service\",unit=\"web.service\",policy=\"test\"";
        char want[400];
        snprintf(want, sizeof want, "memwarden_cgroup_pressure_episodes_total%s} 1\n", lbl);
        cr_assert(strstr(s, want), "%s", s);
        snprintf(want, sizeof want, "memwarden_cgroup_actions_total%s,rung=\"alert\",result=\"ok\"} 0\n", lbl);
        cr_assert(strstr(s, want), "%s", s);
        snprintf(want, sizeof want, "memwarden_cgroup_actions_total%s,rung=\"reclaim\",result=\"ok\"} 1\n", lbl);
        cr_assert(strstr(s, want), "%s", s);
        snprintf(want, sizeof want, "memwarden_cgroup_pressure_seconds_total%s} ", lbl);
        char *p = strstr(s, want);
        cr_assert_not_null(p, "%s", s);
        double secs = strtod(p + strlen(want), NULL);
        cr_assert(secs >= 0.5 && secs < 30.0, "seconds under pressure %f (the two events were 0.6 s apart)", secs);

        /* The socket serves the same series, live. */
        char *sock = fx_control("metrics\n");
        snprintf(want, sizeof want, "memwarden_cgroup_pressure_episodes_total%s} 1\n", lbl);
        cr_assert(strstr(sock, want), "%s", sock);
        cr_assert(strstr(sock, "# TYPE memwarden_cgroup_actions_total counter\n"), "%s", sock);
        /* And memwardenctl metrics prints them. */
        const char *ctl = getenv("MEMWARDENCTL");
        cr_assert_not_null(ctl);
        char cmd[700], out[1 << 14];
        snprintf(cmd, sizeof cmd, "'%s' metrics --socket '%s/ctl'", ctl, fx_dir);
        FILE *pp = popen(cmd, "r");
        cr_assert_not_null(pp);
        size_t nout = fread(out, 1, sizeof out - 1, pp);
        out[nout] = 0;
        cr_assert_eq(pclose(pp), 0, "%s: %s", cmd, out);
        cr_assert(strstr(out, want), "memwardenctl metrics: %s", out);

        char check[8192];
        int r = promtool_check(fx_slurp(F), check, sizeof check);
        if (r >= 0)
                cr_assert_eq(r, 0, "promtool check metrics on the daemon's file: %s\n%s", check, fx_slurp(F));

        /* Calm: the file is not rewritten (same inode and mtime after 2.5 s). */
        char path[300];
        snprintf(path, sizeof path, "%s/%s", fx_dir, F);
        struct stat a, b;
        cr_assert_eq(stat(path, &a), 0);
        usleep(2500 * 1000);
        cr_assert_eq(stat(path, &b), 0);
        cr_assert(a.st_ino == b.st_ino && a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
                  a.st_mtim.tv_nsec == b.st_mtim.tv_nsec, "metrics file rewritten while calm");

        /* The cgroup goes away (as after a kill): its series stay, with their counts. */

        snprintf(cmd, sizeof cmd, "mv '%s/cg/system.slice/web.service' '%s/aside/web.service'", fx_dir, fx_dir);
        cr_assert_eq(system(cmd), 0);
        s = wait_file(F, "memwarden_guarded_cgroups 1\n", 3000);
        cr_assert_not_null(s, "the removed cgroup still counted as guarded");
        snprintf(want, sizeof want, "memwarden_cgroup_actions_total%s,rung=\"reclaim\",result=\"ok\"} 1\n", lbl);
        cr_assert(strstr(s, want), "series of the removed cgroup gone at once: %s", s);
        /* Guarded again under the same path (a restarted service): its counters go on. */
        snprintf(cmd, sizeof cmd, "mv '%s/aside/web.service' '%s/cg/system.slice/web.service'", fx_dir, fx_dir);
        cr_assert_eq(system(cmd), 0);
        s = wait_file(F, "memwarden_guarded_cgroups 2\n", 3000);
        cr_assert_not_null(s);
        snprintf(want, sizeof want, "memwarden_cgroup_pressure_episodes_total%s} 1\n", lbl);
        cr_assert(strstr(s, want), "counters restarted: %s", s);
        cr_assert_eq(fx_count(s, "memwarden_cgroup_oom_kills_total{cgroup=\"/system.slice/web.service\""), 1,
                "the cgroup listed twice: %s", s);
        cr_assert_eq(stat(path, &a), 0);

        /* A clean stop removes it: no stale series for node_exporter. */
        int status = fx_stop();
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
        cr_assert_neq(access(path, F_OK), 0, "metrics file left after stop");
}

Test(metrics_daemon, missing_directory_one_warning_and_guarding_goes_on)
{
        start_with_metrics("nonexistent/memwarden.prom");
        /* Several changes, each a write attempt. */
        fx_events("/system.slice/web.service", 3);
        cr_assert_not_null(fx_wait_log("ACTION=reclaim", 3000));
        usleep(1300 * 1000 * fx_scale());
        /* A new guarded cgroup, built aside and moved in (as a real one appears with its files at once). */
        fx_make_cgroup_at("aside", "/evx.service", "100000000\n");
        char from[300], to[300];
        snprintf(from, sizeof from, "%s/aside/evx.service", fx_dir);
        snprintf(to, sizeof to, "%s/cg/system.slice/evx.service", fx_dir);
        cr_assert_eq(rename(from, to), 0);
        usleep(1300 * 1000 * fx_scale());
        char *log = fx_copy(fx_slurp("daemon.log"));
        cr_assert_eq(fx_count(log, "Cannot write the metrics file"), 1, "%s", log);
        cr_assert(strstr(log, "nonexistent/memwarden.prom"), "%s", log);
        char *st = fx_control("status json\n");
        cr_assert(strstr(st, "\"guarded\":2"), "not guarding on: %s", st);
        cr_assert(strstr(fx_control("metrics\n"), "memwarden_guarded_cgroups 2\n"));

        /* The directory appears: the next change writes the file. */
        char d[300];
        snprintf(d, sizeof d, "%s/nonexistent", fx_dir);
        cr_assert_eq(mkdir(d, 0755), 0);
        fx_events("/system.slice/evx.service", 5);
        cr_assert_not_null(wait_file("nonexistent/memwarden.prom", "memwarden_guarded_cgroups 2\n", 3000));
        cr_assert_not_null(fx_wait_log("written again", 3000));
}

Test(metrics_daemon, metrics_file_must_end_in_prom)
{
        fx_put("pol/test.conf", POLICY);
        char conf[300];
        snprintf(conf, sizeof conf, "%s/bad.conf", fx_dir);
        FILE *f = fopen(conf, "we");
        fputs("[Daemon]\nMetricsFile=/var/lib/prometheus/node-exporter/memwarden.txt\n", f);
        fclose(f);
        ConfigError err = {};
        DaemonConfig dc;
        cr_assert_eq(daemon_config_load_file(conf, &dc, &err), -EINVAL);
        cr_assert_eq(err.line, 2);
        cr_assert(strstr(err.message, ".prom"), "%s", err.message);
}

Test(metrics, meminfo_swap)
{
        cr_assert_not(metrics_meminfo_has_swap("MemTotal: 1 kB\nSwapTotal:        0 kB\nSwapFree: 0 kB\n"));
        cr_assert(metrics_meminfo_has_swap("MemTotal: 1 kB\nSwapTotal:  2097148 kB\n"));
        cr_assert_not(metrics_meminfo_has_swap("MemTotal: 1 kB\n"));
        cr_assert_not(metrics_meminfo_has_swap("XSwapTotal: 5 kB\n"));
        cr_assert_not(metrics_meminfo_has_swap(NULL));
}

/* The operator's first hour: status names the guarded cgroups that get no warning before an OOM kill. */
static void first_hour_status(const char *meminfo, bool expect_warning)
{
        fx_put("proc/meminfo", meminfo);
        fx_put("pol/other.conf", "[Match]\nUnit=other.service\n[Actions]\nLadder=alert\n");
        char conf[300];
        snprintf(conf, sizeof conf, "MetricsFile=%s/metrics.prom\n", fx_dir);
        fx_start(&(FxRun){ .policy = POLICY, .main_conf = conf, .proc_fixture = true });
        char *st = fx_copy(fx_control("status\n"));
        if (expect_warning) {
                cr_assert(strstr(st, "WARNING: 1 guarded cgroup can get no warning before a kernel OOM kill"), "%s", st);
                cr_assert(strstr(st, "  /system.slice/other.service (policy other, "), "%s", st);
                cr_assert(strstr(st, "Brake=90%"), "no advice: %s", st);
                cr_assert_null(strstr(st, "  /system.slice/web.service (policy"), "web has a brake: %s", st);
        } else
                cr_assert_null(strstr(st, "WARNING"), "%s", st);
        char *js = fx_control("status json\n");
        cr_assert(strstr(js, expect_warning ? "\"early_warning\":false" : "\"early_warning\":true"), "%s", js);
        char *s = wait_file("metrics.prom", "memwarden_cgroup_early_warning{cgroup=\"/system.slice/other.service\"", 3000);
        cr_assert_not_null(s);
        cr_assert(strstr(s, expect_warning ? "memwarden_cgroup_early_warning{cgroup=\"/system.slice/other.service\","
                                             "unit=\"other.service\",policy=\"other\"} 0\n"
                                           : "memwarden_cgroup_early_warning{cgroup=\"/system.slice/other.service\","
                                             "unit=\"other.service\",policy=\"other\"} 1\n"), "%s", s);
        cr_assert(strstr(s, "memwarden_cgroup_early_warning{cgroup=\"/system.slice/web.service\",unit=\"web.service\","
                            "policy=\"test\"} 1\n"), "%s", s);
}

Test(metrics_daemon, status_warns_without_swap_brake_or_high)
{
        first_hour_status("MemTotal: 2000000 kB\nSwapTotal: 0 kB\n", true);
}

Test(metrics_daemon, status_quiet_with_swap)
{
        first_hour_status("MemTotal: 2000000 kB\nSwapTotal: 1000000 kB\n", false);
}

Test(metrics_daemon, check_warns_about_a_policy_without_brake_when_there_is_no_swap)
{
        fx_put("pol/nobrake.conf", "[Match]\nUnit=x.service\n[Actions]\nLadder=alert\n");
        fx_put("pol/brake.conf", "[Match]\nUnit=y.service\n[Pressure]\nBrake=90%\n[Actions]\nLadder=alert kill\n");
        const char *ctl = getenv("MEMWARDENCTL");
        cr_assert_not_null(ctl);
        char cmd[800];
        snprintf(cmd, sizeof cmd, "'%s' check '%s/pol/nobrake.conf' '%s/pol/brake.conf' 2>&1 >/dev/null", ctl, fx_dir,
                fx_dir);
        FILE *p = popen(cmd, "r");
        char err[8192];
        size_t n = fread(err, 1, sizeof err - 1, p);
        err[n] = 0;
        cr_assert_eq(pclose(p), 0, "check failed: %s", err);
        char *mi = read_file("/proc/meminfo");
        bool swap = metrics_meminfo_has_swap(mi);
        free(mi);
        if (swap)
                cr_assert_eq(err[0], 0, "a warning although this machine has swap: %s", err);
        else {
                cr_assert(strstr(err, "nobrake.conf: warning: policy nobrake sets no Brake= and this machine has no swap"), "%s",
                        err);
                cr_assert_null(strstr(err, "policy brake "), "%s", err);
                cr_assert(strstr(err, "Brake=90%"), "%s", err);
        }
}

/* A memory.max written after the guard's last sample (systemd and crun write it after the cgroup appears,
 * and no memory.events change follows): status must judge the limit the cgroup has now. The deb VM test
 * saw the warning missing for a MemoryMax= unit in a clean-clone CI run. */
Test(metrics_daemon, status_warns_about_a_limit_written_after_the_last_sample)
{
        fx_put("proc/meminfo", "MemTotal: 2000000 kB\nSwapTotal: 0 kB\n");
        fx_put("pol/other.conf", "[Match]\nUnit=other.service\n[Actions]\nLadder=alert\n");
        fx_start(&(FxRun){ .policy = POLICY, .proc_fixture = true });
        fx_put("cg/system.slice/other.service/memory.max", "max\n");
        fx_events("/system.slice/other.service", 1);
        char *st = NULL;
        for (int t = 0; t < 3000 * fx_scale(); t += 50) {
                st = fx_control("status json\n");
                if (strstr(st, "\"early_warning\":true") && !strstr(st, "\"early_warning\":false"))
                        break;
                usleep(50 * 1000);
        }
        cr_assert_null(strstr(st, "\"early_warning\":false"), "no limit yet, no warning expected: %s", st);
        fx_put("cg/system.slice/other.service/memory.max", "67108864\n");
        st = fx_copy(fx_control("status\n"));
        cr_assert(strstr(st, "  /system.slice/other.service (policy other, "), "%s", st);
        cr_assert(strstr(fx_control("status json\n"), "\"early_warning\":false"), "%s", st);
}

/* SPDX-License-Identifier: MIT */
/* Tests for policy/policy-load.c and policy/policy.c: parsing, validation with file:line, the policy.d
 * search with masking, matching, and golden dumps.
 *
 * Golden files: tests/fixtures/policy/golden/NAME.dump is the policy_dump() of good/NAME.conf, loaded as
 * "good/NAME.conf" from tests/fixtures/policy. To regenerate after a deliberate change, run this test with
 * MEMWARDEN_UPDATE_GOLDEN=1 and review the diff. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "policy/policy.h"
#include "util/strv.h"

#define POLICY_FIXTURES FIXTURES_DIR "/policy"

/* ---------------------------------------------------------------------------------------------------- */
/* helpers */

static Policy *load_string(const char *text, ConfigError *err, int *ret_r)
{
        Policy *p = NULL;
        *ret_r = policy_load_buffer("/test/policy.d/t.conf", text, strlen(text), &p, err);
        return p;
}

static char *dump_policy(const Policy *p)
{
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        cr_assert_not_null(f);
        policy_dump(p, f);
        fclose(f);
        return buf;
}

static char *dump_config(const Config *c)
{
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        cr_assert_not_null(f);
        config_dump(c, f);
        fclose(f);
        return buf;
}

static char *read_file(const char *path)
{
        FILE *f = fopen(path, "re");
        if (!f)
                return NULL;
        char *buf = NULL;
        size_t size = 0;
        FILE *m = open_memstream(&buf, &size);
        int ch;
        while ((ch = fgetc(f)) != EOF)
                fputc(ch, m);
        fclose(m);
        fclose(f);
        return buf;
}

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "we");
        cr_assert_not_null(f, "fopen(%s): %m", path);
        fputs(text, f);
        cr_assert_eq(fclose(f), 0);
}

static char *pathf(const char *fmt, ...) _printf_(1, 2);
static char *pathf(const char *fmt, ...)
{
        char *s;
        va_list ap;
        va_start(ap, fmt);
        cr_assert_geq(vasprintf(&s, fmt, ap), 0);
        va_end(ap);
        return s;
}

static char tmpdir[] = "/tmp/memwarden-test-policy-XXXXXX";

static void make_tmpdir(void)
{
        cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tree(const char *path)
{
        DIR *d = opendir(path);
        if (!d) {
                unlink(path);
                return;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                char *sub = pathf("%s/%s", path, de->d_name);
                struct stat st;
                if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
                        remove_tree(sub);
                else
                        unlink(sub);
                free(sub);
        }
        closedir(d);
        rmdir(path);
}

static void cleanup_tmpdir(void)
{
        if (!strstr(tmpdir, "XXXXXX"))
                remove_tree(tmpdir);
}

/* ---------------------------------------------------------------------------------------------------- */
/* good files */

Test(policy_load, all_keys)
{
        ConfigError err = {};
        Policy *p = NULL;
        int r = policy_load_file(POLICY_FIXTURES "/good/all-keys.conf", &p, &err);
        cr_assert_eq(r, 0, "%s:%u: %s", err.file, err.line, err.message);

        cr_assert_str_eq(p->name, "all-keys");
        cr_assert_str_eq(p->path, POLICY_FIXTURES "/good/all-keys.conf");
        cr_assert_eq(strv_length(p->match_unit), 2);
        cr_assert_str_eq(p->match_unit[0], "myapp.service");
        cr_assert_str_eq(p->match_unit[1], "worker@*.service");
        cr_assert_eq(strv_length(p->match_slice), 1);
        cr_assert_str_eq(p->match_slice[0], "machine.slice");
        cr_assert_str_eq(p->match_cgroup[0], "/kubepods.slice/*");
        cr_assert_str_eq(p->match_container[0], "web");
        cr_assert_str_eq(p->match_container_image[0], "localhost/*");
        cr_assert_str_eq(p->match_pod_namespace[0], "shop");
        cr_assert_str_eq(p->match_pod[0], "shop/web-*");

        cr_assert(p->trigger[PSI_SOME].enabled);
        cr_assert_eq(p->trigger[PSI_SOME].stall_usec, 50 * USEC_PER_MSEC);
        cr_assert_eq(p->trigger[PSI_SOME].window_usec, 500 * USEC_PER_MSEC);
        cr_assert(p->trigger[PSI_FULL].enabled);
        cr_assert_eq(p->trigger[PSI_FULL].stall_usec, 200 * USEC_PER_MSEC);
        cr_assert_eq(p->trigger[PSI_FULL].window_usec, 2 * USEC_PER_SEC);
        cr_assert_float_eq(p->some_avg10_percent, 12.5, 1e-9);
        cr_assert_float_eq(p->full_avg10_percent, 0.0, 1e-9);
        cr_assert(!p->on_high_events);
        cr_assert(!p->on_max_events);
        cr_assert(p->usage.is_percent);
        cr_assert_float_eq(p->usage.percent, 80.0, 1e-9);
        cr_assert(p->has_brake);
        cr_assert(p->brake.is_percent);
        cr_assert_float_eq(p->brake.percent, 90.0, 1e-9);
        cr_assert_eq(p->sample_interval_usec, 250 * USEC_PER_MSEC);
        cr_assert_eq(p->hysteresis_usec, 90 * USEC_PER_SEC);
        cr_assert_eq(p->max_throttle_usec, 0);

        cr_assert_eq(p->n_ladder, 6);
        for (size_t i = 0; i < 6; i++)
                cr_assert_eq(p->ladder[i], (Rung) i);
        cr_assert(p->dry_run);

        cr_assert_eq(p->rung[RUNG_ALERT].cooldown_usec, 60 * USEC_PER_SEC);
        cr_assert_eq(p->rung[RUNG_ALERT].settle_usec, 2 * USEC_PER_SEC);
        cr_assert_eq(p->rung[RUNG_TRIM].cooldown_usec, 45 * USEC_PER_SEC);
        cr_assert_eq(p->rung[RUNG_TRIM].settle_usec, 4 * USEC_PER_SEC);
        cr_assert_eq(p->rung[RUNG_DROP_CACHE].cooldown_usec, 40 * USEC_PER_SEC);
        cr_assert_eq(p->rung[RUNG_DROP_CACHE].settle_usec, 6 * USEC_PER_SEC);
        cr_assert_eq(p->rung[RUNG_RECLAIM].cooldown_usec, 20 * USEC_PER_SEC);
        cr_assert_eq(p->rung[RUNG_RECLAIM].settle_usec, 1500 * USEC_PER_MSEC);
        cr_assert(!p->reclaim_amount.is_percent);
        cr_assert_eq(p->reclaim_amount.bytes, 64ULL << 20);
        cr_assert_eq(p->rung[RUNG_RESTART].cooldown_usec, 600 * USEC_PER_SEC);
        cr_assert_eq(p->rung[RUNG_RESTART].settle_usec, 60 * USEC_PER_SEC);
        cr_assert_eq(p->rung[RUNG_KILL].cooldown_usec, 120 * USEC_PER_SEC);
        cr_assert_eq(p->rung[RUNG_KILL].settle_usec, 20 * USEC_PER_SEC);
        cr_assert_eq(p->kill_mode, KILL_MODE_LARGEST);
        policy_free(p);
}

Test(policy_load, defaults)
{
        ConfigError err = {};
        Policy *p = NULL;
        cr_assert_eq(policy_load_file(POLICY_FIXTURES "/good/minimal.conf", &p, &err), 0, "%s", err.message);

        cr_assert_str_eq(p->name, "minimal");
        cr_assert(p->trigger[PSI_SOME].enabled);
        cr_assert_eq(p->trigger[PSI_SOME].stall_usec, 150 * USEC_PER_MSEC);
        cr_assert_eq(p->trigger[PSI_SOME].window_usec, USEC_PER_SEC);
        cr_assert(!p->trigger[PSI_FULL].enabled);
        cr_assert_float_eq(p->some_avg10_percent, 10.0, 1e-9);
        cr_assert_float_eq(p->full_avg10_percent, 5.0, 1e-9);
        cr_assert(p->on_high_events && p->on_max_events);
        cr_assert(!p->usage.is_percent && p->usage.bytes == 0);
        cr_assert(!p->has_brake);
        cr_assert_eq(p->sample_interval_usec, USEC_PER_SEC);
        cr_assert_eq(p->hysteresis_usec, 10 * USEC_PER_SEC);
        cr_assert_eq(p->max_throttle_usec, 60 * USEC_PER_SEC);
        cr_assert_eq(p->n_ladder, 1);
        cr_assert_eq(p->ladder[0], RUNG_ALERT);
        cr_assert(!p->dry_run);
        cr_assert_eq(p->rung[RUNG_ALERT].cooldown_usec, 30 * USEC_PER_SEC);
        cr_assert_eq(p->rung[RUNG_ALERT].settle_usec, 5 * USEC_PER_SEC);
        cr_assert_eq(p->rung[RUNG_RECLAIM].cooldown_usec, 10 * USEC_PER_SEC);
        cr_assert_eq(p->rung[RUNG_RECLAIM].settle_usec, 3 * USEC_PER_SEC);
        cr_assert_eq(p->rung[RUNG_RESTART].cooldown_usec, 300 * USEC_PER_SEC);
        cr_assert_eq(p->rung[RUNG_KILL].cooldown_usec, 60 * USEC_PER_SEC);
        cr_assert_eq(p->rung[RUNG_KILL].settle_usec, 10 * USEC_PER_SEC);
        cr_assert(p->reclaim_amount.is_percent);
        cr_assert_float_eq(p->reclaim_amount.percent, 10.0, 1e-9);
        cr_assert_eq(p->kill_mode, KILL_MODE_CGROUP);
        policy_free(p);
}

Test(policy_load, syntax_lists_resets_comments)
{
        ConfigError err = {};
        Policy *p = NULL;
        cr_assert_eq(policy_load_file(POLICY_FIXTURES "/good/syntax.conf", &p, &err), 0, "%s:%u: %s", err.file,
                     err.line, err.message);

        /* Unit=a, Unit= (reset), Unit=b ; comment, indented Unit=c */
        cr_assert_eq(strv_length(p->match_unit), 2);
        cr_assert_str_eq(p->match_unit[0], "b.service");
        cr_assert_str_eq(p->match_unit[1], "c.service");
        cr_assert_eq(strv_length(p->match_slice), 2);
        cr_assert_str_eq(p->match_slice[0], "user-*.slice");
        cr_assert_str_eq(p->match_slice[1], "system.slice");
        cr_assert(!p->trigger[PSI_SOME].enabled);
        cr_assert(p->trigger[PSI_FULL].enabled);
        cr_assert(!p->usage.is_percent && p->usage.bytes == 0, "Usage= resets to the default (off)");
        cr_assert(p->has_brake && !p->brake.is_percent && p->brake.bytes == 512ULL << 20);
        cr_assert_eq(p->max_throttle_usec, 120 * USEC_PER_SEC);
        /* Ladder=alert then Ladder=reclaim: appended */
        cr_assert_eq(p->n_ladder, 2);
        cr_assert_eq(p->ladder[0], RUNG_ALERT);
        cr_assert_eq(p->ladder[1], RUNG_RECLAIM);
        cr_assert_float_eq(p->reclaim_amount.percent, 25.0, 1e-9);
        policy_free(p);
}

Test(policy_load, edge_cases_accepted)
{
        static const char *const good[] = {
                /* BOM, CRLF */
                "\xEF\xBB\xBF[Match]\r\nUnit=a.service\r\n",
                /* no trailing newline */
                "[Match]\nCgroup=*",
                /* a glob that can produce a unit name */
                "[Match]\nUnit=nginx*\n",
                "[Match]\nUnit=*ice\n",
                "[Match]\nUnit=foo.serv?ce\n",
                "[Match]\nUnit=foo.[st]*\n",
                "[Match]\nSlice=system-*\n",
                /* the last rung may settle at once; earlier ones may cool down at 0 */
                "[Match]\nUnit=a.service\n[Actions]\nLadder=alert kill\n[Kill]\nSettle=0\n[Alert]\nCooldown=0\n",
                /* Settle=0 of a rung outside the ladder does not matter */
                "[Match]\nUnit=a.service\n[Trim]\nSettle=0\n",
                /* an empty Ladder= then a new one */
                "[Match]\nUnit=a.service\n[Actions]\nLadder=\nLadder=kill\n",
                /* sections may repeat; empty sections are fine */
                "[Match]\nUnit=a.service\n[Match]\nUnit=b.service\n[Restart]\n",
                /* bounds */
                "[Match]\nUnit=a.service\n[Pressure]\nSomeTrigger=10s/10s\nFullTrigger=1us/500ms\n"
                "SampleInterval=100ms\nSomeAvg10=100%\nUsage=0%\n",
                /* Brake=off, Brake= */
                "[Match]\nUnit=a.service\n[Pressure]\nBrake=90%\nBrake=\n",
                "[Match]\nUnit=a.service\n[Pressure]\nBrake=off\n",
        };

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                ConfigError err = {};
                int r;
                Policy *p = load_string(good[i], &err, &r);
                cr_assert_eq(r, 0, "case %zu: %u: %s", i, err.line, err.message);
                policy_free(p);
        }
}

/* ---------------------------------------------------------------------------------------------------- */
/* bad files: exact line and a message substring */

static const struct {
        const char *text;
        unsigned line;
        const char *message;
} bad_cases[] = {
        { "[Match]\nUnit=a.service\nthis is junk\n", 3, "syntax error" },
        { "[Match\nUnit=a.service\n", 1, "without \"]\"" },
        { "[Match]\njunk\nUnit=nginx\n", 2, "syntax error" },           /* inih's error comes first */
        { "[Match]\nUnit=nginx\njunk\n", 2, "did you mean nginx.service?" }, /* ours comes first */
        { "Unit=a.service\n[Match]\n", 1, "outside of any section" },
        { "[Match]\nUnit: a.service\n", 2, "expected Key=Value" },
        { "[Match]\nUnit=a.service\n\n[Pressur]\n", 4, "unknown section [Pressur]" },
        { "[Match]\nUnit=a.service\n[Daemon]\nDryRun=yes\n", 3, "unknown section [Daemon]" },
        { "[Match]\nUnit=a.service\n[Pressure]\nSomeTriger=off\n", 4, "unknown key SomeTriger= in [Pressure]" },
        { "[Match]\nUnit=a.service\n[Pressure]\nsometrigger=off\n", 4, "did you mean SomeTrigger=?" },
        { "[Match]\nUnit=a.service\n[Reclaim]\nMode=cgroup\n", 4, "unknown key Mode= in [Reclaim]" },
        { "[Match]\nUnit=a.service\n[Pressure]\nHysteresis=10 parsecs\n", 4, "invalid time" },
        { "[Match]\nUnit=a.service\n[Pressure]\nHysteresis=40d\n", 4, "too long" },
        { "[Match]\nUnit=a.service\n[Alert]\nCooldown=99999999999999999999\n", 4, "out of range time" },
        { "[Match]\nUnit=a.service\n[Pressure]\nSomeTrigger=2s/1s\n", 4, "larger than its window" },
        { "[Match]\nUnit=a.service\n[Pressure]\nSomeTrigger=100ms/200ms\n", 4,
          "window must be between 500ms and 10s" },
        { "[Match]\nUnit=a.service\n[Pressure]\nFullTrigger=1s/11s\n", 4, "window must be between 500ms and 10s" },
        { "[Match]\nUnit=a.service\n[Pressure]\nSomeTrigger=0/1s\n", 4, "stall must be more than 0" },
        { "[Match]\nUnit=a.service\n[Pressure]\nSomeTrigger=150ms\n", 4, "expected STALL/WINDOW" },
        { "[Match]\nUnit=a.service\n[Pressure]\nSomeTrigger=150 parsecs/1s\n", 4, "invalid stall time" },
        { "[Match]\nUnit=a.service\n[Pressure]\nSomeTrigger=150ms/1 parsec\n", 4, "invalid window" },
        { "[Pressure]\nSomeTrigger=off\n", 0, "no [Match] section" },
        { "", 0, "no [Match] section" },
        { "[Match]\nUnit=a.service\nUnit=\n[Pressure]\n", 3, "[Match] has no Unit=, Slice=, Cgroup=, Container=" },
        { "[Pressure]\n[Match]\n[Actions]\n", 2, "[Match] has no Unit=, Slice=, Cgroup=, Container=" },
        { "[Match]\nUnit=nginx\n", 2, "did you mean nginx.service?" },
        { "[Match]\nUnit=a.service nginx\n", 2, "Unit=nginx can never match" },
        { "[Match]\nUnit=backup.timer\n", 2, "timer units have no cgroup" },
        { "[Match]\nUnit=foo.servic\n", 2, "Unit=foo.servic can never match" },
        { "[Match]\nUnit=foo*.target\n", 2, "target units have no cgroup" },
        { "[Match]\nUnit=/system.slice/a.service\n", 2, "unit names contain no \"/\"" },
        { "[Match]\nSlice=system\n", 2, "did you mean system.slice?" },
        { "[Match]\nSlice=system.service\n", 2, "a slice name ends in .slice" },
        { "[Match]\nCgroup=system.slice/a.service\n", 2, "cgroup paths start with \"/\"" },
        { "[Match]\nUnit=a.service\n[Actions]\nLadder=\n", 4, "Ladder= is empty" },
        { "[Match]\nUnit=a.service\n[Actions]\nLadder=alert explode\n", 4, "unknown rung \"explode\"" },
        { "[Match]\nUnit=a.service\n[Actions]\nLadder=alert alert\n", 4, "rung \"alert\" appears twice" },
        { "[Match]\nUnit=a.service\n[Actions]\nLadder=alert\nLadder=reclaim alert\n", 5, "appears twice" },
        { "[Match]\nUnit=a.service\n[Actions]\nLadder=kill reclaim\n", 4,
          "rung \"reclaim\" must come before \"kill\"" },
        { "[Match]\nUnit=a.service\n[Actions]\nLadder=alert reclaim\n[Alert]\nSettle=0\n", 6,
          "[Alert] Settle=0: \"alert\" is followed by \"reclaim\"" },
        { "[Match]\nUnit=a.service\n[Reclaim]\nCooldown=0\n[Actions]\nLadder=alert reclaim\n", 4,
          "[Reclaim] Cooldown=0: \"reclaim\" is the last rung" },
        { "[Match]\nUnit=a.service\n[Actions]\nDryRun=maybe\n", 4, "not a boolean" },
        { "[Match]\nUnit=a.service\n[Pressure]\nSomeAvg10=150%\n", 4, "out of range percentage" },
        { "[Match]\nUnit=a.service\n[Pressure]\nFullAvg10=5\n", 4, "invalid percentage" },
        { "[Match]\nUnit=a.service\n[Pressure]\nUsage=lots\n", 4, "invalid amount" },
        { "[Match]\nUnit=a.service\n[Pressure]\nBrake=0%\n", 4, "use Brake=off" },
        { "[Match]\nUnit=a.service\n[Pressure]\nSampleInterval=50ms\n", 4, "too short (at least 100ms)" },
        { "[Match]\nUnit=a.service\n[Reclaim]\nAmount=0\n", 4, "would reclaim nothing" },
        { "[Match]\nUnit=a.service\n[Kill]\nMode=nuke\n", 4, "unknown kill mode" },
        { "[Match]\nUnit=a.service\n[DropCache]\nPaths=/ok/** var/log/*\n", 4, "not an absolute path glob" },
        { "[Match]\nUnit=a.service\n[Restart]\nCommand=podman restart %n\n", 4, "unknown specifier %n" },
        { "[Match]\nUnit=a.service\n[Restart]\nCommand=kill 100%\n", 4, "Command=kill 100%: a lone % (%% is a percent sign)" },
        /* One command language: the old meanings of %p in [Restart] and %c in [Trim] are refused. */
        { "[Match]\nUnit=a.service\n[Restart]\nCommand=x --cgroup %p\n", 4,
          "Command=x --cgroup %p: %p is the PID of the process the command is for, which [Restart] Command= does not "
          "have; it meant the cgroup path here before: write %g for that" },
        { "[Match]\nUnit=a.service\n\n[Trim]\nCommandMatch=java\nCommand=x %c\n", 6,
          "Command=x %c: %c is the container id of the guarded cgroup, which [Trim] Command= does not have; it meant "
          "the cgroup path here before: write %g for that" },
        { "[Match]\nUnit=a.service\n[Trim]\nCommand=%g/jcmd\n", 4, "the program must be named, not a specifier" },
        { "[Match]\nUnit=a.service\n[Restart]\nLeadTime=soon\n", 4, "invalid time" },
        { "[Match]\nUnit=a.service\n[Restart]\nBurst=-1\n", 4, "not a number" },
        { "[Match]\nUnit=a.service\n[Restart]\nStopTimeout=off\n", 4, "invalid time" },
        { "[Match]\nUnit=a.service\nCgroup=/a\0b\n", 3, "NUL byte" },
        { "[Match]\nContainer=machine.slice/web\n", 2, "container names contain no \"/\"" },
        { "[Match]\n\nContainer=web\nPod=web-*\n", 4, "Pod= is \"<namespace>/<pod name>\" (e.g. Pod=*/web-*)" },
        { "[Match]\nPodNamespace=Prod\n", 2, "PodNamespace=Prod can never match" },
        { "[Match]\nPodNamespace=a/b\n", 2, "namespace names are lowercase" },
        { "[Match]\nContainer=web\nContainer=\n", 3, "[Match] has no Unit=, Slice=, Cgroup=, Container=" },
};

Test(policy_load, bad_cases)
{
        for (size_t i = 0; i < ELEMENTSOF(bad_cases); i++) {
                ConfigError err = {};
                Policy *p = (Policy *) 0x1;
                size_t len = strlen(bad_cases[i].text);
                if (strstr(bad_cases[i].message, "NUL"))
                        len += 1 + strlen(bad_cases[i].text + len + 1);
                int r = policy_load_buffer("/test/policy.d/t.conf", bad_cases[i].text, len, &p, &err);

                cr_assert_eq(r, -EINVAL, "case %zu: r=%d", i, r);
                cr_assert_eq(p, (Policy *) 0x1, "case %zu: ret written on failure", i);
                cr_assert_str_eq(err.file, "/test/policy.d/t.conf", "case %zu", i);
                cr_assert_eq(err.line, bad_cases[i].line, "case %zu: line %u, want %u (%s)", i, err.line,
                             bad_cases[i].line, err.message);
                cr_assert_not_null(strstr(err.message, bad_cases[i].message), "case %zu: \"%s\" lacks \"%s\"", i,
                                   err.message, bad_cases[i].message);
        }
}

Test(policy_load, line_too_long)
{
        char text[1024];
        int n = snprintf(text, sizeof text, "[Match]\nUnit=a.service\nCgroup=/");
        memset(text + n, 'x', 400);
        strcpy(text + n + 400, "\n");

        ConfigError err = {};
        int r;
        Policy *p = load_string(text, &err, &r);
        cr_assert_eq(r, -EINVAL);
        cr_assert_null(p);
        cr_assert_eq(err.line, 3);
        cr_assert_not_null(strstr(err.message, "line too long"), "%s", err.message);
}

Test(policy_load, bad_files)
{
        ConfigError err = {};
        Policy *p = NULL;

        cr_assert_eq(policy_load_file(POLICY_FIXTURES "/bad/unit-typo.conf", &p, &err), -EINVAL);
        cr_assert_null(p);
        cr_assert_str_eq(err.file, POLICY_FIXTURES "/bad/unit-typo.conf");
        cr_assert_eq(err.line, 3);
        cr_assert_not_null(strstr(err.message, "did you mean nginx.service?"));

        cr_assert_eq(policy_load_file(POLICY_FIXTURES "/bad/stall-window.conf", &p, &err), -EINVAL);
        cr_assert_eq(err.line, 5);
        cr_assert_not_null(strstr(err.message, "larger than its window"));

        cr_assert_eq(policy_load_file(POLICY_FIXTURES "/bad/does-not-exist.conf", &p, &err), -ENOENT);
        cr_assert_eq(err.line, 0);
        cr_assert_not_null(strstr(err.message, "cannot open"));

        cr_assert_eq(policy_load_file(POLICY_FIXTURES "/bad", &p, &err), -EINVAL);
        cr_assert_not_null(strstr(err.message, "not a regular file"));
        cr_assert_null(p);
}

/* ---------------------------------------------------------------------------------------------------- */
/* the daemon's file */

Test(policy_load, daemon_config)
{
        ConfigError err = {};
        Config *c = NULL;

        cr_assert_eq(config_load(POLICY_FIXTURES "/daemon-all.conf", NULL, &c, &err), 0, "%s:%u: %s", err.file,
                     err.line, err.message);
        cr_assert_str_eq(c->main_conf, POLICY_FIXTURES "/daemon-all.conf");
        cr_assert_eq(c->daemon.log_level, LOG_DEBUG);
        cr_assert_str_eq(c->daemon.cgroup_root, "/sys/fs/cgroup/test");
        cr_assert_str_eq(c->daemon.control_socket, "/run/test/control");
        cr_assert_str_eq(c->daemon.state_dir, "/run/test");
        cr_assert(c->daemon.dry_run);
        cr_assert_eq(c->daemon.alert_rate_usec, 60 * USEC_PER_SEC);
        cr_assert_eq(c->daemon.alert_rate_burst, 3);
        cr_assert_eq(c->n_policies, 0);
        config_free(c);

        /* missing: defaults */
        cr_assert_eq(config_load(POLICY_FIXTURES "/no-such.conf", NULL, &c, &err), 0);
        cr_assert_null(c->main_conf);
        cr_assert_eq(c->daemon.log_level, LOG_INFO);
        cr_assert_null(c->daemon.cgroup_root);
        cr_assert_str_eq(c->daemon.control_socket, "/run/memwarden/control");
        cr_assert_str_eq(c->daemon.state_dir, "/run/memwarden");
        cr_assert(!c->daemon.dry_run);
        cr_assert_eq(c->daemon.alert_rate_usec, 30 * USEC_PER_SEC);
        cr_assert_eq(c->daemon.alert_rate_burst, 10);
        config_free(c);
}

Test(policy_load, daemon_config_bad)
{
        static const struct {
                const char *text;
                unsigned line;
                const char *message;
        } cases[] = {
                { "[Daemon]\nLogLevel=loud\n", 2, "unknown log level" },
                { "[Daemon]\nControlSocket=run/control\n", 2, "not an absolute path" },
                { "[Daemon]\nCgroupRoot=sys\n", 2, "not an absolute path" },
                { "[Daemon]\nRateLimitBurst=ten\n", 2, "not a number" },
                { "[Daemon]\nRateLimitBurst=99999999999\n", 2, "too large" },
                { "[Daemon]\nRateLimitInterval=30 parsecs\n", 2, "invalid time" },
                { "[Daemon]\nDryRun=perhaps\n", 2, "not a boolean" },
                { "[Daemon]\nLogLevel=info\n[Match]\nUnit=a.service\n", 3, "unknown section [Match]" },
                { "[Daemon]\nLoglevel=info\n", 2, "did you mean LogLevel=?" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                ConfigError err = {};
                DaemonConfig d = { .log_level = 42 };
                int r = daemon_config_load_buffer("/etc/memwarden/memwarden.conf", cases[i].text,
                                                  strlen(cases[i].text), &d, &err);
                cr_assert_eq(r, -EINVAL, "case %zu", i);
                cr_assert_eq(d.log_level, 42, "case %zu: ret written on failure", i);
                cr_assert_eq(err.line, cases[i].line, "case %zu: %u %s", i, err.line, err.message);
                cr_assert_not_null(strstr(err.message, cases[i].message), "case %zu: %s", i, err.message);
        }

        /* empty values reset to defaults; CgroupRoot=auto is NULL */
        const char *text = "[Daemon]\nCgroupRoot=/x\nCgroupRoot=auto\nControlSocket=/a\nControlSocket=\n"
                           "LogLevel=debug\nLogLevel=\n";
        DaemonConfig d;
        ConfigError err;
        cr_assert_eq(daemon_config_load_buffer("m.conf", text, strlen(text), &d, &err), 0, "%s", err.message);
        cr_assert_null(d.cgroup_root);
        cr_assert_str_eq(d.control_socket, "/run/memwarden/control");
        cr_assert_eq(d.log_level, LOG_INFO);
        daemon_config_done(&d);
}

/* ---------------------------------------------------------------------------------------------------- */
/* the search: masking, ordering, security */

#define POLICY_TEXT(unit) "[Match]\nUnit=" unit "\n"

Test(policy_load, masking_and_ordering, .fini = cleanup_tmpdir)
{
        make_tmpdir();
        char *etc = pathf("%s/etc", tmpdir), *run = pathf("%s/run", tmpdir), *lib = pathf("%s/lib", tmpdir);
        cr_assert_eq(mkdir(etc, 0755), 0);
        cr_assert_eq(mkdir(run, 0755), 0);
        cr_assert_eq(mkdir(lib, 0755), 0);

        char *f;
#define WRITE(dir, name, text)                                                                              \
        do {                                                                                                \
                f = pathf("%s/%s", dir, name);                                                              \
                write_file(f, text);                                                                        \
                free(f);                                                                                    \
        } while (0)
        WRITE(lib, "10-a.conf", POLICY_TEXT("a.service"));
        WRITE(lib, "20-b.conf", POLICY_TEXT("b.service"));
        WRITE(lib, "30-c.conf", POLICY_TEXT("c.service"));
        WRITE(lib, "40-d.conf", POLICY_TEXT("d.service"));
        WRITE(lib, "notes.txt", "not a policy");
        WRITE(lib, ".hidden.conf", "garbage that would not parse");
        WRITE(lib, "50-broken.conf.disabled", "garbage that would not parse");
        WRITE(etc, "10-a.conf", POLICY_TEXT("a2.service")); /* /etc masks /usr/lib */
        WRITE(etc, "20-b.conf", "");                        /* an empty file disables the name */
        WRITE(run, "05-z.conf", POLICY_TEXT("*"));
        f = pathf("%s/30-c.conf", run);
        cr_assert_eq(symlink("/dev/null", f), 0); /* /dev/null disables the name */
        free(f);
        f = pathf("%s/subdir.conf", lib);
        cr_assert_eq(mkdir(f, 0755), 0); /* directories are ignored */
        free(f);
#undef WRITE

        /* a missing directory in the list is fine */
        char *missing = pathf("%s/missing", tmpdir);
        const char *dirs[] = { etc, run, missing, lib, NULL };
        Config *c = NULL;
        ConfigError err = {};
        cr_assert_eq(config_load(NULL, dirs, &c, &err), 0, "%s:%u: %s", err.file, err.line, err.message);

        cr_assert_eq(c->n_policies, 3);
        cr_assert_str_eq(c->policies[0]->name, "05-z");
        cr_assert_str_eq(c->policies[1]->name, "10-a");
        cr_assert_str_eq(c->policies[2]->name, "40-d");
        char *expect = pathf("%s/10-a.conf", etc);
        cr_assert_str_eq(c->policies[1]->path, expect);
        cr_assert_str_eq(c->policies[1]->match_unit[0], "a2.service");
        free(expect);

        cr_assert_eq(strv_length(c->masked), 5);
        const char *masked_expect[] = { "lib/10-a.conf", "etc/20-b.conf", "lib/20-b.conf", "run/30-c.conf",
                                        "lib/30-c.conf" };
        for (size_t i = 0; i < 5; i++) {
                char *m = pathf("%s/%s", tmpdir, masked_expect[i]);
                cr_assert_str_eq(c->masked[i], m);
                free(m);
        }

        /* first match wins, in file name order: 05-z matches everything */
        const Policy *p = config_match(c, "/system.slice/a2.service", "a2.service", "system.slice", true);
        cr_assert_not_null(p);
        cr_assert_str_eq(p->name, "05-z");
        config_free(c);

        /* without 05-z, a2.service goes to 10-a, d.service to 40-d, b.service (masked) nowhere */
        f = pathf("%s/05-z.conf", run);
        cr_assert_eq(unlink(f), 0);
        free(f);
        cr_assert_eq(config_load(NULL, dirs, &c, &err), 0);
        p = config_match(c, "/system.slice/a2.service", "a2.service", "system.slice", true);
        cr_assert_str_eq(p->name, "10-a");
        p = config_match(c, "/system.slice/d.service", "d.service", "system.slice", true);
        cr_assert_str_eq(p->name, "40-d");
        cr_assert_null(config_match(c, "/system.slice/b.service", "b.service", "system.slice", true));
        cr_assert_null(config_match(c, "/system.slice/a.service", "a.service", "system.slice", true));

        /* the dump names every policy's file and the masked ones */
        char *d = dump_config(c);
        cr_assert_not_null(strstr(d, "# (built-in defaults)\n[Daemon]\n"));
        cr_assert_not_null(strstr(d, "/etc/10-a.conf\n[Match]\nUnit=a2.service\n"), "%s", d);
        cr_assert_not_null(strstr(d, "# masked: "));
        free(d);
        config_free(c);

        free(etc);
        free(run);
        free(lib);
        free(missing);
}

Test(policy_load, broken_set_loads_nothing, .fini = cleanup_tmpdir)
{
        make_tmpdir();
        char *good = pathf("%s/10-good.conf", tmpdir), *bad = pathf("%s/20-bad.conf", tmpdir);
        write_file(good, POLICY_TEXT("a.service"));
        write_file(bad, "[Match]\nUnit=a.service\n[Actions]\nLadder=kill alert\n");

        const char *dirs[] = { tmpdir, NULL };
        Config *c = (Config *) 0x1;
        ConfigError err = {};
        cr_assert_eq(config_load(NULL, dirs, &c, &err), -EINVAL);
        cr_assert_eq(c, (Config *) 0x1, "ret written on failure");
        cr_assert_str_eq(err.file, bad);
        cr_assert_eq(err.line, 4);
        cr_assert_not_null(strstr(err.message, "must come before"));
        free(good);
        free(bad);
}

Test(policy_load, reload_keeps_old_config, .fini = cleanup_tmpdir)
{
        make_tmpdir();
        char *f = pathf("%s/50-x.conf", tmpdir);
        write_file(f, POLICY_TEXT("x.service"));
        const char *dirs[] = { tmpdir, NULL };

        Config *running = NULL;
        ConfigError err = {};
        cr_assert_eq(config_load(POLICY_FIXTURES "/daemon-all.conf", dirs, &running, &err), 0);
        char *before = dump_config(running);

        /* the operator breaks the file and reloads */
        write_file(f, "[Match]\nUnit=x.service\n[Pressure]\nSomeTrigger=5s/1s\n");
        Config *next = running;
        int r = config_load(POLICY_FIXTURES "/daemon-all.conf", dirs, &next, &err);
        cr_assert_eq(r, -EINVAL);
        cr_assert_eq(next, running, "the caller's pointer must be untouched");
        cr_assert_eq(err.line, 4);
        cr_assert_str_eq(err.file, f);

        char *after = dump_config(running);
        cr_assert_str_eq(before, after);
        cr_assert_not_null(config_match(running, "/system.slice/x.service", "x.service", "system.slice", true));

        /* a broken main config is rejected the same way */
        char *main_conf = pathf("%s/memwarden.conf", tmpdir);
        write_file(main_conf, "[Daemon]\nLogLevel=verbose\n");
        write_file(f, POLICY_TEXT("x.service"));
        next = running;
        cr_assert_eq(config_load(main_conf, dirs, &next, &err), -EINVAL);
        cr_assert_eq(next, running);
        cr_assert_str_eq(err.file, main_conf);
        cr_assert_eq(err.line, 2);

        free(before);
        free(after);
        free(main_conf);
        free(f);
        config_free(running);
}

Test(policy_load, security, .fini = cleanup_tmpdir)
{
        make_tmpdir();
        char *f = pathf("%s/50-x.conf", tmpdir);
        write_file(f, POLICY_TEXT("x.service"));
        const char *dirs[] = { tmpdir, NULL };
        Config *c = NULL;
        ConfigError err = {};

        cr_assert_eq(chmod(f, 0666), 0);
        cr_assert_eq(config_load(NULL, dirs, &c, &err), -EPERM);
        cr_assert_str_eq(err.file, f);
        cr_assert_not_null(strstr(err.message, "world-writable"), "%s", err.message);
        /* the owner switch does not excuse a world-writable file */
        config_set_check_ownership(false);
        cr_assert_eq(config_load(NULL, dirs, &c, &err), -EPERM);
        config_set_check_ownership(true);
        cr_assert_eq(chmod(f, 0644), 0);

        cr_assert_eq(chmod(tmpdir, 0777), 0);
        cr_assert_eq(config_load(NULL, dirs, &c, &err), -EPERM);
        cr_assert_str_eq(err.file, tmpdir);
        cr_assert_not_null(strstr(err.message, "directory is world-writable"));
        cr_assert_eq(chmod(tmpdir, 0755), 0);

        cr_assert_eq(config_load(NULL, dirs, &c, &err), 0);
        config_free(c);

        if (geteuid() == 0) {
                cr_assert_eq(chown(f, 4242, 4242), 0);
                cr_assert_eq(config_load(NULL, dirs, &c, &err), -EPERM);
                cr_assert_not_null(strstr(err.message, "owned by uid 4242, not root"), "%s", err.message);
                config_set_check_ownership(false);
                cr_assert_eq(config_load(NULL, dirs, &c, &err), 0, "%s", err.message);
                config_free(c);
                config_set_check_ownership(true);
        }
        free(f);
}

Test(policy_load, load_files_in_given_order)
{
        char *files[] = { POLICY_FIXTURES "/good/minimal.conf", POLICY_FIXTURES "/good/all-keys.conf", NULL };
        Config *c = NULL;
        ConfigError err = {};

        cr_assert_eq(config_load_files(files, &c, &err), 0, "%s", err.message);
        cr_assert_eq(c->n_policies, 2);
        cr_assert_str_eq(c->policies[0]->name, "minimal");
        cr_assert_str_eq(c->policies[1]->name, "all-keys");
        cr_assert_null(c->main_conf);
        config_free(c);

        char *bad[] = { POLICY_FIXTURES "/good/minimal.conf", POLICY_FIXTURES "/bad/unit-typo.conf", NULL };
        c = (Config *) 0x1;
        cr_assert_eq(config_load_files(bad, &c, &err), -EINVAL);
        cr_assert_eq(c, (Config *) 0x1);
        cr_assert_eq(err.line, 3);
}

/* ---------------------------------------------------------------------------------------------------- */
/* matching */

Test(policy_load, matching_table)
{
        const char *text = "[Match]\n"
                           "Unit=nginx.service web-*.service\n"
                           "Slice=machine.slice\n"
                           "Cgroup=/kubepods.slice/*\n";
        ConfigError err;
        int r;
        Policy *p = load_string(text, &err, &r);
        cr_assert_eq(r, 0, "%s", err.message);

        static const struct {
                const char *cgpath, *unit, *slice;
                bool is_unit_cgroup, match;
        } table[] = {
                { "/system.slice/nginx.service", "nginx.service", "system.slice", true, true },
                { "/system.slice/web-1.service", "web-1.service", "system.slice", true, true },
                /* a sub-cgroup of the unit: Unit= is not tested */
                { "/system.slice/nginx.service/worker", "nginx.service", "system.slice", false, false },
                { "/system.slice/apache.service", "apache.service", "system.slice", true, false },
                /* Slice=: units directly in the slice */
                { "/machine.slice/machine-x.scope", "machine-x.scope", "machine.slice", true, true },
                { "/machine.slice/machine-x.scope/payload", "machine-x.scope", "machine.slice", false, false },
                /* ... but not the slice's own cgroup, nor a nested slice */
                { "/machine.slice", "machine.slice", "-.slice", true, false },
                { "/machine.slice/sub.slice", "sub.slice", "machine.slice", true, false },
                /* Cgroup=: "*" crosses "/" */
                { "/kubepods.slice/pod1/container", NULL, NULL, false, true },
                { "/kubepods.slice", NULL, NULL, false, false },
                { "/other", NULL, NULL, false, false },
                { "/system.slice/nginx.service", NULL, NULL, true, false },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                cr_assert_eq(policy_matches(p, table[i].cgpath, table[i].unit, table[i].slice,
                                            table[i].is_unit_cgroup),
                             table[i].match, "row %zu: %s", i, table[i].cgpath);

        /* Slice= of the root slice for units directly in it */
        policy_free(p);
        p = load_string("[Match]\nSlice=-.slice\n", &err, &r);
        cr_assert_eq(r, 0);
        cr_assert(policy_matches(p, "/init.scope", "init.scope", "-.slice", true));
        cr_assert(!policy_matches(p, "/system.slice", "system.slice", "-.slice", true));
        policy_free(p);
}

/* Container=, ContainerImage=, PodNamespace=, Pod=: the container's own cgroup only. */
Test(policy_load, matching_containers)
{
        const char *text = "[Match]\n"
                           "Container=web db-*\n"
                           "ContainerImage=*/redis:*\n"
                           "PodNamespace=shop\n"
                           "Pod=kube-system/etcd-*\n";
        ConfigError err;
        int r;
        Policy *p = load_string(text, &err, &r);
        cr_assert_eq(r, 0, "%s", err.message);

        static const struct {
                const char *name, *image, *pod_namespace, *pod_name;
                bool is_container_cgroup, match;
        } table[] = {
                { "web", NULL, NULL, NULL, true, true },
                { "db-1", "localhost/pg:16", NULL, NULL, true, true },
                { "web", NULL, NULL, NULL, false, false }, /* the parent scope or a sub-cgroup */
                { "webby", NULL, NULL, NULL, true, false },
                { "cache", "docker.io/redis:7", NULL, NULL, true, true },
                { "cache", "redis:7", NULL, NULL, true, false },
                { "nginx", NULL, "shop", "front-1", true, true },
                { "nginx", NULL, "shop-staging", "front-1", true, false },
                { "etcd", NULL, "kube-system", "etcd-node1", true, true },
                { "etcd", NULL, "default", "etcd-node1", true, false },
                { NULL, NULL, "shop", NULL, true, true },  /* the pod's sandbox: no container name */
                { NULL, NULL, NULL, NULL, true, false },   /* names unknown */
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                CgroupIdentity id = {
                        .container_id = (char *) "0123",
                        .is_container_cgroup = table[i].is_container_cgroup,
                        .container_name = (char *) table[i].name,
                        .container_image = (char *) table[i].image,
                        .pod_namespace = (char *) table[i].pod_namespace,
                        .pod_name = (char *) table[i].pod_name,
                };
                cr_assert_eq(policy_matches_identity(p, "/machine.slice/x", &id), table[i].match, "row %zu", i);
        }

        /* Unit=/Cgroup= still work through the identity */
        policy_free(p);
        p = load_string("[Match]\nUnit=nginx.service\n", &err, &r);
        cr_assert_eq(r, 0);
        CgroupIdentity id = { .unit = (char *) "nginx.service", .slice = (char *) "system.slice",
                              .is_unit_cgroup = true };
        cr_assert(policy_matches_identity(p, "/system.slice/nginx.service", &id));
        policy_free(p);
}

/* ---------------------------------------------------------------------------------------------------- */
/* dumps */

Test(policy_load, golden_dumps)
{
        cr_assert_eq(chdir(POLICY_FIXTURES), 0);
        bool update = getenv("MEMWARDEN_UPDATE_GOLDEN") != NULL;
        DIR *d = opendir("good");
        cr_assert_not_null(d);
        struct dirent *de;
        unsigned n = 0;

        while ((de = readdir(d))) {
                size_t len = strlen(de->d_name);
                if (len <= 5 || !streq(de->d_name + len - 5, ".conf"))
                        continue;

                char *path = pathf("good/%s", de->d_name);
                char *golden = pathf("golden/%.*s.dump", (int) (len - 5), de->d_name);
                Policy *p = NULL;
                ConfigError err = {};
                cr_assert_eq(policy_load_file(path, &p, &err), 0, "%s:%u: %s", err.file, err.line, err.message);
                char *dump = dump_policy(p);

                if (update)
                        write_file(golden, dump);
                char *want = read_file(golden);
                cr_assert_not_null(want, "%s is missing (run with MEMWARDEN_UPDATE_GOLDEN=1)", golden);
                cr_assert_str_eq(dump, want, "%s differs from %s", path, golden);

                /* the dump loads again and dumps the same */
                Policy *q = NULL;
                cr_assert_eq(policy_load_buffer(path, dump, strlen(dump), &q, &err), 0, "%s: %u: %s", golden,
                             err.line, err.message);
                char *again = dump_policy(q);
                cr_assert_str_eq(again, dump);

                free(again);
                policy_free(q);
                free(want);
                free(dump);
                policy_free(p);
                free(golden);
                free(path);
                n++;
        }
        closedir(d);
        cr_assert_geq(n, 3);
}

Test(policy_load, config_dump_reloads)
{
        ConfigError err = {};
        Config *c = NULL;
        cr_assert_eq(config_load(POLICY_FIXTURES "/daemon-all.conf", NULL, &c, &err), 0);
        char *d = dump_config(c);
        DaemonConfig dc;
        cr_assert_eq(daemon_config_load_buffer("dump", d, strlen(d), &dc, &err), 0, "%u: %s", err.line, err.message);
        cr_assert_eq(dc.log_level, LOG_DEBUG);
        cr_assert_str_eq(dc.cgroup_root, "/sys/fs/cgroup/test");
        cr_assert_eq(dc.alert_rate_usec, 60 * USEC_PER_SEC);
        cr_assert_eq(dc.alert_rate_burst, 3);
        daemon_config_done(&dc);
        free(d);
        config_free(c);
}

/* ---------------------------------------------------------------------------------------------------- */
/* the shipped configuration */

Test(policy_load, shipped_files_load)
{
        const char *dirs[] = { SOURCE_ROOT "/etc/policy.d", NULL };
        Config *c = NULL;
        ConfigError err = {};

        cr_assert_eq(config_load(SOURCE_ROOT "/etc/memwarden.conf", dirs, &c, &err), 0, "%s:%u: %s", err.file,
                     err.line, err.message);
        cr_assert_not_null(c->main_conf, "etc/memwarden.conf must exist");
        /* everything in it is commented out: the defaults */
        cr_assert_eq(c->daemon.log_level, LOG_INFO);
        cr_assert_null(c->daemon.cgroup_root);
        cr_assert_str_eq(c->daemon.control_socket, "/run/memwarden/control");
        cr_assert_eq(c->daemon.alert_rate_burst, 10);
        cr_assert_geq(c->n_policies, 1);

        /* the default policy alerts for services in system.slice, and nothing else */
        const Policy *p = config_match(c, "/system.slice/cron.service", "cron.service", "system.slice", true);
        cr_assert_not_null(p);
        cr_assert_eq(p->n_ladder, 1);
        cr_assert_eq(p->ladder[0], RUNG_ALERT);
        cr_assert_null(config_match(c, "/user.slice/user-1000.slice/session-1.scope", "session-1.scope",
                                    "user-1000.slice", true));
        config_free(c);

        /* and every example */
        DIR *d = opendir(SOURCE_ROOT "/etc/policy.d");
        cr_assert_not_null(d);
        struct dirent *de;
        unsigned n = 0;
        while ((de = readdir(d))) {
                if (!strstr(de->d_name, ".conf"))
                        continue;
                char *f = pathf(SOURCE_ROOT "/etc/policy.d/%s", de->d_name);
                char *files[] = { f, NULL };
                cr_assert_eq(config_load_files(files, &c, &err), 0, "%s:%u: %s", err.file, err.line, err.message);
                config_free(c);
                free(f);
                n++;
        }
        closedir(d);
        cr_assert_geq(n, 2, "the default policy and at least one example");
}

Test(policy_load, lint_warns_about_a_brake_nothing_can_relieve)
{
        static const char base[] = "[Match]\nUnit=a.service\n[Pressure]\nSomeTrigger=100ms/1s\nBrake=90%%\n"
                                   "MaxThrottle=10s\n[Actions]\nLadder=%s\n";
        static const struct {
                const char *ladder;
                unsigned warnings;
        } cases[] = { { "alert", 1 }, { "alert kill", 0 }, { "trim", 0 }, { "alert reclaim", 0 } };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char buf[512], w[512];
                snprintf(buf, sizeof buf, base, cases[i].ladder);
                Policy *p = NULL;
                ConfigError err = {};
                cr_assert_eq(policy_load_buffer("/x/lint.conf", buf, strlen(buf), &p, &err), 0, "%s", err.message);
                cr_assert_eq(policy_lint(p, w, sizeof w), cases[i].warnings, "Ladder=%s: %s", cases[i].ladder, w);
                if (cases[i].warnings)
                        cr_assert(strstr(w, "Brake=") && strstr(w, "MaxThrottle=10s"), "%s", w);
                else
                        cr_assert_str_eq(w, "");
                policy_free(p);
        }
        /* No brake, no warning, whatever the ladder. */
        const char *nb = "[Match]\nUnit=a.service\n[Actions]\nLadder=alert\n";
        Policy *p = NULL;
        ConfigError err = {};
        char w[512];
        cr_assert_eq(policy_load_buffer("/x/nb.conf", nb, strlen(nb), &p, &err), 0, "%s", err.message);
        cr_assert_eq(policy_lint(p, w, sizeof w), 0);
        policy_free(p);
}

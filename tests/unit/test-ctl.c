/* SPDX-License-Identifier: MIT */
/* memwardenctl, the binary: `check` on every shipped file and every broken fixture (exit status and the
 * exact file:line message), golden output of the effective dump, and the CLI's own contract. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

static char out[1 << 16], err[1 << 16];

/* Runs memwardenctl with args (a shell word list), captures stdout and stderr, returns the exit status. */
static int ctl_in(const char *cwd, const char *args)
{
        const char *bin = getenv("MEMWARDENCTL");
        cr_assert_not_null(bin, "MEMWARDENCTL not set (run through meson test)");
        /* Per process: other checkouts may run this test at the same time. */
        char o[64], e[64], cmd[4096];
        snprintf(o, sizeof o, "/tmp/mwctl-test.%d.out", (int) getpid());
        snprintf(e, sizeof e, "/tmp/mwctl-test.%d.err", (int) getpid());
        snprintf(cmd, sizeof cmd, "cd '%s' && %s %s >%s 2>%s", cwd, bin, args, o, e);
        int status = system(cmd);
        cr_assert(WIFEXITED(status), "memwardenctl did not exit normally");
        FILE *f = fopen(o, "re");
        size_t n = fread(out, 1, sizeof out - 1, f);
        out[n] = 0;
        fclose(f);
        f = fopen(e, "re");
        n = fread(err, 1, sizeof err - 1, f);
        err[n] = 0;
        fclose(f);
        unlink(o);
        unlink(e);
        return WEXITSTATUS(status);
}

static int ctl(const char *args)
{
        return ctl_in("/", args);
}

static const struct {
        const char *file;
        unsigned line;
        const char *message;
} broken[] = {
        { "syntax.conf", 3, "syntax error" },
        { "unknown-key.conf", 4, "unknown key SomeTriger= in [Pressure]" },
        { "bad-unit.conf", 4, "Hysteresis=10 parsecs: invalid time" },
        { "stall-window.conf", 5, "is larger than its window" },
        { "window-range.conf", 4, "the window must be between 500ms and 10s" },
        { "unit-typo.conf", 3, "can never match a unit name: did you mean nginx.service?" },
        { "never-matches.conf", 2, "can never match a slice name: did you mean system.slice?" },
        { "ladder-order.conf", 4, "must come before" },
};

Test(ctl, check_rejects_each_broken_file_with_file_and_line)
{
        for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
                char args[1024], want[1024];
                snprintf(args, sizeof args, "check " FIXTURES_DIR "/policy/bad/%s", broken[i].file);
                int rc = ctl(args);
                cr_expect_eq(rc, 1, "%s: exit %d, want 1", broken[i].file, rc);
                snprintf(want, sizeof want, FIXTURES_DIR "/policy/bad/%s:%u: ", broken[i].file, broken[i].line);
                cr_expect(strncmp(err, want, strlen(want)) == 0, "%s: stderr '%s' does not start with '%s'",
                        broken[i].file, err, want);
                cr_expect(strstr(err, broken[i].message), "%s: '%s' lacks '%s'", broken[i].file, err,
                        broken[i].message);
                cr_expect_str_empty(out, "%s: printed a policy although it is broken", broken[i].file);
        }
}

Test(ctl, every_broken_fixture_is_in_the_table)
{
        DIR *d = opendir(FIXTURES_DIR "/policy/bad");
        cr_assert_not_null(d);
        struct dirent *de;
        size_t n = 0;
        while ((de = readdir(d))) {
                if (!strstr(de->d_name, ".conf"))
                        continue;
                bool found = false;
                for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++)
                        found = found || strcmp(broken[i].file, de->d_name) == 0;
                cr_expect(found, "bad/%s has no expectation in test-ctl.c", de->d_name);
                n++;
        }
        closedir(d);
        cr_assert_eq(n, sizeof broken / sizeof broken[0]);
}

Test(ctl, check_accepts_every_shipped_file)
{
        DIR *d = opendir(SOURCE_ROOT "/etc/policy.d");
        cr_assert_not_null(d);
        struct dirent *de;
        size_t n = 0;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                char args[1024];
                snprintf(args, sizeof args, "check " SOURCE_ROOT "/etc/policy.d/%s", de->d_name);
                int rc = ctl(args);
                cr_expect_eq(rc, 0, "shipped %s rejected: %s", de->d_name, err);
                cr_expect(strstr(out, "[Match]"), "no effective dump for %s", de->d_name);
                n++;
        }
        closedir(d);
        cr_assert_geq(n, 2, "fewer shipped policies than expected");

        /* The whole shipped configuration as the daemon would load it. */
        int rc = ctl("check -c " SOURCE_ROOT "/etc/memwarden.conf -p " SOURCE_ROOT "/etc/policy.d");
        cr_assert_eq(rc, 0, "%s", err);
        cr_assert(strstr(out, "[Daemon]"), "dump lacks [Daemon]: %s", out);
        cr_assert(strstr(out, "Slice=system.slice"), "dump lacks the default policy: %s", out);
        /* .example files are not loaded from a policy directory. */
        cr_assert_null(strstr(out, "myapp.service"), "an .example file was loaded");
}

Test(ctl, check_output_matches_golden_files)
{
        static const char *names[] = { "minimal", "all-keys", "syntax" };
        for (size_t i = 0; i < 3; i++) {
                char args[1024], path[1024], golden[1 << 16];
                /* The golden dump names the file as given: good/NAME.conf, relative to fixtures/policy. */
                snprintf(args, sizeof args, "check good/%s.conf", names[i]);
                cr_assert_eq(ctl_in(FIXTURES_DIR "/policy", args), 0, "%s: %s", names[i], err);
                snprintf(path, sizeof path, FIXTURES_DIR "/policy/golden/%s.dump", names[i]);
                FILE *f = fopen(path, "re");
                cr_assert_not_null(f, "%s", path);
                size_t n = fread(golden, 1, sizeof golden - 1, f);
                golden[n] = 0;
                fclose(f);
                cr_expect_str_eq(out, golden, "%s differs from its golden dump", names[i]);
        }
}

Test(ctl, cli_contract)
{
        cr_assert_eq(ctl("--help"), 0);
        cr_assert(strstr(out, "check [FILE...]") && strstr(out, "status") && strstr(out, "reload"));
        cr_assert_eq(ctl("--version"), 0);
        cr_assert(strncmp(out, "memwardenctl ", 13) == 0, "%s", out);
        cr_assert_eq(ctl("frobnicate"), 2);
        cr_assert(strstr(err, "Unknown command"), "%s", err);
        cr_assert_eq(ctl("--no-such-option status"), 2);
        cr_assert_eq(ctl("status extra-arg"), 2);
        cr_assert_eq(ctl("--socket /nonexistent/memwarden.sock status"), 3);
        cr_assert(strstr(err, "Cannot reach memwardend"), "%s", err);
        cr_assert_eq(ctl("check /nonexistent/policy.conf"), 1);
        cr_assert(strstr(err, "/nonexistent/policy.conf"), "%s", err);
}

/* ---- trim takes what every verb takes: a unit, a cgroup path or a PID ---- */

#define TRIMFIX FIXTURES_DIR "/trim"
#define TRIM_ROOTS " --cgroup-root " TRIMFIX "/cgroup --proc-root " TRIMFIX "/proc"

static void trim_env(void)
{
        /* No report is awaited (nothing is signalled on a fixture: its PIDs are not this host's). */
        setenv("MEMWARDEN_TRIM_WAIT", "0", 1);
        setenv("MEMWARDEN_TRIM_DIR", "/tmp/mwctl-test-trim", 1);
}

Test(ctl, trim_takes_a_unit_like_map, .init = trim_env)
{
        /* The README's `memwardenctl trim myapp.service`: the unit's cgroup is found by walking the
         * hierarchy, as map does; its processes are listed (201 and 204 have no handler: never signalled). */
        int rc = ctl("trim app.service" TRIM_ROOTS);
        cr_assert_neq(rc, 2, "a unit name is bad usage for trim: %s", err);
        cr_assert_null(strstr(err, "Not a PID"), "%s", err);
        cr_assert(strstr(out, "201 (") && strstr(out, "204 (java): no SIGRTMIN+18 handler"), "out: %s err: %s", out,
                  err);
        char by_unit[sizeof out];
        snprintf(by_unit, sizeof by_unit, "%s", out);

        /* The same cgroup by path gives the same answer. */
        ctl("trim /app.service" TRIM_ROOTS);
        cr_assert_str_eq(out, by_unit);

        /* A unit that is nowhere: the same message map gives, exit 1. */
        cr_assert_eq(ctl("trim nosuch.service" TRIM_ROOTS), 1);
        cr_assert(strstr(err, "nosuch.service: no such cgroup or unit"), "%s", err);
        cr_assert_eq(ctl("map nosuch.service" TRIM_ROOTS), 1);
        cr_assert(strstr(err, "nosuch.service: no such cgroup or unit"), "%s", err);
}

Test(ctl, verbs_parse_their_arguments_one_way, .init = trim_env)
{
        /* Options go anywhere, before or after the verb and its operands. */
        int a = ctl("trim app.service" TRIM_ROOTS);
        char first[sizeof out];
        snprintf(first, sizeof first, "%s", out);
        cr_assert_eq(ctl(TRIM_ROOTS " trim app.service"), a);
        cr_assert_str_eq(out, first);
        /* An option a verb does not take is bad usage, named, not silently ignored. */
        cr_assert_eq(ctl("status --top 3"), 2);
        cr_assert(strstr(err, "--top") && strstr(err, "status"), "%s", err);
        cr_assert_eq(ctl("trim --json app.service" TRIM_ROOTS), 2);
        cr_assert(strstr(err, "--json"), "%s", err);
        /* Missing or extra operands: exit 2 with the verb's usage. */
        cr_assert_eq(ctl("trim"), 2);
        cr_assert_eq(ctl("map"), 2);
        cr_assert_eq(ctl("map a.service b.service"), 2);
        cr_assert_eq(ctl("enroll"), 2);
        cr_assert_eq(ctl("release-brakes extra"), 2);
        /* Each verb's --help. */
        cr_assert_eq(ctl("map --help"), 0);
        cr_assert(strstr(out, "memwardenctl map"), "%s", out);
        cr_assert_eq(ctl("trim --help"), 0);
        cr_assert(strstr(out, "memwardenctl trim"), "%s", out);
}

/* ---- check FILE...: every error of every file, as a linter ---- */

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "we");
        cr_assert_not_null(f, "%s", path);
        fputs(text, f);
        fclose(f);
}

Test(ctl, check_reports_every_error_of_every_file)
{
        char dir[] = "/tmp/mwctl-lint-XXXXXX";
        cr_assert_not_null(mkdtemp(dir));
        char a[256], b[256], good[256], args[1024];
        snprintf(a, sizeof a, "%s/a.conf", dir);
        snprintf(b, sizeof b, "%s/b.conf", dir);
        snprintf(good, sizeof good, "%s/good.conf", dir);
        write_file(a, "[Match]\n"
                      "Unit=a.service\n"
                      "[Pressure]\n"
                      "SomeTriger=10ms/1s\n"         /* 4: unknown key */
                      "Hysteresis=10 parsecs\n"      /* 5: invalid time */
                      "this is not ini\n"            /* 6: syntax error */
                      "[Bogus]\n"                    /* 7: unknown section (its keys are not errors of their own) */
                      "Foo=1\n"
                      "[Actions]\n"
                      "Ladder=alert frobnicate\n");  /* 10: unknown rung */
        write_file(b, "[Match]\n"
                      "Cgroup=/x\n"
                      "[Pressure]\n"
                      "SomeTrigger=2s/1s\n"          /* 4: stall larger than its window */
                      "[Kill]\n"
                      "Mode=sideways\n"              /* 6: bad mode */
                      "[Trim]\n"
                      "Command=jcmd %p VM.x\n");     /* 8: needs CommandMatch= (found after the whole file) */
        write_file(good, "[Match]\nUnit=g.service\n");

        snprintf(args, sizeof args, "check %s /nonexistent/x.conf %s %s", a, good, b);
        cr_assert_eq(ctl(args), 1);
        static const struct {
                const char *file;
                unsigned line;
                const char *message;
        } want[] = {
                { "a.conf", 4, "unknown key SomeTriger= in [Pressure]" },
                { "a.conf", 5, "invalid time" },
                { "a.conf", 6, "syntax error" },
                { "a.conf", 7, "unknown section [Bogus]" },
                { "a.conf", 10, "frobnicate" },
                { "b.conf", 4, "larger than its window" },
                { "b.conf", 6, "sideways" },
                { "b.conf", 8, "needs CommandMatch=" },
        };
        const char *prev = err;
        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                char head[512];
                snprintf(head, sizeof head, "%s/%s:%u: ", dir, want[i].file, want[i].line);
                const char *at = strstr(err, head);
                cr_assert_not_null(at, "no %s in:\n%s", head, err);
                const char *eol = strchr(at, '\n');
                cr_assert(eol && memmem(at, (size_t) (eol - at), want[i].message, strlen(want[i].message)),
                          "%s: lacks '%s':\n%s", head, want[i].message, err);
                cr_assert(at >= prev, "%s out of order (files as given, lines ascending):\n%s", head, err);
                prev = at;
        }
        /* Exactly those, plus the unreadable file; nothing about Foo= or the good file. */
        size_t lines = 0;
        for (const char *p = err; (p = strchr(p, '\n')); p++)
                lines++;
        cr_assert_eq(lines, ELEMENTSOF(want) + 1 + 1, "stderr:\n%s", err); /* + /nonexistent + the summary */
        cr_assert(strstr(err, "/nonexistent/x.conf: "), "%s", err);
        cr_assert_null(strstr(err, "Foo"), "%s", err);
        cr_assert_null(strstr(err, "good.conf"), "%s", err);
        cr_assert(strstr(err, "9 errors in 3 of 4 files"), "%s", err);

        /* Every file good: exit 0, the effective policies printed as before. */
        snprintf(args, sizeof args, "check %s", good);
        cr_assert_eq(ctl(args), 0, "%s", err);
        cr_assert(strstr(out, "Unit=g.service"), "%s", out);

        unlink(a), unlink(b), unlink(good), rmdir(dir);
}

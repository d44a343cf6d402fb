/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-trim.c: the handler bit, candidate selection on a fixture tree (tests/fixtures/trim),
 * signalling real children (never one without the handler), and the report parser on good and hostile
 * input. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup/cgroup-trim.h"
#include "hold-fds.h"

#define TREE FIXTURES_DIR "/trim/cgroup"
#define PROC FIXTURES_DIR "/trim/proc"

Test(cgroup_trim, sigcgt_has)
{
        int s = SIGRTMIN + 18;
        cr_assert(sigcgt_has(UINT64_C(1) << (s - 1), s));
        cr_assert(sigcgt_has(UINT64_C(0x0008000000014a02), s), "the sd-daemon fixture handles it");
        cr_assert_not(sigcgt_has(UINT64_C(0x0000000018016a07), s), "nginx does not");
        cr_assert_not(sigcgt_has(UINT64_MAX, 0));
        cr_assert_not(sigcgt_has(UINT64_MAX, 65));
        cr_assert_not(sigcgt_has(UINT64_MAX, -1));
        cr_assert(sigcgt_has(UINT64_C(1) << 63, 64));
        cr_assert(sigcgt_has(1, 1));
        cr_assert_eq(trim_signal(), SIGRTMIN + 18);
}

Test(cgroup_trim, verdict)
{
        ProcStatus st = { .sig_cgt = UINT64_C(1) << (SIGRTMIN + 18 - 1), .state = 'S' };
        cr_assert_eq(trim_verdict(&st), TRIM_VERDICT_CANDIDATE);
        st.state = 'Z';
        cr_assert_eq(trim_verdict(&st), TRIM_VERDICT_NOT_A_PROCESS);
        st.state = 'S';
        st.is_kernel_thread = true;
        cr_assert_eq(trim_verdict(&st), TRIM_VERDICT_NOT_A_PROCESS);
        st.is_kernel_thread = false;
        st.sig_cgt = UINT64_C(1) << (SIGRTMIN + 17 - 1); /* a neighbour: not enough */
        cr_assert_eq(trim_verdict(&st), TRIM_VERDICT_NO_HANDLER);
        cr_assert_str_eq(trim_verdict_to_string(TRIM_VERDICT_NO_HANDLER), "no-handler");
}

Test(cgroup_trim, list_fixture)
{
        CgroupRoot *r = NULL;
        TrimCandidate *c = NULL;
        cr_assert_eq(cgroup_root_open(TREE, PROC, &r), 0);

        int n = trim_list(r, "/app.service", &c);
        /* 200 handler, 201 none, 202 zombie, 203 vanished (no /proc entry), 204 none */
        cr_assert_eq(n, 4);
        cr_assert_eq(c[0].pid, 200);
        cr_assert_eq(c[0].verdict, TRIM_VERDICT_CANDIDATE);
        cr_assert_str_eq(c[0].comm, "frag");
        cr_assert_eq(c[0].rss_bytes, 150000ULL * 1024);
        cr_assert_eq(c[1].pid, 201);
        cr_assert_eq(c[1].verdict, TRIM_VERDICT_NO_HANDLER);
        cr_assert_eq(c[2].pid, 202);
        cr_assert_eq(c[2].verdict, TRIM_VERDICT_NOT_A_PROCESS);
        cr_assert_eq(c[3].pid, 204);
        cr_assert_eq(c[3].verdict, TRIM_VERDICT_NO_HANDLER);
        cr_assert_str_eq(c[3].comm, "java");
        free(c);

        c = NULL;
        cr_assert_eq(trim_list(r, "/app.service/worker", &c), 1);
        cr_assert_eq(c[0].verdict, TRIM_VERDICT_CANDIDATE);
        free(c);
        c = (void *) 1;
        cr_assert_eq(trim_list(r, "/", &c), 0);
        cr_assert_null(c);
        cr_assert_eq(trim_list(r, "/gone.service", &c), -ENOENT);
        cgroup_root_free(r);
}

Test(cgroup_trim, list_whatever_fd_number)
{
        /* trim_list() opens the cgroup through the process picker: in the daemon that fd was 19 (ENODEV's
         * number), read as "the cgroup is gone", and the trim rung found no process (hold-fds.h). */
        CgroupRoot *r = NULL;
        cr_assert_eq(cgroup_root_open(TREE, PROC, &r), 0);
        int held[HOLD_FDS_MAX];
        size_t n_held;
        for (int target = -1; hold_fds_next(&target, held, &n_held);) {
                TrimCandidate *c = NULL;
                int n = trim_list(r, "/app.service", &c);
                cr_assert_eq(n, 4, "next fd %d: %d processes", target, n);
                cr_assert_eq(c[0].pid, 200, "next fd %d", target);
                cr_assert_eq(c[0].verdict, TRIM_VERDICT_CANDIDATE, "next fd %d", target);
                free(c);
                hold_fds_release(held, n_held);
        }
        cgroup_root_free(r);
}

/* A real child: with handler (records the value it got into a pipe) or without (default disposition). */
static volatile sig_atomic_t got_value = -1;
static void child_handler(int sig, siginfo_t *si, void *uc)
{
        got_value = si->si_value.sival_int;
}

static pid_t spawn_child(bool handler, int report_fd)
{
        int ready[2];
        cr_assert_eq(pipe(ready), 0);
        pid_t p = fork();
        cr_assert_geq(p, 0);
        if (p == 0) {
                if (handler) {
                        struct sigaction sa = { .sa_sigaction = child_handler, .sa_flags = SA_SIGINFO };
                        sigaction(SIGRTMIN + 18, &sa, NULL);
                } else
                        signal(SIGRTMIN + 18, SIG_DFL);
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                (void) !write(ready[1], "x", 1);
                for (int i = 0; i < 500; i++) {
                        usleep(10000);
                        if (got_value >= 0) {
                                int v = got_value;
                                (void) !write(report_fd, &v, sizeof v);
                                got_value = -1;
                        }
                }
                _exit(0);
        }
        char x;
        cr_assert_eq(read(ready[0], &x, 1), 1);
        close(ready[0]);
        close(ready[1]);
        return p;
}

Test(cgroup_trim, send_real_children)
{
        CgroupRoot *r = NULL;
        int pfd[2];
        cr_assert_eq(cgroup_root_open(TREE, "/proc", &r), 0);
        cr_assert_eq(pipe(pfd), 0);

        /* Without a handler: never signalled, and still alive. */
        pid_t plain = spawn_child(false, pfd[1]);
        TrimVerdict v = TRIM_VERDICT_CANDIDATE;
        uint64_t rss = 0;
        cr_assert_eq(trim_send(r, plain, NULL, TRIM_REQUEST_TRIM, &v, &rss), 0);
        cr_assert_eq(v, TRIM_VERDICT_NO_HANDLER);
        cr_assert_gt(rss, 0);
        usleep(50000);
        cr_assert_eq(waitpid(plain, NULL, WNOHANG), 0, "the child without a handler is alive");

        /* With a handler: gets 0x300 through sigqueue. */
        pid_t handled = spawn_child(true, pfd[1]);
        cr_assert_eq(trim_send(r, handled, NULL, TRIM_REQUEST_TRIM, &v, NULL), 1);
        cr_assert_eq(v, TRIM_VERDICT_CANDIDATE);
        int got = 0;
        cr_assert_eq(read(pfd[0], &got, sizeof got), (ssize_t) sizeof got);
        cr_assert_eq(got, TRIM_REQUEST_TRIM);
        cr_assert_eq(waitpid(handled, NULL, WNOHANG), 0, "the handled child is alive");

        /* In a cgroup it is not in: -ESRCH, nothing sent. */
        cr_assert_eq(trim_send(r, handled, "/no/such.service", TRIM_REQUEST_TRIM, &v, NULL), -ESRCH);

        /* A zombie: not a process to ask. */
        kill(plain, SIGKILL);
        usleep(100000);
        cr_assert_eq(trim_send(r, plain, NULL, TRIM_REQUEST_TRIM, &v, NULL), 0);
        cr_assert_eq(v, TRIM_VERDICT_NOT_A_PROCESS);
        cr_assert_eq(waitpid(plain, NULL, 0), plain);
        /* Reaped: gone. */
        cr_assert_eq(trim_send(r, plain, NULL, TRIM_REQUEST_TRIM, &v, NULL), -ESRCH);

        kill(handled, SIGKILL);
        waitpid(handled, NULL, 0);
        cgroup_root_free(r);
}

static const char good_report[] =
        "{\"version\":1,\"pid\":21046,\"comm\":\"frag\",\"request\":\"trim\",\"seq\":1,\"allocator\":\"glibc\","
        "\"time_usec\":1795329408817712,\"duration_usec\":4929,\"rss_before\":106491904,\"rss_after\":13094912,"
        "\"released\":93396992,\"anon_huge_before\":0,\"anon_huge_after\":2097152,"
        "\"mallinfo_before\":{\"arena\":104845312,\"hblkhd\":835584,\"uordblks\":9733920,\"fordblks\":95111392,"
        "\"keepcost\":127440},\"mallinfo_after\":{\"arena\":104718336,\"hblkhd\":835584,\"uordblks\":9733920,"
        "\"fordblks\":94984416,\"keepcost\":464}}\n";

Test(cgroup_trim, report_parse_good)
{
        TrimReport t;
        cr_assert_eq(trim_report_parse(good_report, &t), 0);
        cr_assert_eq(t.pid, 21046);
        cr_assert_not(t.is_info);
        cr_assert_str_eq(t.comm, "frag");
        cr_assert_str_eq(t.allocator, "glibc");
        cr_assert_eq(t.seq, 1);
        cr_assert_eq(t.time_usec, 1795329408817712ULL);
        cr_assert_eq(t.rss_before, 106491904);
        cr_assert_eq(t.rss_after, 13094912);
        cr_assert_eq(t.released, 93396992);
        cr_assert_eq(t.anon_huge_after, 2097152);
        cr_assert(t.mallinfo_before.valid);
        cr_assert_eq(t.mallinfo_before.fordblks, 95111392);
        cr_assert_eq(t.mallinfo_after.keepcost, 464);

        const char *info = "{\"version\":1,\"pid\":7,\"comm\":\"a \\\"q\\\" \\u00e9\",\"request\":\"info\",\"seq\":2,"
                           "\"time_usec\":5,\"rss\":100,\"allocator\":\"glibc\",\"arenas\":[{\"nr\":0,\"system\":"
                           "135168,\"free\":464,\"in_use\":134704},{\"nr\":1,\"system\":10,\"free\":1,\"in_use\":9}],"
                           "\"system\":135178,\"free\":465,\"in_use\":134713}";
        cr_assert_eq(trim_report_parse(info, &t), 0);
        cr_assert(t.is_info);
        cr_assert_eq(t.n_arenas, 2);
        cr_assert_eq(t.system, 135178);
        /* Escapes decode to UTF-8 (util/json-read); the reader once turned every \u escape into '?'. */
        cr_assert_str_eq(t.comm, "a \"q\" \xc3\xa9");
        /* Control characters spelled as escapes become '?' (comm goes to terminals and journal fields); a
         * long name is cut to comm[] at a character boundary (30 'x', then a 2-byte character that fits no
         * more). */
        static const struct {
                const char *comm_json, *comm;
        } names[] = {
                { "a\\u001b[2Jb\\n\\u007f", "a?[2Jb??" },
                { "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\\u00e9", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" },
        };
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
                char buf[200];
                snprintf(buf, sizeof buf, "{\"pid\":7,\"request\":\"info\",\"time_usec\":5,\"comm\":\"%s\"}",
                         names[i].comm_json);
                cr_assert_eq(trim_report_parse(buf, &t), 0, "%s", buf);
                cr_assert_str_eq(t.comm, names[i].comm);
        }
        /* A repeated key: the last one counts, and each is checked. */
        cr_assert_eq(trim_report_parse("{\"pid\":7,\"request\":\"info\",\"time_usec\":5,\"pid\":8}", &t), 0);
        cr_assert_eq(t.pid, 8);
        cr_assert_eq(trim_report_parse("{\"pid\":7,\"request\":\"info\",\"time_usec\":5,\"pid\":\"8\"}", &t),
                     -EINVAL);
        /* jemalloc's own stats are nested JSON with floats and negative numbers: ignored, not refused. */
        const char *je = "{\"pid\":8,\"request\":\"info\",\"time_usec\":1,\"jemalloc\":{\"x\":[1.5,-2,true,null,"
                         "{\"y\":\"z\"}],\"w\":false}}";
        cr_assert_eq(trim_report_parse(je, &t), 0);
        /* The null mallinfo of a jemalloc trim. */
        const char *je_trim = "{\"pid\":9,\"request\":\"trim\",\"time_usec\":1,\"rss_before\":3,\"rss_after\":2,"
                              "\"released\":1,\"mallinfo_before\":null,\"mallinfo_after\":null}";
        cr_assert_eq(trim_report_parse(je_trim, &t), 0);
        cr_assert_not(t.mallinfo_before.valid);
}

Test(cgroup_trim, report_parse_hostile)
{
        TrimReport t = { .pid = 99 };
        static const char *const bad[] = {
                "",
                "   ",
                "[]",
                "{",
                "{\"pid\":1,\"request\":\"trim\"",                          /* truncated */
                "{\"request\":\"trim\",\"time_usec\":1,\"rss_before\":1,\"rss_after\":1,\"released\":0}", /* pid */
                "{\"pid\":1,\"request\":\"trim\",\"time_usec\":1}",          /* trim without figures */
                "{\"pid\":1,\"request\":\"steal\",\"time_usec\":1}",
                "{\"pid\":\"1\",\"request\":\"info\",\"time_usec\":1}",      /* wrong type */
                "{\"pid\":-1,\"request\":\"info\",\"time_usec\":1}",
                "{\"pid\":0,\"request\":\"info\",\"time_usec\":1}",
                "{\"pid\":4294967296,\"request\":\"info\",\"time_usec\":1}",
                "{\"pid\":1,\"request\":\"info\",\"time_usec\":1.5}",
                "{\"pid\":1,\"request\":\"info\",\"time_usec\":1} junk",
                "{\"pid\":1,\"request\":\"info\",\"time_usec\":1,}",
                "{\"pid\":1 \"request\":\"info\",\"time_usec\":1}",
                "{\"pid\":1,\"request\":\"info\",\"time_usec\":1,\"comm\":\"a\nb\"}", /* raw control char */
                "{\"pid\":1,\"request\":\"info\",\"time_usec\":1,\"comm\":\"\\x\"}",
                "{\"pid\":1,\"request\":\"info\",\"time_usec\":1,\"x\":[[[[[[[[[[1]]]]]]]]]]}", /* too deep */
                "{\"pid\":1,\"request\":\"info\",\"time_usec\":1,\"x\":tru}",
                "{\"pid\":1,\"request\":\"info\",\"time_usec\":1,\"x\":nul}",
                "{\"pid\":1,\"request\":\"info\",\"time_usec\":1,\"x\":1.}",
                "{\"pid\":1,\"request\":\"info\",\"time_usec\":1,\"x\":-}",
                "{\"pid\":1,\"request\":\"info\",\"time_usec\":1,\"comm\":\"a\\u0000b\"}", /* NUL escape */
                "{\"pid\":1,\"request\":\"info\",\"time_usec\":1,\"mallinfo_after\":{\"arena\":-1}}",
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                cr_assert_lt(trim_report_parse(bad[i], &t), 0, "accepted: %s", bad[i]);
        cr_assert_eq(trim_report_parse("{\"pid\":1,\"request\":\"info\",\"time_usec\":18446744073709551616}", &t),
                     -ERANGE);
        cr_assert_eq(trim_report_parse("{\"pid\":1,\"request\":\"info\",\"time_usec\":18446744073709551615}", &t),
                     0);
        cr_assert_eq(t.time_usec, UINT64_MAX);
}

Test(cgroup_trim, report_read)
{
        char dir[] = "/tmp/mw-trim-test-XXXXXX";
        cr_assert_not_null(mkdtemp(dir));
        int dfd = open(dir, O_RDONLY | O_DIRECTORY);
        TrimReport t;
        char p[256];

        cr_assert_eq(trim_report_read(dfd, 21046, false, getuid(), &t), -ENOENT);
        snprintf(p, sizeof p, "%s/21046.json", dir);
        FILE *f = fopen(p, "w");
        fputs(good_report, f);
        fclose(f);
        cr_assert_eq(trim_report_read(dfd, 21046, false, getuid(), &t), 0);
        cr_assert_eq(t.released, 93396992);
        /* The info file is another one. */
        cr_assert_eq(trim_report_read(dfd, 21046, true, getuid(), &t), -ENOENT);

        /* A report naming another PID than its file. */
        snprintf(p, sizeof p, "%s/777.json", dir);
        f = fopen(p, "w");
        fputs(good_report, f);
        fclose(f);
        cr_assert_eq(trim_report_read(dfd, 777, false, getuid(), &t), -EPERM);

        /* A symlink is not followed. */
        char l[256];
        snprintf(l, sizeof l, "%s/778.json", dir);
        cr_assert_eq(symlink(p, l), 0);
        cr_assert_lt(trim_report_read(dfd, 778, false, getuid(), &t), 0);

        /* Owned by another user than the process's (and not root): refused. */
        if (geteuid() == 0) {
                snprintf(p, sizeof p, "%s/21046.json", dir);
                cr_assert_eq(chown(p, 4242, 4242), 0);
                cr_assert_eq(trim_report_read(dfd, 21046, false, 1000, &t), -EPERM);
                cr_assert_eq(trim_report_read(dfd, 21046, false, 4242, &t), 0);
        }
        close(dfd);
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        cr_assert_eq(system(cmd), 0);
}

/* The [Trim] keys (policy/policy-load.c). */
#include "policy/policy.h"

static int load(const char *text, Policy **ret, ConfigError *err)
{
        return policy_load_buffer("/etc/memwarden/policy.d/t.conf", text, strlen(text), ret, err);
}

Test(trim_policy, keys)
{
        Policy *p = NULL;
        ConfigError err = {};
        cr_assert_eq(load("[Match]\nUnit=a.service\n[Actions]\nLadder=trim kill\n[Trim]\n"
                          "Command=jcmd %p System.trim_native_heap %g 100%%\nCommandMatch=java\n"
                          "CommandMatch=jsvc* tomcat?\nCommandTimeout=3s\n",
                          &p, &err),
                     0, "%u: %s", err.line, err.message);
        cr_assert_str_eq(p->trim.command, "jcmd %p System.trim_native_heap %g 100%%");
        cr_assert_str_eq(p->trim.command_match[0], "java");
        cr_assert_str_eq(p->trim.command_match[2], "tomcat?");
        cr_assert_null(p->trim.command_match[3]);
        cr_assert_eq(p->trim.command_timeout_usec, 3 * USEC_PER_SEC);
        char *dump = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&dump, &n);
        policy_dump(p, f);
        fclose(f);
        cr_assert_not_null(strstr(dump, "[Trim]\nCooldown=30s\nSettle=5s\nCommand=jcmd %p System.trim_native_heap "
                                        "%g 100%%\nCommandMatch=java\nCommandMatch=jsvc*\nCommandMatch=tomcat?\n"
                                        "CommandTimeout=3s\n"),
                          "%s", dump);
        free(dump);
        policy_free(p);

        /* Defaults, and empty values reset. */
        cr_assert_eq(load("[Match]\nUnit=a.service\n[Trim]\nCommand=x\nCommand=\nCommandMatch=a\nCommandMatch=\n",
                          &p, &err),
                     0, "%s", err.message);
        cr_assert_null(p->trim.command);
        cr_assert_null(p->trim.command_match);
        cr_assert_eq(p->trim.command_timeout_usec, 10 * USEC_PER_SEC);
        cr_assert_not(p->trim.inject, "injection is off unless asked for");
        cr_assert_eq(p->trim.inject_timeout_usec, 10 * USEC_PER_SEC);
        policy_free(p);

        cr_assert_eq(load("[Match]\nUnit=a.service\n[Trim]\nInject=yes\nInjectTimeout=2s\n", &p, &err), 0, "%s",
                     err.message);
        cr_assert(p->trim.inject);
        cr_assert_eq(p->trim.inject_timeout_usec, 2 * USEC_PER_SEC);
        policy_free(p);
}

Test(trim_policy, errors)
{
        static const struct {
                const char *text;
                unsigned line;
                const char *message;
        } bad[] = {
                { "[Match]\nUnit=a.service\n[Trim]\nCommand=jcmd %x\nCommandMatch=java\n", 4, "unknown specifier %x" },
                { "[Match]\nUnit=a.service\n[Trim]\nCommand=jcmd %\nCommandMatch=java\n", 4, "a lone %" },
                { "[Match]\nUnit=a.service\n[Trim]\nCommand=%p\nCommandMatch=java\n", 4, "must be named" },
                { "[Match]\nUnit=a.service\n[Trim]\nCommand=jcmd %p VM.x\n", 4, "needs CommandMatch=" },
                { "[Match]\nUnit=a.service\n[Trim]\nCommandTimeout=10ms\n", 4, "too short" },
                { "[Match]\nUnit=a.service\n[Trim]\nInject=maybe\n", 4, "Inject=maybe: not a boolean" },
                { "[Match]\nUnit=a.service\n[Trim]\nInjectTimeout=5ms\n", 4, "too short" },
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                Policy *p = NULL;
                ConfigError err = {};
                cr_assert_eq(load(bad[i].text, &p, &err), -EINVAL, "accepted: %s", bad[i].text);
                cr_assert_eq(err.line, bad[i].line, "%s: line %u: %s", bad[i].text, err.line, err.message);
                cr_assert_not_null(strstr(err.message, bad[i].message), "%s", err.message);
        }
}

Test(cgroup_trim, never_signals_on_a_fixtures_word)
{
        CgroupRoot *r = NULL;
        cr_assert_eq(cgroup_root_open(TREE, PROC, &r), 0);
        TrimVerdict v = TRIM_VERDICT_NOT_A_PROCESS;
        /* PID 200 has the handler in the fixture; the real PID 200 (if any) is another process. */
        cr_assert_eq(trim_send(r, 200, "/app.service", TRIM_REQUEST_TRIM, &v, NULL), -EMEDIUMTYPE);
        cr_assert_eq(trim_send(r, getpid(), NULL, TRIM_REQUEST_TRIM, &v, NULL), -EMEDIUMTYPE);
        cgroup_root_free(r);
}

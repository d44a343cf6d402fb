/* SPDX-License-Identifier: MIT */
/* trim/libmemwarden-trim.so, preloaded into tests/helpers/frag (100 MiB in 1-100 KiB chunks over 4 threads,
 * 90% freed): a 0x300 request releases most of the freed memory and the report says so; a program that
 * blocks every signal survives; a program with its own handler keeps it; fork, fork+exec and a forked
 * child's own trim work; a process without the handler is never signalled by `memwardenctl trim`. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup/cgroup-trim.h"

/* Under AddressSanitizer the programs' allocator is ASan's, not glibc's: what glibc holds, trims and
 * reports is not what these tests are about. The sanitizer run (tests/run) skips them. */
#if defined(__SANITIZE_ADDRESS__)
#define ALLOCATOR_TESTS_DISABLED true
#else
#define ALLOCATOR_TESTS_DISABLED false
#endif

#define FRAG BUILD_ROOT "/tests/helpers/frag"
#define LIB BUILD_ROOT "/trim/libmemwarden-trim.so.0"

static char dir[64];

static void setup(void)
{
        snprintf(dir, sizeof dir, "/tmp/mw-trimlib-XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        (void) !system(cmd);
}

typedef struct Frag {
        pid_t pid;
        FILE *out;
        uint64_t rss, freed;
} Frag;

/* Starts frag with args (NULL-terminated), preloaded unless preload is false; waits for "ready". */
static Frag frag_start(bool preload, const char *const *args)
{
        int p[2];
        cr_assert_eq(pipe(p), 0);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                /* Dies with the test (an orphan would hold meson's pipe open), and runs with glibc's
                 * defaults: meson test sets MALLOC_PERTURB_, which changes what the allocator keeps. */
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                unsetenv("MALLOC_PERTURB_");
                dup2(p[1], STDOUT_FILENO);
                close(p[0]);
                close(p[1]);
                if (preload)
                        setenv("LD_PRELOAD", LIB, 1);
                else
                        unsetenv("LD_PRELOAD");
                setenv("MEMWARDEN_TRIM_DIR", dir, 1);
                const char *argv[16] = { FRAG };
                for (size_t i = 0; args && args[i] && i < 14; i++)
                        argv[i + 1] = args[i];
                execv(FRAG, (char **) argv);
                _exit(127);
        }
        close(p[1]);
        Frag f = { .pid = pid, .out = fdopen(p[0], "r") };
        char line[256];
        cr_assert_not_null(fgets(line, sizeof line, f.out), "frag printed nothing");
        unsigned long long rss, freed;
        int rp;
        cr_assert_eq(sscanf(line, "ready %d %llu %llu", &rp, &rss, &freed), 3, "%s", line);
        f.rss = rss;
        f.freed = freed;
        return f;
}

static void frag_stop(Frag *f)
{
        kill(f->pid, SIGKILL);
        waitpid(f->pid, NULL, 0);
        fclose(f->out);
}

static bool alive(pid_t pid)
{
        return waitpid(pid, NULL, WNOHANG) == 0;
}

static uint64_t rss_of(pid_t pid)
{
        char p[64];
        unsigned long long a, b;
        snprintf(p, sizeof p, "/proc/%d/statm", (int) pid);
        FILE *f = fopen(p, "r");
        cr_assert_not_null(f);
        cr_assert_eq(fscanf(f, "%llu %llu", &a, &b), 2);
        fclose(f);
        return b * (uint64_t) sysconf(_SC_PAGESIZE);
}

static uint64_t sigcgt_of(pid_t pid)
{
        char p[64], line[256];
        unsigned long long v = 0;
        snprintf(p, sizeof p, "/proc/%d/status", (int) pid);
        FILE *f = fopen(p, "r");
        cr_assert_not_null(f);
        while (fgets(line, sizeof line, f))
                if (sscanf(line, "SigCgt: %llx", &v) == 1)
                        break;
        fclose(f);
        return v;
}

static void request(pid_t pid, int value)
{
        cr_assert_eq(sigqueue(pid, SIGRTMIN + 18, (union sigval) { .sival_int = value }), 0);
}

/* Waits up to 5 s for the report of pid. */
static int wait_report(pid_t pid, bool info, TrimReport *ret)
{
        int dfd = open(dir, O_RDONLY | O_DIRECTORY);
        int r = -ENOENT;
        for (int i = 0; i < 100 && r < 0; i++) {
                r = trim_report_read(dfd, pid, info, getuid(), ret);
                if (r < 0)
                        usleep(50000);
        }
        close(dfd);
        return r;
}

TestSuite(trim_lib, .init = setup, .fini = teardown, .timeout = 60, .disabled = ALLOCATOR_TESTS_DISABLED);

Test(trim_lib, trim_releases_most_of_the_freed_memory)
{
        Frag f = frag_start(true, NULL);
        cr_assert(sigcgt_has(sigcgt_of(f.pid), SIGRTMIN + 18), "the library installed its handler");
        /* How much of the freed memory glibc keeps depends on how the 4 threads interleaved in their arenas
         * (it trims arena tops by itself): 83 to 150 MiB of RSS seen. It must hold a good part of it. */
        cr_assert_gt(f.rss, 50ULL << 20, "frag holds its freed memory: RSS %llu", (unsigned long long) f.rss);

        request(f.pid, TRIM_REQUEST_TRIM);
        TrimReport t;
        cr_assert_eq(wait_report(f.pid, false, &t), 0, "no report within 5 s");
        cr_assert_eq(t.pid, f.pid);
        cr_assert_str_eq(t.allocator, "glibc");
        cr_assert_str_eq(t.comm, "frag");
        cr_assert(t.mallinfo_before.valid && t.mallinfo_after.valid);
        uint64_t held_free = t.mallinfo_before.fordblks;
        cr_assert_gt(held_free, 40ULL << 20, "mallinfo2 saw the free bytes glibc held: %llu",
                     (unsigned long long) held_free);
        cr_assert_gt(t.released, held_free / 2, "released %llu of %llu held free", (unsigned long long) t.released,
                     (unsigned long long) held_free);
        uint64_t now = rss_of(f.pid);
        cr_assert_lt(now, f.rss - t.released / 2, "RSS fell: %llu -> %llu", (unsigned long long) f.rss,
                     (unsigned long long) now);
        cr_assert(alive(f.pid));

        /* A second request is answered again (seq grows). */
        request(f.pid, TRIM_REQUEST_TRIM);
        usleep(300000);
        TrimReport t2;
        cr_assert_eq(wait_report(f.pid, false, &t2), 0);
        cr_assert_geq(t2.seq, 2);

        /* Anything but 0x300/0x301, or a plain kill() without a value, is ignored, and harmless. */
        request(f.pid, 0x999);
        kill(f.pid, SIGRTMIN + 18);
        usleep(200000);
        cr_assert(alive(f.pid));
        frag_stop(&f);
}

Test(trim_lib, info_report)
{
        Frag f = frag_start(true, NULL);
        request(f.pid, TRIM_REQUEST_INFO);
        TrimReport t;
        cr_assert_eq(wait_report(f.pid, true, &t), 0);
        cr_assert(t.is_info);
        cr_assert_geq(t.n_arenas, 2, "4 threads use more than the main arena");
        cr_assert_gt(t.system, t.in_use);
        cr_assert_gt(t.free, 30ULL << 20, "glibc holds freed bytes: %llu", (unsigned long long) t.free);
        frag_stop(&f);
}

Test(trim_lib, blocked_signals_survive)
{
        const char *args[] = { "--block-all", NULL };
        Frag f = frag_start(true, args);
        request(f.pid, TRIM_REQUEST_TRIM);
        TrimReport t;
        /* The worker keeps SIGRTMIN+18 unblocked: the request is answered all the same. */
        cr_assert_eq(wait_report(f.pid, false, &t), 0);
        cr_assert(alive(f.pid));
        frag_stop(&f);
}

Test(trim_lib, own_handler_is_kept)
{
        char marker[128];
        snprintf(marker, sizeof marker, "%s/own", dir);
        const char *args[] = { "--own-handler", marker, NULL };
        Frag f = frag_start(true, args);
        request(f.pid, TRIM_REQUEST_TRIM);
        usleep(500000);
        cr_assert(alive(f.pid));
        struct stat st;
        cr_assert_eq(stat(marker, &st), 0);
        cr_assert_eq(st.st_size, 4, "the program's own handler ran once");
        TrimReport t;
        int dfd = open(dir, O_RDONLY | O_DIRECTORY);
        cr_assert_eq(trim_report_read(dfd, f.pid, false, getuid(), &t), -ENOENT, "the library did not answer");
        close(dfd);
        frag_stop(&f);
}

Test(trim_lib, fork_and_exec)
{
        const char *args[] = { "--fork-exec", "--fork", NULL };
        Frag f = frag_start(true, args);
        char line[256];
        cr_assert_not_null(fgets(line, sizeof line, f.out));
        cr_assert_str_eq(line, "fork-exec ok\n");
        cr_assert_not_null(fgets(line, sizeof line, f.out));
        int child;
        unsigned long long rss, freed;
        cr_assert_eq(sscanf(line, "child %d %llu %llu", &child, &rss, &freed), 3, "%s", line);

        /* The forked child has a worker of its own (atfork) and answers for itself. */
        cr_assert(sigcgt_has(sigcgt_of(child), SIGRTMIN + 18));
        request(child, TRIM_REQUEST_TRIM);
        TrimReport t;
        cr_assert_eq(wait_report(child, false, &t), 0, "the forked child did not answer");
        cr_assert_eq(t.pid, child);
        cr_assert_gt(t.released, freed / 4, "the child released %llu of %llu it freed (glibc trims some itself)",
                     (unsigned long long) t.released, freed);
        /* ... and the parent did not answer the child's request. */
        int dfd = open(dir, O_RDONLY | O_DIRECTORY);
        cr_assert_eq(trim_report_read(dfd, f.pid, false, getuid(), &t), -ENOENT);
        close(dfd);
        request(f.pid, TRIM_REQUEST_TRIM);
        cr_assert_eq(wait_report(f.pid, false, &t), 0, "the parent still answers");
        kill(child, SIGKILL);
        frag_stop(&f);
}

Test(trim_lib, opt_out)
{
        setenv("MEMWARDEN_TRIM", "off", 1);
        Frag f = frag_start(true, NULL);
        unsetenv("MEMWARDEN_TRIM");
        cr_assert_not(sigcgt_has(sigcgt_of(f.pid), SIGRTMIN + 18), "MEMWARDEN_TRIM=off installs nothing");
        frag_stop(&f);
}

Test(trim_lib, ctl_never_signals_a_process_without_handler)
{
        const char *ctl = getenv("MEMWARDENCTL");
        if (!ctl)
                cr_skip_test("MEMWARDENCTL not set");
        Frag plain = frag_start(false, NULL);
        Frag lib = frag_start(true, NULL);
        cr_assert_not(sigcgt_has(sigcgt_of(plain.pid), SIGRTMIN + 18));

        char cmd[1024];
        snprintf(cmd, sizeof cmd, "MEMWARDEN_TRIM_DIR=%s MEMWARDEN_TRIM_WAIT=5 %s trim %d %d > %s/ctl.out 2>&1", dir,
                 ctl, (int) plain.pid, (int) lib.pid, dir);
        int st = system(cmd);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "memwardenctl trim failed");
        usleep(200000);
        cr_assert(alive(plain.pid), "the process without a handler was killed");
        cr_assert(alive(lib.pid));

        char p[128], out[4096] = "";
        snprintf(p, sizeof p, "%s/ctl.out", dir);
        FILE *f = fopen(p, "r");
        size_t n = fread(out, 1, sizeof out - 1, f);
        out[n] = 0;
        fclose(f);
        char want[64];
        snprintf(want, sizeof want, "%d: no SIGRTMIN+18 handler, not signalled", (int) plain.pid);
        cr_assert_not_null(strstr(out, want), "%s", out);
        cr_assert_not_null(strstr(out, "asked 1, reports 1"), "%s", out);
        snprintf(want, sizeof want, "%-8d %-16s %-12s", (int) lib.pid, "frag", "glibc");
        cr_assert_not_null(strstr(out, want), "%s", out);
        frag_stop(&plain);
        frag_stop(&lib);
}

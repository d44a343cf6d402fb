/* SPDX-License-Identifier: MIT */
/* bench/inject-bench: what an injected trim (cgroup/cgroup-inject.h) costs. Not a test: it prints figures
 * (meson test --benchmark, or run it directly).
 *
 *   inject-bench TARGET [PROCESSES [TORTURE_INJECTIONS]]    defaults 100 and 1000
 *
 * TARGET is tests/helpers/inject-target. Three parts:
 *  1. latency: PROCESSES targets each blocked in read() on a 20 MiB fragmented heap ("frag 20"); one
 *     injection each, one after the other (a cgroup of PROCESSES processes): per process the time from the
 *     decision (inject_process() called) to done, the call itself and the thread's stop time outside the
 *     call: median and p99, and the total. Baseline in the same run: malloc_trim(0) called in this process
 *     on the same fragmented heap (the same code builds it): the ratio says what the injection adds.
 *  2. torture: one target with 8 threads in malloc/free/realloc with checksums, TORTURE_INJECTIONS
 *     injections back to back (main idle in pthread_join), then TORTURE_INJECTIONS/20 with main busy too:
 *     injections/s, how many timed out or were skipped (every thread inside malloc), threads left attached
 *     (must be 0), the longest stop of a target thread outside the call, and the target's own verdict
 *     (checksums, no crash, no deadlock). $INJECT_BENCH_FOLLOW=1: the torture's calls followed with
 *     PTRACE_SYSCALL instead of watched (part 1 runs both). */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup/cgroup-inject.h"

typedef struct Child {
        pid_t pid;
        int in;
        FILE *out;
} Child;

static double now_us(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static Child spawn(const char *target, char *const argv[])
{
        int in[2], out[2];
        if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
                perror("pipe");
                exit(1);
        }
        pid_t pid = fork();
        if (pid == 0) {
                dup2(in[0], 0);
                dup2(out[1], 1);
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                execv(target, argv);
                _exit(127);
        }
        close(in[0]);
        close(out[1]);
        Child c = { .pid = pid, .in = in[1], .out = fdopen(out[0], "r") };
        char line[128];
        if (!fgets(line, sizeof line, c.out) || strncmp(line, "ready", 5) != 0) {
                fprintf(stderr, "target did not start\n");
                exit(1);
        }
        return c;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
        qsort(v, n, sizeof *v, cmp_double);
        size_t i = (size_t) (p * (double) (n - 1) + 0.5);
        return v[i < n ? i : n - 1];
}

/* The same heap as inject-target's "frag MIB", in this process. */
static double baseline_trim_us(size_t mib)
{
        size_t want = mib << 20, total = 0, n = 0;
        void **chunks = calloc(want / 1024 + 16, sizeof *chunks);
        unsigned seed = 42;
        while (chunks && total < want) {
                size_t sz = 1024 + (size_t) (rand_r(&seed) % (99 * 1024));
                chunks[n] = malloc(sz);
                if (!chunks[n])
                        break;
                memset(chunks[n++], 0x5a, sz);
                total += sz;
        }
        for (size_t i = 0; i < n; i++)
                if (i % 10 != 0)
                        free(chunks[i]);
        double t0 = now_us();
        malloc_trim(0);
        double t = now_us() - t0;
        for (size_t i = 0; i < n; i += 10)
                free(chunks[i]);
        free(chunks);
        return t;
}

static bool traced(pid_t pid)
{
        char path[64], buf[4096];
        snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        FILE *f = fopen(path, "re");
        size_t nr = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f)
                fclose(f);
        buf[nr] = 0;
        char *tp = strstr(buf, "TracerPid:");
        return tp && atoi(tp + 10) != 0;
}

static void torture(const char *target, unsigned count, bool busy, bool verbose)
{
        Child t = spawn(target, (char *[]) { (char *) target, "torture", "8", "3600", busy ? "busy" : "idle", NULL });
        unsigned done = 0, skipped = 0, errors = 0, timed_out = 0, left_traced = 0;
        double longest_stop = 0, t0 = now_us();
        char first_skip[256] = "";
        for (unsigned i = 0; i < count; i++) {
                InjectResult r;
                InjectOptions o = { .timeout_usec = 5 * USEC_PER_SEC,
                                    .follow_syscalls = getenv("INJECT_BENCH_FOLLOW") != NULL };
                int k = inject_process(t.pid, 0, &o, &r);
                left_traced += traced(t.pid);
                if (k == 1) {
                        done++;
                        timed_out += r.timed_out;
                        if (r.stop_usec > longest_stop)
                                longest_stop = (double) r.stop_usec;
                } else if (k == 0) {
                        if (verbose)
                                fprintf(stderr, "skip: %s\n", r.reason);
                        if (!first_skip[0])
                                snprintf(first_skip, sizeof first_skip, "%s", r.reason);
                        skipped++;
                } else {
                        if (verbose)
                                fprintf(stderr, "error %d: %s\n", k, r.reason);
                        errors++;
                }
        }
        double secs = (now_us() - t0) / 1e6;
        kill(t.pid, SIGTERM); /* it ends its run and prints its verdict */
        char verdict[128] = "no verdict";
        if (!fgets(verdict, sizeof verdict, t.out))
                snprintf(verdict, sizeof verdict, "no verdict");
        verdict[strcspn(verdict, "\n")] = 0;
        int st;
        waitpid(t.pid, &st, 0);
        printf("torture (8 threads in malloc/free/realloc, main %s): %u injections in %.1f s: %.1f/s; %u injected "
               "(%u timed out mid-call), %u skipped (e.g. %s), %u errors, %u left attached; longest thread stop "
               "outside the call %.1f ms; target: %s, %s\n",
               busy ? "busy too" : "idle in pthread_join", count, secs, count / secs, done, timed_out, skipped,
               first_skip[0] ? first_skip : "-", errors, left_traced, longest_stop / 1e3, verdict,
               WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "exited 0" : "DID NOT EXIT CLEANLY");
        fclose(t.out);
        close(t.in);
}

/* One latency run; returns the median decision-to-done time (us), or -1. */
static double latency(const char *target, size_t n, bool follow)
{
        Child *c = calloc(n, sizeof *c);
        double *total = calloc(n, sizeof *total), *call = calloc(n, sizeof *call), *stop = calloc(n, sizeof *stop);
        double *baseline = calloc(n < 15 ? n : 15, sizeof *baseline);
        if (!c || !total || !call || !stop || !baseline)
                return -1;
        for (size_t i = 0; i < n; i++)
                c[i] = spawn(target, (char *[]) { (char *) target, "frag", "20", NULL });
        usleep(200 * 1000);
        unsigned ok = 0;
        double t_all = now_us();
        for (size_t i = 0; i < n; i++) {
                InjectResult r;
                InjectOptions o = { .timeout_usec = 10 * USEC_PER_SEC, .follow_syscalls = follow };
                double t0 = now_us();
                int k = inject_process(c[i].pid, 0, &o, &r);
                total[ok] = now_us() - t0;
                if (k != 1) {
                        fprintf(stderr, "PID %d: not injected (%d): %s\n", (int) c[i].pid, k, r.reason);
                        continue;
                }
                call[ok] = (double) r.call_usec;
                stop[ok] = (double) r.stop_usec;
                ok++;
        }
        t_all = now_us() - t_all;
        size_t nb = n < 15 ? n : 15;
        for (size_t i = 0; i < nb; i++)
                baseline[i] = baseline_trim_us(20);
        double base_med = pct(baseline, nb, 0.5);
        /* The targets still read correctly after their injection. */
        unsigned intact = 0;
        for (size_t i = 0; i < n; i++) {
                char line[64];
                if (write(c[i].in, "x\n", 2) == 2 && fgets(line, sizeof line, c[i].out) && strcmp(line, "read x\n") == 0)
                        intact++;
                close(c[i].in);
                fclose(c[i].out);
                waitpid(c[i].pid, NULL, 0);
        }
        if (ok == 0) {
                fprintf(stderr, "no injection succeeded\n");
                return -1;
        }
        double med = pct(total, ok, 0.5), p99 = pct(total, ok, 0.99);
        printf("latency, %zu processes (20 MiB fragmented heap each, blocked in read), the call %s:\n", n,
               follow ? "followed with PTRACE_SYSCALL (a stop per madvise)" : "watched in /proc (no stops)");
        printf("  decision to done per process: median %.2f ms, p99 %.2f ms; the whole cgroup %.2f s\n", med / 1e3,
               p99 / 1e3, t_all / 1e6);
        printf("  the call (malloc_trim): median %.2f ms, p99 %.2f ms\n", pct(call, ok, 0.5) / 1e3,
               pct(call, ok, 0.99) / 1e3);
        printf("  target thread stopped outside the call: median %.3f ms, p99 %.3f ms\n", pct(stop, ok, 0.5) / 1e3,
               pct(stop, ok, 0.99) / 1e3);
        printf("  baseline, malloc_trim(0) in-process on the same heap: median %.2f ms; injected/in-process %.1fx\n",
               base_med / 1e3, med / base_med);
        printf("  %u of %zu injected, %u of %zu read their next line intact\n", ok, n, intact, n);
        free(c);
        free(total);
        free(call);
        free(stop);
        free(baseline);
        return med;
}

int main(int argc, char **argv)
{
        if (argc < 2) {
                fprintf(stderr, "usage: inject-bench TARGET [PROCESSES [TORTURE_INJECTIONS]]\n");
                return 2;
        }
        const char *target = argv[1];
        setvbuf(stdout, NULL, _IOLBF, 0);
        bool verbose = getenv("INJECT_BENCH_VERBOSE") != NULL;
        size_t n = argc > 2 ? (size_t) atol(argv[2]) : 100;
        unsigned torture_n = argc > 3 ? (unsigned) atol(argv[3]) : 1000;
        if (n == 0)
                n = 1;

        /* 1. latency over a "cgroup" of n processes: the call watched (the default), then followed */
        double watched = latency(target, n, false), followed = latency(target, n, true);
        if (watched < 0 || followed < 0)
                return 1;
        printf("  watched/followed, decision to done (median): %.2fx\n", watched / followed);

        /* 2. torture: 8 threads in malloc/free/realloc; main idle in pthread_join (its futex thread takes the
         * calls), then with main busy too (only running threads: those inside malloc are refused). */
        torture(target, torture_n, false, verbose);
        torture(target, torture_n / 20 ?: 1, true, verbose);
        return 0;
}

/* SPDX-License-Identifier: MIT */
/* bench/inject-bench: what an injected trim (cgroup/cgroup-inject.h) costs. Not a test: it prints figures
 * (meson test --benchmark, or run it directly).
 *
 *   inject-bench TARGET [PROCESSES [TORTURE_INJECTIONS [BATCH]]]    defaults 100, 1000, 100 (0: not run)
 *
 * TARGET is tests/helpers/inject-target. Three parts (the third, BATCH, runs second):
 *  1. latency: PROCESSES targets each blocked in read() on a 20 MiB fragmented heap ("frag 20"); one
 *     injection each, one after the other (a cgroup of PROCESSES processes): per process the time from the
 *     decision (inject_process() called) to done, the call itself and the thread's stop time outside the
 *     call: median and p99, and the total. Baseline in the same run: malloc_trim(0) called in this process
 *     on the same fragmented heap (the same code builds it): the ratio says what the injection adds.
 *  2. torture: one target with 8 threads in malloc/free/realloc with checksums, TORTURE_INJECTIONS
 *     injections back to back (main idle in pthread_join), then TORTURE_INJECTIONS/20 with main busy too:
 *     injections/s, how many timed out or were skipped (every thread inside malloc), threads left attached
 *     (must be 0), the skip reasons counted, the target thread's stop outside the call and its time away
 *     from its own code (stop + call): median, p99, longest; and the target's own verdict (checksums, no
 *     crash; no verdict within 60 s of SIGTERM is a deadlock). Exits 1 when any of that fails. $INJECT_BENCH_FOLLOW=1: the torture's calls followed with
 *     PTRACE_SYSCALL instead of watched (part 1 runs both).
 *  3. batch: BATCH processes through the daemon's own path (see batch()): decision to done per process
 *     (median, p99) and for the whole batch. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <libgen.h>
#include <syslog.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup/cgroup-inject.h"
#include "cgroup/cgroup-restart.h"
#include "daemon/action-trim-inject.h"
#include "util/log.h"

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

/* The number after KEY ("VmRSS:", "TracerPid:") in /proc/PID/status; 0 when unreadable or absent. */
static unsigned long long status_number(pid_t pid, const char *key)
{
        char path[64], buf[4096];
        snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        FILE *f = fopen(path, "re");
        size_t nr = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f)
                fclose(f);
        buf[nr] = 0;
        char *v = strstr(buf, key);
        return v ? strtoull(v + strlen(key), NULL, 10) : 0;
}

static uint64_t rss_of(pid_t pid)
{
        return (uint64_t) status_number(pid, "VmRSS:") << 10;
}

static bool traced(pid_t pid)
{
        return status_number(pid, "TracerPid:") != 0;
}

/* Waits up to timeout_ms for a line from the target: a deadlocked target gives none. */
static bool read_line_within(FILE *f, char *buf, size_t size, int timeout_ms)
{
        struct pollfd p = { .fd = fileno(f), .events = POLLIN };
        if (poll(&p, 1, timeout_ms) <= 0)
                return false;
        return fgets(buf, (int) size, f) != NULL;
}

/* Skip reasons, counted by their text without the thread id ("thread 1234: ..."). */
typedef struct Reasons {
        char text[8][160];
        unsigned count[8], other;
} Reasons;

static void reasons_add(Reasons *rs, const char *reason)
{
        const char *r = reason;
        if (strncmp(r, "thread ", 7) == 0 && (r = strpbrk(r + 7, " :")))
                r += strspn(r, " :");
        else
                r = reason;
        char key[160];
        snprintf(key, sizeof key, "%.48s", r);
        for (size_t i = 0; i < ELEMENTSOF(rs->text); i++) {
                if (rs->count[i] && streq(rs->text[i], key)) {
                        rs->count[i]++;
                        return;
                }
                if (!rs->count[i]) {
                        snprintf(rs->text[i], sizeof rs->text[i], "%s", key);
                        rs->count[i] = 1;
                        return;
                }
        }
        rs->other++;
}

/* Returns true when every figure the issue asks for holds: no crash, no deadlock, no checksum error, every
 * injection done or skipped with a reason, no thread left attached. */
static bool torture(const char *target, unsigned count, bool busy, bool verbose)
{
        Child t = spawn(target, (char *[]) { (char *) target, "torture", "8", "3600", busy ? "busy" : "idle", NULL });
        unsigned done = 0, skipped = 0, errors = 0, timed_out = 0, left_traced = 0, no_reason = 0;
        double *stop = calloc(count, sizeof *stop), *call = calloc(count, sizeof *call), *away = calloc(count, sizeof *away);
        if (!stop || !call || !away)
                exit(1);
        Reasons reasons = {}; /* the first 48 characters of a reason name its kind */
        double t0 = now_us();
        for (unsigned i = 0; i < count; i++) {
                InjectResult r;
                InjectOptions o = { .timeout_usec = 5 * USEC_PER_SEC,
                                    .follow_syscalls = getenv("INJECT_BENCH_FOLLOW") != NULL };
                int k = inject_process(t.pid, 0, &o, &r);
                left_traced += traced(t.pid);
                if (k == 1) {
                        timed_out += r.timed_out;
                        stop[done] = (double) r.stop_usec;
                        call[done] = (double) r.call_usec;
                        away[done] = (double) (r.stop_usec + r.call_usec);
                        done++;
                } else if (k == 0) {
                        if (verbose)
                                fprintf(stderr, "torture: skip: %s\n", r.reason);
                        if (!r.reason[0])
                                no_reason++;
                        reasons_add(&reasons, r.reason);
                        skipped++;
                } else {
                        fprintf(stderr, "torture: injection %u: error %s: %s\n", i, strerror(-k), r.reason);
                        errors++;
                        if (k == -ESRCH)
                                break; /* the target is gone: a crash, reported below */
                }
                if (verbose && (i + 1) % 100 == 0)
                        fprintf(stderr, "torture: %u of %u after %.0f s: %u injected, %u skipped, %u errors\n", i + 1,
                                count, (now_us() - t0) / 1e6, done, skipped, errors);
        }
        double secs = (now_us() - t0) / 1e6;
        kill(t.pid, SIGTERM); /* it ends its run and prints its verdict */
        char verdict[128];
        bool answered = read_line_within(t.out, verdict, sizeof verdict, 60 * 1000);
        if (!answered) {
                snprintf(verdict, sizeof verdict, "NO VERDICT within 60 s (deadlock?)");
                kill(t.pid, SIGKILL);
        }
        verdict[strcspn(verdict, "\n")] = 0;
        int st;
        waitpid(t.pid, &st, 0);
        bool clean = WIFEXITED(st) && WEXITSTATUS(st) == 0;
        printf("torture (8 threads in malloc/free/realloc with checksums, main %s), %u injections:\n",
               busy ? "busy too" : "idle in pthread_join", count);
        printf("  %.1f s: %.1f injections/s; %u injected (%u timed out mid-call and finished on their own), "
               "%u skipped, %u of them without a reason, %u errors, %u times a thread left attached\n",
               secs, count / secs, done, timed_out, skipped, no_reason, errors, left_traced);
        for (size_t i = 0; i < ELEMENTSOF(reasons.text) && reasons.count[i]; i++)
                printf("  skipped %u x: %s...\n", reasons.count[i], reasons.text[i]);
        if (reasons.other)
                printf("  skipped %u x: other reasons\n", reasons.other);
        if (done) {
                printf("  target thread stopped (ptrace stop, outside the call): median %.2f ms, p99 %.2f ms, "
                       "longest %.2f ms\n",
                       pct(stop, done, 0.5) / 1e3, pct(stop, done, 0.99) / 1e3, pct(stop, done, 1) / 1e3);
                printf("  the call (malloc_trim, arena locks contended): median %.2f ms, p99 %.2f ms, longest %.2f ms\n",
                       pct(call, done, 0.5) / 1e3, pct(call, done, 0.99) / 1e3, pct(call, done, 1) / 1e3);
                printf("  target thread away from its own code (stop + call): median %.2f ms, p99 %.2f ms, "
                       "longest %.2f ms\n",
                       pct(away, done, 0.5) / 1e3, pct(away, done, 0.99) / 1e3, pct(away, done, 1) / 1e3);
        }
        printf("  target: %s, %s\n", verdict, clean ? "exited 0" : "DID NOT EXIT CLEANLY");
        fclose(t.out);
        close(t.in);
        free(stop);
        free(call);
        free(away);
        return answered && clean && strncmp(verdict, "torture ok", 10) == 0 && errors == 0 && no_reason == 0 &&
               left_traced == 0;
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

/* 3. The daemon's own path for a cgroup of n processes: the batch (TrimInjectBatch, largest first, at most
 * TRIM_INJECT_BATCH_MAX per trim) handed to trim_inject_start(), which spawns the helper
 * (memwardenctl trim --inject --report) and reads its report lines in an sd-event loop, as memwardend's
 * trim rung does. No cgroup here (this host's cgroupfs is not ours): the processes are a list of PIDs,
 * which is what the rung hands over after reading cgroup.procs. n > TRIM_INJECT_BATCH_MAX: the rest
 * goes in a second batch right after the first helper ends (in the daemon: the next trim, the first ones
 * cooling down). Per process: from the decision (trim_inject_start() called) to its report line read in
 * the loop, and its own share (the time since the previous line). */
static bool batch(const char *target, size_t n)
{
        Child *c = calloc(n, sizeof *c);
        double *decided = calloc(n, sizeof *decided), *own = calloc(n, sizeof *own), *in_batch = calloc(n, sizeof *in_batch);
        if (!c || !decided || !own || !in_batch)
                return false;
        char mib[n][8];
        uint64_t rss_before = 0, rss_after = 0;
        for (size_t i = 0; i < n; i++) {
                snprintf(mib[i], sizeof mib[i], "%zu", 4 + (i % 8) * 4); /* 4 .. 32 MiB, mixed */
                c[i] = spawn(target, (char *[]) { (char *) target, "frag", mib[i], NULL });
        }
        usleep(200 * 1000);
        sd_event *e = NULL;
        if (sd_event_new(&e) < 0)
                return false;
        Manager m = { .event = e };
        InjectRun *run = NULL;
        size_t seen = 0, injected = 0;
        double t_all = now_us();
        for (size_t first = 0; first < n; first += TRIM_INJECT_BATCH_MAX) {
                TrimInjectBatch b = {};
                for (size_t i = first; i < n && b.n < TRIM_INJECT_BATCH_MAX; i++) {
                        char path[64], buf[1024];
                        snprintf(path, sizeof path, "/proc/%d/stat", (int) c[i].pid);
                        FILE *f = fopen(path, "re");
                        size_t k = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
                        if (f)
                                fclose(f);
                        buf[k] = 0;
                        uint64_t start = 0;
                        if (proc_stat_parse_starttime(buf, &start) < 0)
                                return false;
                        b.pids[b.n] = c[i].pid;
                        b.starts[b.n] = start;
                        b.rss[b.n] = rss_of(c[i].pid);
                        rss_before += b.rss[b.n];
                        b.n++;
                }
                size_t batch_n = b.n;
                bool *have = calloc(batch_n, sizeof *have);
                double t0 = now_us(), prev = t0;
                if (!have || trim_inject_start(&m, NULL, "/bench.slice", &run, 10 * USEC_PER_SEC, &b) != 1) {
                        fprintf(stderr, "trim_inject_start failed\n");
                        return false;
                }
                size_t got = 0;
                while (trim_inject_running(run, NULL) || got < batch_n) {
                        if (sd_event_run(e, 2 * USEC_PER_SEC) < 0)
                                break;
                        double now = now_us();
                        for (size_t i = 0; i < batch_n; i++) {
                                TrimInjectLine l;
                                if (have[i] || !trim_inject_result(run, b.pids[i], &l))
                                        continue;
                                have[i] = true;
                                got++;
                                decided[seen] = now - t_all;
                                in_batch[seen] = now - t0;
                                own[seen] = now - prev;
                                prev = now;
                                seen++;
                                if (streq(l.result, "injected")) {
                                        injected++;
                                        rss_after += l.rss_after;
                                } else
                                        fprintf(stderr, "batch: PID %d %s: %s\n", (int) l.pid, l.result, l.reason);
                        }
                        if (!trim_inject_running(run, NULL) && got < batch_n)
                                break; /* the helper ended without a line for some: reported below */
                }
                free(have);
        }
        t_all = now_us() - t_all;
        double base[5];
        for (size_t i = 0; i < ELEMENTSOF(base); i++)
                base[i] = baseline_trim_us(20);
        unsigned intact = 0;
        for (size_t i = 0; i < n; i++) {
                char line[64];
                if (write(c[i].in, "x\n", 2) == 2 && fgets(line, sizeof line, c[i].out) && strcmp(line, "read x\n") == 0)
                        intact++;
                close(c[i].in);
                fclose(c[i].out);
                waitpid(c[i].pid, NULL, 0);
        }
        trim_inject_run_drop(&run);
        trim_inject_manager_free(&m);
        sd_event_unref(e);
        printf("batch through the daemon's path (trim_inject_start: the helper memwardenctl trim --inject --report, "
               "its lines read in an sd-event loop), %zu processes of 4-32 MiB fragmented heaps blocked in read, "
               "at most %d per helper:\n", n, TRIM_INJECT_BATCH_MAX);
        if (seen) {
                printf("  decision to done per process (its report line read): median %.2f s, p99 %.2f s; "
                       "within its own batch of <= %d: median %.2f s\n",
                       pct(decided, seen, 0.5) / 1e6, pct(decided, seen, 0.99) / 1e6, TRIM_INJECT_BATCH_MAX,
                       pct(in_batch, seen, 0.5) / 1e6);
                printf("  each process's own share (since the previous line): median %.2f ms, p99 %.2f ms\n",
                       pct(own, seen, 0.5) / 1e3, pct(own, seen, 0.99) / 1e3);
        }
        printf("  the whole batch: %.2f s for %zu processes (%.1f processes/s); %zu injected, %zu lines of %zu; "
               "RSS %.0f -> %.0f MiB (injected ones)\n",
               t_all / 1e6, n, n / (t_all / 1e6), injected, seen, n, rss_before / 1048576.0, rss_after / 1048576.0);
        printf("  baseline, malloc_trim(0) in-process on a 20 MiB heap: median %.2f ms; per-process share/in-process "
               "%.1fx\n", pct(base, ELEMENTSOF(base), 0.5) / 1e3,
               seen ? pct(own, seen, 0.5) / pct(base, ELEMENTSOF(base), 0.5) : 0);
        printf("  %u of %zu read their next line intact\n", intact, n);
        free(c);
        free(decided);
        free(own);
        free(in_batch);
        return seen == n && intact == n;
}

int main(int argc, char **argv)
{
        if (argc < 2) {
                fprintf(stderr, "usage: inject-bench TARGET [PROCESSES [TORTURE_INJECTIONS [BATCH]]]\n");
                return 2;
        }
        const char *target = argv[1];
        setvbuf(stdout, NULL, _IOLBF, 0);
        bool verbose = getenv("INJECT_BENCH_VERBOSE") != NULL;
        size_t n = argc > 2 ? (size_t) atol(argv[2]) : 100;
        unsigned torture_n = argc > 3 ? (unsigned) atol(argv[3]) : 1000;
        size_t batch_n = argc > 4 ? (size_t) atol(argv[4]) : 100;

        /* 1. latency over a "cgroup" of n processes: the call watched (the default), then followed */
        if (n > 0) {
                double watched = latency(target, n, false), followed = latency(target, n, true);
                if (watched < 0 || followed < 0)
                        return 1;
                printf("  watched/followed, decision to done (median): %.2fx\n", watched / followed);
        }

        /* 2. torture: 8 threads in malloc/free/realloc; main idle in pthread_join (its futex thread takes the
         * calls), then with main busy too (only running threads: those inside malloc are refused). */
        bool ok = true;
        if (batch_n > 0) {
                /* The helper next to us in the build tree, unless the caller chose one. */
                char self[4096], helper[4200];
                ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
                if (k > 0 && !getenv("MEMWARDEN_INJECT_HELPER")) {
                        self[k] = 0;
                        snprintf(helper, sizeof helper, "%s/../ctl/memwardenctl", dirname(self));
                        if (access(helper, X_OK) == 0)
                                setenv("MEMWARDEN_INJECT_HELPER", helper, 1);
                }
                log_set_max_level(LOG_WARNING);
                ok = batch(target, batch_n);
        }
        if (torture_n > 0) {
                ok = torture(target, torture_n, false, verbose);
                ok = torture(target, torture_n / 20 ?: 1, true, verbose) && ok;
        }
        if (!ok)
                printf("TORTURE FAILED: a crash, a deadlock, a checksum error, an error, a skip without a reason or "
                       "a thread left attached (above)\n");
        return ok ? 0 : 1;
}

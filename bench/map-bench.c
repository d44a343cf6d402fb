/* SPDX-License-Identifier: MIT */
/* bench/map-bench: the CPU cost of one map (cgroup/cgroup-map.h) of a cgroup with many processes. Not a
 * test: it prints figures (meson test --benchmark, or run it directly).
 *
 *   map-bench [PROCESSES [RUNS]]     defaults 5000 and 7
 *
 * It forks PROCESSES sleeping children. The host may have no usable cgroup v2 (ours is hybrid v1), so the
 * "cgroup" is a fake one in a temporary directory whose cgroup.procs lists the children's real PIDs, and
 * /proc is the real one: every per-process read is the real kernel's. CPU time is this process's user +
 * system time (getrusage) around each build, the median of RUNS. The baseline in the same run reads what
 * the map reads but the full /proc/PID/smaps instead of smaps_rollup (what tools summing smaps do). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup/cgroup-map.h"
#include "util/fileio.h"
#include "util/time-util.h"

static double cpu_ms(void)
{
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        return (double) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
               (double) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static int dcmp(const void *a, const void *b)
{
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

/* The baseline: comm and the full smaps of every PID, summed. */
static size_t baseline(const CgroupRoot *r, const pid_t *pids, size_t n)
{
        size_t ok = 0;
        for (size_t i = 0; i < n; i++) {
                char path[64];
                char *buf = NULL;
                SmapsRollup s;
                snprintf(path, sizeof path, "%d/comm", (int) pids[i]);
                if (read_full_file_at(r->proc_fd, path, 1 << 20, &buf, NULL) == 0)
                        free(buf);
                buf = NULL;
                snprintf(path, sizeof path, "%d/smaps", (int) pids[i]);
                if (read_full_file_at(r->proc_fd, path, 64 << 20, &buf, NULL) == 0 && smaps_parse(buf, true, &s) == 0)
                        ok++;
                free(buf);
        }
        return ok;
}

int main(int argc, char *argv[])
{
        size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 5000;
        size_t runs = argc > 2 ? strtoul(argv[2], NULL, 10) : 7;
        if (n == 0 || runs == 0)
                return 2;

        char dir[] = "/tmp/map-bench-XXXXXX";
        if (!mkdtemp(dir))
                return perror("mkdtemp"), 1;
        char path[256];
        snprintf(path, sizeof path, "%s/bench.service", dir);
        mkdir(path, 0755);
        snprintf(path, sizeof path, "%s/bench.service/memory.current", dir);
        FILE *f = fopen(path, "we");
        fprintf(f, "%d\n", 0);
        fclose(f);

        pid_t *pids = calloc(n, sizeof *pids);
        size_t forked = 0;
        for (; forked < n; forked++) {
                pid_t p = fork();
                if (p < 0) {
                        fprintf(stderr, "fork after %zu children: %s; measuring with those\n", forked, strerror(errno));
                        break;
                }
                if (p == 0) {
                        for (;;)
                                pause();
                }
                pids[forked] = p;
        }
        snprintf(path, sizeof path, "%s/bench.service/cgroup.procs", dir);
        f = fopen(path, "we");
        for (size_t i = 0; i < forked; i++)
                fprintf(f, "%d\n", (int) pids[i]);
        fclose(f);

        CgroupRoot *r = NULL;
        int k = cgroup_root_open(dir, "/proc", &r);
        if (k < 0)
                return fprintf(stderr, "cgroup_root_open: %s\n", strerror(-k)), 1;

        double *map_ms = calloc(runs, sizeof *map_ms), *base_ms = calloc(runs, sizeof *base_ms);
        double *wall_ms = calloc(runs, sizeof *wall_ms), *two_ms = calloc(runs, sizeof *two_ms);
        size_t scanned = 0, base_ok = 0;
        for (size_t i = 0; i < runs; i++) {
                CgroupMap *m = NULL;
                /* What the daemon builds for a record (daemon/record-map.c), without its caps. */
                MapOptions opt = { .max_procs = forked + 1, .no_cmdline = true, .trim_dirfd = -1 };
                usec_t w0 = now_usec(CLOCK_MONOTONIC);
                double c0 = cpu_ms();
                k = cgroup_map_build(r, "/bench.service", &opt, &m);
                map_ms[i] = cpu_ms() - c0;
                wall_ms[i] = (double) (now_usec(CLOCK_MONOTONIC) - w0) / 1e3;
                if (k < 0)
                        return fprintf(stderr, "cgroup_map_build: %s\n", strerror(-k)), 1;
                scanned = m->n_procs;
                cgroup_map_free(m);

                /* What the daemon builds for a record: statm for all, smaps_rollup for the top 64. */
                MapOptions two = opt;
                two.precise_top = 64;
                c0 = cpu_ms();
                k = cgroup_map_build(r, "/bench.service", &two, &m);
                two_ms[i] = cpu_ms() - c0;
                if (k < 0)
                        return fprintf(stderr, "cgroup_map_build: %s\n", strerror(-k)), 1;
                cgroup_map_free(m);

                c0 = cpu_ms();
                base_ok = baseline(r, pids, forked);
                base_ms[i] = cpu_ms() - c0;
        }
        qsort(map_ms, runs, sizeof *map_ms, dcmp);
        qsort(base_ms, runs, sizeof *base_ms, dcmp);
        qsort(wall_ms, runs, sizeof *wall_ms, dcmp);
        qsort(two_ms, runs, sizeof *two_ms, dcmp);
        double med = map_ms[runs / 2], bmed = base_ms[runs / 2];

        printf("map-bench: %zu processes (%zu read by the map, %zu by the baseline), %zu runs\n", forked, scanned,
               base_ok, runs);
        printf("map (smaps_rollup):  median CPU %.1f ms per map (wall %.1f ms), %.2f ms per 1000 processes\n", med,
               wall_ms[runs / 2], med * 1000.0 / (double) (forked ? forked : 1));
        printf("baseline (smaps):    median CPU %.1f ms, %.2f ms per 1000 processes\n", bmed,
               bmed * 1000.0 / (double) (forked ? forked : 1));
        printf("ratio smaps/smaps_rollup: %.2fx\n", med > 0 ? bmed / med : 0);
        printf("daemon's record map (statm for all, smaps_rollup for the top 64): median CPU %.1f ms, "
               "%.2f ms per 1000 processes; %.2fx cheaper than smaps_rollup for all\n",
               two_ms[runs / 2], two_ms[runs / 2] * 1000.0 / (double) (forked ? forked : 1),
               two_ms[runs / 2] > 0 ? med / two_ms[runs / 2] : 0);

        for (size_t i = 0; i < forked; i++)
                kill(pids[i], SIGKILL);
        for (size_t i = 0; i < forked; i++)
                waitpid(pids[i], NULL, 0);
        cgroup_root_free(r);
        snprintf(path, sizeof path, "rm -rf '%s'", dir);
        return system(path) == 0 ? 0 : 1;
}

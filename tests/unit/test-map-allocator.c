/* SPDX-License-Identifier: MIT */
/* The map's allocator view is right: a real frag process (glibc, libmemwarden-trim.so preloaded) is asked
 * for its allocator's view with `memwardenctl trim --info`; the map built from the library's report must
 * agree within 10% with what glibc's own malloc_stats() prints inside the process (what operators get from
 * gdb's `call malloc_stats()`). Host-only: a fixture cgroup lists the real PID, /proc is the real one. */
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

#include "cgroup/cgroup-map.h"

/* Under AddressSanitizer the programs' allocator is ASan's, not glibc's: what glibc holds, trims and
 * reports is not what these tests are about. The sanitizer run (tests/run) skips them. */
#if defined(__SANITIZE_ADDRESS__)
#define ALLOCATOR_TESTS_DISABLED true
#else
#define ALLOCATOR_TESTS_DISABLED false
#endif

#define FRAG BUILD_ROOT "/tests/helpers/frag"
#define LIB BUILD_ROOT "/trim/libmemwarden-trim.so.0"

/* The "Total (incl. mmap):" block of malloc_stats(). */
static bool parse_malloc_stats(const char *path, unsigned long long *system, unsigned long long *in_use)
{
        char buf[8192];
        FILE *f = fopen(path, "re");
        if (!f)
                return false;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        const char *t = strstr(buf, "Total (incl. mmap):");
        if (!t)
                return false;
        const char *s = strstr(t, "system bytes"), *u = strstr(t, "in use bytes");
        return s && u && sscanf(strchr(s, '=') + 1, "%llu", system) == 1 &&
                sscanf(strchr(u, '=') + 1, "%llu", in_use) == 1;
}

Test(map_allocator, within_ten_percent_of_malloc_stats, .timeout = 60, .disabled = ALLOCATOR_TESTS_DISABLED)
{
        char dir[] = BUILD_ROOT "/test-map-alloc-XXXXXX", path[600], trimdir[600], errpath[600];
        cr_assert_not_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/cg", dir);
        cr_assert_eq(mkdir(path, 0755), 0);
        snprintf(path, sizeof path, "%s/cg/app.service", dir);
        cr_assert_eq(mkdir(path, 0755), 0);
        snprintf(trimdir, sizeof trimdir, "%s/trim", dir);
        cr_assert_eq(mkdir(trimdir, 01777), 0);
        snprintf(errpath, sizeof errpath, "%s/frag.err", dir);

        int out[2];
        cr_assert_eq(pipe(out), 0);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL); /* an orphan would hold meson's pipe open */
                unsetenv("MALLOC_PERTURB_");      /* glibc's defaults, not meson's perturbation */
                int e = open(errpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                dup2(out[1], STDOUT_FILENO);
                dup2(e, STDERR_FILENO);
                setenv("LD_PRELOAD", LIB, 1);
                setenv("MEMWARDEN_TRIM_DIR", trimdir, 1);
                execl(FRAG, "frag", "--mib", "100", (char *) NULL);
                _exit(127);
        }
        close(out[1]);
        FILE *o = fdopen(out[0], "r");
        char line[256] = "";
        cr_assert_not_null(fgets(line, sizeof line, o), "frag printed nothing");
        int rpid = 0;
        cr_assert_eq(sscanf(line, "ready %d", &rpid), 1, "frag said: %s", line);

        FILE *f;
        snprintf(path, sizeof path, "%s/cg/app.service/cgroup.procs", dir);
        cr_assert_not_null(f = fopen(path, "we"));
        fprintf(f, "%d\n", (int) pid);
        fclose(f);
        snprintf(path, sizeof path, "%s/cg/app.service/memory.current", dir);
        cr_assert_not_null(f = fopen(path, "we"));
        fprintf(f, "300000000\n");
        fclose(f);

        /* The allocator's view, through the CLI an operator uses. */
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "MEMWARDEN_TRIM_DIR='%s' '%s' trim --info %d >/dev/null", trimdir,
                getenv("MEMWARDENCTL"), (int) pid);
        cr_assert_eq(system(cmd), 0, "memwardenctl trim --info failed");

        /* And what glibc says inside the process. */
        cr_assert_eq(kill(pid, SIGUSR1), 0);
        unsigned long long system_bytes = 0, in_use = 0;
        bool ok = false;
        for (int i = 0; i < 100 && !ok; i++) {
                ok = parse_malloc_stats(errpath, &system_bytes, &in_use);
                if (!ok)
                        usleep(50 * 1000);
        }
        cr_assert(ok, "no malloc_stats() output from frag");

        snprintf(path, sizeof path, "%s/cg", dir);
        CgroupRoot *r = NULL;
        cr_assert_eq(cgroup_root_open(path, "/proc", &r), 0);
        int tfd = open(trimdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cr_assert_geq(tfd, 0);
        MapOptions opt = { .trim_dirfd = tfd };
        CgroupMap *m = NULL;
        cr_assert_eq(cgroup_map_build(r, "/app.service", &opt, &m), 0);
        cr_assert_eq(m->n_procs, 1);
        const MapProcess *p = &m->procs[0];
        cr_assert(p->has_allocator, "the map has no allocator view of frag");
        cr_expect_str_eq(p->allocator.allocator, "glibc");

        double held = (double) p->allocator.held_bytes, used = (double) p->allocator.in_use_bytes;
        cr_log_info("map: held %.0f in use %.0f; malloc_stats: system %llu in use %llu", held, used, system_bytes,
                in_use);
        cr_expect(held >= 0.9 * (double) system_bytes && held <= 1.1 * (double) system_bytes,
                "held %.0f vs malloc_stats system bytes %llu: more than 10%% apart", held, system_bytes);
        cr_expect(used >= 0.9 * (double) in_use && used <= 1.1 * (double) in_use,
                "in use %.0f vs malloc_stats in use bytes %llu: more than 10%% apart", used, in_use);
        cr_expect_gt(held, 4 * used, "frag holds most of its heap free (it freed 90%%; glibc trims some itself)");

        cgroup_map_free(m);
        cgroup_root_free(r);
        close(tfd);
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        fclose(o);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        cr_assert_eq(system(cmd), 0);
}

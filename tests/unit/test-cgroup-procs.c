/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-procs.h, the one process picker, on every shape a policy can match: a leaf service, a slice
 * of services (no process of its own), a pod slice (pause + container scopes), memory.oom.group. A temporary
 * cgroup tree and a /proc fixture of regular files (never /sys/fs/cgroup); the processes handed out are real
 * children, so the pidfds are real. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup/cgroup-procs.h"
#include "util/fileio.h"
#include "util/strv.h"

static char dir[] = "/tmp/memwarden-procs-XXXXXX";
static CgroupRoot *root;
static pid_t kids[8];
static size_t n_kids;

static void put(const char *rel, const char *fmt, ...)
{
        char path[512], tmp[512];
        snprintf(path, sizeof path, "%s/%s", dir, rel);
        /* mkdir -p of the parent */
        snprintf(tmp, sizeof tmp, "%s", path);
        for (char *p = tmp + strlen(dir) + 1; (p = strchr(p, '/')); p++) {
                *p = 0;
                (void) mkdir(tmp, 0755);
                *p = '/';
        }
        FILE *f = fopen(path, "we");
        cr_assert_not_null(f, "%s", path);
        va_list ap;
        va_start(ap, fmt);
        vfprintf(f, fmt, ap);
        va_end(ap);
        fclose(f);
}

static pid_t child(void)
{
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                for (;;)
                        pause();
        }
        kids[n_kids++] = pid;
        return pid;
}

/* A process of the fixture: a real child listed in cgpath, with anon_mib of anonymous memory, started at
 * start (ticks). */
static pid_t proc_in(const char *cgpath, unsigned anon_mib, unsigned shared_mib, unsigned long long start)
{
        pid_t pid = child();
        char p[128];
        unsigned long pages = (anon_mib + shared_mib) * 256UL, shared = shared_mib * 256UL;
        snprintf(p, sizeof p, "proc/%d/statm", (int) pid);
        put(p, "%lu %lu %lu 1 0 %lu 0\n", pages * 2, pages, shared, pages);
        snprintf(p, sizeof p, "proc/%d/cgroup", (int) pid);
        put(p, "0::%s\n", cgpath);
        snprintf(p, sizeof p, "proc/%d/stat", (int) pid);
        put(p, "%d (odd ) name) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 %llu 0 0\n", (int) pid, start);
        char procs[512];
        snprintf(procs, sizeof procs, "cg%s/cgroup.procs", cgpath);
        /* append */
        char path[1100];
        snprintf(path, sizeof path, "%s/%s", dir, procs);
        FILE *f = fopen(path, "ae");
        cr_assert_not_null(f);
        fprintf(f, "%d\n", (int) pid);
        fclose(f);
        return pid;
}

static void cgroup(const char *cgpath, unsigned long long current)
{
        char p[512];
        snprintf(p, sizeof p, "cg%s/cgroup.procs", cgpath);
        put(p, "");
        snprintf(p, sizeof p, "cg%s/memory.current", cgpath);
        put(p, "%llu\n", current);
        snprintf(p, sizeof p, "cg%s/memory.oom.group", cgpath);
        put(p, "0\n");
}

static void setup(void)
{
        cr_assert_not_null(mkdtemp(dir));
        put("cg/cgroup.procs", "");
        put("proc/.keep", "");
        char cg[600], pr[600];
        snprintf(cg, sizeof cg, "%s/cg", dir);
        snprintf(pr, sizeof pr, "%s/proc", dir);
        cr_assert_eq(cgroup_root_open(cg, pr, &root), 0);
}

static void teardown(void)
{
        for (size_t i = 0; i < n_kids; i++) {
                kill(kids[i], SIGKILL);
                waitpid(kids[i], NULL, 0);
        }
        n_kids = 0;
        cgroup_root_free(root);
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        (void) !system(cmd);
        strcpy(dir, "/tmp/memwarden-procs-XXXXXX");
}

TestSuite(procs, .init = setup, .fini = teardown);

Test(procs, slice_without_processes_of_its_own)
{
        /* The slice: bloat and chill are services in it; the slice's own cgroup.procs is empty. */
        cgroup("/acc.slice", 0);
        cgroup("/acc.slice/bloat.service", 189 << 20);
        cgroup("/acc.slice/chill.service", 1 << 20);
        pid_t bloat = proc_in("/acc.slice/bloat.service", 189, 1, 500);
        pid_t chill = proc_in("/acc.slice/chill.service", 1, 1, 400);

        ProcList *l = NULL;
        cr_assert_eq(proc_list_collect(root, "/acc.slice", 0, &l), 0);
        cr_assert_eq(l->n_own, 0, "the slice has no process of its own");
        cr_assert_eq(l->n_child_cgroups, 2);
        cr_assert_eq(l->n_procs, 2);
        cr_assert_eq(proc_list_rank(root, l), 0);
        cr_assert_eq(l->procs[0].pid, bloat, "largest first over the whole subtree");
        cr_assert_str_eq(l->procs[0].cgroup, "/acc.slice/bloat.service");
        cr_assert_eq(l->procs[0].anon_bytes, 189ULL << 20);
        proc_list_free(l);

        ProcPick pick;
        char *cg = NULL;
        int fd = proc_open_largest(root, "/acc.slice", &pick, &cg);
        cr_assert_geq(fd, 0, "%d", fd);
        cr_assert_eq(pick.pid, bloat);
        cr_assert_str_eq(cg, "/acc.slice/bloat.service");
        close(fd);
        free(cg);

        /* The main process of the subtree: the one that started first. */
        pid_t oldest = 0;
        fd = proc_open_oldest(root, "/acc.slice", &oldest);
        cr_assert_geq(fd, 0);
        cr_assert_eq(oldest, chill);
        close(fd);

        /* The largest child by memory.current. */
        uint64_t cur = 0;
        cr_assert_eq(cgroup_largest_child(root, "/acc.slice", &cg, &cur), 0);
        cr_assert_str_eq(cg, "/acc.slice/bloat.service");
        cr_assert_eq(cur, 189ULL << 20);
        free(cg);
        cr_assert_eq(cgroup_largest_child(root, "/acc.slice/bloat.service", &cg, NULL), -ENOENT, "a leaf");
}

Test(procs, ranks_by_anonymous_memory_not_shared)
{
        cgroup("/app.service", 0);
        pid_t mapper = proc_in("/app.service", 10, 500, 1); /* large, but shared file pages */
        pid_t heap = proc_in("/app.service", 200, 0, 2);
        ProcPick pick;
        int fd = proc_open_largest(root, "/app.service", &pick, NULL);
        cr_assert_geq(fd, 0);
        cr_assert_eq(pick.pid, heap, "a kill gives back anonymous memory");
        cr_assert_neq(pick.pid, mapper);
        close(fd);
}

Test(procs, delegated_subtree_and_own_processes)
{
        /* A unit with delegated sub-cgroups, processes at several levels. */
        cgroup("/u.service", 0);
        cgroup("/u.service/payload", 0);
        cgroup("/u.service/payload/deep", 0);
        proc_in("/u.service", 5, 0, 1);
        pid_t deep = proc_in("/u.service/payload/deep", 50, 0, 2);
        ProcList *l = NULL;
        cr_assert_eq(proc_list_collect(root, "/u.service", 0, &l), 0);
        cr_assert_eq(l->n_own, 1);
        cr_assert_eq(l->n_child_cgroups, 1);
        proc_list_free(l);
        ProcPick pick;
        int fd = proc_open_largest(root, "/u.service", &pick, NULL);
        cr_assert_eq(pick.pid, deep, "the deepest cgroup is part of the subtree");
        close(fd);

        /* max_cgroups = 1: only the cgroup's own processes. */
        cr_assert_eq(proc_list_collect(root, "/u.service", 1, &l), 0);
        cr_assert_eq(l->n_procs, 1);
        cr_assert(l->truncated || strv_length(l->cgroups) == 1);
        proc_list_free(l);
}

Test(procs, pod_slice_largest_child_is_a_container)
{
        const char *pod = "/kubepods.slice/kubepods-burstable.slice/"
                          "kubepods-burstable-pod1f2e3d4c_5b6a_4978_8a9b_0c1d2e3f4a5b.slice";
        char pause_cg[300], app[300], hog[300];
        snprintf(pause_cg, sizeof pause_cg, "%s/cri-containerd-%064d.scope", pod, 1);
        snprintf(app, sizeof app, "%s/cri-containerd-%064d.scope", pod, 2);
        snprintf(hog, sizeof hog, "%s/cri-containerd-%064d.scope", pod, 3);
        cgroup("/kubepods.slice", 0);
        cgroup("/kubepods.slice/kubepods-burstable.slice", 0);
        cgroup(pod, 0);
        cgroup(pause_cg, 1 << 20);
        cgroup(app, 40 << 20);
        cgroup(hog, 150 << 20);
        proc_in(pause_cg, 1, 0, 1);
        proc_in(app, 40, 0, 2);
        proc_in(hog, 150, 0, 3);

        char *cg = NULL;
        cr_assert_eq(cgroup_largest_child(root, pod, &cg, NULL), 0);
        cr_assert_str_eq(cg, hog, "the hog's container scope, not the pause or the other container");
        free(cg);
}

Test(procs, oom_group_is_honoured_within_the_guard_only)
{
        cgroup("/s.slice", 0);
        cgroup("/s.slice/a.service", 0);
        cgroup("/s.slice/a.service/w", 0);
        char *g = NULL;
        cr_assert_eq(cgroup_oom_group_of(root, "/s.slice", "/s.slice/a.service/w", &g), 0, "none set");
        put("cg/s.slice/a.service/memory.oom.group", "1\n");
        cr_assert_eq(cgroup_oom_group_of(root, "/s.slice", "/s.slice/a.service/w", &g), 1);
        cr_assert_str_eq(g, "/s.slice/a.service");
        free(g);
        put("cg/s.slice/memory.oom.group", "1\n");
        cr_assert_eq(cgroup_oom_group_of(root, "/s.slice", "/s.slice/a.service/w", &g), 1);
        cr_assert_str_eq(g, "/s.slice", "the topmost group, as the kernel");
        free(g);
        /* Never above the guarded cgroup. */
        cr_assert_eq(cgroup_oom_group_of(root, "/s.slice/a.service", "/s.slice/a.service/w", &g), 1);
        cr_assert_str_eq(g, "/s.slice/a.service");
        free(g);
        cr_assert_eq(cgroup_oom_group_of(root, "/s.slice/a.service/w", "/other.slice/x", &g), 0,
                     "a path outside the guard is never looked at");
}

Test(procs, empty_and_vanished_are_explained)
{
        cgroup("/e.slice", 0);
        cgroup("/e.slice/one.service", 0);
        cgroup("/e.slice/two.service", 0);
        ProcPick pick;
        cr_assert_eq(proc_open_largest(root, "/e.slice", &pick, NULL), -ESRCH);
        ProcList *l = NULL;
        cr_assert_eq(proc_list_collect(root, "/e.slice", 0, &l), 0);
        char why[256];
        proc_list_explain_empty(l, "/e.slice", why, sizeof why);
        cr_assert(strstr(why, "no process in /e.slice or below it"), "%s", why);
        cr_assert(strstr(why, "2 cgroup(s) below it"), "%s", why);
        proc_list_free(l);

        /* Listed, but gone (no /proc entry) and a kernel thread (statm all zero). */
        put("cg/e.slice/one.service/cgroup.procs", "%d\n", 4194304 + 77);
        put("cg/e.slice/two.service/cgroup.procs", "2\n");
        put("proc/2/statm", "0 0 0 0 0 0 0\n");
        cr_assert_eq(proc_list_collect(root, "/e.slice", 0, &l), 0);
        cr_assert_eq(proc_list_rank(root, l), 0);
        cr_assert_eq(l->n_procs, 0);
        cr_assert_eq(l->n_gone, 1);
        cr_assert_eq(l->n_not_processes, 1);
        proc_list_explain_empty(l, "/e.slice", why, sizeof why);
        cr_assert(strstr(why, "2 listed, 1 exited meanwhile, 1 kernel thread(s) or zombie(s)"), "%s", why);
        proc_list_free(l);
        cr_assert_eq(proc_list_collect(root, "/nonexistent.slice", 0, &l), -ENOENT);
}

Test(procs, a_cgroup_opened_as_fd_19_is_not_gone)
{
        /* ERRNO_IS_GONE() once took the absolute value: a cgroup opened as fd 19 (ENODEV's number; 2 and 3
         * are ENOENT's and ESRCH's) read as "gone", and the picker listed nothing: the map said "0
         * processes" and the trim rung through the picker found no process in a real cgroup (the daemon's
         * fds reach 19; a test's rarely do). Here every cgroup open lands on each fd number from the
         * lowest free one up past 19. */
        cgroup("/fd.service", 0);
        cgroup("/fd.slice", 0);
        cgroup("/fd.slice/in.service", 0);
        pid_t own = proc_in("/fd.service", 5, 0, 1);
        pid_t below = proc_in("/fd.slice/in.service", 5, 0, 2);

        int fillers[64], n_fillers = 0;
        int lowest = open("/dev/null", O_RDONLY | O_CLOEXEC);
        cr_assert_geq(lowest, 0);
        close(lowest);
        cr_assert_leq(lowest, 16, "the lowest free fd (%d) must be below 19 for this test", lowest);
        bool saw_19 = false;
        for (int fd = lowest; fd <= 24 && n_fillers < 64;) {
                ProcList *l = NULL;
                cr_assert_eq(proc_list_collect(root, "/fd.service", 1, &l), 0);
                cr_assert_eq(l->n_procs, 1, "the cgroup alone, lowest free fd %d: %zu processes", fd, l->n_procs);
                cr_assert_eq(l->procs[0].pid, own);
                proc_list_free(l);
                cr_assert_eq(proc_list_collect(root, "/fd.slice", 0, &l), 0);
                cr_assert_eq(l->n_procs, 1, "the subtree, lowest free fd %d: %zu processes", fd, l->n_procs);
                cr_assert_eq(l->procs[0].pid, below);
                proc_list_free(l);

                saw_19 = saw_19 || fd == 19;
                fillers[n_fillers] = open("/dev/null", O_RDONLY | O_CLOEXEC);
                cr_assert_geq(fillers[n_fillers++], fd);
                int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
                cr_assert_geq(probe, 0);
                close(probe);
                fd = probe; /* the lowest free fd now */
        }
        cr_assert(saw_19, "the lowest free fd was 19 once");
        for (int i = 0; i < n_fillers; i++)
                close(fillers[i]);
        cr_assert(!ERRNO_IS_GONE(ENODEV) && !ERRNO_IS_GONE(0) && !ERRNO_IS_GONE(ENOENT),
                  "an fd or a positive value is never an error");
        cr_assert(ERRNO_IS_GONE(-ENODEV) && ERRNO_IS_GONE(-ENOENT) && ERRNO_IS_GONE(-ESRCH));
}

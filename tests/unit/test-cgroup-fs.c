/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-fs.h against the fixture trees tests/fixtures/cgroup/tree and tests/fixtures/proc. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include "cgroup/cgroup-fs.h"
#include "util/fileio.h"
#include "util/strv.h"

#define TREE FIXTURES_DIR "/cgroup/tree"
#define PROC FIXTURES_DIR "/proc"
#define DOCKER_ID "3f2a9c0e1b7d4a5c6e8f9012a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6"

static CgroupRoot *root;

static void setup(void)
{
        cr_assert_eq(cgroup_root_open(TREE, PROC, &root), 0);
}

static void teardown(void)
{
        root = cgroup_root_free(root);
}

static int open_cg(const char *path)
{
        int fd = cgroup_open(root, path);
        cr_assert_geq(fd, 0, "cgroup_open(%s): %d", path, fd);
        return fd;
}

TestSuite(fs, .init = setup, .fini = teardown);

Test(fs, root_open_and_paths)
{
        cr_assert_str_eq(root->root_path, TREE);
        cr_assert_str_eq(root->proc_path, PROC);
        CgroupRoot *r = NULL;
        cr_assert_eq(cgroup_root_open(FIXTURES_DIR "/does-not-exist", PROC, &r), -ENOENT);
        cr_assert_null(r);
}

Test(fs, open)
{
        _cleanup_close_ int a = open_cg("/"), b = open_cg(""), c = open_cg("system.slice/nginx.service"),
                            d = open_cg("//system.slice//nginx.service/");
        struct stat sa, sr;
        cr_assert_eq(fstat(a, &sa), 0);
        cr_assert_eq(fstat(root->root_fd, &sr), 0);
        cr_assert_eq(sa.st_ino, sr.st_ino, "\"/\" is the root itself");
        cr_assert_neq(a, root->root_fd, "a new fd, not the root's");
        cr_assert_eq(cgroup_open(root, "/no/such.service"), -ENOENT);
        cr_assert_eq(cgroup_open(root, "/system.slice/nginx.service/memory.current"), -ENOTDIR);
        cr_assert_eq(cgroup_open(root, "/.."), -EINVAL);
        cr_assert_eq(cgroup_open(root, "/system.slice/../.."), -EINVAL);
        cr_assert_eq(cgroup_open(root, "/./system.slice"), -EINVAL);
}

Test(fs, read_memory_nginx)
{
        _cleanup_close_ int fd = open_cg("/system.slice/nginx.service");
        CgroupMemory m;
        cr_assert_eq(cgroup_read_memory(fd, &m), 0);
        cr_assert_eq(m.current, 268435456ULL);
        cr_assert_eq(m.max, 536870912ULL);
        cr_assert_eq(m.high, 483183820ULL);
        cr_assert_eq(m.low, 134217728ULL);
        cr_assert_eq(m.min, 0);
        cr_assert_eq(m.swap_current, 1048576ULL);
        cr_assert(cgroup_has_memory(fd));

        bool g = false;
        cr_assert_eq(cgroup_read_oom_group(fd, &g), 0);
        cr_assert(g);

        uint64_t v;
        cr_assert_eq(cgroup_read_u64(fd, "memory.current", &v), 0);
        cr_assert_eq(v, 268435456ULL);
        cr_assert_eq(cgroup_read_u64(fd, "memory.peak", &v), -ENOENT);
}

Test(fs, read_memory_limits_only)
{
        /* status reads three files per guarded cgroup: the same figures as cgroup_read_memory(), the rest 0 */
        _cleanup_close_ int fd = open_cg("/system.slice/nginx.service");
        CgroupMemory m;
        cr_assert_eq(cgroup_read_memory_limits(fd, &m), 0);
        cr_assert_eq(m.current, 268435456ULL);
        cr_assert_eq(m.max, 536870912ULL);
        cr_assert_eq(m.high, 483183820ULL);
        cr_assert_eq(m.low, 0);
        cr_assert_eq(m.swap_current, 0);
        _cleanup_close_ int r = open_cg("/");
        cr_assert_eq(cgroup_read_memory_limits(r, &m), -ENOENT, "the root has no memory.current");
}

Test(fs, read_events_stat_pressure)
{
        _cleanup_close_ int fd = open_cg("/system.slice/nginx.service");
        MemoryEvents e, l;
        cr_assert_eq(cgroup_read_events(fd, false, &e), 0);
        cr_assert_eq(cgroup_read_events(fd, true, &l), 0);
        cr_assert_eq(e.high, 1532);
        cr_assert_eq(l.high, 32);
        cr_assert_eq(l.max, 1);

        MemoryStat s;
        cr_assert_eq(cgroup_read_stat(fd, &s), 0);
        cr_assert_eq(s.anon, 104857600ULL);

        Psi p;
        cr_assert_eq(cgroup_read_pressure(fd, &p), 0);
        cr_assert_eq(p.some.total_usec, 4832167ULL);
        cr_assert(p.has_full);
}

Test(fs, root_cgroup_has_no_memory_current)
{
        /* The real root cgroup has memory.stat and memory.pressure, but no memory.current/max. */
        _cleanup_close_ int fd = open_cg("/");
        CgroupMemory m;
        cr_assert_not(cgroup_has_memory(fd));
        cr_assert_eq(cgroup_read_memory(fd, &m), -ENOENT);
        Psi p;
        cr_assert_eq(cgroup_read_pressure(fd, &p), 0);
}

Test(fs, limits_default_when_absent)
{
        /* A temp cgroup with memory.current only: max/high read as "max", low/min/swap as 0. */
        char dir[] = "/tmp/memwarden-cg-XXXXXX";
        cr_assert_not_null(mkdtemp(dir));
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cr_assert_geq(fd, 0);
        int f = openat(fd, "memory.current", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        cr_assert_geq(f, 0);
        cr_assert_eq(write(f, "4096\n", 5), 5);
        close(f);
        CgroupMemory m;
        cr_assert_eq(cgroup_read_memory(fd, &m), 0);
        cr_assert_eq(m.current, 4096);
        cr_assert_eq(m.max, CGROUP_LIMIT_MAX);
        cr_assert_eq(m.high, CGROUP_LIMIT_MAX);
        cr_assert_eq(m.low, 0);
        cr_assert_eq(m.min, 0);
        cr_assert_eq(m.swap_current, 0);
        unlinkat(fd, "memory.current", 0);
        rmdir(dir);
}

Test(fs, hostile_files)
{
        CgroupMemory m = { .current = 11 };
        uint64_t v = 0;
        bool g;
        MemoryEvents e;
        MemoryStat s;
        Psi p;

        _cleanup_close_ int t = open_cg("/hostile.slice/truncated.service");
        cr_assert_eq(cgroup_read_memory(t, &m), -EINVAL, "empty memory.current");
        cr_assert_eq(m.current, 11, "ret untouched on failure");
        cr_assert_eq(cgroup_read_events(t, false, &e), -EINVAL);
        cr_assert_eq(cgroup_read_pressure(t, &p), -EINVAL);
        /* memory.stat cut after 40 bytes, inside the unknown key "kernel": what came before counts. */
        cr_assert_eq(cgroup_read_stat(t, &s), 0);
        cr_assert_eq(s.anon, 104857600ULL);
        cr_assert_eq(s.file, 52428800ULL);

        _cleanup_close_ int n = open_cg("/hostile.slice/nonnumber.service");
        cr_assert_eq(cgroup_read_u64(n, "memory.max", &v), -EINVAL);
        cr_assert_eq(cgroup_read_memory(n, &m), -EINVAL);
        pid_t *pids = NULL;
        cr_assert_eq(cgroup_read_procs(n, &pids), -EINVAL);
        cr_assert_null(pids);

        _cleanup_close_ int h = open_cg("/hostile.slice/highmax.service");
        cr_assert_eq(cgroup_read_memory(h, &m), 0);
        cr_assert_eq(m.high, CGROUP_LIMIT_MAX);
        cr_assert_eq(m.max, 8192);
        cr_assert_eq(cgroup_read_oom_group(h, &g), 0);
        cr_assert_not(g);

        _cleanup_close_ int o = open_cg("/hostile.slice/overflow.service");
        cr_assert_eq(cgroup_read_u64(o, "memory.current", &v), -ERANGE);
        cr_assert_eq(cgroup_read_u64(o, "memory.max", &v), 0);
        cr_assert_eq(v, UINT64_MAX);
        cr_assert_eq(cgroup_read_u64(o, "memory.high", &v), -EINVAL, "-1");

        _cleanup_close_ int x = open_cg("/hostile.slice/nomemory.service");
        cr_assert_not(cgroup_has_memory(x));
        cr_assert_eq(cgroup_read_memory(x, &m), -ENOENT);
        cr_assert_eq(cgroup_read_events(x, false, &e), -ENOENT);
        cr_assert_eq(cgroup_read_stat(x, &s), -ENOENT);
        cr_assert_eq(cgroup_read_pressure(x, &p), -ENOENT);
        cr_assert_eq(cgroup_read_procs(x, &pids), 0);
        cr_assert_null(pids);
}

Test(fs, read_procs_dedup)
{
        _cleanup_close_ int fd = open_cg("/system.slice/nginx.service");
        _cleanup_free_ pid_t *p = NULL;
        cr_assert_eq(cgroup_read_procs(fd, &p), 3);
        cr_assert_eq(p[0], 100);
        cr_assert_eq(p[1], 101);
        cr_assert_eq(p[2], 102);
}

/* ---- walk ---- */

typedef struct Visit {
        char **paths;
        const char *skip; /* return 1 for this path */
        const char *abort_at;
        const char *remove_base; /* for the vanish test: the temp root on disk */
        const char *remove_when; /* when visiting this path ... */
        const char *remove_what; /* ... rm -r this one */
} Visit;

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
        return remove(p);
}

static int visit_cb(const CgroupRoot *r, const char *cgpath, void *userdata)
{
        Visit *v = userdata;
        cr_assert_eq(strv_extend(&v->paths, cgpath), 0);
        if (v->remove_when && streq(cgpath, v->remove_when)) {
                _cleanup_free_ char *p = NULL;
                cr_assert_geq(asprintf(&p, "%s%s", v->remove_base, v->remove_what), 0);
                cr_assert_eq(nftw(p, rm_cb, 16, FTW_DEPTH | FTW_PHYS), 0, "rm -r %s", p);
        }
        if (v->abort_at && streq(cgpath, v->abort_at))
                return -ECANCELED;
        if (v->skip && streq(cgpath, v->skip))
                return 1;
        return 0;
}

static char *join(char **l)
{
        size_t n = 1;
        for (char **i = l; i && *i; i++)
                n += strlen(*i) + 1;
        char *s = calloc(1, n);
        for (char **i = l; i && *i; i++) {
                strcat(s, *i);
                strcat(s, "\n");
        }
        return s;
}

#define POD "kubepods-burstable-pod0e8d3c1a_5b7f_4a2e_9c6d_1f2e3a4b5c6d.slice"
#define CRI "cri-containerd-9b8c7d6e5f40312a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f607182.scope"

Test(fs, walk_preorder)
{
        Visit v = {};
        cr_assert_eq(cgroup_walk(root, "/", visit_cb, &v), 0);
        _cleanup_free_ char *got = join(v.paths);
        cr_assert_str_eq(got,
                         "/\n"
                         "/hostile.slice\n"
                         "/hostile.slice/highmax.service\n"
                         "/hostile.slice/nomemory.service\n"
                         "/hostile.slice/nonnumber.service\n"
                         "/hostile.slice/overflow.service\n"
                         "/hostile.slice/truncated.service\n"
                         "/init.scope\n"
                         "/kubepods.slice\n"
                         "/kubepods.slice/kubepods-burstable.slice\n"
                         "/kubepods.slice/kubepods-burstable.slice/" POD "\n"
                         "/kubepods.slice/kubepods-burstable.slice/" POD "/" CRI "\n"
                         "/system.slice\n"
                         "/system.slice/docker-" DOCKER_ID ".scope\n"
                         "/system.slice/nginx.service\n");
        strv_free(v.paths);
}

Test(fs, walk_skip_children_and_subtree)
{
        Visit v = { .skip = "/kubepods.slice" };
        cr_assert_eq(cgroup_walk(root, "/", visit_cb, &v), 0);
        _cleanup_free_ char *got = join(v.paths);
        cr_assert_not_null(strstr(got, "/kubepods.slice\n"));
        cr_assert_null(strstr(got, "kubepods-burstable"));
        cr_assert_not_null(strstr(got, "/system.slice/nginx.service\n"));
        strv_free(v.paths);

        Visit w = {};
        cr_assert_eq(cgroup_walk(root, "system.slice/", visit_cb, &w), 0);
        _cleanup_free_ char *got2 = join(w.paths);
        cr_assert_str_eq(got2, "/system.slice\n/system.slice/docker-" DOCKER_ID ".scope\n/system.slice/nginx.service\n");
        strv_free(w.paths);

        Visit x = { .skip = "/system.slice" };
        cr_assert_eq(cgroup_walk(root, "/system.slice", visit_cb, &x), 0);
        cr_assert_eq(strv_length(x.paths), 1, "skipping the start skips everything below it");
        strv_free(x.paths);
}

Test(fs, walk_abort_and_missing_start)
{
        Visit v = { .abort_at = "/init.scope" };
        cr_assert_eq(cgroup_walk(root, "/", visit_cb, &v), -ECANCELED);
        cr_assert_str_eq(v.paths[strv_length(v.paths) - 1], "/init.scope");
        cr_assert_eq(strv_length(v.paths), 8, "stopped at once");
        strv_free(v.paths);

        Visit w = {};
        cr_assert_eq(cgroup_walk(root, "/gone.slice", visit_cb, &w), -ENOENT);
        cr_assert_null(w.paths);
}

static void mkdirs(const char *base, const char *const *rel)
{
        for (size_t i = 0; rel[i]; i++) {
                _cleanup_free_ char *p = NULL;
                cr_assert_geq(asprintf(&p, "%s%s", base, rel[i]), 0);
                cr_assert_eq(mkdir(p, 0755), 0, "mkdir %s: %m", p);
        }
}

Test(fs, walk_survives_vanishing_cgroups)
{
        char dir[] = "/tmp/memwarden-walk-XXXXXX";
        cr_assert_not_null(mkdtemp(dir));
        static const char *const tree[] = { "/a.slice", "/a.slice/x.service", "/b.slice", "/b.slice/y.service",
                                            "/b.slice/y.service/deep", "/c.slice", "/c.slice/z.service", NULL };
        mkdirs(dir, tree);

        CgroupRoot *r = NULL;
        cr_assert_eq(cgroup_root_open(dir, "/proc", &r), 0);

        /* While at /a.slice/x.service, remove the not yet visited /b.slice subtree: the walk goes on. */
        Visit v = { .remove_base = dir, .remove_when = "/a.slice/x.service", .remove_what = "/b.slice" };
        cr_assert_eq(cgroup_walk(r, "/", visit_cb, &v), 0);
        _cleanup_free_ char *got = join(v.paths);
        cr_assert_str_eq(got, "/\n/a.slice\n/a.slice/x.service\n/c.slice\n/c.slice/z.service\n");
        strv_free(v.paths);

        /* Remove the cgroup being visited, from its own callback: its children are skipped, no error. */
        Visit w = { .remove_base = dir, .remove_when = "/c.slice", .remove_what = "/c.slice" };
        cr_assert_eq(cgroup_walk(r, "/", visit_cb, &w), 0);
        _cleanup_free_ char *got2 = join(w.paths);
        cr_assert_str_eq(got2, "/\n/a.slice\n/a.slice/x.service\n/c.slice\n");
        strv_free(w.paths);

        cgroup_root_free(r);
        cr_assert_eq(nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* ---- /proc ---- */

Test(fs, proc_status_fixtures)
{
        ProcStatus st;
        cr_assert_eq(proc_read_status(root, 1, &st), 0);
        cr_assert_eq(st.tgid, 1);
        cr_assert_eq(st.vm_rss_bytes, 12800ULL * 1024);
        cr_assert_not(st.is_kernel_thread);

        cr_assert_eq(proc_read_status(root, 2, &st), 0, "6.1 kthreadd: no VmSize");
        cr_assert(st.is_kernel_thread);
        cr_assert_eq(proc_read_status(root, 3, &st), 0, "6.x kworker: Kthread: 1");
        cr_assert(st.is_kernel_thread);
        cr_assert_eq(st.state, 'I');

        cr_assert_eq(proc_read_status(root, 102, &st), 0);
        cr_assert_eq(st.state, 'Z');
        cr_assert_not(st.is_kernel_thread, "a zombie has no VmSize either");
        cr_assert_eq(st.vm_rss_bytes, 0);

        cr_assert_eq(proc_read_status(root, 103, &st), 0, "Name: evil) Z 1 (x");
        cr_assert_eq(st.tgid, 103);
        cr_assert_eq(st.state, 'S');
        cr_assert_eq(st.sig_cgt, 0x4000);
        cr_assert_eq(st.sig_blk, 0x10000);

        cr_assert_eq(proc_read_status(root, 104, &st), 0, "escaped newline in Name");
        cr_assert_eq(st.tgid, 104);

        cr_assert_eq(proc_read_status(root, 4242, &st), 0);
        cr_assert(st.sig_cgt & (1ULL << (SIGRTMIN + 18 - 1)), "SIGRTMIN+18 handled");

        cr_assert_eq(proc_read_status(root, 105, &st), -EINVAL, "truncated");
        cr_assert_eq(proc_read_status(root, 99999, &st), -ENOENT);
}

Test(fs, proc_cgroup_fixtures)
{
        _cleanup_free_ char *a = NULL, *b = NULL;
        cr_assert_eq(proc_read_cgroup(root, 101, &a), 0);
        cr_assert_str_eq(a, "/system.slice/nginx.service");
        cr_assert_eq(proc_read_cgroup(root, 106, &b), 0, "hybrid host file");
        cr_assert_str_eq(b, "/user.slice");
        char *c = NULL;
        cr_assert_eq(proc_read_cgroup(root, 99999, &c), -ENOENT);
        cr_assert_null(c);
}

Test(fs, proc_self_on_host)
{
        CgroupRoot *r = NULL;
        cr_assert_eq(cgroup_root_open(TREE, NULL, &r), 0);
        cr_assert_str_eq(r->proc_path, "/proc");
        ProcStatus st;
        cr_assert_eq(proc_read_status(r, getpid(), &st), 0);
        cr_assert_eq(st.tgid, getpid());
        cr_assert_gt(st.vm_rss_bytes, 0);
        cr_assert_not(st.is_kernel_thread);
        cgroup_root_free(r);
}

/* ---- mount discovery on this host ---- */

Test(fs, find_mount_on_this_host)
{
        _cleanup_free_ char *p = NULL, *controllers = NULL;
        int r = cgroup_find_mount(&p);
        int u = read_full_file_at(AT_FDCWD, "/sys/fs/cgroup/unified/cgroup.controllers", 4096, &controllers, NULL);

        if (u == 0 && !strstr(controllers, "memory")) {
                /* Our hybrid development hosts: libcgroup finds memory on the v1 hierarchy
                 * (/sys/fs/cgroup/memory), which is not cgroup2; the only cgroup2 mount (unified) lacks
                 * the memory controller. */
                cr_assert_eq(r, -ENOMEDIUM, "got %d (%s)", r, p ?: "");
                cr_assert_null(p);
        } else if (r == 0) {
                /* A unified host (or a VM): a cgroup2 mount that lists memory. */
                _cleanup_free_ char *c = NULL;
                cr_assert_not_null(p);
                int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                cr_assert_geq(fd, 0);
                cr_assert_eq(read_full_file_at(fd, "cgroup.controllers", 4096, &c, NULL), 0);
                close(fd);
                cr_assert_not_null(strstr(c, "memory"));
        } else
                /* Anything else (no cgroup2 at all): still the documented answer. */
                cr_assert_eq(r, -ENOMEDIUM);
}

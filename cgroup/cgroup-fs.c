/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-fs.c: finding the cgroup2 mount, reading cgroup files and /proc, walking the hierarchy.
 * Every access is relative to the directory fds in CgroupRoot. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libcgroup.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "cgroup-fs.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/strv.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* Generous caps: a cgroup value file is a line; memory.stat ~2 KiB; cgroup.procs of a huge cgroup can
 * be megabytes (7 bytes per PID). */
#define SMALL_FILE_MAX (4U * 1024U)
#define STAT_FILE_MAX (256U * 1024U)
#define PROCS_FILE_MAX (64U * 1024U * 1024U)
#define WALK_DEPTH_MAX 256

_printf_(3, 0) static void cgroup_log_to_debug(void *userdata, int level, const char *fmt, va_list ap)
{
        char buf[512];

        if (log_get_max_level() < LOG_DEBUG)
                return;
        vsnprintf(buf, sizeof buf, fmt, ap);
        buf[strcspn(buf, "\n")] = 0;
        log_debug("libcgroup: %s", buf);
}

/* Is path a cgroup2 mount with the memory controller available? Returns 1, 0, or -errno (-ENOMEM). */
static int cgroup2_mount_has_memory(const char *path)
{
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *controllers = NULL;
        struct statfs sfs;
        int r;

        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                log_debug("Cannot open %s: %m, ignoring", path);
                return 0;
        }
        if (fstatfs(fd, &sfs) < 0 || (uint64_t) sfs.f_type != CGROUP2_SUPER_MAGIC) {
                log_debug("%s is not a cgroup2 file system, ignoring", path);
                return 0;
        }
        r = read_full_file_at(fd, "cgroup.controllers", SMALL_FILE_MAX, &controllers, NULL);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                log_debug_errno(r, "Cannot read %s/cgroup.controllers: %m, ignoring", path);
                return 0;
        }
        r = cgroup_controllers_has(controllers, "memory");
        if (r == 0)
                log_debug("cgroup2 mount %s lacks the memory controller (v1/hybrid host?), ignoring", path);
        return r;
}

/* What libcgroup does for us: cgroup_init() reads the mount table once, understands v1, v2 and hybrid
 * layouts (for a cgroup2 mount it reads cgroup.controllers and files each listed controller under that
 * mount), and cgroup_get_subsys_mount_point() then tells where a controller is mounted: on a unified host
 * "/sys/fs/cgroup", on our hybrid development hosts "/sys/fs/cgroup/memory" (the v1 hierarchy).
 * What it does not do: tell us (in 2.0.2, through this call) whether that mount is v1 or v2, refresh its
 * cache when mounts change, or help with anything we read afterwards (memory.pressure, memory.events,
 * walking, pidfds): we use our own dirfd-relative I/O for that, so tests can use fixture trees.
 * Hence we check the answer ourselves (statfs: CGROUP2_SUPER_MAGIC; "memory" in cgroup.controllers) and
 * fall back to scanning /proc/self/mountinfo for cgroup2 mounts. */
int cgroup_find_mount(char **ret_path)
{
        _cleanup_free_ char *mountinfo = NULL;
        _cleanup_strv_free_ char **mounts = NULL;
        int r;

        /* libcgroup's default logger prints errors to stderr; cgroup/ only logs at debug level. */
        cgroup_set_logger(cgroup_log_to_debug, log_get_max_level() >= LOG_DEBUG ? CGROUP_LOG_DEBUG : 0,
                          /* userdata= */ NULL);
        r = cgroup_init();
        if (r != 0)
                log_debug("libcgroup: cgroup_init() failed: %s, ignoring", cgroup_strerror(r));
        else {
                char *mp = NULL;

                r = cgroup_get_subsys_mount_point("memory", &mp);
                if (r == 0 && mp) {
                        _cleanup_free_ char *p = mp;

                        r = cgroup2_mount_has_memory(p);
                        if (r < 0)
                                return r;
                        if (r > 0) {
                                log_debug("cgroup2 memory controller at %s (libcgroup)", p);
                                *ret_path = TAKE_PTR(p);
                                return 0;
                        }
                } else
                        log_debug("libcgroup: no memory controller mount: %s, ignoring",
                                  r != 0 ? cgroup_strerror(r) : "no path");
        }

        r = read_full_file_at(AT_FDCWD, "/proc/self/mountinfo", 16U * 1024U * 1024U, &mountinfo, NULL);
        if (r < 0)
                return log_debug_errno(r, "Cannot read /proc/self/mountinfo: %m");
        r = mountinfo_cgroup2_mounts(mountinfo, &mounts);
        if (r < 0)
                return r;
        for (char **m = mounts; m && *m; m++) {
                r = cgroup2_mount_has_memory(*m);
                if (r < 0)
                        return r;
                if (r > 0) {
                        char *p = strdup(*m);
                        if (!p)
                                return -ENOMEM;
                        log_debug("cgroup2 memory controller at %s (mountinfo)", p);
                        *ret_path = p;
                        return 0;
                }
        }
        return -ENOMEDIUM;
}

CgroupRoot *cgroup_root_free(CgroupRoot *r)
{
        if (!r)
                return NULL;
        closep(&r->root_fd);
        closep(&r->proc_fd);
        free(r->root_path);
        free(r->proc_path);
        free(r);
        return NULL;
}

static void cgroup_root_freep(CgroupRoot **r)
{
        cgroup_root_free(*r);
}

int cgroup_root_open(const char *root_path, const char *proc_path, CgroupRoot **ret)
{
        _cleanup_(cgroup_root_freep) CgroupRoot *r = NULL;
        int k;

        r = calloc(1, sizeof *r);
        if (!r)
                return -ENOMEM;
        r->root_fd = r->proc_fd = -EBADF;

        if (root_path) {
                r->root_path = strdup(root_path);
                if (!r->root_path)
                        return -ENOMEM;
        } else {
                k = cgroup_find_mount(&r->root_path);
                if (k < 0)
                        return k;
        }
        r->proc_path = strdup(proc_path ?: "/proc");
        if (!r->proc_path)
                return -ENOMEM;

        r->root_fd = open(r->root_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (r->root_fd < 0)
                return log_debug_errno(-errno, "Cannot open cgroup root %s: %m", r->root_path);
        r->proc_fd = open(r->proc_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (r->proc_fd < 0)
                return log_debug_errno(-errno, "Cannot open proc root %s: %m", r->proc_path);

        *ret = TAKE_PTR(r);
        return 0;
}

/* Checks a cgroup path: absolute or relative, no "." or ".." component (it must stay below the root). */
static int cgroup_path_check(const char *cgpath)
{
        for (const char *p = cgpath; *p;) {
                while (*p == '/')
                        p++;
                const char *c = p;
                while (*p && *p != '/')
                        p++;
                size_t l = (size_t) (p - c);
                if ((l == 1 && c[0] == '.') || (l == 2 && c[0] == '.' && c[1] == '.'))
                        return -EINVAL;
        }
        return 0;
}

int cgroup_open(const CgroupRoot *r, const char *cgpath)
{
        int fd, k;

        if (!r || !cgpath)
                return -EINVAL;
        k = cgroup_path_check(cgpath);
        if (k < 0)
                return k;

        cgpath += strspn(cgpath, "/");
        fd = openat(r->root_fd, *cgpath ? cgpath : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        return fd;
}

int cgroup_read_u64(int cgfd, const char *file, uint64_t *ret)
{
        char buf[SMALL_FILE_MAX + 2];
        uint64_t v;
        int r;

        ssize_t n = read_record_at(cgfd, file, buf, sizeof buf);
        if (n < 0)
                return (int) n;
        r = cgroup_parse_u64(buf, &v);
        if (r < 0)
                return log_debug_errno(r, "Cannot parse %s: %m", file);
        *ret = v;
        return 0;
}

/* A file that may be absent (the root cgroup has no memory.max; no swap accounting): def when missing. */
static int read_u64_optional(int cgfd, const char *file, uint64_t def, uint64_t *ret)
{
        int r = cgroup_read_u64(cgfd, file, ret);
        if (r == -ENOENT) {
                *ret = def;
                return 0;
        }
        return r;
}

int cgroup_read_memory_limits(int cgfd, CgroupMemory *ret)
{
        CgroupMemory m = { .max = CGROUP_LIMIT_MAX, .high = CGROUP_LIMIT_MAX };
        int r;

        r = cgroup_read_u64(cgfd, "memory.current", &m.current);
        if (r < 0)
                return r;
        r = read_u64_optional(cgfd, "memory.max", CGROUP_LIMIT_MAX, &m.max);
        if (r < 0)
                return r;
        r = read_u64_optional(cgfd, "memory.high", CGROUP_LIMIT_MAX, &m.high);
        if (r < 0)
                return r;
        *ret = m;
        return 0;
}

int cgroup_read_memory(int cgfd, CgroupMemory *ret)
{
        CgroupMemory m = {};
        int r;

        r = cgroup_read_memory_limits(cgfd, &m);
        if (r < 0)
                return r;
        r = read_u64_optional(cgfd, "memory.low", 0, &m.low);
        if (r < 0)
                return r;
        r = read_u64_optional(cgfd, "memory.min", 0, &m.min);
        if (r < 0)
                return r;
        r = read_u64_optional(cgfd, "memory.swap.current", 0, &m.swap_current);
        if (r < 0)
                return r;
        *ret = m;
        return 0;
}

int cgroup_read_events(int cgfd, bool local, MemoryEvents *ret)
{
        char buf[SMALL_FILE_MAX + 2];
        const char *file = local ? "memory.events.local" : "memory.events";
        int r;

        ssize_t n = read_record_at(cgfd, file, buf, sizeof buf);
        if (n < 0)
                return (int) n;
        r = memory_events_parse(buf, ret);
        if (r < 0)
                return log_debug_errno(r, "Cannot parse %s: %m", file);
        return 0;
}

int cgroup_read_stat(int cgfd, MemoryStat *ret)
{
        _cleanup_free_ char *buf = NULL;
        int r;

        r = read_full_file_at(cgfd, "memory.stat", STAT_FILE_MAX, &buf, NULL);
        if (r < 0)
                return r;
        r = memory_stat_parse(buf, ret);
        if (r < 0)
                return log_debug_errno(r, "Cannot parse memory.stat: %m");
        return 0;
}

int cgroup_read_pressure(int cgfd, Psi *ret)
{
        char buf[SMALL_FILE_MAX + 2];
        int r;

        ssize_t n = read_record_at(cgfd, "memory.pressure", buf, sizeof buf);
        if (n < 0)
                return (int) n;
        r = psi_parse(buf, ret);
        if (r < 0)
                return log_debug_errno(r, "Cannot parse memory.pressure: %m");
        return 0;
}

int cgroup_read_oom_group(int cgfd, bool *ret)
{
        uint64_t v;
        int r;

        r = cgroup_read_u64(cgfd, "memory.oom.group", &v);
        if (r < 0)
                return r;
        if (v > 1)
                return -EINVAL;
        *ret = v == 1;
        return 0;
}

bool cgroup_has_memory(int cgfd)
{
        struct stat st;
        return fstatat(cgfd, "memory.current", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

int cgroup_read_procs(int cgfd, pid_t **ret)
{
        _cleanup_free_ char *buf = NULL;
        int r;

        r = read_full_file_at(cgfd, "cgroup.procs", PROCS_FILE_MAX, &buf, NULL);
        if (r < 0)
                return r;
        r = cgroup_procs_parse(buf, ret);
        if (r < 0)
                return log_debug_errno(r, "Cannot parse cgroup.procs: %m");
        return r;
}

static int name_cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Lists the subdirectories of dfd (takes the fd), sorted so walks are deterministic. -ENOENT/-ENODEV: the
 * directory was removed. */
/* Lists the subdirectories of the open directory dfd (at offset 0: freshly opened) with getdents64() on dfd
 * itself: no dup, no fdopendir() (its fstat and fcntls), 2 system calls for a leaf cgroup (docs/scale.md). */
static int list_subdirs(int dfd, char ***ret)
{
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;
        union {
                struct dirent64 align;
                char raw[32 * 1024];
        } buf;

        for (;;) {
                ssize_t k = getdents64(dfd, buf.raw, sizeof buf.raw);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno; /* a removed directory reads as -ENOENT */
                }
                if (k == 0)
                        break;
                for (char *p = buf.raw; p < buf.raw + k;) {
                        struct dirent64 *de = (struct dirent64 *) p;
                        p += de->d_reclen;
                        if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                                continue;
                        if (de->d_type == DT_UNKNOWN) {
                                struct stat st;
                                if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
                                        continue;
                        } else if (de->d_type != DT_DIR)
                                continue;
                        if (strv_extend(&l, de->d_name) < 0)
                                return -ENOMEM;
                        n++;
                }
        }
        if (n > 1)
                qsort(l, n, sizeof(char *), name_cmp);
        *ret = TAKE_PTR(l);
        return 0;
}

/* dfd is the open directory of cgpath, already reported to cb; takes the fd. */
static int walk_children(const CgroupRoot *r, int dfd, const char *cgpath, unsigned depth,
                         cgroup_walk_fd_cb_t cb, void *userdata)
{
        _cleanup_close_ int fd = dfd;
        _cleanup_strv_free_ char **names = NULL;
        int k;

        k = list_subdirs(fd, &names);
        if (ERRNO_IS_GONE(k)) {
                log_debug_errno(k, "cgroup %s vanished while listing it, ignoring", cgpath);
                return 0;
        }
        if (k < 0)
                return log_debug_errno(k, "Cannot list cgroup %s: %m", cgpath);

        for (char **n = names; n && *n; n++) {
                _cleanup_free_ char *child = NULL;
                _cleanup_close_ int cfd = -EBADF;

                if (asprintf(&child, "%s/%s", streq(cgpath, "/") ? "" : cgpath, *n) < 0)
                        return -ENOMEM;

                cfd = openat(fd, *n, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                if (cfd < 0) {
                        k = -errno;
                        if (ERRNO_IS_GONE(k) || k == -ENOTDIR) {
                                log_debug_errno(k, "cgroup %s vanished during the walk, ignoring", child);
                                continue;
                        }
                        return log_debug_errno(k, "Cannot open cgroup %s: %m", child);
                }

                k = cb(r, child, cfd, userdata);
                if (k < 0)
                        return k;
                if (k > 0)
                        continue;
                if (depth + 1 >= WALK_DEPTH_MAX) {
                        log_debug("cgroup %s is nested deeper than %d levels, ignoring its children", child,
                                  WALK_DEPTH_MAX);
                        continue;
                }
                k = walk_children(r, TAKE_FD(cfd), child, depth + 1, cb, userdata);
                if (k < 0)
                        return k;
        }
        return 0;
}

int cgroup_walk_fd(const CgroupRoot *r, const char *cgpath, cgroup_walk_fd_cb_t cb, void *userdata)
{
        _cleanup_free_ char *start = NULL;
        _cleanup_close_ int fd = -EBADF;
        int k;

        if (!r || !cgpath || !cb)
                return -EINVAL;

        /* Normalise: one leading '/', no trailing or doubled '/'. */
        start = malloc(strlen(cgpath) + 2);
        if (!start)
                return -ENOMEM;
        char *q = start;
        for (const char *p = cgpath; *p;) {
                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                *q++ = '/';
                while (*p && *p != '/')
                        *q++ = *p++;
        }
        if (q == start)
                *q++ = '/';
        *q = 0;

        fd = cgroup_open(r, start);
        if (fd < 0)
                return fd;

        k = cb(r, start, fd, userdata);
        if (k < 0)
                return k;
        if (k > 0)
                return 0;
        return walk_children(r, TAKE_FD(fd), start, 0, cb, userdata);
}

typedef struct WalkAdapter {
        cgroup_walk_cb_t cb;
        void *userdata;
} WalkAdapter;

static int walk_adapter(const CgroupRoot *r, const char *cgpath, int dfd, void *userdata)
{
        WalkAdapter *a = userdata;
        return a->cb(r, cgpath, a->userdata);
}

int cgroup_walk(const CgroupRoot *r, const char *cgpath, cgroup_walk_cb_t cb, void *userdata)
{
        if (!cb)
                return -EINVAL;
        WalkAdapter a = { cb, userdata };
        return cgroup_walk_fd(r, cgpath, walk_adapter, &a);
}

int proc_read_status(const CgroupRoot *r, pid_t pid, ProcStatus *ret)
{
        _cleanup_free_ char *buf = NULL;
        char path[32];
        int k;

        if (!r || pid <= 0)
                return -EINVAL;
        snprintf(path, sizeof path, "%d/status", (int) pid);
        k = read_full_file_at(r->proc_fd, path, STAT_FILE_MAX, &buf, NULL);
        if (k < 0)
                return k;
        k = proc_status_parse(buf, ret);
        if (k < 0)
                return log_debug_errno(k, "Cannot parse /proc/%d/status: %m", (int) pid);
        return 0;
}

int proc_read_cgroup(const CgroupRoot *r, pid_t pid, char **ret)
{
        _cleanup_free_ char *buf = NULL;
        char path[32];
        int k;

        if (!r || pid <= 0)
                return -EINVAL;
        snprintf(path, sizeof path, "%d/cgroup", (int) pid);
        k = read_full_file_at(r->proc_fd, path, STAT_FILE_MAX, &buf, NULL);
        if (k < 0)
                return k;
        return proc_cgroup_parse_unified(buf, ret);
}

/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-pagecache.c: one-pass page cache: fdinfo/maps parsing, selection, scan, measure, drop. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup-pagecache.h"
#include "util/fileio.h"
#include "util/log.h"

#define FDINFO_MAX (64 * 1024)
#define MAPS_MAX (64 * 1024 * 1024)
#define PROCS_MAX 65536
#define RESIDENT_WINDOW (256ULL * 1024 * 1024)

/* ---------------------------------------------------------------------------------------------------- */
/* Parsers */

static int parse_u64_base(const char *s, int base, uint64_t *ret, const char **ret_end)
{
        uint64_t v = 0;
        const char *p = s;

        while (*p == ' ' || *p == '\t')
                p++;
        const char *start = p;
        for (;; p++) {
                unsigned d;
                if (*p >= '0' && *p <= '9')
                        d = (unsigned) (*p - '0');
                else if (base == 16 && *p >= 'a' && *p <= 'f')
                        d = (unsigned) (*p - 'a' + 10);
                else if (base == 16 && *p >= 'A' && *p <= 'F')
                        d = (unsigned) (*p - 'A' + 10);
                else
                        break;
                if (d >= (unsigned) base)
                        return -EINVAL;
                if (v > (UINT64_MAX - d) / (uint64_t) base)
                        return -ERANGE;
                v = v * (uint64_t) base + d;
        }
        if (p == start)
                return -EINVAL;
        *ret = v;
        if (ret_end)
                *ret_end = p;
        return 0;
}

/* The value of a "key:\tvalue" line ends at the newline, with nothing but blanks after the number. */
static int parse_line_value(const char *v, int base, uint64_t *ret)
{
        const char *end;
        int r = parse_u64_base(v, base, ret, &end);
        if (r < 0)
                return r;
        while (*end == ' ' || *end == '\t' || *end == '\r')
                end++;
        return *end == '\n' || *end == 0 ? 0 : -EINVAL;
}

int fdinfo_parse(const char *buf, FdInfo *ret)
{
        FdInfo fi = { .mnt_id = -1 };
        bool have_pos = false, have_flags = false;

        for (const char *line = buf; line && *line;) {
                const char *nl = strchr(line, '\n');
                uint64_t v;
                int r;

                if (strncmp(line, "pos:", 4) == 0) {
                        r = parse_line_value(line + 4, 10, &v);
                        if (r < 0)
                                return r;
                        fi.pos = v;
                        have_pos = true;
                } else if (strncmp(line, "flags:", 6) == 0) {
                        r = parse_line_value(line + 6, 8, &v);
                        if (r < 0)
                                return r;
                        if (v > UINT_MAX)
                                return -ERANGE;
                        fi.flags = (unsigned) v;
                        have_flags = true;
                } else if (strncmp(line, "mnt_id:", 7) == 0) {
                        r = parse_line_value(line + 7, 10, &v);
                        if (r < 0)
                                return r;
                        if (v > INT_MAX)
                                return -ERANGE;
                        fi.mnt_id = (int) v;
                } else if (strncmp(line, "ino:", 4) == 0) {
                        r = parse_line_value(line + 4, 10, &v);
                        if (r < 0)
                                return r;
                        fi.ino = v;
                }
                line = nl ? nl + 1 : NULL;
        }
        if (!have_pos || !have_flags)
                return -EINVAL;
        *ret = fi;
        return 0;
}

int proc_maps_parse(const char *buf, uint64_t **inodes, size_t *n_inodes)
{
        for (const char *line = buf; line && *line;) {
                const char *nl = strchr(line, '\n');
                const char *p = line;
                uint64_t v, ino;
                int r;

                if (*line == '\n') {
                        line = nl + 1;
                        continue;
                }
                /* address perms offset dev inode [path] */
                r = parse_u64_base(p, 16, &v, &p);
                if (r < 0 || *p != '-')
                        return -EINVAL;
                r = parse_u64_base(p + 1, 16, &v, &p);
                if (r < 0 || *p != ' ')
                        return -EINVAL;
                p++;
                size_t perms = strspn(p, "rwxps-");
                if (perms != 4 || p[4] != ' ')
                        return -EINVAL;
                p += 5;
                r = parse_u64_base(p, 16, &v, &p); /* offset */
                if (r < 0 || *p != ' ')
                        return -EINVAL;
                r = parse_u64_base(p + 1, 16, &v, &p); /* major */
                if (r < 0 || *p != ':')
                        return -EINVAL;
                r = parse_u64_base(p + 1, 16, &v, &p); /* minor */
                if (r < 0 || *p != ' ')
                        return -EINVAL;
                r = parse_u64_base(p + 1, 10, &ino, &p);
                if (r < 0 || (*p != ' ' && *p != '\n' && *p != 0))
                        return r < 0 ? r : -EINVAL;

                if (ino != 0) {
                        if (*n_inodes % 64 == 0) {
                                uint64_t *n = realloc(*inodes, (*n_inodes + 64) * sizeof **inodes);
                                if (!n)
                                        return -ENOMEM;
                                *inodes = n;
                        }
                        (*inodes)[(*n_inodes)++] = ino;
                }
                line = nl ? nl + 1 : NULL;
        }
        return 0;
}

/* Does the glob (from g up to ge) match the path (from s up to se), component by component? */
static bool glob_match_range(const char *g, const char *ge, const char *s, const char *se)
{
        for (;;) {
                if (g == ge)
                        return s == se;

                const char *gc_end = memchr(g, '/', (size_t) (ge - g)) ?: ge;
                size_t gl = (size_t) (gc_end - g);

                if (gl == 2 && g[0] == '*' && g[1] == '*') {
                        const char *rest = gc_end < ge ? gc_end + 1 : ge;
                        if (rest == ge)
                                return true; /* a trailing "**" matches everything below */
                        /* Zero or more whole components of s. */
                        for (const char *t = s;;) {
                                if (glob_match_range(rest, ge, t, se))
                                        return true;
                                const char *slash = memchr(t, '/', (size_t) (se - t));
                                if (!slash)
                                        return false;
                                t = slash + 1;
                        }
                }

                if (s == se)
                        return false;
                const char *sc_end = memchr(s, '/', (size_t) (se - s)) ?: se;
                char gbuf[PATH_MAX], sbuf[PATH_MAX];
                size_t sl = (size_t) (sc_end - s);
                if (gl >= sizeof gbuf || sl >= sizeof sbuf)
                        return false;
                memcpy(gbuf, g, gl);
                gbuf[gl] = 0;
                memcpy(sbuf, s, sl);
                sbuf[sl] = 0;
                if (fnmatch(gbuf, sbuf, 0) != 0)
                        return false;

                /* Both continue past a "/", or both end here. */
                bool g_more = gc_end < ge, s_more = sc_end < se;
                if (g_more != s_more)
                        return false; /* a trailing "**" needs at least one component */
                if (!g_more)
                        return true;
                g = gc_end + 1;
                s = sc_end + 1;
        }
}

bool path_glob_match(const char *glob, const char *path)
{
        if (!glob || !path)
                return false;
        return glob_match_range(glob, glob + strlen(glob), path, path + strlen(path));
}

/* ---------------------------------------------------------------------------------------------------- */
/* Selection */

static bool inode_in(const uint64_t *list, size_t n, uint64_t ino)
{
        for (size_t i = 0; i < n; i++)
                if (list[i] == ino)
                        return true;
        return false;
}

static bool same_file(const OpenFile *a, const OpenFile *b)
{
        return a->dev == b->dev && a->ino == b->ino;
}

static bool glob_list_match(char *const *globs, const char *path)
{
        for (char *const *g = globs; g && *g; g++)
                if (path_glob_match(*g, path))
                        return true;
        return false;
}

static bool path_is_deleted(const char *p)
{
        size_t n = strlen(p), k = strlen(" (deleted)");
        return n >= k && streq(p + n - k, " (deleted)");
}

void pagecache_plan(const OpenFile *files, size_t n, const uint64_t *mapped, size_t n_mapped,
                    char *const *globs, uint64_t page_size, DropChoice *ret)
{
        for (size_t i = 0; i < n; i++) {
                const OpenFile *f = files + i;
                DropChoice c = { .verdict = DROP_SKIP };

                if (!f->regular || (f->info.flags & O_PATH))
                        c.reason = SKIP_NOT_REGULAR;
                else if (inode_in(mapped, n_mapped, f->ino))
                        c.reason = SKIP_MAPPED;
                else {
                        /* The first entry of an inode decides for all of them. */
                        size_t first = i;
                        for (size_t j = 0; j < i; j++)
                                if (same_file(files + j, f)) {
                                        first = j;
                                        break;
                                }
                        if (first != i)
                                c.reason = SKIP_DUPLICATE;
                        else if (f->path && !path_is_deleted(f->path) && glob_list_match(globs, f->path)) {
                                c.verdict = DROP_WHOLE;
                                c.length = f->size;
                        } else if ((f->info.flags & O_ACCMODE) != O_RDONLY)
                                c.reason = SKIP_WRITER;
                        else {
                                bool shared = false, writer = false;
                                for (size_t j = i + 1; j < n; j++) {
                                        if (!same_file(files + j, f))
                                                continue;
                                        if ((files[j].info.flags & O_ACCMODE) != O_RDONLY)
                                                writer = true;
                                        if (files[j].pid != f->pid && files[j].info.pos != f->info.pos)
                                                shared = true;
                                }
                                uint64_t behind = MIN(f->info.pos, f->size) & ~(page_size - 1);
                                if (writer)
                                        c.reason = SKIP_WRITER;
                                else if (shared)
                                        c.reason = SKIP_SHARED;
                                else if (behind == 0)
                                        c.reason = SKIP_NOT_MOVED;
                                else {
                                        c.verdict = DROP_BEHIND;
                                        c.length = behind;
                                }
                        }
                }
                if (c.verdict != DROP_SKIP && c.length == 0) {
                        c.verdict = DROP_SKIP;
                        c.reason = SKIP_NOT_MOVED;
                }
                ret[i] = c;
        }
}

const char *drop_skip_reason_to_string(DropSkipReason r)
{
        static const char *const names[] = {
                [SKIP_NONE] = "none",         [SKIP_NOT_REGULAR] = "not-regular", [SKIP_MAPPED] = "mapped",
                [SKIP_WRITER] = "writer",     [SKIP_SHARED] = "shared",           [SKIP_NOT_MOVED] = "not-moved",
                [SKIP_DUPLICATE] = "duplicate",
        };
        if ((unsigned) r >= ELEMENTSOF(names))
                return NULL;
        return names[r];
}

/* ---------------------------------------------------------------------------------------------------- */
/* Scan */

typedef struct ScanContext {
        size_t max_files;
        OpenFile *files;
        size_t n_files;
        uint64_t *mapped;
        size_t n_mapped;
        bool maps_complete;
        size_t n_procs;
} ScanContext;

void open_files_free(OpenFile *files, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(files[i].path);
        free(files);
}

static int scan_fd(const CgroupRoot *r, pid_t pid, int fd, ScanContext *c)
{
        char path[64];
        struct stat st;
        int k;

        snprintf(path, sizeof path, "%d/fd/%d", (int) pid, fd);
        /* stat() follows the magic link to the open file itself. */
        if (fstatat(r->proc_fd, path, &st, 0) < 0)
                return ERRNO_IS_GONE(-errno) || errno == EACCES || errno == EPERM ? 0 : -errno;
        if (!S_ISREG(st.st_mode))
                return 0;

        _cleanup_free_ char *info_buf = NULL;
        snprintf(path, sizeof path, "%d/fdinfo/%d", (int) pid, fd);
        k = read_full_file_at(r->proc_fd, path, FDINFO_MAX, &info_buf, NULL);
        if (k == -ENOMEM)
                return k;
        if (k < 0)
                return 0;
        FdInfo fi;
        if (fdinfo_parse(info_buf, &fi) < 0) {
                log_debug("Cannot parse /proc/%d/fdinfo/%d, ignoring", (int) pid, fd);
                return 0;
        }
        if (fi.ino != 0 && fi.ino != (uint64_t) st.st_ino)
                return 0; /* the descriptor changed between the two reads */

        char target[PATH_MAX];
        snprintf(path, sizeof path, "%d/fd/%d", (int) pid, fd);
        ssize_t l = readlinkat(r->proc_fd, path, target, sizeof target - 1);
        if (l < 0)
                l = 0;
        target[l] = 0;

        if (c->n_files % 64 == 0) {
                OpenFile *n = realloc(c->files, (c->n_files + 64) * sizeof *n);
                if (!n)
                        return -ENOMEM;
                c->files = n;
        }
        char *p = strdup(target);
        if (!p)
                return -ENOMEM;
        c->files[c->n_files++] = (OpenFile) {
                .pid = pid,
                .fd = fd,
                .path = p,
                .dev = st.st_dev,
                .ino = (uint64_t) st.st_ino,
                .size = (uint64_t) st.st_size,
                .regular = true,
                .info = fi,
        };
        return 0;
}

static int scan_process(const CgroupRoot *r, pid_t pid, ScanContext *c)
{
        char path[64];
        int k;

        if (++c->n_procs > PROCS_MAX)
                return 0;

        _cleanup_free_ char *maps = NULL;
        snprintf(path, sizeof path, "%d/maps", (int) pid);
        k = read_full_file_at(r->proc_fd, path, MAPS_MAX, &maps, NULL);
        if (k == -ENOMEM)
                return k;
        if (ERRNO_IS_GONE(k))
                return 0;
        if (k < 0 || proc_maps_parse(maps, &c->mapped, &c->n_mapped) < 0) {
                log_debug_errno(k, "Cannot read the mappings of process %d: %m; nothing is dropped automatically",
                        (int) pid);
                c->maps_complete = false;
        }

        snprintf(path, sizeof path, "%d/fd", (int) pid);
        int dfd = openat(r->proc_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return 0; /* gone, or not ours to look at */
        _cleanup_closedir_ DIR *d = fdopendir(dfd);
        if (!d) {
                close(dfd);
                return -errno == -ENOMEM ? -ENOMEM : 0;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                if (c->n_files >= c->max_files)
                        break;
                char *end;
                long fd = strtol(de->d_name, &end, 10);
                if (*end || end == de->d_name || fd < 0 || fd > INT_MAX)
                        continue;
                k = scan_fd(r, pid, (int) fd, c);
                if (k < 0)
                        return k;
        }
        return 0;
}

static int scan_cgroup_cb(const CgroupRoot *r, const char *cgpath, void *userdata)
{
        ScanContext *c = userdata;
        _cleanup_close_ int cgfd = cgroup_open(r, cgpath);
        if (cgfd < 0)
                return ERRNO_IS_GONE(cgfd) ? 1 : cgfd;

        _cleanup_free_ pid_t *pids = NULL;
        int n = cgroup_read_procs(cgfd, &pids);
        if (n < 0)
                return ERRNO_IS_GONE(n) ? 1 : n;
        for (int i = 0; i < n && c->n_files < c->max_files; i++) {
                int k = scan_process(r, pids[i], c);
                if (k < 0)
                        return k;
        }
        return 0;
}

int pagecache_scan(const CgroupRoot *r, const char *cgpath, size_t max_files, OpenFile **ret_files,
                   size_t *ret_n, uint64_t **ret_mapped, size_t *ret_n_mapped, bool *ret_maps_complete)
{
        ScanContext c = { .max_files = max_files, .maps_complete = true };

        int k = cgroup_walk(r, cgpath, scan_cgroup_cb, &c);
        if (k < 0) {
                open_files_free(c.files, c.n_files);
                free(c.mapped);
                return k;
        }
        *ret_files = c.files;
        *ret_n = c.n_files;
        *ret_mapped = c.mapped;
        *ret_n_mapped = c.n_mapped;
        *ret_maps_complete = c.maps_complete;
        return 0;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Measure and drop */

int pagecache_open(const CgroupRoot *r, const OpenFile *f)
{
        char path[64];
        struct stat st;

        snprintf(path, sizeof path, "%d/fd/%d", (int) f->pid, f->fd);
        /* No O_NOFOLLOW: the magic link must be followed, that is what reaches the reader's open file. No
         * O_NOATIME either (it needs ownership); O_NONBLOCK so that a descriptor swapped for a FIFO since the
         * scan cannot block us. */
        _cleanup_close_ int fd = openat(r->proc_fd, path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
                return -errno == -EACCES ? -EACCES : -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_dev != f->dev || (uint64_t) st.st_ino != f->ino)
                return -ESTALE;
        return TAKE_FD(fd);
}

int file_resident_bytes(int fd, uint64_t offset, uint64_t length, uint64_t *ret)
{
        long ps = sysconf(_SC_PAGESIZE);
        uint64_t page = ps > 0 ? (uint64_t) ps : 4096;
        struct stat st;
        uint64_t total = 0;

        if (offset % page != 0)
                return -EINVAL;
        if (fstat(fd, &st) < 0)
                return -errno;
        uint64_t size = (uint64_t) st.st_size;
        uint64_t end = length == 0 || offset + length > size ? size : offset + length;

        _cleanup_free_ unsigned char *vec = malloc(RESIDENT_WINDOW / page);
        if (!vec)
                return -ENOMEM;
        for (uint64_t off = offset; off < end; off += RESIDENT_WINDOW) {
                size_t len = (size_t) MIN(RESIDENT_WINDOW, end - off);
                void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, (off_t) off);
                if (p == MAP_FAILED)
                        return -errno;
                int k = mincore(p, len, vec) < 0 ? -errno : 0;
                munmap(p, len);
                if (k < 0)
                        return k;
                size_t pages = (len + page - 1) / page;
                for (size_t i = 0; i < pages; i++)
                        if (vec[i] & 1)
                                total += MIN(page, end - (off + i * page));
        }
        *ret = total;
        return 0;
}

int file_drop_cache(int fd, uint64_t offset, uint64_t length)
{
        int r = posix_fadvise(fd, (off_t) offset, (off_t) length, POSIX_FADV_DONTNEED);
        return -r;
}

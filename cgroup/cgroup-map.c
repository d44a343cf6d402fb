/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-map.c: the map (cgroup-map.h explains what and why): the scan of a cgroup's processes and
 * files. The parser of smaps_rollup is cgroup-map-smaps.c, the diagnosis cgroup-map-diagnose.c. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>

#include "cgroup-map.h"
#include "cgroup-procs.h"
#include "cgroup-pagecache.h"
#include "cgroup-trim.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/strv.h"
#include "util/time-util.h"

#define SMAPS_ROLLUP_FILE_MAX (64U * 1024U)
#define STATUS_FILE_MAX (256U * 1024U)
#define FDINFO_FILE_MAX (64U * 1024U)
#define MINCORE_WINDOW (256ULL << 20) /* bytes mapped at a time */
#define MAP_FILES_TOP_DEFAULT 10U

/* ---- allocator reports: libmemwarden-trim.so's files, read with cgroup/cgroup-trim.c ---- */

int allocator_report_from_trim(const TrimReport *t, AllocatorReport *ret)
{
        AllocatorReport a = {};

        snprintf(a.allocator, sizeof a.allocator, "%s", t->allocator[0] ? t->allocator : "malloc");
        if (t->is_info) {
                if (t->system == 0 && t->in_use == 0)
                        return -ENODATA; /* jemalloc: its own JSON, no glibc figures */
                a.held_bytes = t->system;
                a.in_use_bytes = t->in_use;
                a.arenas = t->n_arenas;
        } else {
                const TrimMallinfo *mi = &t->mallinfo_after;
                if (!mi->valid)
                        return -ENODATA;
                a.held_bytes = mi->arena + mi->hblkhd;
                a.in_use_bytes = mi->uordblks + mi->hblkhd;
        }
        a.free_bytes = a.held_bytes > a.in_use_bytes ? a.held_bytes - a.in_use_bytes : 0;
        *ret = a;
        return 0;
}

int allocator_report_read(const CgroupRoot *r, int dirfd, pid_t pid, AllocatorReport *ret)
{
        AllocatorReport best = {};
        uint64_t best_time = 0;
        bool found = false;
        uid_t uid;
        int k;

        k = proc_read_uid(r, pid, &uid);
        if (k < 0)
                return k;
        for (int info = 1; info >= 0; info--) {
                TrimReport t;
                AllocatorReport a;
                k = trim_report_read(dirfd, pid, info, uid, &t);
                if (k == -ENOMEM)
                        return k;
                if (k < 0 || allocator_report_from_trim(&t, &a) < 0)
                        continue;
                if (!found || t.time_usec > best_time) {
                        best = a;
                        best_time = t.time_usec;
                        found = true;
                }
        }
        if (!found)
                return -ENOENT;
        *ret = best;
        return 0;
}

/* ---- small helpers ---- */

/* cmdline: NULs between arguments as spaces, control bytes as '?', trailing NUL/space dropped, "..."
 * when cut. */
static void cmdline_clean(char *buf, size_t len, bool cut, char out[static MAP_CMDLINE_MAX])
{
        size_t n = 0;

        while (len > 0 && (buf[len - 1] == 0 || buf[len - 1] == ' '))
                len--;
        for (size_t i = 0; i < len && n + 1 < MAP_CMDLINE_MAX; i++) {
                unsigned char c = (unsigned char) buf[i];
                out[n++] = c == 0 ? ' ' : (c < 0x20 || c == 0x7f) ? '?' : (char) c;
        }
        out[n] = 0;
        if (cut || len >= MAP_CMDLINE_MAX) {
                if (n > MAP_CMDLINE_MAX - 4)
                        n = MAP_CMDLINE_MAX - 4;
                strcpy(out + n, "...");
        }
}

/* The Name: line of a status buffer. */
static bool status_name(const char *buf, char out[static MAP_COMM_MAX])
{
        const char *p = NULL;

        if (strncmp(buf, "Name:", 5) == 0)
                p = buf + 5;
        else {
                p = strstr(buf, "\nName:");
                if (p)
                        p += 6;
        }
        if (!p)
                return false;
        while (*p == '\t' || *p == ' ')
                p++;
        size_t n = strcspn(p, "\n");
        if (n >= MAP_COMM_MAX)
                n = MAP_COMM_MAX - 1;
        memcpy(out, p, n);
        out[n] = 0;
        for (char *c = out; *c; c++)
                if ((unsigned char) *c < 0x20 || *c == 0x7f)
                        *c = '?';
        return true;
}

/* ---- the map ---- */

CgroupMap *cgroup_map_free(CgroupMap *m)
{
        if (!m)
                return NULL;
        free(m->path);
        strv_free(m->cgroups);
        free(m->procs);
        for (size_t i = 0; i < m->n_files; i++)
                free(m->files[i].path);
        free(m->files);
        free(m);
        return NULL;
}

typedef struct PidEntry {
        pid_t pid;
        size_t cgroup;     /* index into cgroups */
        uint64_t resident; /* statm, with MapOptions.precise_top */
        uint64_t shared;
        bool statm_ok;
} PidEntry;

typedef struct Scan {
        const CgroupRoot *root;
        const MapOptions *opt;
        CgroupMap *map;
        PidEntry *pids;
        size_t n_pids, n_alloc;
        int error;
} Scan;

/* Counts /proc/PID/fd entries. Returns the count or -errno. */
static int scan_fds(Scan *s, pid_t pid)
{
        char path[32];
        _cleanup_closedir_ DIR *d = NULL;
        int fd, n = 0;

        snprintf(path, sizeof path, "%d/fd", (int) pid);
        fd = openat(s->root->proc_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                int e = -errno;
                close(fd);
                return e;
        }
        for (struct dirent *de; (de = readdir(d));)
                if (de->d_name[0] != '.')
                        n++;
        return n;
}

/* Why smaps_rollup had nothing: reads status. Kernel threads (smaps_rollup: ESRCH) and zombies (empty)
 * are counted as such; anything else went away while we looked. Also fills the name when asked. */
static int classify_from_status(Scan *s, pid_t pid, char *ret_name)
{
        _cleanup_free_ char *status = NULL;
        ProcStatus st;
        char path[32];
        int k;

        snprintf(path, sizeof path, "%d/status", (int) pid);
        k = read_full_file_at(s->root->proc_fd, path, STATUS_FILE_MAX, &status, NULL);
        if (k == -ENOMEM)
                return k;
        if (k >= 0)
                k = proc_status_parse(status, &st);
        if (k < 0) {
                if (!ERRNO_IS_GONE(k))
                        log_debug_errno(k, "Cannot read /proc/%d/status: %m, ignoring the process", (int) pid);
                s->map->n_gone++;
                return 0;
        }
        if (st.state == 'Z' || st.state == 'X') {
                s->map->n_zombies++;
                return 0;
        }
        if (st.is_kernel_thread) {
                s->map->n_kernel_threads++;
                return 0;
        }
        if (ret_name) {
                if (!status_name(status, ret_name))
                        snprintf(ret_name, MAP_COMM_MAX, "?");
                return 1;
        }
        s->map->n_gone++; /* alive and not a kernel thread, yet no smaps_rollup: it raced with exit */
        return 0;
}

/* Reads one process: smaps_rollup, comm, cmdline; status only when smaps_rollup is empty or missing (a
 * zombie, a kernel thread, or gone) or comm is absent. Three small reads per process in the common case:
 * status is the most expensive file of the lot. Returns 1 when added, 0 when skipped (gone, kernel thread,
 * zombie), -ENOMEM. */
static int scan_process(Scan *s, const PidEntry *e)
{
        CgroupMap *m = s->map;
        MapProcess p = { .pid = e->pid, .cgroup = m->cgroups[e->cgroup], .n_fds = -1 };
        _cleanup_free_ char *smaps = NULL;
        char path[48];
        int k;

        snprintf(path, sizeof path, "%d/smaps_rollup", (int) e->pid);
        k = read_full_file_at(s->root->proc_fd, path, SMAPS_ROLLUP_FILE_MAX, &smaps, NULL);
        if (k == -ENOMEM)
                return k;
        if (ERRNO_IS_GONE(k) || (k >= 0 && smaps[0] == 0))
                return classify_from_status(s, e->pid, NULL);
        if (k < 0) {
                log_debug_errno(k, "Cannot read /proc/%d/smaps_rollup: %m, ignoring its figures", (int) e->pid);
                m->n_unreadable++;
        } else {
                k = smaps_parse(smaps, /* sum= */ false, &p.smaps);
                if (k < 0) {
                        log_debug_errno(k, "Cannot parse /proc/%d/smaps_rollup: %m, ignoring its figures",
                                        (int) e->pid);
                        m->n_unreadable++;
                } else
                        p.has_smaps = true;
        }
        p.reclaimable = (p.smaps.has_pss_anon ? p.smaps.pss_anon : p.smaps.anonymous) + p.smaps.swap_pss;

        snprintf(path, sizeof path, "%d/comm", (int) e->pid);
        ssize_t l = read_prefix_at(s->root->proc_fd, path, p.comm, sizeof p.comm);
        if (l > 0) {
                p.comm[strcspn(p.comm, "\n")] = 0;
                for (char *c = p.comm; *c; c++)
                        if ((unsigned char) *c < 0x20 || *c == 0x7f)
                                *c = '?';
        } else {
                k = classify_from_status(s, e->pid, p.comm);
                if (k <= 0)
                        return k;
        }

        if (!s->opt->no_cmdline) {
                char cmd[MAP_CMDLINE_MAX + 1];
                snprintf(path, sizeof path, "%d/cmdline", (int) e->pid);
                l = read_prefix_at(s->root->proc_fd, path, cmd, sizeof cmd);
                if (l >= 0)
                        cmdline_clean(cmd, (size_t) l, /* cut= */ (size_t) l >= MAP_CMDLINE_MAX, p.cmdline);
        }

        if (s->opt->count_fds) {
                k = scan_fds(s, e->pid);
                if (k == -ENOMEM)
                        return k;
                p.n_fds = k >= 0 ? k : -1;
        }

        if (s->opt->trim_dirfd >= 0) {
                k = allocator_report_read(s->root, s->opt->trim_dirfd, e->pid, &p.allocator);
                if (k >= 0)
                        p.has_allocator = true;
                else if (k == -ENOMEM)
                        return k;
                else if (k != -ENOENT)
                        log_debug_errno(k, "Allocator report of pid %d unusable: %m, ignoring", (int) e->pid);
        }

        m->procs[m->n_procs++] = p;
        return 1;
}

/* /proc/PID/statm: "size resident shared text lib data dt" in pages. Constant time in the kernel (counters),
 * unlike smaps_rollup, which walks the page tables. */
static int read_statm(const CgroupRoot *r, PidEntry *e)
{
        char path[32], buf[128];
        snprintf(path, sizeof path, "%d/statm", (int) e->pid);
        ssize_t l = read_prefix_at(r->proc_fd, path, buf, sizeof buf);
        if (l <= 0)
                return l < 0 ? (int) l : -ENODATA;
        unsigned long long size, resident, shared;
        if (sscanf(buf, "%llu %llu %llu", &size, &resident, &shared) != 3)
                return -EINVAL;
        uint64_t page = (uint64_t) sysconf(_SC_PAGESIZE);
        e->resident = (uint64_t) resident * page;
        e->shared = MIN((uint64_t) shared, (uint64_t) resident) * page;
        e->statm_ok = true;
        return 0;
}

static int estimate_cmp(const void *a, const void *b)
{
        const PidEntry *x = a, *y = b;
        uint64_t ex = x->resident - x->shared, ey = y->resident - y->shared;
        if (ex != ey)
                return ex > ey ? -1 : 1;
        return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static int proc_cmp(const void *a, const void *b)
{
        const MapProcess *x = a, *y = b;

        /* Estimates (statm: COW-shared pages counted in full) are not comparable with Pss figures; the
         * precise ones were the top of the statm ranking anyway. */
        if (x->estimated != y->estimated)
                return x->estimated ? 1 : -1;
        if (x->reclaimable != y->reclaimable)
                return x->reclaimable > y->reclaimable ? -1 : 1;
        if (x->smaps.pss != y->smaps.pss)
                return x->smaps.pss > y->smaps.pss ? -1 : 1;
        return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static int file_cmp(const void *a, const void *b)
{
        const MapFile *x = a, *y = b;

        if (x->cached != y->cached)
                return x->cached > y->cached ? -1 : 1;
        return strcmp(x->path, y->path);
}

static void smaps_add(SmapsRollup *t, const SmapsRollup *s)
{
        t->rss += s->rss;
        t->pss += s->pss;
        t->pss_anon += s->pss_anon;
        t->pss_file += s->pss_file;
        t->pss_shmem += s->pss_shmem;
        t->shared_clean += s->shared_clean;
        t->shared_dirty += s->shared_dirty;
        t->private_clean += s->private_clean;
        t->private_dirty += s->private_dirty;
        t->anonymous += s->anonymous;
        t->lazyfree += s->lazyfree;
        t->swap += s->swap;
        t->swap_pss += s->swap_pss;
        t->has_pss_anon = t->has_pss_anon || s->has_pss_anon;
}

/* One-pass candidates, through cgroup/cgroup-pagecache.c (the drop-cache rung's own scan and selection
 * rules, so the map shows exactly what drop-cache would take): every regular file open in the subtree,
 * once per inode, with its page cache measured through /proc/PID/fd/N. */
static int map_scan_files(const CgroupRoot *r, const char *cgpath, CgroupMap *m)
{
        OpenFile *of = NULL;
        uint64_t *mapped = NULL;
        size_t n = 0, n_mapped = 0;
        bool complete = false;
        long ps = sysconf(_SC_PAGESIZE);
        uint64_t page = ps > 0 ? (uint64_t) ps : 4096;
        int k;

        k = pagecache_scan(r, cgpath, MAP_FILES_SCAN_MAX, &of, &n, &mapped, &n_mapped, &complete);
        if (k < 0)
                return k;
        if (n == MAP_FILES_SCAN_MAX)
                m->truncated = true;
        _cleanup_free_ DropChoice *choice = calloc(MAX(n, (size_t) 1), sizeof *choice);
        if (!choice) {
                k = -ENOMEM;
                goto finish;
        }
        pagecache_plan(of, n, mapped, n_mapped, /* globs= */ NULL, page, choice);

        m->files = calloc(MAX(n, (size_t) 1), sizeof *m->files);
        if (!m->files) {
                k = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; i < n; i++) {
                bool dup = false;
                for (size_t j = 0; j < m->n_files && !dup; j++)
                        dup = m->files[j].dev == (uint64_t) of[i].dev && m->files[j].ino == of[i].ino;
                if (dup)
                        continue;

                _cleanup_close_ int fd = pagecache_open(r, &of[i]);
                if (fd < 0) {
                        log_debug_errno(fd, "Cannot open %s through pid %d fd %d: %m, ignoring", of[i].path,
                                        (int) of[i].pid, of[i].fd);
                        continue;
                }
                MapFile f = {
                        .pid = of[i].pid,
                        .fd = of[i].fd,
                        .dev = (uint64_t) of[i].dev,
                        .ino = of[i].ino,
                        .size = of[i].size,
                        .pos = of[i].info.pos,
                        .readable = (of[i].info.flags & O_ACCMODE) != O_WRONLY,
                        .writable = (of[i].info.flags & O_ACCMODE) != O_RDONLY,
                        .droppable = complete && choice[i].verdict != DROP_SKIP,
                        .skip_reason = choice[i].verdict == DROP_SKIP ? drop_skip_reason_to_string(choice[i].reason) :
                                                                        NULL,
                };
                struct statfs sfs;
                f.shmem = fstatfs(fd, &sfs) >= 0 &&
                          ((uint64_t) sfs.f_type == TMPFS_MAGIC || (uint64_t) sfs.f_type == RAMFS_MAGIC);
                k = file_resident_bytes(fd, 0, 0, &f.cached);
                if (k < 0) {
                        if (k == -ENOMEM)
                                goto finish;
                        log_debug_errno(k, "Cannot measure the page cache of %s: %m, ignoring", of[i].path);
                        continue;
                }
                uint64_t behind_len = f.pos / page * page;
                if (behind_len > 0 && file_resident_bytes(fd, 0, behind_len, &f.cached_behind) < 0)
                        f.cached_behind = 0;
                f.path = strdup(of[i].path[0] ? of[i].path : "?");
                if (!f.path) {
                        k = -ENOMEM;
                        goto finish;
                }
                m->files[m->n_files++] = f;
        }
        k = 0;
finish:
        open_files_free(of, n);
        free(mapped);
        return k;
}

int cgroup_map_build(const CgroupRoot *r, const char *cgpath, const MapOptions *opt, CgroupMap **ret)
{
        static const MapOptions defaults = { .trim_dirfd = -EBADF };
        _cleanup_(cgroup_map_freep) CgroupMap *m = NULL;
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ PidEntry *pids = NULL;
        int k;

        if (!r || !cgpath || !ret)
                return -EINVAL;
        if (!opt)
                opt = &defaults;

        fd = cgroup_open(r, cgpath);
        if (fd < 0)
                return fd;
        m = calloc(1, sizeof *m);
        if (!m)
                return -ENOMEM;
        m->path = strdup(cgpath);
        if (!m->path)
                return -ENOMEM;

        k = cgroup_read_memory(fd, &m->mem);
        if (k == -ENOENT)
                return -ENODEV;
        if (k == -ENOMEM)
                return k;
        if (k < 0)
                log_debug_errno(k, "Cannot read the memory of %s: %m, ignoring", cgpath);
        k = cgroup_read_stat(fd, &m->stat);
        m->has_stat = k >= 0;
        k = cgroup_read_events(fd, /* local= */ false, &m->events);
        m->has_events = k >= 0;

        /* Every PID of the subtree (the one process picker, cgroup/cgroup-procs.h), read in PID order
         * (locality in /proc; deterministic). */
        Scan s = { .root = r, .opt = opt, .map = m };
        _cleanup_(proc_list_freep) ProcList *list = NULL;
        k = proc_list_collect(r, cgpath, opt->no_subtree ? 1 : MAP_CGROUPS_MAX, &list);
        if (k < 0)
                return k;
        m->cgroups = TAKE_PTR(list->cgroups);
        m->n_listed = list->n_listed;
        m->truncated = m->truncated || list->truncated;
        pids = calloc(MAX(list->n_procs, (size_t) 1), sizeof *pids);
        if (!pids)
                return -ENOMEM;
        for (size_t i = 0; i < list->n_procs; i++)
                pids[i] = (PidEntry) { .pid = list->procs[i].pid, .cgroup = list->procs[i].cgroup_index };
        s.pids = pids;
        s.n_pids = list->n_procs;

        size_t max_procs = opt->max_procs ?: MAP_PROCS_MAX_DEFAULT;
        m->procs = calloc(MAX(MIN(s.n_pids, max_procs), (size_t) 1), sizeof *m->procs);
        if (!m->procs)
                return -ENOMEM;
        /* Moved between cgroups while we listed them: once. */
        size_t n_unique = 0;
        for (size_t i = 0; i < s.n_pids; i++)
                if (i == 0 || pids[i].pid != pids[n_unique - 1].pid)
                        pids[n_unique++] = pids[i];

        size_t n_precise = n_unique;
        if (opt->precise_top > 0 && n_unique > opt->precise_top) {
                /* Two passes: rank all by statm, read smaps_rollup for the top only. */
                for (size_t i = 0; i < n_unique; i++)
                        (void) read_statm(r, &pids[i]);
                qsort(pids, n_unique, sizeof *pids, estimate_cmp);
                n_precise = opt->precise_top;
        }

        /* The deadline is checked every MAP_DEADLINE_MIN_PROCS processes from the MAP_DEADLINE_MIN_PROCS-th
         * on: the listing and the cgroup's own files can take the whole budget on a slow machine (83-125 ms of
         * the daemon's 80 under TCG), and a map that read nothing said "0 processes" of a busy cgroup. */
        for (size_t i = 0; i < n_unique; i++) {
                if (m->n_procs >= max_procs ||
                    (opt->deadline_usec > 0 && i > 0 && i % MAP_DEADLINE_MIN_PROCS == 0 &&
                     now_usec(CLOCK_MONOTONIC) >= opt->deadline_usec)) {
                        m->truncated = true;
                        break;
                }
                if (i >= n_precise) {
                        if (!pids[i].statm_ok)
                                continue; /* gone, or a kernel thread (statm all zeros is fine) */
                        MapProcess p = {
                                .pid = pids[i].pid,
                                .cgroup = m->cgroups[pids[i].cgroup],
                                .n_fds = -1,
                                .estimated = true,
                        };
                        p.smaps.rss = pids[i].resident;
                        p.smaps.anonymous = pids[i].resident - pids[i].shared;
                        p.reclaimable = p.smaps.anonymous;
                        m->procs[m->n_procs++] = p;
                        continue;
                }
                k = scan_process(&s, &pids[i]);
                if (k < 0)
                        return k;
        }

        qsort(m->procs, m->n_procs, sizeof *m->procs, proc_cmp);
        for (size_t i = 0; i < m->n_procs; i++)
                smaps_add(&m->total, &m->procs[i].smaps);

        if (opt->scan_files) {
                k = map_scan_files(r, cgpath, m);
                if (k == -ENOMEM)
                        return k;
                if (k < 0)
                        log_debug_errno(k, "Cannot scan the open files of %s: %m, ignoring", cgpath);
        }
        for (size_t i = 0; i < m->n_files; i++) {
                m->files_cached += m->files[i].cached;
                m->files_cached_behind += m->files[i].cached_behind;
        }
        m->n_files_examined = m->n_files;
        if (m->n_files > 1)
                qsort(m->files, m->n_files, sizeof *m->files, file_cmp);
        size_t keep = opt->max_files ?: MAP_FILES_TOP_DEFAULT;
        while (m->n_files > keep)
                free(m->files[--m->n_files].path);

        map_diagnose(m);
        *ret = TAKE_PTR(m);
        return 0;
}

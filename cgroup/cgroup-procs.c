/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-procs.c: the one process picker (see cgroup-procs.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup-act.h"
#include "cgroup-procs.h"
#include "cgroup-restart.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/strv.h"

#define PROC_STAT_READ_MAX (64 * 1024)

/* Errors that would fail for every other candidate too. */
#define IS_FATAL(k) ((k) == -ENOMEM || (k) == -EMFILE || (k) == -ENFILE || (k) == -ENOSYS)

ProcList *proc_list_free(ProcList *l)
{
        if (!l)
                return NULL;
        strv_free(l->cgroups);
        free(l->procs);
        free(l);
        return NULL;
}

typedef struct Collect {
        ProcList *list;
        size_t max_cgroups;
        size_t n_alloc;
        size_t *cgroup_of; /* index into cgroups, per proc (during collection) */
} Collect;

static int collect_cb(const CgroupRoot *r, const char *cgpath, void *userdata)
{
        Collect *c = userdata;
        ProcList *l = c->list;
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ pid_t *pids = NULL;
        size_t idx = strv_length(l->cgroups);
        int skip_children = c->max_cgroups == 1 ? 1 : 0;
        int n;

        if (c->max_cgroups > 0 && idx >= c->max_cgroups) {
                l->truncated = true;
                return 1;
        }
        fd = cgroup_open(r, cgpath);
        if (ERRNO_IS_GONE(fd))
                return 1;
        if (fd < 0)
                return fd;
        if (strv_extend(&l->cgroups, cgpath) < 0)
                return -ENOMEM;
        n = cgroup_read_procs(fd, &pids);
        if (n == -ENOMEM)
                return n;
        if (n < 0) {
                if (!ERRNO_IS_GONE(n))
                        log_debug_errno(n, "cgroup.procs of %s unreadable, ignoring", cgpath);
                return skip_children;
        }
        if (l->n_procs + (size_t) n > c->n_alloc) {
                size_t na = MAX(c->n_alloc * 2, l->n_procs + (size_t) n + 64);
                ProcPick *p = realloc(l->procs, na * sizeof *p);
                if (!p)
                        return -ENOMEM;
                l->procs = p;
                size_t *ci = realloc(c->cgroup_of, na * sizeof *ci);
                if (!ci)
                        return -ENOMEM;
                c->cgroup_of = ci;
                c->n_alloc = na;
        }
        for (int i = 0; i < n; i++) {
                c->cgroup_of[l->n_procs] = idx;
                l->procs[l->n_procs++] = (ProcPick) { .pid = pids[i] };
        }
        l->n_listed += (size_t) n;
        return skip_children;
}

static int pick_pid_cmp(const void *a, const void *b)
{
        const ProcPick *x = a, *y = b;
        return x->pid < y->pid ? -1 : x->pid > y->pid;
}

int proc_list_collect(const CgroupRoot *r, const char *cgpath, size_t max_cgroups, ProcList **ret)
{
        _cleanup_(proc_list_freep) ProcList *l = NULL;
        _cleanup_free_ size_t *cgroup_of = NULL;
        int k;

        if (!r || !cgpath || !ret)
                return -EINVAL;
        l = calloc(1, sizeof *l);
        if (!l)
                return -ENOMEM;
        Collect c = { .list = l, .max_cgroups = max_cgroups };
        k = cgroup_walk(r, cgpath, collect_cb, &c);
        cgroup_of = c.cgroup_of;
        if (k < 0)
                return k;

        /* The cgroup pointers, now that the strv no longer moves; then PID order, a process listed twice
         * (it moved while we walked) once. */
        bool *child_has = calloc(MAX(strv_length(l->cgroups), (size_t) 1), sizeof *child_has);
        if (!child_has)
                return -ENOMEM;
        for (size_t i = 0; i < l->n_procs; i++) {
                l->procs[i].cgroup = l->cgroups[cgroup_of[i]];
                l->procs[i].cgroup_index = cgroup_of[i];
                if (cgroup_of[i] == 0)
                        l->n_own++;
                else
                        child_has[cgroup_of[i]] = true;
        }
        for (size_t i = 1; i < strv_length(l->cgroups); i++)
                l->n_child_cgroups += child_has[i];
        free(child_has);
        if (l->n_procs > 1)
                qsort(l->procs, l->n_procs, sizeof *l->procs, pick_pid_cmp);
        size_t n = 0;
        for (size_t i = 0; i < l->n_procs; i++)
                if (n == 0 || l->procs[i].pid != l->procs[n - 1].pid)
                        l->procs[n++] = l->procs[i];
        l->n_procs = n;
        *ret = TAKE_PTR(l);
        return 0;
}

static int read_statm(const CgroupRoot *r, pid_t pid, uint64_t *ret_resident, uint64_t *ret_shared)
{
        _cleanup_free_ char *buf = NULL;
        char path[32];
        unsigned long long size, resident, shared;

        snprintf(path, sizeof path, "%d/statm", (int) pid);
        int k = read_full_file_at(r->proc_fd, path, 4096, &buf, NULL);
        if (k < 0)
                return k;
        if (sscanf(buf, "%llu %llu %llu", &size, &resident, &shared) != 3)
                return -EINVAL;
        uint64_t page = (uint64_t) sysconf(_SC_PAGESIZE);
        *ret_resident = (uint64_t) resident * page;
        *ret_shared = MIN((uint64_t) shared, (uint64_t) resident) * page;
        return 0;
}

static int rank_cmp(const void *a, const void *b)
{
        const ProcPick *x = a, *y = b;
        if (x->anon_bytes != y->anon_bytes)
                return x->anon_bytes > y->anon_bytes ? -1 : 1;
        if (x->rss_bytes != y->rss_bytes)
                return x->rss_bytes > y->rss_bytes ? -1 : 1;
        return x->pid < y->pid ? -1 : x->pid > y->pid;
}

int proc_list_rank(const CgroupRoot *r, ProcList *l)
{
        size_t n = 0;

        for (size_t i = 0; i < l->n_procs; i++) {
                ProcPick p = l->procs[i];
                uint64_t resident = 0, shared = 0;
                int k = read_statm(r, p.pid, &resident, &shared);
                if (k == -ENOMEM)
                        return k;
                if (k < 0) {
                        l->n_gone++;
                        continue;
                }
                if (resident == 0) {
                        l->n_not_processes++; /* a kernel thread or a zombie: no memory of its own */
                        continue;
                }
                p.rss_bytes = resident;
                p.anon_bytes = resident - shared;

                _cleanup_free_ char *stat = NULL;
                char path[32];
                snprintf(path, sizeof path, "%d/stat", (int) p.pid);
                k = read_full_file_at(r->proc_fd, path, PROC_STAT_READ_MAX, &stat, NULL);
                if (k == -ENOMEM)
                        return k;
                if (k < 0 || proc_stat_parse_starttime(stat, &p.start_time) < 0)
                        p.start_time = UINT64_MAX; /* unknown: never "the oldest" over a known one */
                l->procs[n++] = p;
        }
        l->n_procs = n;
        if (n > 1)
                qsort(l->procs, n, sizeof *l->procs, rank_cmp);
        l->ranked = true;
        return 0;
}

int proc_list_open(const CgroupRoot *r, const ProcList *l, size_t i)
{
        if (i >= l->n_procs)
                return -EINVAL;
        return pidfd_open_in_cgroup(r, l->procs[i].pid, l->procs[i].cgroup);
}

static int build_ranked(const CgroupRoot *r, const char *cgpath, ProcList **ret)
{
        _cleanup_(proc_list_freep) ProcList *l = NULL;
        int k = proc_list_collect(r, cgpath, 0, &l);
        if (k < 0)
                return ERRNO_IS_GONE(k) ? -ESRCH : k;
        k = proc_list_rank(r, l);
        if (k < 0)
                return k;
        *ret = TAKE_PTR(l);
        return 0;
}

int proc_open_largest(const CgroupRoot *r, const char *cgpath, ProcPick *ret_pick, char **ret_cgroup)
{
        _cleanup_(proc_list_freep) ProcList *l = NULL;
        int k = build_ranked(r, cgpath, &l);
        if (k < 0)
                return k;

        /* The largest may exit before we hold it: then the next one. */
        for (size_t i = 0; i < l->n_procs; i++) {
                k = proc_list_open(r, l, i);
                if (IS_FATAL(k))
                        return k;
                if (k < 0)
                        continue;
                if (ret_cgroup) {
                        char *c = strdup(l->procs[i].cgroup);
                        if (!c) {
                                close(k);
                                return -ENOMEM;
                        }
                        *ret_cgroup = c;
                }
                if (ret_pick) {
                        *ret_pick = l->procs[i];
                        ret_pick->cgroup = NULL; /* the list is freed here */
                }
                return k;
        }
        return -ESRCH;
}

int proc_open_oldest(const CgroupRoot *r, const char *cgpath, pid_t *ret_pid)
{
        _cleanup_(proc_list_freep) ProcList *l = NULL;
        int k = build_ranked(r, cgpath, &l);
        if (k < 0)
                return k;

        /* Oldest first (lowest start time, then PID); the next when it exits first. */
        for (size_t tries = 0; tries < l->n_procs; tries++) {
                size_t best = SIZE_MAX;
                for (size_t i = 0; i < l->n_procs; i++) {
                        if (l->procs[i].pid <= 0)
                                continue;
                        if (best == SIZE_MAX || l->procs[i].start_time < l->procs[best].start_time ||
                            (l->procs[i].start_time == l->procs[best].start_time &&
                             l->procs[i].pid < l->procs[best].pid))
                                best = i;
                }
                if (best == SIZE_MAX)
                        break;
                k = proc_list_open(r, l, best);
                if (IS_FATAL(k))
                        return k;
                if (k >= 0) {
                        if (ret_pid)
                                *ret_pid = l->procs[best].pid;
                        return k;
                }
                l->procs[best].pid = 0;
        }
        return -ESRCH;
}

const char *proc_list_explain_empty(const ProcList *l, const char *cgpath, char *buf, size_t size)
{
        size_t n_below = l && l->cgroups ? strv_length(l->cgroups) : 0;
        n_below = n_below > 0 ? n_below - 1 : 0;

        if (!l || l->n_listed == 0)
                snprintf(buf, size, "no process in %s or below it (%zu cgroup(s) below it, all empty)", cgpath,
                         n_below);
        else
                snprintf(buf, size, "no process to act on in %s or below it: %zu listed, %zu exited meanwhile, "
                         "%zu kernel thread(s) or zombie(s)",
                         cgpath, l->n_listed, l->n_gone, l->n_not_processes);
        return buf;
}

const char *proc_explain_empty(const CgroupRoot *r, const char *cgpath, char *buf, size_t size)
{
        _cleanup_(proc_list_freep) ProcList *l = NULL;
        if (proc_list_collect(r, cgpath, 0, &l) >= 0)
                (void) proc_list_rank(r, l);
        return proc_list_explain_empty(l, cgpath, buf, size);
}

typedef struct Children {
        const char *start;
        char *best;
        uint64_t best_current;
        int error;
} Children;

static int children_cb(const CgroupRoot *r, const char *cgpath, void *userdata)
{
        Children *c = userdata;
        if (streq(cgpath, c->start))
                return 0; /* into its children */

        _cleanup_close_ int fd = cgroup_open(r, cgpath);
        uint64_t cur;
        if (fd >= 0 && cgroup_read_u64(fd, "memory.current", &cur) >= 0 && (!c->best || cur > c->best_current)) {
                char *p = strdup(cgpath);
                if (!p)
                        return -ENOMEM;
                free(c->best);
                c->best = p;
                c->best_current = cur;
        }
        return 1; /* not into grandchildren */
}

int cgroup_largest_child(const CgroupRoot *r, const char *cgpath, char **ret_path, uint64_t *ret_current)
{
        _cleanup_close_ int fd = -EBADF;
        Children c = {};

        if (!r || !cgpath || !ret_path)
                return -EINVAL;
        /* The walk's start is its normalised path: compare against that. */
        _cleanup_free_ char *start = NULL;
        fd = cgroup_open(r, cgpath);
        if (fd < 0)
                return fd;
        start = strdup(cgpath);
        if (!start)
                return -ENOMEM;
        size_t len = strlen(start);
        while (len > 1 && start[len - 1] == '/')
                start[--len] = 0;
        c.start = start;
        int k = cgroup_walk(r, start, children_cb, &c);
        if (k < 0) {
                free(c.best);
                return k;
        }
        if (!c.best)
                return -ENOENT;
        *ret_path = c.best;
        if (ret_current)
                *ret_current = c.best_current;
        return 0;
}

int cgroup_oom_group_of(const CgroupRoot *r, const char *guard, const char *cgpath, char **ret_path)
{
        size_t glen = strlen(guard);
        while (glen > 1 && guard[glen - 1] == '/')
                glen--;
        if (strncmp(cgpath, guard, glen) != 0 || (cgpath[glen] != 0 && cgpath[glen] != '/' && glen > 1))
                return 0; /* not below the guard: never look outside it */

        _cleanup_free_ char *p = strdup(cgpath), *found = NULL;
        if (!p)
                return -ENOMEM;
        for (;;) {
                _cleanup_close_ int fd = cgroup_open(r, p);
                bool on = false;
                if (fd >= 0 && cgroup_read_oom_group(fd, &on) >= 0 && on) {
                        free(found);
                        found = strdup(p);
                        if (!found)
                                return -ENOMEM;
                }
                if (strlen(p) <= glen)
                        break;
                char *slash = strrchr(p, '/');
                if (!slash || slash == p)
                        break;
                *slash = 0;
                if (strlen(p) < glen)
                        break;
        }
        if (!found)
                return 0;
        *ret_path = TAKE_PTR(found);
        return 1;
}

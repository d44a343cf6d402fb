/* SPDX-License-Identifier: MIT */
/* daemon/guard-poll.c: guards without a memory.events watch, polled on one shared timer (guard-poll.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard-poll.h"
#include "record.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/strv.h"
#include "util/time-util.h"

struct GuardPoll {
        Hashmap *guards;             /* path -> Guard */
        Hashmap *dirs;               /* path -> the same path (owned): cgroup directories without a watch */
        sd_event_source *timer;
        int last_error;              /* the last inotify_add_watch() failure, -errno */
        size_t last_count;           /* at the last tick */
        bool announced;              /* the record with the count went out (and no "all back" since) */
};

static const char *const max_watches_file = "/proc/sys/fs/inotify/max_user_watches";

static int on_poll_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        guard_poll_tick(userdata);
        return 0;
}

static void poll_schedule(Manager *m)
{
        GuardPoll *p = m->poll;
        usec_t when = now_usec(CLOCK_MONOTONIC) + GUARD_POLL_USEC;

        if (!p->timer) {
                int r = sd_event_add_time(m->event, &p->timer, CLOCK_MONOTONIC, when, GUARD_POLL_USEC / 10,
                                          on_poll_timer, m);
                if (r < 0) {
                        log_warning_errno(r, "Cannot add the timer that polls guards without an inotify watch: "
                                             "%m, ignoring");
                        return;
                }
                (void) sd_event_source_set_description(p->timer, "guard-poll");
        } else
                (void) sd_event_source_set_time(p->timer, when);
        (void) sd_event_source_set_enabled(p->timer, SD_EVENT_ONESHOT);
}

int guard_poll_add(Guard *g)
{
        Manager *m = g->manager;

        if (!m->poll) {
                m->poll = calloc(1, sizeof *m->poll);
                if (!m->poll)
                        goto oom;
        }
        GuardPoll *p = m->poll;
        if (!p->guards) {
                p->guards = hashmap_new(HASHMAP_KEY_STRING);
                if (!p->guards)
                        goto oom;
        }
        Guard *old = hashmap_get(p->guards, g->path);
        if (old == g)
                return 0;
        if (old)
                (void) hashmap_remove(p->guards, g->path); /* a guard of the same path that is going */
        if (hashmap_put(p->guards, g->path, g) < 0)
                goto oom;
        if (hashmap_size(p->guards) == 1 || !p->timer ||
            sd_event_source_get_enabled(p->timer, NULL) <= 0)
                poll_schedule(m);
        return 0;
oom:
        log_error("%s: no memory.events watch and out of memory to poll it instead: changes of memory.events "
                  "are not seen until the next step", g->path);
        return -ENOMEM;
}

void guard_poll_remove(Guard *g)
{
        GuardPoll *p = g->manager->poll;
        if (p && p->guards && hashmap_get(p->guards, g->path) == g)
                (void) hashmap_remove(p->guards, g->path);
}

size_t guard_poll_count(Manager *m)
{
        return m->poll && m->poll->guards ? hashmap_size(m->poll->guards) : 0;
}

size_t dir_poll_count(Manager *m)
{
        return m->poll && m->poll->dirs ? hashmap_size(m->poll->dirs) : 0;
}

Hashmap *dir_poll_dirs(Manager *m)
{
        return m->poll ? m->poll->dirs : NULL;
}

static bool poll_idle(Manager *m)
{
        return guard_poll_count(m) == 0 && dir_poll_count(m) == 0;
}

int dir_poll_add(Manager *m, const char *cgpath)
{
        if (!m->poll && !(m->poll = calloc(1, sizeof *m->poll)))
                goto oom;
        GuardPoll *p = m->poll;
        if (!p->dirs && !(p->dirs = hashmap_new(HASHMAP_KEY_STRING)))
                goto oom;
        if (hashmap_get(p->dirs, cgpath))
                return 0;
        char *path = strdup(cgpath);
        if (!path)
                goto oom;
        if (hashmap_put(p->dirs, path, path) < 0) {
                free(path);
                goto oom;
        }
        if (!p->timer || sd_event_source_get_enabled(p->timer, NULL) <= 0)
                poll_schedule(m);
        return 0;
oom:
        log_error("%s: no inotify watch on the directory and out of memory to poll it instead: cgroups "
                  "created below it are not seen", cgpath);
        return -ENOMEM;
}

void dir_poll_forget(Manager *m, const char *cgpath)
{
        char *path = m->poll && m->poll->dirs ? hashmap_remove(m->poll->dirs, cgpath) : NULL;
        free(path);
}

static void max_watches_read(char *buf, size_t size)
{
        if (read_record_at(AT_FDCWD, max_watches_file, buf, size) <= 0)
                snprintf(buf, size, "?");
        buf[strcspn(buf, "\n")] = 0;
}

/* One record when guards are first polled, and one when none is any more. */
static void poll_announce(Manager *m)
{
        GuardPoll *p = m->poll;
        size_t n = guard_poll_count(m), nd = dir_poll_count(m);
        char max[32];

        if (n != p->last_count)
                metrics_changed(m); /* the gauge */
        p->last_count = n;
        if ((n + nd > 0) == p->announced)
                return;
        p->announced = n + nd > 0;
        max_watches_read(max, sizeof max);
        Record *r = record_new(MW_MESSAGE_UNWATCHED, n + nd > 0 ? LOG_WARNING : LOG_INFO);
        record_add(r, "UNWATCHED=%zu", n);
        record_add(r, "UNWATCHED_DIRS=%zu", nd);
        record_add(r, "GUARDED=%zu", hashmap_size(m->guards));
        record_add(r, "MAX_USER_WATCHES=%s", max);
        record_add(r, "POLL_USEC=%llu", (unsigned long long) GUARD_POLL_USEC);
        if (n + nd > 0 && p->last_error < 0)
                record_add(r, "ERRNO=%i", -p->last_error);
        if (n + nd > 0)
                record_send(r, "%zu of %zu guarded cgroups have no inotify watch on memory.events, %zu "
                               "cgroup directories none for new cgroups (%s): each is read every %llus "
                               "instead; raise fs.inotify.max_user_watches (now %s, two watches a guarded "
                               "cgroup) with a sysctl.d drop-in",
                            n, hashmap_size(m->guards), nd,
                            p->last_error == -ENOSPC ? "fs.inotify.max_user_watches is used up" :
                            p->last_error < 0 ? strerror(-p->last_error) : "the watch was dropped",
                            (unsigned long long) (GUARD_POLL_USEC / USEC_PER_SEC), max);
        else
                record_send(r, "Every guarded cgroup and cgroup directory has its inotify watch again (%zu "
                               "guarded, fs.inotify.max_user_watches %s): no more polling",
                            hashmap_size(m->guards), max);
}

static bool events_equal(const MemoryEvents *a, const MemoryEvents *b)
{
        return a->low == b->low && a->high == b->high && a->max == b->max && a->oom == b->oom &&
               a->oom_kill == b->oom_kill && a->oom_group_kill == b->oom_group_kill;
}

bool guard_events_recheck(Guard *g)
{
        /* Under pressure the guard samples on its own timer anyway (guard_on_events_modified()). */
        if (guard_under_pressure(g) && g->timer)
                return false;
        MemoryEvents ev;
        if (g->engine.initialized && !g->unreadable &&
            cgroup_read_events(g->cgfd, /* local= */ false, &ev) >= 0 &&
            events_equal(&ev, &g->engine.last_events))
                return false;
        /* Changed, unreadable or gone (the step says which): as an inotify event would. */
        guard_on_events_modified(g);
        return true;
}

typedef struct DirScan {
        Manager *m;
        const char *top;
        char **found;
        int error;
} DirScan;

/* Children of a polled directory that are known have a watch (their own creations are seen) or are polled
 * themselves: skipped with their subtrees. Any other is new: noted, and discovered with its subtree once the
 * list is no longer iterated (discovery adds to it), as an IN_CREATE would. */
static int dir_scan_cb(const CgroupRoot *root, const char *cgpath, int dfd, void *userdata)
{
        DirScan *scan = userdata;
        Manager *m = scan->m;

        if (streq(cgpath, scan->top))
                return 0;
        if (hashmap_get(m->dirs_by_path, cgpath) || hashmap_get(m->poll->dirs, cgpath))
                return 1;
        if (strv_extend(&scan->found, cgpath) < 0)
                scan->error = -ENOMEM;
        return 1;
}

static void dir_poll_tick(Manager *m, bool *retry)
{
        GuardPoll *p = m->poll;
        DirScan scan = { .m = m };
        void *v;
        HashmapIter i = HASHMAP_ITER_INIT;

        while (p->dirs && hashmap_iterate(p->dirs, &i, &v, NULL)) {
                char *path = v;
                int r = 0;

                /* The watch first, then the scan: a child made in between is seen by one or the other. */
                if (*retry) {
                        r = manager_watch_dir(m, path);
                        if (r < 0 && !ERRNO_IS_GONE(r)) {
                                p->last_error = r;
                                if (r == -ENOSPC || r == -ENOMEM)
                                        *retry = false;
                        }
                }
                if (!ERRNO_IS_GONE(r)) {
                        scan.top = path;
                        r = cgroup_walk_fd(m->root, path, dir_scan_cb, &scan);
                }
                if (ERRNO_IS_GONE(r) || hashmap_get(m->dirs_by_path, path)) {
                        /* Gone (its parent's watch or poll forgets it anyway), or watched now. */
                        (void) hashmap_remove(p->dirs, path); /* the current entry */
                        free(path);
                }
        }
        if (scan.error < 0)
                log_error("Out of memory while polling cgroup directories without an inotify watch: new "
                          "cgroups are seen at a later tick");
        for (char **c = scan.found; c && *c; c++) {
                log_debug("%s: found by the poll (no inotify watch on its parent)", *c);
                (void) manager_discover(m, *c);
        }
        strv_free(scan.found);
}

void guard_poll_tick(Manager *m)
{
        GuardPoll *p = m->poll;
        if (!p)
                return;

        bool retry = true;
        void *v;
        HashmapIter i = HASHMAP_ITER_INIT;
        while (p->guards && hashmap_iterate(p->guards, &i, &v, NULL)) {
                Guard *g = v;

                /* The watch again, until the first ENOSPC of this tick (the others would get the same). */
                if (retry && g->events_wd < 0) {
                        int r = guard_watch_events(g);
                        if (r < 0) {
                                p->last_error = r;
                                if (r == -ENOSPC || r == -ENOMEM)
                                        retry = false;
                        }
                }
                if (g->events_wd >= 0)
                        guard_poll_remove(g); /* the current entry: allowed while iterating */

                (void) guard_events_recheck(g); /* may free g (a removed cgroup): not used after it */
        }
        dir_poll_tick(m, &retry);
        poll_announce(m);
        if (!poll_idle(m))
                poll_schedule(m);
        else if (p->timer)
                (void) sd_event_source_set_enabled(p->timer, SD_EVENT_OFF);
}

void guard_poll_status_text(Manager *m, FILE *f)
{
        size_t n = guard_poll_count(m), nd = dir_poll_count(m);
        if (n + nd == 0)
                return;
        char max[32];
        max_watches_read(max, sizeof max);
        if (nd > 0)
                fprintf(f, "%zu cgroup director%s without an inotify watch for new cgroups "
                           "(fs.inotify.max_user_watches=%s): looked into every %llus\n",
                        nd, nd == 1 ? "y" : "ies", max,
                        (unsigned long long) (GUARD_POLL_USEC / USEC_PER_SEC));
        if (n == 0)
                return;
        fprintf(f, "%zu guarded cgroup%s without an inotify watch on memory.events (fs.inotify.max_user_watches=%s): "
                   "polled every %llus; raise the limit (memwardend(8), LIMITS)\n",
                n, n == 1 ? "" : "s", max, (unsigned long long) (GUARD_POLL_USEC / USEC_PER_SEC));
}

void guard_poll_free(Manager *m)
{
        GuardPoll *p = m->poll;
        if (!p)
                return;
        sd_event_source_disable_unref(p->timer);
        hashmap_free(p->guards);
        void *v;
        HashmapIter i = HASHMAP_ITER_INIT;
        while (p->dirs && hashmap_iterate(p->dirs, &i, &v, NULL))
                free(v);
        hashmap_free(p->dirs);
        free(p);
        m->poll = NULL;
}

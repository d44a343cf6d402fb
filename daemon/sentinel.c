/* SPDX-License-Identifier: MIT */
/* daemon/sentinel.c: shared PSI triggers on parent cgroups (see sentinel.h). */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "manager.h"
#include "sentinel.h"
#include "util/log.h"
#include "util/time-util.h"

struct Sentinel {
        Manager *manager;
        char *key;                       /* "some 100000 1000000 /parent": the map's key */
        char *parent;
        PsiKind kind;                    /* the members' trigger: kind, stall, window */
        usec_t stall_usec, window_usec;
        int fd;                          /* the parent's "some" trigger; -EBADF while it has none */
        bool failed;                     /* the parent refused a trigger: members keep their own */
        sd_event_source *source, *timer;
        Guard **members;
        uint32_t n_members, n_alloc;
        unsigned n_hot;
        unsigned busy;                   /* scanning: do not free when the last member leaves */
        bool follow_up;                  /* the next timer tick is the full scan one window after a fire */
};

SentinelVerdict sentinel_classify(uint64_t last_total_usec, usec_t last_look_usec, uint64_t total_usec,
                                  usec_t now_usec, usec_t stall_usec, usec_t window_usec)
{
        if (total_usec < last_total_usec)
                return SENTINEL_RESET;
        uint64_t delta = total_usec - last_total_usec;
        if (delta == 0)
                return SENTINEL_CALM;
        if (delta >= stall_usec && last_look_usec > 0 && now_usec >= last_look_usec &&
            now_usec - last_look_usec <= window_usec)
                return SENTINEL_FIRED;
        return SENTINEL_WARM;
}

bool sentinel_may_cool(bool under_pressure, uint64_t last_total_usec, usec_t last_look_usec,
                       uint64_t total_usec, usec_t now_usec, usec_t stall_usec, usec_t window_usec)
{
        if (under_pressure)
                return false;
        if (total_usec < last_total_usec)
                return true; /* recreated */
        if (now_usec <= last_look_usec)
                return false;
        /* delta / elapsed < stall / window / 2, without division */
        double delta = (double) (total_usec - last_total_usec);
        return delta * (double) window_usec * 2.0 < (double) stall_usec * (double) (now_usec - last_look_usec);
}

usec_t sentinel_stall_usec(usec_t stall_usec, usec_t window_usec, unsigned n_cpus)
{
        if (n_cpus == 0)
                n_cpus = 1;
        double s = (double) stall_usec;
        double t = s * s / (s + (double) (n_cpus - 1) * (double) window_usec);
        usec_t r = (usec_t) t; /* rounded down: a lower bound */
        return r < 1 ? 1 : r;
}

int sentinel_parent_path(const char *cgpath, char *buf, size_t size)
{
        if (!cgpath || cgpath[0] != '/')
                return -EINVAL;
        const char *slash = strrchr(cgpath, '/');
        size_t n = slash == cgpath ? 1 : (size_t) (slash - cgpath);
        if (n + 1 > size)
                return -ENOBUFS;
        memcpy(buf, cgpath, n);
        buf[n] = 0;
        return 0;
}

int sentinel_key(PsiKind kind, usec_t stall_usec, usec_t window_usec, const char *cgpath, char *buf, size_t size)
{
        char parent[PATH_MAX];
        int r = sentinel_parent_path(cgpath, parent, sizeof parent);
        if (r < 0)
                return r;
        if (kind != PSI_SOME && kind != PSI_FULL)
                return -EINVAL;
        int n = snprintf(buf, size, "%s %" PRIu64 " %" PRIu64 " %s", kind == PSI_FULL ? "full" : "some",
                         stall_usec, window_usec, parent);
        if (n < 0 || (size_t) n >= size)
                return -ENOBUFS;
        return 0;
}

static unsigned n_cpus(void)
{
        static unsigned cached;
        if (!cached) {
                /* The kernel sums over every possible CPU (collect_percpu_times()); idle ones weigh 0. */
                long n = sysconf(_SC_NPROCESSORS_ONLN);
                cached = n > 0 ? (unsigned) n : 1;
        }
        return cached;
}

static const PsiLine *kind_line(const Psi *psi, PsiKind k)
{
        return k == PSI_FULL ? &psi->full : &psi->some;
}

/* Reads g's total for the sentinel's kind. */
static int member_total(const Guard *g, PsiKind k, uint64_t *ret)
{
        Psi psi;
        int r = cgroup_read_pressure(g->cgfd, &psi);
        if (r < 0)
                return r;
        if (k == PSI_FULL && !psi.has_full)
                return -ENODATA;
        *ret = kind_line(&psi, k)->total_usec;
        return 0;
}

/* The member's latest look at its total: the sentinel's own, or the guard's last sample if that is newer
 * (every step reads memory.pressure: the first one right after guard_new(), and any on memory.events), so
 * joining costs no extra read. */
static void member_last(const Guard *g, PsiKind k, uint64_t *ret_total, usec_t *ret_look)
{
        const SentinelLink *l = &g->sentinel[k];
        const EngineState *e = &g->engine;
        if (e->initialized && e->has_last_psi && e->last_step_usec > l->last_look_usec) {
                *ret_total = k == PSI_FULL ? e->last_full_total_usec : e->last_some_total_usec;
                *ret_look = e->last_step_usec;
        } else {
                *ret_total = l->last_total_usec;
                *ret_look = l->last_look_usec;
        }
}

static void member_heat(Sentinel *s, Guard *g)
{
        SentinelLink *l = &g->sentinel[s->kind];
        if (l->hot || g->trigger_fd[s->kind] >= 0 || s->n_hot >= SENTINEL_HOT_MAX)
                return;
        if (guard_trigger_arm(g, s->kind) >= 0 && g->trigger_fd[s->kind] >= 0) {
                l->hot = true;
                s->n_hot++;
        }
}

static void member_cool(Sentinel *s, Guard *g)
{
        SentinelLink *l = &g->sentinel[s->kind];
        if (!l->hot)
                return;
        guard_trigger_disarm(g, s->kind);
        l->hot = false;
        s->n_hot--;
}

static void sentinel_free(Sentinel *s)
{
        if (!s)
                return;
        if (s->manager->sentinels && hashmap_get(s->manager->sentinels, s->key) == s)
                (void) hashmap_remove(s->manager->sentinels, s->key);
        s->source = sd_event_source_disable_unref(s->source);
        s->timer = sd_event_source_disable_unref(s->timer);
        closep(&s->fd);
        free(s->members);
        free(s->key);
        free(s->parent);
        free(s);
}

static void sentinel_schedule(Sentinel *s, usec_t when);

/* Looks at members (all, or only the hot ones) after the parent's trigger fired or on the follow-up timer:
 * steps those whose own trigger would have fired, arms the own trigger of those that stalled, drops it
 * from hot ones that are calm again. */
static void sentinel_scan(Sentinel *s, bool all, bool fired, usec_t wake_usec)
{
        usec_t now = now_usec(CLOCK_MONOTONIC);
        bool warm = false;

        s->busy++;
        /* Downwards: a member dropped while stepping is swapped with the last one, already seen. */
        for (uint32_t i = s->n_members; i-- > 0;) {
                if (i >= s->n_members)
                        continue;
                Guard *g = s->members[i];
                SentinelLink *l = &g->sentinel[s->kind];
                if (!all && !l->hot)
                        continue;
                uint64_t total;
                int r = member_total(g, s->kind, &total);
                if (r < 0)
                        continue; /* gone: its removal is on its way (inotify) */

                uint64_t last_total;
                usec_t last_look;
                member_last(g, s->kind, &last_total, &last_look);
                if (l->hot && sentinel_may_cool(guard_under_pressure(g), last_total, last_look, total, now,
                                                s->stall_usec, s->window_usec))
                        member_cool(s, g);
                SentinelVerdict v = sentinel_classify(last_total, last_look, total, now, s->stall_usec,
                                                      s->window_usec);
                l->last_total_usec = total;
                l->last_look_usec = now;
                if (v == SENTINEL_CALM || v == SENTINEL_RESET)
                        continue;
                warm = true;
                if (g->trigger_fd[s->kind] >= 0)
                        continue; /* its own trigger was armed before this stall: it speaks for itself */
                /* bench/member-latency reads this line: which path noticed the stall. */
                log_debug("%s: stalled (%s), seen through the PSI trigger on %s: %s", g->path,
                          v == SENTINEL_FIRED ? "fired" : "warm", s->parent,
                          v == SENTINEL_FIRED ? "stepped now" : "its own trigger armed");
                member_heat(s, g); /* from now on its own trigger watches it, within SENTINEL_HOT_MAX */
                if (v == SENTINEL_FIRED) {
                        /* Its own trigger would have fired: say what it would have said. */
                        g->triggers_fired |= 1u << s->kind;
                        if (!g->wake_usec)
                                g->wake_usec = wake_usec;
                        (void) guard_step(g); /* may drop g */
                }
        }
        s->busy--;
        if (s->n_members == 0) {
                sentinel_free(s);
                return;
        }
        /* Follow up one window after a fire with a full scan: the parent's trigger fires at most once per
         * window, so a sibling that starts to stall in the meantime is found then. After that only the hot
         * members are looked at (to cool them), once a window, until none is left. */
        s->follow_up = fired && warm;
        if (s->follow_up || s->n_hot > 0)
                sentinel_schedule(s, now + s->window_usec);
        else
                sentinel_schedule(s, USEC_INFINITY);
}

static int on_sentinel_timer(sd_event_source *es, uint64_t usec, void *userdata)
{
        Sentinel *s = userdata;
        sentinel_scan(s, /* all= */ s->follow_up, /* fired= */ false, now_usec(CLOCK_MONOTONIC));
        return 0;
}

static void sentinel_schedule(Sentinel *s, usec_t when)
{
        if (when == USEC_INFINITY) {
                if (s->timer)
                        (void) sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);
                return;
        }
        if (!s->timer) {
                int r = sd_event_add_time(s->manager->event, &s->timer, CLOCK_MONOTONIC, when, 10 * USEC_PER_MSEC,
                                          on_sentinel_timer, s);
                if (r < 0) {
                        log_warning_errno(r, "%s: cannot add the sentinel's timer: %m, ignoring", s->parent);
                        return;
                }
                (void) sd_event_source_set_description(s->timer, "sentinel-scan");
        } else
                (void) sd_event_source_set_time(s->timer, when);
        (void) sd_event_source_set_enabled(s->timer, SD_EVENT_ONESHOT);
}

static void sentinel_close(Sentinel *s)
{
        s->source = sd_event_source_disable_unref(s->source);
        closep(&s->fd);
        s->fd = -EBADF;
}

/* The members go back to their own triggers (the parent refused one, or was removed). */
static void sentinel_fall_back(Sentinel *s)
{
        sentinel_close(s);
        s->failed = true;
        for (uint32_t i = 0; i < s->n_members; i++) {
                Guard *g = s->members[i];
                if (g->sentinel[s->kind].hot) {
                        g->sentinel[s->kind].hot = false;
                        s->n_hot--;
                }
                if (g->trigger_fd[s->kind] < 0)
                        (void) guard_trigger_arm(g, s->kind);
        }
}

static int on_sentinel(sd_event_source *es, int fd, uint32_t revents, void *userdata)
{
        Sentinel *s = userdata;
        usec_t wake = now_usec(CLOCK_MONOTONIC);

        if (revents & (EPOLLERR | EPOLLHUP)) {
                log_debug("%s: the sentinel's PSI trigger reports the cgroup removed", s->parent);
                sentinel_fall_back(s);
                return 0;
        }
        if (revents & EPOLLPRI)
                sentinel_scan(s, /* all= */ true, /* fired= */ true, wake);
        return 0;
}

/* Opens the parent's trigger; on success the members drop their own (calm) triggers. */
static int sentinel_open(Sentinel *s)
{
        Manager *m = s->manager;
        _cleanup_close_ int cgfd = cgroup_open(m->root, s->parent);
        if (cgfd < 0)
                return cgfd;
        usec_t stall = sentinel_stall_usec(s->stall_usec, s->window_usec, n_cpus());
        int fd = psi_trigger_open(cgfd, PSI_SOME, stall, s->window_usec);
        if (fd < 0)
                return fd;
        int r = sd_event_add_io(m->event, &s->source, fd, EPOLLPRI, on_sentinel, s);
        if (r < 0) {
                close(fd);
                return r;
        }
        (void) sd_event_source_set_description(s->source, "psi-sentinel");
        s->fd = fd;
        log_debug("%s: one PSI trigger (some %" PRIu64 "us/%" PRIu64 "us) for its children's %s %" PRIu64
                  "us/%" PRIu64 "us", s->parent, stall, s->window_usec, s->kind == PSI_FULL ? "full" : "some",
                  s->stall_usec, s->window_usec);

        usec_t now = now_usec(CLOCK_MONOTONIC);
        for (uint32_t i = 0; i < s->n_members; i++) {
                Guard *g = s->members[i];
                if (g->trigger_fd[s->kind] < 0)
                        continue;
                if (guard_under_pressure(g) && s->n_hot < SENTINEL_HOT_MAX) {
                        g->sentinel[s->kind].hot = true; /* keeps its trigger until calm */
                        s->n_hot++;
                        continue;
                }
                guard_trigger_disarm(g, s->kind);
        }
        if (s->n_hot > 0)
                sentinel_schedule(s, now + s->window_usec);
        return 0;
}

static int sentinel_join(Guard *g, PsiKind k)
{
        Manager *m = g->manager;
        const Policy *p = g->policy;
        char parent[PATH_MAX], keybuf[PATH_MAX + 64];
        int r = sentinel_parent_path(g->path, parent, sizeof parent);
        if (r >= 0)
                r = sentinel_key(k, p->trigger[k].stall_usec, p->trigger[k].window_usec, g->path, keybuf,
                                 sizeof keybuf);
        if (r < 0)
                return r;
        char *key = strdup(keybuf);
        if (!key)
                return -ENOMEM;
        if (!m->sentinels && !(m->sentinels = hashmap_new(HASHMAP_KEY_STRING))) {
                free(key);
                return -ENOMEM;
        }
        Sentinel *s = hashmap_get(m->sentinels, key);
        if (s)
                free(key);
        else {
                s = calloc(1, sizeof *s);
                if (!s) {
                        free(key);
                        return -ENOMEM;
                }
                *s = (Sentinel){ .manager = m, .key = key, .kind = k, .fd = -EBADF,
                                 .stall_usec = p->trigger[k].stall_usec, .window_usec = p->trigger[k].window_usec };
                if (!(s->parent = strdup(parent)) || hashmap_put(m->sentinels, s->key, s) < 0) {
                        sentinel_free(s);
                        return -ENOMEM;
                }
        }
        if (s->n_members == s->n_alloc) {
                uint32_t n = s->n_alloc ? s->n_alloc * 2 : 4;
                Guard **a = realloc(s->members, n * sizeof *a);
                if (!a) {
                        if (s->n_members == 0)
                                sentinel_free(s);
                        return -ENOMEM;
                }
                s->members = a;
                s->n_alloc = n;
        }
        s->members[s->n_members] = g;
        g->sentinel[k] = (SentinelLink){ .sentinel = s, .index = s->n_members };
        s->n_members++;

        if (s->fd < 0 && !s->failed && s->n_members >= SENTINEL_MIN_MEMBERS) {
                r = sentinel_open(s);
                if (r < 0) {
                        log_debug_errno(r, "%s: no PSI trigger on the parent (%m): its children keep their own",
                                        parent);
                        sentinel_fall_back(s);
                }
        }
        if (s->fd >= 0)
                return 0; /* the baseline of its stall: its first step, right after guard_new() */
        return guard_trigger_arm(g, k); /* alone, or the parent has no trigger: its own */
}

int sentinel_guard_attach(Guard *g)
{
        const Policy *p = g->policy;
        for (PsiKind k = PSI_SOME; k <= PSI_FULL; k++) {
                if (!p->trigger[k].enabled)
                        continue;
                int r = sentinel_join(g, k);
                if (r < 0 && (r == -ENOMEM || ERRNO_IS_GONE(r)))
                        return r;
        }
        return 0;
}

static void sentinel_leave(Guard *g, PsiKind k)
{
        SentinelLink *l = &g->sentinel[k];
        Sentinel *s = l->sentinel;
        if (!s)
                return;
        if (l->hot)
                s->n_hot--;
        uint32_t i = l->index;
        assert(i < s->n_members && s->members[i] == g);
        s->members[i] = s->members[--s->n_members];
        s->members[i]->sentinel[k].index = i;
        *l = (SentinelLink){};
        if (s->n_members == 0 && !s->busy)
                sentinel_free(s);
}

void sentinel_guard_detach(Guard *g)
{
        for (PsiKind k = PSI_SOME; k <= PSI_FULL; k++) {
                sentinel_leave(g, k);
                guard_trigger_disarm(g, k);
        }
}

unsigned sentinel_guard_watched(const Guard *g)
{
        unsigned n = 0;
        for (PsiKind k = PSI_SOME; k <= PSI_FULL; k++)
                if (g->trigger_fd[k] >= 0 || (g->sentinel[k].sentinel && g->sentinel[k].sentinel->fd >= 0))
                        n++;
        return n;
}

size_t sentinel_count_open(Manager *m)
{
        size_t n = 0;
        void *v;
        HashmapIter i = HASHMAP_ITER_INIT;
        if (!m->sentinels)
                return 0;
        while (hashmap_iterate(m->sentinels, &i, &v, NULL))
                n += ((Sentinel *) v)->fd >= 0;
        return n;
}

void sentinel_manager_done(Manager *m)
{
        void *v;
        HashmapIter i = HASHMAP_ITER_INIT;
        if (!m->sentinels)
                return;
        while (hashmap_iterate(m->sentinels, &i, &v, NULL))
                sentinel_free(v); /* removes itself */
        m->sentinels = hashmap_free(m->sentinels);
}

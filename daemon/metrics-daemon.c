/* SPDX-License-Identifier: MIT */
/* daemon/metrics-daemon.c: the daemon's half of the metrics (daemon/metrics.h): counters per guard, the
 * hooks guard.c and manager.c call (one line each), the textfile for node_exporter and the control socket's
 * "metrics" request.
 *
 * The file (memwarden.conf MetricsFile=, off by default) is written only after something changed: a guard
 * came or went, an episode started or ended, an action ran or settled, the kernel OOM-killed, a brake was set
 * or removed, a reload; under pressure after each sample (the seconds under pressure move on). Writes are
 * coalesced (idle-priority defer) and at most one a second (a timer armed only while a write is pending):
 * while calm there is no timer at all. It is replaced atomically and not touched when the content is the
 * same. A directory that is missing or read-only costs one warning; guarding goes on. On a clean stop the
 * file is removed: node_exporter then stops serving stale series.
 *
 * A cgroup that goes away keeps its series for METRICS_RETIRED_KEEP_USEC (10 min): the kill rung and the
 * kernel's OOM kill usually end the unit and remove its cgroup within a second, and a scrape every 15-60 s
 * must still see the counter go up. When a cgroup of the same path is guarded again within that time (a
 * restarted service), its counters go on from there. One timer runs while such series are kept; none once
 * they expired. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "config.h"
#include "guard-poll.h"
#include "manager.h"
#include "metrics.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/time-util.h"

#define METRICS_WRITE_INTERVAL_USEC (1 * USEC_PER_SEC)
#define METRICS_RETIRED_KEEP_USEC (10 * 60 * USEC_PER_SEC)

/* The counters of a cgroup that is no longer guarded. */
typedef struct Retired {
        char *path, *unit, *policy, *container_id;
        Rung ladder[_RUNG_MAX];
        size_t n_ladder;
        GuardMetrics m;
        usec_t until;
} Retired;

struct Metrics {
        sd_event_source *defer;        /* a write is pending: at idle priority */
        sd_event_source *timer;        /* a write is pending but the last was < 1s ago */
        usec_t last_write_usec;
        char *written_path;            /* the file we wrote, removed at stop or when MetricsFile= changes */
        char *last;                    /* its content */
        size_t last_len;
        char *warned_path;             /* the file we warned about (once) */
        uint64_t records_suppressed;
        usec_t start_realtime_usec;
        Hashmap *retired;              /* path -> Retired */
        sd_event_source *expire;       /* armed only while retired is not empty */
};

static void *mfree(void *p)
{
        free(p);
        return NULL;
}

static Metrics *metrics_get(Manager *m)
{
        if (!m->metrics) {
                m->metrics = calloc(1, sizeof(Metrics));
                if (m->metrics)
                        m->metrics->start_realtime_usec = now_usec(CLOCK_REALTIME);
        }
        return m->metrics;
}

static int cmp_cgroup(const void *a, const void *b)
{
        return strcmp(((const MetricsCgroup *) a)->cgroup, ((const MetricsCgroup *) b)->cgroup);
}

static void retired_free(Retired *r)
{
        if (!r)
                return;
        free(r->path);
        free(r->unit);
        free(r->policy);
        free(r->container_id);
        free(r);
}

bool metrics_swap_available(Manager *m)
{
        _cleanup_free_ char *buf = NULL;
        size_t n;
        if (!m->root || read_full_file_at(m->root->proc_fd, "meminfo", 1 << 16, &buf, &n) < 0)
                return false;
        return metrics_meminfo_has_swap(buf);
}

/* Status judges the limits the cgroup has now, read by the caller for its row (mem; NULL if unreadable: the
 * last sample then): a memory.max written after the guard's last sample (systemd and crun write it after the
 * cgroup appears) changes no memory.events, so a calm guard without a brake would not sample it again. */
bool metrics_guard_early_warning_now(const Guard *g, const CgroupMemory *mem, bool swap)
{
        if (!mem)
                return metrics_guard_early_warning(g, swap);
        return metrics_early_warning(g->policy->has_brake || g->brake_active, mem->max, mem->high, swap);
}

void metrics_status_json(const Guard *g, const CgroupMemory *mem, FILE *f, bool swap_available)
{
        fprintf(f, ",\"early_warning\":%s", metrics_guard_early_warning_now(g, mem, swap_available) ? "true" : "false");
}

void metrics_status_text(Guard *const *unwarned, size_t n, FILE *f)
{
        if (n == 0)
                return;
        fprintf(f, "\nWARNING: %zu guarded cgroup%s can get no warning before a kernel OOM kill: a memory.max, "
                   "no swap, no memory.high below memory.max, and no Brake= in the policy. memwarden hears of "
                   "%s only when the kernel has killed.\n%s\n",
                n, n == 1 ? "" : "s", n == 1 ? "it" : "them", METRICS_NO_WARNING_ADVICE);
        for (size_t j = 0; j < n; j++) {
                if (j == 10) {
                        fprintf(f, "  ... and %zu more (memwardenctl status --json: \"early_warning\":false)\n",
                                n - 10);
                        break;
                }
                fprintf(f, "  %s (policy %s, %s)\n", unwarned[j]->path, unwarned[j]->policy->name,
                        unwarned[j]->policy->path);
        }
}

bool metrics_guard_early_warning(const Guard *g, bool swap)
{
        if (!g->have_last)
                return true; /* not sampled yet: no verdict */
        return metrics_early_warning(g->policy->has_brake || g->brake_active, g->last_max, g->last_high,
                swap);
}

int metrics_text(Manager *m, FILE *f)
{
        Metrics *mt = metrics_get(m);
        if (!mt)
                return -ENOMEM;
        usec_t now = now_usec(CLOCK_MONOTONIC);
        size_t n = hashmap_size(m->guards), k = 0, n_retired = mt->retired ? hashmap_size(mt->retired) : 0;
        _cleanup_free_ MetricsCgroup *cs = calloc(n + n_retired + 1, sizeof(MetricsCgroup));
        if (!cs)
                return -ENOMEM;

        bool swap = metrics_swap_available(m);
        int r = 0;
        void *v;
        HashmapIter i = HASHMAP_ITER_INIT;
        while (hashmap_iterate(m->guards, &i, &v, NULL)) {
                const Guard *g = v;
                size_t j = k++;
                cs[j] = (MetricsCgroup){
                        .cgroup = g->path,
                        .unit = g->id.unit,
                        .policy = g->policy->name,
                        .container_id = g->id.container_id,
                        .ladder = g->policy->ladder,
                        .n_ladder = g->policy->n_ladder,
                        .m = g->metrics ? *g->metrics : (GuardMetrics){},
                        .pressure_usec = g->metrics ? g->metrics->pressure_usec : 0,
                        .under_pressure = guard_under_pressure(g),
                        .brake_active = g->brake_active,
                        .brake_bytes = g->brake_bytes,
                        .early_warning = metrics_guard_early_warning(g, swap),
                };
                if (cs[j].under_pressure && now > g->engine.pressure_since_usec)
                        cs[j].pressure_usec += now - g->engine.pressure_since_usec;
                char *pod = NULL;
                if (r >= 0)
                        r = metrics_pod_uid_from_path(g->path, &pod);
                cs[j].pod_uid = pod;
        }
        i = HASHMAP_ITER_INIT;
        while (mt->retired && hashmap_iterate(mt->retired, &i, &v, NULL)) {
                const Retired *t = v;
                size_t j = k++;
                cs[j] = (MetricsCgroup){
                        .cgroup = t->path,
                        .unit = t->unit,
                        .policy = t->policy,
                        .container_id = t->container_id,
                        .ladder = t->ladder,
                        .n_ladder = t->n_ladder,
                        .m = t->m,
                        .pressure_usec = t->m.pressure_usec,
                        .early_warning = true, /* gone: no verdict */
                };
                char *pod = NULL;
                if (r >= 0)
                        r = metrics_pod_uid_from_path(t->path, &pod);
                cs[j].pod_uid = pod;
        }
        qsort(cs, k, sizeof(MetricsCgroup), cmp_cgroup);

        struct rusage ru = {};
        (void) getrusage(RUSAGE_SELF, &ru);
        uint64_t rss_pages = 0;
        _cleanup_free_ char *statm = NULL;
        if (read_full_file_at(AT_FDCWD, "/proc/self/statm", 4096, &statm, NULL) >= 0)
                (void) sscanf(statm, "%*u %" SCNu64, &rss_pages);
        MetricsDaemon d = {
                .cpu_usec = (usec_t) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * USEC_PER_SEC +
                            (usec_t) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec),
                .rss_bytes = rss_pages * (uint64_t) sysconf(_SC_PAGESIZE),
                .guarded = n,
                .unwatched = guard_poll_count(m),
                .under_pressure = m->n_under_pressure,
                .records_suppressed = mt->records_suppressed,
                .start_time_seconds = (double) mt->start_realtime_usec / USEC_PER_SEC,
                .version = PACKAGE_VERSION,
        };
        if (r >= 0)
                r = metrics_format(&d, cs, k, f);
        for (size_t j = 0; j < k; j++)
                free((char *) cs[j].pod_uid);
        return r;
}

static void metrics_unlink_written(Metrics *mt)
{
        if (!mt->written_path)
                return;
        if (unlink(mt->written_path) < 0 && errno != ENOENT)
                log_debug_errno(-errno, "Cannot remove the metrics file %s: %m, ignoring", mt->written_path);
        mt->written_path = mfree(mt->written_path);
        mt->last = mfree(mt->last);
        mt->last_len = 0;
}

static void metrics_flush(Manager *m)
{
        Metrics *mt = m->metrics;
        const char *path = m->config ? m->config->daemon.metrics_file : NULL;

        if (mt->written_path && !streq_ptr(mt->written_path, path))
                metrics_unlink_written(mt); /* MetricsFile= changed or was turned off */
        if (!path)
                return;

        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return;
        int r = metrics_text(m, f);
        if (fclose(f) != 0 && r >= 0)
                r = -errno;
        if (r >= 0)
                r = metrics_file_write(path, buf, len, &mt->last, &mt->last_len);
        mt->last_write_usec = now_usec(CLOCK_MONOTONIC);
        if (r < 0) {
                if (!streq_ptr(mt->warned_path, path)) {
                        log_warning_errno(r, "Cannot write the metrics file %s: %m; metrics stay available through "
                                             "'memwardenctl metrics', guarding goes on, ignoring", path);
                        free(mt->warned_path);
                        mt->warned_path = strdup(path);
                }
                return;
        }
        if (mt->warned_path) {
                log_info("Metrics file %s written again", path);
                mt->warned_path = mfree(mt->warned_path);
        }
        if (r > 0 && !streq_ptr(mt->written_path, path)) {
                free(mt->written_path);
                mt->written_path = strdup(path);
        }
}

static int on_metrics_write(sd_event_source *s, void *userdata)
{
        metrics_flush(userdata);
        return 0;
}

static int on_metrics_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        metrics_flush(userdata);
        return 0;
}

void metrics_changed(Manager *m)
{
        Metrics *mt = metrics_get(m);
        if (!mt || !m->event)
                return;
        if (!m->config || (!m->config->daemon.metrics_file && !mt->written_path))
                return;
        usec_t now = now_usec(CLOCK_MONOTONIC);
        if (mt->last_write_usec && now < mt->last_write_usec + METRICS_WRITE_INTERVAL_USEC) {
                if (!mt->timer) {
                        if (sd_event_add_time(m->event, &mt->timer, CLOCK_MONOTONIC,
                                    mt->last_write_usec + METRICS_WRITE_INTERVAL_USEC, 50 * USEC_PER_MSEC,
                                    on_metrics_timer, m) < 0)
                                return;
                        (void) sd_event_source_set_description(mt->timer, "metrics-write");
                } else {
                        int enabled = SD_EVENT_OFF;
                        (void) sd_event_source_get_enabled(mt->timer, &enabled);
                        if (enabled != SD_EVENT_OFF)
                                return; /* already pending */
                        (void) sd_event_source_set_time(mt->timer, mt->last_write_usec + METRICS_WRITE_INTERVAL_USEC);
                }
                (void) sd_event_source_set_enabled(mt->timer, SD_EVENT_ONESHOT);
                return;
        }
        if (!mt->defer) {
                /* Idle priority: a burst of changes in one loop iteration costs one write. */
                if (sd_event_add_defer(m->event, &mt->defer, on_metrics_write, m) < 0)
                        return;
                (void) sd_event_source_set_priority(mt->defer, SD_EVENT_PRIORITY_IDLE);
                (void) sd_event_source_set_description(mt->defer, "metrics-write");
        }
        (void) sd_event_source_set_enabled(mt->defer, SD_EVENT_ONESHOT);
}

static int on_metrics_expire(sd_event_source *s, uint64_t usec, void *userdata);

/* Drops the retired series whose time is up and arms the timer for the next one (none: no timer). */
static void metrics_expire(Manager *m)
{
        Metrics *mt = m->metrics;
        usec_t now = now_usec(CLOCK_MONOTONIC), next = USEC_INFINITY;
        bool dropped = false;
        void *v;
        HashmapIter i = HASHMAP_ITER_INIT;
        while (mt->retired && hashmap_iterate(mt->retired, &i, &v, NULL)) {
                Retired *t = v;
                if (t->until <= now) {
                        (void) hashmap_remove(mt->retired, t->path);
                        retired_free(t);
                        dropped = true;
                } else
                        next = MIN(next, t->until);
        }
        if (next == USEC_INFINITY) {
                if (mt->expire)
                        (void) sd_event_source_set_enabled(mt->expire, SD_EVENT_OFF);
        } else if (!mt->expire) {
                if (sd_event_add_time(m->event, &mt->expire, CLOCK_MONOTONIC, next, USEC_PER_SEC, on_metrics_expire,
                            m) >= 0)
                        (void) sd_event_source_set_description(mt->expire, "metrics-expire");
        } else {
                (void) sd_event_source_set_time(mt->expire, next);
                (void) sd_event_source_set_enabled(mt->expire, SD_EVENT_ONESHOT);
        }
        if (dropped)
                metrics_changed(m);
}

static int on_metrics_expire(sd_event_source *s, uint64_t usec, void *userdata)
{
        metrics_expire(userdata);
        return 0;
}

static bool guard_metrics_any(const GuardMetrics *gm)
{
        if (gm->episodes || gm->oom_kills || gm->pressure_usec)
                return true;
        for (Rung r = 0; r < _RUNG_MAX; r++)
                for (MetricsResult k = 0; k < _METRICS_RESULT_MAX; k++)
                        if (gm->actions[r][k])
                                return true;
        return false;
}

void metrics_guard_retire(Manager *m, Guard *g)
{
        Metrics *mt = metrics_get(m);
        if (!mt)
                return;
        if ((g->metrics && guard_metrics_any(g->metrics)) || guard_under_pressure(g)) {
                if (!mt->retired)
                        mt->retired = hashmap_new(HASHMAP_KEY_STRING);
                Retired *t = calloc(1, sizeof *t);
                if (!mt->retired || !t) {
                        free(t);
                        goto out;
                }
                usec_t now = now_usec(CLOCK_MONOTONIC);
                *t = (Retired){ .m = g->metrics ? *g->metrics : (GuardMetrics){}, .n_ladder = g->policy->n_ladder,
                                .until = now + METRICS_RETIRED_KEEP_USEC };
                if (guard_under_pressure(g) && now > g->engine.pressure_since_usec)
                        t->m.pressure_usec += now - g->engine.pressure_since_usec;
                memcpy(t->ladder, g->policy->ladder, sizeof t->ladder);
                t->path = strdup(g->path);
                t->policy = strdup(g->policy->name);
                t->unit = g->id.unit ? strdup(g->id.unit) : NULL;
                t->container_id = g->id.container_id ? strdup(g->id.container_id) : NULL;
                retired_free(hashmap_remove(mt->retired, g->path));
                if (!t->path || !t->policy || hashmap_put(mt->retired, t->path, t) < 0) {
                        retired_free(t);
                        goto out;
                }
                metrics_expire(m); /* arms the timer */
        }
out:
        metrics_changed(m);
}

/* g's counters, allocated at the first thing to count (a calm guard has none: its memory, docs/scale.md). NULL
 * on -ENOMEM: that count is lost, nothing else. */
static GuardMetrics *guard_metrics(Guard *g)
{
        if (!g->metrics)
                g->metrics = calloc(1, sizeof *g->metrics);
        return g->metrics;
}

void metrics_guard_step(Guard *g, const Decision *d, const Observation *o)
{
        Metrics *mt = g->manager->metrics;
        if (!g->have_last && mt && mt->retired) {
                /* Guarded again (a restarted service): its counters go on. */
                Retired *t = hashmap_remove(mt->retired, g->path);
                if (t) {
                        GuardMetrics *gm = guard_metrics(g);
                        if (gm)
                                *gm = t->m;
                        retired_free(t);
                }
        }
        bool changed = !g->have_last || guard_under_pressure(g) || d->onset || d->relieved ||
                       g->brake_active != g->metrics_brake_seen;

        g->metrics_brake_seen = g->brake_active;
        bool settled = d->settled && !g->action_dry_run && d->settled_rung >= 0 && d->settled_rung < _RUNG_MAX;
        if (d->onset || d->relieved || d->events_delta.oom_kill > 0 || settled) {
                GuardMetrics *gm = guard_metrics(g);
                if (gm) {
                        if (d->onset)
                                gm->episodes++;
                        if (d->relieved)
                                gm->pressure_usec += d->pressure_duration_usec;
                        if (d->events_delta.oom_kill > 0) {
                                gm->oom_kills += d->events_delta.oom_kill;
                                changed = true;
                        }
                        if (settled) {
                                if (g->action_before > o->mem.current)
                                        gm->freed_bytes[d->settled_rung] += g->action_before - o->mem.current;
                                changed = true;
                        }
                }
        }
        if (!g->have_last || g->last_max != o->mem.max || g->last_high != o->mem.high)
                changed = true; /* the early-warning verdict may change */
        if (changed)
                metrics_changed(g->manager);
}

void metrics_guard_action(Guard *g, Rung rung, const char *result)
{
        if (rung < 0 || rung >= _RUNG_MAX)
                return;
        GuardMetrics *gm = guard_metrics(g);
        if (!gm)
                return;
        gm->actions[rung][metrics_result_from_string(result)]++;
        metrics_changed(g->manager);
}

void metrics_record_suppressed(Manager *m)
{
        Metrics *mt = metrics_get(m);
        if (mt)
                mt->records_suppressed++;
}

void metrics_free(Manager *m)
{
        Metrics *mt = m->metrics;
        if (!mt)
                return;
        mt->defer = sd_event_source_disable_unref(mt->defer);
        mt->timer = sd_event_source_disable_unref(mt->timer);
        mt->expire = sd_event_source_disable_unref(mt->expire);
        void *v;
        HashmapIter i = HASHMAP_ITER_INIT;
        while (mt->retired && hashmap_iterate(mt->retired, &i, &v, NULL))
                retired_free(v);
        hashmap_free(mt->retired);
        metrics_unlink_written(mt);
        free(mt->warned_path);
        free(mt);
        m->metrics = NULL;
}

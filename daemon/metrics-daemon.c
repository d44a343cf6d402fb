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
 * file is removed: node_exporter then stops serving stale series. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "config.h"
#include "manager.h"
#include "metrics.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/time-util.h"

#define METRICS_WRITE_INTERVAL_USEC (1 * USEC_PER_SEC)

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

static int cmp_guard(const void *a, const void *b)
{
        return strcmp((*(Guard *const *) a)->path, (*(Guard *const *) b)->path);
}

static bool swap_available(Manager *m)
{
        _cleanup_free_ char *buf = NULL;
        size_t n;
        if (!m->root || read_full_file_at(m->root->proc_fd, "meminfo", 1 << 16, &buf, &n) < 0)
                return false;
        const char *p = strstr(buf, "\nSwapTotal:");
        return p && strtoull(p + strlen("\nSwapTotal:"), NULL, 10) > 0;
}

bool metrics_guard_early_warning(const Guard *g, bool swap)
{
        if (!g->have_last)
                return true; /* not sampled yet: no verdict */
        return metrics_early_warning(g->policy->has_brake || g->brake_active, g->last.mem.max, g->last.mem.high,
                swap);
}

int metrics_text(Manager *m, FILE *f)
{
        Metrics *mt = metrics_get(m);
        if (!mt)
                return -ENOMEM;
        usec_t now = now_usec(CLOCK_MONOTONIC);
        size_t n = hashmap_size(m->guards), k = 0;
        _cleanup_free_ Guard **gs = calloc(n ? n : 1, sizeof(Guard *));
        _cleanup_free_ MetricsCgroup *cs = calloc(n ? n : 1, sizeof(MetricsCgroup));
        if (!gs || !cs)
                return -ENOMEM;
        void *v;
        HashmapIter i = HASHMAP_ITER_INIT;
        while (hashmap_iterate(m->guards, &i, &v, NULL))
                gs[k++] = v;
        qsort(gs, k, sizeof(Guard *), cmp_guard);

        bool swap = swap_available(m);
        int r = 0;
        for (size_t j = 0; j < k; j++) {
                const Guard *g = gs[j];
                cs[j] = (MetricsCgroup){
                        .cgroup = g->path,
                        .unit = g->id.unit,
                        .policy = g->policy->name,
                        .container_id = g->id.container_id,
                        .ladder = g->policy->ladder,
                        .n_ladder = g->policy->n_ladder,
                        .m = g->metrics,
                        .pressure_usec = g->metrics.pressure_usec,
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
                .guarded = k,
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

void metrics_guard_step(Guard *g, const Decision *d, const Observation *o)
{
        GuardMetrics *gm = &g->metrics;
        bool changed = !g->have_last || guard_under_pressure(g) || d->onset || d->relieved ||
                       g->brake_active != gm->brake_seen;

        gm->brake_seen = g->brake_active;
        if (d->onset)
                gm->episodes++;
        if (d->relieved)
                gm->pressure_usec += d->pressure_duration_usec;
        if (d->events_delta.oom_kill > 0) {
                gm->oom_kills += d->events_delta.oom_kill;
                changed = true;
        }
        if (d->settled && !g->action_dry_run && d->settled_rung >= 0 && d->settled_rung < _RUNG_MAX) {
                if (g->action_before > o->mem.current)
                        gm->freed_bytes[d->settled_rung] += g->action_before - o->mem.current;
                changed = true;
        }
        if (!g->have_last || g->last.mem.max != o->mem.max || g->last.mem.high != o->mem.high)
                changed = true; /* the early-warning verdict may change */
        if (changed)
                metrics_changed(g->manager);
}

void metrics_guard_action(Guard *g, Rung rung, const char *result)
{
        if (rung < 0 || rung >= _RUNG_MAX)
                return;
        g->metrics.actions[rung][metrics_result_from_string(result)]++;
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
        metrics_unlink_written(mt);
        free(mt->warned_path);
        free(mt);
        m->metrics = NULL;
}

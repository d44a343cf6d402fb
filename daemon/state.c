/* SPDX-License-Identifier: MIT */
/* daemon/state.c: the daemon's side of the state that survives a memwardend restart (daemon/state.h): loading
 * it into the guards, saving it from them. The file's format is daemon/state-file.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "record.h"
#include "manager.h"
#include "state.h"
#include "unit-record.h"
#include "util/log.h"
#include "util/time-util.h"

static const char *state_dir(Manager *m)
{
        return m->config && m->config->daemon.state_dir && m->config->daemon.state_dir[0] ?
                       m->config->daemon.state_dir :
                       "/run/memwarden";
}

static uint64_t cgroup_ino(int cgfd)
{
        struct stat st;
        return cgfd >= 0 && fstat(cgfd, &st) >= 0 ? (uint64_t) st.st_ino : 0;
}

int state_load(Manager *m)
{
        Hashmap *h = NULL;
        int r = state_read(state_dir(m), m->root->root_path, &h);
        if (r < 0) {
                log_warning_errno(r, "Cannot read the saved state %s/%s: %m; cooldowns and brakes of the previous "
                                     "instance are not known, ignoring",
                        state_dir(m), STATE_FILE_NAME);
                return r;
        }
        m->saved = h;
        unit_records_load(m); /* the "unit" lines: out of m->saved */
        if (hashmap_size(h) > 0)
                log_info("Saved state of %zu cgroup(s) found in %s/%s", hashmap_size(h), state_dir(m),
                        STATE_FILE_NAME);
        return 0;
}

void state_record_brake_released(const SavedGuard *s, int r, const char *why)
{
        Record *rec = record_new(MW_MESSAGE_BRAKE, r < 0 ? LOG_WARNING : LOG_INFO);
        if (!s->unit_record)
                record_add(rec, "CGROUP=%s", s->path);
        if (s->unit)
                record_add(rec, "UNIT=%s", s->unit);
        record_add(rec, "BRAKE=restored");
        record_add(rec, "BRAKE_BYTES=%" PRIu64, s->brake_bytes);
        if (s->brake_original == CGROUP_LIMIT_MAX)
                record_add(rec, "MEMORY_HIGH=max");
        else
                record_add(rec, "MEMORY_HIGH=%" PRIu64, s->brake_original);
        record_add(rec, "BRAKE_FROM=%s", s->unit_record ? "unit-record" : "previous-instance");
        if (r < 0)
                record_add(rec, "ERRNO=%i", -r);
        record_send(rec, "%s: memory.high brake of %s %s (%s)", s->unit_record ? s->unit : s->path,
                s->unit_record ? "a previous cgroup of the unit" : "the previous instance",
                r < 0 ? "could not be removed" : "removed", why);
}

void state_apply(Guard *g)
{
        Manager *m = g->manager;
        if (!m->saved)
                return;
        SavedGuard *s = hashmap_remove(m->saved, g->path);
        if (!s)
                return;
        if (s->ino != 0 && s->ino != cgroup_ino(g->cgfd)) {
                /* Same path, new cgroup: nothing of the old one applies, but a brake set through systemd
                 * came with the unit to its new cgroup: the guard takes it back if memory.high holds it
                 * (unit_record_adopt_brake()). */
                if (s->unit && unit_record_key(g) && streq(s->unit, unit_record_key(g)))
                        unit_record_take_saved_brake(m, s);
                saved_guard_free(s);
                return;
        }

        /* The engine restores itself (stamps from the future dropped, the rung mapped onto this ladder). */
        usec_t now = now_usec(CLOCK_MONOTONIC);
        EngineSnapshot snap = {
                .pressure = s->pressure,
                .pressure_since_usec = s->pressure_since_usec,
                .last_signal_usec = s->last_signal_usec,
                .rung = s->rung,
                .rung_at_usec = s->rung_at_usec,
                .throttle_escalated = s->throttle_escalated,
        };
        memcpy(snap.last_run_usec, s->last_run_usec, sizeof snap.last_run_usec);
        if (engine_restore(g->policy, &g->engine, &snap, now))
                m->n_under_pressure++;
        g->n_actions = s->n_actions;
        g->n_onsets = s->n_onsets;
        g->n_oom_kills = s->n_oom_kills;

        if (s->brake) {
                CgroupMemory mem;
                bool ours = cgroup_read_memory(g->cgfd, &mem) >= 0 && mem.high == s->brake_bytes;
                if (!ours)
                        log_debug("%s: memory.high changed since the previous instance set its brake: not ours "
                                  "any more", g->path);
                else if (g->policy->has_brake) {
                        g->brake_active = true;
                        g->brake_bytes = s->brake_bytes;
                        g->brake_original = s->brake_original;
                        g->brake_via_dbus = s->brake_via_dbus && g->id.unit;
                        log_debug("%s: adopted the memory.high brake of the previous instance", g->path);
                } else {
                        int r = state_release_brake(m->bus, m->root, s);
                        state_record_brake_released(s, r, "the policy has no brake now");
                }
        }
        saved_guard_free(s);
        state_track(g); /* what was restored must be saved again */
}

/* A guard that never acted, has no brake and is calm has nothing to remember: most of them. */
static bool guard_has_state(const Guard *g)
{
        const EngineState *e = &g->engine;
        for (Rung r = 0; r < _RUNG_MAX; r++)
                if (e->last_run_usec[r] > 0)
                        return true;
        return g->brake_active || e->phase == ENGINE_PRESSURE || g->n_actions > 0 || g->n_onsets > 0 ||
               g->n_oom_kills > 0;
}

static SavedGuard *saved_from_guard(const Guard *g, SavedGuard *buf)
{
        if (!guard_has_state(g))
                return NULL; /* nothing to remember */

        EngineSnapshot snap;
        engine_snapshot(g->policy, &g->engine, &snap);
        *buf = (SavedGuard) {
                .path = (char *) g->path, /* not freed: SavedGuard here only borrows */
                .unit = g->id.unit,
                .ino = cgroup_ino(g->cgfd),
                .brake = g->brake_active,
                .brake_bytes = g->brake_bytes,
                .brake_original = g->brake_original,
                .brake_via_dbus = g->brake_via_dbus,
                .pressure = snap.pressure,
                .pressure_since_usec = snap.pressure_since_usec,
                .last_signal_usec = snap.last_signal_usec,
                .rung = snap.rung,
                .rung_at_usec = snap.rung_at_usec,
                .throttle_escalated = snap.throttle_escalated,
                .n_actions = g->n_actions,
                .n_onsets = g->n_onsets,
                .n_oom_kills = g->n_oom_kills,
        };
        memcpy(buf->last_run_usec, snap.last_run_usec, sizeof buf->last_run_usec);
        return buf;
}

void state_save_now(Manager *m)
{
        if (!m->state_ready)
                return;
        if (m->state_source)
                (void) sd_event_source_set_enabled(m->state_source, SD_EVENT_OFF);

        /* The state is saved before every action: it looks at the guards that have state (state_track()),
         * not at every guarded cgroup. Iterating 10,000 guards twice per save was 45% of the daemon's CPU
         * under pressure in the VM and made the event-to-action latency grow with the count (p50 2.6 ms with
         * none, 21 ms with 10,000). */
        Hashmap *from = m->stateful_incomplete ? m->guards : m->stateful;
        size_t n = hashmap_size(from) + unit_records_count(m), k = 0;
        void *v;
        HashmapIter i = HASHMAP_ITER_INIT;
        SavedGuard *buf = calloc(n ?: 1, sizeof *buf);
        SavedGuard **list = calloc(n ?: 1, sizeof *list);
        int r = -ENOMEM;
        if (buf && list) {
                while (hashmap_iterate(from, &i, &v, NULL) && k < n) {
                        SavedGuard *s = saved_from_guard(v, buf + k);
                        if (s)
                                list[k++] = s;
                }
                size_t nu = unit_records_to_saved(m, buf + k, n - k);
                for (size_t j = 0; j < nu; j++, k++)
                        list[k] = buf + k;
                r = state_write(state_dir(m), m->root->root_path, list, k);
        }
        free(buf);
        free(list);
        if (r < 0) {
                /* Once, not per change: the directory is gone or full, and that will not get better soon. */
                if (!m->state_warned)
                        log_warning_errno(r, "Cannot save the state to %s/%s: %m; a restart will forget "
                                             "cooldowns and brakes, ignoring",
                                state_dir(m), STATE_FILE_NAME);
                m->state_warned = true;
        } else
                m->state_warned = false;
}

static int on_state_save(sd_event_source *s, void *userdata)
{
        state_save_now(userdata);
        return 0;
}

void state_track(Guard *g)
{
        Manager *m = g->manager;
        if (hashmap_get(m->stateful, g->path) == g)
                return;
        int r = hashmap_put(m->stateful, g->path, g);
        if (r == -EEXIST) { /* a stale entry for the same path: replace it */
                (void) hashmap_remove(m->stateful, g->path);
                r = hashmap_put(m->stateful, g->path, g);
        }
        if (r < 0)
                m->stateful_incomplete = true;
}

void state_changed(Manager *m)
{
        if (!m->state_ready)
                return;
        if (!m->state_source) {
                /* Idle priority: after every pending event of this loop iteration, so that a burst of changes
                 * (many new cgroups at once) costs one write. */
                if (sd_event_add_defer(m->event, &m->state_source, on_state_save, m) < 0) {
                        state_save_now(m);
                        return;
                }
                (void) sd_event_source_set_priority(m->state_source, SD_EVENT_PRIORITY_IDLE);
                (void) sd_event_source_set_description(m->state_source, "state-save");
        }
        (void) sd_event_source_set_enabled(m->state_source, SD_EVENT_ONESHOT);
}

void state_startup_done(Manager *m)
{
        if (m->saved) {
                void *v;
                HashmapIter i = HASHMAP_ITER_INIT;
                while (hashmap_iterate(m->saved, &i, &v, NULL)) {
                        SavedGuard *s = v;
                        _cleanup_close_ int cgfd = s->brake ? cgroup_open(m->root, s->path) : -EBADF;
                        if (s->brake && s->brake_via_dbus && s->unit && ERRNO_IS_GONE(cgfd)) {
                                /* The unit is between two cgroups (a restart): systemd keeps the brake for
                                 * the next one. Kept for its guard, restored at stop if none comes. */
                                unit_record_take_saved_brake(m, s);
                        } else if (s->brake) {
                                int r = state_release_brake(m->bus, m->root, s);
                                if (r != 0)
                                        state_record_brake_released(s, r, "no policy guards the cgroup now");
                        }
                }
                m->saved = saved_state_free(m->saved);
        }
        m->state_ready = true;
        state_save_now(m);
}

void state_shutdown(Manager *m)
{
        if (m->state_ready) {
                void *v;
                HashmapIter i = HASHMAP_ITER_INIT;
                while (hashmap_iterate(m->guards, &i, &v, NULL)) {
                        Guard *g = v;
                        if (g->brake_active)
                                (void) brake_restore(g);
                }
                unit_records_restore_brakes(m); /* brakes left on units between two cgroups */
                state_save_now(m);
                m->state_ready = false;
        }
        m->state_source = sd_event_source_disable_unref(m->state_source);
        m->saved = saved_state_free(m->saved);
}

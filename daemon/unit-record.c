/* SPDX-License-Identifier: MIT */
/* daemon/unit-record.c: what memwardend keeps about a unit beyond the life of its cgroup (unit-record.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "unit-record.h"
#include "util/log.h"
#include "util/time-util.h"

static UnitRecord *unit_record_free(UnitRecord *u)
{
        if (!u)
                return NULL;
        free(u->key);
        free(u);
        return NULL;
}

static bool unit_record_empty(const UnitRecord *u)
{
        if (u->brake || u->restarts.n > 0)
                return false;
        for (Rung r = 0; r < _RUNG_MAX; r++)
                if (u->last_run_usec[r] > 0)
                        return false;
        return true;
}

/* Makes room for one more: drops the least recently used record that holds no brake. */
static void unit_records_evict(Manager *m)
{
        UnitRecord *victim = NULL;
        void *v;
        HashmapIter i = HASHMAP_ITER_INIT;
        while (hashmap_iterate(m->unit_records, &i, &v, NULL)) {
                UnitRecord *u = v;
                if (!u->brake && (!victim || u->used_usec < victim->used_usec))
                        victim = u;
        }
        if (victim) {
                log_debug("Forgetting the unit record of %s (%u kept)", victim->key, UNIT_RECORDS_MAX);
                (void) hashmap_remove(m->unit_records, victim->key);
                unit_record_free(victim);
        }
}

UnitRecord *unit_record_get(Manager *m, const char *key, bool create)
{
        if (!key || !m->unit_records)
                return NULL;
        UnitRecord *u = hashmap_get(m->unit_records, key);
        if (u || !create) {
                if (u)
                        u->used_usec = now_usec(CLOCK_MONOTONIC);
                return u;
        }
        if (hashmap_size(m->unit_records) >= UNIT_RECORDS_MAX)
                unit_records_evict(m);
        u = calloc(1, sizeof *u);
        if (!u || !(u->key = strdup(key)))
                return unit_record_free(u);
        u->brake_original = CGROUP_LIMIT_MAX;
        u->used_usec = now_usec(CLOCK_MONOTONIC);
        if (hashmap_put(m->unit_records, u->key, u) < 0)
                return unit_record_free(u);
        return u;
}

const char *unit_record_key(const Guard *g)
{
        return g->id.is_unit_cgroup && g->id.unit ? g->id.unit : NULL;
}

void unit_record_keep(Guard *g, bool cgroup_gone)
{
        const char *key = unit_record_key(g);
        if (!key)
                return;
        bool any = g->brake_active && cgroup_gone && g->brake_via_dbus;
        for (Rung r = 0; r < _RUNG_MAX && !any; r++)
                any = g->engine.last_run_usec[r] > 0;
        UnitRecord *u = unit_record_get(g->manager, key, /* create= */ any);
        if (!u)
                return;
        for (Rung r = 0; r < _RUNG_MAX; r++)
                u->last_run_usec[r] = MAX(u->last_run_usec[r], g->engine.last_run_usec[r]);
        if (g->brake_active && cgroup_gone && g->brake_via_dbus) {
                /* systemd applies the runtime MemoryHigh= to the unit's next cgroup: still ours. */
                u->brake = true;
                u->brake_bytes = g->brake_bytes;
                u->brake_original = g->brake_original;
                log_debug("%s: the cgroup of %s is gone with our brake (%" PRIu64 "): kept for its next cgroup",
                          g->path, key, g->brake_bytes);
        }
        state_changed(g->manager);
}

void unit_record_adopt(Guard *g)
{
        UnitRecord *u = unit_record_get(g->manager, unit_record_key(g), /* create= */ false);
        if (!u)
                return;
        bool any = false;
        for (Rung r = 0; r < _RUNG_MAX && !any; r++)
                any = u->last_run_usec[r] > g->engine.last_run_usec[r];
        if (!any)
                return;
        /* The engine restores itself from a snapshot: the episode the guard may have restored already (a
         * daemon restart) is kept, each cooldown is the later of the two. */
        usec_t now = now_usec(CLOCK_MONOTONIC);
        EngineSnapshot snap;
        engine_snapshot(g->policy, &g->engine, &snap);
        for (Rung r = 0; r < _RUNG_MAX; r++)
                snap.last_run_usec[r] = MAX(snap.last_run_usec[r], u->last_run_usec[r]);
        bool was_pressure = g->engine.phase == ENGINE_PRESSURE;
        engine_state_done(&g->engine);
        engine_state_init(&g->engine);
        bool pressure = engine_restore(g->policy, &g->engine, &snap, now);
        if (pressure && !was_pressure)
                g->manager->n_under_pressure++;
        else if (!pressure && was_pressure && g->manager->n_under_pressure > 0)
                g->manager->n_under_pressure--;
        log_debug("%s: took back the cooldowns of %s's previous cgroup", g->path, u->key);
        state_track(g);
}

int unit_record_adopt_brake(Guard *g, const CgroupMemory *mem)
{
        if (g->brake_active)
                return 0;
        UnitRecord *u = unit_record_get(g->manager, unit_record_key(g), /* create= */ false);
        if (!u || !u->brake)
                return 0;
        if (mem->high != u->brake_bytes) {
                if (mem->high == CGROUP_LIMIT_MAX && mem->max == CGROUP_LIMIT_MAX)
                        return 0; /* systemd has not written the new cgroup's limits yet */
                /* Changed since (systemctl set-property, another manager): theirs. */
                log_debug("%s: memory.high is not the brake we left on %s: not ours any more", g->path, u->key);
                u->brake = false;
                state_changed(g->manager);
                return 0;
        }
        g->brake_active = true;
        g->brake_bytes = u->brake_bytes;
        g->brake_original = u->brake_original;
        g->brake_via_dbus = true;
        u->brake = false;
        state_track(g);
        state_changed(g->manager);

        char bb[FORMAT_BYTES_MAX];
        Record *rec = record_new(MW_MESSAGE_BRAKE, LOG_INFO);
        record_add_guard(rec, g);
        record_add(rec, "BRAKE=adopted");
        record_add(rec, "BRAKE_BYTES=%" PRIu64, g->brake_bytes);
        record_add(rec, "BRAKE_FROM=previous-cgroup");
        record_send(rec, "%s: the memory.high brake at %s we set on %s's previous cgroup came with the new one "
                    "(systemd carries it): ours again", g->path, format_bytes(bb, sizeof bb, g->brake_bytes),
                    u->key);
        if (!g->policy->has_brake)
                (void) brake_restore(g);
        return 1;
}

void unit_record_take_saved_brake(Manager *m, const SavedGuard *s)
{
        if (!s->brake || !s->brake_via_dbus || !s->unit)
                return;
        UnitRecord *u = unit_record_get(m, s->unit, /* create= */ true);
        if (!u)
                return;
        u->brake = true;
        u->brake_bytes = s->brake_bytes;
        u->brake_original = s->brake_original;
        log_debug("%s: the brake of the previous instance is kept for %s's next guard", s->path, s->unit);
}

void unit_records_load(Manager *m)
{
        if (!m->saved)
                return;
        void *v;
        HashmapIter i = HASHMAP_ITER_INIT;
        while (hashmap_iterate(m->saved, &i, &v, NULL)) {
                SavedGuard *s = v;
                if (!s->unit_record)
                        continue;
                (void) hashmap_remove(m->saved, s->path);
                UnitRecord *u = unit_record_get(m, s->unit, /* create= */ true);
                if (u) {
                        /* Stamps from the future (another boot's clock cannot get here: the file names its
                         * boot) are dropped as the engine drops them. */
                        usec_t now = now_usec(CLOCK_MONOTONIC);
                        for (Rung r = 0; r < _RUNG_MAX; r++)
                                u->last_run_usec[r] = s->last_run_usec[r] <= now ? s->last_run_usec[r] : 0;
                        u->restarts = s->restarts;
                        for (unsigned k = 0; k < u->restarts.n; k++)
                                if (u->restarts.at_usec[k] > now)
                                        u->restarts.at_usec[k] = now;
                        if (s->brake && s->brake_via_dbus) {
                                u->brake = true;
                                u->brake_bytes = s->brake_bytes;
                                u->brake_original = s->brake_original;
                        }
                }
                saved_guard_free(s);
        }
}

size_t unit_records_count(Manager *m)
{
        return m->unit_records ? hashmap_size(m->unit_records) : 0;
}

size_t unit_records_to_saved(Manager *m, SavedGuard *buf, size_t max)
{
        size_t k = 0;
        void *v;
        HashmapIter i = HASHMAP_ITER_INIT;
        while (m->unit_records && k < max && hashmap_iterate(m->unit_records, &i, &v, NULL)) {
                UnitRecord *u = v;
                if (unit_record_empty(u))
                        continue;
                SavedGuard *s = buf + k++;
                *s = (SavedGuard) {
                        .path = u->key,
                        .unit = u->key,
                        .unit_record = true,
                        .restarts = u->restarts,
                        .brake = u->brake,
                        .brake_bytes = u->brake_bytes,
                        .brake_original = u->brake_original,
                        .brake_via_dbus = true,
                        .rung = _RUNG_INVALID,
                };
                memcpy(s->last_run_usec, u->last_run_usec, sizeof s->last_run_usec);
        }
        return k;
}

void unit_records_restore_brakes(Manager *m)
{
        void *v;
        HashmapIter i = HASHMAP_ITER_INIT;
        while (m->unit_records && hashmap_iterate(m->unit_records, &i, &v, NULL)) {
                UnitRecord *u = v;
                if (!u->brake)
                        continue;
                SavedGuard s = {
                        .path = u->key,
                        .unit = u->key,
                        .unit_record = true,
                        .brake = true,
                        .brake_bytes = u->brake_bytes,
                        .brake_original = u->brake_original,
                        .brake_via_dbus = true,
                };
                int r = state_release_brake(m->bus, m->root, &s);
                if (r == 0) {
                        /* MemoryHigh= changed since our brake (systemctl set-property): the operator's. */
                        Record *rec = record_new(MW_MESSAGE_BRAKE, LOG_INFO);
                        record_add(rec, "UNIT=%s", u->key);
                        record_add(rec, "BRAKE=left");
                        record_add(rec, "BRAKE_BYTES=%" PRIu64, u->brake_bytes);
                        record_add(rec, "BRAKE_FROM=unit-record");
                        record_send(rec, "%s: MemoryHigh= was changed by someone else since our brake on a previous "
                                    "cgroup of the unit, leaving it", u->key);
                } else
                        state_record_brake_released(&s, r, "the unit has no cgroup as memwardend stops");
                if (r >= 0)
                        u->brake = false;
        }
}

void unit_records_free(Manager *m)
{
        void *v;
        HashmapIter i = HASHMAP_ITER_INIT;
        while (m->unit_records && hashmap_iterate(m->unit_records, &i, &v, NULL)) {
                UnitRecord *u = v;
                (void) hashmap_remove(m->unit_records, u->key);
                unit_record_free(u);
        }
        m->unit_records = hashmap_free(m->unit_records);
}

/* SPDX-License-Identifier: MIT */
/* daemon/brake.c: the memory.high brake. Without swap a cgroup that reaches memory.max is OOM-killed
 * within milliseconds and PSI never fires; with memory.high below memory.max the kernel throttles the
 * allocating tasks first and raises "high" events, which buys the seconds gentle relief needs
 * (docs/design.md, "The brake"). For a systemd unit the brake is set through systemd (SetUnitProperties, runtime
 * only), so that a daemon-reload does not silently reset it; cgroupfs is written directly only where
 * systemd does not manage the cgroup (delegated subtrees, containers) or is not reachable. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "alert.h"
#include "cgroup/cgroup-act.h"
#include "manager.h"
#include "state.h"
#include "util/log.h"
#include "util/time-util.h"

#define PAGE_ALIGN_DOWN(x) ((x) & ~(uint64_t) 4095)

static bool unit_is_managed_by_systemd(const Guard *g)
{
        if (!g->id.is_unit_cgroup || !g->id.unit)
                return false;
        /* Slices and scopes and services all accept MemoryHigh= at runtime. */
        return true;
}

static int set_memory_high_dbus(Manager *m, const char *unit, uint64_t value)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = NULL, *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        if (!m->bus)
                return -ENOTCONN;
        r = sd_bus_message_new_method_call(m->bus, &msg, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                "org.freedesktop.systemd1.Manager", "SetUnitProperties");
        if (r >= 0)
                r = sd_bus_message_append(msg, "sb", unit, 1);
        if (r >= 0)
                r = sd_bus_message_append(msg, "a(sv)", 1, "MemoryHigh", "t", value);
        if (r < 0)
                return r;
        r = sd_bus_call(m->bus, msg, 5 * USEC_PER_SEC, &error, &reply);
        if (r < 0)
                log_debug("SetUnitProperties(%s, MemoryHigh=%" PRIu64 ") failed: %s", unit, value,
                        error.message ?: strerror(-r));
        sd_bus_error_free(&error);
        return r;
}

static int set_memory_high(Guard *g, uint64_t value, bool *ret_via_dbus)
{
        if (unit_is_managed_by_systemd(g)) {
                int r = set_memory_high_dbus(g->manager, g->id.unit, value);
                if (r >= 0) {
                        *ret_via_dbus = true;
                        return 0;
                }
                log_debug_errno(r, "%s: systemd did not take MemoryHigh=: %m, writing cgroupfs", g->path);
        }
        *ret_via_dbus = false;
        return cgroup_write_high(g->cgfd, value);
}

/* memory.high back to what it was before our brake, the way the brake was set. */
static int brake_write_original(Guard *g)
{
        if (g->brake_via_dbus) {
                int r = set_memory_high_dbus(g->manager, g->id.unit, g->brake_original);
                if (r >= 0)
                        return r;
        }
        return cgroup_write_high(g->cgfd, g->brake_original);
}

int brake_apply(Guard *g, const CgroupMemory *mem)
{
        const Policy *p = g->policy;
        if (!p->has_brake || g->brake_active)
                return 0;
        if (mem->max == CGROUP_LIMIT_MAX)
                return 0; /* nothing to brake against (yet) */
        if (mem->high != CGROUP_LIMIT_MAX)
                return 0; /* the operator set memory.high: theirs to keep */

        uint64_t v = PAGE_ALIGN_DOWN(quantity_resolve(&p->brake, mem->max));
        if (v == 0 || v >= mem->max)
                return 0;

        bool dry = p->dry_run || g->manager->dry_run_arg || g->manager->config->daemon.dry_run;
        bool via_dbus = false;
        int r = dry ? 0 : set_memory_high(g, v, &via_dbus);

        char vb[FORMAT_BYTES_MAX], mb[FORMAT_BYTES_MAX];
        Record *rec = record_new(MW_MESSAGE_BRAKE, r < 0 ? LOG_WARNING : LOG_INFO);
        record_add_guard(rec, g);
        record_add(rec, "BRAKE=set");
        record_add(rec, "BRAKE_BYTES=%" PRIu64, v);
        record_add(rec, "MEMORY_MAX=%" PRIu64, mem->max);
        record_add(rec, "BRAKE_VIA=%s", via_dbus ? "systemd" : "cgroupfs");
        record_add(rec, "DRY_RUN=%s", dry ? "yes" : "no");
        if (r < 0)
                record_add(rec, "ERRNO=%i", -r);
        record_send(rec, "%s: %s memory.high brake at %s (memory.max %s)%s", g->path,
                dry ? "would set a" : r < 0 ? "could not set the" : "set a", format_bytes(vb, sizeof vb, v),
                format_bytes(mb, sizeof mb, mem->max), r < 0 ? ", ignoring" : "");
        if (r < 0 || dry)
                return r;

        g->brake_active = true;
        g->brake_bytes = v;
        g->brake_original = mem->high;
        g->brake_via_dbus = via_dbus;
        state_track(g);
        state_changed(g->manager);
        return 1;
}

/* Someone else (the kubelet's MemoryQoS, an operator) wrote memory.high after us: it is theirs now, writing
 * ours (the brake, or the original value) would overwrite it. Returns true (brake forgotten, one record) when
 * memory.high holds neither the brake nor the relief we set. */
static bool brake_taken_over(Guard *g)
{
        CgroupMemory now;
        if (g->cgfd < 0 || cgroup_read_memory(g->cgfd, &now) < 0 || now.high == g->brake_bytes ||
            (g->relief_active && now.high == g->relief_bytes))
                return false;
        g->brake_active = false;
        g->relief_active = false;
        state_changed(g->manager);
        Record *rec = record_new(MW_MESSAGE_BRAKE, LOG_INFO);
        record_add_guard(rec, g);
        record_add(rec, "BRAKE=left");
        if (now.high == CGROUP_LIMIT_MAX)
                record_add(rec, "MEMORY_HIGH=max");
        else
                record_add(rec, "MEMORY_HIGH=%" PRIu64, now.high);
        record_send(rec, "%s: memory.high was changed by someone else while our brake was on, leaving it", g->path);
        return true;
}

int brake_restore(Guard *g)
{
        if (!g->brake_active)
                return 0;
        int r;
        if (brake_taken_over(g))
                return 0;
        r = brake_write_original(g);
        g->brake_active = false;
        g->relief_active = false;
        state_changed(g->manager);

        Record *rec = record_new(MW_MESSAGE_BRAKE, r < 0 && !ERRNO_IS_GONE(r) ? LOG_WARNING : LOG_INFO);
        record_add_guard(rec, g);
        record_add(rec, "BRAKE=restored");
        if (g->brake_original == CGROUP_LIMIT_MAX)
                record_add(rec, "MEMORY_HIGH=max");
        else
                record_add(rec, "MEMORY_HIGH=%" PRIu64, g->brake_original);
        if (r < 0)
                record_add(rec, "ERRNO=%i", -r);
        record_send(rec, "%s: memory.high brake %s", g->path,
                r < 0 ? (ERRNO_IS_GONE(r) ? "gone with the cgroup" : "could not be restored") : "removed");
        return r;
}

int brake_relieve(Guard *g, const CgroupMemory *mem, Rung rung, usec_t until_usec)
{
        if (!g->brake_active || g->relief_active || g->policy->brake_relief_percent <= 0)
                return 0;
        if (mem->max == CGROUP_LIMIT_MAX)
                return 0;

        /* Above memory.high the kernel makes every task that charges memory sleep on its way back to user
         * space, the one that would free memory included (seen in the VM: a jemalloc purge that took 145 ms
         * at the brake did nothing within 5 s 12-24 MiB above it). Raise memory.high by a share of the
         * headroom to memory.max for the rung's settle time, so that the release runs at full speed while
         * the grower still meets a limit below memory.max. cgroupfs directly: for seconds, systemd's view
         * (the brake) is put back after. */
        uint64_t headroom = mem->max > mem->current ? mem->max - mem->current : 0;
        uint64_t v = PAGE_ALIGN_DOWN(mem->current + (uint64_t) ((double) headroom * g->policy->brake_relief_percent / 100.0));
        if (v <= g->brake_bytes)
                return 0; /* far below the brake: the relief would be no higher than the brake itself */
        v = MIN(v, mem->max);
        int r = cgroup_write_high(g->cgfd, v);

        char vb[FORMAT_BYTES_MAX], bb[FORMAT_BYTES_MAX];
        Record *rec = record_new(MW_MESSAGE_BRAKE, r < 0 ? LOG_WARNING : LOG_INFO);
        record_add_guard(rec, g);
        record_add(rec, "BRAKE=relieved");
        record_add(rec, "ACTION=%s", rung_to_string(rung));
        record_add(rec, "BRAKE_BYTES=%" PRIu64, g->brake_bytes);
        record_add(rec, "BRAKE_RELIEF_BYTES=%" PRIu64, v);
        record_add(rec, "MEMORY_CURRENT=%" PRIu64, mem->current);
        record_add(rec, "MEMORY_MAX=%" PRIu64, mem->max);
        if (r < 0)
                record_add(rec, "ERRNO=%i", -r);
        record_send(rec, "%s: %s the brake to %s while %s runs (it needs the processes' own work; brake %s)%s",
                    g->path, r < 0 ? "could not raise" : "raised", format_bytes(vb, sizeof vb, v),
                    rung_to_string(rung), format_bytes(bb, sizeof bb, g->brake_bytes), r < 0 ? ", ignoring" : "");
        if (r < 0)
                return r;
        g->relief_active = true;
        g->relief_bytes = v;
        g->relief_until_usec = until_usec;
        return 1;
}

int brake_tighten(Guard *g)
{
        if (!g->relief_active)
                return 0;
        if (!g->brake_active) {
                g->relief_active = false;
                return 0;
        }
        /* Written by someone else during the relief: theirs, as in brake_restore(). */
        if (brake_taken_over(g))
                return 0;
        g->relief_active = false;
        int r = cgroup_write_high(g->cgfd, g->brake_bytes);
        if (ERRNO_IS_GONE(r))
                return 0;

        char bb[FORMAT_BYTES_MAX];
        Record *rec = record_new(MW_MESSAGE_BRAKE, r < 0 ? LOG_WARNING : LOG_INFO);
        record_add_guard(rec, g);
        record_add(rec, "BRAKE=set");
        record_add(rec, "BRAKE_AFTER_RELIEF=yes");
        record_add(rec, "BRAKE_BYTES=%" PRIu64, g->brake_bytes);
        if (r < 0)
                record_add(rec, "ERRNO=%i", -r);
        record_send(rec, "%s: %s the memory.high brake at %s after the relief%s", g->path,
                    r < 0 ? "could not put back" : "put back", format_bytes(bb, sizeof bb, g->brake_bytes),
                    r < 0 ? ", ignoring" : "");
        return r;
}

int brake_release(Guard *g, BrakeRelease why)
{
        if (!g->brake_active)
                return 0;
        g->relief_active = false;
        int r;
        r = brake_write_original(g);
        g->brake_active = false;
        state_changed(g->manager);

        static const char *const words[_BRAKE_RELEASE_MAX] = {
                [BRAKE_RELEASE_NOTHING_FREES] = "the ladder has no rung that frees memory",
                [BRAKE_RELEASE_FAILED] = "the last rung failed",
                [BRAKE_RELEASE_SPENT] = "the last rung ran, did not relieve the pressure, and is cooling down",
        };
        const char *w = (unsigned) why < _BRAKE_RELEASE_MAX && words[why] ? words[why] : "no rung can act";
        char t[FORMAT_TIME_MAX];
        Record *rec = record_new(MW_MESSAGE_BRAKE, LOG_WARNING);
        record_add_guard(rec, g);
        record_add(rec, "BRAKE=released");
        record_add(rec, "BRAKE_REASON=%s", brake_release_to_string(why) ?: "unknown");
        record_add(rec, "BRAKE_REASON_TEXT=%s", w);
        record_add(rec, "PRESSURE_FOR_USEC=%" PRIu64, now_usec(CLOCK_MONOTONIC) - g->engine.pressure_since_usec);
        if (g->brake_original == CGROUP_LIMIT_MAX)
                record_add(rec, "MEMORY_HIGH=max");
        else
                record_add(rec, "MEMORY_HIGH=%" PRIu64, g->brake_original);
        if (r < 0)
                record_add(rec, "ERRNO=%i", -r);
        record_send(rec, "%s: lifted the memory.high brake: %s and the pressure lasted past MaxThrottle=%s; the kernel "
                    "decides from here (a brake nobody can use is worse than none); set again once calm",
                    g->path, w, format_time(t, sizeof t, g->policy->max_throttle_usec));
        return r;
}

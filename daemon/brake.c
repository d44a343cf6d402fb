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

int brake_restore(Guard *g)
{
        if (!g->brake_active)
                return 0;
        int r;
        if (g->brake_via_dbus) {
                r = set_memory_high_dbus(g->manager, g->id.unit, g->brake_original);
                if (r < 0)
                        r = cgroup_write_high(g->cgfd, g->brake_original);
        } else
                r = cgroup_write_high(g->cgfd, g->brake_original);
        g->brake_active = false;
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

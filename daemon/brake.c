/* SPDX-License-Identifier: MIT */
/* daemon/brake.c: the memory.high brake. Without swap a cgroup that reaches memory.max is OOM-killed
 * within milliseconds and PSI never fires; with memory.high below memory.max the kernel throttles the
 * allocating tasks first and raises "high" events, which buys the seconds gentle relief needs
 * (docs/design.md, "The brake"). For a systemd unit the brake is set through systemd (SetUnitProperties, runtime
 * only), so that a daemon-reload does not silently reset it; cgroupfs is written directly only where
 * systemd does not manage the cgroup (delegated subtrees, containers) or is not reachable. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>

#include "record.h"
#include "bus-systemd.h"
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

/* ---------------------------------------------------------------------------------------------------- */
/* memory.high through systemd, without waiting for it.
 *
 * A busy PID 1 may take seconds to answer SetUnitProperties: the call is asynchronous, like RestartUnit, and
 * its outcome is handled when systemd answers: refused or failed, memory.high is written to cgroupfs instead,
 * and the record (BRAKE=set/restored/released, BRAKE_VIA=, ERRNO=) goes out then. The guard's state changes
 * when the call is made (the brake counts as on from then: a restore issued before the answer undoes it in
 * order, systemd handles calls in order). A fallback write is skipped when the guard's brake changed since
 * (a set whose restore is already on its way, a restore followed by a new set). The guard may be gone by the
 * time systemd answers: the call keeps the cgroup's path, unit and a dup of its directory fd. At exit
 * (Manager.exiting) the call is synchronous: nothing would process the answer. */

typedef enum BrakeOp {
        BRAKE_OP_SET,
        BRAKE_OP_RESTORE,
        BRAKE_OP_RELEASE,
} BrakeOp;

struct BrakeCall {
        Manager *manager;
        Guard *guard;                 /* NULL once the guard is gone */
        BrakeCall *next, *prev;       /* Manager.brake_calls */
        sd_bus_slot *slot;
        BrakeOp op;
        uint64_t value;               /* for memory.high */
        int cgfd;
        char *path, *unit;
        uint64_t memory_max;          /* SET: for the record */
        BrakeRelease why;             /* RELEASE: for the record */
        usec_t pressure_for_usec;
};

static BrakeCall *brake_call_free(BrakeCall *c)
{
        if (!c)
                return NULL;
        Manager *m = c->manager;
        if (c->prev)
                c->prev->next = c->next;
        else if (m->brake_calls == c)
                m->brake_calls = c->next;
        if (c->next)
                c->next->prev = c->prev;
        sd_bus_slot_unref(c->slot);
        closep(&c->cgfd);
        free(c->path);
        free(c->unit);
        free(c);
        return NULL;
}

static bool brake_set_pending(const Guard *g)
{
        for (BrakeCall *c = g->manager->brake_calls; c; c = c->next)
                if (c->guard == g && c->op == BRAKE_OP_SET)
                        return true;
        return false;
}

void brake_calls_detach(Guard *g)
{
        for (BrakeCall *c = g->manager->brake_calls; c; c = c->next)
                if (c->guard == g)
                        c->guard = NULL;
}

void brake_calls_free(Manager *m)
{
        while (m->brake_calls)
                brake_call_free(m->brake_calls);
}

static void record_add_call(Record *rec, const BrakeCall *c)
{
        if (c->guard)
                record_add_guard(rec, c->guard);
        else {
                record_add(rec, "CGROUP=%s", c->path);
                if (c->unit)
                        record_add(rec, "UNIT=%s", c->unit);
        }
}

static void record_add_high(Record *rec, uint64_t v)
{
        if (v == CGROUP_LIMIT_MAX)
                record_add(rec, "MEMORY_HIGH=max");
        else
                record_add(rec, "MEMORY_HIGH=%" PRIu64, v);
}

/* The outcome of a call: the guard's state and the record. */
static void brake_call_done(BrakeCall *c, int r, bool via_dbus)
{
        Guard *g = c->guard;
        char vb[FORMAT_BYTES_MAX], mb[FORMAT_BYTES_MAX], t[FORMAT_TIME_MAX];
        Record *rec;

        switch (c->op) {
        case BRAKE_OP_SET:
                if (g && g->brake_active && g->brake_bytes == c->value) {
                        if (r < 0) {
                                g->brake_active = false;
                                g->relief_active = false;
                        } else
                                g->brake_via_dbus = via_dbus;
                        state_changed(g->manager);
                }
                rec = record_new(MW_MESSAGE_BRAKE, r < 0 ? LOG_WARNING : LOG_INFO);
                record_add_call(rec, c);
                record_add(rec, "BRAKE=set");
                record_add(rec, "BRAKE_BYTES=%" PRIu64, c->value);
                record_add(rec, "MEMORY_MAX=%" PRIu64, c->memory_max);
                record_add(rec, "BRAKE_VIA=%s", via_dbus ? "systemd" : "cgroupfs");
                record_add(rec, "DRY_RUN=no");
                if (r < 0)
                        record_add(rec, "ERRNO=%i", -r);
                record_send(rec, "%s: %s memory.high brake at %s (memory.max %s)%s", c->path,
                            r < 0 ? "could not set the" : "set a", format_bytes(vb, sizeof vb, c->value),
                            format_bytes(mb, sizeof mb, c->memory_max), r < 0 ? ", ignoring" : "");
                break;
        case BRAKE_OP_RESTORE:
                rec = record_new(MW_MESSAGE_BRAKE, r < 0 && !ERRNO_IS_GONE(r) ? LOG_WARNING : LOG_INFO);
                record_add_call(rec, c);
                record_add(rec, "BRAKE=restored");
                record_add_high(rec, c->value);
                if (r < 0)
                        record_add(rec, "ERRNO=%i", -r);
                record_send(rec, "%s: memory.high brake %s", c->path,
                            r < 0 ? (ERRNO_IS_GONE(r) ? "gone with the cgroup" : "could not be restored") : "removed");
                break;
        case BRAKE_OP_RELEASE: {
                static const char *const words[_BRAKE_RELEASE_MAX] = {
                        [BRAKE_RELEASE_NOTHING_FREES] = "the ladder has no rung that frees memory",
                        [BRAKE_RELEASE_FAILED] = "the last rung failed",
                        [BRAKE_RELEASE_SPENT] = "the last rung ran, did not relieve the pressure, and is cooling down",
                };
                const char *w = (unsigned) c->why < _BRAKE_RELEASE_MAX && words[c->why] ? words[c->why] :
                                                                                        "no rung can act";
                rec = record_new(MW_MESSAGE_BRAKE, LOG_WARNING);
                record_add_call(rec, c);
                record_add(rec, "BRAKE=released");
                record_add(rec, "BRAKE_REASON=%s", brake_release_to_string(c->why) ?: "unknown");
                record_add(rec, "BRAKE_REASON_TEXT=%s", w);
                record_add(rec, "PRESSURE_FOR_USEC=%" PRIu64, c->pressure_for_usec);
                record_add_high(rec, c->value);
                if (r < 0)
                        record_add(rec, "ERRNO=%i", -r);
                record_send(rec, "%s: lifted the memory.high brake: %s and the pressure lasted past MaxThrottle=%s; the "
                            "kernel decides from here (a brake nobody can use is worse than none); set again once calm",
                            c->path, w,
                            g ? format_time(t, sizeof t, g->policy->max_throttle_usec) : "(its policy's)");
                break;
        }
        }
}

/* systemd refused or failed: cgroupfs, unless the guard's brake changed since the call was made. */
static int brake_call_fallback(BrakeCall *c)
{
        Guard *g = c->guard;
        if (c->op == BRAKE_OP_SET && !(g && g->brake_active && g->brake_bytes == c->value))
                return -ECANCELED; /* restored (or the guard gone) meanwhile: do not put it back */
        if (c->op != BRAKE_OP_SET && g && g->brake_active)
                return -ECANCELED; /* a new brake since: the original value would undo it */
        return cgroup_write_high(c->cgfd, c->value);
}

static int on_set_memory_high_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
        BrakeCall *c = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        int r = 0;

        if (e) {
                log_debug("%s: SetUnitProperties(%s, MemoryHigh=%" PRIu64 ") failed: %s, writing cgroupfs", c->path,
                          c->unit, c->value, e->message ?: e->name ?: "?");
                r = brake_call_fallback(c);
        }
        if (r != -ECANCELED)
                brake_call_done(c, r, /* via_dbus= */ !e);
        else
                log_debug("%s: the brake changed while systemd answered: nothing to write", c->path);
        brake_call_free(c);
        return 0;
}

/* Writes value to memory.high in cgroupfs, then through systemd when via_dbus (and connected); the outcome
 * and the record come from brake_call_done(), now or when systemd answers. c is taken. Returns 0 when the
 * call is on its way or succeeded, -errno when it failed now (recorded).
 * cgroupfs goes first even for systemd's units: the kernel holds the value from now on, not from when PID 1
 * gets to the call. Seen in the project's CI (Debian's 6.1 kernel under TCG): systemd answered
 * SetUnitProperties only at the call's 25 s timeout, memory.high stayed "max" meanwhile, and a grower ran
 * from the brake's level through memory.max into the kernel OOM killer before memwardend was woken.
 * systemd is still told (its MemoryHigh= must agree, or its next realisation of the cgroup would undo the
 * value), and one connection keeps the calls in order: a late set is followed by the later restore. When
 * systemd cannot be called, that one write is the outcome. */
static int brake_call(BrakeCall *c, bool via_dbus)
{
        Manager *m = c->manager;
        int w = cgroup_write_high(c->cgfd, c->value), r;
        if (w < 0 && !ERRNO_IS_GONE(w) && via_dbus && m->bus)
                log_debug_errno(w, "%s: cannot write memory.high ahead of systemd: %m, systemd will", c->path);

        if (via_dbus && m->bus && !m->exiting) {
                r = bus_set_memory_high_async(m->bus, &c->slot, c->unit, c->value, on_set_memory_high_reply, c);
                if (r >= 0) {
                        c->next = m->brake_calls;
                        if (c->next)
                                c->next->prev = c;
                        m->brake_calls = c;
                        return 0;
                }
                log_debug_errno(r, "%s: cannot call systemd: %m, cgroupfs only", c->path);
        } else if (via_dbus && m->bus) {
                r = bus_set_memory_high(m->bus, c->unit, c->value);
                if (r >= 0) {
                        brake_call_done(c, 0, /* via_dbus= */ true);
                        brake_call_free(c);
                        return 0;
                }
        }
        brake_call_done(c, w, /* via_dbus= */ false);
        brake_call_free(c);
        return w < 0 ? w : 0;
}

static BrakeCall *brake_call_new(Guard *g, BrakeOp op, uint64_t value)
{
        BrakeCall *c = calloc(1, sizeof *c);
        if (!c)
                return NULL;
        *c = (BrakeCall) { .manager = g->manager, .guard = g, .op = op, .value = value, .cgfd = -EBADF };
        if (!(c->path = strdup(g->path)) || (g->id.unit && !(c->unit = strdup(g->id.unit))) ||
            (g->cgfd >= 0 && (c->cgfd = fcntl(g->cgfd, F_DUPFD_CLOEXEC, 3)) < 0)) {
                brake_call_free(c);
                return NULL;
        }
        return c;
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
        if (dry) {
                char vb[FORMAT_BYTES_MAX], mb[FORMAT_BYTES_MAX];
                Record *rec = record_new(MW_MESSAGE_BRAKE, LOG_INFO);
                record_add_guard(rec, g);
                record_add(rec, "BRAKE=set");
                record_add(rec, "BRAKE_BYTES=%" PRIu64, v);
                record_add(rec, "MEMORY_MAX=%" PRIu64, mem->max);
                record_add(rec, "BRAKE_VIA=%s", unit_is_managed_by_systemd(g) && g->manager->bus ? "systemd" : "cgroupfs");
                record_add(rec, "DRY_RUN=yes");
                record_send(rec, "%s: would set a memory.high brake at %s (memory.max %s)", g->path,
                            format_bytes(vb, sizeof vb, v), format_bytes(mb, sizeof mb, mem->max));
                return 0;
        }

        BrakeCall *c = brake_call_new(g, BRAKE_OP_SET, v);
        if (!c)
                return -ENOMEM;
        c->memory_max = mem->max;
        bool via_dbus = unit_is_managed_by_systemd(g) && g->manager->bus;
        /* On from now: a restore before systemd answers comes after the set, in order. */
        g->brake_active = true;
        g->brake_bytes = v;
        g->brake_original = mem->high;
        g->brake_via_dbus = via_dbus;
        state_track(g);
        state_changed(g->manager);
        int r = brake_call(c, via_dbus);
        return r < 0 ? r : 1;
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
        record_add_high(rec, now.high);
        record_send(rec, "%s: memory.high was changed by someone else while our brake was on, leaving it", g->path);
        return true;
}

/* memory.high back to what it was before our brake, the way the brake was set. */
static int brake_write_original(Guard *g, BrakeOp op, BrakeRelease why)
{
        BrakeCall *c = brake_call_new(g, op, g->brake_original);
        bool via_dbus = g->brake_via_dbus;
        g->brake_active = false;
        g->relief_active = false;
        state_changed(g->manager);
        if (!c)
                return cgroup_write_high(g->cgfd, g->brake_original); /* no memory for the call: at least this */
        c->why = why;
        c->pressure_for_usec = now_usec(CLOCK_MONOTONIC) - g->engine.pressure_since_usec;
        return brake_call(c, via_dbus);
}

int brake_restore(Guard *g)
{
        if (!g->brake_active)
                return 0;
        /* While systemd has not answered the set, memory.high may not hold the brake yet. */
        if (!brake_set_pending(g) && brake_taken_over(g))
                return 0;
        return brake_write_original(g, BRAKE_OP_RESTORE, BRAKE_RELEASE_NONE);
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
        return brake_write_original(g, BRAKE_OP_RELEASE, why);
}

/* SPDX-License-Identifier: MIT */
/* daemon/guard.c: one guarded cgroup. Its kernel event sources (PSI trigger fds, the memory.events watch),
 * sampling, the engine step, and carrying out and reporting each decision. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <systemd/sd-event.h>

#include "action.h"
#include "action-trim.h"
#include "guard-poll.h"
#include "record.h"
#include "record-container.h"
#include "cgroup/cgroup-psi.h"
#include "manager.h"
#include "sentinel.h"
#include "state.h"
#include "unit-record.h"
#include "util/json.h"
#include "util/log.h"
#include "util/time-util.h"

/* A new cgroup's limits are written just after mkdir (by systemd, or by crun into a podman container's
 * cgroup). The guard watches memory.max for that write; where it cannot, it looks again once after this. */
#define BRAKE_RECHECK_USEC (1 * USEC_PER_SEC)

static const char *kind_name(PsiKind k)
{
        return k == PSI_FULL ? "full" : "some";
}

void guard_trigger_disarm(Guard *g, PsiKind k)
{
        g->trigger_source[k] = sd_event_source_disable_unref(g->trigger_source[k]);
        closep(&g->trigger_fd[k]);
        g->trigger_fd[k] = -EBADF;
}

static void guard_disarm_triggers(Guard *g)
{
        sentinel_guard_detach(g); /* daemon/sentinel.c: leaves the shared triggers, closes its own */
}

static int on_trigger(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Guard *g = userdata;
        PsiKind kind = fd == g->trigger_fd[PSI_FULL] ? PSI_FULL : PSI_SOME;

        if (revents & (EPOLLERR | EPOLLHUP)) {
                /* The kernel says the cgroup was removed. */
                log_debug("%s: PSI trigger reports the cgroup removed", g->path);
                manager_drop_guard(g->manager, g, /* cgroup_gone= */ true);
                return 0;
        }
        if (revents & EPOLLPRI) {
                g->triggers_fired |= 1u << kind;
                if (!g->wake_usec)
                        g->wake_usec = now_usec(CLOCK_MONOTONIC);
                (void) guard_step(g);
        }
        return 0;
}

int guard_trigger_arm(Guard *g, PsiKind k)
{
        const Policy *p = g->policy;

        if (!p->trigger[k].enabled || g->trigger_fd[k] >= 0)
                return 0;
        int fd = psi_trigger_open(g->cgfd, k, p->trigger[k].stall_usec, p->trigger[k].window_usec);
        if (fd < 0) {
                if (ERRNO_IS_GONE(fd))
                        return fd;
                if (fd == -EINVAL && p->trigger[k].window_usec % (2 * USEC_PER_SEC) != 0)
                        log_warning_errno(fd, "%s: the kernel refused the PSI %s trigger: %m (without "
                                              "CAP_SYS_RESOURCE only windows that are multiples of 2s "
                                              "are allowed), ignoring",
                                g->path, kind_name(k));
                else
                        log_warning_errno(fd, "%s: cannot set up the PSI %s trigger: %m, ignoring",
                                g->path, kind_name(k));
                return 0;
        }
        int r = sd_event_add_io(g->manager->event, &g->trigger_source[k], fd, EPOLLPRI, on_trigger, g);
        if (r < 0) {
                /* EPERM: not pollable, e.g. a fixture tree of regular files. */
                log_debug_errno(r, "%s: cannot watch the PSI %s trigger: %m, ignoring", g->path,
                        kind_name(k));
                close(fd);
                return 0;
        }
        (void) sd_event_source_set_description(g->trigger_source[k], "psi-trigger");
        g->trigger_fd[k] = fd;
        return 0;
}

/* The enabled triggers: shared with its siblings through a sentinel on the parent, or its own. */
static int guard_arm_triggers(Guard *g)
{
        return sentinel_guard_attach(g);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        Guard *g = userdata;
        (void) guard_step(g);
        return 0;
}

static void guard_schedule(Guard *g, usec_t when)
{
        if (when == USEC_INFINITY) {
                if (g->timer)
                        (void) sd_event_source_set_enabled(g->timer, SD_EVENT_OFF);
                return;
        }
        if (!g->timer) {
                int r = sd_event_add_time(g->manager->event, &g->timer, CLOCK_MONOTONIC, when,
                        10 * USEC_PER_MSEC, on_timer, g);
                if (r < 0) {
                        log_warning_errno(r, "%s: cannot add a sample timer: %m, ignoring", g->path);
                        return;
                }
                (void) sd_event_source_set_description(g->timer, "guard-sample");
        } else
                (void) sd_event_source_set_time(g->timer, when);
        (void) sd_event_source_set_enabled(g->timer, SD_EVENT_ONESHOT);
}

/* An IN_MODIFY watch on one of the cgroup's files, dispatched to this guard (daemon/manager.c). A write(2) to
 * a cgroupfs file is a file-modified event like any file's (fsnotify), and the kernel raises one itself when
 * memory.events changes. Returns 0, or -errno (-ENOENT/-ENODEV: the cgroup is gone). */
static int guard_watch_file(Guard *g, const char *file, int *wd)
{
        Manager *m = g->manager;
        char path[64];

        snprintf(path, sizeof path, "/proc/self/fd/%i/%s", g->cgfd, file);
        int w = inotify_add_watch(m->inotify_fd, path, IN_MODIFY);
        if (w < 0)
                return -errno;
        int r = hashmap_put(m->guard_by_wd, INT_TO_PTR(w), g);
        if (r == -EEXIST) {
                /* The kernel reuses a wd for the same inode; another guard cannot own it. */
                (void) hashmap_remove(m->guard_by_wd, INT_TO_PTR(w));
                r = hashmap_put(m->guard_by_wd, INT_TO_PTR(w), g);
        }
        if (r < 0) {
                (void) inotify_rm_watch(m->inotify_fd, w);
                return r;
        }
        *wd = w;
        return 0;
}

int guard_watch_events(Guard *g)
{
        return guard_watch_file(g, "memory.events", &g->events_wd);
}

static void guard_unwatch_file(Guard *g, int *wd)
{
        if (*wd < 0)
                return;
        if (hashmap_get(g->manager->guard_by_wd, INT_TO_PTR(*wd)) == g)
                (void) hashmap_remove(g->manager->guard_by_wd, INT_TO_PTR(*wd));
        /* Also when the cgroup is gone: kernfs sends no IN_IGNORED for a removed cgroup, its watch (and the
         * inode it pins) stays until removed (seen in the VM: ENOSPC after ~4,000 guarded cgroups came and
         * went). wds are allocated cyclically, so this one is not reused yet. */
        (void) inotify_rm_watch(g->manager->inotify_fd, *wd);
        *wd = -1;
}

int guard_new(Manager *m, const char *path, int dfd, const CgroupIdentity *id, const Policy *p, Guard **ret)
{
        size_t n = strlen(path) + 1;
        Guard *g = calloc(1, sizeof *g + n);
        if (!g)
                return -ENOMEM;
        *g = (Guard){
                .manager = m,
                .policy = p,
                .cgfd = -EBADF,
                .trigger_fd = { -EBADF, -EBADF },
                .events_wd = -1,
                .limit_wd = -1,
        };
        engine_state_init(&g->engine);

        memcpy(g->path, path, n);

        int r = -ENOMEM;
        if (cgroup_identity_copy(id, &g->id) < 0)
                goto fail;

        /* A dup of the walk's fd: no second lookup of the path (docs/scale.md). */
        g->cgfd = r = dfd >= 0 ? fcntl(dfd, F_DUPFD_CLOEXEC, 3) : cgroup_open(m->root, path);
        if (r < 0) {
                if (dfd >= 0)
                        r = -errno;
                goto fail;
        }

        r = guard_arm_triggers(g);
        if (r < 0)
                goto fail;

        /* memory.events changes are file-modified events on cgroupfs. Without a watch (out of them: ENOSPC)
         * the guard is polled instead (daemon/guard-poll.c says how many, once). */
        r = guard_watch_events(g);
        if (r < 0) {
                if (ERRNO_IS_GONE(r) || r == -ENOMEM)
                        goto fail;
                if (r == -ENOSPC)
                        log_debug_errno(r, "%s: cannot watch memory.events: %m, polling it instead", path);
                else
                        log_warning_errno(r, "%s: cannot watch memory.events: %m, polling it instead", path);
                r = guard_poll_add(g);
                if (r < 0)
                        goto fail;
        }
        /* Before the first sample reads memory.max: a limit written after that read is an event. */
        if (p->has_brake) {
                r = guard_watch_file(g, "memory.max", &g->limit_wd);
                if (r < 0) {
                        if (ERRNO_IS_GONE(r) || r == -ENOMEM)
                                goto fail;
                        log_debug_errno(r, "%s: cannot watch memory.max: %m, ignoring", path);
                }
        }

        state_apply(g);       /* what the previous instance knew about this cgroup */
        unit_record_adopt(g); /* what the unit's previous cgroup left: its cooldowns */
        *ret = g;
        return 0;
fail:
        guard_free(g, /* cgroup_gone= */ true);
        return r;
}

Guard *guard_free(Guard *g, bool cgroup_gone)
{
        if (!g)
                return NULL;
        unit_record_keep(g, cgroup_gone); /* before the brake is restored */
        if (g->brake_active && !cgroup_gone)
                (void) brake_restore(g);
        brake_calls_detach(g);
        guard_disarm_triggers(g);
        if (g->manager->stateful && hashmap_get(g->manager->stateful, g->path) == g)
                (void) hashmap_remove(g->manager->stateful, g->path);
        g->timer = sd_event_source_disable_unref(g->timer);
        guard_unwatch_file(g, &g->events_wd);
        guard_unwatch_file(g, &g->limit_wd);
        guard_poll_remove(g);
        if (g->engine.phase == ENGINE_PRESSURE && g->manager->n_under_pressure > 0)
                g->manager->n_under_pressure--;
        closep(&g->cgfd);
        engine_state_done(&g->engine);
        cgroup_identity_done(&g->id);
        free(g->pass_tracks);
        free(g->last_reason);
        free(g->metrics);
        action_trim_guard_free(g);
        free(g);
        return NULL;
}

int guard_set_policy(Guard *g, const Policy *p)
{
        bool rearm = memcmp(g->policy->trigger, p->trigger, sizeof p->trigger) != 0;
        /* An episode goes on under the new ladder, mapped by rung name (policy-engine.h). */
        if (g->engine.phase == ENGINE_PRESSURE)
                engine_policy_changed(g->policy, p, &g->engine);
        /* The old policy is freed by the caller after this: no pointer into it may survive. */
        g->policy = p;
        if (g->brake_active && !p->has_brake)
                (void) brake_restore(g);
        if (rearm) {
                guard_disarm_triggers(g);
                return guard_arm_triggers(g);
        }
        return 0;
}

bool guard_under_pressure(const Guard *g)
{
        return g->engine.phase == ENGINE_PRESSURE;
}

/* Repeated records about the same cgroup are rate-limited (RateLimitInterval=, RateLimitBurst=) so that a
 * flapping cgroup cannot flood the journal. Kill and reclaim records are never suppressed. */
static bool guard_record_allowed(Guard *g, usec_t now, bool essential)
{
        const DaemonConfig *dc = &g->manager->config->daemon;
        if (dc->alert_rate_usec == 0 || dc->alert_rate_burst == 0)
                return true;
        if (now - g->last_record_usec >= dc->alert_rate_usec || g->last_record_usec == 0) {
                g->last_record_usec = now;
                g->n_records_in_interval = 0;
        }
        if (essential || g->n_records_in_interval < dc->alert_rate_burst) {
                g->n_records_in_interval++;
                return true;
        }
        g->n_suppressed++;
        metrics_record_suppressed(g->manager);
        return false;
}

static void add_suppressed(Guard *g, Record *r)
{
        if (g->n_suppressed > 0) {
                record_add(r, "SUPPRESSED=%u", g->n_suppressed);
                g->n_suppressed = 0;
        }
}

static void guard_act(Guard *g, const Decision *d, const Observation *o, ActionOutcome *out)
{
        *out = (ActionOutcome){ .result = 0 };
        if (d->dry_run)
                return;

        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        if (g->wake_usec)
                out->latency_usec = t0 - g->wake_usec;
        (void) action_run(g, d->rung, o, out);
        out->duration_usec = now_usec(CLOCK_MONOTONIC) - t0;
}

static const char *outcome_string(const Decision *d, const ActionOutcome *out)
{
        if (d->dry_run)
                return "dry-run";
        if (out->result == -EOPNOTSUPP)
                return "unsupported";
        if (d->rung == RUNG_RESTART && out->result == -EBUSY)
                return "rate-limited"; /* daemon/action-restart.c: over Burst=/Interval= */
        if (out->result < 0)
                return "failed";
        if (out->partial)
                return "partial";
        return "ok";
}

static void report_action(Guard *g, const Decision *d, const Observation *o, const ActionOutcome *out, usec_t now)
{
        bool essential = d->rung != RUNG_ALERT;
        if (!guard_record_allowed(g, now, essential || d->onset))
                return;

        char reasons[256], cur[FORMAT_BYTES_MAX], max[FORMAT_BYTES_MAX], high[FORMAT_BYTES_MAX];
        engine_reasons_to_string(d->reasons, reasons, sizeof reasons);
        int prio = d->rung == RUNG_KILL ? LOG_CRIT : d->rung == RUNG_ALERT ? LOG_WARNING : LOG_NOTICE;

        Record *r = record_new(d->onset ? MW_MESSAGE_PRESSURE : MW_MESSAGE_ACTION, prio);
        record_add_guard(r, g);
        record_add(r, "ACTION=%s", rung_to_string(d->rung));
        record_add(r, "CAUSE=%s", act_cause_to_string(d->cause));
        record_add(r, "REASONS=%s", reasons);
        record_add(r, "DRY_RUN=%s", d->dry_run ? "yes" : "no");
        record_add(r, "RESULT=%s", outcome_string(d, out));
        if (out->result < 0)
                record_add(r, "ERRNO=%i", -out->result);
        if (!d->dry_run && d->rung != RUNG_ALERT) {
                record_add(r, "ACTION_USEC=%" PRIu64, out->duration_usec);
                if (out->latency_usec)
                        record_add(r, "LATENCY_USEC=%" PRIu64, out->latency_usec);
        }
        for (size_t i = 0; i < out->n_fields; i++)
                record_add(r, "%s", out->fields[i]);
        if (d->onset)
                record_add(r, "ONSET=yes");
        add_suppressed(g, r);
        record_add_observation(r, g, o, &d->events_delta);

        char what[300];
        if (d->dry_run)
                snprintf(what, sizeof what, "would run %s", rung_to_string(d->rung));
        else if (d->rung == RUNG_ALERT)
                snprintf(what, sizeof what, "alert");
        else
                snprintf(what, sizeof what, "%s: %s%s", rung_to_string(d->rung),
                        out->summary[0] ? out->summary : outcome_string(d, out),
                        out->result < 0 && out->result != -EOPNOTSUPP ? " (failed)" : "");
        if (d->onset)
                record_send(r, "%s: memory pressure (%s); %s; memory %s of max %s, high %s", g->path, reasons,
                        what, format_bytes(cur, sizeof cur, o->mem.current), format_bytes(max, sizeof max, o->mem.max),
                        format_bytes(high, sizeof high, o->mem.high));
        else
                record_send(r, "%s: still under pressure (%s, %s); %s; memory %s of max %s", g->path, reasons,
                        act_cause_to_string(d->cause), what, format_bytes(cur, sizeof cur, o->mem.current),
                        format_bytes(max, sizeof max, o->mem.max));
}

static void report_settled(Guard *g, const Decision *d, const Observation *o)
{
        uint64_t before = g->action_before, after = o->mem.current;
        uint64_t freed = before > after ? before - after : 0;
        char b[FORMAT_BYTES_MAX], a[FORMAT_BYTES_MAX], f[FORMAT_BYTES_MAX];

        Record *r = record_new(MW_MESSAGE_RESULT, LOG_INFO);
        record_add_guard(r, g);
        record_add(r, "ACTION=%s", rung_to_string(d->settled_rung));
        record_add(r, "DRY_RUN=%s", g->action_dry_run ? "yes" : "no");
        record_add(r, "MEMORY_BEFORE=%" PRIu64, before);
        record_add(r, "MEMORY_AFTER=%" PRIu64, after);
        record_add(r, "FREED_BYTES=%" PRIu64, freed);
        record_add(r, "SETTLE_USEC=%" PRIu64, now_usec(CLOCK_MONOTONIC) - g->action_usec);
        record_add(r, "STILL_UNDER_PRESSURE=%s", guard_under_pressure(g) ? "yes" : "no");
        if (d->settled_rung == RUNG_TRIM && !g->action_dry_run)
                action_trim_settled(g, r); /* what each process released, and what grew back since */
        record_add_observation(r, g, o, NULL);
        record_send(r, "%s: after %s: memory %s -> %s, freed %s", g->path, rung_to_string(d->settled_rung),
                format_bytes(b, sizeof b, before), format_bytes(a, sizeof a, after), format_bytes(f, sizeof f, freed));
}

static void report_relieved(Guard *g, const Decision *d, const Observation *o, usec_t now)
{
        if (!guard_record_allowed(g, now, false))
                return;
        Record *r = record_new(MW_MESSAGE_RELIEVED, LOG_NOTICE);
        record_add_guard(r, g);
        record_add(r, "PRESSURE_DURATION_USEC=%" PRIu64, d->pressure_duration_usec);
        add_suppressed(g, r);
        record_add_observation(r, g, o, NULL);
        record_send(r, "%s: memory pressure relieved after %.1fs", g->path,
                (double) d->pressure_duration_usec / USEC_PER_SEC);
}

static void report_oom_kill(Guard *g, const Decision *d, const Observation *o)
{
        /* Never rate-limited: a kernel OOM kill is what we exist to prevent. */
        Record *r = record_new(MW_MESSAGE_OOM_KILL, LOG_ERR);
        record_add_guard(r, g);
        record_add(r, "OOM_KILLS=%" PRIu64, d->events_delta.oom_kill);
        record_add_observation(r, g, o, &d->events_delta);
        record_send(r, "%s: the kernel OOM killer killed %" PRIu64 " process(es) (oom_kill %" PRIu64 " in total)",
                g->path, d->events_delta.oom_kill, o->events.oom_kill);
}

int guard_step(Guard *g)
{
        Manager *m = g->manager;
        Observation o = { .triggers_fired = g->triggers_fired };
        usec_t now = now_usec(CLOCK_MONOTONIC);
        int r;

        g->triggers_fired = 0;
        /* memory.current, .max and .high: what the engine, the rungs and the records use (memory.low, .min
         * and .swap.current are read by the map, not here: 9 system calls fewer a step, docs/scale.md). */
        r = cgroup_read_memory_limits(g->cgfd, &o.mem);
        if (r >= 0)
                r = cgroup_read_events(g->cgfd, /* local= */ false, &o.events);
        if (r < 0) {
                g->wake_usec = 0;
                if (ERRNO_IS_GONE(r)) {
                        manager_drop_guard(m, g, /* cgroup_gone= */ true);
                        return 0;
                }
                /* Unparsable: keep guarding, mark the state unknown, say so once. */
                if (!g->unreadable)
                        log_warning_errno(r, "%s: cannot read its memory state (memory.current, memory.max, "
                                             "memory.high or memory.events): %m; state unknown, ignoring",
                                g->path);
                g->unreadable = true;
                /* Under pressure keep sampling: memory.events changes do not step a guard that samples on its
                 * timer (guard_on_events_modified()), so a one-off unreadable sample would end the episode's
                 * sampling for good. */
                if (guard_under_pressure(g))
                        guard_schedule(g, now + g->policy->sample_interval_usec);
                return r;
        }
        if (g->unreadable) {
                log_info("%s: memory state readable again", g->path);
                g->unreadable = false;
        }
        o.has_psi = cgroup_read_pressure(g->cgfd, &o.psi) >= 0;

        /* The brake we left on the unit's previous cgroup (systemd carries it over) is ours again. */
        if (!g->brake_active)
                (void) unit_record_adopt_brake(g, &o.mem);
        /* Not while released: the brake comes back only once the cgroup was calm (the engine says). */
        if (g->policy->has_brake && !g->brake_active && !g->engine.brake_released)
                (void) brake_apply(g, &o.mem);
        o.brake_active = g->brake_active;

        Decision d;
        bool was_pressure = guard_under_pressure(g);
        r = engine_step(g->policy, &g->engine, &o, now, &d);
        if (r < 0)
                return log_error_errno(r, "%s: engine step failed: %m", g->path);
        if (m->dry_run_arg || m->config->daemon.dry_run)
                d.dry_run = true;
        metrics_guard_step(g, &d, &o);

        if (d.events_delta.oom_kill > 0) {
                g->n_oom_kills += d.events_delta.oom_kill;
                report_oom_kill(g, &d, &o);
        }
        if (d.settled)
                report_settled(g, &d, &o);
        if (d.onset)
                g->n_onsets++;
        if (d.act || d.onset || d.relieved || d.events_delta.oom_kill > 0)
                state_track(g);
        if (d.act)
                state_save_now(m); /* before acting: a crash in the action must not make a restart redo it */
        if (d.act || d.onset || d.relieved)
                state_changed(m);  /* and again once idle, with the counters of this step */
        /* A relief ends before another rung acts, when calm, or at its rung's settle time; a release puts
         * the original memory.high back itself. */
        if (g->relief_active && !d.release_brake &&
            (d.act || d.relieved || now >= g->relief_until_usec || !g->brake_active))
                (void) brake_tighten(g);
        if (d.release_brake && !d.dry_run)
                (void) brake_release(g, d.release_reason);
        if (d.act) {
                ActionOutcome out;
                bool relieved = false;
                if (d.relax_brake && !d.dry_run && g->brake_active)
                        relieved = brake_relieve(g, &o.mem, d.rung,
                                                 now + g->policy->rung[d.rung].settle_usec) > 0;
                guard_act(g, &d, &o, &out);
                if (relieved)
                        action_add_field(&out, "BRAKE_RELIEF_BYTES=%" PRIu64, g->relief_bytes);
                if (!d.dry_run)
                        engine_rung_result(&g->engine, d.rung, out.result);
                free(g->last_reason);
                g->last_reason = NULL;
                if (out.result < 0 && !d.dry_run) {
                        const char *why = out.summary[0] ? out.summary : strerror(-out.result);
                        g->last_reason = strdup(why); /* NULL on -ENOMEM: the status lacks it, nothing else */
                        action_add_field(&out, "REASON_TEXT=%s", why);
                }
                g->n_actions++;
                g->action_rung = d.rung;
                g->action_before = o.mem.current;
                g->action_usec = now;
                g->action_dry_run = d.dry_run;
                g->action_result = out.result;
                report_action(g, &d, &o, &out, now);
                metrics_guard_action(g, d.rung, outcome_string(&d, &out));
                action_outcome_done(&out);
        } else if (d.onset) {
                /* Onset while every rung is cooling down: still tell the operator. */
                ActionOutcome none = { 0 };
                Decision alert = d;
                alert.rung = RUNG_ALERT;
                report_action(g, &alert, &o, &none, now);
        }
        if (d.relieved)
                report_relieved(g, &d, &o, now);
        if (d.rearm_brake && g->policy->has_brake && !g->brake_active)
                (void) brake_apply(g, &o.mem);

        bool is_pressure = guard_under_pressure(g);
        if (is_pressure != was_pressure) {
                if (is_pressure)
                        m->n_under_pressure++;
                else if (m->n_under_pressure > 0)
                        m->n_under_pressure--;
                manager_update_status(m);
        }

        usec_t next = d.next_step_usec;
        if (g->relief_active)
                next = MIN(next, MAX(g->relief_until_usec, now));
        bool awaits_limit = g->policy->has_brake && !g->brake_active && o.mem.max == CGROUP_LIMIT_MAX;
        if (!awaits_limit)
                guard_unwatch_file(g, &g->limit_wd); /* the limit came: its later changes are not ours */
        else if (g->limit_wd < 0 && !g->have_last)
                next = MIN(next, now + BRAKE_RECHECK_USEC);
        guard_schedule(g, next);

        g->last_max = o.mem.max;
        g->last_high = o.mem.high;
        g->have_last = true;
        g->wake_usec = 0;
        return 0;
}

void guard_on_events_modified(Guard *g)
{
        /* Under pressure the timer samples anyway; memory.events can change up to 100 times a second
         * while the kernel throttles, so only calm guards step on it. */
        if (guard_under_pressure(g) && g->timer)
                return;
        if (!g->wake_usec)
                g->wake_usec = now_usec(CLOCK_MONOTONIC);
        (void) guard_step(g);
}

static void json_u64_or_max(FILE *f, const char *key, uint64_t v)
{
        if (v == CGROUP_LIMIT_MAX)
                fprintf(f, ",\"%s\":\"max\"", key);
        else
                fprintf(f, ",\"%s\":%" PRIu64, key, v);
}

void guard_status_json(const Guard *g, FILE *f, usec_t now, bool swap_available)
{
        CgroupMemory mem;
        bool have_mem = cgroup_read_memory_limits(g->cgfd, &mem) >= 0;

        fputs("{\"cgroup\":", f);
        json_write_string(f, g->path);
        fputs(",\"unit\":", f);
        json_write_string(f, g->id.unit);
        container_status_json(g, f);
        fputs(",\"policy\":", f);
        json_write_string(f, g->policy->name);
        fprintf(f, ",\"state\":\"%s\"", g->unreadable ? "unknown" : guard_under_pressure(g) ? "pressure" : "calm");
        if (guard_under_pressure(g))
                fprintf(f, ",\"pressure_for_usec\":%" PRIu64, now - g->engine.pressure_since_usec);
        if (have_mem) {
                fprintf(f, ",\"memory_current\":%" PRIu64, mem.current);
                json_u64_or_max(f, "memory_max", mem.max);
                json_u64_or_max(f, "memory_high", mem.high);
        }
        if (g->brake_active)
                fprintf(f, ",\"brake\":%" PRIu64, g->brake_bytes);
        fprintf(f, ",\"triggers\":%u,\"trigger_fds\":%i", sentinel_guard_watched(g),
                (g->trigger_fd[PSI_SOME] >= 0) + (g->trigger_fd[PSI_FULL] >= 0));
        fprintf(f, ",\"onsets\":%" PRIu64 ",\"actions\":%" PRIu64 ",\"oom_kills\":%" PRIu64, g->n_onsets,
                g->n_actions, g->n_oom_kills);
        if (g->n_actions > 0) {
                fprintf(f, ",\"last_action\":\"%s\"", rung_to_string(g->action_rung));
                fprintf(f, ",\"last_result\":\"%s\"", g->action_dry_run ? "dry-run" :
                        g->action_result < 0 ? "failed" : "ok");
                if (g->last_reason) {
                        fputs(",\"last_reason\":", f);
                        json_write_string(f, g->last_reason);
                }
        }
        if (g->engine.brake_released)
                fputs(",\"brake_released\":true", f);
        if (g->relief_active)
                fprintf(f, ",\"brake_relief\":%" PRIu64, g->relief_bytes);
        metrics_status_json(g, have_mem ? &mem : NULL, f, swap_available);
        fputc('}', f);
}

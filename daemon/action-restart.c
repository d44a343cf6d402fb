/* SPDX-License-Identifier: MIT */
/* restart: a graceful restart before the limit. The engine takes this rung when memory.current is predicted
 * to reach the limit within [Restart] LeadTime= (CAUSE=predicted), or by the ordinary escalation rules.
 *
 * How:
 * - [Restart] Command= set: run it through the one Command= spawner (daemon/action-command.h: no shell; %c
 *   container id, %u unit, %g cgroup path), watched through a pidfd; SIGKILLed after CommandTimeout=; a
 *   failure, death or timeout is a record (RESULT=failed|timeout) naming the cgroup and container.
 * - What (restart_target()): the guarded service; on a slice or pod whose processes sit in child cgroups, the
 *   child with the largest memory.current (named in RESTART_CGROUP= and, for a service, RESTART_UNIT=).
 * - a systemd service: org.freedesktop.systemd1.Manager.RestartUnit(unit,
 *   "replace") on the daemon's bus (the system bus, or /run/systemd/private without dbus-daemon), called
 *   asynchronously: the loop never waits for systemd; the job path or the error is logged when it answers.
 *   The service gets its SIGTERM and its stop timeout, unlike an OOM kill.
 * - else (scopes, containers, slices): SIGTERM to the main process, the one that started first, through a
 *   pidfd; SIGKILL after [Restart] StopTimeout= if it still runs. Whoever supervises it restarts it.
 * Rate limit: at most Burst= restarts per Interval= per unit (or cgroup path, for cgroups without a unit),
 * kept in the unit's record (daemon/unit-record.h) across guards, since a restarted service gets a new
 * cgroup and so a new guard, and in the state file across daemon restarts. Over the limit the
 * action does nothing and returns -EBUSY (the record says RESULT=rate-limited), and tells the engine
 * (engine_rung_refused()) to go to the ladder's last rung at the next step. Any other failure to start a
 * restart does the same: waiting for the settle time would not make it work. */
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "action-command.h"
#include "action.h"
#include "record.h"
#include "cgroup/cgroup-act.h"
#include "cgroup/cgroup-procs.h"
#include "cgroup/cgroup-restart.h"
#include "policy/policy-command.h"
#include "state.h"
#include "unit-record.h"
#include "util/log.h"
#include "util/list.h"
#include "util/strv.h"
#include "util/time-util.h"

static bool string_endswith(const char *s, const char *suffix)
{
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && streq(s + a - b, suffix);
}

/* ---------------------------------------------------------------------------------------------------- */
/* systemd: RestartUnit */

static int on_restart_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        _cleanup_free_ char *unit = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        if (e) {
                log_warning("Restart of %s: systemd refused: %s (%s)", unit, e->message ?: "no message",
                        e->name ?: "?");
                return 0;
        }
        const char *job = NULL;
        if (sd_bus_message_read(m, "o", &job) < 0)
                job = NULL;
        log_info("Restart of %s: systemd queued job %s", unit, job ?: "(unknown)");
        return 0;
}

static int restart_unit(Guard *g, const char *unit, ActionOutcome *out)
{
        Manager *m = g->manager;

        action_add_field(out, "RESTART_VIA=systemd");
        if (!m->bus) {
                snprintf(out->summary, sizeof out->summary, "cannot restart %s: no connection to systemd", unit);
                return -ENOTCONN;
        }
        char *ud = strdup(unit);
        if (!ud)
                return -ENOMEM;
        /* A floating slot: the reply may come after this guard is gone (the restart may remove the cgroup). */
        int r = sd_bus_call_method_async(m->bus, NULL, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                "org.freedesktop.systemd1.Manager", "RestartUnit", on_restart_reply, ud, "ss", unit, "replace");
        if (r < 0) {
                free(ud);
                snprintf(out->summary, sizeof out->summary, "cannot ask systemd to restart %s", unit);
                return r;
        }
        snprintf(out->summary, sizeof out->summary, "asked systemd to restart %s", unit);
        return 0;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Command= (policy/policy-command.h, daemon/action-command.h) */

static int restart_command(Guard *g, ActionOutcome *out)
{
        _cleanup_strv_free_ char **argv = NULL;
        CommandVars v = { .container_id = g->id.container_id, .unit = g->id.unit, .cgroup = g->path };
        char missing = 0;

        action_add_field(out, "RESTART_VIA=command");
        int r = command_expand(g->policy->restart_command, &v, &argv, &missing);
        if (r == -ENODATA) {
                const char *what = missing == 'c' ? "container id" : missing == 'u' ? "unit" : "value for it";
                snprintf(out->summary, sizeof out->summary, "Command= uses %%%c, and this cgroup has no %s", missing,
                         what);
                return r;
        }
        if (r < 0) {
                snprintf(out->summary, sizeof out->summary, "cannot expand Command=");
                return r;
        }
        pid_t pid = command_spawn(g->manager, argv, &(CommandFor) {
                .rung = RUNG_RESTART,
                .cgroup = g->path,
                .container_id = g->id.container_id,
                .container_name = g->id.container_name,
                .timeout_usec = g->policy->restart_command_timeout_usec,
        });
        if (pid < 0) {
                snprintf(out->summary, sizeof out->summary, "cannot run %.200s", argv[0]);
                return pid;
        }
        action_add_field(out, "RESTART_COMMAND_PID=%i", (int) pid);
        snprintf(out->summary, sizeof out->summary, "ran %.200s", argv[0]);
        return 0;
}

/* ---------------------------------------------------------------------------------------------------- */
/* SIGTERM the main process, SIGKILL after StopTimeout= */

/* The Manager's, not the guard's: the SIGKILL promised after StopTimeout= still comes when the guard goes
 * first (a reload that unguards the cgroup); the watch holds its own pidfd and a copy of the path. */
struct StopWatch {
        Manager *manager;
        StopWatch *next, *prev; /* Manager.restart_stops */
        int pidfd;
        pid_t pid;
        char *what;
        sd_event_source *timer;
};

static void stop_watch_free(StopWatch *w)
{
        if (!w)
                return;
        w->timer = sd_event_source_disable_unref(w->timer);
        closep(&w->pidfd);
        free(w->what);
        LIST_REMOVE(w->manager->restart_stops, w);
        free(w);
}

void restart_stops_free(Manager *m)
{
        while (m->restart_stops)
                stop_watch_free(m->restart_stops);
}

static int on_stop_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
        StopWatch *w = userdata;
        struct pollfd pfd = { .fd = w->pidfd, .events = POLLIN };

        /* A pidfd polls readable once the process has exited. */
        if (poll(&pfd, 1, 0) == 1)
                log_info("%s: PID %d exited after SIGTERM", w->what, (int) w->pid);
        else {
                int r = pidfd_signal(w->pidfd, SIGKILL, -1);
                if (r < 0 && r != -ESRCH)
                        log_warning_errno(r, "%s: cannot SIGKILL PID %d after its stop timeout: %m", w->what,
                                (int) w->pid);
                else
                        log_warning("%s: PID %d still ran after its stop timeout, sent SIGKILL", w->what,
                                (int) w->pid);
        }
        stop_watch_free(w); /* its own source too: sd-event allows it from the handler */
        return 0;
}

static int restart_sigterm(Guard *g, const char *cgpath, ActionOutcome *out)
{
        pid_t pid = 0;
        action_add_field(out, "RESTART_VIA=sigterm");
        int pidfd = proc_open_oldest(g->manager->root, cgpath, &pid);
        if (pidfd < 0) {
                if (pidfd == -ESRCH) {
                        char why[256];
                        snprintf(out->summary, sizeof out->summary, "%s",
                                 proc_explain_empty(g->manager->root, cgpath, why, sizeof why));
                } else
                        snprintf(out->summary, sizeof out->summary, "cannot pick the main process of %s", cgpath);
                return pidfd;
        }
        int r = pidfd_signal(pidfd, SIGTERM, -1);
        if (r < 0) {
                close(pidfd);
                snprintf(out->summary, sizeof out->summary, "cannot SIGTERM PID %d", (int) pid);
                return r;
        }
        action_add_field(out, "RESTART_PID=%i", (int) pid);

        StopWatch *w = calloc(1, sizeof *w);
        if (w) {
                *w = (StopWatch) { .manager = g->manager, .pidfd = TAKE_FD(pidfd), .pid = pid,
                                   .what = strdup(g->path) };
                LIST_PREPEND(g->manager->restart_stops, w);
        }
        if (w && w->what)
                r = sd_event_add_time_relative(g->manager->event, &w->timer, CLOCK_MONOTONIC,
                        g->policy->restart_stop_timeout_usec, USEC_PER_SEC / 10, on_stop_timeout, w);
        else
                r = -ENOMEM;
        if (r < 0) {
                log_warning_errno(r, "%s: cannot arm the stop timeout for PID %d: %m, no SIGKILL will follow",
                        g->path, (int) pid);
                stop_watch_free(w);
                closep(&pidfd);
        } else
                (void) sd_event_source_set_description(w->timer, "restart-stop-timeout");
        char t[FORMAT_TIME_MAX];
        snprintf(out->summary, sizeof out->summary, "sent SIGTERM to PID %d, the main process (SIGKILL in %s)",
                (int) pid, format_time(t, sizeof t, g->policy->restart_stop_timeout_usec));
        return 0;
}

/* ---------------------------------------------------------------------------------------------------- */

/* What to restart, on every shape: the guarded unit itself when it is a service; else, when the guarded
 * cgroup holds no process of its own but child cgroups do (a slice of services, a pod), the child with the
 * largest memory.current (its unit when that is a service); else the main process of the subtree. Returns 0
 * with *ret_cgroup (malloc'd) and *ret_unit (malloc'd service name or NULL), or -errno. */
static int restart_target(Guard *g, char **ret_cgroup, char **ret_unit)
{
        const CgroupRoot *root = g->manager->root;
        _cleanup_free_ char *cg = NULL, *unit = NULL;

        if (g->id.is_unit_cgroup && g->id.unit && string_endswith(g->id.unit, ".service")) {
                if (!(cg = strdup(g->path)) || !(unit = strdup(g->id.unit)))
                        return -ENOMEM;
        } else {
                _cleanup_(proc_list_freep) ProcList *l = NULL;
                int r = proc_list_collect(root, g->path, 0, &l);
                if (r < 0)
                        return r;
                if (l->n_own == 0 && l->n_child_cgroups > 0 && cgroup_largest_child(root, g->path, &cg, NULL) >= 0) {
                        const char *base = strrchr(cg, '/');
                        base = base ? base + 1 : cg;
                        if (string_endswith(base, ".service") && !(unit = strdup(base)))
                                return -ENOMEM;
                } else if (!(cg = strdup(g->path)))
                        return -ENOMEM;
        }
        *ret_cgroup = TAKE_PTR(cg);
        *ret_unit = TAKE_PTR(unit);
        return 0;
}

int action_restart(Guard *g, const Observation *o, ActionOutcome *out)
{
        const Policy *p = g->policy;
        usec_t now = now_usec(CLOCK_MONOTONIC);
        _cleanup_free_ char *target = NULL, *unit = NULL;
        int r;

        if (!p->restart_command) {
                r = restart_target(g, &target, &unit);
                if (r < 0) {
                        snprintf(out->summary, sizeof out->summary, "cannot find what to restart in %s", g->path);
                        engine_rung_refused(&g->engine);
                        return out->result = r;
                }
        }
        const char *key = unit ?: target ?: (g->id.unit && g->id.is_unit_cgroup ? g->id.unit : g->path);

        if (g->engine.time_to_limit_usec != USEC_INFINITY) {
                action_add_field(out, "PREDICTED_LIMIT_USEC=%" PRIu64, g->engine.time_to_limit_usec);
                action_add_field(out, "PREDICTED_LIMIT_BYTES=%" PRIu64, g->engine.limit_bytes);
                action_add_field(out, "GROWTH_BYTES_PER_SEC=%.0f", g->engine.growth_bytes_per_sec);
        }

        UnitRecord *u = unit_record_get(g->manager, key, /* create= */ true);
        if (!u)
                return out->result = -ENOMEM;
        if (!restart_limit_take(&u->restarts, now, p->restart_burst, p->restart_interval_usec)) {
                char t[FORMAT_TIME_MAX];
                action_add_field(out, "RESTART_RATE_LIMIT=%u/%s", p->restart_burst,
                        format_time(t, sizeof t, p->restart_interval_usec));
                snprintf(out->summary, sizeof out->summary, "not restarting %s: %u restarts within %s already; "
                        "moving on to the last rung", key, p->restart_burst, t);
                engine_rung_refused(&g->engine);
                return out->result = -EBUSY;
        }

        state_changed(g->manager); /* the rate limit survives a daemon restart */
        if (p->restart_command)
                r = restart_command(g, out);
        else {
                if (!streq(target, g->path))
                        action_add_field(out, "RESTART_CGROUP=%s", target);
                if (unit) {
                        action_add_field(out, "RESTART_UNIT=%s", unit);
                        r = restart_unit(g, unit, out);
                } else
                        r = restart_sigterm(g, target, out);
        }

        if (r < 0)
                engine_rung_refused(&g->engine);
        return out->result = r;
}

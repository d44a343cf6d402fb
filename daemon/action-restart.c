/* SPDX-License-Identifier: MIT */
/* restart: a graceful restart before the limit. The engine takes this rung when memory.current is predicted
 * to reach the limit within [Restart] LeadTime= (CAUSE=predicted), or by the ordinary escalation rules.
 *
 * How:
 * - [Restart] Command= set: run it (posix_spawn, no shell; %c container id, %u unit, %p cgroup path), reaped
 *   through sd_event_add_child(); SIGKILLed after CommandTimeout=; a failure, death or timeout is a record
 *   (RESULT=failed|timeout) naming the cgroup and container.
 * - What (restart_target()): the guarded service; on a slice or pod whose processes sit in child cgroups, the
 *   child with the largest memory.current (named in RESTART_CGROUP= and, for a service, RESTART_UNIT=).
 * - a systemd service: org.freedesktop.systemd1.Manager.RestartUnit(unit,
 *   "replace") on the daemon's bus (the system bus, or /run/systemd/private without dbus-daemon), called
 *   asynchronously: the loop never waits for systemd; the job path or the error is logged when it answers.
 *   The service gets its SIGTERM and its stop timeout, unlike an OOM kill.
 * - else (scopes, containers, slices): SIGTERM to the main process, the one that started first, through a
 *   pidfd; SIGKILL after [Restart] StopTimeout= if it still runs. Whoever supervises it restarts it.
 * Rate limit: at most Burst= restarts per Interval= per unit (or cgroup path, for cgroups without a unit),
 * kept across guards: a restarted service often gets a new cgroup and so a new guard. Over the limit the
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

#include "action.h"
#include "alert.h"
#include "cgroup/cgroup-act.h"
#include "cgroup/cgroup-procs.h"
#include "cgroup/cgroup-restart.h"
#include "util/log.h"
#include "util/strv.h"
#include "util/time-util.h"

extern char **environ;

#define RESTART_LIMITS_MAX 256

typedef struct RestartLimitEntry {
        char *key;
        RestartLimit limit;
        usec_t last_usec;
} RestartLimitEntry;

static RestartLimitEntry restart_limits[RESTART_LIMITS_MAX];

/* The entry for key (the least recently used one is reused when the table is full). NULL on OOM. */
static RestartLimit *restart_limit_for(const char *key, usec_t now)
{
        RestartLimitEntry *victim = &restart_limits[0];

        for (size_t i = 0; i < RESTART_LIMITS_MAX; i++) {
                RestartLimitEntry *e = restart_limits + i;
                if (e->key && streq(e->key, key)) {
                        e->last_usec = now;
                        return &e->limit;
                }
                if (!e->key || (victim->key && e->last_usec < victim->last_usec))
                        victim = e;
        }
        char *k = strdup(key);
        if (!k)
                return NULL;
        free(victim->key);
        *victim = (RestartLimitEntry) { .key = k, .last_usec = now };
        return &victim->limit;
}

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
/* Command= */

typedef struct CommandChild {
        char *what;   /* for messages: the cgroup path */
        char *argv0;
        char *container_id, *container_name; /* for the record, copied: the guard may be gone by then */
        sd_event_source *child, *timer;
        usec_t timeout_usec;
        bool timed_out;
} CommandChild;

static void command_child_free(void *p)
{
        CommandChild *c = p;
        if (!c)
                return;
        c->timer = sd_event_source_disable_unref(c->timer);
        free(c->what);
        free(c->argv0);
        free(c->container_id);
        free(c->container_name);
        free(c);
}

/* A command that failed, died or hung is an error in the journal with the cgroup and container it was for
 * (the action record said only that it was started). */
static void command_record_failure(CommandChild *c, const siginfo_t *si)
{
        char t[FORMAT_TIME_MAX];
        Record *r = record_new(MW_MESSAGE_ACTION, LOG_WARNING);
        record_add(r, "CGROUP=%s", c->what);
        if (c->container_id)
                record_add(r, "CONTAINER_ID=%s", c->container_id);
        if (c->container_name)
                record_add(r, "CONTAINER_NAME=%s", c->container_name);
        record_add(r, "ACTION=restart");
        record_add(r, "RESTART_VIA=command");
        record_add(r, "RESTART_COMMAND=%s", c->argv0);
        record_add(r, "RESULT=%s", c->timed_out ? "timeout" : "failed");
        if (c->timed_out) {
                record_add(r, "RESTART_COMMAND_TIMEOUT_USEC=%" PRIu64, c->timeout_usec);
                record_send(r, "%s: restart command %s did not finish within %s, killed it", c->what, c->argv0,
                        format_time(t, sizeof t, c->timeout_usec));
        } else if (si->si_code == CLD_EXITED) {
                record_add(r, "RESTART_COMMAND_STATUS=%i", si->si_status);
                record_send(r, "%s: restart command %s failed with exit status %i", c->what, c->argv0,
                        si->si_status);
        } else {
                record_add(r, "RESTART_COMMAND_SIGNAL=%i", si->si_status);
                record_send(r, "%s: restart command %s died of signal %i", c->what, c->argv0, si->si_status);
        }
}

static int on_command_exit(sd_event_source *s, const siginfo_t *si, void *userdata)
{
        CommandChild *c = userdata;

        if (si->si_code == CLD_EXITED && si->si_status == 0 && !c->timed_out)
                log_info("%s: restart command %s finished", c->what, c->argv0);
        else
                command_record_failure(c, si);
        sd_event_source_disable_unref(s);
        return 0;
}

static int on_command_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
        CommandChild *c = userdata;
        c->timed_out = true;
        /* The exit handler reports it once the kill is reaped. */
        (void) sd_event_source_send_child_signal(c->child, SIGKILL, NULL, 0);
        return 0;
}

static int restart_command(Guard *g, ActionOutcome *out)
{
        _cleanup_strv_free_ char **argv = NULL;
        RestartCommandVars v = { .container_id = g->id.container_id, .unit = g->id.unit, .cgroup = g->path };
        int r;

        action_add_field(out, "RESTART_VIA=command");
        r = restart_command_expand(g->policy->restart_command, &v, &argv);
        if (r < 0) {
                snprintf(out->summary, sizeof out->summary, "%s", r == -ENODATA ?
                        "Command= uses a specifier this cgroup has no value for (%c without a container id?)" :
                        "cannot expand Command=");
                return r;
        }

        /* sd-event reaps children through SIGCHLD, which must be blocked (idempotent). The child gets an
         * empty mask and default dispositions back. */
        sigset_t chld, empty;
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        sigemptyset(&empty);
        (void) sigprocmask(SIG_BLOCK, &chld, NULL);

        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        sigset_t all;
        sigfillset(&all);
        posix_spawnattr_setsigmask(&attr, &empty);
        posix_spawnattr_setsigdefault(&attr, &all);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        pid_t pid;
        r = -posix_spawnp(&pid, argv[0], NULL, &attr, argv, environ);
        posix_spawnattr_destroy(&attr);
        if (r < 0) {
                snprintf(out->summary, sizeof out->summary, "cannot run %.200s", argv[0]);
                return r;
        }

        CommandChild *c = calloc(1, sizeof *c);
        sd_event_source *s = NULL;
        if (c && (c->what = strdup(g->path)) && (c->argv0 = strdup(argv[0])) &&
            (!g->id.container_id || (c->container_id = strdup(g->id.container_id))) &&
            (!g->id.container_name || (c->container_name = strdup(g->id.container_name))))
                r = sd_event_add_child(g->manager->event, &s, pid, WEXITED, on_command_exit, c);
        else
                r = -ENOMEM;
        if (r < 0) {
                /* Cannot watch it: reap it blocking rather than leave a zombie; the command was started. */
                log_warning_errno(r, "%s: cannot watch restart command %s: %m, waiting for it", g->path, argv[0]);
                (void) waitpid(pid, NULL, 0);
                command_child_free(c);
        } else {
                (void) sd_event_source_set_destroy_callback(s, command_child_free);
                (void) sd_event_source_set_description(s, "restart-command");
                /* Bounded: a runtime that hangs is killed after CommandTimeout= (an error record). */
                c->child = s;
                c->timeout_usec = g->policy->restart_command_timeout_usec;
                if (sd_event_add_time_relative(g->manager->event, &c->timer, CLOCK_MONOTONIC, c->timeout_usec,
                                               100 * USEC_PER_MSEC, on_command_timeout, c) < 0)
                        log_warning("%s: cannot arm the timeout of restart command %s, ignoring", g->path, argv[0]);
        }
        action_add_field(out, "RESTART_COMMAND_PID=%i", (int) pid);
        snprintf(out->summary, sizeof out->summary, "ran %.200s", argv[0]);
        return 0;
}

/* ---------------------------------------------------------------------------------------------------- */
/* SIGTERM the main process, SIGKILL after StopTimeout= */

typedef struct StopWatch {
        int pidfd;
        pid_t pid;
        char *what;
} StopWatch;

static void stop_watch_free(void *p)
{
        StopWatch *w = p;
        if (!w)
                return;
        closep(&w->pidfd);
        free(w->what);
        free(w);
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
        sd_event_source_disable_unref(s);
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
        sd_event_source *s = NULL;
        if (w) {
                w->pidfd = pidfd;
                w->pid = pid;
                w->what = strdup(g->path);
                pidfd = -EBADF;
        }
        if (w && w->what)
                r = sd_event_add_time_relative(g->manager->event, &s, CLOCK_MONOTONIC,
                        g->policy->restart_stop_timeout_usec, USEC_PER_SEC / 10, on_stop_timeout, w);
        else
                r = -ENOMEM;
        if (r < 0) {
                log_warning_errno(r, "%s: cannot arm the stop timeout for PID %d: %m, no SIGKILL will follow",
                        g->path, (int) pid);
                stop_watch_free(w);
                closep(&pidfd);
        } else {
                (void) sd_event_source_set_destroy_callback(s, stop_watch_free);
                (void) sd_event_source_set_description(s, "restart-stop-timeout");
        }
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

        RestartLimit *l = restart_limit_for(key, now);
        if (!l)
                return out->result = -ENOMEM;
        if (!restart_limit_take(l, now, p->restart_burst, p->restart_interval_usec)) {
                char t[FORMAT_TIME_MAX];
                action_add_field(out, "RESTART_RATE_LIMIT=%u/%s", p->restart_burst,
                        format_time(t, sizeof t, p->restart_interval_usec));
                snprintf(out->summary, sizeof out->summary, "not restarting %s: %u restarts within %s already; "
                        "moving on to the last rung", key, p->restart_burst, t);
                engine_rung_refused(&g->engine);
                return out->result = -EBUSY;
        }

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

/* SPDX-License-Identifier: MIT */
/* daemon/manager.h: the daemon's state. One Manager owns the sd-event loop, the configuration, the cgroup
 * root, one inotify fd for the whole hierarchy, and a Guard per guarded cgroup.
 *
 * Discovery: every cgroup directory has an inotify watch for IN_CREATE/IN_DELETE of subdirectories, so a
 * new cgroup is seen when it is made, with no polling (kernfs raises these; checked in the VM). Each
 * guarded cgroup has its PSI trigger fd(s) in the loop (EPOLLPRI: fired; EPOLLERR: cgroup removed) and an
 * inotify IN_MODIFY watch on its memory.events. While calm nothing else runs: no timers but the systemd
 * watchdog, and the one-second poll of the guards that could get no such watch (out of watches:
 * daemon/guard-poll.c). Under pressure a guard samples on a timer until the engine says calm. */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "cgroup/cgroup-fs.h"
#include "cgroup/cgroup-unit.h"
#include "metrics.h"
#include "policy/policy-engine.h"
#include "policy/policy.h"
#include "util/hashmap.h"
#include "sentinel.h"

typedef struct Manager Manager;
typedef struct BrakeCall BrakeCall;
typedef struct CommandWatch CommandWatch;
typedef struct GuardPoll GuardPoll;
typedef struct PassTrack PassTrack;
typedef struct InjectRun InjectRun;
typedef struct StopWatch StopWatch;
typedef struct TrimState TrimState;

/* Ordered by size (no holes): a guard per guarded cgroup, most of them calm (docs/scale.md counts the bytes). */
typedef struct Guard {
        Manager *manager;
        const Policy *policy;
        CgroupIdentity id;

        sd_event_source *trigger_source[2];
        SentinelLink sentinel[2];        /* by PsiKind: its group's shared trigger (daemon/sentinel.c) */
        sd_event_source *timer;

        EngineState engine;
        usec_t wake_usec;                /* when the kernel event that woke us arrived (latency) */
        uint64_t last_max, last_high;    /* memory.max and memory.high of the last sample (metrics) */

        /* The action waiting for its settle report. */
        uint64_t action_before;          /* memory.current before it ran */
        usec_t action_usec;

        /* The memory.high brake we set, to be restored. */
        uint64_t brake_bytes;
        uint64_t brake_original;         /* CGROUP_LIMIT_MAX when it was "max" */
        /* Relief (brake_relieve()): memory.high raised above the brake while a rung that needs the
         * processes' own work settles. */
        uint64_t relief_bytes;
        usec_t relief_until_usec;
        char *last_reason;               /* why the last action failed, in words (NULL when it did not) */

        uint64_t n_actions, n_onsets, n_oom_kills;
        usec_t last_record_usec;         /* rate limit for repeated records */
        GuardMetrics *metrics;           /* daemon/metrics-daemon.c; NULL until there is something to count */

        /* What the rungs remember about this cgroup, freed with the guard. */
        PassTrack *pass_tracks;          /* drop-cache: the readers seen (action-drop-cache.c); NULL: none */
        TrimState *trim;                 /* trim: who was asked, the injection run (action-trim.c) */

        int cgfd;
        int trigger_fd[2];               /* by PsiKind, -EBADF when not set up */
        int events_wd;                   /* inotify watch on memory.events, -1 if none */
        int limit_wd;                    /* inotify watch on memory.max while a brake waits for a limit */
        unsigned triggers_fired;         /* since the last step */
        Rung action_rung;
        int action_result;               /* 0, or -errno */
        unsigned n_records_in_interval;
        unsigned n_suppressed;

        bool have_last;
        bool action_dry_run;
        bool brake_active;
        bool brake_via_dbus;
        bool relief_active;
        bool unreadable;                 /* the last sample could not be parsed: state unknown */
        bool metrics_brake_seen;         /* brake_active at the last step (metrics change detection) */

        char path[];                     /* allocated with the guard */
} Guard;

typedef struct DirWatch {
        int wd;
        char path[];                     /* one allocation with the struct (docs/scale.md) */
} DirWatch;

struct Manager {
        sd_event *event;
        sd_bus *bus;                     /* system bus or /run/systemd/private; NULL if unavailable */
        BrakeCall *brake_calls;          /* memory.high writes waiting for systemd's answer (brake.c) */
        CommandWatch *commands;          /* Command= children running (action-command.c) */
        Hashmap *trim_inject_cooldowns;  /* process -> last injection (action-trim-inject.c) */
        InjectRun *trim_inject_detached; /* injection helpers whose guard went, until reaped */
        StopWatch *restart_stops;        /* restart SIGTERMs waiting for StopTimeout= (action-restart.c) */
        unsigned n_commands;
        bool exiting;                    /* manager_free() runs: calls to systemd are synchronous */
        CgroupRoot *root;
        int host_fd;                     /* "/": container and pod names (cgroup/cgroup-container.h) */
        Config *config;

        /* Where the config comes from (for reload). */
        char *main_conf;
        char **policy_dirs;

        /* Command-line overrides. */
        char *cgroup_root_arg;
        char *proc_root_arg;
        char *control_socket_arg;
        bool dry_run_arg;

        int inotify_fd;
        sd_event_source *inotify_source;
        Hashmap *dirs_by_path;           /* path -> DirWatch */
        Hashmap *dir_by_wd;              /* wd -> DirWatch */
        Hashmap *guard_by_wd;            /* memory.events (and memory.max) wd -> Guard */
        Hashmap *guards;                 /* path -> Guard */
        Hashmap *sentinels;              /* key -> Sentinel: shared PSI triggers (daemon/sentinel.c) */
        Hashmap *stateful;               /* path -> Guard: the guards that may have state to save */
        Hashmap *unit_records;           /* unit name (or path) -> UnitRecord: beyond a cgroup's life */
        Hashmap *awaits;                 /* wd -> MemoryAwait: cgroups without their memory files yet */
        GuardPoll *poll;                 /* guards without a memory.events watch (daemon/guard-poll.c) */
        bool stateful_incomplete;        /* a put into stateful failed: save from all guards */

        int control_fd;
        sd_event_source *control_source;
        char *control_path;
        struct ControlConnection *control_connections; /* daemon/control.c */
        unsigned n_control_connections;
        size_t control_buffered_bytes;
        struct ControlCache *control_cache;


        unsigned n_under_pressure;
        bool status_dirty;
        usec_t started_usec;

        /* What survives a restart (daemon/state.c). */
        Hashmap *saved;                  /* path -> SavedGuard, during start-up only */
        sd_event_source *state_source;   /* deferred save */
        bool state_ready;                /* start-up done: changes are saved */
        bool state_warned;

        Metrics *metrics;                /* daemon/metrics-daemon.c */
};

int manager_new(Manager **ret);
Manager *manager_free(Manager *m);
/* Loads the configuration (daemon exit code 6 on failure), opens the cgroup root, sets up signals,
 * inotify, the control socket, and guards what matches. */
int manager_startup(Manager *m);
/* Reloads atomically: a broken configuration is logged (file:line) and the running one stays.
 * Returns 0 when the new one is in force, -EINVAL when it was rejected (err filled if not NULL). */
int manager_reload(Manager *m, ConfigError *err);
int manager_run(Manager *m);
void manager_update_status(Manager *m);

/* Watches cgpath and the cgroups below it, and guards those a policy matches. Returns 0 or -errno. */
int manager_discover(Manager *m, const char *cgpath);

/* Removes the guard from the maps and frees it (cgroup_gone: it vanished, nothing to restore). */
void manager_drop_guard(Manager *m, Guard *g, bool cgroup_gone);

/* Guard lifecycle (daemon/guard.c). */
/* dfd: the cgroup's directory when the caller has it open (borrowed: the guard takes a dup), else -EBADF. */
int guard_new(Manager *m, const char *path, int dfd, const CgroupIdentity *id, const Policy *p, Guard **ret);
/* Stops guarding: restores a brake we set (unless the cgroup is gone), closes every fd. */
Guard *guard_free(Guard *g, bool cgroup_gone);
/* Re-points the guard at a (possibly new) policy after a reload: re-arms triggers. */
int guard_set_policy(Guard *g, const Policy *p);
/* Its own PSI trigger of kind k (sentinel.c decides when): 0 also when the kernel refused it (logged), -errno
 * when the cgroup is gone. */
int guard_trigger_arm(Guard *g, PsiKind k);
void guard_trigger_disarm(Guard *g, PsiKind k);
/* Samples and advances the engine now. */
int guard_step(Guard *g);
/* memory.events changed. */
void guard_on_events_modified(Guard *g);
bool guard_under_pressure(const Guard *g);
/* Writes this guard's status as one JSON object (swap_available: metrics_swap_available(), read once per
 * rendering, not once per guard). */
void guard_status_json(const Guard *g, FILE *f, usec_t now, bool swap_available);

/* Brake (daemon/brake.c). */
int brake_apply(Guard *g, const CgroupMemory *mem);
int brake_restore(Guard *g);
/* Raises memory.high above the brake (BrakeRelief= of the headroom to memory.max) until until_usec, while
 * rung runs. Returns 1 when raised, 0 when not needed (no brake, not above it, BrakeRelief=off), -errno. */
int brake_relieve(Guard *g, const CgroupMemory *mem, Rung rung, usec_t until_usec);
/* Puts the brake back after a relief. Returns 0 or -errno. */
int brake_tighten(Guard *g);
/* Lifts the brake because no rung can act (the engine's release_brake): memory.high back to what it was,
 * one record with the reason. Returns 0 or -errno. */
int brake_release(Guard *g, BrakeRelease why);
/* brake_apply(), _restore() and _release() write through systemd asynchronously: the outcome and the record
 * come when systemd answers. The guard is going: its calls go on without it. */
void brake_calls_detach(Guard *g);
/* At exit: calls still waiting are dropped (their answers would never be read). */
void brake_calls_free(Manager *m);

/* Control socket (daemon/control.c). */
int control_open(Manager *m);
void control_close(Manager *m);
void manager_status_json(Manager *m, FILE *f);

/* SPDX-License-Identifier: MIT */
/* policy/policy.h: the configuration, parsed from INI with inih. Pure: no cgroupfs, no logging above debug.
 *
 * Files: /etc/memwarden/memwarden.conf (daemon-wide), and policies in policy.d directories searched in
 * order /etc/memwarden/policy.d, /run/memwarden/policy.d, /usr/lib/memwarden/policy.d. A file name in an
 * earlier directory masks the same name in a later one (systemd drop-in convention; an empty file or a
 * symlink to /dev/null disables it). Policies are then ordered by file name; for a cgroup the first
 * policy whose [Match] matches wins. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cgroup/cgroup-psi.h"
#include "cgroup/cgroup-unit.h"
#include "policy-units.h"

/* The escalation ladder, gentlest first: each is carried out by daemon/action.c and daemon/action-*.c. */
typedef enum Rung {
        RUNG_ALERT,
        RUNG_TRIM,
        RUNG_DROP_CACHE,
        RUNG_RECLAIM,
        RUNG_RESTART,
        RUNG_KILL,
        _RUNG_MAX,
        _RUNG_INVALID = -EINVAL,
} Rung;

/* "alert", "trim", "drop-cache", "reclaim", "restart", "kill". */
const char *rung_to_string(Rung r);
Rung rung_from_string(const char *s);
/* The per-rung section of a policy file: "Alert", "Trim", "DropCache", "Reclaim", "Restart", "Kill". */
const char *rung_to_section(Rung r);

typedef enum KillMode {
        KILL_MODE_CGROUP,        /* cgroup.kill: the whole subtree (also forced when memory.oom.group=1) */
        KILL_MODE_LARGEST,       /* the largest process of the subtree (cgroup/cgroup-procs.h), via a pidfd */
        KILL_MODE_LARGEST_CHILD, /* the direct child cgroup with the largest memory.current, whole */
        _KILL_MODE_MAX,
        _KILL_MODE_INVALID = -EINVAL,
} KillMode;
const char *kill_mode_to_string(KillMode m);
KillMode kill_mode_from_string(const char *s);

typedef struct PsiTriggerConfig {
        bool enabled;
        usec_t stall_usec;
        usec_t window_usec;
} PsiTriggerConfig;

typedef struct RungConfig {
        usec_t cooldown_usec; /* not again within this time after it ran */
        usec_t settle_usec;   /* wait this long for relief before escalating to the next rung */
} RungConfig;

/* [Trim] Command= runs for each process whose name (comm) matches a CommandMatch= glob, for runtimes with a
 * trim verb of their own, e.g. `jcmd %p System.trim_native_heap`. No shell: the words are split at blanks;
 * %p is the PID, %c the cgroup path, %% a "%". */
typedef struct TrimConfig {
        char *command;                 /* Command=; NULL = none */
        char **command_match;          /* CommandMatch=: fnmatch(3) globs on /proc/PID/comm */
        usec_t command_timeout_usec;   /* CommandTimeout=: SIGKILL the command after this long */
        bool inject;                   /* Inject=: call malloc_trim/jemalloc's purge inside processes without
                                          a handler, through ptrace (cgroup/cgroup-inject.c) */
        usec_t inject_timeout_usec;    /* InjectTimeout=: per process */
} TrimConfig;

typedef struct Policy {
        char *name;     /* file name without ".conf" */
        char *path;     /* the file it came from */

        /* [Match]: any one of the lists matching is a match (OR); empty lists are ignored. fnmatch(3)
         * globs. Unit= is tested against the unit whose own cgroup this is; Slice= against the slice
         * directly containing such a unit; Cgroup= against the cgroup path ("/system.slice/x.service"). */
        char **match_unit;
        char **match_slice;
        char **match_cgroup;
        /* Containers (their own cgroup only, see cgroup/cgroup-container.h): Container= the container's name
         * (podman/docker name, Kubernetes container name), ContainerImage= its image, PodNamespace= the
         * Kubernetes namespace, Pod= "<namespace>/<pod name>" of the pod the container belongs to. */
        char **match_container;
        char **match_container_image;
        char **match_pod_namespace;
        char **match_pod;

        /* [Pressure] */
        PsiTriggerConfig trigger[2];  /* indexed by PsiKind: SomeTrigger=, FullTrigger= "150ms/1s" */
        double some_avg10_percent;     /* SomeAvg10=: while sampling, "still under pressure" above this */
        double full_avg10_percent;     /* FullAvg10= */
        bool on_high_events;           /* HighEvents=: memory.events "high" increments are triggers */
        bool on_max_events;            /* MaxEvents=: "max" increments are triggers */
        Quantity usage;                /* Usage=: memory.current above this (of memory.max) is pressure,
                                          checked when sampled (no kernel notification exists for it);
                                          bytes 0 / percent 0 = off */
        Quantity brake;                /* Brake=: set memory.high to this (of memory.max) where unset;
                                          off when bytes 0 and not percent */
        bool has_brake;
        usec_t sample_interval_usec;   /* SampleInterval= while under pressure */
        usec_t hysteresis_usec;        /* Hysteresis=: calm only after this long with no pressure */
        usec_t max_throttle_usec;      /* MaxThrottle=: under pressure this long -> last rung; and the longest
                                          the brake is held while no rung can act (policy-engine.h) */
        double brake_relief_percent;   /* BrakeRelief=: while a rung that needs the processes' own work
                                          settles, memory.high is raised by this share of the headroom
                                          between memory.current and memory.max */

        /* [Actions] */
        Rung ladder[_RUNG_MAX];        /* Ladder=alert reclaim kill */
        size_t n_ladder;
        bool dry_run;                  /* DryRun= */
        RungConfig rung[_RUNG_MAX];    /* [Alert] [Reclaim] [Kill] ... Cooldown= Settle= */

        /* [Trim]: besides SIGRTMIN+18 (value 0x300) to every process that handles it */
        TrimConfig trim;

        /* [Reclaim] */
        Quantity reclaim_amount;       /* Amount=: of memory.current, default 10% */
        /* [Kill] */
        KillMode kill_mode;            /* Mode= */

        /* [DropCache] */
        char **drop_cache_paths;       /* Paths=: absolute path globs of files that are always one-pass:
                                          dropped whole while open in the cgroup ("*" stays within one
                                          path component, a "**" component matches any number of them) */
        /* [Restart] */
        usec_t restart_lead_usec;      /* LeadTime=: restart when memory.current is predicted to reach the
                                          limit within this time (0 = off: no prediction) */
        unsigned restart_burst;        /* Burst= restarts per Interval= at most; 0 = no limit */
        usec_t restart_interval_usec;  /* Interval=; 0 = no limit */
        char *restart_command;         /* Command=: for cgroups without a restartable unit; NULL = none */
        usec_t restart_stop_timeout_usec; /* StopTimeout=: SIGKILL the main process this long after SIGTERM */
        usec_t restart_command_timeout_usec; /* CommandTimeout=: SIGKILL Command= after this long */
} Policy;

/* RateLimitInterval=0 or RateLimitBurst=0 disables the rate limit (systemd convention). */
typedef struct DaemonConfig {
        int log_level;            /* LogLevel= */
        char *cgroup_root;        /* CgroupRoot=, NULL = auto */
        char *control_socket;     /* ControlSocket= */
        char *state_dir;          /* StateDirectory= */
        bool dry_run;             /* DryRun=: forces dry-run for every policy */
        usec_t alert_rate_usec;   /* RateLimitInterval= for repeated alerts per cgroup */
        unsigned alert_rate_burst;/* RateLimitBurst= */
        char *metrics_file;       /* MetricsFile=: Prometheus textfile, NULL = off */
} DaemonConfig;

typedef struct Config {
        DaemonConfig daemon;
        char *main_conf;   /* the daemon config file that was read; NULL when it did not exist (defaults) */
        Policy **policies; /* ordered by file name */
        size_t n_policies;
        char **masked;     /* paths not loaded: shadowed by a file of the same name earlier in the search, and
                            * the empty files / symlinks to /dev/null that disable a name (in name order) */
} Config;

/* A configuration error: where and why. file and line are 0/empty when not applicable. */
typedef struct ConfigError {
        char file[4096];
        unsigned line;
        char message[512];
} ConfigError;

/* Default search directories, earlier masks later (NULL-terminated). */
extern const char *const POLICY_DIRS_DEFAULT[];
#define MAIN_CONFIG_DEFAULT "/etc/memwarden/memwarden.conf"
/* Larger configuration files are refused (-EFBIG). Lines are limited to 199 characters by inih; repeat a
 * list key (Unit=, Ladder=, ...) to spread a long list over several lines. */
#define CONFIG_FILE_SIZE_MAX (1024U * 1024U)

/* Security: configuration files and policy directories must not be world-writable and must be owned by
 * root (or by the effective uid of the caller, for tests and `memwardenctl check` by a user). Passing false
 * skips the owner test only; world-writable files are always refused. Default: true. Not thread-safe. */
void config_set_check_ownership(bool b);

/* Loads main_conf (a missing file means defaults) and every *.conf in dirs (NULL-terminated; missing
 * directories are fine). Returns 0 and a Config; on the first error -EINVAL (or -errno for I/O, -ENOMEM,
 * -EFBIG for a file over CONFIG_FILE_SIZE_MAX, -EPERM for a world-writable or foreign-owned file or
 * directory) with *err filled in, nothing allocated and *ret untouched: a caller reloading keeps its old
 * Config. Parse errors have err->line >= 1; errors about a file as a whole (I/O, security, "no [Match]")
 * have line 0. */
int config_load(const char *main_conf, const char *const *dirs, Config **ret, ConfigError *err);
/* Loads the given policy files only (memwardenctl check FILE...), in the order given (first match wins in
 * that order); no masking, daemon settings at their defaults (main_conf NULL). */
int config_load_files(char *const *files, Config **ret, ConfigError *err);
Config *config_free(Config *c);
static inline void config_freep(Config **c)
{
        config_free(*c);
}
#define _cleanup_config_free_ __attribute__((cleanup(config_freep)))

/* The [Daemon] settings of memwarden.conf. init_defaults overwrites *d (returns 0 or -ENOMEM); done frees
 * the strings. daemon_config_load_file() returns -ENOENT (err filled in) for a missing file: the caller
 * decides whether that means defaults (config_load() does). load_buffer parses size bytes of buf; path is
 * only used for messages. ret is written only on success. */
int daemon_config_init_defaults(DaemonConfig *d);
void daemon_config_done(DaemonConfig *d);
int daemon_config_load_file(const char *path, DaemonConfig *ret, ConfigError *err);
int daemon_config_load_buffer(const char *path, const char *buf, size_t size, DaemonConfig *ret,
                              ConfigError *err);

/* Parses one policy file (with the security checks of config_load()). Returns 0, or -EINVAL with *err. Validation: unknown sections/keys, bad units,
 * stall > window, window outside 500ms..10s, no [Match] entry at all, a glob that can never match a
 * cgroup (e.g. Unit= without a unit suffix), an empty ladder, a ladder with a rung twice or out of
 * order, Cooldown/Settle of 0 where it would spin. */
int policy_load_file(const char *path, Policy **ret, ConfigError *err);
/* The same on size bytes of buf (may contain anything, e.g. fuzz input); path names the policy (name is its
 * base name without ".conf") and appears in messages. No ownership checks. */
int policy_load_buffer(const char *path, const char *buf, size_t size, Policy **ret, ConfigError *err);
Policy *policy_free(Policy *p);

/* As a linter: calls cb for every error of a policy file, not only the first, in the order found (the
 * whole-file checks, such as an empty [Match], come after the line-by-line ones, each with its own line);
 * parsing goes on after an error, skipping the line. Returns 0 (no error), -EINVAL (cb was called at least
 * once), -ENOMEM, or the file's read error (also given to cb, with line 0). */
typedef void (*config_error_cb_t)(const ConfigError *e, void *userdata);
int policy_lint_buffer(const char *path, const char *buf, size_t size, config_error_cb_t cb, void *userdata);
int policy_lint_file(const char *path, config_error_cb_t cb, void *userdata);
/* Overwrites *p entirely with the defaults (no allocation: name, path and the match lists are NULL). */
void policy_init_defaults(Policy *p);

/* Lint: a configuration that loads but cannot do what it seems to promise. Writes at most one warning per
 * call into buf (a full sentence naming the keys) and returns the number of warnings found (0: buf is
 * ""). Today: a Brake= whose Ladder= has no rung that frees memory (the brake only delays the kernel's OOM
 * kill, and is lifted after MaxThrottle=). Pure. */
unsigned policy_lint(const Policy *p, char *buf, size_t size);

/* Does p match this cgroup? unit/slice may be NULL; is_unit_cgroup: cgpath is the unit's own cgroup. */
bool policy_matches(const Policy *p, const char *cgpath, const char *unit, const char *slice,
                    bool is_unit_cgroup);
/* The same for a parsed (and name-resolved) identity: also Container=, ContainerImage=, PodNamespace=, Pod=. */
bool policy_matches_identity(const Policy *p, const char *cgpath, const CgroupIdentity *id);
const Policy *config_match_identity(const Config *c, const char *cgpath, const CgroupIdentity *id);
/* The first matching policy, or NULL. */
const Policy *config_match(const Config *c, const char *cgpath, const char *unit, const char *slice,
                           bool is_unit_cgroup);

/* Writes the effective configuration (every key with its value, defaults included) as INI that
 * policy_load_file() accepts again. Each part starts with a "# /path/of/file" comment; sections and keys
 * come in a fixed order. config_dump() writes the [Daemon] part (as memwarden.conf), then every policy, then
 * the masked paths as comments. */
void config_dump(const Config *c, FILE *f);
void policy_dump(const Policy *p, FILE *f);
void daemon_config_dump(const DaemonConfig *d, FILE *f);

/* SPDX-License-Identifier: MIT */
/* daemon/metrics.h: memwarden's metrics in the Prometheus text exposition format (version 0.0.4).
 *
 * Two halves:
 * - pure: metrics_format() turns plain structs into exposition text (escaping label values), and
 *   metrics_file_write() replaces a file atomically, only when its content changed; neither knows the
 *   Manager, both are unit-tested on their own (tests/unit/test-metrics.c);
 * - daemon glue (daemon/metrics-daemon.c): the counters each Guard keeps (GuardMetrics), one-line hooks
 *   called from guard.c and manager.c, the textfile (memwarden.conf MetricsFile=) written after a change
 *   and never on a timer while calm, and `memwardenctl metrics` on the control socket.
 *
 * Names follow node_exporter/cAdvisor conventions: memwarden_ prefix, counters end in _total, units in the
 * name (_seconds, _bytes). The daemon's own CPU and RSS are memwarden_daemon_*, not process_*: the textfile
 * collector serves them from node_exporter, whose own process_* series would clash. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "policy/policy-engine.h"
#include "policy/policy.h"
#include "util/macro.h"

typedef enum MetricsResult {
        METRICS_RESULT_OK,
        METRICS_RESULT_PARTIAL,
        METRICS_RESULT_FAILED,
        METRICS_RESULT_UNSUPPORTED,
        METRICS_RESULT_RATE_LIMITED,
        METRICS_RESULT_DRY_RUN,
        _METRICS_RESULT_MAX,
} MetricsResult;

const char *metrics_result_to_string(MetricsResult r);
/* "ok", "partial", ... as guard.c reports them (RESULT=); unknown strings count as "failed". */
MetricsResult metrics_result_from_string(const char *s);

/* What memwarden counted for one guarded cgroup since it started guarding it. */
typedef struct GuardMetrics {
        uint64_t episodes;                           /* pressure onsets */
        usec_t pressure_usec;                        /* finished episodes; the running one is added on output */
        uint64_t actions[_RUNG_MAX][_METRICS_RESULT_MAX];
        uint64_t freed_bytes[_RUNG_MAX];             /* memory.current before - after, at each settle */
        uint64_t oom_kills;                          /* the kernel's, from memory.events oom_kill */
} GuardMetrics;

/* One guarded cgroup, as the formatter sees it. Strings may be NULL (label left out), except cgroup. */
typedef struct MetricsCgroup {
        const char *cgroup;
        const char *unit;
        const char *policy;
        const char *container_id;
        const char *pod_uid;
        const Rung *ladder;                          /* the policy's rungs: always shown, zeros included */
        size_t n_ladder;
        GuardMetrics m;
        usec_t pressure_usec;                        /* finished and running episodes */
        bool under_pressure;
        bool brake_active;
        uint64_t brake_bytes;
        bool early_warning;                          /* see metrics_early_warning() */
} MetricsCgroup;

typedef struct MetricsDaemon {
        usec_t cpu_usec;                             /* user + system */
        uint64_t rss_bytes;
        uint64_t guarded;
        uint64_t unwatched;                          /* guarded without a memory.events watch: polled */
        uint64_t under_pressure;
        uint64_t records_suppressed;
        double start_time_seconds;                   /* since the epoch */
        const char *version;
} MetricsDaemon;

/* Writes the exposition text: the daemon's families, then one family at a time over all cgroups (in the
 * order given; callers sort by path for a stable file). Returns 0, or -EIO when the stream failed. */
int metrics_format(const MetricsDaemon *d, const MetricsCgroup *cgroups, size_t n, FILE *f);

/* Writes s as an exposition-format label value: backslash, double quote and newline escaped. */
void metrics_write_label_value(FILE *f, const char *s);

/* The pod UID of a Kubernetes pod cgroup path ("...-pod<uid>.slice/...", systemd driver, or
 * ".../pod<uid>/...", cgroupfs driver), dashes as in the UID; NULL if none. Returns 0 or -ENOMEM. */
int metrics_pod_uid_from_path(const char *cgpath, char **ret);

/* Can memwarden learn of pressure before the kernel's OOM kill? Without swap, memory that cannot be
 * reclaimed reaches memory.max within milliseconds and PSI never fires; only memory.high (our brake, or
 * one set by the operator below memory.max) gives warning. false when the cgroup has a memory.max, no
 * swap to fall back on, no brake in the policy and no memory.high below memory.max. */
bool metrics_early_warning(bool has_brake, uint64_t memory_max, uint64_t memory_high, bool swap_available);
/* Whether a /proc/meminfo buffer shows swap (SwapTotal > 0). */
bool metrics_meminfo_has_swap(const char *meminfo);
/* The operator's first hour: why a cgroup gets no warning and what to set, one paragraph (status, check). */
#define METRICS_NO_WARNING_ADVICE                                                                           \
        "Without swap, memory that cannot be reclaimed reaches memory.max and the kernel OOM-kills within "  \
        "milliseconds; PSI sees almost no stall. Only a memory.high below memory.max gives warning: set "     \
        "Brake=90% in the policy, with a Ladder= that can relieve (trim, drop-cache, reclaim, restart or "   \
        "kill: a brake with alert alone throttles the service and helps nobody), or MemoryHigh= on the unit. " \
        "See memwarden.policy(5)."

/* Replaces path with buf atomically (path.tmp, then rename) unless the file already holds exactly buf
 * (compared with *last, the content this function wrote before; updated on success). Returns 1 when
 * written, 0 when unchanged (nothing touched), -errno on failure (the tmp file is removed). */
int metrics_file_write(const char *path, const char *buf, size_t len, char **last, size_t *last_len);

/* The daemon's half (daemon/metrics-daemon.c). Each hook is one line in guard.c/manager.c. */
typedef struct Manager Manager;
typedef struct Guard Guard;
typedef struct Metrics Metrics;

/* After engine_step(), before the action runs: counts onsets, relief, OOM kills, freed bytes. */
void metrics_guard_step(Guard *g, const Decision *d, const Observation *o);
/* An action ran (result as in RESULT=). */
void metrics_guard_action(Guard *g, Rung rung, const char *result);
void metrics_record_suppressed(Manager *m);
/* The guard is being dropped: its series stay 10 minutes, and a new guard of the same path adopts them. */
void metrics_guard_retire(Manager *m, Guard *g);
/* Something the metrics show changed: write the file soon (coalesced, at most once a second). */
void metrics_changed(Manager *m);
/* Stops writing and removes the file we wrote. */
void metrics_free(Manager *m);
/* The exposition text of the running daemon (control socket "metrics"). Returns 0 or -errno. */
int metrics_text(Manager *m, FILE *f);
/* false when the guard can get no warning before a kernel OOM kill (see metrics_early_warning()). */
bool metrics_guard_early_warning(const Guard *g, bool swap_available);
bool metrics_swap_available(Manager *m);
/* The same verdict on limits read now (mem, NULL if unreadable: the last sample), for status. */
bool metrics_guard_early_warning_now(const Guard *g, const CgroupMemory *mem, bool swap_available);
/* memwardenctl status: "early_warning" in each cgroup's JSON; a WARNING paragraph after the table naming
 * the guards without one (the first ten of n, in the order given). */
void metrics_status_json(const Guard *g, const CgroupMemory *mem, FILE *f, bool swap_available);
void metrics_status_text(Guard *const *unwarned, size_t n, FILE *f);

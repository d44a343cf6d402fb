/* SPDX-License-Identifier: MIT */
/* policy/policy-engine.h: the decision engine. A pure function of (policy, per-cgroup state, observation,
 * now_usec) -> decision. It never reads the clock, the filesystem or logs above debug; the daemon samples,
 * calls engine_step(), and carries out the decision.
 *
 * Model:
 * - Pressure signals in one step: a PSI trigger fired (some/full, as enabled), the PSI stall rate since
 *   the previous step (from the total= counters) at or above SomeAvg10=/FullAvg10= (on the first step,
 *   avg10 itself), memory.events "high"/"max" increments (if HighEvents=/MaxEvents=), any "oom"/"oom_kill"
 *   increment, memory.current above Usage=.
 * - CALM -> PRESSURE on the first signal (onset): the first rung of the ladder is taken.
 * - A rung that has not relieved the pressure within its Settle= (a signal was seen after it ran) hands
 *   over to the next rung. A rung still in its Cooldown= counts as already tried at its last run.
 *   The last rung repeats, after its cooldown, while the pressure lasts.
 * - Under pressure for MaxThrottle= (never leave a cgroup throttled): the last rung comes at once.
 * - PRESSURE -> CALM after Hysteresis= with no signal (relieved).
 * - The first observation only sets the memory.events baseline: a daemon restart never turns old
 *   counters into a burst of actions.
 * - Dry-run: the ladder advances exactly as if the actions had run; the daemon only logs them.
 *
 * Precise rules (tests/unit/test-policy-engine.c checks each of them):
 * - Signals (Decision.reasons, REASON_*):
 *   - REASON_TRIGGER_SOME/FULL: bit (1 << PSI_SOME/PSI_FULL) in triggers_fired, only for a trigger that
 *     is enabled in the policy.
 *   - REASON_SOME/FULL_STALL: with has_psi, the stall rate 100 * delta(total_usec) / (now - previous step)
 *     at or above SomeAvg10=/FullAvg10= (0 = off; "full" only with psi.has_full). Without previous totals
 *     (first step, previous observation without PSI, or no time elapsed) avg10 is compared instead. A total
 *     that went backwards (cgroup recreated) is a new baseline: no stall signal in that step.
 *   - memory.events deltas: "high" -> REASON_HIGH_EVENT if HighEvents=, "max" -> REASON_MAX_EVENT if
 *     MaxEvents=, "oom" -> REASON_OOM_EVENT and "oom_kill" or "oom_group_kill" -> REASON_OOM_KILL always.
 *     If any counter went backwards (cgroup recreated) all deltas of that step are 0 and the counters read
 *     become the new baseline. The first observation is a baseline too (deltas 0); triggers, avg10 and
 *     usage still count in it.
 *   - REASON_USAGE: memory.current at or above Usage= (percent: of memory.max, off when memory.max is
 *     "max"; bytes: off when 0).
 * - Ladder (in a step with a signal last_signal_usec = now):
 *   - Onset: CALM + a signal -> PRESSURE, ladder[0] acts with ACT_CAUSE_ONSET.
 *   - Cooldown: a rung whose last run (dry-run included) is less than its Cooldown= ago does not run; it is
 *     entered as if it had run at that last run (rung_at_usec = last_run_usec[rung]) and the rules below go
 *     on from there in the same step: its settle time may already be over, so the next rung can act at
 *     once (cause ACT_CAUSE_ESCALATION, also at onset). At most one rung acts per step.
 *   - Grace: "a signal came after the rung ran" below means a signal in the second half of the rung's
 *     Settle= (last_signal_usec > rung_at_usec and >= rung_at_usec + Settle=/2). The first half is the
 *     action's grace while its effect sets in; with Settle=0 any later signal counts. MaxThrottle= is the
 *     hard bound and does not wait for the grace: any signal after the rung ran counts there.
 *   - Escalation: when now >= rung_at + Settle= of the current rung and a signal came after rung_at
 *     (see Grace), the next rung is entered (ACT_CAUSE_ESCALATION).
 *   - Repeat: at the last rung, when now >= rung_at + max(Settle=, Cooldown=) and a signal came after
 *     rung_at, it runs again (ACT_CAUSE_REPEAT). A single-rung ladder ("alert") thus repeats its alert.
 *   - MaxThrottle: with MaxThrottle= > 0, when now - pressure_since >= MaxThrottle=, the last rung has not
 *     been entered in this episode, and a signal came after the current rung ran (a rung that stopped the
 *     signals is not overridden), the last rung is entered (ACT_CAUSE_MAX_THROTTLE, or in cooldown: entered
 *     without acting) and throttle_escalated is set. It takes precedence over escalation.
 *   - Relief: in a step without signal, when now - last_signal_usec >= Hysteresis=: PRESSURE -> CALM,
 *     relieved, pressure_duration_usec = last_signal_usec - pressure_since_usec (how long signals were
 *     seen; the hysteresis wait is not counted), rung_pos = -1, throttle_escalated cleared. A relieved step
 *     never acts.
 * - Settle report: every rung that acts (dry-run too, so the daemon reports uniformly: it has nothing to
 *   measure then, but says so) gets one report: Decision.settled with settled_rung/settled_at_usec in the
 *   first step at or after its run + Settle=, also after the cgroup became CALM. A report still pending
 *   when another rung acts (MaxThrottle before the settle time) is given early, in the same decision as
 *   the new action: the daemon measures before carrying out the new action.
 * - next_step_usec: in PRESSURE now + SampleInterval=, brought forward to the earliest future deadline
 *   among: the pending settle report, the current rung's settle end (escalation), the last rung's
 *   cooldown end (repeat), MaxThrottle=, and the end of Hysteresis=. In CALM USEC_INFINITY, or the pending
 *   settle report's deadline. A settle deadline equal to now (Settle=0) gives now: step again at once.
 * - Prediction (restart before the limit): every step in PRESSURE (the onset step included; the samples are
 *   cleared at onset) adds (now, memory.current) to a ring of the last GROWTH_SAMPLES_MAX samples. The
 *   growth rate is the least-squares slope over them (at least GROWTH_SAMPLES_MIN samples spanning
 *   GROWTH_SPAN_MIN_USEC); the limit is memory.max, or memory.high when memory.max is "max"; the time to
 *   the limit is (limit - memory.current) / rate, 0 at or above the limit, USEC_INFINITY when not growing or
 *   unlimited (Decision.time_to_limit_usec, also kept in EngineState for the action's record).
 *   - Predicted: with LeadTime= > 0 and "restart" in the ladder at position R > 0, when the current rung is
 *     the one just before it (R - 1), a signal came after that rung ran, and the time to the limit is below
 *     LeadTime=, the restart rung is entered at once, without waiting for the settle time
 *     (ACT_CAUSE_PREDICTED; in cooldown: entered without acting). It takes precedence over MaxThrottle and
 *     escalation. Gentler rungs below R - 1 are still climbed one by one.
 * - Refused (engine_rung_refused()): the daemon reports that the rung that just acted could not do its job
 *   for a reason that waiting will not change (restart over its Burst=/Interval= rate limit): at the next
 *   step in PRESSURE the last rung is entered at once (ACT_CAUSE_ESCALATION), unless the refused rung is
 *   already the last. Cleared at relief.
 * - Failed (engine_rung_result() with a negative result): a rung that could not act (no process to ask, no
 *   cgroup.kill, an error) cannot relieve anything by waiting: at the next step in PRESSURE the next rung
 *   is entered at once (ACT_CAUSE_ESCALATION), without waiting for its settle time. The results are
 *   forgotten at relief and at onset (each episode starts with every rung able to act).
 * - Alert costs no time: an alert that is not the last rung is passed through when it is entered (the
 *   onset record, which goes out with every rung, is the alert): the next rung is entered in the same
 *   step, and its cause is the alert's. An alert as the last rung acts and repeats as any last rung.
 * - The brake (Observation.brake_active: a memory.high brake of ours is in place):
 *   - Relief: a rung that needs the processes' own work (trim: the allocator's release code; restart: the
 *     service's stop) acts with Decision.relax_brake set: the daemon lifts the brake for that rung's settle
 *     time, because above memory.high the kernel throttles every task that charges memory, the one that
 *     would free it included.
 *   - Release: "no rung can act" is: the current rung is the last one and it is an alert (frees nothing),
 *     or its last run in this episode failed (engine_rung_result()), or it ran, its settle time is over
 *     and its cooldown is not. When no rung can act and the episode has lasted MaxThrottle= (at once when
 *     MaxThrottle= is off), Decision.release_brake is set with the reason, and brake_released is kept:
 *     the daemon lifts the brake (the kernel's own OOM killer then does what it would have done without
 *     us) and sets it again only after Decision.rearm_brake, which comes with the relief (calm again).
 *     So a cgroup is never held in the brake longer than MaxThrottle= plus one SampleInterval= while no
 *     rung can act (tests/unit/test-policy-engine.c checks this over generated ladders and timings).
 * - Policy change (engine_policy_changed()): the episode goes on; the current rung is mapped by name to
 *   its position in the new ladder, or else to the next gentler-to-harsher rung present after it, or the
 *   last; a pending settle report of a rung the new ladder lacks is dropped. A rung that is kept goes on
 *   with its settle time and cooldown from its own run. A rung that takes over from one the new ladder
 *   lacks is entered at the next step in PRESSURE (enter_pending) as by escalation: it acts then
 *   (ACT_CAUSE_ESCALATION) unless it is in its cooldown, when it counts as tried at its last run.
 *   engine_restore() maps a restored rung the same way.
 * - now_usec must be > 0 (last_run_usec uses 0 for "never"); a clock going backwards is treated as no time
 *   elapsed. */
#pragma once

#include <stdbool.h>

#include "cgroup/cgroup-fs.h"
#include "policy.h"

typedef struct Observation {
        CgroupMemory mem;
        Psi psi;
        bool has_psi;
        MemoryEvents events;      /* hierarchical memory.events counters, as read now */
        unsigned triggers_fired;  /* bit (1 << PsiKind) for each trigger fd that fired since the last step */
        bool brake_active;        /* a memory.high brake of ours is in place */
} Observation;

/* memory.current samples under pressure, for the time-to-limit prediction. */
#define GROWTH_SAMPLES_MAX 16
#define GROWTH_SAMPLES_MIN 3
#define GROWTH_SPAN_MIN_USEC (500 * USEC_PER_MSEC)
typedef struct GrowthTracker {
        usec_t t[GROWTH_SAMPLES_MAX];
        uint64_t bytes[GROWTH_SAMPLES_MAX];
        unsigned n, head; /* head: where the next sample goes */
} GrowthTracker;

void growth_reset(GrowthTracker *g);
void growth_add(GrowthTracker *g, usec_t t, uint64_t bytes);
/* Least-squares slope in bytes per second over the samples (may be negative). Returns 0, or -ENODATA with
 * fewer than GROWTH_SAMPLES_MIN samples or a span below GROWTH_SPAN_MIN_USEC. */
int growth_rate(const GrowthTracker *g, double *ret_bytes_per_sec);
/* The limit the prediction aims at: memory.max, or memory.high when max is "max"; CGROUP_LIMIT_MAX: none. */
uint64_t growth_limit(const CgroupMemory *mem);
/* (limit - current) / rate: 0 when current >= limit, USEC_INFINITY when rate <= 0 or limit is
 * CGROUP_LIMIT_MAX. */
usec_t growth_time_to_limit(uint64_t current, uint64_t limit, double bytes_per_sec);

typedef enum EnginePhase {
        ENGINE_CALM,
        ENGINE_PRESSURE,
} EnginePhase;

typedef struct EngineState {
        MemoryEvents last_events;
        uint64_t last_some_total_usec, last_full_total_usec;
        usec_t last_step_usec;
        usec_t pressure_since_usec;   /* onset time */
        usec_t last_signal_usec;      /* most recent step with a pressure signal */
        usec_t rung_at_usec;          /* when the current rung ran (or, if in cooldown, last ran) */
        usec_t last_run_usec[_RUNG_MAX]; /* 0 = never */
        usec_t settle_at_usec;        /* with settle_pending: when it ran */
        GrowthTracker *growth;        /* memory.current under pressure; NULL while calm (engine_state_done()) */
        usec_t time_to_limit_usec;    /* the last prediction; USEC_INFINITY: none */
        double growth_bytes_per_sec;  /* with a prediction: the growth rate it used */
        uint64_t limit_bytes;         /* with a prediction: the limit it aimed at */
        int last_result[_RUNG_MAX];   /* this episode: < 0 when the rung's last run failed (engine_rung_result) */
        EnginePhase phase;
        int rung_pos;                 /* index into policy->ladder of the current rung, -1 none yet */
        Rung settle_rung;             /* with settle_pending: the rung whose report is due */
        /* (ordered by size: one per guarded cgroup, docs/scale.md) */
        bool initialized;
        bool settle_pending;          /* the current rung's settle report is due */
        bool throttle_escalated;      /* MaxThrottle fired in this pressure episode */
        bool has_last_psi;            /* last_*_total_usec hold the previous observation's totals */
        bool refused;                 /* engine_rung_refused(): go to the last rung at the next step */
        bool enter_pending;           /* a policy change made another rung current: enter it at the next step */
        bool brake_active;            /* the last observation's brake_active */
        bool brake_released;          /* the brake was lifted because no rung could act; until calm */
} EngineState;

enum {
        REASON_TRIGGER_SOME = 1 << 0,
        REASON_TRIGGER_FULL = 1 << 1,
        REASON_SOME_STALL = 1 << 2,
        REASON_FULL_STALL = 1 << 3,
        REASON_HIGH_EVENT = 1 << 4,
        REASON_MAX_EVENT = 1 << 5,
        REASON_OOM_EVENT = 1 << 6,
        REASON_OOM_KILL = 1 << 7,
        REASON_USAGE = 1 << 8,
};
/* Writes the reasons as "trigger-some,high-event" into buf; "none" when 0. Names: trigger-some, trigger-full,
 * some-stall, full-stall, high-event, max-event, oom-event, oom-kill, usage. Truncated to fit. Returns buf. */
const char *engine_reasons_to_string(unsigned reasons, char *buf, size_t size);

typedef enum ActCause {
        ACT_CAUSE_ONSET,        /* first rung at pressure onset */
        ACT_CAUSE_ESCALATION,   /* previous rung did not relieve within its settle time */
        ACT_CAUSE_REPEAT,       /* last rung again after its cooldown */
        ACT_CAUSE_MAX_THROTTLE, /* under pressure for MaxThrottle=: straight to the last rung */
        ACT_CAUSE_PREDICTED,    /* the limit is predicted within LeadTime=: restart now */
} ActCause;
/* "onset", "escalation", "repeat", "max-throttle", "predicted"; NULL when out of range. */
const char *act_cause_to_string(ActCause c);

typedef enum BrakeRelease {
        BRAKE_RELEASE_NONE,
        BRAKE_RELEASE_NOTHING_FREES, /* the last rung is an alert: nothing in the ladder can free memory */
        BRAKE_RELEASE_FAILED,        /* the last rung failed */
        BRAKE_RELEASE_SPENT,         /* the last rung ran, did not relieve, and is cooling down */
        _BRAKE_RELEASE_MAX,
} BrakeRelease;
/* "nothing-frees", "last-rung-failed", "last-rung-spent"; NULL for NONE or out of range. */
const char *brake_release_to_string(BrakeRelease b);

/* Does the rung free memory by itself (everything but alert)? */
bool rung_frees_memory(Rung r);
/* Does the rung need the processes' own work, which the brake's throttling starves (trim, restart)? */
bool rung_needs_process_work(Rung r);

typedef struct Decision {
        unsigned reasons;            /* pressure signals in this observation */
        bool onset;                  /* CALM -> PRESSURE now */
        bool relieved;               /* PRESSURE -> CALM now */
        usec_t pressure_duration_usec; /* with relieved: how long the episode lasted */

        bool act;                    /* carry out `rung` now */
        Rung rung;
        ActCause cause;
        bool dry_run;

        bool settled;                /* the rung that ran at settled_at_usec has had its settle time:
                                        measure and report what it freed */
        Rung settled_rung;
        usec_t settled_at_usec;

        usec_t time_to_limit_usec;   /* predicted time until the limit; USEC_INFINITY: none */
        double growth_bytes_per_sec; /* with a prediction: the growth rate */
        uint64_t limit_bytes;        /* with a prediction: memory.max (or memory.high) */

        MemoryEvents events_delta;   /* increments since the previous observation */
        bool events_changed;

        bool relax_brake;            /* with act: lift the brake for this rung's settle time */
        bool release_brake;          /* no rung can act: lift the brake until calm */
        BrakeRelease release_reason; /* with release_brake */
        bool rearm_brake;            /* calm again after a release: the brake may be set again */

        usec_t next_step_usec;       /* step again at this time; USEC_INFINITY: only on kernel events */
} Decision;

void engine_state_init(EngineState *s);
/* Frees what an episode allocated (the growth samples); s stays usable. Also for _cleanup_(). */
void engine_state_done(EngineState *s);

/* Advances s by one observation at now_usec (monotonic; must not go backwards). Fills *ret. Returns 0;
 * -EINVAL for a policy with an empty ladder (the loader never produces one). */
int engine_step(const Policy *p, EngineState *s, const Observation *o, usec_t now_usec, Decision *ret);

/* The rung that acted last could not do its job and waiting will not help (e.g. restart rate-limited): the
 * next engine_step() in PRESSURE enters the last rung at once. No-op when not under pressure. */
void engine_rung_refused(EngineState *s);

/* What the rung that acted achieved: result < 0 means it could not act (see "Failed" above). 0 clears an
 * earlier failure of that rung. No-op when not under pressure or r is out of range. */
void engine_rung_result(EngineState *s, Rung r, int result);

/* What of an EngineState survives a daemon restart (daemon/state.c stores it): the cooldowns and the
 * pressure episode with its current rung named (a restart may bring a changed ladder). */
typedef struct EngineSnapshot {
        bool pressure;
        usec_t pressure_since_usec, last_signal_usec;
        Rung rung;                       /* the current rung; _RUNG_INVALID: none */
        usec_t rung_at_usec;
        bool throttle_escalated;
        usec_t last_run_usec[_RUNG_MAX]; /* 0: never */
} EngineSnapshot;

void engine_snapshot(const Policy *p, const EngineState *s, EngineSnapshot *ret);
/* Restores a snapshot into a freshly initialised s at now_usec (monotonic, same boot): stamps from the future
 * are dropped (a cooldown from the future is none; an episode from the future is not restored), the rung is
 * mapped onto p's ladder by the policy-change rule (the same rung, else the next harsher one present, else
 * the last). The memory.events and PSI baselines are not restored: the next step takes new ones. Returns true
 * when the episode goes on (s is in PRESSURE). */
bool engine_restore(const Policy *p, EngineState *s, const EngineSnapshot *snap, usec_t now_usec);

/* The policy of a cgroup under pressure was replaced by new (a reload): maps the episode onto the new
 * ladder (see "Policy change" above). old may equal new. */
void engine_policy_changed(const Policy *old, const Policy *new, EngineState *s);

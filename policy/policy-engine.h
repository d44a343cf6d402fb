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
 * - Dry-run: the ladder advances exactly as if the actions had run; the daemon only logs them. */
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
} Observation;

typedef enum EnginePhase {
        ENGINE_CALM,
        ENGINE_PRESSURE,
} EnginePhase;

typedef struct EngineState {
        EnginePhase phase;
        bool initialized;
        MemoryEvents last_events;
        uint64_t last_some_total_usec, last_full_total_usec;
        usec_t last_step_usec;
        usec_t pressure_since_usec;   /* onset time */
        usec_t last_signal_usec;      /* most recent step with a pressure signal */
        int rung_pos;                 /* index into policy->ladder of the current rung, -1 none yet */
        usec_t rung_at_usec;          /* when the current rung ran (or, if in cooldown, last ran) */
        bool settle_pending;          /* the current rung's settle report is due */
        bool throttle_escalated;      /* MaxThrottle fired in this pressure episode */
        usec_t last_run_usec[_RUNG_MAX]; /* 0 = never */
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
/* Writes the reasons as "trigger-some,high-event" into buf; "none" when 0. Returns buf. */
const char *engine_reasons_to_string(unsigned reasons, char *buf, size_t size);

typedef enum ActCause {
        ACT_CAUSE_ONSET,        /* first rung at pressure onset */
        ACT_CAUSE_ESCALATION,   /* previous rung did not relieve within its settle time */
        ACT_CAUSE_REPEAT,       /* last rung again after its cooldown */
        ACT_CAUSE_MAX_THROTTLE, /* under pressure for MaxThrottle=: straight to the last rung */
} ActCause;
const char *act_cause_to_string(ActCause c);

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

        MemoryEvents events_delta;   /* increments since the previous observation */
        bool events_changed;

        usec_t next_step_usec;       /* step again at this time; USEC_INFINITY: only on kernel events */
} Decision;

void engine_state_init(EngineState *s);

/* Advances s by one observation at now_usec (monotonic; must not go backwards). Fills *ret. Returns 0;
 * -EINVAL for a policy with an empty ladder (the loader never produces one). */
int engine_step(const Policy *p, EngineState *s, const Observation *o, usec_t now_usec, Decision *ret);

/* SPDX-License-Identifier: MIT */
/* policy/policy-engine.c: the decision engine. Pure: no clock, no I/O, no logging. The rules are spelled
 * out in policy-engine.h. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "policy-engine.h"

static usec_t usec_add(usec_t a, usec_t b)
{
        return a > USEC_INFINITY - b ? USEC_INFINITY : a + b;
}

void engine_state_init(EngineState *s)
{
        assert(s);

        *s = (EngineState) {
                .phase = ENGINE_CALM,
                .rung_pos = -1,
                .time_to_limit_usec = USEC_INFINITY,
        };
}

void engine_state_done(EngineState *s)
{
        if (!s)
                return;
        free(s->growth);
        s->growth = NULL;
}

void growth_reset(GrowthTracker *g)
{
        *g = (GrowthTracker) {};
}

void growth_add(GrowthTracker *g, usec_t t, uint64_t bytes)
{
        g->t[g->head] = t;
        g->bytes[g->head] = bytes;
        g->head = (g->head + 1) % GROWTH_SAMPLES_MAX;
        if (g->n < GROWTH_SAMPLES_MAX)
                g->n++;
}

int growth_rate(const GrowthTracker *g, double *ret_bytes_per_sec)
{
        if (g->n < GROWTH_SAMPLES_MIN)
                return -ENODATA;

        unsigned first = (g->head + GROWTH_SAMPLES_MAX - g->n) % GROWTH_SAMPLES_MAX;
        usec_t t0 = g->t[first], tmin = t0, tmax = t0;
        double b0 = (double) g->bytes[first];
        double sx = 0, sy = 0, sxx = 0, sxy = 0;

        /* Relative to the oldest sample, in seconds and bytes, so that the sums stay precise. */
        for (unsigned i = 0; i < g->n; i++) {
                unsigned k = (first + i) % GROWTH_SAMPLES_MAX;
                double x = (double) (g->t[k] - t0) / (double) USEC_PER_SEC;
                double y = (double) g->bytes[k] - b0;
                tmin = MIN(tmin, g->t[k]);
                tmax = MAX(tmax, g->t[k]);
                sx += x;
                sy += y;
                sxx += x * x;
                sxy += x * y;
        }
        if (tmax - tmin < GROWTH_SPAN_MIN_USEC)
                return -ENODATA;
        double n = g->n, den = n * sxx - sx * sx;
        if (den <= 0)
                return -ENODATA;
        *ret_bytes_per_sec = (n * sxy - sx * sy) / den;
        return 0;
}

uint64_t growth_limit(const CgroupMemory *mem)
{
        return mem->max != CGROUP_LIMIT_MAX ? mem->max : mem->high;
}

usec_t growth_time_to_limit(uint64_t current, uint64_t limit, double bytes_per_sec)
{
        if (limit == CGROUP_LIMIT_MAX)
                return USEC_INFINITY;
        if (current >= limit)
                return 0;
        if (!(bytes_per_sec > 0))
                return USEC_INFINITY;
        double t = (double) (limit - current) / bytes_per_sec * (double) USEC_PER_SEC;
        if (t >= (double) (USEC_INFINITY / 2))
                return USEC_INFINITY;
        return (usec_t) t;
}

void engine_rung_refused(EngineState *s)
{
        if (s->phase == ENGINE_PRESSURE && s->rung_pos >= 0)
                s->refused = true;
}

static int ladder_position(const Policy *p, Rung r)
{
        for (size_t i = 0; i < p->n_ladder; i++)
                if (p->ladder[i] == r)
                        return (int) i;
        return -1;
}

void engine_rung_result(EngineState *s, Rung r, int result)
{
        if (s->phase != ENGINE_PRESSURE || (unsigned) r >= _RUNG_MAX)
                return;
        s->last_result[r] = result < 0 ? result : 0;
}

bool rung_frees_memory(Rung r)
{
        return (unsigned) r < _RUNG_MAX && r != RUNG_ALERT;
}

bool rung_needs_process_work(Rung r)
{
        return r == RUNG_TRIM || r == RUNG_RESTART;
}

static const char *const brake_release_names[] = {
        [BRAKE_RELEASE_NOTHING_FREES] = "nothing-frees",
        [BRAKE_RELEASE_FAILED] = "last-rung-failed",
        [BRAKE_RELEASE_SPENT] = "last-rung-spent",
};

const char *brake_release_to_string(BrakeRelease b)
{
        if (b <= BRAKE_RELEASE_NONE || (unsigned) b >= ELEMENTSOF(brake_release_names))
                return NULL;
        return brake_release_names[b];
}

void engine_policy_changed(const Policy *old, const Policy *new, EngineState *s)
{
        assert(old);
        assert(new);
        assert(s);

        if (s->settle_pending && ladder_position(new, s->settle_rung) < 0)
                s->settle_pending = false;
        if (s->rung_pos < 0 || (size_t) s->rung_pos >= old->n_ladder || new->n_ladder == 0) {
                s->rung_pos = s->rung_pos >= 0 && new->n_ladder > 0 ? (int) new->n_ladder - 1 : -1;
                return;
        }

        /* Ladders go gentlest first in Rung order: the same rung, else the first harsher one, else the last. */
        Rung cur = old->ladder[s->rung_pos];
        int pos = (int) new->n_ladder - 1;
        for (size_t i = 0; i < new->n_ladder; i++)
                if (new->ladder[i] >= cur) {
                        pos = (int) i;
                        break;
                }
        if (new->ladder[pos] == RUNG_ALERT && (size_t) pos + 1 < new->n_ladder)
                pos++; /* an alert in front is passed through (engine_enter()) */
        if (new->ladder[pos] != cur) {
                /* Another rung takes over: entered at the next step (it acts unless in its cooldown). */
                s->rung_at_usec = s->last_run_usec[new->ladder[pos]];
                s->enter_pending = true;
        }
        s->rung_pos = pos;
        /* MaxThrottle= brought us to the old last rung; a new ladder with more after it may escalate again. */
        s->throttle_escalated = s->throttle_escalated && (size_t) pos == new->n_ladder - 1;
}

/* The predicted rule (policy-engine.h): the rung before restart is current, it did not stop the signals,
 * and the limit is nearer than LeadTime=. Returns the restart rung's position, or -1. */
static int predicted_restart_due(const Policy *p, const EngineState *s)
{
        int pos = ladder_position(p, RUNG_RESTART);

        if (p->restart_lead_usec == 0 || pos <= 0 || s->rung_pos != pos - 1)
                return -1;
        if (s->last_signal_usec <= s->rung_at_usec)
                return -1;
        if (s->time_to_limit_usec >= p->restart_lead_usec)
                return -1;
        return pos;
}

static const char *const reason_names[] = {
        "trigger-some", "trigger-full", "some-stall", "full-stall", "high-event",
        "max-event",    "oom-event",    "oom-kill",   "usage",
};

const char *engine_reasons_to_string(unsigned reasons, char *buf, size_t size)
{
        size_t n = 0;

        assert(buf);
        assert(size > 0);

        buf[0] = 0;
        if (reasons == 0) {
                snprintf(buf, size, "none");
                return buf;
        }

        for (size_t i = 0; i < ELEMENTSOF(reason_names); i++) {
                int k;

                if (!(reasons & (1u << i)))
                        continue;
                k = snprintf(buf + n, size - n, "%s%s", n > 0 ? "," : "", reason_names[i]);
                if (k < 0 || (size_t) k >= size - n) {
                        buf[n] = 0; /* only whole names */
                        break;
                }
                n += k;
        }
        return buf;
}

static const char *const act_cause_names[] = {
        [ACT_CAUSE_ONSET] = "onset",
        [ACT_CAUSE_ESCALATION] = "escalation",
        [ACT_CAUSE_REPEAT] = "repeat",
        [ACT_CAUSE_MAX_THROTTLE] = "max-throttle",
        [ACT_CAUSE_PREDICTED] = "predicted",
};

const char *act_cause_to_string(ActCause c)
{
        if ((unsigned) c >= ELEMENTSOF(act_cause_names))
                return NULL;
        return act_cause_names[c];
}

static bool events_went_backwards(const MemoryEvents *now, const MemoryEvents *prev)
{
        return now->low < prev->low || now->high < prev->high || now->max < prev->max ||
               now->oom < prev->oom || now->oom_kill < prev->oom_kill ||
               now->oom_group_kill < prev->oom_group_kill;
}

static bool events_any(const MemoryEvents *e)
{
        return e->low || e->high || e->max || e->oom || e->oom_kill || e->oom_group_kill;
}

/* One PSI line: stall rate since the previous step (or avg10 without previous totals) >= threshold. */
static bool stall_signal(double threshold_percent, const PsiLine *line, bool have_last, uint64_t last_total,
                         usec_t elapsed)
{
        if (threshold_percent <= 0)
                return false;
        if (!have_last || elapsed == 0)
                return line->avg10 >= threshold_percent;
        if (line->total_usec < last_total)
                return false; /* recreated: new baseline */
        return (double) (line->total_usec - last_total) * 100.0 / (double) elapsed >= threshold_percent;
}

static bool usage_signal(const Policy *p, const CgroupMemory *mem)
{
        uint64_t threshold;

        if (p->usage.is_percent) {
                if (p->usage.percent <= 0 || mem->max == CGROUP_LIMIT_MAX)
                        return false;
                threshold = (uint64_t) ((double) mem->max * p->usage.percent / 100.0);
        } else {
                if (p->usage.bytes == 0)
                        return false;
                threshold = p->usage.bytes;
        }
        return mem->current >= threshold;
}

/* Computes this step's signals and events_delta, and moves the baselines forward. */
static unsigned engine_signals(const Policy *p, EngineState *s, const Observation *o, usec_t now,
                               Decision *d)
{
        unsigned reasons = 0;
        usec_t elapsed = s->initialized && now > s->last_step_usec ? now - s->last_step_usec : 0;

        if ((o->triggers_fired & (1u << PSI_SOME)) && p->trigger[PSI_SOME].enabled)
                reasons |= REASON_TRIGGER_SOME;
        if ((o->triggers_fired & (1u << PSI_FULL)) && p->trigger[PSI_FULL].enabled)
                reasons |= REASON_TRIGGER_FULL;

        if (o->has_psi) {
                bool have_last = s->initialized && s->has_last_psi;

                if (stall_signal(p->some_avg10_percent, &o->psi.some, have_last, s->last_some_total_usec,
                                 elapsed))
                        reasons |= REASON_SOME_STALL;
                if (o->psi.has_full && stall_signal(p->full_avg10_percent, &o->psi.full, have_last,
                                                    s->last_full_total_usec, elapsed))
                        reasons |= REASON_FULL_STALL;

                s->last_some_total_usec = o->psi.some.total_usec;
                s->last_full_total_usec = o->psi.has_full ? o->psi.full.total_usec : 0;
                s->has_last_psi = true;
        } else
                s->has_last_psi = false;

        d->events_delta = (MemoryEvents) {};
        if (s->initialized && !events_went_backwards(&o->events, &s->last_events))
                d->events_delta = (MemoryEvents) {
                        .low = o->events.low - s->last_events.low,
                        .high = o->events.high - s->last_events.high,
                        .max = o->events.max - s->last_events.max,
                        .oom = o->events.oom - s->last_events.oom,
                        .oom_kill = o->events.oom_kill - s->last_events.oom_kill,
                        .oom_group_kill = o->events.oom_group_kill - s->last_events.oom_group_kill,
                };
        d->events_changed = events_any(&d->events_delta);
        s->last_events = o->events;

        if (d->events_delta.high > 0 && p->on_high_events)
                reasons |= REASON_HIGH_EVENT;
        if (d->events_delta.max > 0 && p->on_max_events)
                reasons |= REASON_MAX_EVENT;
        if (d->events_delta.oom > 0)
                reasons |= REASON_OOM_EVENT;
        if (d->events_delta.oom_kill > 0 || d->events_delta.oom_group_kill > 0)
                reasons |= REASON_OOM_KILL;

        if (usage_signal(p, &o->mem))
                reasons |= REASON_USAGE;

        s->initialized = true;
        s->last_step_usec = now;
        return reasons;
}

static bool rung_in_cooldown(const Policy *p, const EngineState *s, Rung r, usec_t now)
{
        return s->last_run_usec[r] > 0 && now < usec_add(s->last_run_usec[r], p->rung[r].cooldown_usec);
}

/* Enters ladder position pos. Returns true when its rung is to run now; false when it is in its cooldown
 * and counts as tried at its last run. An alert that is not the last rung is passed through: the record
 * that goes out with every step is the alert, and it must not hold the cgroup for a settle time. */
static bool engine_enter(const Policy *p, EngineState *s, size_t pos, usec_t now)
{
        if (p->ladder[pos] == RUNG_ALERT && pos + 1 < p->n_ladder) {
                s->last_run_usec[RUNG_ALERT] = now;
                pos++;
        }
        Rung r = p->ladder[pos];

        s->rung_pos = (int) pos;
        s->enter_pending = false;
        if (rung_in_cooldown(p, s, r, now)) {
                s->rung_at_usec = s->last_run_usec[r];
                return false;
        }
        s->rung_at_usec = now;
        return true;
}

static void engine_act(const Policy *p, EngineState *s, ActCause cause, usec_t now, Decision *d)
{
        Rung r = p->ladder[s->rung_pos];

        /* A report still pending goes out now, before the next action muddies the measurement. */
        if (s->settle_pending) {
                d->settled = true;
                d->settled_rung = s->settle_rung;
                d->settled_at_usec = s->settle_at_usec;
        }

        d->act = true;
        d->rung = r;
        d->cause = cause;
        d->relax_brake = s->brake_active && !s->brake_released && rung_needs_process_work(r);
        s->last_result[r] = 0;
        s->last_run_usec[r] = now;
        s->settle_pending = true;
        s->settle_rung = r;
        s->settle_at_usec = now;
}

/* Did the pressure outlast the current rung? Only signals in the second half of its settle time count:
 * the first half is the action's grace, while its effect sets in (a trim takes a moment, tasks throttled
 * before the action still drain). Seen in the VM: right after a trim that freed 130 MiB, the allocating
 * task was still throttled for about a second, and counting that escalated a successful trim to a kill. */
static bool pressure_outlasted(const Policy *p, const EngineState *s, Rung cur)
{
        return s->last_signal_usec > s->rung_at_usec &&
                s->last_signal_usec >= usec_add(s->rung_at_usec, p->rung[cur].settle_usec / 2);
}

/* In PRESSURE: escalation, MaxThrottle and repeat. At most one rung acts. */
static void engine_advance(const Policy *p, EngineState *s, usec_t now, Decision *d)
{
        size_t last = p->n_ladder - 1;

        /* Each pass acts (and stops), or moves rung_pos up, or sets throttle_escalated: it ends. */
        while (!d->act) {
                Rung cur = p->ladder[s->rung_pos];
                bool pressure_after = pressure_outlasted(p, s, cur);
                bool any_signal_after = s->last_signal_usec > s->rung_at_usec;
                int pos;

                if (s->refused) {
                        s->refused = false;
                        if ((size_t) s->rung_pos < last) {
                                if (engine_enter(p, s, last, now))
                                        engine_act(p, s, ACT_CAUSE_ESCALATION, now, d);
                                continue;
                        }
                }

                if (s->enter_pending) {
                        if (engine_enter(p, s, (size_t) s->rung_pos, now))
                                engine_act(p, s, ACT_CAUSE_ESCALATION, now, d);
                        continue;
                }

                pos = predicted_restart_due(p, s);
                if (pos >= 0) {
                        if (engine_enter(p, s, (size_t) pos, now))
                                engine_act(p, s, ACT_CAUSE_PREDICTED, now, d);
                        continue;
                }

                if (p->max_throttle_usec > 0 && !s->throttle_escalated && (size_t) s->rung_pos < last &&
                    now - s->pressure_since_usec >= p->max_throttle_usec && any_signal_after) {
                        s->throttle_escalated = true;
                        if (engine_enter(p, s, last, now))
                                engine_act(p, s, ACT_CAUSE_MAX_THROTTLE, now, d);
                        continue;
                }

                /* A rung that failed cannot relieve anything by waiting: the next one at once. */
                if (s->last_result[cur] < 0 && (size_t) s->rung_pos < last && any_signal_after) {
                        if (engine_enter(p, s, s->rung_pos + 1, now))
                                engine_act(p, s, ACT_CAUSE_ESCALATION, now, d);
                        continue;
                }

                if (!pressure_after || now < usec_add(s->rung_at_usec, p->rung[cur].settle_usec))
                        break;

                if ((size_t) s->rung_pos < last) {
                        if (engine_enter(p, s, s->rung_pos + 1, now))
                                engine_act(p, s, ACT_CAUSE_ESCALATION, now, d);
                        continue;
                }

                /* The last rung: rung_at is its last run. Again once its cooldown is over too. */
                if (now >= usec_add(s->rung_at_usec, p->rung[cur].cooldown_usec) &&
                    engine_enter(p, s, last, now))
                        engine_act(p, s, ACT_CAUSE_REPEAT, now, d);
                break;
        }
}

/* Can no rung act (policy-engine.h, "The brake")? */
static BrakeRelease engine_stuck(const Policy *p, const EngineState *s, usec_t now)
{
        size_t last = p->n_ladder - 1;

        if (s->rung_pos < 0 || (size_t) s->rung_pos != last)
                return BRAKE_RELEASE_NONE; /* MaxThrottle= or escalation still brings a harsher rung */
        Rung r = p->ladder[last];
        if (!rung_frees_memory(r))
                return BRAKE_RELEASE_NOTHING_FREES;
        if (s->last_result[r] < 0)
                return BRAKE_RELEASE_FAILED;
        if (rung_in_cooldown(p, s, r, now) && now >= usec_add(s->rung_at_usec, p->rung[r].settle_usec))
                return BRAKE_RELEASE_SPENT;
        return BRAKE_RELEASE_NONE;
}

static void engine_brake(const Policy *p, EngineState *s, usec_t now, Decision *d)
{
        if (s->phase != ENGINE_PRESSURE || !s->brake_active || s->brake_released)
                return;
        if (p->max_throttle_usec > 0 && now - s->pressure_since_usec < p->max_throttle_usec)
                return;
        BrakeRelease why = engine_stuck(p, s, now);
        if (why == BRAKE_RELEASE_NONE)
                return;
        d->release_brake = true;
        d->release_reason = why;
        d->relax_brake = false;
        s->brake_released = true;
}

static usec_t engine_next_step(const Policy *p, const EngineState *s, usec_t now)
{
        usec_t next = USEC_INFINITY, t;

        if (s->settle_pending)
                next = MAX(usec_add(s->settle_at_usec, p->rung[s->settle_rung].settle_usec), now);

        if (s->phase != ENGINE_PRESSURE)
                return next;

        next = MIN(next, usec_add(now, p->sample_interval_usec));

        if (s->rung_pos >= 0) {
                Rung cur = p->ladder[s->rung_pos];
                size_t last = p->n_ladder - 1;

                t = usec_add(s->rung_at_usec, p->rung[cur].settle_usec);
                if ((size_t) s->rung_pos == last)
                        t = MAX(t, usec_add(s->rung_at_usec, p->rung[cur].cooldown_usec));
                if (t > now)
                        next = MIN(next, t);

                if (p->max_throttle_usec > 0 && !s->throttle_escalated && (size_t) s->rung_pos < last) {
                        t = usec_add(s->pressure_since_usec, p->max_throttle_usec);
                        if (t > now)
                                next = MIN(next, t);
                }
                /* The brake's bound (engine_brake()). */
                if (s->brake_active && !s->brake_released) {
                        t = usec_add(s->pressure_since_usec, p->max_throttle_usec);
                        if (t > now)
                                next = MIN(next, t);
                        if ((size_t) s->rung_pos == last && rung_frees_memory(cur) && rung_in_cooldown(p, s, cur, now)) {
                                t = usec_add(s->rung_at_usec, p->rung[cur].settle_usec);
                                if (t > now)
                                        next = MIN(next, t);
                        }
                }
        }

        t = usec_add(s->last_signal_usec, p->hysteresis_usec);
        if (t > now)
                next = MIN(next, t);

        return next;
}

int engine_step(const Policy *p, EngineState *s, const Observation *o, usec_t now_usec, Decision *ret)
{
        Decision d = {};

        assert(p);
        assert(s);
        assert(o);
        assert(ret);

        if (p->n_ladder == 0 || p->n_ladder > _RUNG_MAX)
                return -EINVAL;
        for (size_t i = 0; i < p->n_ladder; i++)
                if ((unsigned) p->ladder[i] >= _RUNG_MAX)
                        return -EINVAL;

        /* A clock going backwards counts as no time elapsed. */
        if (s->initialized && now_usec < s->last_step_usec)
                now_usec = s->last_step_usec;

        d.dry_run = p->dry_run;
        s->brake_active = o->brake_active;
        d.reasons = engine_signals(p, s, o, now_usec, &d);
        if (d.reasons != 0)
                s->last_signal_usec = now_usec;

        /* The settle report that is due; one that is not due yet and another rung acts: engine_act(). */
        if (s->settle_pending &&
            now_usec >= usec_add(s->settle_at_usec, p->rung[s->settle_rung].settle_usec)) {
                d.settled = true;
                d.settled_rung = s->settle_rung;
                d.settled_at_usec = s->settle_at_usec;
                s->settle_pending = false;
        }

        /* The prediction, from the samples under pressure (this one included). */
        if (s->phase == ENGINE_CALM && d.reasons != 0) {
                if (s->growth)
                        growth_reset(s->growth);
                s->refused = false;
        }
        s->time_to_limit_usec = USEC_INFINITY;
        s->growth_bytes_per_sec = 0;
        s->limit_bytes = CGROUP_LIMIT_MAX;
        if (s->phase == ENGINE_PRESSURE || d.reasons != 0) {
                double rate;

                /* Allocated for the episode only (most guarded cgroups are calm: docs/scale.md); without
                 * memory there is no prediction at this step. */
                if (!s->growth)
                        s->growth = calloc(1, sizeof *s->growth);
                if (s->growth)
                        growth_add(s->growth, now_usec, o->mem.current);
                if (s->growth && growth_rate(s->growth, &rate) >= 0) {
                        s->growth_bytes_per_sec = rate;
                        s->limit_bytes = growth_limit(&o->mem);
                        s->time_to_limit_usec = growth_time_to_limit(o->mem.current, s->limit_bytes, rate);
                }
        }
        d.time_to_limit_usec = s->time_to_limit_usec;
        d.growth_bytes_per_sec = s->growth_bytes_per_sec;
        d.limit_bytes = s->limit_bytes;

        if (s->phase == ENGINE_CALM) {
                if (d.reasons != 0) {
                        d.onset = true;
                        s->phase = ENGINE_PRESSURE;
                        s->pressure_since_usec = now_usec;
                        s->throttle_escalated = false;
                        memset(s->last_result, 0, sizeof s->last_result);
                        if (engine_enter(p, s, 0, now_usec))
                                engine_act(p, s, ACT_CAUSE_ONSET, now_usec, &d);
                        engine_advance(p, s, now_usec, &d);
                }
        } else if (d.reasons == 0 && now_usec - s->last_signal_usec >= p->hysteresis_usec) {
                d.relieved = true;
                d.pressure_duration_usec = s->last_signal_usec - s->pressure_since_usec;
                s->phase = ENGINE_CALM;
                engine_state_done(s); /* the episode's samples */
                s->rung_pos = -1;
                s->throttle_escalated = false;
                s->refused = false;
                s->enter_pending = false;
                memset(s->last_result, 0, sizeof s->last_result);
                if (s->brake_released) {
                        d.rearm_brake = true;
                        s->brake_released = false;
                }
        } else
                engine_advance(p, s, now_usec, &d);

        engine_brake(p, s, now_usec, &d);

        d.next_step_usec = engine_next_step(p, s, now_usec);
        *ret = d;
        return 0;
}

void engine_snapshot(const Policy *p, const EngineState *s, EngineSnapshot *ret)
{
        *ret = (EngineSnapshot) {
                .pressure = s->phase == ENGINE_PRESSURE,
                .pressure_since_usec = s->pressure_since_usec,
                .last_signal_usec = s->last_signal_usec,
                .rung = s->rung_pos >= 0 && (size_t) s->rung_pos < p->n_ladder ? p->ladder[s->rung_pos] :
                                                                                  _RUNG_INVALID,
                .rung_at_usec = s->rung_at_usec,
                .throttle_escalated = s->throttle_escalated,
        };
        memcpy(ret->last_run_usec, s->last_run_usec, sizeof ret->last_run_usec);
}

bool engine_restore(const Policy *p, EngineState *s, const EngineSnapshot *snap, usec_t now)
{
        for (Rung r = 0; r < _RUNG_MAX; r++)
                s->last_run_usec[r] = snap->last_run_usec[r] <= now ? snap->last_run_usec[r] : 0;

        if (!snap->pressure || snap->pressure_since_usec == 0 || snap->pressure_since_usec > now ||
            snap->last_signal_usec > now || (unsigned) snap->rung >= _RUNG_MAX || p->n_ladder == 0)
                return false;

        int pos = (int) p->n_ladder - 1;
        for (size_t i = 0; i < p->n_ladder; i++)
                if (p->ladder[i] >= snap->rung) {
                        pos = (int) i;
                        break;
                }
        if (p->ladder[pos] == RUNG_ALERT && (size_t) pos + 1 < p->n_ladder)
                pos++;
        s->phase = ENGINE_PRESSURE;
        s->pressure_since_usec = snap->pressure_since_usec;
        s->last_signal_usec = snap->last_signal_usec;
        s->rung_pos = pos;
        s->rung_at_usec = p->ladder[pos] == snap->rung ? MIN(snap->rung_at_usec, now) :
                                                          s->last_run_usec[p->ladder[pos]];
        s->enter_pending = p->ladder[pos] != snap->rung; /* as after a policy change */
        s->throttle_escalated = snap->throttle_escalated && (size_t) pos == p->n_ladder - 1;
        return true;
}

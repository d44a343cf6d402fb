/* SPDX-License-Identifier: MIT */
/* Unit tests for policy/policy-engine.c: a fake clock, hand-built policies (no policy.c needed) and
 * scripted observations. Every rule in policy-engine.h's top comment has a test here. The escalation
 * mechanics use drop-cache as the first rung of multi-rung ladders: an alert in front is passed through
 * (its own test below), so it cannot stand for "the first rung" any more. */
#include <criterion/criterion.h>
#include <string.h>

#include "policy/policy-engine.h"

#define SEC USEC_PER_SEC
#define MSEC USEC_PER_MSEC
#define T0 (1000 * SEC) /* the fake clock starts here: 0 means "never" in last_run_usec */
#define AT(s) (T0 + (usec_t) ((s) * (double) SEC))
#define INF USEC_INFINITY
#define NONE (-1)

/* Our own names: rung_to_string() lives in policy.c, which this test does not link. */
static const char *rung_name(int r)
{
        static const char *const names[] = { "alert", "trim", "drop-cache", "reclaim", "restart", "kill" };
        return r >= 0 && r < (int) ELEMENTSOF(names) ? names[r] : "none";
}

/* Every field the engine reads, set explicitly. Each rung: Cooldown=60s Settle=5s. */
static Policy test_policy_n(const Rung *ladder, size_t n)
{
        Policy p = {
                .name = (char *) "test",
                .trigger[PSI_SOME] = { .enabled = true, .stall_usec = 150 * MSEC, .window_usec = SEC },
                .trigger[PSI_FULL] = { .enabled = false },
                .some_avg10_percent = 0,
                .full_avg10_percent = 0,
                .on_high_events = true,
                .on_max_events = true,
                .usage = { .is_percent = false, .bytes = 0 },
                .sample_interval_usec = SEC,
                .hysteresis_usec = 10 * SEC,
                .max_throttle_usec = 0,
                .dry_run = false,
        };

        cr_assert(n > 0 && n <= _RUNG_MAX);
        memcpy(p.ladder, ladder, n * sizeof(Rung));
        p.n_ladder = n;
        for (size_t i = 0; i < _RUNG_MAX; i++)
                p.rung[i] = (RungConfig) { .cooldown_usec = 60 * SEC, .settle_usec = 5 * SEC };
        return p;
}
#define test_policy(...)                                                                                    \
        test_policy_n((const Rung[]) { __VA_ARGS__ }, ELEMENTSOF(((const Rung[]) { __VA_ARGS__ })))

static int ladder_pos_of(const Policy *p, Rung r)
{
        for (size_t i = 0; i < p->n_ladder; i++)
                if (p->ladder[i] == r)
                        return (int) i;
        return -1;
}

static Observation test_obs(void)
{
        return (Observation) {
                .mem = { .current = 100 << 20, .max = CGROUP_LIMIT_MAX, .high = CGROUP_LIMIT_MAX },
                .has_psi = true,
                .psi = { .has_full = true },
        };
}

/* engine_state_init() on a state a test used before: what its episode allocated is freed first (every state
 * here starts zeroed). */
static void state_init(EngineState *s)
{
        engine_state_done(s);
        engine_state_init(s);
}

static Decision step(const Policy *p, EngineState *s, const Observation *o, usec_t now)
{
        Decision d;

        memset(&d, 0x5a, sizeof(d)); /* the engine must fill every field */
        cr_assert_eq(engine_step(p, s, o, now, &d), 0);
        return d;
}

/* A scripted scenario: one row per step. Signals come from the "some" trigger (fire) and high events. */
typedef struct Row {
        double at;          /* seconds after T0 */
        bool fire;          /* the some trigger fired */
        unsigned high;      /* new memory.events "high" */
        int act;            /* expected rung acting, NONE */
        ActCause cause;     /* with act */
        int settled;        /* expected settled rung, NONE */
        double settled_at;  /* with settled: when it ran (seconds after T0) */
        bool onset, relieved;
        EnginePhase phase;  /* after the step */
        double next;        /* expected next_step_usec, seconds after T0; < 0: USEC_INFINITY */
} Row;

static void run_script(const Policy *p, EngineState *s, Observation *o, const Row *rows, size_t n,
                       Decision *ret_decisions)
{
        for (size_t i = 0; i < n; i++) {
                const Row *r = rows + i;
                Decision d;

                o->triggers_fired = r->fire ? 1u << PSI_SOME : 0;
                o->events.high += r->high;
                d = step(p, s, o, AT(r->at));

                cr_assert_eq(d.act, r->act != NONE, "row %zu (t=%gs): act=%d, expected %s", i, r->at, d.act,
                             rung_name(r->act));
                if (r->act != NONE) {
                        cr_assert_eq(d.rung, (Rung) r->act, "row %zu (t=%gs): rung %s, expected %s", i, r->at,
                                     rung_name(d.rung), rung_name(r->act));
                        cr_assert_eq(d.cause, r->cause, "row %zu (t=%gs): cause %s, expected %s", i, r->at,
                                     act_cause_to_string(d.cause), act_cause_to_string(r->cause));
                }
                cr_assert_eq(d.settled, r->settled != NONE, "row %zu (t=%gs): settled=%d, expected %s", i,
                             r->at, d.settled, rung_name(r->settled));
                if (r->settled != NONE) {
                        cr_assert_eq(d.settled_rung, (Rung) r->settled, "row %zu (t=%gs): settled %s", i,
                                     r->at, rung_name(d.settled_rung));
                        cr_assert_eq(d.settled_at_usec, AT(r->settled_at), "row %zu (t=%gs)", i, r->at);
                }
                cr_assert_eq(d.onset, r->onset, "row %zu (t=%gs): onset", i, r->at);
                cr_assert_eq(d.relieved, r->relieved, "row %zu (t=%gs): relieved", i, r->at);
                cr_assert_eq(s->phase, r->phase, "row %zu (t=%gs): phase", i, r->at);
                cr_assert_eq(d.next_step_usec, r->next < 0 ? INF : AT(r->next),
                             "row %zu (t=%gs): next_step %+.3fs, expected %+.3fs", i, r->at,
                             d.next_step_usec == INF ? -1.0 : ((double) d.next_step_usec - T0) / SEC, r->next);
                cr_assert_eq(d.dry_run, p->dry_run, "row %zu: dry_run", i);
                if (ret_decisions)
                        ret_decisions[i] = d;
        }
}
#define RUN(p, s, o, rows) run_script(p, s, o, rows, ELEMENTSOF(rows), NULL)

#define CALM ENGINE_CALM
#define PRES ENGINE_PRESSURE
#define ONSET ACT_CAUSE_ONSET
#define ESC ACT_CAUSE_ESCALATION
#define REP ACT_CAUSE_REPEAT
#define MAXT ACT_CAUSE_MAX_THROTTLE

Test(engine, init)
{
        _cleanup_(engine_state_done) EngineState s = {};

        memset(&s, 0x5a, sizeof(s));
        engine_state_init(&s); /* on garbage: nothing is freed */
        cr_assert_eq(s.phase, ENGINE_CALM);
        cr_assert_eq(s.rung_pos, -1);
        cr_assert_not(s.initialized);
        cr_assert_not(s.settle_pending);
        for (size_t i = 0; i < _RUNG_MAX; i++)
                cr_assert_eq(s.last_run_usec[i], 0);
}

Test(engine, empty_ladder)
{
        Policy p = test_policy(RUNG_ALERT);
        _cleanup_(engine_state_done) EngineState s = {};
        Observation o = test_obs();
        Decision d;

        p.n_ladder = 0;
        state_init(&s);
        cr_assert_eq(engine_step(&p, &s, &o, T0, &d), -EINVAL);
}

Test(engine, no_signal)
{
        Policy p = test_policy(RUNG_DROP_CACHE, RUNG_RECLAIM, RUNG_KILL);
        _cleanup_(engine_state_done) EngineState s = {};
        Observation o = test_obs();

        state_init(&s);
        for (int i = 0; i < 3; i++) {
                Decision d = step(&p, &s, &o, AT(i * 7));

                cr_assert_eq(d.reasons, 0);
                cr_assert_not(d.act);
                cr_assert_not(d.onset);
                cr_assert_not(d.relieved);
                cr_assert_not(d.settled);
                cr_assert_not(d.events_changed);
                cr_assert_not(d.dry_run);
                cr_assert_eq(d.next_step_usec, INF);
                cr_assert_eq(s.phase, ENGINE_CALM);
        }
}

Test(engine, first_step_is_baseline)
{
        Policy p = test_policy(RUNG_DROP_CACHE, RUNG_KILL);
        _cleanup_(engine_state_done) EngineState s = {};
        Observation o = test_obs();
        Decision d;

        p.some_avg10_percent = 10;
        p.full_avg10_percent = 10;
        state_init(&s);

        /* A daemon restart: big counters, big PSI totals, no signal. */
        o.events = (MemoryEvents) { .low = 7, .high = 5000, .max = 300, .oom = 12, .oom_kill = 9,
                                    .oom_group_kill = 1 };
        o.psi.some.total_usec = 3600 * SEC;
        o.psi.full.total_usec = 1800 * SEC;
        d = step(&p, &s, &o, T0);
        cr_assert_eq(d.reasons, 0);
        cr_assert_not(d.act);
        cr_assert_not(d.events_changed);
        cr_assert_eq(d.events_delta.high, 0);
        cr_assert_eq(d.events_delta.oom_kill, 0);
        cr_assert_eq(d.next_step_usec, INF);
        cr_assert(s.initialized);
        cr_assert_eq(s.last_events.high, 5000);

        /* One more high event is the first delta. */
        o.events.high++;
        o.psi.some.total_usec += 10 * MSEC;
        d = step(&p, &s, &o, AT(1));
        cr_assert_eq(d.reasons, REASON_HIGH_EVENT);
        cr_assert(d.events_changed);
        cr_assert_eq(d.events_delta.high, 1);
        cr_assert_eq(d.events_delta.max, 0);
        cr_assert(d.onset);
}

Test(engine, first_step_avg10_signals)
{
        Policy p = test_policy(RUNG_DROP_CACHE, RUNG_KILL);
        _cleanup_(engine_state_done) EngineState s = {};
        Observation o = test_obs();
        Decision d;

        p.some_avg10_percent = 10;
        p.full_avg10_percent = 5;
        state_init(&s);
        o.events = (MemoryEvents) { .high = 5000, .oom_kill = 9 };
        o.psi.some = (PsiLine) { .avg10 = 12.5, .total_usec = 3600 * SEC };
        o.psi.full = (PsiLine) { .avg10 = 4.99, .total_usec = 1800 * SEC };
        d = step(&p, &s, &o, T0);
        cr_assert_eq(d.reasons, REASON_SOME_STALL);
        cr_assert(d.onset);
        cr_assert(d.act);
        cr_assert_eq(d.rung, RUNG_DROP_CACHE);
        cr_assert_eq(d.cause, ACT_CAUSE_ONSET);
        cr_assert_eq(d.next_step_usec, AT(1));

        /* With previous totals the rate counts, not avg10: 0 stall over 1 s. */
        d = step(&p, &s, &o, AT(1));
        cr_assert_eq(d.reasons, 0);
}

Test(engine, onset_on_trigger)
{
        Policy p = test_policy(RUNG_DROP_CACHE, RUNG_RECLAIM);
        _cleanup_(engine_state_done) EngineState s = {};
        Observation o = test_obs();
        Decision d;
        char buf[128];

        state_init(&s);
        step(&p, &s, &o, T0);

        /* The full trigger is not enabled in this policy: its bit is ignored. */
        o.triggers_fired = 1u << PSI_FULL;
        d = step(&p, &s, &o, AT(1));
        cr_assert_eq(d.reasons, 0);
        cr_assert_not(d.onset);

        o.triggers_fired = 1u << PSI_SOME | 1u << PSI_FULL;
        d = step(&p, &s, &o, AT(2));
        cr_assert_eq(d.reasons, REASON_TRIGGER_SOME);
        cr_assert_str_eq(engine_reasons_to_string(d.reasons, buf, sizeof(buf)), "trigger-some");
        cr_assert(d.onset);
        cr_assert(d.act);
        cr_assert_eq(d.rung, RUNG_DROP_CACHE);
        cr_assert_eq(d.cause, ACT_CAUSE_ONSET);
        cr_assert_not(d.settled);
        cr_assert_eq(s.phase, ENGINE_PRESSURE);
        cr_assert_eq(s.pressure_since_usec, AT(2));
        cr_assert_eq(s.rung_pos, 0);
        cr_assert_eq(s.rung_at_usec, AT(2));
        cr_assert(s.settle_pending);
        cr_assert_eq(s.last_run_usec[RUNG_DROP_CACHE], AT(2));
        cr_assert_eq(d.next_step_usec, AT(3));

        p.trigger[PSI_FULL].enabled = true;
        o.triggers_fired = 1u << PSI_FULL;
        d = step(&p, &s, &o, AT(3));
        cr_assert_eq(d.reasons, REASON_TRIGGER_FULL);
        cr_assert_not(d.onset);
        cr_assert_not(d.act);
}

Test(engine, onset_on_high_event)
{
        Policy p = test_policy(RUNG_ALERT);
        _cleanup_(engine_state_done) EngineState s = {};
        Observation o = test_obs();
        Decision d;

        state_init(&s);
        o.events.high = 10;
        step(&p, &s, &o, T0);

        /* HighEvents=no: the delta is reported, but no signal. */
        p.on_high_events = false;
        o.events.high = 13;
        d = step(&p, &s, &o, AT(1));
        cr_assert_eq(d.reasons, 0);
        cr_assert(d.events_changed);
        cr_assert_eq(d.events_delta.high, 3);
        cr_assert_not(d.onset);

        p.on_high_events = true;
        o.events.high = 14;
        d = step(&p, &s, &o, AT(2));
        cr_assert_eq(d.reasons, REASON_HIGH_EVENT);
        cr_assert_eq(d.events_delta.high, 1);
        cr_assert(d.onset);
        cr_assert(d.act);
        cr_assert_eq(d.rung, RUNG_ALERT);
}

/* Table: which memory.events increments signal, per HighEvents=/MaxEvents=. */
Test(engine, event_reasons)
{
        static const struct {
                MemoryEvents delta;
                bool on_high, on_max;
                unsigned reasons;
        } table[] = {
                { { .low = 4 }, true, true, 0 },
                { { .high = 1 }, true, true, REASON_HIGH_EVENT },
                { { .high = 1 }, false, true, 0 },
                { { .max = 2 }, true, true, REASON_MAX_EVENT },
                { { .max = 2 }, true, false, 0 },
                { { .oom = 1 }, false, false, REASON_OOM_EVENT },
                { { .oom_kill = 1 }, false, false, REASON_OOM_KILL },
                { { .oom_group_kill = 1 }, false, false, REASON_OOM_KILL },
                { { .max = 3, .oom = 1, .oom_kill = 2 }, true, true,
                  REASON_MAX_EVENT | REASON_OOM_EVENT | REASON_OOM_KILL },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                Policy p = test_policy(RUNG_ALERT);
                _cleanup_(engine_state_done) EngineState s = {};
                Observation o = test_obs();
                Decision d;

                p.on_high_events = table[i].on_high;
                p.on_max_events = table[i].on_max;
                state_init(&s);
                o.events = (MemoryEvents) { 100, 100, 100, 100, 100, 100 };
                step(&p, &s, &o, T0);
                o.events.low += table[i].delta.low;
                o.events.high += table[i].delta.high;
                o.events.max += table[i].delta.max;
                o.events.oom += table[i].delta.oom;
                o.events.oom_kill += table[i].delta.oom_kill;
                o.events.oom_group_kill += table[i].delta.oom_group_kill;
                d = step(&p, &s, &o, AT(1));
                cr_assert_eq(d.reasons, table[i].reasons, "row %zu: reasons %#x, expected %#x", i, d.reasons,
                             table[i].reasons);
                cr_assert_eq(memcmp(&d.events_delta, &table[i].delta, sizeof(MemoryEvents)), 0, "row %zu", i);
                cr_assert(d.events_changed, "row %zu", i);
                cr_assert_eq(d.onset, table[i].reasons != 0, "row %zu", i);
        }
}

Test(engine, counters_backwards)
{
        Policy p = test_policy(RUNG_ALERT);
        _cleanup_(engine_state_done) EngineState s = {};
        Observation o = test_obs();
        Decision d;

        p.some_avg10_percent = 10;
        state_init(&s);
        o.events = (MemoryEvents) { .high = 100, .max = 5, .oom_kill = 2 };
        o.psi.some.total_usec = 10 * SEC;
        step(&p, &s, &o, T0);

        /* The cgroup was removed and made again: everything restarts near 0. Not a signal. */
        o.events = (MemoryEvents) { .high = 3, .max = 6 };
        o.psi.some = (PsiLine) { .avg10 = 50, .total_usec = 1 * SEC };
        d = step(&p, &s, &o, AT(1));
        cr_assert_eq(d.reasons, 0);
        cr_assert_not(d.events_changed);
        cr_assert_eq(d.events_delta.max, 0);
        cr_assert_not(d.onset);
        cr_assert_eq(s.last_events.high, 3);
        cr_assert_eq(s.last_some_total_usec, 1 * SEC);

        /* From the new baseline on, deltas count again. */
        o.events.high = 4;
        o.psi.some = (PsiLine) { .avg10 = 0, .total_usec = 1 * SEC + 500 * MSEC };
        d = step(&p, &s, &o, AT(2));
        cr_assert_eq(d.reasons, REASON_HIGH_EVENT | REASON_SOME_STALL);
        cr_assert_eq(d.events_delta.high, 1);
        cr_assert(d.onset);
}

/* Table: stall rate from the total= counters between two steps. */
Test(engine, stall_rate)
{
        static const struct {
                usec_t stall, interval;
                double threshold, avg10;
                bool full;
                bool signal;
        } table[] = {
                { 200 * MSEC, 1 * SEC, 10, 0, false, true },
                { 50 * MSEC, 1 * SEC, 10, 0, false, false },
                { 100 * MSEC, 1 * SEC, 10, 0, false, true }, /* at the threshold */
                { 99 * MSEC, 1 * SEC, 10, 0, false, false },
                { 50 * MSEC, 1 * SEC, 10, 90, false, false }, /* avg10 is not looked at with totals */
                { 1 * SEC, 5 * SEC, 20, 0, false, true },
                { 999 * MSEC, 5 * SEC, 20, 0, false, false },
                { 1 * SEC, 1 * SEC, 0, 100, false, false }, /* threshold 0: off */
                { 200 * MSEC, 1 * SEC, 10, 0, true, true },
                { 50 * MSEC, 1 * SEC, 10, 0, true, false },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                Policy p = test_policy(RUNG_ALERT);
                _cleanup_(engine_state_done) EngineState s = {};
                Observation o = test_obs();
                PsiLine *line = table[i].full ? &o.psi.full : &o.psi.some;
                unsigned expect = table[i].full ? REASON_FULL_STALL : REASON_SOME_STALL;
                Decision d;

                if (table[i].full)
                        p.full_avg10_percent = table[i].threshold;
                else
                        p.some_avg10_percent = table[i].threshold;
                state_init(&s);
                line->total_usec = 7 * SEC;
                step(&p, &s, &o, T0);
                line->total_usec += table[i].stall;
                line->avg10 = table[i].avg10;
                d = step(&p, &s, &o, T0 + table[i].interval);
                cr_assert_eq(d.reasons, table[i].signal ? expect : 0, "row %zu: reasons %#x", i, d.reasons);
        }
}

Test(engine, stall_without_psi_or_full)
{
        Policy p = test_policy(RUNG_ALERT);
        _cleanup_(engine_state_done) EngineState s = {};
        Observation o = test_obs();
        Decision d;

        p.some_avg10_percent = 10;
        p.full_avg10_percent = 10;
        state_init(&s);

        /* No PSI in this observation: no stall signal, whatever the numbers. */
        o.has_psi = false;
        o.psi.some = (PsiLine) { .avg10 = 99, .total_usec = 5 * SEC };
        d = step(&p, &s, &o, T0);
        cr_assert_eq(d.reasons, 0);

        /* PSI again: no previous totals, so avg10 counts; the full line is absent. */
        o.has_psi = true;
        o.psi.has_full = false;
        o.psi.full = (PsiLine) { .avg10 = 99 };
        d = step(&p, &s, &o, AT(1));
        cr_assert_eq(d.reasons, REASON_SOME_STALL);
}

/* Table: Usage= against memory.current and memory.max. */
Test(engine, usage_threshold)
{
        static const struct {
                bool is_percent;
                double percent;
                uint64_t bytes;
                uint64_t current, max;
                bool signal;
        } table[] = {
                { true, 90, 0, 899 << 20, 1000 << 20, false },
                { true, 90, 0, 900 << 20, 1000 << 20, true },
                { true, 90, 0, 1000 << 20, 1000 << 20, true },
                { true, 90, 0, 1000 << 20, CGROUP_LIMIT_MAX, false }, /* percent of "max": off */
                { true, 0, 0, 1000 << 20, 1000 << 20, false },        /* 0%: off */
                { false, 0, 500 << 20, 499 << 20, CGROUP_LIMIT_MAX, false },
                { false, 0, 500 << 20, 500 << 20, CGROUP_LIMIT_MAX, true },
                { false, 0, 500 << 20, 600 << 20, 1000 << 20, true },
                { false, 0, 0, 1000 << 20, 1000 << 20, false }, /* 0 bytes: off */
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                Policy p = test_policy(RUNG_ALERT);
                _cleanup_(engine_state_done) EngineState s = {};
                Observation o = test_obs();
                Decision d;

                p.usage = (Quantity) { .is_percent = table[i].is_percent, .percent = table[i].percent,
                                       .bytes = table[i].bytes };
                state_init(&s);
                o.mem.current = table[i].current;
                o.mem.max = table[i].max;
                d = step(&p, &s, &o, T0); /* usage counts on the first step too */
                cr_assert_eq(d.reasons, table[i].signal ? REASON_USAGE : 0, "row %zu", i);
                cr_assert_eq(d.onset, table[i].signal, "row %zu", i);
        }
}

/* alert -> reclaim -> kill while the trigger keeps firing every second. Settle 5s, cooldown 60s. */
static const Row escalation_rows[] = {
        /* at  fire high act          cause  settled  s_at onset  relieved phase next */
        { 0, true, 0, RUNG_DROP_CACHE, ONSET, NONE, 0, true, false, PRES, 1 },
        { 1, true, 0, NONE, 0, NONE, 0, false, false, PRES, 2 },
        { 4, true, 0, NONE, 0, NONE, 0, false, false, PRES, 5 },
        { 5, true, 0, RUNG_RECLAIM, ESC, RUNG_DROP_CACHE, 0, false, false, PRES, 6 },
        { 6, false, 1, NONE, 0, NONE, 0, false, false, PRES, 7 },
        { 10, true, 0, RUNG_KILL, ESC, RUNG_RECLAIM, 5, false, false, PRES, 11 },
        { 11, true, 0, NONE, 0, NONE, 0, false, false, PRES, 12 },
        { 15, false, 0, NONE, 0, RUNG_KILL, 10, false, false, PRES, 16 },
        /* no signal since t=11: calm at t=21 */
        { 20, false, 0, NONE, 0, NONE, 0, false, false, PRES, 21 },
        { 21, false, 0, NONE, 0, NONE, 0, false, true, CALM, -1 },
};

Test(engine, escalation)
{
        Policy p = test_policy(RUNG_DROP_CACHE, RUNG_RECLAIM, RUNG_KILL);
        _cleanup_(engine_state_done) EngineState s = {};
        Observation o = test_obs();

        state_init(&s);
        RUN(&p, &s, &o, escalation_rows);
        cr_assert_eq(s.rung_pos, -1);
        cr_assert_eq(s.last_run_usec[RUNG_DROP_CACHE], AT(0));
        cr_assert_eq(s.last_run_usec[RUNG_RECLAIM], AT(5));
        cr_assert_eq(s.last_run_usec[RUNG_KILL], AT(10));
}

static bool decision_eq_but_dry_run(const Decision *a, const Decision *b)
{
        return a->reasons == b->reasons && a->onset == b->onset && a->relieved == b->relieved &&
               a->pressure_duration_usec == b->pressure_duration_usec && a->act == b->act &&
               (!a->act || (a->rung == b->rung && a->cause == b->cause)) && a->settled == b->settled &&
               (!a->settled || (a->settled_rung == b->settled_rung &&
                                a->settled_at_usec == b->settled_at_usec)) &&
               memcmp(&a->events_delta, &b->events_delta, sizeof(MemoryEvents)) == 0 &&
               a->events_changed == b->events_changed && a->next_step_usec == b->next_step_usec;
}

Test(engine, dry_run_advances_identically)
{
        Policy p = test_policy(RUNG_DROP_CACHE, RUNG_RECLAIM, RUNG_KILL);
        _cleanup_(engine_state_done) EngineState s1 = {};
        _cleanup_(engine_state_done) EngineState s2 = {};
        Observation o1 = test_obs(), o2 = test_obs();
        Decision real[ELEMENTSOF(escalation_rows)], dry[ELEMENTSOF(escalation_rows)];

        state_init(&s1);
        run_script(&p, &s1, &o1, escalation_rows, ELEMENTSOF(escalation_rows), real);
        p.dry_run = true;
        state_init(&s2);
        run_script(&p, &s2, &o2, escalation_rows, ELEMENTSOF(escalation_rows), dry);

        for (size_t i = 0; i < ELEMENTSOF(escalation_rows); i++) {
                cr_assert_not(real[i].dry_run);
                cr_assert(dry[i].dry_run, "row %zu", i);
                cr_assert(decision_eq_but_dry_run(&real[i], &dry[i]), "row %zu differs", i);
        }
        cr_assert_eq(s1.phase, s2.phase);
        cr_assert_eq(s1.rung_pos, s2.rung_pos);
        cr_assert_eq(s1.rung_at_usec, s2.rung_at_usec);
        cr_assert_eq(s1.settle_pending, s2.settle_pending);
        cr_assert_eq(memcmp(s1.last_run_usec, s2.last_run_usec, sizeof(s1.last_run_usec)), 0);
}

Test(engine, no_escalation_when_pressure_stopped)
{
        Policy p = test_policy(RUNG_DROP_CACHE, RUNG_RECLAIM, RUNG_KILL);
        _cleanup_(engine_state_done) EngineState s = {};
        Observation o = test_obs();
        static const Row rows[] = {
                { 0, true, 0, RUNG_DROP_CACHE, ONSET, NONE, 0, true, false, PRES, 1 },
                { 1, false, 0, NONE, 0, NONE, 0, false, false, PRES, 2 },
                /* settle time over, no signal since the alert: report it, do not escalate */
                { 5, false, 0, NONE, 0, RUNG_DROP_CACHE, 0, false, false, PRES, 6 },
                { 9, false, 0, NONE, 0, NONE, 0, false, false, PRES, 10 },
                { 10, false, 0, NONE, 0, NONE, 0, false, true, CALM, -1 },
        };

        state_init(&s);
        RUN(&p, &s, &o, rows);
}

Test(engine, hysteresis_and_duration)
{
        Policy p = test_policy(RUNG_DROP_CACHE, RUNG_KILL);
        _cleanup_(engine_state_done) EngineState s = {};
        Observation o = test_obs();
        Decision d;
        static const Row rows[] = {
                { 0, true, 0, RUNG_DROP_CACHE, ONSET, NONE, 0, true, false, PRES, 1 },
                { 3, true, 0, NONE, 0, NONE, 0, false, false, PRES, 4 },
                { 4, false, 0, NONE, 0, NONE, 0, false, false, PRES, 5 },
                { 12.9, false, 0, NONE, 0, NONE, 0, false, false, PRES, 13 },
        };

        p.rung[RUNG_DROP_CACHE].settle_usec = 30 * SEC; /* no escalation in the way */
        state_init(&s);
        RUN(&p, &s, &o, rows);

        d = step(&p, &s, &o, AT(13));
        cr_assert(d.relieved);
        cr_assert_eq(d.pressure_duration_usec, 3 * SEC); /* last signal - onset */
        cr_assert_eq(s.phase, ENGINE_CALM);
        cr_assert_eq(s.rung_pos, -1);
        cr_assert_not(d.act);
        /* the alert's report is still due: the next step is at its settle deadline */
        cr_assert_eq(d.next_step_usec, AT(30));

        d = step(&p, &s, &o, AT(30));
        cr_assert(d.settled);
        cr_assert_eq(d.settled_rung, RUNG_DROP_CACHE);
        cr_assert_eq(d.settled_at_usec, AT(0));
        cr_assert_not(d.relieved);
        cr_assert_eq(d.next_step_usec, INF);
}

Test(engine, settle_report_after_relief)
{
        Policy p = test_policy(RUNG_RECLAIM);
        _cleanup_(engine_state_done) EngineState s = {};
        Observation o = test_obs();
        static const Row rows[] = {
                { 0, true, 0, RUNG_RECLAIM, ONSET, NONE, 0, true, false, PRES, 1 },
                { 1, false, 0, NONE, 0, NONE, 0, false, false, PRES, 2 },
                { 2, false, 0, NONE, 0, NONE, 0, false, true, CALM, 8 },
                { 8, false, 0, NONE, 0, RUNG_RECLAIM, 0, false, false, CALM, -1 },
                { 9, false, 0, NONE, 0, NONE, 0, false, false, CALM, -1 },
        };

        p.hysteresis_usec = 2 * SEC;
        p.rung[RUNG_RECLAIM].settle_usec = 8 * SEC;
        state_init(&s);
        RUN(&p, &s, &o, rows);
}

Test(engine, cooldown_second_episode_escalates_at_once)
{
        Policy p = test_policy(RUNG_DROP_CACHE, RUNG_RECLAIM, RUNG_KILL);
        _cleanup_(engine_state_done) EngineState s = {};
        Observation o = test_obs();
        static const Row rows[] = {
                { 0, true, 0, RUNG_DROP_CACHE, ONSET, NONE, 0, true, false, PRES, 1 },
                { 5, false, 0, NONE, 0, RUNG_DROP_CACHE, 0, false, false, PRES, 6 },
                { 10, false, 0, NONE, 0, NONE, 0, false, true, CALM, -1 },
                /* alert is in cooldown until t=60: tried at t=0, settled since t=5: reclaim at once */
                { 20, true, 0, RUNG_RECLAIM, ESC, NONE, 0, true, false, PRES, 21 },
                { 25, true, 0, RUNG_KILL, ESC, RUNG_RECLAIM, 20, false, false, PRES, 26 },
        };

        state_init(&s);
        RUN(&p, &s, &o, rows);
}

Test(engine, cooldown_second_episode_waits_settle)
{
        Policy p = test_policy(RUNG_DROP_CACHE, RUNG_RECLAIM, RUNG_KILL);
        _cleanup_(engine_state_done) EngineState s = {};
        Observation o = test_obs();
        static const Row rows[] = {
                { 0, true, 0, RUNG_DROP_CACHE, ONSET, NONE, 0, true, false, PRES, 1 },
                { 1, false, 0, NONE, 0, NONE, 0, false, true, CALM, 5 },
                /* alert in cooldown, tried at t=0, its settle ends at t=5: nothing yet */
                { 2, true, 0, NONE, 0, NONE, 0, true, false, PRES, 3 },
                { 3, true, 0, NONE, 0, NONE, 0, false, false, PRES, 4 },
                { 5, true, 0, RUNG_RECLAIM, ESC, RUNG_DROP_CACHE, 0, false, false, PRES, 6 },
        };

        p.hysteresis_usec = 1 * SEC;
        state_init(&s);
        RUN(&p, &s, &o, rows);
        cr_assert_eq(s.rung_pos, 1);
        cr_assert_eq(s.last_run_usec[RUNG_DROP_CACHE], AT(0)); /* not rerun at t=2 */
}

Test(engine, cooldown_cascades_to_last_rung_in_cooldown)
{
        Policy p = test_policy(RUNG_DROP_CACHE, RUNG_KILL);
        _cleanup_(engine_state_done) EngineState s = {};
        Observation o = test_obs();
        static const Row rows[] = {
                { 0, true, 0, RUNG_DROP_CACHE, ONSET, NONE, 0, true, false, PRES, 1 },
                { 5, true, 0, RUNG_KILL, ESC, RUNG_DROP_CACHE, 0, false, false, PRES, 6 },
                { 10, false, 0, NONE, 0, RUNG_KILL, 5, false, false, PRES, 11 },
                { 15, false, 0, NONE, 0, NONE, 0, false, true, CALM, -1 },
                /* both in cooldown: nothing runs; kill repeats once its cooldown ends (t=65) */
                { 30, true, 0, NONE, 0, NONE, 0, true, false, PRES, 31 },
                { 64, true, 0, NONE, 0, NONE, 0, false, false, PRES, 65 },
                { 65, true, 0, RUNG_KILL, REP, NONE, 0, false, false, PRES, 66 },
        };

        state_init(&s);
        RUN(&p, &s, &o, rows);
}

Test(engine, last_rung_repeats_after_cooldown)
{
        Policy p = test_policy(RUNG_DROP_CACHE, RUNG_KILL);
        _cleanup_(engine_state_done) EngineState s = {};
        Observation o = test_obs();
        static const Row rows[] = {
                { 0, true, 0, RUNG_DROP_CACHE, ONSET, NONE, 0, true, false, PRES, 1 },
                { 5, true, 0, RUNG_KILL, ESC, RUNG_DROP_CACHE, 0, false, false, PRES, 6 },
                { 6, true, 0, NONE, 0, NONE, 0, false, false, PRES, 7 },
                { 10, true, 0, NONE, 0, RUNG_KILL, 5, false, false, PRES, 11 },
                { 34, true, 0, NONE, 0, NONE, 0, false, false, PRES, 35 },
                { 35, true, 0, RUNG_KILL, REP, NONE, 0, false, false, PRES, 36 },
                { 36, true, 0, NONE, 0, NONE, 0, false, false, PRES, 37 },
                { 40, true, 0, NONE, 0, RUNG_KILL, 35, false, false, PRES, 41 },
        };

        p.rung[RUNG_KILL].cooldown_usec = 30 * SEC;
        state_init(&s);
        RUN(&p, &s, &o, rows);
}

Test(engine, single_rung_alert_repeats)
{
        Policy p = test_policy(RUNG_ALERT);
        _cleanup_(engine_state_done) EngineState s = {};
        Observation o = test_obs();
        static const Row rows[] = {
                /* sample interval 60s: next_step comes from the deadlines */
                { 0, true, 0, RUNG_ALERT, ONSET, NONE, 0, true, false, PRES, 5 },
                { 5, true, 0, NONE, 0, RUNG_ALERT, 0, false, false, PRES, 15 },
                { 15, true, 0, NONE, 0, NONE, 0, false, false, PRES, 25 },
                { 25, true, 0, NONE, 0, NONE, 0, false, false, PRES, 30 },
                { 30, true, 0, RUNG_ALERT, REP, NONE, 0, false, false, PRES, 35 },
                { 35, false, 0, NONE, 0, RUNG_ALERT, 30, false, false, PRES, 40 },
                { 40, false, 0, NONE, 0, NONE, 0, false, true, CALM, -1 },
        };

        p.sample_interval_usec = 60 * SEC;
        p.rung[RUNG_ALERT].cooldown_usec = 30 * SEC;
        state_init(&s);
        RUN(&p, &s, &o, rows);
}

Test(engine, max_throttle)
{
        Policy p = test_policy(RUNG_DROP_CACHE, RUNG_RECLAIM, RUNG_KILL);
        _cleanup_(engine_state_done) EngineState s = {};
        Observation o = test_obs();
        static const Row rows[] = {
                /* next: min(onset + 5s sample, max throttle at 8s) */
                { 0, true, 0, RUNG_DROP_CACHE, ONSET, NONE, 0, true, false, PRES, 5 },
                { 4, true, 0, NONE, 0, NONE, 0, false, false, PRES, 8 },
                /* the alert's report comes early, with the kill */
                { 8, true, 0, RUNG_KILL, MAXT, RUNG_DROP_CACHE, 0, false, false, PRES, 13 },
                { 13, true, 0, NONE, 0, NONE, 0, false, false, PRES, 18 },
                { 38, false, 0, NONE, 0, RUNG_KILL, 8, false, false, PRES, 43 },
        };

        p.sample_interval_usec = 5 * SEC;
        p.hysteresis_usec = 30 * SEC;
        p.max_throttle_usec = 8 * SEC;
        for (size_t i = 0; i < _RUNG_MAX; i++)
                p.rung[i].settle_usec = 30 * SEC;
        state_init(&s);
        RUN(&p, &s, &o, rows);
        cr_assert(s.throttle_escalated);
        cr_assert_eq(s.rung_pos, 2);
        cr_assert_eq(s.last_run_usec[RUNG_RECLAIM], 0); /* skipped */
}

Test(engine, max_throttle_not_after_relief_by_rung)
{
        Policy p = test_policy(RUNG_DROP_CACHE, RUNG_KILL);
        _cleanup_(engine_state_done) EngineState s = {};
        Observation o = test_obs();
        static const Row rows[] = {
                { 0, true, 0, RUNG_DROP_CACHE, ONSET, NONE, 0, true, false, PRES, 1 },
                /* the alert stopped the signals: MaxThrottle does not override it */
                { 8, false, 0, NONE, 0, NONE, 0, false, false, PRES, 9 },
                { 19, false, 0, NONE, 0, NONE, 0, false, false, PRES, 20 },
                { 20, false, 0, NONE, 0, NONE, 0, false, true, CALM, 30 },
        };

        p.hysteresis_usec = 20 * SEC;
        p.max_throttle_usec = 8 * SEC;
        p.rung[RUNG_DROP_CACHE].settle_usec = 30 * SEC;
        state_init(&s);
        RUN(&p, &s, &o, rows);
        cr_assert_not(s.throttle_escalated);
}

Test(engine, max_throttle_last_rung_in_cooldown)
{
        Policy p = test_policy(RUNG_DROP_CACHE, RUNG_RECLAIM, RUNG_KILL);
        _cleanup_(engine_state_done) EngineState s = {};
        Observation o = test_obs();
        static const Row rows[] = {
                { 0, true, 0, RUNG_DROP_CACHE, ONSET, NONE, 0, true, false, PRES, 1 },
                /* kill is in cooldown (ran at t=-10 s): entered without acting, repeats at t=50 */
                { 8, true, 0, NONE, 0, NONE, 0, false, false, PRES, 9 },
                { 30, true, 0, NONE, 0, RUNG_DROP_CACHE, 0, false, false, PRES, 31 },
                { 49, true, 0, NONE, 0, NONE, 0, false, false, PRES, 50 },
                { 50, true, 0, RUNG_KILL, REP, NONE, 0, false, false, PRES, 51 },
        };

        p.max_throttle_usec = 8 * SEC;
        for (size_t i = 0; i < _RUNG_MAX; i++)
                p.rung[i].settle_usec = 30 * SEC;
        state_init(&s);
        s.last_run_usec[RUNG_KILL] = T0 - 10 * SEC;
        RUN(&p, &s, &o, rows);
        cr_assert(s.throttle_escalated);
        cr_assert_eq(s.last_run_usec[RUNG_RECLAIM], 0);
}

Test(engine, next_step_values)
{
        Policy p = test_policy(RUNG_DROP_CACHE, RUNG_KILL);
        _cleanup_(engine_state_done) EngineState s = {};
        Observation o = test_obs();
        static const Row rows[] = {
                { 0, false, 0, NONE, 0, NONE, 0, false, false, CALM, -1 },
                /* min(sample t=12, hysteresis t=13, settle t=15) */
                { 10, true, 0, RUNG_DROP_CACHE, ONSET, NONE, 0, true, false, PRES, 12 },
                { 12, false, 0, NONE, 0, NONE, 0, false, false, PRES, 13 },
                /* calm, but the settle report is due at t=15 */
                { 13, false, 0, NONE, 0, NONE, 0, false, true, CALM, 15 },
                { 15, false, 0, NONE, 0, RUNG_DROP_CACHE, 10, false, false, CALM, -1 },
        };

        p.sample_interval_usec = 2 * SEC;
        p.hysteresis_usec = 3 * SEC;
        state_init(&s);
        RUN(&p, &s, &o, rows);
}

Test(engine, settle_zero_reports_next_step)
{
        Policy p = test_policy(RUNG_ALERT);
        _cleanup_(engine_state_done) EngineState s = {};
        Observation o = test_obs();
        static const Row rows[] = {
                /* Settle=0: the report is due now; step again at once */
                { 0, true, 0, RUNG_ALERT, ONSET, NONE, 0, true, false, PRES, 0 },
                { 0, false, 0, NONE, 0, RUNG_ALERT, 0, false, false, PRES, 1 },
        };

        p.rung[RUNG_ALERT].settle_usec = 0;
        state_init(&s);
        RUN(&p, &s, &o, rows);
}

Test(engine, clock_backwards)
{
        Policy p = test_policy(RUNG_ALERT);
        _cleanup_(engine_state_done) EngineState s = {};
        Observation o = test_obs();
        Decision d;

        p.some_avg10_percent = 10;
        state_init(&s);
        o.psi.some.total_usec = SEC;
        step(&p, &s, &o, AT(10));
        o.psi.some = (PsiLine) { .avg10 = 5, .total_usec = 2 * SEC };
        d = step(&p, &s, &o, AT(5)); /* no time elapsed: avg10, under the threshold */
        cr_assert_eq(d.reasons, 0);
        cr_assert_eq(s.last_step_usec, AT(10));
}

Test(engine, reasons_to_string)
{
        static const struct {
                unsigned reasons;
                size_t size;
                const char *s;
        } table[] = {
                { 0, 64, "none" },
                { REASON_TRIGGER_SOME, 64, "trigger-some" },
                { REASON_TRIGGER_SOME | REASON_HIGH_EVENT, 64, "trigger-some,high-event" },
                { REASON_TRIGGER_FULL | REASON_SOME_STALL | REASON_FULL_STALL, 64,
                  "trigger-full,some-stall,full-stall" },
                { REASON_MAX_EVENT | REASON_OOM_EVENT | REASON_OOM_KILL | REASON_USAGE, 64,
                  "max-event,oom-event,oom-kill,usage" },
                { REASON_TRIGGER_SOME | REASON_HIGH_EVENT, 16, "trigger-some" }, /* truncated */
                { REASON_TRIGGER_SOME, 5, "" },
                { 0, 3, "no" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                char buf[64];

                memset(buf, 'x', sizeof(buf));
                cr_assert_eq(engine_reasons_to_string(table[i].reasons, buf, table[i].size), buf);
                cr_assert_str_eq(buf, table[i].s, "row %zu: \"%s\"", i, buf);
        }
}

Test(engine, act_cause_to_string)
{
        cr_assert_str_eq(act_cause_to_string(ACT_CAUSE_ONSET), "onset");
        cr_assert_str_eq(act_cause_to_string(ACT_CAUSE_ESCALATION), "escalation");
        cr_assert_str_eq(act_cause_to_string(ACT_CAUSE_REPEAT), "repeat");
        cr_assert_str_eq(act_cause_to_string(ACT_CAUSE_MAX_THROTTLE), "max-throttle");
        cr_assert_null(act_cause_to_string((ActCause) 5));
        cr_assert_null(act_cause_to_string((ActCause) -1));
}

/* ---------------------------------------------------------------------------------------------------- */
/* Prediction: growth rate, time to the limit, and the restart-before-the-limit rule. */

#define MIB (1024.0 * 1024.0)

Test(growth, rate_needs_samples_and_span)
{
        GrowthTracker g;
        double rate;

        growth_reset(&g);
        cr_assert_eq(growth_rate(&g, &rate), -ENODATA);
        growth_add(&g, AT(0), 100);
        growth_add(&g, AT(1), 200);
        cr_assert_eq(growth_rate(&g, &rate), -ENODATA, "two samples are not enough");
        growth_reset(&g);
        for (int i = 0; i < 5; i++)
                growth_add(&g, AT(0) + i * 100 * MSEC, 100 * i);
        cr_assert_eq(growth_rate(&g, &rate), -ENODATA, "0.4 s is too short a span");
        growth_add(&g, AT(0.5), 500);
        cr_assert_eq(growth_rate(&g, &rate), 0);
        cr_assert_float_eq(rate, 1000.0, 1e-6);
}

Test(growth, least_squares_and_ring)
{
        GrowthTracker g;
        double rate;

        growth_reset(&g);
        /* Noisy but linear: +1 MiB/s with +-64 KiB alternating. */
        for (int i = 0; i < 10; i++)
                growth_add(&g, AT(i), (uint64_t) (50 * MIB + i * MIB + (i % 2 ? 65536 : -65536)));
        cr_assert_eq(growth_rate(&g, &rate), 0);
        cr_assert_float_eq(rate, MIB, 0.05 * MIB);

        /* The ring keeps the last GROWTH_SAMPLES_MAX: a flat past is forgotten. */
        growth_reset(&g);
        for (int i = 0; i < 40; i++)
                growth_add(&g, AT(i), (uint64_t) (i < 20 ? 50 * MIB : 50 * MIB + (i - 19) * 2 * MIB));
        cr_assert_eq(g.n, GROWTH_SAMPLES_MAX);
        cr_assert_eq(growth_rate(&g, &rate), 0);
        cr_assert_float_eq(rate, 2 * MIB, 1e-3);

        /* Shrinking: negative. */
        growth_reset(&g);
        for (int i = 0; i < 4; i++)
                growth_add(&g, AT(i), (uint64_t) (100 * MIB - i * MIB));
        cr_assert_eq(growth_rate(&g, &rate), 0);
        cr_assert_float_eq(rate, -MIB, 1e-3);
}

Test(growth, time_to_limit)
{
        cr_assert_eq(growth_time_to_limit(100, 1100, 100.0), 10 * SEC);
        cr_assert_eq(growth_time_to_limit(1100, 1100, 100.0), 0, "at the limit");
        cr_assert_eq(growth_time_to_limit(2000, 1100, 100.0), 0, "above the limit (memory.high)");
        cr_assert_eq(growth_time_to_limit(100, 1100, 0.0), INF, "flat");
        cr_assert_eq(growth_time_to_limit(100, 1100, -5.0), INF, "shrinking");
        cr_assert_eq(growth_time_to_limit(100, CGROUP_LIMIT_MAX, 100.0), INF, "no limit");
        cr_assert_eq(growth_time_to_limit(0, UINT64_MAX - 1, 1e-12), INF, "no overflow");

        CgroupMemory m = { .max = 128 << 20, .high = 100 << 20 };
        cr_assert_eq(growth_limit(&m), 128u << 20, "memory.max first");
        m.max = CGROUP_LIMIT_MAX;
        cr_assert_eq(growth_limit(&m), 100u << 20, "memory.high when max is unlimited");
        m.high = CGROUP_LIMIT_MAX;
        cr_assert_eq(growth_limit(&m), CGROUP_LIMIT_MAX);
}

typedef struct ExpectAct {
        int step;            /* 1 s apart, step 0 is the onset; -1 ends the list */
        Rung rung;
        ActCause cause;
} ExpectAct;

typedef struct PredictCase {
        const char *name;
        Rung ladder[_RUNG_MAX];
        size_t n_ladder;
        usec_t lead_usec;
        usec_t settle_usec[_RUNG_MAX]; /* 0: 100 s (no escalation by settle in the window) */
        uint64_t max, high;
        double start_mib, mib_per_sec;
        int refuse_at;       /* call engine_rung_refused() after this step; -1: never */
        int steps;
        ExpectAct expect[6]; /* every action in order (the onset's first rung included) */
} PredictCase;

#define M128 ((uint64_t) 128 << 20)
#define NOLIM CGROUP_LIMIT_MAX
#define L(...) .ladder = { __VA_ARGS__ }, .n_ladder = ELEMENTSOF(((Rung[]) { __VA_ARGS__ }))
#define PRED ACT_CAUSE_PREDICTED

static const PredictCase predict_cases[] = {
        { "fast leak: restart as soon as the rate is known (3 samples)", L(RUNG_DROP_CACHE, RUNG_RESTART, RUNG_KILL),
          30 * SEC, {}, M128, NOLIM, 60, 4, -1, 10,
          { { 0, RUNG_DROP_CACHE, ONSET }, { 2, RUNG_RESTART, PRED }, { -1 } } },
        { "slow leak: restart once the limit is nearer than LeadTime=", L(RUNG_DROP_CACHE, RUNG_RESTART, RUNG_KILL),
          30 * SEC, {}, M128, NOLIM, 60.5, 1, -1, 45,
          /* t=38: 98.5 MiB, 29.5 s to 128 MiB; t=37: 30.5 s */
          { { 0, RUNG_DROP_CACHE, ONSET }, { 38, RUNG_RESTART, PRED }, { -1 } } },
        { "flat: no prediction, ordinary escalation after Settle=", L(RUNG_DROP_CACHE, RUNG_RESTART, RUNG_KILL),
          30 * SEC, { [RUNG_DROP_CACHE] = 20 * SEC }, M128, NOLIM, 100, 0, -1, 25,
          { { 0, RUNG_DROP_CACHE, ONSET }, { 20, RUNG_RESTART, ESC }, { -1 } } },
        { "shrinking: no prediction", L(RUNG_DROP_CACHE, RUNG_RESTART, RUNG_KILL), 30 * SEC, {}, M128, NOLIM, 120, -1,
          -1, 20, { { 0, RUNG_DROP_CACHE, ONSET }, { -1 } } },
        { "LeadTime=off", L(RUNG_DROP_CACHE, RUNG_RESTART, RUNG_KILL), 0, {}, M128, NOLIM, 60, 4, -1, 10,
          { { 0, RUNG_DROP_CACHE, ONSET }, { -1 } } },
        { "no restart in the ladder", L(RUNG_DROP_CACHE, RUNG_RECLAIM, RUNG_KILL), 30 * SEC, {}, M128, NOLIM, 60, 4,
          -1, 10, { { 0, RUNG_DROP_CACHE, ONSET }, { -1 } } },
        { "unlimited: nothing to predict", L(RUNG_DROP_CACHE, RUNG_RESTART, RUNG_KILL), 30 * SEC, {}, NOLIM, NOLIM,
          60, 4, -1, 10, { { 0, RUNG_DROP_CACHE, ONSET }, { -1 } } },
        { "memory.high when memory.max is unlimited", L(RUNG_DROP_CACHE, RUNG_RESTART, RUNG_KILL), 30 * SEC, {},
          NOLIM, M128, 60, 4, -1, 10, { { 0, RUNG_DROP_CACHE, ONSET }, { 2, RUNG_RESTART, PRED }, { -1 } } },
        { "already above memory.high: 0 s left", L(RUNG_DROP_CACHE, RUNG_RESTART), 30 * SEC, {}, NOLIM, 64 << 20,
          100, 0.5, -1, 5, { { 0, RUNG_DROP_CACHE, ONSET }, { 2, RUNG_RESTART, PRED }, { -1 } } },
        { "gentler rungs are still climbed one by one", L(RUNG_DROP_CACHE, RUNG_TRIM, RUNG_RESTART, RUNG_KILL),
          30 * SEC, { [RUNG_DROP_CACHE] = 5 * SEC }, M128, NOLIM, 60, 4, -1, 10,
          { { 0, RUNG_DROP_CACHE, ONSET }, { 5, RUNG_TRIM, ESC }, { 6, RUNG_RESTART, PRED }, { -1 } } },
        { "restart first: the onset takes it", L(RUNG_RESTART, RUNG_KILL), 30 * SEC, {}, M128, NOLIM, 60, 4, -1,
          10, { { 0, RUNG_RESTART, ONSET }, { -1 } } },
        { "refused (rate-limited): the last rung at the next step", L(RUNG_DROP_CACHE, RUNG_RESTART, RUNG_KILL),
          30 * SEC, {}, M128, NOLIM, 60, 4, 2, 10,
          { { 0, RUNG_DROP_CACHE, ONSET }, { 2, RUNG_RESTART, PRED }, { 3, RUNG_KILL, ESC }, { -1 } } },
        { "refused at the last rung: nothing more", L(RUNG_DROP_CACHE, RUNG_RESTART), 30 * SEC, {}, M128, NOLIM, 60, 4,
          2, 10, { { 0, RUNG_DROP_CACHE, ONSET }, { 2, RUNG_RESTART, PRED }, { -1 } } },
};

Test(engine, predicted_restart_table)
{
        for (size_t c = 0; c < ELEMENTSOF(predict_cases); c++) {
                const PredictCase *pc = predict_cases + c;
                Policy p = test_policy_n(pc->ladder, pc->n_ladder);
                _cleanup_(engine_state_done) EngineState s = {};
                Observation o = test_obs();
                size_t next = 0;

                p.restart_lead_usec = pc->lead_usec;
                p.usage = (Quantity) { .is_percent = false, .bytes = 1 }; /* a signal in every step */
                for (size_t r = 0; r < _RUNG_MAX; r++)
                        p.rung[r].settle_usec = pc->settle_usec[r] ?: 100 * SEC;
                o.mem.max = pc->max;
                o.mem.high = pc->high;
                state_init(&s);

                for (int i = 0; i < pc->steps; i++) {
                        o.mem.current = (uint64_t) ((pc->start_mib + pc->mib_per_sec * i) * MIB);
                        Decision d = step(&p, &s, &o, AT(i));
                        const ExpectAct *e = pc->expect + next;

                        if (d.act) {
                                cr_assert_neq(e->step, -1, "%s: step %d: unexpected %s (%s)", pc->name, i,
                                              rung_name(d.rung), act_cause_to_string(d.cause));
                                cr_assert_eq(i, e->step, "%s: %s at step %d, expected step %d", pc->name,
                                             rung_name(d.rung), i, e->step);
                                cr_assert_eq(d.rung, e->rung, "%s: step %d: %s, expected %s", pc->name, i,
                                             rung_name(d.rung), rung_name(e->rung));
                                cr_assert_eq(d.cause, e->cause, "%s: step %d: cause %s, expected %s", pc->name, i,
                                             act_cause_to_string(d.cause), act_cause_to_string(e->cause));
                                if (d.cause == ACT_CAUSE_PREDICTED) {
                                        cr_assert_lt(d.time_to_limit_usec, pc->lead_usec, "%s", pc->name);
                                        cr_assert_eq(s.time_to_limit_usec, d.time_to_limit_usec);
                                        cr_assert_neq(d.limit_bytes, CGROUP_LIMIT_MAX);
                                }
                                next++;
                        } else
                                cr_assert(e->step == -1 || e->step != i, "%s: step %d: expected %s, nothing acted",
                                          pc->name, i, rung_name(e->rung));
                        if (i == pc->refuse_at)
                                engine_rung_refused(&s);
                }
                cr_assert_eq(pc->expect[next].step, -1, "%s: %s at step %d never came", pc->name,
                             rung_name(pc->expect[next].rung), pc->expect[next].step);
        }
}

Test(engine, prediction_reset_at_onset_and_calm)
{
        Policy p = test_policy(RUNG_DROP_CACHE, RUNG_RESTART, RUNG_KILL);
        _cleanup_(engine_state_done) EngineState s = {};
        Observation o = test_obs();
        Decision d;

        p.restart_lead_usec = 30 * SEC;
        o.mem.max = M128;
        state_init(&s);
        cr_assert_eq(s.time_to_limit_usec, INF);

        /* Calm steps add no samples. */
        for (int i = 0; i < 5; i++) {
                o.mem.current = (uint64_t) ((40 + 10 * i) * MIB);
                d = step(&p, &s, &o, AT(i));
                cr_assert_eq(d.time_to_limit_usec, INF);
        }
        cr_assert_null(s.growth, "no samples while calm");

        /* Onset: the first sample; no rate yet. */
        o.triggers_fired = 1u << PSI_SOME;
        d = step(&p, &s, &o, AT(5));
        cr_assert(d.onset);
        cr_assert_eq(s.growth->n, 1);
        cr_assert_eq(d.time_to_limit_usec, INF);

        /* Relief after the hysteresis (no signal), then a new onset starts from scratch. */
        o.triggers_fired = 0;
        d = step(&p, &s, &o, AT(6));
        d = step(&p, &s, &o, AT(16));
        cr_assert(d.relieved);
        o.triggers_fired = 1u << PSI_SOME;
        d = step(&p, &s, &o, AT(20));
        cr_assert(d.onset);
        cr_assert_eq(s.growth->n, 1, "the samples of the last episode are gone");
        cr_assert_not(s.refused);
}

Test(engine, refused_outside_pressure_is_noop)
{
        _cleanup_(engine_state_done) EngineState s = {};

        state_init(&s);
        engine_rung_refused(&s);
        cr_assert_not(s.refused);
}

Test(engine, act_cause_predicted)
{
        cr_assert_str_eq(act_cause_to_string(ACT_CAUSE_PREDICTED), "predicted");
}

/* Grace: signals in the first half of a rung's settle time are its effect setting in (a trim, throttled
 * tasks draining), not a failure: no escalation. Signals in the second half are. */
Test(engine, grace_first_half_of_settle)
{
        Policy p = test_policy(RUNG_TRIM, RUNG_KILL);
        _cleanup_(engine_state_done) EngineState s = {};
        Observation o = test_obs();
        static const Row rows[] = {
                { 0, true, 0, RUNG_TRIM, ONSET, NONE, 0, true, false, PRES, 1 },
                /* still throttled 1 s and 1.9 s after the trim: grace (settle 4 s) */
                { 1, true, 0, NONE, 0, NONE, 0, false, false, PRES, 2 },
                { 2, false, 0, NONE, 0, NONE, 0, false, false, PRES, 3 },
                { 3, false, 0, NONE, 0, NONE, 0, false, false, PRES, 4 },
                /* settle over: report, no kill */
                { 4, false, 0, NONE, 0, RUNG_TRIM, 0, false, false, PRES, 5 },
                { 11, false, 0, NONE, 0, NONE, 0, false, true, CALM, -1 },
        };

        p.sample_interval_usec = 1 * SEC;
        p.hysteresis_usec = 10 * SEC;
        p.max_throttle_usec = 0;
        p.rung[RUNG_TRIM].settle_usec = 4 * SEC;
        state_init(&s);
        RUN(&p, &s, &o, rows);
        cr_assert_eq(s.last_run_usec[RUNG_KILL], 0, "a successful trim was escalated to a kill");
}

Test(engine, grace_over_signal_in_second_half_escalates)
{
        Policy p = test_policy(RUNG_TRIM, RUNG_KILL);
        _cleanup_(engine_state_done) EngineState s = {};
        Observation o = test_obs();
        static const Row rows[] = {
                { 0, true, 0, RUNG_TRIM, ONSET, NONE, 0, true, false, PRES, 1 },
                { 1, true, 0, NONE, 0, NONE, 0, false, false, PRES, 2 },
                { 3, true, 0, NONE, 0, NONE, 0, false, false, PRES, 4 },
                { 4, true, 0, RUNG_KILL, ESC, RUNG_TRIM, 0, false, false, PRES, 5 },
        };

        p.sample_interval_usec = 1 * SEC;
        p.hysteresis_usec = 10 * SEC;
        p.max_throttle_usec = 0;
        p.rung[RUNG_TRIM].settle_usec = 4 * SEC;
        state_init(&s);
        RUN(&p, &s, &o, rows);
}

/* ---------------------------------------------------------------------------------------------------- */
/* The brake and the ladder's ability to act (policy-engine.h, "Alert costs no time", "Failed", "The brake") */

Test(engine, alert_in_front_costs_no_time)
{
        Policy p = test_policy(RUNG_ALERT, RUNG_TRIM, RUNG_KILL);
        _cleanup_(engine_state_done) EngineState s = {};
        Observation o = test_obs();
        state_init(&s);

        o.triggers_fired = 1u << PSI_SOME;
        Decision d = step(&p, &s, &o, AT(0));
        cr_assert(d.onset);
        cr_assert(d.act, "the onset acts");
        cr_assert_eq(d.rung, RUNG_TRIM, "the first rung that can free memory acts at onset, not the alert");
        cr_assert_eq(d.cause, ACT_CAUSE_ONSET);
        cr_assert_eq(s.rung_pos, 1);
        /* Its settle time is trim's, not alert's. */
        cr_assert_eq(d.next_step_usec, AT(1), "SampleInterval=1s");

        /* An alert that is the whole ladder still acts. */
        Policy q = test_policy(RUNG_ALERT);
        state_init(&s);
        d = step(&q, &s, &o, AT(0));
        cr_assert(d.act);
        cr_assert_eq(d.rung, RUNG_ALERT);
}

Test(engine, failed_rung_escalates_at_once)
{
        Policy p = test_policy(RUNG_DROP_CACHE, RUNG_RECLAIM, RUNG_KILL);
        _cleanup_(engine_state_done) EngineState s = {};
        Observation o = test_obs();
        state_init(&s);

        o.triggers_fired = 1u << PSI_SOME;
        Decision d = step(&p, &s, &o, AT(0));
        cr_assert(d.act && d.rung == RUNG_DROP_CACHE);
        engine_rung_result(&s, RUNG_DROP_CACHE, -ESRCH);

        /* Settle= is 5 s, but a failed rung cannot relieve: the next one at the next step with a signal. */
        d = step(&p, &s, &o, AT(1));
        cr_assert(d.act, "escalated after a failure without waiting 5 s");
        cr_assert_eq(d.rung, RUNG_RECLAIM);
        cr_assert_eq(d.cause, ACT_CAUSE_ESCALATION);

        /* A success waits for its settle time as before. */
        engine_rung_result(&s, RUNG_RECLAIM, 0);
        d = step(&p, &s, &o, AT(2));
        cr_assert_not(d.act);
        d = step(&p, &s, &o, AT(6));
        cr_assert(d.act && d.rung == RUNG_KILL);

        /* A new episode forgets the failures. */
        engine_rung_result(&s, RUNG_KILL, -EIO);
        o.triggers_fired = 0;
        bool relieved = false;
        for (int t = 7; t <= 17 && !relieved; t++)
                relieved = step(&p, &s, &o, AT(t)).relieved;
        cr_assert(relieved);
        cr_assert_eq(s.last_result[RUNG_KILL], 0, "results are per episode");
}

Test(engine, relax_brake_only_for_process_work)
{
        Policy p = test_policy(RUNG_TRIM, RUNG_RECLAIM, RUNG_RESTART, RUNG_KILL);
        _cleanup_(engine_state_done) EngineState s = {};
        Observation o = test_obs();
        state_init(&s);

        o.brake_active = true;
        o.triggers_fired = 1u << PSI_SOME;
        Decision d = step(&p, &s, &o, AT(0));
        cr_assert(d.act && d.rung == RUNG_TRIM);
        cr_assert(d.relax_brake, "trim runs the allocator's own code: lift the brake for it");
        d = step(&p, &s, &o, AT(5));
        cr_assert(d.act && d.rung == RUNG_RECLAIM);
        cr_assert_not(d.relax_brake, "the kernel reclaims for memory.reclaim's writer: no relief needed");
        d = step(&p, &s, &o, AT(10));
        cr_assert(d.act && d.rung == RUNG_RESTART);
        cr_assert(d.relax_brake, "a graceful stop runs the service's own code");
        d = step(&p, &s, &o, AT(15));
        cr_assert(d.act && d.rung == RUNG_KILL);
        cr_assert_not(d.relax_brake);

        /* No brake, no relief. */
        state_init(&s);
        o.brake_active = false;
        d = step(&p, &s, &o, AT(100));
        cr_assert(d.act && d.rung == RUNG_TRIM);
        cr_assert_not(d.relax_brake);
}

/* Steps every second with a signal until t_end; returns the time of the release, or -1. */
static double run_until_release(const Policy *p, EngineState *s, Observation *o, double t0, double t_end,
                                BrakeRelease *ret_why)
{
        for (double t = t0; t <= t_end; t += 1) {
                o->triggers_fired = 1u << PSI_SOME;
                Decision d = step(p, s, o, AT(t));
                if (d.release_brake) {
                        o->brake_active = false;
                        *ret_why = d.release_reason;
                        return t;
                }
        }
        return -1;
}

Test(engine, brake_released_when_nothing_can_free)
{
        Policy p = test_policy(RUNG_ALERT);
        _cleanup_(engine_state_done) EngineState s = {};
        Observation o = test_obs();
        BrakeRelease why = BRAKE_RELEASE_NONE;
        state_init(&s);
        p.max_throttle_usec = 10 * SEC;
        o.brake_active = true;

        double t = run_until_release(&p, &s, &o, 0, 60, &why);
        cr_assert_eq(t, 10, "released at MaxThrottle=10s, not before and not later (got %g)", t);
        cr_assert_eq(why, BRAKE_RELEASE_NOTHING_FREES);
        cr_assert_str_eq(brake_release_to_string(why), "nothing-frees");
        cr_assert(s.brake_released);

        /* Not again while released; re-armed with the relief. */
        Decision d = step(&p, &s, &o, AT(11));
        cr_assert_not(d.release_brake);
        o.triggers_fired = 0;
        bool rearmed = false;
        for (int k = 12; k <= 30 && !rearmed; k++) {
                d = step(&p, &s, &o, AT(k));
                rearmed = d.rearm_brake;
                if (rearmed)
                        cr_assert(d.relieved, "re-armed only when calm again");
        }
        cr_assert(rearmed);
        cr_assert_not(s.brake_released);

        /* MaxThrottle=off: at once. */
        state_init(&s);
        p.max_throttle_usec = 0;
        o.brake_active = true;
        t = run_until_release(&p, &s, &o, 100, 160, &why);
        cr_assert_eq(t, 100, "MaxThrottle=off: the brake goes as soon as nothing can act");
}

Test(engine, brake_released_when_last_rung_fails)
{
        Policy p = test_policy(RUNG_ALERT, RUNG_KILL);
        _cleanup_(engine_state_done) EngineState s = {};
        Observation o = test_obs();
        BrakeRelease why = BRAKE_RELEASE_NONE;
        state_init(&s);
        p.max_throttle_usec = 10 * SEC;
        o.brake_active = true;

        o.triggers_fired = 1u << PSI_SOME;
        Decision d = step(&p, &s, &o, AT(0));
        cr_assert(d.act && d.rung == RUNG_KILL);
        engine_rung_result(&s, RUNG_KILL, -ESRCH); /* e.g. no process to kill */
        double t = run_until_release(&p, &s, &o, 1, 60, &why);
        cr_assert_eq(t, 10);
        cr_assert_eq(why, BRAKE_RELEASE_FAILED);
}

Test(engine, brake_released_when_last_rung_spent)
{
        Policy p = test_policy(RUNG_ALERT, RUNG_KILL);
        _cleanup_(engine_state_done) EngineState s = {};
        Observation o = test_obs();
        BrakeRelease why = BRAKE_RELEASE_NONE;
        state_init(&s);
        p.max_throttle_usec = 3 * SEC;
        o.brake_active = true;

        /* kill succeeded but the pressure goes on: after its settle time (5 s) it is cooling down (60 s). */
        double t = run_until_release(&p, &s, &o, 0, 60, &why);
        cr_assert_eq(t, 5, "the last rung's settle time is over at t=5 (got %g)", t);
        cr_assert_eq(why, BRAKE_RELEASE_SPENT);
}

Test(engine, brake_kept_while_a_rung_can_act)
{
        Policy p = test_policy(RUNG_ALERT, RUNG_RECLAIM, RUNG_KILL);
        _cleanup_(engine_state_done) EngineState s = {};
        Observation o = test_obs();
        BrakeRelease why = BRAKE_RELEASE_NONE;
        state_init(&s);
        p.max_throttle_usec = 30 * SEC;
        p.rung[RUNG_KILL].settle_usec = 5 * SEC;
        o.brake_active = true;

        /* reclaim at 0, kill at 5 (escalation), kill settles at 10: spent, but MaxThrottle= is 30 s. */
        double t = run_until_release(&p, &s, &o, 0, 120, &why);
        cr_assert_eq(t, 30, "held until MaxThrottle=30s, then released (got %g)", t);
        cr_assert_eq(why, BRAKE_RELEASE_SPENT);
}

/* The engine property the safety promise rests on, over generated ladders, action results and timings: a
 * cgroup is never held in the brake longer than MaxThrottle= plus one SampleInterval= while no rung can
 * act, and an episode in which every rung fails releases the brake within
 * max(MaxThrottle=, one step per rung) plus one SampleInterval=. "No rung can act" is judged here from what
 * the simulated daemon saw (the rungs that acted, their results and times), not from the engine's state. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return rng_state;
}
static double rnd_range(double lo, double hi)
{
        return lo + (hi - lo) * (double) (rnd() % 1000000) / 1e6;
}

Test(engine, brake_never_outlives_the_ability_to_act)
{
        unsigned releases = 0, cases_stuck = 0;

        for (int c = 0; c < 3000; c++) {
                Rung ladder[_RUNG_MAX];
                size_t n = 0;
                if (rnd() % 2)
                        ladder[n++] = RUNG_ALERT;
                for (Rung r = RUNG_TRIM; r < _RUNG_MAX; r++)
                        if (rnd() % 3 == 0)
                                ladder[n++] = r;
                if (n == 0)
                        ladder[n++] = (Rung) (rnd() % _RUNG_MAX);
                Policy p = test_policy_n(ladder, n);
                for (size_t r = 0; r < _RUNG_MAX; r++) {
                        p.rung[r].settle_usec = (usec_t) (rnd_range(0.5, 10) * SEC);
                        p.rung[r].cooldown_usec = p.rung[r].settle_usec + (usec_t) (rnd_range(0, 60) * SEC);
                }
                p.max_throttle_usec = rnd() % 4 == 0 ? 0 : (usec_t) (rnd_range(1, 30) * SEC);
                p.sample_interval_usec = (usec_t) (rnd_range(0.2, 2) * SEC);
                p.hysteresis_usec = (usec_t) (rnd_range(1, 10) * SEC);
                int fail_mode = (int) (rnd() % 3); /* 0: results random, 1: every rung fails, 2: every rung ok */
                double signal_p = rnd() % 4 == 0 ? 0.7 : 1.0;

                _cleanup_(engine_state_done) EngineState s = {};
                Observation o = test_obs();
                state_init(&s);
                o.brake_active = true;

                usec_t now = AT(0), pressure_since = 0, stuck_since = 0;
                usec_t last_act[_RUNG_MAX] = {};
                int last_res[_RUNG_MAX] = {};
                int last_acted = -1;
                bool episode_all_failed = false;
                usec_t si = p.sample_interval_usec;

                for (int k = 0; k < 400; k++) {
                        o.triggers_fired = (double) (rnd() % 1000) / 1000.0 < signal_p ? 1u << PSI_SOME : 0;
                        bool was_pressure = s.phase == ENGINE_PRESSURE;
                        Decision d = step(&p, &s, &o, now);
                        if (d.onset) {
                                pressure_since = now;
                                stuck_since = 0;
                                last_acted = -1;
                                memset(last_res, 0, sizeof last_res);
                                episode_all_failed = fail_mode == 1;
                        }
                        if (d.act) {
                                int res = fail_mode == 1 ? -EIO : fail_mode == 2 ? 0 : (rnd() % 2 ? -EIO : 0);
                                if (d.rung == RUNG_ALERT)
                                        res = 0;
                                engine_rung_result(&s, d.rung, res);
                                last_act[d.rung] = now;
                                last_res[d.rung] = res;
                                last_acted = d.rung;
                        }
                        if (d.release_brake) {
                                cr_assert(o.brake_active, "case %d: released twice", c);
                                o.brake_active = false;
                                releases++;
                        }
                        if (d.rearm_brake) {
                                cr_assert(d.relieved, "case %d: re-armed without calm", c);
                                o.brake_active = true;
                        }

                        /* The oracle: the last rung of the ladder acted in this episode and since then it
                         * failed, or it frees nothing, or its settle time is over and its cooldown is not. */
                        Rung lr = p.ladder[n - 1];
                        bool stuck = s.phase == ENGINE_PRESSURE && was_pressure && last_acted == (int) lr &&
                                (!rung_frees_memory(lr) || last_res[lr] < 0 ||
                                 (now >= last_act[lr] + p.rung[lr].settle_usec &&
                                  now < last_act[lr] + p.rung[lr].cooldown_usec));
                        if (stuck && o.brake_active) {
                                if (!stuck_since)
                                        stuck_since = now;
                                usec_t bound = MAX(stuck_since, pressure_since + p.max_throttle_usec) + si;
                                cr_assert(now <= bound,
                                          "case %d: held in the brake %.2fs past the bound (MaxThrottle=%.1fs, "
                                          "SampleInterval=%.2fs, ladder of %zu ending in %s)",
                                          c, (double) (now - bound) / SEC, (double) p.max_throttle_usec / SEC,
                                          (double) si / SEC, n, rung_name(lr));
                                cases_stuck++;
                        } else
                                stuck_since = 0;
                        if (episode_all_failed && o.brake_active && s.phase == ENGINE_PRESSURE) {
                                usec_t bound = pressure_since + MAX(p.max_throttle_usec, (usec_t) n * si) + 2 * si;
                                cr_assert(now <= bound || (double) signal_p < 1.0,
                                          "case %d: every rung failed, brake still held %.2fs past the bound", c,
                                          (double) (now - bound) / SEC);
                        }

                        /* The daemon steps at the engine's time, or earlier on a kernel event. */
                        usec_t next = d.next_step_usec == INF ? now + 5 * SEC : d.next_step_usec;
                        cr_assert(s.phase != ENGINE_PRESSURE || next <= now + si, "case %d: no step within SampleInterval=", c);
                        if (rnd() % 5 == 0)
                                next = MIN(next, now + (usec_t) (rnd_range(0.01, 0.5) * SEC));
                        now = MAX(next, now + 1);
                }
        }
        cr_assert_gt(releases, 100, "the generator must exercise releases (got %u)", releases);
        cr_assert_gt(cases_stuck, 100, "the generator must exercise stuck ladders (got %u)", cases_stuck);
}

Test(engine, policy_change_maps_the_rung_by_name)
{
        Policy old = test_policy(RUNG_ALERT, RUNG_TRIM, RUNG_RECLAIM, RUNG_KILL);
        _cleanup_(engine_state_done) EngineState s = {};
        Observation o = test_obs();
        state_init(&s);
        o.triggers_fired = 1u << PSI_SOME;
        Decision d = step(&old, &s, &o, AT(0));
        cr_assert(d.act && d.rung == RUNG_TRIM);
        d = step(&old, &s, &o, AT(5));
        cr_assert(d.act && d.rung == RUNG_RECLAIM && s.rung_pos == 2);

        /* Reordered/shorter: reclaim is now at position 0. */
        Policy a = test_policy(RUNG_RECLAIM, RUNG_KILL);
        engine_policy_changed(&old, &a, &s);
        cr_assert_eq(s.rung_pos, 0);
        cr_assert_eq(a.ladder[s.rung_pos], RUNG_RECLAIM);
        cr_assert(s.settle_pending, "reclaim's settle report is kept: the rung still exists");

        /* reclaim removed: the next harsher rung present (restart), entered as in its cooldown. */
        Policy b = test_policy(RUNG_TRIM, RUNG_RESTART, RUNG_KILL);
        engine_policy_changed(&a, &b, &s);
        cr_assert_eq(b.ladder[s.rung_pos], RUNG_RESTART);
        cr_assert_not(s.settle_pending, "the settle report of a rung that is gone is dropped");

        /* Nothing harsher: the last. */
        Policy c = test_policy(RUNG_ALERT, RUNG_TRIM);
        engine_policy_changed(&b, &c, &s);
        cr_assert_eq(c.ladder[s.rung_pos], RUNG_TRIM);

        /* The next step goes on from there, with the new ladder. */
        d = step(&c, &s, &o, AT(20));
        cr_assert(!d.act || d.rung == RUNG_TRIM, "only rungs of the new ladder act");

        /* Calm: nothing to map. */
        _cleanup_(engine_state_done) EngineState calm = {};
        state_init(&calm);
        engine_policy_changed(&old, &a, &calm);
        cr_assert_eq(calm.rung_pos, -1);
}

/* After a policy change the next action is the one the rule names (policy-engine.h, "Policy change"): a
 * rung that takes over from one the new ladder lacks acts at the next step unless it is in its cooldown; a
 * rung that is kept goes on with its settle time from its own run. */
Test(engine, policy_change_next_action)
{
        Policy old = test_policy(RUNG_DROP_CACHE, RUNG_RECLAIM, RUNG_KILL);
        Observation o = test_obs();
        o.triggers_fired = 1u << PSI_SOME;

        static const struct {
                const char *name;
                Rung ladder[_RUNG_MAX];
                size_t n;
                usec_t kill_ran;  /* kill's last run before the episode (0: never) */
                double at;        /* the step after the change */
                int act;          /* the rung that acts at that step, NONE for no action */
                ActCause cause;
        } cases[] = {
                { "drop-cache removed: reclaim acts at once", { RUNG_ALERT, RUNG_RECLAIM, RUNG_KILL }, 3, 0, 1.5,
                  RUNG_RECLAIM, ACT_CAUSE_ESCALATION },
                { "drop-cache removed, nothing harsher but kill: kill", { RUNG_ALERT, RUNG_KILL }, 2, 0, 1.5,
                  RUNG_KILL, ACT_CAUSE_ESCALATION },
                { "nothing harsher: the last (trim) acts", { RUNG_ALERT, RUNG_TRIM }, 2, 0, 1.5, RUNG_TRIM,
                  ACT_CAUSE_ESCALATION },
                { "kept: drop-cache settles from its own run", { RUNG_DROP_CACHE, RUNG_KILL }, 2, 0, 2, NONE, 0 },
                { "kept: then escalation from its own run", { RUNG_DROP_CACHE, RUNG_KILL }, 2, 0, 5, RUNG_KILL,
                  ACT_CAUSE_ESCALATION },
                { "kept at a new position: no kill by index", { RUNG_ALERT, RUNG_DROP_CACHE, RUNG_KILL }, 3, 0, 2,
                  NONE, 0 },
                { "the rung taking over is in its cooldown: no action", { RUNG_KILL }, 1, T0 - 30 * SEC, 1.5, NONE, 0 },
                { "... and it repeats after its cooldown", { RUNG_KILL }, 1, T0 - 30 * SEC, 30, RUNG_KILL,
                  ACT_CAUSE_REPEAT },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(engine_state_done) EngineState s = {};
                state_init(&s);
                s.last_run_usec[RUNG_KILL] = cases[i].kill_ran;
                Decision d = step(&old, &s, &o, AT(0));
                cr_assert(d.act && d.rung == RUNG_DROP_CACHE, "%s: onset", cases[i].name);
                (void) step(&old, &s, &o, AT(1));

                Policy p = test_policy_n(cases[i].ladder, cases[i].n);
                engine_policy_changed(&old, &p, &s);
                for (double t = 1.5; t <= cases[i].at; t += 0.5) {
                        d = step(&p, &s, &o, AT(t));
                        if (t < cases[i].at)
                                cr_assert(!d.act, "%s: %s acted at %.1f s, before the step checked", cases[i].name,
                                          rung_name(d.rung), t);
                }
                if (cases[i].act == NONE)
                        cr_assert(!d.act, "%s: %s acted", cases[i].name, rung_name(d.rung));
                else {
                        cr_assert(d.act, "%s: nothing acted", cases[i].name);
                        cr_assert_eq(d.rung, (Rung) cases[i].act, "%s: %s acted", cases[i].name, rung_name(d.rung));
                        cr_assert_eq(d.cause, cases[i].cause, "%s: cause %s", cases[i].name,
                                     act_cause_to_string(d.cause));
                }
        }
}

Test(engine, snapshot_restore_table)
{
        Policy old = test_policy(RUNG_DROP_CACHE, RUNG_RECLAIM, RUNG_KILL);
        _cleanup_(engine_state_done) EngineState s = {};
        Observation o = test_obs();
        state_init(&s);
        o.triggers_fired = 1u << PSI_SOME;
        (void) step(&old, &s, &o, AT(0));  /* drop-cache */
        (void) step(&old, &s, &o, AT(5));  /* reclaim */
        cr_assert_eq(old.ladder[s.rung_pos], RUNG_RECLAIM);
        EngineSnapshot snap;
        engine_snapshot(&old, &s, &snap);
        cr_assert(snap.pressure);
        cr_assert_eq(snap.rung, RUNG_RECLAIM);
        cr_assert_eq(snap.last_run_usec[RUNG_RECLAIM], AT(5));

        static const struct {
                const char *name;
                Rung ladder[_RUNG_MAX];
                size_t n;
                Rung expect; /* the current rung after restore */
        } cases[] = {
                { "same ladder", { RUNG_DROP_CACHE, RUNG_RECLAIM, RUNG_KILL }, 3, RUNG_RECLAIM },
                { "reordered/shorter: reclaim first", { RUNG_RECLAIM, RUNG_KILL }, 2, RUNG_RECLAIM },
                { "longer", { RUNG_ALERT, RUNG_TRIM, RUNG_DROP_CACHE, RUNG_RECLAIM, RUNG_RESTART, RUNG_KILL }, 6,
                  RUNG_RECLAIM },
                { "reclaim removed: the next harsher", { RUNG_TRIM, RUNG_RESTART, RUNG_KILL }, 3, RUNG_RESTART },
                { "nothing harsher: the last", { RUNG_ALERT, RUNG_TRIM }, 2, RUNG_TRIM },
                { "only an alert", { RUNG_ALERT }, 1, RUNG_ALERT },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Policy p = test_policy_n(cases[i].ladder, cases[i].n);
                _cleanup_(engine_state_done) EngineState r = {};
                state_init(&r);
                cr_assert(engine_restore(&p, &r, &snap, AT(6)), "%s", cases[i].name);
                cr_assert_eq(r.phase, ENGINE_PRESSURE);
                cr_assert_eq(p.ladder[r.rung_pos], cases[i].expect, "%s: %s", cases[i].name,
                             rung_name(p.ladder[r.rung_pos]));
                cr_assert_eq(r.pressure_since_usec, AT(0), "%s", cases[i].name);
                cr_assert_eq(r.last_run_usec[RUNG_RECLAIM], AT(5), "%s: cooldowns kept", cases[i].name);
                /* A step after the restore acts only with rungs of the new ladder, and never crashes. */
                Decision d = step(&p, &r, &o, AT(7));
                if (d.act)
                        cr_assert_neq(ladder_pos_of(&p, d.rung), -1, "%s", cases[i].name);
        }

        /* Stamps from the future (another boot's monotonic clock, a bad file): dropped. */
        EngineSnapshot future = snap;
        future.last_run_usec[RUNG_KILL] = AT(1000);
        future.pressure_since_usec = AT(999);
        _cleanup_(engine_state_done) EngineState r = {};
        state_init(&r);
        cr_assert_not(engine_restore(&old, &r, &future, AT(10)), "an episode from the future is not restored");
        cr_assert_eq(r.phase, ENGINE_CALM);
        cr_assert_eq(r.last_run_usec[RUNG_KILL], 0, "a cooldown from the future is none");
        cr_assert_eq(r.last_run_usec[RUNG_RECLAIM], AT(5), "the others are kept");

        /* Calm snapshot: only cooldowns. */
        EngineSnapshot calm = snap;
        calm.pressure = false;
        state_init(&r);
        cr_assert_not(engine_restore(&old, &r, &calm, AT(10)));
        cr_assert_eq(r.rung_pos, -1);
}

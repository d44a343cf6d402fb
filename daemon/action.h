/* SPDX-License-Identifier: MIT */
/* daemon/action.h: the rungs of the ladder, one file each (action-*.c), behind one dispatch function.
 * An action does its work synchronously and fills an ActionOutcome; daemon/guard.c times it, records it
 * in one journald record (the outcome's fields are appended), and measures memory.current again after
 * the rung's settle time. An action may also schedule its own follow-up (e.g. re-measuring RSS). */
#pragma once

#include "manager.h"

#define ACTION_FIELDS_MAX 24

typedef struct ActionOutcome {
        int result;                 /* 0 ok, -errno; -EOPNOTSUPP: the rung is not available */
        bool partial;               /* did part of the job (memory.reclaim EAGAIN, some processes) */
        char summary[256];          /* for the record's MESSAGE, e.g. "asked 3 processes to trim" */
        char *fields[ACTION_FIELDS_MAX]; /* "KEY=value", malloc'd, appended to the record */
        size_t n_fields;
        usec_t duration_usec;       /* filled by the caller */
        usec_t latency_usec;        /* kernel event -> action start, filled by the caller */
} ActionOutcome;

/* Appends "KEY=value" to the outcome (dropped silently when full or out of memory). */
void action_add_field(ActionOutcome *out, const char *fmt, ...) _printf_(2, 3);
void action_outcome_done(ActionOutcome *out);

/* Runs rung on the guard's cgroup with the observation that triggered it. Never called in dry-run.
 * Returns out->result. */
int action_run(Guard *g, Rung rung, const Observation *o, ActionOutcome *out);

/* The rungs. Each fills out and returns out->result. */
int action_reclaim(Guard *g, const Observation *o, ActionOutcome *out);
int action_kill(Guard *g, const Observation *o, ActionOutcome *out);
int action_trim(Guard *g, const Observation *o, ActionOutcome *out);
/* Creates the trim report directory at start-up, before any trim: a service that starts with
 * ReadWritePaths=-DIR (memwardenctl enroll) gets it writable only if it exists by then. */
void action_trim_prepare(Manager *m);
int action_drop_cache(Guard *g, const Observation *o, ActionOutcome *out);
int action_restart(Guard *g, const Observation *o, ActionOutcome *out);
/* Frees the pending StopTimeout= watches (Manager.restart_stops) without sending their SIGKILL. */
void restart_stops_free(Manager *m);

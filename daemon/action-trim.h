/* SPDX-License-Identifier: MIT */
/* daemon/action-trim.h: the trim rung's follow-up (daemon/action-trim.c). action_trim() itself is declared
 * with the other rungs in action.h. */
#pragma once

#include "record.h"
#include "manager.h"

/* Called by the settle report of a trim (daemon/guard.c): adds what each asked process released (from the
 * trim library's reports) and what grew back since (RSS measured now; THP named): TRIM_PROCESS= (one per
 * process), TRIM_ASKED=, TRIM_REPORTS=, TRIM_RELEASED_BYTES=, TRIM_REGROWN_BYTES=, TRIM_THP_REGROWN_BYTES=.
 * Does nothing when no trim of this cgroup is pending. */
void action_trim_settled(Guard *g, Record *r);
/* The guard is going: what its last trim asked is forgotten, its injection helper (if running) stopped. */
void action_trim_guard_free(Guard *g);

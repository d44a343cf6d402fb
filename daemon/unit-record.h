/* SPDX-License-Identifier: MIT */
/* daemon/unit-record.h: what memwardend keeps about a unit beyond the life of its cgroup.
 *
 * When systemd restarts a unit (the restart rung, or Restart= after a kill) the unit gets a new cgroup: the
 * old guard goes with the old cgroup and a new guard comes with the new one. Two things must not go with the
 * old guard:
 * - the memory.high brake set through systemd (SetUnitProperties, runtime): systemd applies it to the new
 *   cgroup too. Forgotten, the new guard would take it for the operator's (never relieved, never restored:
 *   a brake left behind for good once memwardend stops).
 * - the engine's cooldowns and the restart rate limit: forgotten, a restarted unit could be restarted
 *   again at once, whatever [Restart] Cooldown= says.
 * So a guard of a unit leaves them in the Manager's unit record (keyed by the unit name; a restart target
 * without a unit by its cgroup path) when it goes, and the next guard of the unit takes them back: the
 * cooldowns at once, the brake once memory.high holds exactly the value we set (systemd writes the new
 * cgroup's limits just after mkdir). A brake nobody takes back is restored through systemd when the daemon
 * stops. The records are saved in the state file ("unit" lines, daemon/state.h). */
#pragma once

#include "cgroup/cgroup-restart.h"
#include "manager.h"
#include "state.h"

#define UNIT_RECORDS_MAX 4096U

typedef struct UnitRecord {
        char *key;                       /* unit name, or cgroup path */
        usec_t last_run_usec[_RUNG_MAX]; /* the cooldowns of the unit's last guard; 0: never */
        RestartLimit restarts;           /* restarts within the rate limit (daemon/action-restart.c) */
        bool brake;                      /* a brake we set through systemd, no guard holds it now */
        uint64_t brake_bytes;
        uint64_t brake_original;         /* CGROUP_LIMIT_MAX: "max" */
        usec_t used_usec;                /* last looked up or changed: the least recent one goes first */
} UnitRecord;

/* The record of key; created when create is set (the least recently used one without a brake is dropped
 * when UNIT_RECORDS_MAX are kept). NULL when there is none, or on OOM. */
UnitRecord *unit_record_get(Manager *m, const char *key, bool create);
/* The unit key of a guard: its unit name when the guarded cgroup is a unit's; NULL otherwise. */
const char *unit_record_key(const Guard *g);

/* The guard is going (guard_free(), before its brake is restored): keeps its cooldowns, and its brake when
 * the cgroup is gone and the brake was set through systemd (which carries it to the next cgroup). */
void unit_record_keep(Guard *g, bool cgroup_gone);
/* A new guard takes back its unit's cooldowns (guard_new()). */
void unit_record_adopt(Guard *g);
/* Before brake_apply() on a guard without a brake: the brake of the unit's previous cgroup is taken back
 * when memory.high holds it (restored at once when the policy wants no brake now), and forgotten when
 * memory.high holds something else (someone else's now). Returns 1 when taken back, 0 otherwise. */
int unit_record_adopt_brake(Guard *g, const CgroupMemory *mem);

/* A brake of the previous instance for a unit whose cgroup is gone or new (daemon/state.c): kept for the
 * unit's next guard, and restored at stop if none takes it. */
void unit_record_take_saved_brake(Manager *m, const SavedGuard *s);
/* The state file's "unit" lines, and back: entries of m->saved with unit_record set become records. */
void unit_records_load(Manager *m);
/* Fills up to max entries (borrowed pointers, valid until the records change). Returns the count. */
size_t unit_records_to_saved(Manager *m, SavedGuard *buf, size_t max);
size_t unit_records_count(Manager *m);
/* At stop: every brake no guard holds is put back through systemd (one record each). */
void unit_records_restore_brakes(Manager *m);
void unit_records_free(Manager *m);

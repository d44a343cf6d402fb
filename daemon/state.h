/* SPDX-License-Identifier: MIT */
/* daemon/state.h: the daemon's side of the state that survives a memwardend restart: what is kept and the
 * file's format are daemon/state-file.h. */
#pragma once

#include "state-file.h"

/* The daemon's side (Manager and Guard hooks). */
typedef struct Manager Manager;
typedef struct Guard Guard;

/* At start-up, before the first walk: reads the saved state (a broken file is logged and ignored). */
int state_load(Manager *m);
/* A new guard takes over its saved state, if any: cooldowns, the pressure episode, counters, and the brake
 * (adopted when memory.high still holds it and the policy still wants one; restored otherwise). */
void state_apply(Guard *g);
/* After the first walk: brakes saved for cgroups no policy guards now are removed, the rest of the saved
 * state is dropped, and the file is written anew. From here on, changes are saved. */
void state_startup_done(Manager *m);
/* Something worth keeping changed: written once the loop is idle (coalesced). */
void state_changed(Manager *m);
/* Marks g as a guard with state to save (a brake, an episode, a rung that ran, a counter): the saves look
 * at these guards only, not at every guarded cgroup. Idempotent; call before state_changed()/_save_now(). */
void state_track(Guard *g);
/* Written now (before an action runs: a crash in the action must not make the next instance redo it). */
void state_save_now(Manager *m);
/* One record for a brake restored outside a guard (BRAKE=restored, BRAKE_FROM=previous-instance, or
 * unit-record for a unit record's). */
void state_record_brake_released(const SavedGuard *s, int r, const char *why);
/* At exit: restores every brake, then saves what is left (cooldowns, counters), frees the save source. */
void state_shutdown(Manager *m);

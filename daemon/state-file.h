/* SPDX-License-Identifier: MIT */
/* daemon/state-file.h: what must survive a memwardend restart, in <StateDirectory>/state (default
 * /run/memwarden/state), one file replaced atomically (write a temporary file, fsync, rename).
 *
 * Kept per guarded cgroup (only for cgroups with something to remember):
 * - when each rung last ran (cooldowns): a restart never reruns a rung that is still cooling down;
 * - the pressure episode (onset, last signal, current rung): a restart does not start the ladder again;
 * - the memory.high brake we set and the value it replaced, so that the next instance adopts it (a brake
 *   we set must not look like the operator's) or removes it when no policy wants it any more, and so that
 *   `memwardenctl release-brakes` (ExecStopPost= of the unit) removes it even after a crash: a brake left
 *   behind with nobody acting livelocks the unit (docs/design.md, "The brake");
 * - the counters shown by `memwardenctl status` (actions, onsets, OOM kills).
 *
 * Times are CLOCK_MONOTONIC microseconds, the engine's clock: system-wide, it goes on across a daemon
 * restart, and it restarts at boot, so the file names the boot (/proc/sys/kernel/random/boot_id) and a file
 * from another boot is ignored (on the default tmpfs it is gone anyway). Each cgroup is also named by its
 * directory's inode: a cgroup removed and made again under the same path is a new cgroup.
 *
 * Format (text, one cgroup a line; paths and unit names escaped: bytes <= 0x20, '%' and >= 0x7f as %XX):
 *   memwarden-state 1
 *   boot 2f0e...
 *   root /sys/fs/cgroup
 *   cgroup /system.slice/web.service ino=1234 unit=web.service brake=94371840 original=max via=systemd
 *          pressure=1 since=.. signal=.. rung=reclaim rung_at=.. escalated=0 run.alert=.. run.reclaim=..
 *          actions=2 onsets=1 oom_kills=0
 *   unit web.service brake=94371840 original=max via=systemd run.restart=.. restarts=..,..
 * A "unit" line is a unit record (daemon/unit-record.h): what memwardend keeps about a unit (or a restart
 * target without one, named by its cgroup path) beyond the life of its cgroup: the brake set through systemd
 * (which carries it to the unit's next cgroup), the cooldowns of the unit's last guard and the restarts
 * within the restart rate limit (restarts=, oldest first).
 * Unknown keys are ignored (a newer writer); a malformed line is skipped.
 *
 * This is the file alone (memwardenctl uses it without the daemon); the daemon's hooks are daemon/state.h. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <systemd/sd-bus.h>

#include "cgroup/cgroup-fs.h"
#include "cgroup/cgroup-restart.h"
#include "policy/policy.h"
#include "util/hashmap.h"
#include "util/macro.h"

#define STATE_FILE_NAME "state"
#define STATE_FILE_MAX (64U * 1024U * 1024U)

typedef struct SavedGuard {
        char *path;                      /* a unit record: "unit " + its key (never a cgroup path) */
        char *unit;                      /* NULL: none; a unit record: its key (unit name, or cgroup path) */
        bool unit_record;                /* a "unit" line (only brake*, last_run_usec and restarts apply) */
        RestartLimit restarts;           /* a unit record: restarts within the rate limit */
        uint64_t ino;                    /* 0: unknown */

        bool brake;                      /* a memory.high brake we set is (or was at the save) in place */
        uint64_t brake_bytes;
        uint64_t brake_original;         /* CGROUP_LIMIT_MAX: "max" */
        bool brake_via_dbus;

        bool pressure;
        usec_t pressure_since_usec, last_signal_usec;
        Rung rung;                       /* _RUNG_INVALID: none */
        usec_t rung_at_usec;
        bool throttle_escalated;
        usec_t last_run_usec[_RUNG_MAX]; /* 0: never */

        uint64_t n_actions, n_onsets, n_oom_kills;
} SavedGuard;

SavedGuard *saved_guard_free(SavedGuard *s);
/* Frees a path -> SavedGuard map and its values. */
Hashmap *saved_state_free(Hashmap *h);

/* Parses the file's contents. boot_id: the current boot; a file of another boot (or without one) gives an
 * empty map, and so does one written for another cgroup hierarchy than root (NULL: any). Returns 0 with a
 * map (path -> SavedGuard), -EINVAL when the header is not ours, -ENOMEM. */
int state_parse(const char *buf, const char *boot_id, const char *root, Hashmap **ret);
/* Writes one "cgroup ..." line. */
void state_format_guard(FILE *f, const SavedGuard *s);
/* Reads <dir>/state (entries for the hierarchy at root; NULL: any). A missing file is an empty map. */
int state_read(const char *dir, const char *root, Hashmap **ret);
/* Writes <dir>/state atomically from n entries of the hierarchy at root (the directory is made if missing).
 * Returns 0 or -errno. */
int state_write(const char *dir, const char *root, SavedGuard *const *entries, size_t n);
/* The current boot id (32 hex digits + NUL) from /proc/sys/kernel/random/boot_id. */
int state_boot_id(char ret[static 37]);

/* Restores one saved brake outside a guard: only when memory.high still holds brake_bytes (otherwise
 * someone changed it since, and it is theirs) and the cgroup is still the one we braked (same inode).
 * bus may be NULL (cgroupfs only). A unit record's brake (its cgroup gone) is restored through systemd
 * (bus needed). Returns 1 restored, 0 nothing to do (gone, changed), -errno. */
int state_release_brake(sd_bus *bus, const CgroupRoot *root, const SavedGuard *s);

/* SPDX-License-Identifier: MIT */
/* daemon/guard-poll.h: guards without an inotify watch on memory.events are polled, not blind.
 *
 * Every guard normally learns of memory.events changes (high, max, oom, oom_kill) from an inotify IN_MODIFY
 * watch, which costs no wake-up while calm. inotify_add_watch() fails with ENOSPC once the daemon's user
 * has fs.inotify.max_user_watches watches (8,192 in a 1 GiB machine; two per guarded cgroup): such a guard,
 * or one whose watch the kernel dropped, goes on this list. One timer for the whole list, every
 * GUARD_POLL_USEC while the list is not empty and never otherwise: each tick reads every listed guard's
 * memory.events and steps the guard as an inotify event would when it changed, then retries the watches
 * (stopping at the first ENOSPC); a guard whose watch came back leaves the list. The count is said once in a
 * record (MW_MESSAGE_UNWATCHED), again when it is back to 0, and shown by `memwardenctl status` and the
 * metrics (docs/scale.md). */
#pragma once

#include <stdio.h>

#include "manager.h"

#define GUARD_POLL_USEC (1 * USEC_PER_SEC)

/* g has no memory.events watch (g->events_wd < 0): poll it. Returns 0 or -ENOMEM (then it is not polled,
 * and says so). Idempotent. */
int guard_poll_add(Guard *g);
/* g goes or has its watch: off the list. O(1). */
void guard_poll_remove(Guard *g);
/* How many guards are polled. */
size_t guard_poll_count(Manager *m);
/* Steps g as an inotify IN_MODIFY on its memory.events would when the counters differ from the last step's
 * (or cannot be read): the poll's tick, and the rescan after an inotify queue overflow (changes lost with the
 * queue). Returns true when it stepped; g may then be freed (its cgroup is gone). */
bool guard_events_recheck(Guard *g);
/* The cgroup directory cgpath has no inotify watch (out of watches): each tick retries it and looks into the
 * directory for cgroups not known yet, discovered as an IN_CREATE would (manager_discover()); once the
 * watch is added (or the directory is gone) it leaves the list. Returns 0 or -ENOMEM (said). Idempotent. */
int dir_poll_add(Manager *m, const char *cgpath);
/* cgpath was removed: off the list. O(1). */
void dir_poll_forget(Manager *m, const char *cgpath);
size_t dir_poll_count(Manager *m);
/* path -> path: the directories polled, NULL when none ever was (reload re-matches them). */
Hashmap *dir_poll_dirs(Manager *m);
/* The directory's watch (daemon/manager.c): 0 also when it has one already, or -errno. */
int manager_watch_dir(Manager *m, const char *cgpath);
/* One tick now (the timer's work; tests call it through the timer). */
void guard_poll_tick(Manager *m);
/* The guard's memory.events watch (daemon/guard.c). Returns 0, or -errno (-ENOSPC: out of watches). */
int guard_watch_events(Guard *g);
/* A line for `memwardenctl status` when any guard is polled; nothing otherwise. */
void guard_poll_status_text(Manager *m, FILE *f);
void guard_poll_free(Manager *m);

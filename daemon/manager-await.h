/* SPDX-License-Identifier: MIT */
/* daemon/manager-await.h: cgroups that a policy matches but whose memory controller is not enabled yet.
 *
 * A new cgroup has its memory.* files only once "+memory" is in its parent's cgroup.subtree_control. systemd
 * enables it before mkdir; crun makes a podman container's <scope>/container first and enables the
 * controllers for it after, so a daemon that looks in between finds no memory.events. Such a cgroup waits for
 * a write to the parent's cgroup.subtree_control (an inotify IN_MODIFY, like any write(2)), then is looked at
 * again: no timer, no polling. */
#pragma once

#include <stdbool.h>
#include <sys/inotify.h>

typedef struct Manager Manager;

/* guard_new() failed with -ENOENT for cgpath: if the directory is there without memory.current, cgpath waits
 * for its parent's cgroup.subtree_control. Returns 1 when waiting, 2 when the memory files are there now (they
 * came while the watch was added: set up the guard again), 0 when the cgroup is gone, -errno. */
int manager_await_memory(Manager *m, const char *cgpath);

/* An inotify event: true when it was for one of these watches (then handled: the waiting cgroups are looked
 * at again through manager_discover()). */
bool manager_await_event(Manager *m, const struct inotify_event *e);

/* cgpath and everything below it went away: waits for or below it are dropped. */
void manager_await_forget(Manager *m, const char *cgpath);

void manager_await_free(Manager *m);

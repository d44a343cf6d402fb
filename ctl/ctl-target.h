/* SPDX-License-Identifier: MIT */
/* ctl/ctl-target.h: what a verb's operand names, one rule for every verb that takes a cgroup (map, trim):
 * a decimal number is a PID; a name with a unit suffix (.service, .scope, .slice, .socket, .mount, .swap)
 * and no '/' is a systemd unit; anything else is a cgroup path, relative to the hierarchy's root when it
 * does not start with '/' (and with the mount point, e.g. /sys/fs/cgroup, removed when it starts with it). */
#pragma once

#include <sys/types.h>

#include "cgroup/cgroup-fs.h"

typedef enum CtlTargetKind {
        CTL_TARGET_CGROUP,
        CTL_TARGET_UNIT,
        CTL_TARGET_PID,
} CtlTargetKind;

typedef struct CtlTarget {
        CtlTargetKind kind;
        pid_t pid;        /* CTL_TARGET_PID */
        const char *name; /* the operand as given */
} CtlTarget;

/* Pure: classifies an operand. Returns 0, or -EINVAL for an empty one or a PID out of range. */
int ctl_target_parse(const char *s, CtlTarget *ret);

/* The cgroup path ("/a/b", from the hierarchy's root) of a unit or cgroup target, malloc'd. A unit is the
 * cgroup whose own unit it is, found by walking r (no D-Bus: works on fixture trees and without systemd).
 * Returns 0; -ENOENT no such unit; -EINVAL for a PID target; -ENOMEM. Whether a cgroup path exists is left
 * to the caller's reader. */
int ctl_target_cgroup_path(const CgroupRoot *r, const CtlTarget *t, char **ret);

/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-restart.h: what the restart rung needs besides D-Bus: the start time of a process (pure)
 * and a StartLimit-style counter (pure); Command= is policy/policy-command.h. No logging above debug. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup-fs.h"

/* The start time (field 22, clock ticks since boot) from the contents of /proc/PID/stat. The comm field
 * may hold anything, ") " included: the fields are counted after the last ')'. Returns 0, -EINVAL. */
int proc_stat_parse_starttime(const char *buf, uint64_t *ret);

/* At most burst restarts per interval (systemd's StartLimitBurst=/StartLimitIntervalSec=). burst or interval
 * 0: no limit. */
#define RESTART_LIMIT_BURST_MAX 64
typedef struct RestartLimit {
        uint64_t at_usec[RESTART_LIMIT_BURST_MAX]; /* ring of the most recent restarts */
        unsigned n, head;
} RestartLimit;

/* Would a restart at now be within the limit? If so records it and returns true; false: over the limit (not
 * recorded). A burst larger than RESTART_LIMIT_BURST_MAX counts as RESTART_LIMIT_BURST_MAX. */
bool restart_limit_take(RestartLimit *l, uint64_t now_usec, unsigned burst, uint64_t interval_usec);

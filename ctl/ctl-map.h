/* SPDX-License-Identifier: MIT */
/* ctl/ctl-map.h: `memwardenctl map CGROUP|UNIT [--json] [--top N] [--files N]`. */
#pragma once

#include "ctl.h"

#define MAP_TOP_DEFAULT 10
#define MAP_FILES_DEFAULT 10

/* operands[0] is the cgroup or unit (ctl/ctl-target.h). Returns the exit status: 0; 1 the cgroup cannot be
 * read or found; 2 bad usage. */
int verb_map(const CtlArgs *a, char **operands);
void map_help(void);

/* SPDX-License-Identifier: MIT */
/* ctl/ctl-brakes.h: memwardenctl release-brakes (ctl/ctl-brakes.c). */
#pragma once

#include "ctl.h"

/* Takes no operands; --state-dir, --cgroup-root, -c. Returns the exit status. */
int verb_release_brakes(const CtlArgs *a, char **operands);
void release_brakes_help(void);

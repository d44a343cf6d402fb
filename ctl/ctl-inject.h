/* SPDX-License-Identifier: MIT */
/* ctl/ctl-inject.h: memwardenctl trim --inject (ctl/ctl-inject.c). Returns the exit status: 0 when at least one
 * process took the call, 1 when none did, 2 for bad arguments. */
#pragma once

#include "ctl.h"

int verb_trim_inject(const CtlArgs *a, char **operands);

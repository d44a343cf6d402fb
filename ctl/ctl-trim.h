/* SPDX-License-Identifier: MIT */
/* ctl/ctl-trim.h: memwardenctl trim / enroll / unenroll (ctl/ctl-trim.c). Each returns the exit status. */
#pragma once

#include "ctl.h"

/* operands: units, cgroup paths or PIDs (ctl/ctl-target.h); --info, --cgroup-root, --proc-root, --trim-dir. */
int verb_trim(const CtlArgs *a, char **operands);
void trim_help(void);
int verb_enroll(const char *unit);
int verb_unenroll(const char *unit);

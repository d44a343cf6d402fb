/* SPDX-License-Identifier: MIT */
/* ctl/ctl-trim.h: memwardenctl trim / enroll / unenroll (ctl/ctl-trim.c). Each returns the exit status. */
#pragma once

int verb_trim(char **args);
int verb_enroll(const char *unit);
int verb_unenroll(const char *unit);

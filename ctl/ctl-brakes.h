/* SPDX-License-Identifier: MIT */
/* ctl/ctl-brakes.h: memwardenctl release-brakes (ctl/ctl-brakes.c). */
#pragma once

/* argv[0] is "release-brakes". Returns the exit status. */
int verb_release_brakes(int argc, char **argv);

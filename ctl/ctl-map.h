/* SPDX-License-Identifier: MIT */
/* ctl/ctl-map.h: `memwardenctl map CGROUP|UNIT [--json] [--top N] [--files N]`. */
#pragma once

/* Whole command line (argv[0] the program); the word "map" is among the positional arguments. Parses
 * its own options. Returns the exit status: 0; 1 the cgroup cannot be read or found; 2 bad usage. */
int verb_map(int argc, char *argv[]);

/* Is "map" the verb (the first argument that is not an option)? */
int argv_verb_is_map(int argc, char *argv[]);

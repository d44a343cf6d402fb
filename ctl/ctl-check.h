/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdio.h>

#include "policy/policy.h"

/* Prints a warning to f for each policy without Brake= when meminfo_path (/proc/meminfo) shows no swap.
 * Returns the number of policies warned about. */
unsigned check_print_warnings(const Config *c, const char *meminfo_path, FILE *f);

/* SPDX-License-Identifier: MIT */
/* util/json.h: writing JSON strings safely. */
#pragma once

#include <stdio.h>

/* Writes s as a quoted JSON string (control characters and non-UTF-8-safe bytes below 0x20 escaped). */
void json_write_string(FILE *f, const char *s);

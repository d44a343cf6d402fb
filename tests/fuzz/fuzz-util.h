/* SPDX-License-Identifier: MIT */
/* tests/fuzz/fuzz-util.h: what the harnesses share. */
#pragma once

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The input as a NUL-terminated copy, as read_full_file_at() hands file contents to a parser; NULL when
 * out of memory (the harness then returns 0). */
static inline char *fuzz_cstring(const uint8_t *data, size_t size)
{
        char *buf = malloc(size + 1);
        if (!buf)
                return NULL;
        memcpy(buf, data, size);
        buf[size] = 0;
        return buf;
}

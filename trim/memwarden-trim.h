/* SPDX-License-Identifier: MIT */
/* trim/memwarden-trim.h: the API of libmemwarden-trim.so for programs that link it rather than preload it.
 * Nothing needs to be called: the constructor installs the SIGRTMIN+18 handler (see memwarden-trim.c). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef struct MemwardenTrimResult {
        uint64_t rss_before, rss_after, released; /* bytes */
} MemwardenTrimResult;

/* Trims now, in the calling thread, and writes the report like a 0x300 request does. ret may be NULL.
 * Returns 0, or -errno when the report could not be written (the trim itself was done). */
int memwarden_trim(MemwardenTrimResult *ret);

/* True when the library's handler is the installed SIGRTMIN+18 handler. */
bool memwarden_trim_active(void);

/* SPDX-License-Identifier: MIT */
/* trim/memwarden-trim.h: the API of libmemwarden-trim.so for programs that link it rather than preload it.
 * Nothing needs to be called: the constructor installs the SIGRTMIN+18 handler (see memwarden-trim.c). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* The protocol, shared with memwardend and memwardenctl (which include this header): SIGRTMIN+18 (systemd's
 * "common signal") with one of these sigqueue values; the library then writes <pid>.json (trim) or
 * <pid>.info.json (info) into $MEMWARDEN_TRIM_DIR, default MEMWARDEN_TRIM_DIR_DEFAULT. */
#define MEMWARDEN_TRIM_REQUEST_TRIM 0x300 /* memory pressure: trim */
#define MEMWARDEN_TRIM_REQUEST_INFO 0x301 /* write the allocator's view */
#define MEMWARDEN_TRIM_DIR_DEFAULT "/run/memwarden/trim"
#define MEMWARDEN_TRIM_DIR_ENV "MEMWARDEN_TRIM_DIR"

typedef struct MemwardenTrimResult {
        uint64_t rss_before, rss_after, released; /* bytes */
} MemwardenTrimResult;

/* Trims now, in the calling thread, and writes the report like a 0x300 request does. ret may be NULL.
 * Returns 0, or -errno when the report could not be written (the trim itself was done). */
int memwarden_trim(MemwardenTrimResult *ret);

/* True when the library's handler is the installed SIGRTMIN+18 handler. */
bool memwarden_trim_active(void);

/* SPDX-License-Identifier: MIT */
/* util/format-util.h: sizes for people (records, status, memwardenctl, memwardenctl map's report). The
 * policy dump's exact, round-tripping sizes are policy-units.h's format_size(). */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* "47.7M", "1.2G", "512K", "800B": 1024-based, at most one decimal; "max" for UINT64_MAX (a limit of
 * "max"). For people, not for parsing. Returns buf. */
#define FORMAT_BYTES_MAX 16
const char *format_bytes(char *buf, size_t size, uint64_t v);

/* memwardenctl map's report: "780 MiB", "1.1 GiB", "1.0 KiB", "100 B": 1024-based, one decimal below 10
 * units (9.95), UINT64_MAX is "16 EiB". The same scaling as format_bytes(). Returns buf. */
#define FORMAT_BYTES_IEC_MAX 24
const char *format_bytes_iec(char *buf, size_t size, uint64_t v);

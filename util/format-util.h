/* SPDX-License-Identifier: MIT */
/* util/format-util.h: sizes for people (records, status, memwardenctl). The policy dump's exact,
 * round-tripping sizes are policy-units.h's format_size(); memwardenctl map's report keeps its own
 * "47.7 MiB" style (cgroup-map.h). */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* "47.7M", "1.2G", "512K", "800B": 1024-based, at most one decimal; "max" for UINT64_MAX (a limit of
 * "max"). For people, not for parsing. Returns buf. */
#define FORMAT_BYTES_MAX 16
const char *format_bytes(char *buf, size_t size, uint64_t v);

/* SPDX-License-Identifier: MIT */
/* daemon/record-map.h: a compact map (cgroup/cgroup-map.h) in every alert. */
#pragma once

#include "record.h"

/* The daemon's caps: the map is built on the event loop, so it is bounded in processes and in time. */
#define RECORD_MAP_PROCS_MAX 2000U
#define RECORD_MAP_BUDGET_USEC (80U * USEC_PER_MSEC)
#define RECORD_MAP_TOP 5U
/* The map in a record reads smaps_rollup only for the processes statm ranks highest (cgroup-map.h). */
#define RECORD_MAP_PRECISE_TOP 64U

/* Adds, read now from the guard's cgroup and its descendants:
 *   MAP_TOP=           "PID:COMM:PSS ..." the RECORD_MAP_TOP processes that a kill or trim would give most
 *                      back (Pss_Anon + SwapPss), largest first; PSS in bytes; spaces and ':' in COMM as '_'
 *   MAP_DIAGNOSIS=     the diagnosis sentences, largest first, separated by " | " (absent when none)
 *   MAP_SHMEM_UNOWNED= bytes of tmpfs/shared memory no process maps
 *   MAP_LAZYFREE=      bytes of LazyFree (MADV_FREE) pages in the processes' RSS
 *   MAP_PROCESSES=     processes read; MAP_TRUNCATED=1 when a cap or the time budget cut the scan short
 * Nothing when the cgroup is gone or the map cannot be built (logged at debug level). */
void record_add_map(Record *r, const Guard *g);

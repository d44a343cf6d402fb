/* SPDX-License-Identifier: MIT */
/* ctl/ctl-inject.h: memwardenctl trim --inject (ctl/ctl-inject.c). Returns the exit status: 0 when at least one
 * process took the call, 1 when none did, 2 for bad arguments. */
#pragma once

#include "ctl.h"

int verb_trim_inject(const CtlArgs *a, char **operands);

typedef struct CgroupMap CgroupMap;
/* memwardenctl map --inject: the allocator view of every glibc process of the map that has no report of its
 * own, by an injected mallinfo2() (one process at a time, each bounded by timeout_sec; 0: 10 s), then the
 * diagnosis anew. Counts what was injected and what was refused (first_reason: why the first one was). */
void ctl_map_inject(CgroupMap *m, double timeout_sec, unsigned *ret_injected, unsigned *ret_refused,
                    char *first_reason, size_t reason_size);

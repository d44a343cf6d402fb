/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-psi.h: PSI triggers (Documentation/accounting/psi.rst). */
#pragma once

#include <stdbool.h>

#include "util/macro.h"

typedef enum PsiKind {
        PSI_SOME,
        PSI_FULL,
} PsiKind;

#define PSI_WINDOW_MIN_USEC (500 * USEC_PER_MSEC)
#define PSI_WINDOW_MAX_USEC (10 * USEC_PER_SEC)

/* Formats the trigger line "some 150000 1000000". Returns 0, -EINVAL for a stall of 0, a stall larger than
 * the window, or a window outside 500ms..10s (both ends allowed); -ENOBUFS when size is too small (64 is
 * always enough). */
int psi_trigger_format(PsiKind kind, usec_t stall_usec, usec_t window_usec, char *buf, size_t size);

/* Opens <cgroup>/memory.pressure O_RDWR|O_NONBLOCK|O_CLOEXEC and writes the trigger. The caller polls the
 * fd for EPOLLPRI (trigger fired) and EPOLLERR (the cgroup was removed). Returns the fd, or -errno
 * (-ENOENT: no PSI or cgroup gone; -EINVAL: kernel refused the parameters). */
int psi_trigger_open(int cgfd, PsiKind kind, usec_t stall_usec, usec_t window_usec);

/* SPDX-License-Identifier: MIT */
#pragma once

#include <time.h>

#include "macro.h"

static inline usec_t now_usec(clockid_t clock)
{
        struct timespec ts;
        clock_gettime(clock, &ts);
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / NSEC_PER_USEC;
}

/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-restart.c: /proc/PID/stat start times, the restart rate limit. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup-act.h"
#include "cgroup-restart.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/strv.h"


static bool is_blank(char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int proc_stat_parse_starttime(const char *buf, uint64_t *ret)
{
        const char *p = strrchr(buf, ')');
        if (!p)
                return -EINVAL;
        p++;
        /* After ")": field 3 (state) is the first; starttime is field 22. */
        for (int field = 3; field < 22; field++) {
                while (*p == ' ')
                        p++;
                if (!*p)
                        return -EINVAL;
                while (*p && *p != ' ')
                        p++;
        }
        while (*p == ' ')
                p++;
        if (*p < '0' || *p > '9')
                return -EINVAL;
        uint64_t v = 0;
        for (; *p >= '0' && *p <= '9'; p++) {
                if (v > (UINT64_MAX - 9) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t) (*p - '0');
        }
        if (*p && !is_blank(*p))
                return -EINVAL;
        *ret = v;
        return 0;
}

bool restart_limit_take(RestartLimit *l, uint64_t now_usec, unsigned burst, uint64_t interval_usec)
{
        if (burst == 0 || interval_usec == 0)
                return true;
        burst = MIN(burst, (unsigned) RESTART_LIMIT_BURST_MAX);

        /* Count the restarts within the interval that ends now. */
        unsigned in_window = 0;
        for (unsigned i = 0; i < l->n; i++) {
                uint64_t t = l->at_usec[(l->head + RESTART_LIMIT_BURST_MAX - 1 - i) % RESTART_LIMIT_BURST_MAX];
                if (now_usec >= t && now_usec - t < interval_usec)
                        in_window++;
        }
        if (in_window >= burst)
                return false;

        l->at_usec[l->head] = now_usec;
        l->head = (l->head + 1) % RESTART_LIMIT_BURST_MAX;
        if (l->n < RESTART_LIMIT_BURST_MAX)
                l->n++;
        return true;
}

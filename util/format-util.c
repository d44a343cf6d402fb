/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdio.h>

#include "format-util.h"

const char *format_bytes(char *buf, size_t size, uint64_t v)
{
        static const char units[] = "KMGTPE";
        if (v == UINT64_MAX) {
                snprintf(buf, size, "max");
                return buf;
        }
        if (v < 1024) {
                snprintf(buf, size, "%" PRIu64 "B", v);
                return buf;
        }
        double d = (double) v;
        size_t i = 0;
        for (d /= 1024; d >= 1024 && i + 1 < sizeof units - 1; d /= 1024)
                i++;
        if (d >= 100 || d == (double) (uint64_t) d)
                snprintf(buf, size, "%.0f%c", d, units[i]);
        else
                snprintf(buf, size, "%.1f%c", d, units[i]);
        return buf;
}

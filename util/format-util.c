/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

#include "format-util.h"

/* The two ways sizes are shown to people; one scaling loop serves both. */
typedef struct SizeStyle {
        const char *const units[6]; /* K, M, G, T, P, E */
        const char *space;          /* between the number and its unit */
        bool max_word;              /* UINT64_MAX is "max" (a limit), not 16 EiB */
        double decimal_below;       /* one decimal below this many units */
        bool whole_without_decimal; /* an exact number of units without ".0" */
} SizeStyle;

static const SizeStyle style_short = {
        .units = { "K", "M", "G", "T", "P", "E" }, .space = "", .max_word = true, .decimal_below = 100,
        .whole_without_decimal = true,
};
static const SizeStyle style_iec = {
        .units = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" }, .space = " ", .decimal_below = 9.95,
};

static const char *format_scaled(char *buf, size_t size, uint64_t v, const SizeStyle *s)
{
        if (s->max_word && v == UINT64_MAX) {
                snprintf(buf, size, "max");
                return buf;
        }
        if (v < 1024) {
                snprintf(buf, size, "%" PRIu64 "%sB", v, s->space);
                return buf;
        }
        double d = (double) v / 1024;
        size_t i = 0;
        while (d >= 1024 && i + 1 < sizeof s->units / sizeof s->units[0]) {
                d /= 1024;
                i++;
        }
        bool decimal = d < s->decimal_below && !(s->whole_without_decimal && d == (double) (uint64_t) d);
        snprintf(buf, size, decimal ? "%.1f%s%s" : "%.0f%s%s", d, s->space, s->units[i]);
        return buf;
}

const char *format_bytes(char *buf, size_t size, uint64_t v)
{
        return format_scaled(buf, size, v, &style_short);
}

const char *format_bytes_iec(char *buf, size_t size, uint64_t v)
{
        return format_scaled(buf, size, v, &style_iec);
}

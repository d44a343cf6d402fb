/* SPDX-License-Identifier: MIT */
/* policy/policy-units.c: human units (times, sizes, percentages, booleans). Pure, locale-independent: no
 * strtod(), so "1.5s" means the same under every LC_NUMERIC. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "policy-units.h"

/* The longest fraction we keep; digits beyond it are rejected rather than silently dropped. */
#define DECIMALS_MAX 9

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

static bool is_space(char c)
{
        return c == ' ' || c == '\t';
}

static bool is_alpha(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static const uint64_t pow10_table[DECIMALS_MAX + 1] = {
        1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL, 100000000ULL,
        1000000000ULL,
};

/* An unsigned decimal "123" or "1.25" at *p. On success *p points past it. The value is
 * int_part + frac / 10^n_frac. Returns 0, -EINVAL (no digits, too many decimals), -ERANGE. */
static int parse_decimal(const char **p, uint64_t *ret_int, uint64_t *ret_frac, unsigned *ret_n_frac)
{
        const char *s = *p;
        uint64_t i = 0, f = 0;
        unsigned nf = 0;
        bool any = false;

        for (; is_digit(*s); s++) {
                if (i > (UINT64_MAX - (uint64_t) (*s - '0')) / 10)
                        return -ERANGE;
                i = i * 10 + (uint64_t) (*s - '0');
                any = true;
        }
        if (*s == '.') {
                s++;
                for (; is_digit(*s); s++) {
                        if (nf >= DECIMALS_MAX)
                                return -EINVAL;
                        f = f * 10 + (uint64_t) (*s - '0');
                        nf++;
                        any = true;
                }
        }
        if (!any)
                return -EINVAL;

        *p = s;
        *ret_int = i;
        *ret_frac = f;
        *ret_n_frac = nf;
        return 0;
}

/* (i + f / 10^nf) * mult, truncated, with overflow checks. */
static int scale_decimal(uint64_t i, uint64_t f, unsigned nf, uint64_t mult, uint64_t *ret)
{
        uint64_t whole, part;

        if (__builtin_mul_overflow(i, mult, &whole))
                return -ERANGE;
        /* f < 10^9 and mult < 2^63: the product fits in 128 bits. */
        part = (uint64_t) (((unsigned __int128) f * mult) / pow10_table[nf]);
        if (__builtin_add_overflow(whole, part, ret))
                return -ERANGE;
        return 0;
}

static const struct {
        const char *suffix;
        usec_t usec;
} time_units[] = {
        { "us", 1 },
        { "usec", 1 },
        { "µs", 1 },
        { "ms", USEC_PER_MSEC },
        { "msec", USEC_PER_MSEC },
        { "s", USEC_PER_SEC },
        { "sec", USEC_PER_SEC },
        { "secs", USEC_PER_SEC },
        { "second", USEC_PER_SEC },
        { "seconds", USEC_PER_SEC },
        { "m", 60 * USEC_PER_SEC },
        { "min", 60 * USEC_PER_SEC },
        { "mins", 60 * USEC_PER_SEC },
        { "minute", 60 * USEC_PER_SEC },
        { "minutes", 60 * USEC_PER_SEC },
        { "h", 3600 * USEC_PER_SEC },
        { "hr", 3600 * USEC_PER_SEC },
        { "hour", 3600 * USEC_PER_SEC },
        { "hours", 3600 * USEC_PER_SEC },
        { "d", 86400 * USEC_PER_SEC },
        { "day", 86400 * USEC_PER_SEC },
        { "days", 86400 * USEC_PER_SEC },
};

int parse_time(const char *s, usec_t *ret)
{
        usec_t total = 0;
        bool any = false;

        if (!s)
                return -EINVAL;
        while (is_space(*s))
                s++;
        if (streq(s, "infinity")) {
                *ret = USEC_INFINITY;
                return 0;
        }

        while (*s) {
                uint64_t i, f, v;
                unsigned nf;
                usec_t mult = USEC_PER_SEC; /* a bare number is seconds */
                int r;

                if (*s == '-')
                        return -EINVAL;
                r = parse_decimal(&s, &i, &f, &nf);
                if (r < 0)
                        return r;
                const char *after_number = s;
                while (is_space(*s))
                        s++;

                const char *u = s;
                while (is_alpha(*s) || (unsigned char) *s >= 0x80) /* letters, and the µ of "µs" */
                        s++;
                if (s > u) {
                        size_t n = (size_t) (s - u);
                        bool found = false;

                        for (size_t k = 0; k < ELEMENTSOF(time_units); k++)
                                if (strlen(time_units[k].suffix) == n &&
                                    strncmp(time_units[k].suffix, u, n) == 0) {
                                        mult = time_units[k].usec;
                                        found = true;
                                        break;
                                }
                        if (!found)
                                return -EINVAL;
                } else if (*s && s == after_number)
                        return -EINVAL; /* "1.5.3", "5,5": junk right after a bare number */

                r = scale_decimal(i, f, nf, mult, &v);
                if (r < 0)
                        return r;
                if (__builtin_add_overflow(total, v, &total) || total == USEC_INFINITY)
                        return -ERANGE;
                any = true;

                while (is_space(*s))
                        s++;
        }
        if (!any)
                return -EINVAL;

        *ret = total;
        return 0;
}

static const struct {
        char letter;
        uint64_t factor;
} size_units[] = {
        { 'E', 1ULL << 60 }, { 'P', 1ULL << 50 }, { 'T', 1ULL << 40 },
        { 'G', 1ULL << 30 }, { 'M', 1ULL << 20 }, { 'K', 1ULL << 10 },
};

int parse_size(const char *s, uint64_t *ret)
{
        uint64_t i, f, mult = 1, v;
        unsigned nf;
        int r;

        if (!s)
                return -EINVAL;
        while (is_space(*s))
                s++;
        if (*s == '-')
                return -EINVAL;
        r = parse_decimal(&s, &i, &f, &nf);
        if (r < 0)
                return r;
        while (is_space(*s))
                s++;

        if (*s) {
                char c = *s;
                bool found = false;

                if (c >= 'a' && c <= 'z')
                        c = (char) (c - 'a' + 'A');
                for (size_t k = 0; k < ELEMENTSOF(size_units); k++)
                        if (size_units[k].letter == c) {
                                mult = size_units[k].factor;
                                found = true;
                                break;
                        }
                if (found) {
                        s++;
                        /* "M", "MB", "MiB": all 1024-based, as in systemd. */
                        if (*s == 'i')
                                s++;
                        if (*s == 'B')
                                s++;
                } else if (c == 'B')
                        s++;
                else
                        return -EINVAL;
                while (is_space(*s))
                        s++;
                if (*s)
                        return -EINVAL;
        }

        r = scale_decimal(i, f, nf, mult, &v);
        if (r < 0)
                return r;
        *ret = v;
        return 0;
}

int parse_percent(const char *s, double *ret)
{
        uint64_t i, f;
        unsigned nf;
        int r;

        if (!s)
                return -EINVAL;
        while (is_space(*s))
                s++;
        if (*s == '-')
                return -EINVAL;
        r = parse_decimal(&s, &i, &f, &nf);
        if (r < 0)
                return r;
        while (is_space(*s))
                s++;
        if (*s != '%')
                return -EINVAL;
        s++;
        while (is_space(*s))
                s++;
        if (*s)
                return -EINVAL;
        if (i > 100 || (i == 100 && f > 0))
                return -ERANGE;

        /* One division of two exact integers: correctly rounded, like strtod(). */
        *ret = (double) (i * pow10_table[nf] + f) / (double) pow10_table[nf];
        return 0;
}

int parse_quantity(const char *s, Quantity *ret)
{
        Quantity q = {};
        int r;

        if (!s)
                return -EINVAL;
        if (strchr(s, '%')) {
                r = parse_percent(s, &q.percent);
                if (r < 0)
                        return r;
                q.is_percent = true;
        } else {
                r = parse_size(s, &q.bytes);
                if (r < 0)
                        return r;
        }
        *ret = q;
        return 0;
}

uint64_t quantity_resolve(const Quantity *q, uint64_t base)
{
        if (!q->is_percent)
                return q->bytes;
        if (base == UINT64_MAX)
                return UINT64_MAX;

        /* base * percent / 100 without going through a double for the large part. */
        unsigned __int128 scaled = (unsigned __int128) base * (unsigned __int128) (q->percent * 1000000.0 + 0.5);
        scaled /= 100000000U;
        return scaled > UINT64_MAX ? UINT64_MAX : (uint64_t) scaled;
}

int parse_boolean(const char *s)
{
        static const char *const yes[] = { "1", "yes", "y", "true", "t", "on" };
        static const char *const no[] = { "0", "no", "n", "false", "f", "off" };

        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(s, yes[i]) == 0)
                        return 1;
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcasecmp(s, no[i]) == 0)
                        return 0;
        return -EINVAL;
}

const char *format_time(char *buf, size_t size, usec_t t)
{
        static const struct {
                const char *suffix;
                usec_t usec;
        } table[] = {
                { "d", 86400 * USEC_PER_SEC },
                { "h", 3600 * USEC_PER_SEC },
                { "min", 60 * USEC_PER_SEC },
                { "s", USEC_PER_SEC },
                { "ms", USEC_PER_MSEC },
                { "us", 1 },
        };
        size_t n = 0;

        if (size == 0)
                return buf;
        buf[0] = '\0';
        if (t == USEC_INFINITY) {
                snprintf(buf, size, "infinity");
                return buf;
        }
        if (t == 0) {
                snprintf(buf, size, "0");
                return buf;
        }

        for (size_t i = 0; i < ELEMENTSOF(table) && t > 0; i++) {
                uint64_t k = t / table[i].usec;
                int w;

                if (k == 0)
                        continue;
                t -= k * table[i].usec;
                w = snprintf(buf + n, size - n, "%s%" PRIu64 "%s", n > 0 ? " " : "", k, table[i].suffix);
                if (w < 0 || (size_t) w >= size - n)
                        break; /* truncated: the buffer is still NUL-terminated */
                n += (size_t) w;
        }
        return buf;
}

const char *format_size(char *buf, size_t size, uint64_t bytes)
{
        if (size == 0)
                return buf;

        /* The largest unit that shows the value exactly with at most three decimals. */
        for (size_t u = 0; u < ELEMENTSOF(size_units); u++) {
                uint64_t factor = size_units[u].factor;

                if (bytes < factor)
                        continue;
                for (unsigned d = 0; d <= 3; d++) {
                        unsigned __int128 scaled = (unsigned __int128) bytes * pow10_table[d];

                        if (scaled % factor != 0)
                                continue;
                        uint64_t v = (uint64_t) (scaled / factor);
                        if (d == 0)
                                snprintf(buf, size, "%" PRIu64 "%c", v, size_units[u].letter);
                        else {
                                uint64_t ip = v / pow10_table[d], fp = v % pow10_table[d];
                                /* strip trailing zeros of the fraction */
                                unsigned dd = d;
                                while (dd > 0 && fp % 10 == 0) {
                                        fp /= 10;
                                        dd--;
                                }
                                snprintf(buf, size, "%" PRIu64 ".%0*" PRIu64 "%c", ip, (int) dd, fp,
                                         size_units[u].letter);
                        }
                        return buf;
                }
        }
        snprintf(buf, size, "%" PRIu64, bytes);
        return buf;
}

const char *format_quantity(char *buf, size_t size, const Quantity *q)
{
        if (q->is_percent) {
                snprintf(buf, size, "%.15g%%", q->percent);
                return buf;
        }
        return format_size(buf, size, q->bytes);
}

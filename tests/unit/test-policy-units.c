/* SPDX-License-Identifier: MIT */
/* Tests for policy/policy-units.c: human units, table-driven. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <string.h>

#include "policy/policy-units.h"

#define MSEC USEC_PER_MSEC
#define SEC USEC_PER_SEC

static const struct {
        const char *in;
        usec_t usec;
} time_good[] = {
        { "0", 0 },
        { "1", SEC },
        { "30", 30 * SEC },
        { "150ms", 150 * MSEC },
        { "150 ms", 150 * MSEC },
        { "150msec", 150 * MSEC },
        { "1.5s", 1500 * MSEC },
        { "0.5", 500 * MSEC },
        { ".25s", 250 * MSEC },
        { "2min", 120 * SEC },
        { "2m", 120 * SEC },
        { "1h 30min", 5400 * SEC },
        { "1h30min", 5400 * SEC },
        { "1hour", 3600 * SEC },
        { "1d", 86400 * SEC },
        { "500us", 500 },
        { "500usec", 500 },
        { "500µs", 500 },
        { "1s 500ms", 1500 * MSEC },
        { "  10s  ", 10 * SEC },
        { "1.000001s", SEC + 1 },
        { "1.0000001s", SEC }, /* below a microsecond: truncated */
        { "3sec", 3 * SEC },
        { "infinity", USEC_INFINITY },
};

static const struct {
        const char *in;
        int error;
} time_bad[] = {
        { "", -EINVAL },
        { " ", -EINVAL },
        { "10 parsecs", -EINVAL },
        { "-1s", -EINVAL },
        { "s", -EINVAL },
        { "1.5.3", -EINVAL },
        { "5,5s", -EINVAL },
        { "1x", -EINVAL },
        { ".", -EINVAL },
        { "1.1234567891s", -EINVAL }, /* more decimals than we keep */
        { "99999999999999999999", -ERANGE },
        { "18446744073709551615us", -ERANGE }, /* == USEC_INFINITY, which only "infinity" may give */
        { "300000000000d", -ERANGE },
        { "200000000d 200000000d", -ERANGE },
};

Test(policy_units, parse_time_good)
{
        for (size_t i = 0; i < ELEMENTSOF(time_good); i++) {
                usec_t t = 12345;
                int r = parse_time(time_good[i].in, &t);
                cr_assert_eq(r, 0, "parse_time(\"%s\") = %d", time_good[i].in, r);
                cr_assert_eq(t, time_good[i].usec, "parse_time(\"%s\") = %" PRIu64 ", want %" PRIu64,
                             time_good[i].in, t, time_good[i].usec);
        }
}

Test(policy_units, parse_time_bad)
{
        for (size_t i = 0; i < ELEMENTSOF(time_bad); i++) {
                usec_t t = 12345;
                int r = parse_time(time_bad[i].in, &t);
                cr_assert_eq(r, time_bad[i].error, "parse_time(\"%s\") = %d, want %d", time_bad[i].in, r,
                             time_bad[i].error);
                cr_assert_eq(t, 12345, "parse_time(\"%s\") wrote its output on failure", time_bad[i].in);
        }
}

static const struct {
        const char *in;
        uint64_t bytes;
} size_good[] = {
        { "0", 0 },
        { "4096", 4096 },
        { "4096B", 4096 },
        { "512K", 512ULL << 10 },
        { "256M", 256ULL << 20 },
        { "256MiB", 256ULL << 20 },
        { "256MB", 256ULL << 20 }, /* 1024-based, as in systemd */
        { "256m", 256ULL << 20 },
        { "1G", 1ULL << 30 },
        { "1.5G", 3ULL << 29 },
        { "2T", 2ULL << 40 },
        { "1P", 1ULL << 50 },
        { "15E", 15ULL << 60 },
        { "1 G", 1ULL << 30 },
        { "18446744073709551615", UINT64_MAX },
};

static const struct {
        const char *in;
        int error;
} size_bad[] = {
        { "", -EINVAL },
        { "M", -EINVAL },
        { "-1M", -EINVAL },
        { "10X", -EINVAL },
        { "10 parsecs", -EINVAL },
        { "1GG", -EINVAL },
        { "1Gx", -EINVAL },
        { "10%", -EINVAL },
        { "16E", -ERANGE },
        { "18446744073709551616", -ERANGE },
        { "99999999999999999999999", -ERANGE },
        { "20000000T", -ERANGE },
};

Test(policy_units, parse_size_good)
{
        for (size_t i = 0; i < ELEMENTSOF(size_good); i++) {
                uint64_t v = 7;
                int r = parse_size(size_good[i].in, &v);
                cr_assert_eq(r, 0, "parse_size(\"%s\") = %d", size_good[i].in, r);
                cr_assert_eq(v, size_good[i].bytes, "parse_size(\"%s\") = %" PRIu64, size_good[i].in, v);
        }
}

Test(policy_units, parse_size_bad)
{
        for (size_t i = 0; i < ELEMENTSOF(size_bad); i++) {
                uint64_t v = 7;
                int r = parse_size(size_bad[i].in, &v);
                cr_assert_eq(r, size_bad[i].error, "parse_size(\"%s\") = %d, want %d", size_bad[i].in, r,
                             size_bad[i].error);
                cr_assert_eq(v, 7);
        }
}

Test(policy_units, parse_percent)
{
        double d = -1;
        cr_assert_eq(parse_percent("10%", &d), 0);
        cr_assert_float_eq(d, 10.0, 1e-12);
        cr_assert_eq(parse_percent("12.5%", &d), 0);
        cr_assert_float_eq(d, 12.5, 1e-12);
        cr_assert_eq(parse_percent("0%", &d), 0);
        cr_assert_float_eq(d, 0.0, 1e-12);
        cr_assert_eq(parse_percent("100%", &d), 0);
        cr_assert_float_eq(d, 100.0, 1e-12);
        cr_assert_eq(parse_percent("0.1%", &d), 0);
        cr_assert(d == 0.1, "0.1%% must be exactly the double 0.1, like strtod");

        d = -1;
        cr_assert_eq(parse_percent("10", &d), -EINVAL);
        cr_assert_eq(parse_percent("", &d), -EINVAL);
        cr_assert_eq(parse_percent("%", &d), -EINVAL);
        cr_assert_eq(parse_percent("-5%", &d), -EINVAL);
        cr_assert_eq(parse_percent("10%%", &d), -EINVAL);
        cr_assert_eq(parse_percent("10% x", &d), -EINVAL);
        cr_assert_eq(parse_percent("100.5%", &d), -ERANGE);
        cr_assert_eq(parse_percent("101%", &d), -ERANGE);
        cr_assert_eq(parse_percent("99999999999999999999%", &d), -ERANGE);
        cr_assert_eq(d, -1);
}

Test(policy_units, parse_quantity_and_resolve)
{
        Quantity q;

        cr_assert_eq(parse_quantity("90%", &q), 0);
        cr_assert(q.is_percent);
        cr_assert_float_eq(q.percent, 90.0, 1e-12);
        cr_assert_eq(quantity_resolve(&q, 256ULL << 20), 241591910ULL); /* 0.9 * 268435456, truncated */
        cr_assert_eq(quantity_resolve(&q, UINT64_MAX), UINT64_MAX);
        cr_assert_eq(quantity_resolve(&q, 0), 0);

        cr_assert_eq(parse_quantity("100%", &q), 0);
        cr_assert_eq(quantity_resolve(&q, UINT64_MAX - 1), UINT64_MAX - 1);

        cr_assert_eq(parse_quantity("256M", &q), 0);
        cr_assert(!q.is_percent);
        cr_assert_eq(q.bytes, 256ULL << 20);
        cr_assert_eq(quantity_resolve(&q, 1), 256ULL << 20, "bytes do not depend on the base");

        cr_assert_eq(parse_quantity("x%", &q), -EINVAL);
        cr_assert_eq(parse_quantity("200%", &q), -ERANGE);
        cr_assert_eq(parse_quantity("lots", &q), -EINVAL);
}

Test(policy_units, parse_boolean)
{
        static const char *const yes[] = { "yes", "YES", "y", "true", "on", "1", "True" };
        static const char *const no[] = { "no", "NO", "n", "false", "off", "0", "Off" };
        static const char *const bad[] = { "", "2", "yess", "enable", " yes" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                cr_assert_eq(parse_boolean(yes[i]), 1, "%s", yes[i]);
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                cr_assert_eq(parse_boolean(no[i]), 0, "%s", no[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                cr_assert_eq(parse_boolean(bad[i]), -EINVAL, "%s", bad[i]);
}

Test(policy_units, format_time)
{
        static const struct {
                usec_t t;
                const char *s;
        } table[] = {
                { 0, "0" },
                { 1, "1us" },
                { 150 * MSEC, "150ms" },
                { 30 * SEC, "30s" },
                { 150 * SEC, "2min 30s" },
                { 5400 * SEC, "1h 30min" },
                { 86400 * SEC + 1, "1d 1us" },
                { 1500 * MSEC, "1s 500ms" },
                { USEC_INFINITY, "infinity" },
        };
        char buf[FORMAT_TIME_MAX];

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                cr_assert_str_eq(format_time(buf, sizeof buf, table[i].t), table[i].s);

        /* a small buffer truncates, still NUL-terminated */
        char small[6];
        format_time(small, sizeof small, 5400 * SEC);
        cr_assert_lt(strlen(small), sizeof small);
}

Test(policy_units, format_size)
{
        static const struct {
                uint64_t b;
                const char *s;
        } table[] = {
                { 0, "0" },
                { 1000, "1000" },
                { 1024, "1K" },
                { 1536, "1.5K" },
                { 256ULL << 20, "256M" },
                { 3ULL << 29, "1.5G" },
                { 5ULL << 28, "1.25G" },
                { (1ULL << 30) + 1, "1073741825" },
                { 15ULL << 60, "15E" },
        };
        char buf[FORMAT_SIZE_MAX];

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                cr_assert_str_eq(format_size(buf, sizeof buf, table[i].b), table[i].s);

        Quantity q = { .is_percent = true, .percent = 12.5 };
        cr_assert_str_eq(format_quantity(buf, sizeof buf, &q), "12.5%");
        q = (Quantity) { .bytes = 1ULL << 30 };
        cr_assert_str_eq(format_quantity(buf, sizeof buf, &q), "1G");
}

Test(policy_units, round_trip_time)
{
        static const usec_t values[] = {
                0,           1,          999,           MSEC,       150 * MSEC, SEC,           1500 * MSEC,
                59 * SEC,    61 * SEC,   3599 * SEC + 1, 5400 * SEC, 86400 * SEC, 90061 * SEC + 1001,
                USEC_INFINITY, 12345678901234ULL,
        };
        char buf[FORMAT_TIME_MAX];

        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                usec_t t;
                format_time(buf, sizeof buf, values[i]);
                cr_assert_eq(parse_time(buf, &t), 0, "%s", buf);
                cr_assert_eq(t, values[i], "%s -> %" PRIu64 " != %" PRIu64, buf, t, values[i]);
        }
        /* a pseudo-random sweep */
        uint64_t x = 88172645463325252ULL;
        for (int i = 0; i < 10000; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                usec_t v = x % (400ULL * 86400 * SEC), t;
                format_time(buf, sizeof buf, v);
                cr_assert_eq(parse_time(buf, &t), 0, "%s", buf);
                cr_assert_eq(t, v, "%s", buf);
        }
}

Test(policy_units, round_trip_size)
{
        static const uint64_t values[] = {
                0, 1, 1023, 1024, 1536, 1ULL << 20, (1ULL << 20) + 512, 3ULL << 29, UINT64_MAX, UINT64_MAX - 1,
                1ULL << 63, 7ULL << 60,
        };
        char buf[FORMAT_SIZE_MAX];

        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                uint64_t v;
                format_size(buf, sizeof buf, values[i]);
                cr_assert_eq(parse_size(buf, &v), 0, "%s", buf);
                cr_assert_eq(v, values[i], "%s", buf);
        }
        uint64_t x = 2463534242ULL;
        for (int i = 0; i < 10000; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                uint64_t v = (i & 1) ? x : (x % 4096) << (x % 50), w;
                format_size(buf, sizeof buf, v);
                cr_assert_eq(parse_size(buf, &w), 0, "%s", buf);
                cr_assert_eq(w, v, "%s", buf);
        }
}

Test(policy_units, round_trip_percent)
{
        static const char *const inputs[] = { "0%", "0.1%", "5%", "12.5%", "33.333333333%", "99.999%", "100%" };
        char buf[FORMAT_SIZE_MAX];

        for (size_t i = 0; i < ELEMENTSOF(inputs); i++) {
                Quantity q, q2;
                cr_assert_eq(parse_quantity(inputs[i], &q), 0);
                format_quantity(buf, sizeof buf, &q);
                cr_assert_str_eq(buf, inputs[i]);
                cr_assert_eq(parse_quantity(buf, &q2), 0);
                cr_assert(q2.is_percent && q2.percent == q.percent, "%s", buf);
        }
}

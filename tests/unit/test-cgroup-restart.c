/* SPDX-License-Identifier: MIT */
/* Unit tests for cgroup/cgroup-restart.c: /proc/PID/stat start times (hostile comm names), the restart
 * rate limit. Command= is tests/unit/test-policy-command.c. */
#include <criterion/criterion.h>
#include <string.h>

#include "cgroup/cgroup-restart.h"
#include "util/strv.h"

Test(stat, starttime)
{
        uint64_t t;
        const char *ok = "1234 (python3) S 1 1234 1234 0 -1 4194560 1000 0 0 0 12 3 0 0 20 0 1 0 987654 "
                         "12345678 2000 18446744073709551615 1 1 0 0 0 0 0 16781312 2 0 0 0 17 1 0 0 0 0 0\n";
        cr_assert_eq(proc_stat_parse_starttime(ok, &t), 0);
        cr_assert_eq(t, 987654);

        /* A comm with ") S 1 2 " in it: fields count after the last ')'. */
        const char *evil = "99 (a) S 1 2 3) R 1 99 99 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42 0 0\n";
        cr_assert_eq(proc_stat_parse_starttime(evil, &t), 0);
        cr_assert_eq(t, 42);

        cr_assert_eq(proc_stat_parse_starttime("", &t), -EINVAL);
        cr_assert_eq(proc_stat_parse_starttime("1 (x) S 1 2 3", &t), -EINVAL, "truncated");
        cr_assert_eq(proc_stat_parse_starttime("1 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 4x2 0\n", &t),
                     -EINVAL);
        cr_assert_eq(proc_stat_parse_starttime("1 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 "
                                               "99999999999999999999999 0\n",
                                               &t),
                     -ERANGE);
        cr_assert_eq(proc_stat_parse_starttime("no paren at all", &t), -EINVAL);
}

Test(limit, burst_per_interval)
{
        RestartLimit l = {};
        uint64_t min = 60ULL * 1000000;

        /* 3 per 10 min. */
        cr_assert(restart_limit_take(&l, 1 * min, 3, 10 * min));
        cr_assert(restart_limit_take(&l, 2 * min, 3, 10 * min));
        cr_assert(restart_limit_take(&l, 3 * min, 3, 10 * min));
        cr_assert_not(restart_limit_take(&l, 4 * min, 3, 10 * min), "a fourth within 10 min");
        cr_assert_not(restart_limit_take(&l, 10 * min, 3, 10 * min), "a refused attempt is not counted, "
                                                                      "but the first is still within 10 min");
        cr_assert(restart_limit_take(&l, 11 * min, 3, 10 * min), "the first restart left the window");
        cr_assert_not(restart_limit_take(&l, 11 * min + 1, 3, 10 * min));

        /* 0 = no limit. */
        RestartLimit u = {};
        for (int i = 0; i < 1000; i++) {
                cr_assert(restart_limit_take(&u, (uint64_t) i, 0, 10 * min));
                cr_assert(restart_limit_take(&u, (uint64_t) i, 3, 0));
        }

        /* A burst beyond the ring counts as its size. */
        RestartLimit b = {};
        for (int i = 0; i < RESTART_LIMIT_BURST_MAX; i++)
                cr_assert(restart_limit_take(&b, 1000 + (uint64_t) i, 1000, 10 * min));
        cr_assert_not(restart_limit_take(&b, 5000, 1000, 10 * min));

        /* Burst=1: one per interval. */
        RestartLimit one = {};
        cr_assert(restart_limit_take(&one, 5 * min, 1, min));
        cr_assert_not(restart_limit_take(&one, 5 * min + 59 * 1000000ULL, 1, min));
        cr_assert(restart_limit_take(&one, 6 * min, 1, min));
}

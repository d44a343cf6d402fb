/* SPDX-License-Identifier: MIT */
/* daemon/sentinel.h: the pure parts of the shared PSI triggers: which member stalled given its totals,
 * when a hot member may drop its own trigger, the parent's threshold, the grouping key. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "daemon/sentinel.h"

#define MS USEC_PER_MSEC
#define S USEC_PER_SEC

Test(sentinel, classify_calm_and_reset)
{
        cr_assert_eq(sentinel_classify(500, 10 * S, 500, 11 * S, 100 * MS, S), SENTINEL_CALM);
        cr_assert_eq(sentinel_classify(500, 10 * S, 400, 11 * S, 100 * MS, S), SENTINEL_RESET);
}

Test(sentinel, classify_fired_only_within_the_window)
{
        /* 100 ms of stall in the last 0.8 s: its own 100ms/1s trigger would have fired. */
        cr_assert_eq(sentinel_classify(1000, 10 * S, 1000 + 100 * MS, 10 * S + 800 * MS, 100 * MS, S),
                     SENTINEL_FIRED);
        /* exactly one window */
        cr_assert_eq(sentinel_classify(0, 10 * S, 150 * MS, 11 * S, 100 * MS, S), SENTINEL_FIRED);
        /* 99 ms: not enough */
        cr_assert_eq(sentinel_classify(0, 10 * S, 99 * MS, 10 * S + 500 * MS, 100 * MS, S), SENTINEL_WARM);
        /* 100 ms spread over 10 s since the last look: cannot tell, its own trigger decides */
        cr_assert_eq(sentinel_classify(0, 10 * S, 100 * MS, 20 * S, 100 * MS, S), SENTINEL_WARM);
        /* no look yet: never FIRED */
        cr_assert_eq(sentinel_classify(0, 0, 500 * MS, 20 * S, 100 * MS, S), SENTINEL_WARM);
        /* a clock that went backwards is no proof */
        cr_assert_eq(sentinel_classify(0, 20 * S, 500 * MS, 19 * S, 100 * MS, S), SENTINEL_WARM);
}

Test(sentinel, may_cool)
{
        /* under pressure: never */
        cr_assert_not(sentinel_may_cool(true, 0, 10 * S, 0, 12 * S, 100 * MS, S));
        /* calm, no stall since */
        cr_assert(sentinel_may_cool(false, 7, 10 * S, 7, 11 * S, 100 * MS, S));
        /* calm, 40 ms over 1 s: below half of 100 ms/s */
        cr_assert(sentinel_may_cool(false, 0, 10 * S, 40 * MS, 11 * S, 100 * MS, S));
        /* calm, 60 ms over 1 s: still stalling near its threshold */
        cr_assert_not(sentinel_may_cool(false, 0, 10 * S, 60 * MS, 11 * S, 100 * MS, S));
        /* no time elapsed */
        cr_assert_not(sentinel_may_cool(false, 0, 10 * S, 0, 10 * S, 100 * MS, S));
        /* recreated */
        cr_assert(sentinel_may_cool(false, 100, 10 * S, 5, 11 * S, 100 * MS, S));
}

Test(sentinel, parent_threshold_is_a_lower_bound)
{
        /* one CPU: the parent shows at least the child's stall */
        cr_assert_eq(sentinel_stall_usec(100 * MS, S, 1), 100 * MS);
        cr_assert_eq(sentinel_stall_usec(100 * MS, S, 0), 100 * MS);
        /* two CPUs: 100^2 / (100 + 1000) ms = 9.09 ms */
        cr_assert_eq(sentinel_stall_usec(100 * MS, S, 2), 9090);
        /* worst case by hand: the child stalls STALL on CPU 0 (non-idle only then), the other CPU is busy in
         * the parent the whole window: the parent's weighted stall is STALL * STALL / (STALL + WINDOW). */
        for (unsigned n = 1; n <= 256; n *= 2) {
                usec_t t = sentinel_stall_usec(150 * MS, 2 * S, n);
                double worst = 0.15 * 0.15 / (0.15 + (n - 1) * 2.0) * 1e6;
                cr_assert_leq(t, worst + 1e-6);
                cr_assert_geq(t, 1);
        }
        /* never 0 (the kernel refuses a stall of 0) */
        cr_assert_eq(sentinel_stall_usec(1, 10 * S, 256), 1);
}

Test(sentinel, parent_path)
{
        char b[64];
        cr_assert_eq(sentinel_parent_path("/a/b/c.service", b, sizeof b), 0);
        cr_assert_str_eq(b, "/a/b");
        cr_assert_eq(sentinel_parent_path("/a", b, sizeof b), 0);
        cr_assert_str_eq(b, "/");
        cr_assert_eq(sentinel_parent_path("a/b", b, sizeof b), -EINVAL);
        cr_assert_eq(sentinel_parent_path(NULL, b, sizeof b), -EINVAL);
        cr_assert_eq(sentinel_parent_path("/abc/d", b, 4), -ENOBUFS);
        cr_assert_eq(sentinel_parent_path("/abc/d", b, 5), 0);
        cr_assert_str_eq(b, "/abc");
}

Test(sentinel, grouping_key)
{
        char a[128], b[128];
        cr_assert_eq(sentinel_key(PSI_SOME, 100 * MS, S, "/mwscale/c1", a, sizeof a), 0);
        cr_assert_str_eq(a, "some 100000 1000000 /mwscale");
        /* siblings with the same setting share */
        cr_assert_eq(sentinel_key(PSI_SOME, 100 * MS, S, "/mwscale/c9999", b, sizeof b), 0);
        cr_assert_str_eq(a, b);
        /* another setting, kind or parent does not */
        cr_assert_eq(sentinel_key(PSI_SOME, 150 * MS, S, "/mwscale/c2", b, sizeof b), 0);
        cr_assert_str_neq(a, b);
        cr_assert_eq(sentinel_key(PSI_FULL, 100 * MS, S, "/mwscale/c2", b, sizeof b), 0);
        cr_assert_str_eq(b, "full 100000 1000000 /mwscale");
        cr_assert_eq(sentinel_key(PSI_SOME, 100 * MS, S, "/mwscale/c2/x", b, sizeof b), 0);
        cr_assert_str_eq(b, "some 100000 1000000 /mwscale/c2");
        cr_assert_eq(sentinel_key(PSI_SOME, 100 * MS, S, "/x", b, sizeof b), 0);
        cr_assert_str_eq(b, "some 100000 1000000 /");
        cr_assert_eq(sentinel_key(PSI_SOME, 100 * MS, S, "/mwscale/c1", a, 10), -ENOBUFS);
        cr_assert_eq(sentinel_key(7, 100 * MS, S, "/mwscale/c1", a, sizeof a), -EINVAL);
}

/* SPDX-License-Identifier: MIT */
/* Unit tests for cgroup/cgroup-restart.c: Command= templates, /proc/PID/stat start times (hostile comm
 * names), the restart rate limit. */
#include <criterion/criterion.h>
#include <string.h>

#include "cgroup/cgroup-restart.h"
#include "util/strv.h"

Test(command, check)
{
        char bad = 'x';
        cr_assert_eq(restart_command_check("podman restart %c", &bad), 0);
        cr_assert_eq(bad, 0);
        cr_assert_eq(restart_command_check("/usr/bin/x --unit=%u --cg %p 100%%", NULL), 0);
        cr_assert_eq(restart_command_check("x %n", &bad), -EINVAL);
        cr_assert_eq(bad, 'n');
        cr_assert_eq(restart_command_check("x 100%", &bad), -EINVAL, "a lone % at the end");
        cr_assert_eq(bad, '%');
        cr_assert_eq(restart_command_check("   ", &bad), -EINVAL);
        cr_assert_eq(bad, 0);
        cr_assert_eq(restart_command_check("", NULL), -EINVAL);
}

Test(command, expand)
{
        RestartCommandVars v = { .container_id = "0123abcd", .unit = "libpod-0123abcd.scope",
                                 .cgroup = "/machine.slice/libpod-0123abcd.scope" };
        char **argv = NULL;

        cr_assert_eq(restart_command_expand("  podman\trestart  %c  ", &v, &argv), 0);
        cr_assert_eq(strv_length(argv), 3);
        cr_assert_str_eq(argv[0], "podman");
        cr_assert_str_eq(argv[1], "restart");
        cr_assert_str_eq(argv[2], "0123abcd");
        strv_free(argv);

        cr_assert_eq(restart_command_expand("/bin/echo --unit=%u cg=%p 50%% %c%c", &v, &argv), 0);
        cr_assert_str_eq(argv[1], "--unit=libpod-0123abcd.scope");
        cr_assert_str_eq(argv[2], "cg=/machine.slice/libpod-0123abcd.scope");
        cr_assert_str_eq(argv[3], "50%");
        cr_assert_str_eq(argv[4], "0123abcd0123abcd");
        cr_assert_null(argv[5]);
        strv_free(argv);

        /* A value with blanks stays one argument: no shell, no re-splitting. */
        v.unit = "odd name.service";
        cr_assert_eq(restart_command_expand("x %u", &v, &argv), 0);
        cr_assert_eq(strv_length(argv), 2);
        cr_assert_str_eq(argv[1], "odd name.service");
        strv_free(argv);

        /* %c for a cgroup that is no container: refuse rather than run "podman restart" bare. */
        v.container_id = NULL;
        argv = NULL;
        cr_assert_eq(restart_command_expand("podman restart %c", &v, &argv), -ENODATA);
        cr_assert_null(argv);
        cr_assert_eq(restart_command_expand("x %q", &v, &argv), -EINVAL);
        cr_assert_eq(restart_command_expand("", &v, &argv), -EINVAL);
}

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

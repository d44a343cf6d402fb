/* SPDX-License-Identifier: MIT */
/* Unit tests for policy/policy-command.c: the specifier table of Command=, the check the loader uses and
 * the expansion both rungs use. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "policy/policy-command.h"
#include "util/strv.h"

/* The table: one meaning per letter, every letter offered by at least one rung, %% everywhere. And the man
 * page lists exactly these letters in its one table. */
Test(command, table)
{
        bool seen[256] = {};
        size_t n = 0;

        for (const CommandSpecifier *s = command_specifiers; s->letter; s++, n++) {
                cr_assert_not(seen[(unsigned char) s->letter], "%%%c twice in the table", s->letter);
                seen[(unsigned char) s->letter] = true;
                cr_assert(s->trim || s->restart, "%%%c is offered by no rung", s->letter);
                cr_assert(s->meaning && *s->meaning, "%%%c has no meaning", s->letter);
        }
        cr_assert_eq(n, 5);
        cr_assert(seen['p'] && seen['c'] && seen['u'] && seen['g'] && seen['%']);

        /* memwarden.policy(5): the specifier table (between .\" specifiers-begin and -end) has one row per
         * letter of command_specifiers[], and no other. */
        FILE *f = fopen(SOURCE_ROOT "/man/memwarden.policy.5", "re");
        cr_assert_not_null(f);
        char line[512];
        bool in = false;
        size_t rows = 0;
        while (fgets(line, sizeof line, f)) {
                if (strstr(line, "specifiers-begin"))
                        in = true;
                else if (strstr(line, "specifiers-end"))
                        in = false;
                else if (in && strncmp(line, "\\fB%", 4) == 0) {
                        char l = line[4] == '%' && line[5] == '%' ? '%' : line[4];
                        cr_assert(seen[(unsigned char) l], "the man page lists %%%c, the table does not", l);
                        rows++;
                }
        }
        fclose(f);
        cr_assert_eq(rows, n, "the man page's table has %zu rows, command_specifiers[] %zu", rows, n);
}

Test(command, check_accepts)
{
        char e[COMMAND_ERROR_MAX];

        cr_assert_eq(command_check("jcmd %p System.trim_native_heap", RUNG_TRIM, e, sizeof e), 0, "%s", e);
        cr_assert_eq(command_check("/usr/bin/x --pid=%p --cg %g --unit=%u 100%%", RUNG_TRIM, e, sizeof e), 0, "%s", e);
        cr_assert_eq(command_check("podman restart --time 10 %c", RUNG_RESTART, e, sizeof e), 0, "%s", e);
        cr_assert_eq(command_check("/usr/bin/x --unit=%u --cg %g 100%%", RUNG_RESTART, e, sizeof e), 0, "%s", e);
        cr_assert_eq(command_check("  x\t%g  ", RUNG_RESTART, NULL, 0), 0);
}

Test(command, check_refuses)
{
        static const struct {
                const char *tmpl;
                Rung rung;
                const char *message;
        } cases[] = {
                { "", RUNG_TRIM, "expected a program and its arguments" },
                { "   \t", RUNG_RESTART, "expected a program and its arguments" },
                { "%g/bin/x", RUNG_RESTART, "the program must be named, not a specifier" },
                { "/bin/%u", RUNG_TRIM, "the program must be named, not a specifier" },
                { "x %n", RUNG_RESTART, "unknown specifier %n (known: %c the container id" },
                { "x %n", RUNG_TRIM, "unknown specifier %n (known: %p the PID" },
                { "kill 100%", RUNG_RESTART, "a lone % (%% is a percent sign)" },
                { "x 100% y", RUNG_TRIM, "a lone %" },
                /* The two old dialects: refused, with the new letter named. */
                { "x %c", RUNG_TRIM, "%c is the container id of the guarded cgroup, which [Trim] Command= does not "
                                     "have; it meant the cgroup path here before: write %g" },
                { "x %p", RUNG_RESTART, "%p is the PID of the process the command is for, which [Restart] "
                                        "Command= does not have; it meant the cgroup path here before: write %g" },
                { "x %p", RUNG_KILL, "only [Trim] and [Restart] take a Command=" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char e[COMMAND_ERROR_MAX] = "unset";
                cr_assert_eq(command_check(cases[i].tmpl, cases[i].rung, e, sizeof e), -EINVAL, "\"%s\"",
                             cases[i].tmpl);
                cr_assert(strstr(e, cases[i].message), "\"%s\": got \"%s\", want \"%s\"", cases[i].tmpl, e,
                          cases[i].message);
        }
        cr_assert_eq(command_check(NULL, RUNG_TRIM, NULL, 0), -EINVAL);
}

Test(command, expand)
{
        CommandVars v = { .pid = 4242, .container_id = "0123abcd", .unit = "libpod-0123abcd.scope",
                          .cgroup = "/machine.slice/libpod-0123abcd.scope" };
        char **argv = NULL;

        cr_assert_eq(command_expand("  podman\trestart  %c  ", &v, &argv, NULL), 0);
        cr_assert_eq(strv_length(argv), 3);
        cr_assert_str_eq(argv[0], "podman");
        cr_assert_str_eq(argv[1], "restart");
        cr_assert_str_eq(argv[2], "0123abcd");
        strv_free(argv);

        cr_assert_eq(command_expand("/bin/echo --unit=%u cg=%g 50%% %c%c pid:%p", &v, &argv, NULL), 0);
        cr_assert_str_eq(argv[1], "--unit=libpod-0123abcd.scope");
        cr_assert_str_eq(argv[2], "cg=/machine.slice/libpod-0123abcd.scope");
        cr_assert_str_eq(argv[3], "50%");
        cr_assert_str_eq(argv[4], "0123abcd0123abcd");
        cr_assert_str_eq(argv[5], "pid:4242");
        cr_assert_null(argv[6]);
        strv_free(argv);

        /* A value with blanks stays one argument: no shell, no re-splitting. */
        v.unit = "odd name; rm -rf /.service";
        cr_assert_eq(command_expand("x %u", &v, &argv, NULL), 0);
        cr_assert_eq(strv_length(argv), 2);
        cr_assert_str_eq(argv[1], "odd name; rm -rf /.service");
        strv_free(argv);

        /* A missing value refuses the command rather than run it without its argument. */
        char missing = 0;
        v.container_id = NULL;
        argv = NULL;
        cr_assert_eq(command_expand("podman restart %c", &v, &argv, &missing), -ENODATA);
        cr_assert_eq(missing, 'c');
        cr_assert_null(argv);
        v.container_id = "";
        cr_assert_eq(command_expand("podman restart %c", &v, &argv, NULL), -ENODATA, "empty counts as missing");
        v.pid = 0;
        cr_assert_eq(command_expand("jcmd %p x", &v, &argv, &missing), -ENODATA);
        cr_assert_eq(missing, 'p');
        cr_assert_eq(command_expand("x %u", NULL, &argv, &missing), -ENODATA, "no values at all");

        cr_assert_eq(command_expand("x %q", &v, &argv, NULL), -EINVAL);
        cr_assert_eq(command_expand("x 100%", &v, &argv, NULL), -EINVAL);
        cr_assert_eq(command_expand("", &v, &argv, NULL), -EINVAL);
        cr_assert_eq(command_expand("  ", &v, &argv, NULL), -EINVAL);
        cr_assert_eq(command_expand(NULL, &v, &argv, NULL), -EINVAL);
        cr_assert_null(argv, "nothing written on failure");
}

/* Every template the check accepts for a rung expands with that rung's values; the check and the expansion
 * agree on what a specifier is. */
Test(command, check_and_expand_agree)
{
        static const char *const tmpls[] = {
                "a %p", "a %c", "a %u", "a %g", "a %%", "a %p%g%u", "a 100%%p", "a %n", "a %", "a %%%",
        };
        CommandVars trim = { .pid = 7, .unit = "u.service", .cgroup = "/a" };
        CommandVars restart = { .container_id = "c0", .unit = "u.service", .cgroup = "/a" };
        for (size_t i = 0; i < ELEMENTSOF(tmpls); i++) {
                char **argv = NULL;
                if (command_check(tmpls[i], RUNG_TRIM, NULL, 0) == 0) {
                        cr_assert_eq(command_expand(tmpls[i], &trim, &argv, NULL), 0, "trim: %s", tmpls[i]);
                        strv_free(argv);
                        argv = NULL;
                }
                if (command_check(tmpls[i], RUNG_RESTART, NULL, 0) == 0) {
                        cr_assert_eq(command_expand(tmpls[i], &restart, &argv, NULL), 0, "restart: %s", tmpls[i]);
                        strv_free(argv);
                }
        }
}

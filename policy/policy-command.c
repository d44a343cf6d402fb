/* SPDX-License-Identifier: MIT */
/* policy/policy-command.c: the specifier table of Command=, its check and its expansion. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy-command.h"
#include "util/macro.h"
#include "util/strv.h"

const CommandSpecifier command_specifiers[] = {
        { 'p', "the PID of the process the command is for", .trim = true, .restart = false },
        { 'c', "the container id of the guarded cgroup", .trim = false, .restart = true },
        { 'u', "the unit of the guarded cgroup", .trim = true, .restart = true },
        { 'g', "the cgroup the command is for", .trim = true, .restart = true },
        { '%', "a percent sign", .trim = true, .restart = true },
        {},
};

/* What a letter meant in one rung's own dialect before the one language: such a use is refused with a
 * message naming the new specifier, so that nothing silently changes its meaning. */
static const struct {
        Rung rung;
        char letter;
        const char *was;
} old_meanings[] = {
        { RUNG_TRIM, 'c', "the cgroup path" },
        { RUNG_RESTART, 'p', "the cgroup path" },
};

static const CommandSpecifier *specifier_find(char letter)
{
        for (const CommandSpecifier *s = command_specifiers; s->letter; s++)
                if (s->letter == letter)
                        return s;
        return NULL;
}

static bool is_blank(char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool offered(const CommandSpecifier *s, Rung rung)
{
        return rung == RUNG_TRIM ? s->trim : rung == RUNG_RESTART ? s->restart : false;
}

/* "%p the PID of ..., %u ..." for the rung. */
static void known_list(Rung rung, char *buf, size_t size)
{
        size_t n = 0;

        buf[0] = 0;
        for (const CommandSpecifier *s = command_specifiers; s->letter && n < size; s++) {
                if (!offered(s, rung))
                        continue;
                int k = snprintf(buf + n, size - n, "%s%%%c %s", n ? ", " : "", s->letter, s->meaning);
                if (k < 0)
                        break;
                n += (size_t) k;
        }
}

static const char *rung_section(Rung rung)
{
        return rung == RUNG_TRIM ? "[Trim]" : "[Restart]";
}

int command_check(const char *tmpl, Rung rung, char *ret_error, size_t size)
{
        char known[160];
        char dummy[1];

        if (!ret_error || size == 0) {
                ret_error = dummy;
                size = sizeof dummy;
        }
        ret_error[0] = 0;
        if (rung != RUNG_TRIM && rung != RUNG_RESTART) {
                snprintf(ret_error, size, "only [Trim] and [Restart] take a Command=");
                return -EINVAL;
        }

        const char *p = tmpl ?: "";
        while (is_blank(*p))
                p++;
        if (!*p) {
                snprintf(ret_error, size, "expected a program and its arguments");
                return -EINVAL;
        }
        size_t first = 0;
        while (p[first] && !is_blank(p[first]))
                first++;
        if (memchr(p, '%', first)) {
                snprintf(ret_error, size, "the program must be named, not a specifier (a value must not choose "
                         "what runs as root)");
                return -EINVAL;
        }

        for (const char *q = p + first; *q; q++) {
                if (*q != '%')
                        continue;
                char l = *++q;
                if (!l || is_blank(l)) {
                        snprintf(ret_error, size, "a lone %% (%%%% is a percent sign)");
                        return -EINVAL;
                }
                const CommandSpecifier *s = specifier_find(l);
                if (s && offered(s, rung))
                        continue;
                for (size_t i = 0; i < ELEMENTSOF(old_meanings); i++)
                        if (old_meanings[i].rung == rung && old_meanings[i].letter == l) {
                                if (s && offered(s, rung == RUNG_TRIM ? RUNG_RESTART : RUNG_TRIM))
                                        snprintf(ret_error, size, "%%%c is %s, which %s Command= does not "
                                                 "have; it meant %s here before: write %%g for that", l,
                                                 s->meaning, rung_section(rung), old_meanings[i].was);
                                else
                                        snprintf(ret_error, size, "%%%c meant %s here before: write %%g", l,
                                                 old_meanings[i].was);
                                return -EINVAL;
                        }
                known_list(rung, known, sizeof known);
                if (s)
                        snprintf(ret_error, size, "%%%c is %s, which %s Command= does not have (it has: %s)", l,
                                 s->meaning, rung_section(rung), known);
                else
                        snprintf(ret_error, size, "unknown specifier %%%c (known: %s)", l, known);
                return -EINVAL;
        }
        return 0;
}

static int expand_word(const char *w, size_t n, const CommandVars *v, char **ret, char *ret_missing)
{
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;

        int r = 0;
        for (size_t i = 0; i < n && r >= 0; i++) {
                if (w[i] != '%') {
                        fputc(w[i], f);
                        continue;
                }
                char l = i + 1 < n ? w[++i] : 0;
                const char *val = NULL;
                char pid[16];
                switch (l) {
                case '%':
                        val = "%";
                        break;
                case 'p':
                        if (v && v->pid > 0) {
                                snprintf(pid, sizeof pid, "%d", (int) v->pid);
                                val = pid;
                        }
                        break;
                case 'c':
                        val = v ? v->container_id : NULL;
                        break;
                case 'u':
                        val = v ? v->unit : NULL;
                        break;
                case 'g':
                        val = v ? v->cgroup : NULL;
                        break;
                default:
                        r = -EINVAL;
                        continue;
                }
                if (!val || !*val) {
                        if (ret_missing)
                                *ret_missing = l;
                        r = -ENODATA;
                        continue;
                }
                fputs(val, f);
        }
        if (fclose(f) != 0 && r >= 0)
                r = -ENOMEM;
        if (r < 0) {
                free(buf);
                return r;
        }
        *ret = buf;
        return 0;
}

int command_expand(const char *tmpl, const CommandVars *v, char ***ret_argv, char *ret_missing)
{
        _cleanup_strv_free_ char **argv = NULL;

        if (!tmpl)
                return -EINVAL;
        for (const char *p = tmpl;;) {
                while (is_blank(*p))
                        p++;
                if (!*p)
                        break;
                size_t n = 0;
                while (p[n] && !is_blank(p[n]))
                        n++;
                _cleanup_free_ char *w = NULL;
                int r = expand_word(p, n, v, &w, ret_missing);
                if (r < 0)
                        return r;
                if (strv_extend(&argv, w) < 0)
                        return -ENOMEM;
                p += n;
        }
        if (!argv)
                return -EINVAL;
        *ret_argv = TAKE_PTR(argv);
        return 0;
}

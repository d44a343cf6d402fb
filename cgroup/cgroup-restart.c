/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-restart.c: Command= templates, the oldest process of a cgroup, the restart rate limit. */
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

int restart_command_check(const char *tmpl, char *ret_bad)
{
        bool word = false;

        if (ret_bad)
                *ret_bad = 0;
        if (!tmpl)
                return -EINVAL;
        for (const char *p = tmpl; *p; p++) {
                if (!is_blank(*p))
                        word = true;
                if (*p != '%')
                        continue;
                p++;
                if (*p != 'c' && *p != 'u' && *p != 'p' && *p != '%') {
                        if (ret_bad)
                                *ret_bad = *p ?: '%';
                        return -EINVAL;
                }
        }
        return word ? 0 : -EINVAL;
}

static int expand_word(const char *w, size_t n, const RestartCommandVars *v, char **ret)
{
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;

        int r = 0;
        for (size_t i = 0; i < n; i++) {
                if (w[i] != '%') {
                        fputc(w[i], f);
                        continue;
                }
                const char *val = NULL;
                switch (i + 1 < n ? w[++i] : 0) {
                case '%':
                        val = "%";
                        break;
                case 'c':
                        val = v ? v->container_id : NULL;
                        break;
                case 'u':
                        val = v ? v->unit : NULL;
                        break;
                case 'p':
                        val = v ? v->cgroup : NULL;
                        break;
                default:
                        r = -EINVAL;
                        break;
                }
                if (r >= 0 && (!val || !*val))
                        r = -ENODATA;
                if (r < 0)
                        break;
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

int restart_command_expand(const char *tmpl, const RestartCommandVars *v, char ***ret_argv)
{
        _cleanup_strv_free_ char **argv = NULL;
        int r = restart_command_check(tmpl, NULL);
        if (r < 0)
                return r;

        for (const char *p = tmpl;;) {
                while (is_blank(*p))
                        p++;
                if (!*p)
                        break;
                size_t n = 0;
                while (p[n] && !is_blank(p[n]))
                        n++;
                _cleanup_free_ char *w = NULL;
                r = expand_word(p, n, v, &w);
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

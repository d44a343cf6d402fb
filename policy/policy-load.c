/* SPDX-License-Identifier: MIT */
/* policy/policy-load.c: INI -> Policy / DaemonConfig: the value parsers, the key tables and the checks that
 * need the whole file. policy-ini.c runs inih over a buffer (the one file that calls it) and hands each
 * Key=Value to config_parse_assignment(); policy-search.c reads the files and finds them (policy-parse.h). */
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "policy-command.h"
#include "policy-parse.h"
#include "util/log.h"
#include "util/strv.h"

/* Durations beyond this are refused: they would only overflow "now + value" somewhere. */
#define DURATION_MAX_USEC (30 * 24 * 3600 * USEC_PER_SEC)
#define SAMPLE_INTERVAL_MIN_USEC (100 * USEC_PER_MSEC)
#define RATE_LIMIT_BURST_MAX 1000000U

int parse_error(ParseContext *c, const char *fmt, ...)
{
        va_list ap;

        if (c->on_error) {
                ConfigError e = { .line = c->line };
                snprintf(e.file, sizeof e.file, "%s", c->path);
                va_start(ap, fmt);
                vsnprintf(e.message, sizeof e.message, fmt, ap);
                va_end(ap);
                c->on_error(&e, c->on_error_userdata);
                if (c->error >= 0) {
                        c->error = -EINVAL;
                        c->err = e;
                }
                return -EINVAL;
        }
        if (c->error < 0) /* keep the first */
                return -EINVAL;
        c->error = -EINVAL;
        snprintf(c->err.file, sizeof c->err.file, "%s", c->path);
        c->err.line = c->line;
        va_start(ap, fmt);
        vsnprintf(c->err.message, sizeof c->err.message, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

int parse_oom(ParseContext *c)
{
        if (c->error >= 0) {
                c->error = -ENOMEM;
                snprintf(c->err.file, sizeof c->err.file, "%s", c->path);
                c->err.line = c->line;
                snprintf(c->err.message, sizeof c->err.message, "out of memory");
        }
        return -ENOMEM;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Value parsers. Each takes the value (never empty unless the item says so) and a pointer into the struct
 * being built. They return 0 or -EINVAL/-ENOMEM through parse_error()/parse_oom(). */

typedef struct ConfigItem ConfigItem;
typedef int (*ConfigParser)(ParseContext *c, const ConfigItem *item, const char *value, void *data);

struct ConfigItem {
        const char *section;
        const char *key;
        ConfigParser parse;
        size_t offset;   /* into Policy or DaemonConfig */
        size_t size;     /* > 0: an empty value resets the field to its default (memcpy from the defaults);
                          * 0: the parser handles the empty value itself */
        int ltype;       /* parser-specific */
};

static const char *units_error(int r)
{
        return r == -ERANGE ? "out of range" : "invalid";
}

static int check_duration(ParseContext *c, const ConfigItem *item, const char *value, usec_t t)
{
        if (t > DURATION_MAX_USEC)
                return parse_error(c, "%s=%s is too long (at most 30d)", item->key, value);
        return 0;
}

static int parse_time_item(ParseContext *c, const ConfigItem *item, const char *value, usec_t *ret)
{
        usec_t t;
        int r;

        r = parse_time(value, &t);
        if (r < 0)
                return parse_error(c, "%s=%s: %s time (expected e.g. 150ms, 30s, 2min, 1h 30min)", item->key,
                                   value, units_error(r));
        r = check_duration(c, item, value, t);
        if (r < 0)
                return r;
        *ret = t;
        return 0;
}

static int config_parse_time(ParseContext *c, const ConfigItem *item, const char *value, void *data)
{
        return parse_time_item(c, item, value, data);
}

/* ltype: the minimum */
static int config_parse_time_min(ParseContext *c, const ConfigItem *item, const char *value, void *data)
{
        char buf[FORMAT_TIME_MAX];
        usec_t t = 0;
        int r;

        r = parse_time_item(c, item, value, &t);
        if (r < 0)
                return r;
        if (t < (usec_t) item->ltype)
                return parse_error(c, "%s=%s is too short (at least %s)", item->key, value,
                                   format_time(buf, sizeof buf, (usec_t) item->ltype));
        *(usec_t *) data = t;
        return 0;
}

/* "off", "0" or a time */
static int config_parse_time_or_off(ParseContext *c, const ConfigItem *item, const char *value, void *data)
{
        if (streq(value, "off") || streq(value, "infinity")) {
                *(usec_t *) data = 0;
                return 0;
        }
        return parse_time_item(c, item, value, data);
}

/* Cooldown= and Settle= of a rung; ltype: 0 cooldown, 1 settle. The line is kept for the checks that
 * depend on the ladder. */
static int config_parse_rung_time(ParseContext *c, const ConfigItem *item, const char *value, void *data)
{
        int r = parse_time_item(c, item, value, data);
        if (r < 0)
                return r;

        Rung rung = (Rung) ((offsetof(Policy, rung) <= item->offset) ?
                                    (item->offset - offsetof(Policy, rung)) / sizeof(RungConfig) :
                                    0);
        if (item->ltype == 0)
                c->cooldown_line[rung] = c->line;
        else
                c->settle_line[rung] = c->line;
        return 0;
}

static int config_parse_bool(ParseContext *c, const ConfigItem *item, const char *value, void *data)
{
        int b = parse_boolean(value);
        if (b < 0)
                return parse_error(c, "%s=%s: not a boolean (expected yes or no)", item->key, value);
        *(bool *) data = b;
        return 0;
}

static int config_parse_percent_or_off(ParseContext *c, const ConfigItem *item, const char *value, void *data)
{
        double v;
        int r;

        if (streq(value, "off") || streq(value, "0")) {
                *(double *) data = 0.0;
                return 0;
        }
        r = parse_percent(value, &v);
        if (r < 0)
                return parse_error(c, "%s=%s: %s percentage (expected e.g. 10%%, 0..100%%, or off)", item->key,
                                   value, units_error(r));
        *(double *) data = v;
        return 0;
}

static int parse_quantity_item(ParseContext *c, const ConfigItem *item, const char *value, Quantity *ret)
{
        int r = parse_quantity(value, ret);
        if (r < 0)
                return parse_error(c, "%s=%s: %s amount (expected a percentage such as 90%% or a size such "
                                   "as 256M)",
                                   item->key, value, units_error(r));
        return 0;
}

static bool quantity_is_zero(const Quantity *q)
{
        return q->is_percent ? q->percent <= 0.0 : q->bytes == 0;
}

/* Usage=: "off"/0 or a quantity */
static int config_parse_usage(ParseContext *c, const ConfigItem *item, const char *value, void *data)
{
        Quantity q;
        int r;

        if (streq(value, "off")) {
                *(Quantity *) data = (Quantity) {};
                return 0;
        }
        r = parse_quantity_item(c, item, value, &q);
        if (r < 0)
                return r;
        if (quantity_is_zero(&q))
                q = (Quantity) {}; /* 0% and 0 both mean off */
        *(Quantity *) data = q;
        return 0;
}

/* Brake=: sets has_brake too. Empty or "off": no brake. */
static int config_parse_brake(ParseContext *c, const ConfigItem *item, const char *value, void *data)
{
        Policy *p = c->policy;
        Quantity q;
        int r;

        if (!*value || streq(value, "off")) {
                p->brake = (Quantity) {};
                p->has_brake = false;
                return 0;
        }
        r = parse_quantity_item(c, item, value, &q);
        if (r < 0)
                return r;
        if (quantity_is_zero(&q))
                return parse_error(c, "Brake=%s would set memory.high to 0 and stop the cgroup; use Brake=off "
                                   "for no brake",
                                   value);
        p->brake = q;
        p->has_brake = true;
        return 0;
}

/* Amount=: must be > 0 */
static int config_parse_amount(ParseContext *c, const ConfigItem *item, const char *value, void *data)
{
        Quantity q;
        int r;

        r = parse_quantity_item(c, item, value, &q);
        if (r < 0)
                return r;
        if (quantity_is_zero(&q))
                return parse_error(c, "%s=%s would reclaim nothing", item->key, value);
        *(Quantity *) data = q;
        return 0;
}

/* SomeTrigger=/FullTrigger=: "off" or "STALL/WINDOW" */
static int config_parse_trigger(ParseContext *c, const ConfigItem *item, const char *value, void *data)
{
        PsiTriggerConfig *t = data;
        char buf[FORMAT_TIME_MAX], buf2[FORMAT_TIME_MAX];
        usec_t stall, window;
        int r;

        if (streq(value, "off")) {
                *t = (PsiTriggerConfig) {};
                return 0;
        }

        const char *slash = strchr(value, '/');
        if (!slash)
                return parse_error(c, "%s=%s: expected STALL/WINDOW such as 150ms/1s, or off", item->key, value);

        _cleanup_free_ char *stall_s = strndup(value, (size_t) (slash - value));
        if (!stall_s)
                return parse_oom(c);
        r = parse_time(stall_s, &stall);
        if (r < 0)
                return parse_error(c, "%s=%s: %s stall time \"%s\"", item->key, value, units_error(r), stall_s);
        r = parse_time(slash + 1, &window);
        if (r < 0)
                return parse_error(c, "%s=%s: %s window \"%s\"", item->key, value, units_error(r), slash + 1);

        if (window < PSI_WINDOW_MIN_USEC || window > PSI_WINDOW_MAX_USEC)
                return parse_error(c, "%s=%s: the window must be between %s and %s (the kernel's limits)",
                                   item->key, value, format_time(buf, sizeof buf, PSI_WINDOW_MIN_USEC),
                                   format_time(buf2, sizeof buf2, PSI_WINDOW_MAX_USEC));
        if (stall == 0)
                return parse_error(c, "%s=%s: the stall must be more than 0 (use %s=off to disable)", item->key,
                                   value, item->key);
        if (stall > window)
                return parse_error(c, "%s=%s: the stall (%s) is larger than its window (%s)", item->key, value,
                                   format_time(buf, sizeof buf, stall), format_time(buf2, sizeof buf2, window));

        *t = (PsiTriggerConfig) { .enabled = true, .stall_usec = stall, .window_usec = window };
        return 0;
}

static int config_parse_kill_mode(ParseContext *c, const ConfigItem *item, const char *value, void *data)
{
        KillMode m = kill_mode_from_string(value);
        if (m < 0)
                return parse_error(c, "%s=%s: unknown kill mode (expected cgroup, largest or largest-child)", item->key, value);
        *(KillMode *) data = m;
        return 0;
}

/* [Trim] Command= and [Restart] Command= (ltype: the rung): one language, policy/policy-command.h. Empty:
 * none. */
static int config_parse_command(ParseContext *c, const ConfigItem *item, const char *value, void *data)
{
        char **s = data;
        char error[COMMAND_ERROR_MAX];

        if (item->ltype == RUNG_TRIM)
                c->trim_command_line = c->line;
        if (!*value) {
                free(*s);
                *s = NULL;
                return 0;
        }
        if (command_check(value, (Rung) item->ltype, error, sizeof error) < 0)
                return parse_error(c, "Command=%s: %s", value, error);
        char *n = strdup(value);
        if (!n)
                return parse_oom(c);
        free(*s);
        *s = n;
        return 0;
}

/* Splits a value into words (space or tab separated) and calls f on each. */

typedef int (*WordFunc)(ParseContext *c, const ConfigItem *item, const char *word, void *data);
static int for_each_word(ParseContext *c, const ConfigItem *item, const char *value, WordFunc f, void *data)
{
        const char *p = value;

        for (;;) {
                while (is_blank(*p))
                        p++;
                if (!*p)
                        return 0;
                size_t n = strcspn(p, " \t\r\v\f");
                _cleanup_free_ char *w = strndup(p, n);
                if (!w)
                        return parse_oom(c);
                int r = f(c, item, w, data);
                if (r < 0)
                        return r;
                p += n;
        }
}

static int trim_match_add(ParseContext *c, const ConfigItem *item, const char *word, void *data)
{
        return strv_extend(data, word) < 0 ? parse_oom(c) : 0;
}

/* [Trim] CommandMatch=: globs on process names; repeated keys append, an empty value resets. */
static int config_parse_trim_command_match(ParseContext *c, const ConfigItem *item, const char *value, void *data)
{
        if (!*value) {
                strv_free(*(char ***) data);
                *(char ***) data = NULL;
                return 0;
        }
        return for_each_word(c, item, value, trim_match_add, data);
}

static int ladder_add(ParseContext *c, const ConfigItem *item, const char *word, void *data)
{
        Policy *p = c->policy;
        Rung r = rung_from_string(word);

        if (r < 0)
                return parse_error(c, "Ladder=: unknown rung \"%s\" (known, gentlest first: alert trim drop-cache "
                                   "reclaim restart kill)",
                                   word);
        for (size_t i = 0; i < p->n_ladder; i++)
                if (p->ladder[i] == r)
                        return parse_error(c, "Ladder=: rung \"%s\" appears twice", word);
        if (p->n_ladder > 0 && p->ladder[p->n_ladder - 1] > r)
                return parse_error(c, "Ladder=: rung \"%s\" must come before \"%s\": the ladder goes gentlest "
                                   "first (alert trim drop-cache reclaim restart kill)",
                                   word, rung_to_string(p->ladder[p->n_ladder - 1]));
        /* distinct rungs in strictly increasing order: never more than _RUNG_MAX */
        p->ladder[p->n_ladder++] = r;
        return 0;
}

/* Ladder=: a list; the first assignment in a file replaces the default, an empty one resets. */
static int config_parse_ladder(ParseContext *c, const ConfigItem *item, const char *value, void *data)
{
        Policy *p = c->policy;

        if (!c->ladder_set || !*value)
                p->n_ladder = 0;
        c->ladder_set = true;
        c->ladder_line = c->line;
        return for_each_word(c, item, value, ladder_add, data);
}

/* Units that have a cgroup of their own, and those that never do. */
static const char *const unit_suffixes_cgroup[] = {
        ".service", ".scope", ".slice", ".socket", ".mount", ".swap",
};
static const char *const unit_suffixes_other[] = {
        ".target", ".timer", ".path", ".device", ".automount",
};

/* Could some string matching the fnmatch(3) glob end in suffix? Decides exactly for a literal or a glob
 * whose last wildcard is "*"; leans towards yes for the rest (the aim is to catch "nginx" for
 * "nginx.service", not to decide glob intersection). */
static bool glob_may_end_with(const char *glob, const char *suffix)
{
        const char *tail = glob;
        char last = 0;

        for (const char *p = glob; *p; p++) {
                if (*p == '\\' && p[1]) {
                        p++;
                        continue;
                }
                if (*p == '*' || *p == '?') {
                        last = *p;
                        tail = p + 1;
                } else if (*p == '[') {
                        const char *e = strchr(p + (p[1] == ']' ? 2 : 1), ']');
                        if (e) {
                                last = '[';
                                p = e;
                                tail = e + 1;
                        }
                }
        }
        if (!last)
                return string_endswith(glob, suffix);
        if (string_endswith(tail, suffix))
                return true;
        if (last == '*')
                return string_endswith(suffix, tail);
        return strlen(suffix) > strlen(tail) && string_endswith(suffix, tail);
}

static bool glob_has_wildcard(const char *glob)
{
        return strpbrk(glob, "*?[") != NULL;
}

static int match_add_unit(ParseContext *c, const ConfigItem *item, const char *word, void *data)
{
        if (strchr(word, '/'))
                return parse_error(c, "Unit=%s can never match: unit names contain no \"/\" (use Cgroup= for "
                                   "cgroup paths)",
                                   word);
        for (size_t i = 0; i < ELEMENTSOF(unit_suffixes_cgroup); i++)
                if (glob_may_end_with(word, unit_suffixes_cgroup[i]))
                        return strv_extend(data, word) < 0 ? parse_oom(c) : 0;

        for (size_t i = 0; i < ELEMENTSOF(unit_suffixes_other); i++)
                if (string_endswith(word, unit_suffixes_other[i]))
                        return parse_error(c, "Unit=%s can never match: %s units have no cgroup of their own (a "
                                           "unit name must end in .service, .scope, .slice, .socket, .mount or "
                                           ".swap)",
                                           word, unit_suffixes_other[i] + 1);
        if (!glob_has_wildcard(word) && !strchr(word, '.'))
                return parse_error(c, "Unit=%s can never match a unit name: did you mean %s.service?", word, word);
        return parse_error(c, "Unit=%s can never match: a unit name ends in .service, .scope, .slice, .socket, "
                           ".mount or .swap",
                           word);
}

static int match_add_slice(ParseContext *c, const ConfigItem *item, const char *word, void *data)
{
        if (strchr(word, '/'))
                return parse_error(c, "Slice=%s can never match: slice names contain no \"/\" (use Cgroup= "
                                   "for cgroup paths)",
                                   word);
        if (glob_may_end_with(word, ".slice"))
                return strv_extend(data, word) < 0 ? parse_oom(c) : 0;
        if (!glob_has_wildcard(word) && !strchr(word, '.'))
                return parse_error(c, "Slice=%s can never match a slice name: did you mean %s.slice?", word, word);
        return parse_error(c, "Slice=%s can never match: a slice name ends in .slice", word);
}

static int match_add_cgroup(ParseContext *c, const ConfigItem *item, const char *word, void *data)
{
        if (word[0] != '/' && word[0] != '*')
                return parse_error(c, "Cgroup=%s can never match: cgroup paths start with \"/\" (e.g. "
                                   "/system.slice/%s)",
                                   word, word);
        return strv_extend(data, word) < 0 ? parse_oom(c) : 0;
}

static int match_add_container(ParseContext *c, const ConfigItem *item, const char *word, void *data)
{
        if (strchr(word, '/'))
                return parse_error(c, "%s=%s can never match: container names contain no \"/\" (for a pod use "
                                   "Pod=<namespace>/<pod>)",
                                   item->key, word);
        return strv_extend(data, word) < 0 ? parse_oom(c) : 0;
}

static int match_add_image(ParseContext *c, const ConfigItem *item, const char *word, void *data)
{
        return strv_extend(data, word) < 0 ? parse_oom(c) : 0;
}

static int match_add_namespace(ParseContext *c, const ConfigItem *item, const char *word, void *data)
{
        for (const char *p = word; *p; p++)
                if (*p == '/' || *p == '_' || (*p >= 'A' && *p <= 'Z'))
                        return parse_error(c, "PodNamespace=%s can never match: Kubernetes namespace names are "
                                           "lowercase letters, digits and \"-\"",
                                           word);
        return strv_extend(data, word) < 0 ? parse_oom(c) : 0;
}

static int match_add_pod(ParseContext *c, const ConfigItem *item, const char *word, void *data)
{
        if (!strchr(word, '/'))
                return parse_error(c, "Pod=%s can never match: Pod= is \"<namespace>/<pod name>\" (e.g. "
                                   "Pod=*/%s)",
                                   word, word);
        return strv_extend(data, word) < 0 ? parse_oom(c) : 0;
}

/* Unit=, Slice=, Cgroup=, Container=, ContainerImage=, PodNamespace=, Pod=: lists of globs; repeated keys
 * append, an empty value resets. ltype picks the check. */
static int config_parse_match(ParseContext *c, const ConfigItem *item, const char *value, void *data)
{
        static const WordFunc checks[] = { match_add_unit,      match_add_slice,     match_add_cgroup,
                                           match_add_container, match_add_image,     match_add_namespace,
                                           match_add_pod };
        char ***l = data;

        c->match_line = c->line;
        if (!*value) {
                strv_free(*l);
                *l = NULL;
                return 0;
        }
        return for_each_word(c, item, value, checks[item->ltype], data);
}

static int config_parse_log_level(ParseContext *c, const ConfigItem *item, const char *value, void *data)
{
        int l = log_level_from_string(value);
        if (l < 0)
                return parse_error(c, "%s=%s: unknown log level (expected debug, info, notice, warning, err, "
                                   "crit, alert, emerg or 0-7)",
                                   item->key, value);
        *(int *) data = l;
        return 0;
}

static int config_parse_unsigned(ParseContext *c, const ConfigItem *item, const char *value, void *data)
{
        unsigned long long v = 0;

        for (const char *p = value; *p; p++) {
                if (*p < '0' || *p > '9')
                        return parse_error(c, "%s=%s: not a number", item->key, value);
                v = v * 10 + (unsigned) (*p - '0');
                if (v > RATE_LIMIT_BURST_MAX)
                        return parse_error(c, "%s=%s: too large (at most %u)", item->key, value,
                                           RATE_LIMIT_BURST_MAX);
        }
        *(unsigned *) data = (unsigned) v;
        return 0;
}

/* An absolute path; ltype 1: "auto" (or empty) means NULL. Empty otherwise resets to the default. ltype 2:
 * a Prometheus textfile, which node_exporter reads only when its name ends in ".prom". */
static int config_parse_path(ParseContext *c, const ConfigItem *item, const char *value, void *data)
{
        char **s = data;
        const char *v = value;

        if (item->ltype == 1 && (!*value || streq(value, "auto")))
                v = NULL;
        else if (!*value) {
                DaemonConfig d;
                if (daemon_config_init_defaults(&d) < 0)
                        return parse_oom(c);
                char *def = *(char **) ((char *) &d + item->offset);
                *(char **) ((char *) &d + item->offset) = NULL;
                daemon_config_done(&d);
                free(*s);
                *s = def;
                return 0;
        } else if (value[0] != '/')
                return parse_error(c, "%s=%s: not an absolute path", item->key, value);
        else if (item->ltype == 2 && (strlen(value) < 6 || !streq(value + strlen(value) - 5, ".prom")))
                return parse_error(c, "%s=%s: node_exporter's textfile collector reads only files whose name "
                                      "ends in .prom", item->key, value);

        char *n = NULL;
        if (v) {
                n = strdup(v);
                if (!n)
                        return parse_oom(c);
        }
        free(*s);
        *s = n;
        return 0;
}

static int drop_cache_path_add(ParseContext *c, const ConfigItem *item, const char *word, void *data)
{
        if (word[0] != '/')
                return parse_error(c, "Paths=%s: not an absolute path glob (e.g. /var/backups/**)", word);
        return strv_extend(data, word) < 0 ? parse_oom(c) : 0;
}

/* [DropCache] Paths=: absolute path globs; repeated keys append, an empty value resets. */
static int config_parse_drop_cache_paths(ParseContext *c, const ConfigItem *item, const char *value, void *data)
{
        char ***l = data;

        if (!*value) {
                strv_free(*l);
                *l = NULL;
                return 0;
        }
        return for_each_word(c, item, value, drop_cache_path_add, data);
}

#define P(field) offsetof(Policy, field), sizeof(((Policy *) NULL)->field)
#define D(field) offsetof(DaemonConfig, field), sizeof(((DaemonConfig *) NULL)->field)
#define RUNG_ITEMS(r, section)                                                                              \
        { section, "Cooldown", config_parse_rung_time, P(rung[r].cooldown_usec), 0 },                        \
        { section, "Settle", config_parse_rung_time, P(rung[r].settle_usec), 1 }

static const ConfigItem policy_items[] = {
        { "Match", "Unit", config_parse_match, offsetof(Policy, match_unit), 0, 0 },
        { "Match", "Slice", config_parse_match, offsetof(Policy, match_slice), 0, 1 },
        { "Match", "Cgroup", config_parse_match, offsetof(Policy, match_cgroup), 0, 2 },
        { "Match", "Container", config_parse_match, offsetof(Policy, match_container), 0, 3 },
        { "Match", "ContainerImage", config_parse_match, offsetof(Policy, match_container_image), 0, 4 },
        { "Match", "PodNamespace", config_parse_match, offsetof(Policy, match_pod_namespace), 0, 5 },
        { "Match", "Pod", config_parse_match, offsetof(Policy, match_pod), 0, 6 },

        { "Pressure", "SomeTrigger", config_parse_trigger, P(trigger[PSI_SOME]), 0 },
        { "Pressure", "FullTrigger", config_parse_trigger, P(trigger[PSI_FULL]), 0 },
        { "Pressure", "SomeAvg10", config_parse_percent_or_off, P(some_avg10_percent), 0 },
        { "Pressure", "FullAvg10", config_parse_percent_or_off, P(full_avg10_percent), 0 },
        { "Pressure", "HighEvents", config_parse_bool, P(on_high_events), 0 },
        { "Pressure", "MaxEvents", config_parse_bool, P(on_max_events), 0 },
        { "Pressure", "Usage", config_parse_usage, P(usage), 0 },
        { "Pressure", "Brake", config_parse_brake, offsetof(Policy, brake), 0, 0 },
        { "Pressure", "SampleInterval", config_parse_time_min, P(sample_interval_usec),
          (int) SAMPLE_INTERVAL_MIN_USEC },
        { "Pressure", "Hysteresis", config_parse_time, P(hysteresis_usec), 0 },
        { "Pressure", "MaxThrottle", config_parse_time_or_off, P(max_throttle_usec), 0 },
        { "Pressure", "BrakeRelief", config_parse_percent_or_off, P(brake_relief_percent), 0 },

        { "Actions", "Ladder", config_parse_ladder, offsetof(Policy, ladder), 0, 0 },
        { "Actions", "DryRun", config_parse_bool, P(dry_run), 0 },

        RUNG_ITEMS(RUNG_ALERT, "Alert"),
        RUNG_ITEMS(RUNG_TRIM, "Trim"),
        { "Trim", "Command", config_parse_command, offsetof(Policy, trim.command), 0, RUNG_TRIM },
        { "Trim", "CommandMatch", config_parse_trim_command_match, offsetof(Policy, trim.command_match), 0, 0 },
        { "Trim", "CommandTimeout", config_parse_time_min, P(trim.command_timeout_usec), (int) (100 * USEC_PER_MSEC) },
        { "Trim", "Inject", config_parse_bool, P(trim.inject), 0 },
        { "Trim", "InjectTimeout", config_parse_time_min, P(trim.inject_timeout_usec), (int) (100 * USEC_PER_MSEC) },
        RUNG_ITEMS(RUNG_DROP_CACHE, "DropCache"),
        RUNG_ITEMS(RUNG_RECLAIM, "Reclaim"),
        { "Reclaim", "Amount", config_parse_amount, P(reclaim_amount), 0 },
        RUNG_ITEMS(RUNG_RESTART, "Restart"),
        RUNG_ITEMS(RUNG_KILL, "Kill"),
        { "Kill", "Mode", config_parse_kill_mode, P(kill_mode), 0 },

        { "DropCache", "Paths", config_parse_drop_cache_paths, offsetof(Policy, drop_cache_paths), 0, 0 },
        { "Restart", "LeadTime", config_parse_time_or_off, P(restart_lead_usec), 0 },
        { "Restart", "Burst", config_parse_unsigned, P(restart_burst), 0 },
        { "Restart", "Interval", config_parse_time_or_off, P(restart_interval_usec), 0 },
        { "Restart", "Command", config_parse_command, offsetof(Policy, restart_command), 0, RUNG_RESTART },
        { "Restart", "StopTimeout", config_parse_time, P(restart_stop_timeout_usec), 0 },
        { "Restart", "CommandTimeout", config_parse_time_min, P(restart_command_timeout_usec),
          (int) (100 * USEC_PER_MSEC) },
};

static const ConfigItem daemon_items[] = {
        { "Daemon", "LogLevel", config_parse_log_level, D(log_level), 0 },
        { "Daemon", "CgroupRoot", config_parse_path, offsetof(DaemonConfig, cgroup_root), 0, 1 },
        { "Daemon", "ControlSocket", config_parse_path, offsetof(DaemonConfig, control_socket), 0, 0 },
        { "Daemon", "StateDirectory", config_parse_path, offsetof(DaemonConfig, state_dir), 0, 0 },
        { "Daemon", "DryRun", config_parse_bool, D(dry_run), 0 },
        { "Daemon", "RateLimitInterval", config_parse_time, D(alert_rate_usec), 0 },
        { "Daemon", "RateLimitBurst", config_parse_unsigned, D(alert_rate_burst), 0 },
        { "Daemon", "MetricsFile", config_parse_path, offsetof(DaemonConfig, metrics_file), 0, 2 },
};

static void items_for(ConfigKind kind, const ConfigItem **ret, size_t *ret_n)
{
        if (kind == CONFIG_KIND_POLICY) {
                *ret = policy_items;
                *ret_n = ELEMENTSOF(policy_items);
        } else {
                *ret = daemon_items;
                *ret_n = ELEMENTSOF(daemon_items);
        }
}

bool config_section_known(ConfigKind kind, const char *section)
{
        const ConfigItem *items;
        size_t n;

        items_for(kind, &items, &n);
        for (size_t i = 0; i < n; i++)
                if (streq(items[i].section, section))
                        return true;
        return false;
}

const char *config_sections_known(ConfigKind kind)
{
        return kind == CONFIG_KIND_POLICY ?
                       "[Match] [Pressure] [Actions] [Alert] [Trim] [DropCache] [Reclaim] [Restart] [Kill]" :
                       "[Daemon]";
}

int config_parse_assignment(ParseContext *c, const char *section, const char *key, const char *value)
{
        const ConfigItem *items;
        size_t n;

        if (c->colon_separator)
                return parse_error(c, "expected Key=Value, not \"%s: %s\"", key, value);
        if (!*section)
                return parse_error(c, "%s= outside of any section", key);
        if (!config_section_known(c->kind, section)) { /* normally caught at the header line by the reader */
                if (c->on_error)
                        return -EINVAL; /* linting: said once, at the header */
                return parse_error(c, "unknown section [%s] (known: %s)", section, config_sections_known(c->kind));
        }

        items_for(c->kind, &items, &n);
        for (size_t i = 0; i < n; i++) {
                const ConfigItem *item = items + i;
                void *base = c->kind == CONFIG_KIND_POLICY ? (void *) c->policy : (void *) c->daemon;
                void *data = (char *) base + item->offset;

                if (!streq(item->section, section) || !streq(item->key, key))
                        continue;

                if (!*value && item->size > 0) {
                        /* empty assignment: back to the default (systemd convention) */
                        if (c->kind == CONFIG_KIND_POLICY)
                                memcpy(data, (char *) &c->policy_defaults + item->offset, item->size);
                        else {
                                DaemonConfig d;
                                if (daemon_config_init_defaults(&d) < 0)
                                        return parse_oom(c);
                                memcpy(data, (char *) &d + item->offset, item->size);
                                daemon_config_done(&d);
                        }
                        return 0;
                }
                return item->parse(c, item, value, data);
        }

        /* unknown key: suggest one that differs only in case */
        for (size_t i = 0; i < n; i++)
                if (streq(items[i].section, section) && strcasecmp(items[i].key, key) == 0)
                        return parse_error(c, "unknown key %s= in [%s]: did you mean %s=?", key, section,
                                           items[i].key);
        return parse_error(c, "unknown key %s= in [%s]", key, section);
}

/* ---------------------------------------------------------------------------------------------------- */
/* Policies */

/* Checks what needs the whole file. Every failed check is reported (the first one is kept in c->err). */
static int policy_validate(ParseContext *c)
{
        Policy *p = c->policy;

        if (!p->match_unit && !p->match_slice && !p->match_cgroup && !p->match_container &&
            !p->match_container_image && !p->match_pod_namespace && !p->match_pod) {
                c->line = c->match_line;
                if (!c->seen_match_section)
                        (void) parse_error(c, "no [Match] section: the policy would match nothing (add Unit=, "
                                           "Slice= or Cgroup=)");
                else
                        (void) parse_error(c, "[Match] has no Unit=, Slice=, Cgroup=, Container=, ContainerImage=, "
                                           "PodNamespace= or Pod=: the policy would match nothing");
        }

        if (p->trim.command && !p->trim.command_match) {
                c->line = c->trim_command_line;
                (void) parse_error(c, "[Trim] Command= needs CommandMatch=: the process names it is for");
        }

        if (p->n_ladder == 0) {
                c->line = c->ladder_line;
                (void) parse_error(c, "Ladder= is empty: name at least one rung (e.g. Ladder=alert)");
        }

        for (size_t i = 0; i < p->n_ladder; i++) {
                Rung r = p->ladder[i];
                bool last = i + 1 == p->n_ladder;

                if (!last && p->rung[r].settle_usec == 0) {
                        c->line = c->settle_line[r] ?: c->ladder_line;
                        (void) parse_error(c, "[%s] Settle=0: \"%s\" is followed by \"%s\" in Ladder= and would "
                                           "hand over at once, before it could take effect",
                                           rung_to_section(r), rung_to_string(r),
                                           rung_to_string(p->ladder[i + 1]));
                }
                if (last && p->rung[r].cooldown_usec == 0) {
                        c->line = c->cooldown_line[r] ?: c->ladder_line;
                        (void) parse_error(c, "[%s] Cooldown=0: \"%s\" is the last rung of Ladder= and would "
                                           "repeat on every sample while the pressure lasts",
                                           rung_to_section(r), rung_to_string(r));
                }
        }
        return c->error;
}

static int policy_name_from_path(const char *path, char **ret)
{
        const char *b = strrchr(path, '/');
        b = b ? b + 1 : path;
        size_t n = strlen(b);
        if (n > 5 && string_endswith(b, ".conf"))
                n -= 5;
        char *s = strndup(b, n);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static void policy_freep(Policy **p)
{
        policy_free(*p);
}

int policy_load_buffer(const char *path, const char *buf, size_t size, Policy **ret, ConfigError *err)
{
        _cleanup_(policy_freep) Policy *p = NULL;
        ParseContext c = {
                .kind = CONFIG_KIND_POLICY,
                .path = path,
                .buf = buf,
                .size = size,
        };
        int r;

        p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        policy_init_defaults(p);
        policy_init_defaults(&c.policy_defaults);
        c.policy = p;

        if (policy_name_from_path(path, &p->name) < 0)
                return -ENOMEM;
        p->path = strdup(path);
        if (!p->path)
                return -ENOMEM;

        r = config_parse_buffer(&c);
        if (r >= 0)
                r = policy_validate(&c);
        if (r < 0) {
                if (err)
                        *err = c.err;
                return r;
        }

        log_debug("Loaded policy %s from %s.", p->name, path);
        *ret = TAKE_PTR(p);
        return 0;
}

int policy_lint_buffer(const char *path, const char *buf, size_t size, config_error_cb_t cb, void *userdata)
{
        _cleanup_(policy_freep) Policy *p = NULL;
        ParseContext c = {
                .kind = CONFIG_KIND_POLICY,
                .path = path,
                .buf = buf,
                .size = size,
                .on_error = cb,
                .on_error_userdata = userdata,
        };

        p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        policy_init_defaults(p);
        policy_init_defaults(&c.policy_defaults);
        c.policy = p;
        if (policy_name_from_path(path, &p->name) < 0)
                return -ENOMEM;

        (void) config_parse_buffer(&c);
        if (c.error == -ENOMEM)
                return -ENOMEM;
        /* The whole-file checks run even after errors: each names its own line. */
        (void) policy_validate(&c);
        return c.error;
}

/* ---------------------------------------------------------------------------------------------------- */
/* The daemon's own file */

int daemon_config_load_buffer(const char *path, const char *buf, size_t size, DaemonConfig *ret,
                              ConfigError *err)
{
        DaemonConfig d;
        ParseContext c = {
                .kind = CONFIG_KIND_DAEMON,
                .path = path,
                .buf = buf,
                .size = size,
        };
        int r;

        r = daemon_config_init_defaults(&d);
        if (r < 0)
                return r;
        c.daemon = &d;

        r = config_parse_buffer(&c);
        if (r < 0) {
                daemon_config_done(&d);
                if (err)
                        *err = c.err;
                return r;
        }
        *ret = d;
        return 0;
}

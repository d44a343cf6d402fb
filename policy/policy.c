/* SPDX-License-Identifier: MIT */
/* policy/policy.c: the policy model: names, defaults, matching, dumping. Parsing lives in policy-load.c. */
#include <fnmatch.h>
#include <string.h>

#include "policy.h"
#include "util/log.h"
#include "util/strv.h"

static const char *const rung_table[_RUNG_MAX] = {
        [RUNG_ALERT] = "alert",     [RUNG_TRIM] = "trim",       [RUNG_DROP_CACHE] = "drop-cache",
        [RUNG_RECLAIM] = "reclaim", [RUNG_RESTART] = "restart", [RUNG_KILL] = "kill",
};

static const char *const rung_section_table[_RUNG_MAX] = {
        [RUNG_ALERT] = "Alert",     [RUNG_TRIM] = "Trim",       [RUNG_DROP_CACHE] = "DropCache",
        [RUNG_RECLAIM] = "Reclaim", [RUNG_RESTART] = "Restart", [RUNG_KILL] = "Kill",
};

const char *rung_to_string(Rung r)
{
        if (r < 0 || r >= _RUNG_MAX)
                return NULL;
        return rung_table[r];
}

Rung rung_from_string(const char *s)
{
        if (!s)
                return _RUNG_INVALID;
        for (Rung r = 0; r < _RUNG_MAX; r++)
                if (streq(rung_table[r], s))
                        return r;
        return _RUNG_INVALID;
}

const char *rung_to_section(Rung r)
{
        if (r < 0 || r >= _RUNG_MAX)
                return NULL;
        return rung_section_table[r];
}

static const char *const kill_mode_table[_KILL_MODE_MAX] = {
        [KILL_MODE_CGROUP] = "cgroup",
        [KILL_MODE_LARGEST] = "largest",
        [KILL_MODE_LARGEST_CHILD] = "largest-child",
};

const char *kill_mode_to_string(KillMode m)
{
        if (m < 0 || m >= _KILL_MODE_MAX)
                return NULL;
        return kill_mode_table[m];
}

KillMode kill_mode_from_string(const char *s)
{
        if (!s)
                return _KILL_MODE_INVALID;
        for (KillMode m = 0; m < _KILL_MODE_MAX; m++)
                if (streq(kill_mode_table[m], s))
                        return m;
        return _KILL_MODE_INVALID;
}

void policy_init_defaults(Policy *p)
{
        *p = (Policy) {
                .trigger = {
                        [PSI_SOME] = { .enabled = true, .stall_usec = 150 * USEC_PER_MSEC,
                                       .window_usec = USEC_PER_SEC },
                        [PSI_FULL] = { .enabled = false },
                },
                .some_avg10_percent = 10.0,
                .full_avg10_percent = 5.0,
                .on_high_events = true,
                .on_max_events = true,
                .usage = { .is_percent = false, .bytes = 0 },
                .brake = { .is_percent = false, .bytes = 0 },
                .has_brake = false,
                .sample_interval_usec = USEC_PER_SEC,
                .hysteresis_usec = 10 * USEC_PER_SEC,
                .max_throttle_usec = 60 * USEC_PER_SEC,
                .brake_relief_percent = 50,
                .ladder = { RUNG_ALERT },
                .n_ladder = 1,
                .dry_run = false,
                .rung = {
                        [RUNG_ALERT] = { 30 * USEC_PER_SEC, 5 * USEC_PER_SEC },
                        [RUNG_TRIM] = { 30 * USEC_PER_SEC, 5 * USEC_PER_SEC },
                        [RUNG_DROP_CACHE] = { 30 * USEC_PER_SEC, 5 * USEC_PER_SEC },
                        [RUNG_RECLAIM] = { 10 * USEC_PER_SEC, 3 * USEC_PER_SEC },
                        [RUNG_RESTART] = { 5 * 60 * USEC_PER_SEC, 30 * USEC_PER_SEC },
                        [RUNG_KILL] = { 60 * USEC_PER_SEC, 10 * USEC_PER_SEC },
                },
                .reclaim_amount = { .is_percent = true, .percent = 10.0 },
                .kill_mode = KILL_MODE_CGROUP,
                .trim = { .command_timeout_usec = 10 * USEC_PER_SEC, .inject_timeout_usec = 10 * USEC_PER_SEC },
                .restart_lead_usec = 30 * USEC_PER_SEC,
                .restart_burst = 3,
                .restart_interval_usec = 10 * 60 * USEC_PER_SEC,
                .restart_stop_timeout_usec = 30 * USEC_PER_SEC,
                .restart_command_timeout_usec = 2 * 60 * USEC_PER_SEC,
        };
}

Policy *policy_free(Policy *p)
{
        if (!p)
                return NULL;
        free(p->name);
        free(p->path);
        strv_free(p->match_unit);
        strv_free(p->match_slice);
        strv_free(p->match_cgroup);
        strv_free(p->match_container);
        strv_free(p->match_container_image);
        strv_free(p->match_pod_namespace);
        strv_free(p->match_pod);
        free(p->trim.command);
        strv_free(p->trim.command_match);
        strv_free(p->drop_cache_paths);
        free(p->restart_command);
        free(p);
        return NULL;
}

static bool glob_list_matches(char *const *globs, const char *s)
{
        if (!s)
                return false;
        for (char *const *g = globs; g && *g; g++)
                /* No FNM_PATHNAME: "*" crosses "/" in Cgroup= globs (documented in memwarden.policy(5)). */
                if (fnmatch(*g, s, 0) == 0)
                        return true;
        return false;
}

static bool string_endswith(const char *s, const char *suffix)
{
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && streq(s + a - b, suffix);
}

bool policy_matches(const Policy *p, const char *cgpath, const char *unit, const char *slice,
                    bool is_unit_cgroup)
{
        if (is_unit_cgroup && glob_list_matches(p->match_unit, unit))
                return true;
        /* Slice= is about units inside a slice, not the slice's own cgroup. */
        if (is_unit_cgroup && !(unit && string_endswith(unit, ".slice")) &&
            glob_list_matches(p->match_slice, slice))
                return true;
        if (glob_list_matches(p->match_cgroup, cgpath))
                return true;
        return false;
}

bool policy_matches_identity(const Policy *p, const char *cgpath, const CgroupIdentity *id)
{
        if (policy_matches(p, cgpath, id->unit, id->slice, id->is_unit_cgroup))
                return true;
        if (!id->is_container_cgroup)
                return false;
        if (glob_list_matches(p->match_container, id->container_name) ||
            glob_list_matches(p->match_container_image, id->container_image) ||
            glob_list_matches(p->match_pod_namespace, id->pod_namespace))
                return true;
        if (p->match_pod && id->pod_namespace && id->pod_name) {
                char buf[2 * CONTAINER_NAME_MAX + 2];
                snprintf(buf, sizeof buf, "%s/%s", id->pod_namespace, id->pod_name);
                if (glob_list_matches(p->match_pod, buf))
                        return true;
        }
        return false;
}

const Policy *config_match_identity(const Config *c, const char *cgpath, const CgroupIdentity *id)
{
        for (size_t i = 0; i < c->n_policies; i++)
                if (policy_matches_identity(c->policies[i], cgpath, id))
                        return c->policies[i];
        return NULL;
}

const Policy *config_match(const Config *c, const char *cgpath, const char *unit, const char *slice,
                           bool is_unit_cgroup)
{
        for (size_t i = 0; i < c->n_policies; i++)
                if (policy_matches(c->policies[i], cgpath, unit, slice, is_unit_cgroup))
                        return c->policies[i];
        return NULL;
}

int daemon_config_init_defaults(DaemonConfig *d)
{
        DaemonConfig n = {
                .log_level = LOG_INFO,
                .cgroup_root = NULL,
                .control_socket = strdup("/run/memwarden/control"),
                .state_dir = strdup("/run/memwarden"),
                .dry_run = false,
                .alert_rate_usec = 30 * USEC_PER_SEC,
                .alert_rate_burst = 10,
        };
        if (!n.control_socket || !n.state_dir) {
                daemon_config_done(&n);
                return -ENOMEM;
        }
        *d = n;
        return 0;
}

void daemon_config_done(DaemonConfig *d)
{
        free(d->cgroup_root);
        free(d->control_socket);
        free(d->state_dir);
        free(d->metrics_file);
        d->cgroup_root = d->control_socket = d->state_dir = d->metrics_file = NULL;
}

Config *config_free(Config *c)
{
        if (!c)
                return NULL;
        daemon_config_done(&c->daemon);
        free(c->main_conf);
        for (size_t i = 0; i < c->n_policies; i++)
                policy_free(c->policies[i]);
        free(c->policies);
        strv_free(c->masked);
        free(c);
        return NULL;
}

static const char *yes_no(bool b)
{
        return b ? "yes" : "no";
}

static void dump_trigger(FILE *f, const char *key, const PsiTriggerConfig *t)
{
        char a[FORMAT_TIME_MAX], b[FORMAT_TIME_MAX];

        if (!t->enabled)
                fprintf(f, "%s=off\n", key);
        else
                fprintf(f, "%s=%s/%s\n", key, format_time(a, sizeof a, t->stall_usec),
                        format_time(b, sizeof b, t->window_usec));
}

static void dump_percent_or_off(FILE *f, const char *key, double v)
{
        if (v <= 0.0)
                fprintf(f, "%s=off\n", key);
        else
                fprintf(f, "%s=%.15g%%\n", key, v);
}

static void dump_quantity_or_off(FILE *f, const char *key, const Quantity *q, bool on)
{
        char buf[FORMAT_SIZE_MAX];

        if (!on)
                fprintf(f, "%s=off\n", key);
        else
                fprintf(f, "%s=%s\n", key, format_quantity(buf, sizeof buf, q));
}

static void dump_time_or_off(FILE *f, const char *key, usec_t t)
{
        char buf[FORMAT_TIME_MAX];

        if (t == 0)
                fprintf(f, "%s=off\n", key);
        else
                fprintf(f, "%s=%s\n", key, format_time(buf, sizeof buf, t));
}

static void dump_list(FILE *f, const char *key, char *const *l)
{
        /* One line per entry: repeated keys append, and no line gets near inih's length limit. An empty
         * list is written as an empty assignment, so every key appears. */
        if (!l || !*l) {
                fprintf(f, "%s=\n", key);
                return;
        }
        for (char *const *i = l; *i; i++)
                fprintf(f, "%s=%s\n", key, *i);
}

void policy_dump(const Policy *p, FILE *f)
{
        char a[FORMAT_TIME_MAX], b[FORMAT_TIME_MAX], q[FORMAT_SIZE_MAX];
        bool usage_on = p->usage.is_percent ? p->usage.percent > 0.0 : p->usage.bytes > 0;

        fprintf(f, "# %s\n", p->path ?: p->name ?: "(unnamed)");
        fputs("[Match]\n", f);
        dump_list(f, "Unit", p->match_unit);
        dump_list(f, "Slice", p->match_slice);
        dump_list(f, "Cgroup", p->match_cgroup);
        dump_list(f, "Container", p->match_container);
        dump_list(f, "ContainerImage", p->match_container_image);
        dump_list(f, "PodNamespace", p->match_pod_namespace);
        dump_list(f, "Pod", p->match_pod);

        fputs("\n[Pressure]\n", f);
        dump_trigger(f, "SomeTrigger", &p->trigger[PSI_SOME]);
        dump_trigger(f, "FullTrigger", &p->trigger[PSI_FULL]);
        dump_percent_or_off(f, "SomeAvg10", p->some_avg10_percent);
        dump_percent_or_off(f, "FullAvg10", p->full_avg10_percent);
        fprintf(f, "HighEvents=%s\n", yes_no(p->on_high_events));
        fprintf(f, "MaxEvents=%s\n", yes_no(p->on_max_events));
        dump_quantity_or_off(f, "Usage", &p->usage, usage_on);
        dump_quantity_or_off(f, "Brake", &p->brake, p->has_brake);
        fprintf(f, "SampleInterval=%s\n", format_time(a, sizeof a, p->sample_interval_usec));
        fprintf(f, "Hysteresis=%s\n", format_time(a, sizeof a, p->hysteresis_usec));
        dump_time_or_off(f, "MaxThrottle", p->max_throttle_usec);
        dump_percent_or_off(f, "BrakeRelief", p->brake_relief_percent);

        fputs("\n[Actions]\nLadder=", f);
        for (size_t i = 0; i < p->n_ladder; i++)
                fprintf(f, "%s%s", i > 0 ? " " : "", rung_to_string(p->ladder[i]) ?: "?");
        fputc('\n', f);
        fprintf(f, "DryRun=%s\n", yes_no(p->dry_run));

        for (Rung r = 0; r < _RUNG_MAX; r++) {
                fprintf(f, "\n[%s]\n", rung_section_table[r]);
                fprintf(f, "Cooldown=%s\n", format_time(a, sizeof a, p->rung[r].cooldown_usec));
                fprintf(f, "Settle=%s\n", format_time(b, sizeof b, p->rung[r].settle_usec));
                if (r == RUNG_RECLAIM)
                        fprintf(f, "Amount=%s\n", format_quantity(q, sizeof q, &p->reclaim_amount));
                if (r == RUNG_KILL)
                        fprintf(f, "Mode=%s\n", kill_mode_to_string(p->kill_mode) ?: "?");
                if (r == RUNG_TRIM) {
                        fprintf(f, "Command=%s\n", p->trim.command ?: "");
                        dump_list(f, "CommandMatch", p->trim.command_match);
                        fprintf(f, "CommandTimeout=%s\n", format_time(a, sizeof a, p->trim.command_timeout_usec));
                        fprintf(f, "Inject=%s\n", p->trim.inject ? "yes" : "no");
                        fprintf(f, "InjectTimeout=%s\n", format_time(a, sizeof a, p->trim.inject_timeout_usec));
                }
                if (r == RUNG_DROP_CACHE)
                        dump_list(f, "Paths", p->drop_cache_paths);
                if (r == RUNG_RESTART) {
                        dump_time_or_off(f, "LeadTime", p->restart_lead_usec);
                        fprintf(f, "Burst=%u\n", p->restart_burst);
                        dump_time_or_off(f, "Interval", p->restart_interval_usec);
                        fprintf(f, "Command=%s\n", p->restart_command ?: "");
                        fprintf(f, "CommandTimeout=%s\n", format_time(a, sizeof a, p->restart_command_timeout_usec));
                        fprintf(f, "StopTimeout=%s\n", format_time(a, sizeof a, p->restart_stop_timeout_usec));
                }
        }
}

void daemon_config_dump(const DaemonConfig *d, FILE *f)
{
        char a[FORMAT_TIME_MAX];

        fputs("[Daemon]\n", f);
        fprintf(f, "LogLevel=%s\n", log_level_to_string(d->log_level) ?: "info");
        fprintf(f, "CgroupRoot=%s\n", d->cgroup_root ?: "auto");
        fprintf(f, "ControlSocket=%s\n", d->control_socket ?: "");
        fprintf(f, "StateDirectory=%s\n", d->state_dir ?: "");
        fprintf(f, "DryRun=%s\n", yes_no(d->dry_run));
        fprintf(f, "RateLimitInterval=%s\n", format_time(a, sizeof a, d->alert_rate_usec));
        fprintf(f, "RateLimitBurst=%u\n", d->alert_rate_burst);
        fprintf(f, "MetricsFile=%s\n", d->metrics_file ?: "");
}

void config_dump(const Config *c, FILE *f)
{
        fprintf(f, "# %s\n", c->main_conf ?: "(built-in defaults)");
        daemon_config_dump(&c->daemon, f);
        for (size_t i = 0; i < c->n_policies; i++) {
                fputc('\n', f);
                policy_dump(c->policies[i], f);
        }
        for (char **m = c->masked; m && *m; m++)
                fprintf(f, "%s# masked: %s\n", m == c->masked ? "\n" : "", *m);
}

unsigned policy_lint(const Policy *p, char *buf, size_t size)
{
        bool frees = false;

        buf[0] = 0;
        for (size_t i = 0; i < p->n_ladder; i++)
                if (p->ladder[i] != RUNG_ALERT)
                        frees = true;
        if (p->has_brake && !frees) {
                char t[FORMAT_TIME_MAX];
                snprintf(buf, size,
                         "Brake= is set but Ladder= has no rung that frees memory: the brake throttles the "
                         "cgroup and nothing relieves it, so memwardend lifts it after %s%s and the kernel OOM "
                         "killer decides as without memwarden; add trim, reclaim, restart or kill, or drop Brake=",
                         p->max_throttle_usec > 0 ? "MaxThrottle=" : "the first step (MaxThrottle=off)",
                         p->max_throttle_usec > 0 ? format_time(t, sizeof t, p->max_throttle_usec) : "");
                return 1;
        }
        return 0;
}

/* SPDX-License-Identifier: MIT */
/* daemon/metrics.c: the pure half of the metrics (daemon/metrics.h): the exposition-format formatter and
 * the atomic file writer. No Manager, no Guard: tests feed plain structs and a directory. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup/cgroup-parse.h"
#include "metrics.h"

static const char *const result_table[_METRICS_RESULT_MAX] = {
        [METRICS_RESULT_OK] = "ok",
        [METRICS_RESULT_PARTIAL] = "partial",
        [METRICS_RESULT_FAILED] = "failed",
        [METRICS_RESULT_UNSUPPORTED] = "unsupported",
        [METRICS_RESULT_RATE_LIMITED] = "rate-limited",
        [METRICS_RESULT_DRY_RUN] = "dry-run",
};

const char *metrics_result_to_string(MetricsResult r)
{
        if (r < 0 || r >= _METRICS_RESULT_MAX)
                return NULL;
        return result_table[r];
}

MetricsResult metrics_result_from_string(const char *s)
{
        for (MetricsResult r = 0; s && r < _METRICS_RESULT_MAX; r++)
                if (streq(result_table[r], s))
                        return r;
        return METRICS_RESULT_FAILED;
}

void metrics_write_label_value(FILE *f, const char *s)
{
        fputc('"', f);
        for (; s && *s; s++) {
                if (*s == '\\')
                        fputs("\\\\", f);
                else if (*s == '"')
                        fputs("\\\"", f);
                else if (*s == '\n')
                        fputs("\\n", f);
                else
                        fputc(*s, f);
        }
        fputc('"', f);
}

static void write_family(FILE *f, const char *name, const char *type, const char *help)
{
        /* HELP text escapes backslash and newline only; ours are constants without either. */
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void write_label(FILE *f, const char *key, const char *value)
{
        if (!value)
                return;
        fprintf(f, ",%s=", key);
        metrics_write_label_value(f, value);
}

/* name{cgroup="...",unit="...",policy="..."[,container_id=..][,pod_uid=..][,extra] */
static void write_cgroup_labels(FILE *f, const char *name, const MetricsCgroup *c)
{
        fprintf(f, "%s{cgroup=", name);
        metrics_write_label_value(f, c->cgroup);
        write_label(f, "unit", c->unit ?: "");
        write_label(f, "policy", c->policy ?: "");
        write_label(f, "container_id", c->container_id);
        write_label(f, "pod_uid", c->pod_uid);
}

static void write_cgroup_u64(FILE *f, const char *name, const MetricsCgroup *c, uint64_t v)
{
        write_cgroup_labels(f, name, c);
        fprintf(f, "} %" PRIu64 "\n", v);
}

static bool in_ladder(const MetricsCgroup *c, Rung r)
{
        for (size_t i = 0; i < c->n_ladder; i++)
                if (c->ladder[i] == r)
                        return true;
        return false;
}

int metrics_format(const MetricsDaemon *d, const MetricsCgroup *cgroups, size_t n, FILE *f)
{
        write_family(f, "memwarden_build_info", "gauge", "memwarden's version; always 1.");
        fputs("memwarden_build_info{version=", f);
        metrics_write_label_value(f, d->version ?: "");
        fputs("} 1\n", f);
        write_family(f, "memwarden_daemon_start_time_seconds", "gauge",
                "When memwardend started, in seconds since the epoch; counters restart from 0 then.");
        fprintf(f, "memwarden_daemon_start_time_seconds %.3f\n", d->start_time_seconds);
        write_family(f, "memwarden_daemon_cpu_seconds_total", "counter",
                "CPU time memwardend used (user and system), as of this output.");
        fprintf(f, "memwarden_daemon_cpu_seconds_total %" PRIu64 ".%06" PRIu64 "\n", d->cpu_usec / USEC_PER_SEC,
                d->cpu_usec % USEC_PER_SEC);
        write_family(f, "memwarden_daemon_resident_memory_bytes", "gauge",
                "memwardend's resident set size, as of this output.");
        fprintf(f, "memwarden_daemon_resident_memory_bytes %" PRIu64 "\n", d->rss_bytes);
        write_family(f, "memwarden_guarded_cgroups", "gauge", "Cgroups a policy guards.");
        fprintf(f, "memwarden_guarded_cgroups %" PRIu64 "\n", d->guarded);
        write_family(f, "memwarden_guarded_cgroups_unwatched", "gauge",
                "Guarded cgroups without an inotify watch on memory.events (fs.inotify.max_user_watches used "
                "up), read every second instead.");
        fprintf(f, "memwarden_guarded_cgroups_unwatched %" PRIu64 "\n", d->unwatched);
        write_family(f, "memwarden_cgroups_under_pressure", "gauge", "Guarded cgroups under memory pressure now.");
        fprintf(f, "memwarden_cgroups_under_pressure %" PRIu64 "\n", d->under_pressure);
        write_family(f, "memwarden_records_suppressed_total", "counter",
                "Journal records held back by the per-cgroup rate limit (RateLimitBurst=).");
        fprintf(f, "memwarden_records_suppressed_total %" PRIu64 "\n", d->records_suppressed);

        if (n == 0)
                return ferror(f) ? -EIO : 0;

        write_family(f, "memwarden_cgroup_pressure_episodes_total", "counter",
                "Memory pressure episodes memwarden saw in the cgroup (onset to relief).");
        for (size_t i = 0; i < n; i++)
                write_cgroup_u64(f, "memwarden_cgroup_pressure_episodes_total", &cgroups[i], cgroups[i].m.episodes);

        write_family(f, "memwarden_cgroup_pressure_seconds_total", "counter",
                "Time the cgroup spent under memory pressure, the running episode included.");
        for (size_t i = 0; i < n; i++) {
                const MetricsCgroup *c = &cgroups[i];
                write_cgroup_labels(f, "memwarden_cgroup_pressure_seconds_total", c);
                fprintf(f, "} %" PRIu64 ".%06" PRIu64 "\n", c->pressure_usec / USEC_PER_SEC,
                        c->pressure_usec % USEC_PER_SEC);
        }

        write_family(f, "memwarden_cgroup_under_pressure", "gauge",
                "1 while the cgroup is in a memory pressure episode, else 0.");
        for (size_t i = 0; i < n; i++)
                write_cgroup_u64(f, "memwarden_cgroup_under_pressure", &cgroups[i], cgroups[i].under_pressure);

        write_family(f, "memwarden_cgroup_actions_total", "counter",
                "Actions memwarden took in the cgroup, by rung and result (rungs of the policy's ladder "
                "always listed with result ok).");
        for (size_t i = 0; i < n; i++) {
                const MetricsCgroup *c = &cgroups[i];
                for (Rung r = 0; r < _RUNG_MAX; r++)
                        for (MetricsResult k = 0; k < _METRICS_RESULT_MAX; k++) {
                                uint64_t v = c->m.actions[r][k];
                                if (v == 0 && !(k == METRICS_RESULT_OK && in_ladder(c, r)))
                                        continue;
                                write_cgroup_labels(f, "memwarden_cgroup_actions_total", c);
                                write_label(f, "rung", rung_to_string(r));
                                write_label(f, "result", metrics_result_to_string(k));
                                fprintf(f, "} %" PRIu64 "\n", v);
                        }
        }

        write_family(f, "memwarden_cgroup_freed_bytes_total", "counter",
                "Memory the cgroup's usage went down by from an action to its settle time, by rung.");
        for (size_t i = 0; i < n; i++) {
                const MetricsCgroup *c = &cgroups[i];
                for (Rung r = 0; r < _RUNG_MAX; r++) {
                        if (c->m.freed_bytes[r] == 0 && !in_ladder(c, r))
                                continue;
                        write_cgroup_labels(f, "memwarden_cgroup_freed_bytes_total", c);
                        write_label(f, "rung", rung_to_string(r));
                        fprintf(f, "} %" PRIu64 "\n", c->m.freed_bytes[r]);
                }
        }

        write_family(f, "memwarden_cgroup_oom_kills_total", "counter",
                "Processes the kernel OOM killer killed in the cgroup (memory.events oom_kill) while guarded.");
        for (size_t i = 0; i < n; i++)
                write_cgroup_u64(f, "memwarden_cgroup_oom_kills_total", &cgroups[i], cgroups[i].m.oom_kills);

        write_family(f, "memwarden_cgroup_brake_active", "gauge",
                "1 while a memory.high brake set by memwarden is in place, else 0.");
        for (size_t i = 0; i < n; i++)
                write_cgroup_u64(f, "memwarden_cgroup_brake_active", &cgroups[i], cgroups[i].brake_active);

        write_family(f, "memwarden_cgroup_brake_bytes", "gauge",
                "The memory.high brake memwarden set, while it is in place.");
        for (size_t i = 0; i < n; i++)
                if (cgroups[i].brake_active)
                        write_cgroup_u64(f, "memwarden_cgroup_brake_bytes", &cgroups[i], cgroups[i].brake_bytes);

        write_family(f, "memwarden_cgroup_early_warning", "gauge",
                "0 when the cgroup can get no warning before a kernel OOM kill (a memory.max, no swap, no "
                "brake, no memory.high below memory.max), else 1.");
        for (size_t i = 0; i < n; i++)
                write_cgroup_u64(f, "memwarden_cgroup_early_warning", &cgroups[i], cgroups[i].early_warning);

        return ferror(f) ? -EIO : 0;
}

int metrics_pod_uid_from_path(const char *cgpath, char **ret)
{
        /* systemd driver: kubepods-burstable-pod<uid with _>.slice; cgroupfs driver: /pod<uid>/. */
        for (const char *p = cgpath; p && (p = strstr(p, "pod")); p += 3) {
                bool systemd = p > cgpath && p[-1] == '-';
                bool cgroupfs = p > cgpath && p[-1] == '/';
                if (!systemd && !cgroupfs)
                        continue;
                const char *s = p + 3;
                size_t len = strcspn(s, systemd ? "." : "/");
                if (len != 36 || (systemd && strncmp(s + len, ".slice", 6) != 0))
                        continue;
                char *uid = strndup(s, len);
                if (!uid)
                        return -ENOMEM;
                bool ok = true;
                for (char *c = uid; *c; c++) {
                        if (*c == '_')
                                *c = '-';
                        if (!(*c == '-' || (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
                                ok = false;
                }
                if (!ok) {
                        free(uid);
                        continue;
                }
                *ret = uid;
                return 0;
        }
        *ret = NULL;
        return 0;
}

bool metrics_early_warning(bool has_brake, uint64_t memory_max, uint64_t memory_high, bool swap_available)
{
        if (memory_max == CGROUP_LIMIT_MAX)
                return true;  /* no cgroup limit: the kernel's cgroup OOM killer has nothing to enforce */
        if (has_brake || swap_available)
                return true;
        return memory_high < memory_max;
}

bool metrics_meminfo_has_swap(const char *meminfo)
{
        const char *p = meminfo ? strstr(meminfo, "SwapTotal:") : NULL;
        return p && (p == meminfo || p[-1] == '\n') && strtoull(p + strlen("SwapTotal:"), NULL, 10) > 0;
}

int metrics_file_write(const char *path, const char *buf, size_t len, char **last, size_t *last_len)
{
        struct stat st;
        if (*last && *last_len == len && memcmp(*last, buf, len) == 0 && stat(path, &st) == 0 &&
            (size_t) st.st_size == len)
                return 0;

        _cleanup_free_ char *copy = malloc(len ? len : 1);
        _cleanup_free_ char *tmp = NULL;
        if (!copy || asprintf(&tmp, "%s.tmp", path) < 0)
                return -ENOMEM;
        memcpy(copy, buf, len);

        /* Not *.prom: node_exporter's textfile collector never reads a half-written file. */
        _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return -errno;
        int r = 0;
        for (size_t done = 0; done < len;) {
                ssize_t k = write(fd, buf + done, len - done);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                done += (size_t) k;
        }
        if (r == 0 && fchmod(fd, 0644) < 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlink(tmp);
                return r;
        }
        free(*last);
        *last = TAKE_PTR(copy);
        *last_len = len;
        return 1;
}

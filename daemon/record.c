/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "record.h"
#include "record-container.h"
#include "record-map.h"
#include "util/log.h"

#define RECORD_FIELDS_MAX 96

struct Record {
        size_t n;
        struct iovec iov[RECORD_FIELDS_MAX];
};

Record *record_new(const char *message_id, int priority)
{
        Record *r = calloc(1, sizeof *r);
        if (!r)
                return NULL;
        record_add(r, "MESSAGE_ID=%s", message_id);
        record_add(r, "PRIORITY=%i", priority);
        record_add(r, "SYSLOG_IDENTIFIER=memwardend");
        return r;
}

_printf_(2, 0) static void record_addv(Record *r, const char *fmt, va_list ap)
{
        if (!r || r->n >= RECORD_FIELDS_MAX)
                return;
        char *s = NULL;
        int k = vasprintf(&s, fmt, ap);
        if (k < 0)
                return;
        r->iov[r->n++] = (struct iovec){ .iov_base = s, .iov_len = (size_t) k };
}

void record_add(Record *r, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        record_addv(r, fmt, ap);
        va_end(ap);
}

void record_add_guard(Record *r, const Guard *g)
{
        record_add(r, "CGROUP=%s", g->path);
        if (g->id.unit)
                record_add(r, "UNIT=%s", g->id.unit);
        if (g->id.slice)
                record_add(r, "SLICE=%s", g->id.slice);
        record_add_container(r, g); /* CONTAINER_* and POD_* (daemon/record-container.c) */
        if (g->policy) {
                record_add(r, "POLICY=%s", g->policy->name);
                record_add(r, "POLICY_FILE=%s", g->policy->path);
        }
}

static void add_limit(Record *r, const char *key, uint64_t v)
{
        if (v == CGROUP_LIMIT_MAX)
                record_add(r, "%s=max", key);
        else
                record_add(r, "%s=%" PRIu64, key, v);
}

void record_add_observation(Record *r, const Guard *g, const Observation *o, const MemoryEvents *delta)
{
        record_add(r, "MEMORY_CURRENT=%" PRIu64, o->mem.current);
        add_limit(r, "MEMORY_MAX", o->mem.max);
        add_limit(r, "MEMORY_HIGH", o->mem.high);
        if (o->has_psi) {
                record_add(r, "PSI_SOME_AVG10=%.2f", o->psi.some.avg10);
                record_add(r, "PSI_SOME_AVG60=%.2f", o->psi.some.avg60);
                record_add(r, "PSI_SOME_TOTAL_USEC=%" PRIu64, o->psi.some.total_usec);
                if (o->psi.has_full) {
                        record_add(r, "PSI_FULL_AVG10=%.2f", o->psi.full.avg10);
                        record_add(r, "PSI_FULL_TOTAL_USEC=%" PRIu64, o->psi.full.total_usec);
                }
        }
        record_add(r, "EVENTS_HIGH=%" PRIu64, o->events.high);
        record_add(r, "EVENTS_MAX=%" PRIu64, o->events.max);
        record_add(r, "EVENTS_OOM=%" PRIu64, o->events.oom);
        record_add(r, "EVENTS_OOM_KILL=%" PRIu64, o->events.oom_kill);
        if (delta) {
                record_add(r, "EVENTS_HIGH_DELTA=%" PRIu64, delta->high);
                record_add(r, "EVENTS_MAX_DELTA=%" PRIu64, delta->max);
                record_add(r, "EVENTS_OOM_DELTA=%" PRIu64, delta->oom);
                record_add(r, "EVENTS_OOM_KILL_DELTA=%" PRIu64, delta->oom_kill);
        }

        /* Where the memory went: the kernel's own breakdown. */
        MemoryStat st;
        if (g->cgfd >= 0 && cgroup_read_stat(g->cgfd, &st) >= 0) {
                record_add(r, "STAT_ANON=%" PRIu64, st.anon);
                record_add(r, "STAT_FILE=%" PRIu64, st.file);
                record_add(r, "STAT_ACTIVE_FILE=%" PRIu64, st.active_file);
                record_add(r, "STAT_INACTIVE_FILE=%" PRIu64, st.inactive_file);
                record_add(r, "STAT_SHMEM=%" PRIu64, st.shmem);
                record_add(r, "STAT_SOCK=%" PRIu64, st.sock);
                record_add(r, "STAT_SLAB=%" PRIu64, st.slab_reclaimable + st.slab_unreclaimable);
                record_add(r, "STAT_KERNEL_STACK=%" PRIu64, st.kernel_stack);
                record_add(r, "STAT_PAGETABLES=%" PRIu64, st.pagetables);
                record_add(r, "STAT_WORKINGSET_REFAULT_FILE=%" PRIu64, st.workingset_refault_file);
        }
        /* ... and per process: MAP_TOP=, MAP_DIAGNOSIS= (daemon/record-map.c, bounded in time). */
        record_add_map(r, g);
}

static void record_free(Record *r)
{
        for (size_t i = 0; i < r->n; i++)
                free(r->iov[i].iov_base);
        free(r);
}

void record_send(Record *r, const char *fmt, ...)
{
        if (!r)
                return;
        char *msg = NULL;
        va_list ap;
        va_start(ap, fmt);
        int k = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (k < 0) {
                record_free(r);
                return;
        }

        if (log_to_journal()) {
                /* MESSAGE goes first so that the record reads well in journalctl -o verbose. */
                if (r->n < RECORD_FIELDS_MAX) {
                        memmove(&r->iov[1], &r->iov[0], r->n * sizeof(struct iovec));
                        char *m = NULL;
                        int l = asprintf(&m, "MESSAGE=%s", msg);
                        if (l >= 0) {
                                r->iov[0] = (struct iovec){ .iov_base = m, .iov_len = (size_t) l };
                                r->n++;
                        } else
                                memmove(&r->iov[0], &r->iov[1], r->n * sizeof(struct iovec));
                }
                int q = sd_journal_sendv(r->iov, (int) r->n);
                if (q < 0)
                        fprintf(stderr, "%s (journal unavailable: %s)\n", msg, strerror(-q));
        } else {
                /* One line: the message, then the fields (MESSAGE_ID first, PRIORITY and identifier
                 * left out), in one write(): stderr is unbuffered, and a reader of the stream (a test
                 * waiting for a MESSAGE_ID) must not see the record torn. */
                char *line = NULL;
                size_t len = 0;
                FILE *f = open_memstream(&line, &len);
                FILE *out = f ?: stderr;
                fprintf(out, "%s |", msg);
                for (size_t i = 0; i < r->n; i++) {
                        const char *field = r->iov[i].iov_base;
                        if (!strncmp(field, "PRIORITY=", 9) || !strncmp(field, "SYSLOG_IDENTIFIER=", 18))
                                continue;
                        fprintf(out, " %s", field);
                }
                fputc('\n', out);
                if (f && fclose(f) == 0)
                        (void) fwrite(line, 1, len, stderr);
                free(line);
        }
        free(msg);
        record_free(r);
}

void record_config_error(const ConfigError *err, const char *what)
{
        Record *r = record_new(MW_MESSAGE_CONFIG_ERROR, LOG_ERR);
        if (err->file[0])
                record_add(r, "CONFIG_FILE=%s", err->file);
        if (err->line > 0)
                record_add(r, "CONFIG_LINE=%u", err->line);
        record_add(r, "CONFIG_ERROR=%s", err->message);
        if (err->file[0] && err->line > 0)
                record_send(r, "%s: %s:%u: %s", what, err->file, err->line, err->message);
        else if (err->file[0])
                record_send(r, "%s: %s: %s", what, err->file, err->message);
        else
                record_send(r, "%s: %s", what, err->message);
}

/* SPDX-License-Identifier: MIT */
/* daemon/state.c: the state that survives a memwardend restart (daemon/state.h says what and why). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "record.h"
#include "bus-systemd.h"
#include "cgroup/cgroup-act.h"
#include "manager.h"
#include "state.h"
#include "unit-record.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/time-util.h"

#define STATE_HEADER "memwarden-state 1"

SavedGuard *saved_guard_free(SavedGuard *s)
{
        if (!s)
                return NULL;
        free(s->path);
        free(s->unit);
        free(s);
        return NULL;
}

Hashmap *saved_state_free(Hashmap *h)
{
        if (!h)
                return NULL;
        void *v;
        HashmapIter i = HASHMAP_ITER_INIT;
        while (hashmap_iterate(h, &i, &v, NULL)) {
                SavedGuard *s = v;
                (void) hashmap_remove(h, s->path);
                saved_guard_free(s);
        }
        return hashmap_free(h);
}

/* ---------------------------------------------------------------------------------------------------- */
/* The text format. */

static void write_escaped(FILE *f, const char *s)
{
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p <= 0x20 || *p >= 0x7f || *p == '%')
                        fprintf(f, "%%%02X", *p);
                else
                        fputc(*p, f);
}

static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Decodes %XX in place. -EINVAL for a bad escape or an escaped NUL. */
static int unescape(char *s)
{
        char *w = s;
        for (char *p = s; *p; p++) {
                if (*p != '%') {
                        *w++ = *p;
                        continue;
                }
                int hi = hexval(p[1]), lo = hi >= 0 ? hexval(p[2]) : -1;
                if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                        return -EINVAL;
                *w++ = (char) (hi * 16 + lo);
                p += 2;
        }
        *w = 0;
        return 0;
}

static int parse_u64(const char *s, uint64_t *ret)
{
        if (!*s || *s == '-' || *s == '+' || *s == ' ')
                return -EINVAL;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno != 0 || *end)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int parse_limit(const char *s, uint64_t *ret)
{
        if (streq(s, "max")) {
                *ret = CGROUP_LIMIT_MAX;
                return 0;
        }
        return parse_u64(s, ret);
}

/* "t1,t2,..." (oldest first) into a restart limit's ring. */
static int parse_restarts(const char *v, RestartLimit *ret)
{
        RestartLimit l = {};
        for (const char *p = v; *p;) {
                char num[24];
                size_t n = strcspn(p, ",");
                uint64_t u;
                if (n == 0 || n >= sizeof num || l.n >= RESTART_LIMIT_BURST_MAX)
                        return -EINVAL;
                memcpy(num, p, n);
                num[n] = 0;
                if (parse_u64(num, &u) < 0 || u == 0)
                        return -EINVAL;
                l.at_usec[l.n++] = u;
                p += n;
                if (*p == ',' && !*++p)
                        return -EINVAL;
        }
        l.head = l.n % RESTART_LIMIT_BURST_MAX;
        *ret = l;
        return 0;
}

/* One "cgroup PATH key=value..." line, or with unit_record one "unit KEY key=value..." line (the leading word
 * already removed); modifies line. */
static int parse_guard_line(char *line, bool unit_record, SavedGuard **ret)
{
        SavedGuard *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->rung = _RUNG_INVALID;
        s->brake_original = CGROUP_LIMIT_MAX;
        s->unit_record = unit_record;

        int r = -EINVAL;
        char *save = NULL;
        char *path = strtok_r(line, " ", &save);
        if (!path || unescape(path) < 0 || (!unit_record && path[0] != '/') || !*path)
                goto fail;
        if (unit_record ? asprintf(&s->path, "unit %s", path) < 0 || !(s->unit = strdup(path)) :
                          !(s->path = strdup(path))) {
                r = -ENOMEM;
                goto fail;
        }
        for (char *t; (t = strtok_r(NULL, " ", &save));) {
                char *eq = strchr(t, '=');
                if (!eq)
                        goto fail;
                *eq = 0;
                const char *k = t, *v = eq + 1;
                uint64_t u = 0;
                int q = 0;

                if (streq(k, "unit")) {
                        if (unit_record)
                                continue; /* the line's key names it */
                        if (unescape(eq + 1) < 0 || !*v)
                                goto fail;
                        free(s->unit);
                        if (!(s->unit = strdup(v))) {
                                r = -ENOMEM;
                                goto fail;
                        }
                } else if (streq(k, "via"))
                        s->brake_via_dbus = streq(v, "systemd");
                else if (streq(k, "original"))
                        q = parse_limit(v, &s->brake_original);
                else if (streq(k, "restarts"))
                        q = parse_restarts(v, &s->restarts);
                else if (streq(k, "rung")) {
                        s->rung = rung_from_string(v);
                        if (s->rung < 0)
                                s->rung = _RUNG_INVALID;
                } else if (!strncmp(k, "run.", 4)) {
                        Rung rr = rung_from_string(k + 4);
                        q = parse_u64(v, &u);
                        if (q >= 0 && rr >= 0 && rr < _RUNG_MAX)
                                s->last_run_usec[rr] = u;
                } else {
                        static const char *const numeric[] = { "ino", "brake", "pressure", "since", "signal",
                                                                "rung_at", "escalated", "actions", "onsets",
                                                                "oom_kills" };
                        bool known = false;
                        for (size_t j = 0; j < ELEMENTSOF(numeric); j++)
                                known = known || streq(k, numeric[j]);
                        if (!known)
                                continue; /* a key of a newer writer */
                        q = parse_u64(v, &u);
                        if (q < 0)
                                goto fail;
                        if (streq(k, "ino"))
                                s->ino = u;
                        else if (streq(k, "brake")) {
                                s->brake = u > 0;
                                s->brake_bytes = u;
                        } else if (streq(k, "pressure"))
                                s->pressure = u != 0;
                        else if (streq(k, "since"))
                                s->pressure_since_usec = u;
                        else if (streq(k, "signal"))
                                s->last_signal_usec = u;
                        else if (streq(k, "rung_at"))
                                s->rung_at_usec = u;
                        else if (streq(k, "escalated"))
                                s->throttle_escalated = u != 0;
                        else if (streq(k, "actions"))
                                s->n_actions = u;
                        else if (streq(k, "onsets"))
                                s->n_onsets = u;
                        else
                                s->n_oom_kills = u;
                }
                if (q < 0)
                        goto fail;
        }
        if (s->brake && (s->brake_bytes == CGROUP_LIMIT_MAX || s->brake_bytes == 0))
                s->brake = false;
        *ret = s;
        return 0;
fail:
        saved_guard_free(s);
        return r;
}

int state_parse(const char *buf, const char *boot_id, const char *root, Hashmap **ret)
{
        Hashmap *h = hashmap_new(HASHMAP_KEY_STRING);
        if (!h)
                return -ENOMEM;
        char *copy = strdup(buf ?: "");
        if (!copy) {
                hashmap_free(h);
                return -ENOMEM;
        }

        int r = 0;
        bool header = false, same_boot = false, same_root = true;
        char *save = NULL;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                if (!header) {
                        if (!streq(line, STATE_HEADER)) {
                                r = -EINVAL;
                                break;
                        }
                        header = true;
                        continue;
                }
                if (!strncmp(line, "boot ", 5)) {
                        same_boot = boot_id && streq(line + 5, boot_id);
                        continue;
                }
                if (!strncmp(line, "root ", 5)) {
                        /* Written by an instance on another hierarchy (a test's fixture tree): not ours. */
                        same_root = !root || (unescape(line + 5) >= 0 && streq(line + 5, root));
                        continue;
                }
                bool unit_record = !strncmp(line, "unit ", 5);
                if ((!unit_record && strncmp(line, "cgroup ", 7) != 0) || !same_boot || !same_root)
                        continue; /* unknown line, or stamps of another boot: meaningless now */
                SavedGuard *s = NULL;
                int k = parse_guard_line(line + (unit_record ? 5 : 7), unit_record, &s);
                if (k == -ENOMEM) {
                        r = k;
                        break;
                }
                if (k < 0) {
                        log_debug("Malformed line in the state file, ignoring");
                        continue;
                }
                SavedGuard *old = hashmap_remove(h, s->path);
                saved_guard_free(old); /* the later line wins */
                if (hashmap_put(h, s->path, s) < 0) {
                        saved_guard_free(s);
                        r = -ENOMEM;
                        break;
                }
        }
        free(copy);
        if (r == 0 && !header && buf && *buf)
                r = -EINVAL;
        if (r < 0) {
                saved_state_free(h);
                return r;
        }
        *ret = h;
        return 0;
}

static void format_brake(FILE *f, const SavedGuard *s)
{
        if (!s->brake)
                return;
        fprintf(f, " brake=%" PRIu64, s->brake_bytes);
        if (s->brake_original == CGROUP_LIMIT_MAX)
                fputs(" original=max", f);
        else
                fprintf(f, " original=%" PRIu64, s->brake_original);
        fprintf(f, " via=%s", s->brake_via_dbus ? "systemd" : "cgroupfs");
}

static void format_unit_record(FILE *f, const SavedGuard *s)
{
        fputs("unit ", f);
        write_escaped(f, s->unit);
        format_brake(f, s);
        for (Rung r = 0; r < _RUNG_MAX; r++)
                if (s->last_run_usec[r] > 0)
                        fprintf(f, " run.%s=%" PRIu64, rung_to_string(r), s->last_run_usec[r]);
        const RestartLimit *l = &s->restarts;
        for (unsigned i = 0, n = MIN(l->n, (unsigned) RESTART_LIMIT_BURST_MAX); i < n; i++)
                fprintf(f, "%s%" PRIu64, i == 0 ? " restarts=" : ",",
                        l->at_usec[(l->head + 2 * RESTART_LIMIT_BURST_MAX - n + i) % RESTART_LIMIT_BURST_MAX]);
        fputc('\n', f);
}

void state_format_guard(FILE *f, const SavedGuard *s)
{
        if (s->unit_record) {
                format_unit_record(f, s);
                return;
        }
        fputs("cgroup ", f);
        write_escaped(f, s->path);
        fprintf(f, " ino=%" PRIu64, s->ino);
        if (s->unit) {
                fputs(" unit=", f);
                write_escaped(f, s->unit);
        }
        format_brake(f, s);
        if (s->pressure) {
                fprintf(f, " pressure=1 since=%" PRIu64 " signal=%" PRIu64, s->pressure_since_usec,
                        s->last_signal_usec);
                if (s->rung >= 0 && s->rung < _RUNG_MAX)
                        fprintf(f, " rung=%s rung_at=%" PRIu64, rung_to_string(s->rung), s->rung_at_usec);
                fprintf(f, " escalated=%i", s->throttle_escalated);
        }
        for (Rung r = 0; r < _RUNG_MAX; r++)
                if (s->last_run_usec[r] > 0)
                        fprintf(f, " run.%s=%" PRIu64, rung_to_string(r), s->last_run_usec[r]);
        fprintf(f, " actions=%" PRIu64 " onsets=%" PRIu64 " oom_kills=%" PRIu64 "\n", s->n_actions, s->n_onsets,
                s->n_oom_kills);
}

int state_boot_id(char ret[static 37])
{
        _cleanup_free_ char *buf = NULL;
        int r = read_full_file_at(AT_FDCWD, "/proc/sys/kernel/random/boot_id", 128, &buf, NULL);
        if (r < 0)
                return r;
        size_t k = 0;
        for (const char *p = buf; *p && k < 36; p++)
                if (*p != '-' && *p != '\n')
                        ret[k++] = *p;
        ret[k] = 0;
        return k == 32 ? 0 : -EINVAL;
}

int state_read(const char *dir, const char *root, Hashmap **ret)
{
        char boot[37] = "";
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_free_ char *buf = NULL;
        int r;

        if (dfd < 0) {
                if (errno != ENOENT)
                        return -errno;
                r = -ENOENT;
        } else
                r = read_full_file_at(dfd, STATE_FILE_NAME, STATE_FILE_MAX, &buf, NULL);
        if (r == -ENOENT)
                return state_parse("", NULL, NULL, ret);
        if (r < 0)
                return r;
        (void) state_boot_id(boot);
        return state_parse(buf, boot[0] ? boot : NULL, root, ret);
}

int state_write(const char *dir, const char *root, SavedGuard *const *entries, size_t n)
{
        char boot[37] = "";
        (void) state_boot_id(boot);

        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return -errno;
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;

        char tmp[64];
        snprintf(tmp, sizeof tmp, ".%s.%d.tmp", STATE_FILE_NAME, (int) getpid());
        int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return -errno;
        FILE *f = fdopen(fd, "w");
        if (!f) {
                int r = -errno;
                close(fd);
                (void) unlinkat(dfd, tmp, 0);
                return r;
        }
        fprintf(f, "%s\nboot %s\n", STATE_HEADER, boot);
        if (root) {
                fputs("root ", f);
                write_escaped(f, root);
                fputc('\n', f);
        }
        for (size_t i = 0; i < n; i++)
                state_format_guard(f, entries[i]);
        int r = 0;
        if (fflush(f) != 0 || ferror(f))
                r = -EIO;
        /* No fsync: the default directory is a tmpfs, and it would stall the loop on a real disk. The rename
         * makes the switch atomic for readers and for a crash of this process. */
        if (fclose(f) != 0 && r == 0)
                r = -errno;
        if (r == 0 && renameat(dfd, tmp, dfd, STATE_FILE_NAME) < 0)
                r = -errno;
        if (r < 0)
                (void) unlinkat(dfd, tmp, 0);
        return r;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Brakes outside a guard (orphans at start-up, memwardenctl release-brakes). */

static int set_memory_high_dbus(sd_bus *bus, const char *unit, uint64_t value)
{
        sd_bus_message *msg = NULL, *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r = bus_message_new_memory_high(bus, unit, value, &msg);
        if (r >= 0)
                r = sd_bus_call(bus, msg, 5 * USEC_PER_SEC, &error, &reply);
        if (r < 0)
                log_debug("SetUnitProperties(%s, MemoryHigh=) failed: %s", unit, error.message ?: strerror(-r));
        sd_bus_error_free(&error);
        sd_bus_message_unref(msg);
        sd_bus_message_unref(reply);
        return r;
}

int state_release_brake(sd_bus *bus, const CgroupRoot *root, const SavedGuard *s)
{
        if (!s->brake)
                return 0;
        if (s->unit_record) {
                /* Its cgroup was gone when it was saved; systemd keeps the runtime MemoryHigh= for the unit's
                 * next cgroup. Only systemd can take it back. */
                if (!s->brake_via_dbus || !s->unit || s->unit[0] == '/')
                        return 0;
                if (!bus)
                        return -ENOTCONN;
                int r = set_memory_high_dbus(bus, s->unit, s->brake_original);
                return r < 0 ? r : 1;
        }
        _cleanup_close_ int cgfd = cgroup_open(root, s->path);
        if (cgfd < 0)
                return ERRNO_IS_GONE(cgfd) ? 0 : cgfd;
        struct stat st;
        if (fstat(cgfd, &st) < 0)
                return -errno;
        if (s->ino != 0 && (uint64_t) st.st_ino != s->ino)
                return 0; /* a new cgroup under the same name: not ours */
        CgroupMemory mem;
        int r = cgroup_read_memory(cgfd, &mem);
        if (r < 0)
                return ERRNO_IS_GONE(r) ? 0 : r;
        if (mem.high != s->brake_bytes)
                return 0; /* changed since: theirs */

        r = -ENOTCONN;
        if (s->brake_via_dbus && s->unit && bus)
                r = set_memory_high_dbus(bus, s->unit, s->brake_original);
        if (r < 0)
                r = cgroup_write_high(cgfd, s->brake_original);
        if (r < 0)
                return ERRNO_IS_GONE(r) ? 0 : r;
        return 1;
}

/* ---------------------------------------------------------------------------------------------------- */
/* The daemon's side. */

static const char *state_dir(Manager *m)
{
        return m->config && m->config->daemon.state_dir && m->config->daemon.state_dir[0] ?
                       m->config->daemon.state_dir :
                       "/run/memwarden";
}

static uint64_t cgroup_ino(int cgfd)
{
        struct stat st;
        return cgfd >= 0 && fstat(cgfd, &st) >= 0 ? (uint64_t) st.st_ino : 0;
}

int state_load(Manager *m)
{
        Hashmap *h = NULL;
        int r = state_read(state_dir(m), m->root->root_path, &h);
        if (r < 0) {
                log_warning_errno(r, "Cannot read the saved state %s/%s: %m; cooldowns and brakes of the previous "
                                     "instance are not known, ignoring",
                        state_dir(m), STATE_FILE_NAME);
                return r;
        }
        m->saved = h;
        unit_records_load(m); /* the "unit" lines: out of m->saved */
        if (hashmap_size(h) > 0)
                log_info("Saved state of %zu cgroup(s) found in %s/%s", hashmap_size(h), state_dir(m),
                        STATE_FILE_NAME);
        return 0;
}

void state_record_brake_released(const SavedGuard *s, int r, const char *why)
{
        Record *rec = record_new(MW_MESSAGE_BRAKE, r < 0 ? LOG_WARNING : LOG_INFO);
        if (!s->unit_record)
                record_add(rec, "CGROUP=%s", s->path);
        if (s->unit)
                record_add(rec, "UNIT=%s", s->unit);
        record_add(rec, "BRAKE=restored");
        record_add(rec, "BRAKE_BYTES=%" PRIu64, s->brake_bytes);
        if (s->brake_original == CGROUP_LIMIT_MAX)
                record_add(rec, "MEMORY_HIGH=max");
        else
                record_add(rec, "MEMORY_HIGH=%" PRIu64, s->brake_original);
        record_add(rec, "BRAKE_FROM=%s", s->unit_record ? "unit-record" : "previous-instance");
        if (r < 0)
                record_add(rec, "ERRNO=%i", -r);
        record_send(rec, "%s: memory.high brake of %s %s (%s)", s->unit_record ? s->unit : s->path,
                s->unit_record ? "a previous cgroup of the unit" : "the previous instance",
                r < 0 ? "could not be removed" : "removed", why);
}

void state_apply(Guard *g)
{
        Manager *m = g->manager;
        if (!m->saved)
                return;
        SavedGuard *s = hashmap_remove(m->saved, g->path);
        if (!s)
                return;
        if (s->ino != 0 && s->ino != cgroup_ino(g->cgfd)) {
                /* Same path, new cgroup: nothing of the old one applies, but a brake set through systemd
                 * came with the unit to its new cgroup: the guard takes it back if memory.high holds it
                 * (unit_record_adopt_brake()). */
                if (s->unit && unit_record_key(g) && streq(s->unit, unit_record_key(g)))
                        unit_record_take_saved_brake(m, s);
                saved_guard_free(s);
                return;
        }

        /* The engine restores itself (stamps from the future dropped, the rung mapped onto this ladder). */
        usec_t now = now_usec(CLOCK_MONOTONIC);
        EngineSnapshot snap = {
                .pressure = s->pressure,
                .pressure_since_usec = s->pressure_since_usec,
                .last_signal_usec = s->last_signal_usec,
                .rung = s->rung,
                .rung_at_usec = s->rung_at_usec,
                .throttle_escalated = s->throttle_escalated,
        };
        memcpy(snap.last_run_usec, s->last_run_usec, sizeof snap.last_run_usec);
        if (engine_restore(g->policy, &g->engine, &snap, now))
                m->n_under_pressure++;
        g->n_actions = s->n_actions;
        g->n_onsets = s->n_onsets;
        g->n_oom_kills = s->n_oom_kills;

        if (s->brake) {
                CgroupMemory mem;
                bool ours = cgroup_read_memory(g->cgfd, &mem) >= 0 && mem.high == s->brake_bytes;
                if (!ours)
                        log_debug("%s: memory.high changed since the previous instance set its brake: not ours "
                                  "any more", g->path);
                else if (g->policy->has_brake) {
                        g->brake_active = true;
                        g->brake_bytes = s->brake_bytes;
                        g->brake_original = s->brake_original;
                        g->brake_via_dbus = s->brake_via_dbus && g->id.unit;
                        log_debug("%s: adopted the memory.high brake of the previous instance", g->path);
                } else {
                        int r = state_release_brake(m->bus, m->root, s);
                        state_record_brake_released(s, r, "the policy has no brake now");
                }
        }
        saved_guard_free(s);
        state_track(g); /* what was restored must be saved again */
}

/* A guard that never acted, has no brake and is calm has nothing to remember: most of them. */
static bool guard_has_state(const Guard *g)
{
        const EngineState *e = &g->engine;
        for (Rung r = 0; r < _RUNG_MAX; r++)
                if (e->last_run_usec[r] > 0)
                        return true;
        return g->brake_active || e->phase == ENGINE_PRESSURE || g->n_actions > 0 || g->n_onsets > 0 ||
               g->n_oom_kills > 0;
}

static SavedGuard *saved_from_guard(const Guard *g, SavedGuard *buf)
{
        if (!guard_has_state(g))
                return NULL; /* nothing to remember */

        EngineSnapshot snap;
        engine_snapshot(g->policy, &g->engine, &snap);
        *buf = (SavedGuard) {
                .path = g->path,
                .unit = g->id.unit,
                .ino = cgroup_ino(g->cgfd),
                .brake = g->brake_active,
                .brake_bytes = g->brake_bytes,
                .brake_original = g->brake_original,
                .brake_via_dbus = g->brake_via_dbus,
                .pressure = snap.pressure,
                .pressure_since_usec = snap.pressure_since_usec,
                .last_signal_usec = snap.last_signal_usec,
                .rung = snap.rung,
                .rung_at_usec = snap.rung_at_usec,
                .throttle_escalated = snap.throttle_escalated,
                .n_actions = g->n_actions,
                .n_onsets = g->n_onsets,
                .n_oom_kills = g->n_oom_kills,
        };
        memcpy(buf->last_run_usec, snap.last_run_usec, sizeof buf->last_run_usec);
        return buf;
}

void state_save_now(Manager *m)
{
        if (!m->state_ready)
                return;
        if (m->state_source)
                (void) sd_event_source_set_enabled(m->state_source, SD_EVENT_OFF);

        /* The state is saved before every action: it looks at the guards that have state (state_track()),
         * not at every guarded cgroup. Iterating 10,000 guards twice per save was 45% of the daemon's CPU
         * under pressure in the VM and made the event-to-action latency grow with the count (p50 2.6 ms with
         * none, 21 ms with 10,000). */
        Hashmap *from = m->stateful_incomplete ? m->guards : m->stateful;
        size_t n = hashmap_size(from) + unit_records_count(m), k = 0;
        void *v;
        HashmapIter i = HASHMAP_ITER_INIT;
        SavedGuard *buf = calloc(n ?: 1, sizeof *buf);
        SavedGuard **list = calloc(n ?: 1, sizeof *list);
        int r = -ENOMEM;
        if (buf && list) {
                while (hashmap_iterate(from, &i, &v, NULL) && k < n) {
                        SavedGuard *s = saved_from_guard(v, buf + k);
                        if (s)
                                list[k++] = s;
                }
                size_t nu = unit_records_to_saved(m, buf + k, n - k);
                for (size_t j = 0; j < nu; j++, k++)
                        list[k] = buf + k;
                r = state_write(state_dir(m), m->root->root_path, list, k);
        }
        free(buf);
        free(list);
        if (r < 0) {
                /* Once, not per change: the directory is gone or full, and that will not get better soon. */
                if (!m->state_warned)
                        log_warning_errno(r, "Cannot save the state to %s/%s: %m; a restart will forget "
                                             "cooldowns and brakes, ignoring",
                                state_dir(m), STATE_FILE_NAME);
                m->state_warned = true;
        } else
                m->state_warned = false;
}

static int on_state_save(sd_event_source *s, void *userdata)
{
        state_save_now(userdata);
        return 0;
}

void state_track(Guard *g)
{
        Manager *m = g->manager;
        if (hashmap_get(m->stateful, g->path) == g)
                return;
        int r = hashmap_put(m->stateful, g->path, g);
        if (r == -EEXIST) { /* a stale entry for the same path: replace it */
                (void) hashmap_remove(m->stateful, g->path);
                r = hashmap_put(m->stateful, g->path, g);
        }
        if (r < 0)
                m->stateful_incomplete = true;
}

void state_changed(Manager *m)
{
        if (!m->state_ready)
                return;
        if (!m->state_source) {
                /* Idle priority: after every pending event of this loop iteration, so that a burst of changes
                 * (many new cgroups at once) costs one write. */
                if (sd_event_add_defer(m->event, &m->state_source, on_state_save, m) < 0) {
                        state_save_now(m);
                        return;
                }
                (void) sd_event_source_set_priority(m->state_source, SD_EVENT_PRIORITY_IDLE);
                (void) sd_event_source_set_description(m->state_source, "state-save");
        }
        (void) sd_event_source_set_enabled(m->state_source, SD_EVENT_ONESHOT);
}

void state_startup_done(Manager *m)
{
        if (m->saved) {
                void *v;
                HashmapIter i = HASHMAP_ITER_INIT;
                while (hashmap_iterate(m->saved, &i, &v, NULL)) {
                        SavedGuard *s = v;
                        _cleanup_close_ int cgfd = s->brake ? cgroup_open(m->root, s->path) : -EBADF;
                        if (s->brake && s->brake_via_dbus && s->unit && ERRNO_IS_GONE(cgfd)) {
                                /* The unit is between two cgroups (a restart): systemd keeps the brake for
                                 * the next one. Kept for its guard, restored at stop if none comes. */
                                unit_record_take_saved_brake(m, s);
                        } else if (s->brake) {
                                int r = state_release_brake(m->bus, m->root, s);
                                if (r != 0)
                                        state_record_brake_released(s, r, "no policy guards the cgroup now");
                        }
                }
                m->saved = saved_state_free(m->saved);
        }
        m->state_ready = true;
        state_save_now(m);
}

void state_shutdown(Manager *m)
{
        if (m->state_ready) {
                void *v;
                HashmapIter i = HASHMAP_ITER_INIT;
                while (hashmap_iterate(m->guards, &i, &v, NULL)) {
                        Guard *g = v;
                        if (g->brake_active)
                                (void) brake_restore(g);
                }
                unit_records_restore_brakes(m); /* brakes left on units between two cgroups */
                state_save_now(m);
                m->state_ready = false;
        }
        m->state_source = sd_event_source_disable_unref(m->state_source);
        m->saved = saved_state_free(m->saved);
}

/* SPDX-License-Identifier: MIT */
/* daemon/state-file.c: the state file's format (daemon/state-file.h), its reading and writing, and the
 * restore of a saved brake outside a guard. No Manager, no Guard: memwardenctl release-brakes uses it too. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus-systemd.h"
#include "cgroup/cgroup-act.h"
#include "state-file.h"
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
                /* Changed since (systemctl set-property, another manager): theirs, as in a cgroup's
                 * memory.high. When systemd cannot say, the brake is taken back as before. */
                uint64_t now;
                int r = bus_get_memory_high(bus, s->unit, &now);
                if (r >= 0 && now != s->brake_bytes) {
                        log_debug("%s: MemoryHigh= is %" PRIu64 ", not our brake %" PRIu64 ": theirs, left alone",
                                  s->unit, now, s->brake_bytes);
                        return 0;
                }
                r = bus_set_memory_high(bus, s->unit, s->brake_original);
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
                r = bus_set_memory_high(bus, s->unit, s->brake_original);
        if (r < 0)
                r = cgroup_write_high(cgfd, s->brake_original);
        if (r < 0)
                return ERRNO_IS_GONE(r) ? 0 : r;
        return 1;
}

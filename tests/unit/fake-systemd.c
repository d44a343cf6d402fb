/* SPDX-License-Identifier: MIT */
/* tests/unit/fake-systemd.c: what memwardend asks of systemd, on a private bus, for the daemon tests.
 *   fake-systemd BUS_ADDRESS DIR
 * Owns org.freedesktop.systemd1 on the bus and answers, on /org/freedesktop/systemd1,
 * org.freedesktop.systemd1.Manager:
 * - SetUnitProperties(s unit, b runtime, a(sv) props): MemoryHigh (t) is kept for the unit in
 *   DIR/runtime/UNIT.MemoryHigh (as systemd keeps it in its runtime drop-in, for the unit's next cgroup) and
 *   written to DIR/cg/system.slice/UNIT/memory.high when that cgroup exists ("max" for 2^64-1), replacing
 *   the file as cgroupfs replaces the value;
 * - RestartUnit(s unit, s mode) -> o: only logged; the test makes the unit's new cgroup;
 * and on each /org/freedesktop/systemd1/unit/UNIT, org.freedesktop.systemd1.Service's MemoryHigh (t): the
 * value kept in DIR/runtime/UNIT.MemoryHigh (a test writes it there as `systemctl set-property --runtime`
 * would), 2^64-1 when there is none or it is "max"; logged as "Get UNIT MemoryHigh".
 * Every call is one line in DIR/systemd.log ("SetUnitProperties UNIT MemoryHigh=V", "RestartUnit UNIT MODE"),
 * written when the call arrives; "ready" once the name is owned. With FAKE_SYSTEMD_DELAY_MS=N each reply
 * is sent N ms after the call arrived (a busy PID 1), with "reply METHOD UNIT" logged when it goes; with
 * FAKE_SYSTEMD_LATE=1 as well, SetUnitProperties also writes its MemoryHigh only then (a PID 1 that gets to
 * the call late: real systemd writes memory.high and answers in one go). With FAKE_SYSTEMD_REFUSE=UNIT, SetUnitProperties for UNIT fails (org.freedesktop.systemd1.NoSuchUnit) and
 * changes nothing. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <unistd.h>

static const char *dir;
static sd_event *event;
static uint64_t delay_usec;

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...)
{
        char p[512];
        snprintf(p, sizeof p, "%s/systemd.log", dir);
        FILE *f = fopen(p, "ae");
        if (!f)
                return;
        va_list ap;
        va_start(ap, fmt);
        vfprintf(f, fmt, ap);
        va_end(ap);
        fputc('\n', f);
        fclose(f);
}

static void write_file(const char *path, const char *value)
{
        char tmp[600];
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        FILE *f = fopen(tmp, "we");
        if (!f)
                return;
        fputs(value, f);
        fclose(f);
        (void) rename(tmp, path);
}

typedef struct Pending {
        sd_bus_message *call;
        char what[300];
        bool job, refuse;
        char unit[256], high[32]; /* a MemoryHigh to write with the reply (FAKE_SYSTEMD_LATE) */
} Pending;

/* MemoryHigh=val for unit: its runtime value, and memory.high of its cgroup when that exists. */
static void write_memory_high(const char *unit, const char *val)
{
        char p[512];
        snprintf(p, sizeof p, "%s/runtime/%s.MemoryHigh", dir, unit);
        write_file(p, val);
        snprintf(p, sizeof p, "%s/cg/system.slice/%s", dir, unit);
        struct stat st;
        if (stat(p, &st) == 0) {
                strcat(p, "/memory.high");
                write_file(p, val);
        }
}

static int send_reply(Pending *p)
{
        if (p->high[0])
                write_memory_high(p->unit, p->high);
        int r = p->refuse ? sd_bus_reply_method_errorf(p->call, "org.freedesktop.systemd1.NoSuchUnit",
                                                       "Unit %s not loaded.", p->what) :
                p->job    ? sd_bus_reply_method_return(p->call, "o", "/org/freedesktop/systemd1/job/1") :
                            sd_bus_reply_method_return(p->call, NULL);
        if (delay_usec > 0)
                log_line("reply %s", p->what);
        sd_bus_message_unref(p->call);
        free(p);
        return r;
}

static int on_delay(sd_event_source *s, uint64_t usec, void *userdata)
{
        (void) send_reply(userdata);
        sd_event_source_disable_unref(s);
        return 0;
}

/* late_unit, late_high: a MemoryHigh to write when the reply goes (NULL: none). */
static int reply(sd_bus_message *m, const char *what, bool job, bool refuse, const char *late_unit,
                 const char *late_high)
{
        Pending *p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        p->call = sd_bus_message_ref(m);
        p->job = job;
        p->refuse = refuse;
        snprintf(p->what, sizeof p->what, "%s", what);
        if (late_unit && late_high) {
                snprintf(p->unit, sizeof p->unit, "%s", late_unit);
                snprintf(p->high, sizeof p->high, "%s", late_high);
        }
        if (delay_usec == 0)
                return send_reply(p);
        int r = sd_event_add_time_relative(event, NULL, CLOCK_MONOTONIC, delay_usec, 1000, on_delay, p);
        /* A floating source: freed with the loop. */
        return r < 0 ? r : 1;
}

static int set_unit_properties(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        const char *unit;
        int runtime, r;

        if ((r = sd_bus_message_read(m, "sb", &unit, &runtime)) < 0)
                return r;
        const char *refused = getenv("FAKE_SYSTEMD_REFUSE");
        bool refuse = refused && strcmp(refused, unit) == 0;
        const char *late_env = getenv("FAKE_SYSTEMD_LATE");
        bool late = delay_usec > 0 && late_env && strcmp(late_env, "1") == 0;
        char late_high[32] = "";
        if ((r = sd_bus_message_enter_container(m, 'a', "(sv)")) < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'r', "sv")) > 0) {
                const char *name;
                if ((r = sd_bus_message_read(m, "s", &name)) < 0)
                        return r;
                if (strcmp(name, "MemoryHigh") != 0) {
                        if ((r = sd_bus_message_skip(m, "v")) < 0)
                                return r;
                } else {
                        uint64_t v;
                        if ((r = sd_bus_message_read(m, "v", "t", &v)) < 0)
                                return r;
                        if (refuse) {
                                log_line("SetUnitProperties %s refused", unit);
                                if ((r = sd_bus_message_exit_container(m)) < 0)
                                        return r;
                                continue;
                        }
                        char val[32];
                        if (v == UINT64_MAX)
                                snprintf(val, sizeof val, "max");
                        else
                                snprintf(val, sizeof val, "%" PRIu64, v);
                        if (late)
                                snprintf(late_high, sizeof late_high, "%s", val);
                        else
                                write_memory_high(unit, val);
                        log_line("SetUnitProperties %s MemoryHigh=%s", unit, val);
                }
                if ((r = sd_bus_message_exit_container(m)) < 0)
                        return r;
        }
        if (r < 0)
                return r;
        char what[300];
        snprintf(what, sizeof what, "SetUnitProperties %s", unit);
        return reply(m, what, false, refuse, unit, late_high[0] ? late_high : NULL);
}

static int restart_unit(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        const char *unit, *mode;
        int r = sd_bus_message_read(m, "ss", &unit, &mode);
        if (r < 0)
                return r;
        log_line("RestartUnit %s %s", unit, mode);
        char what[300];
        snprintf(what, sizeof what, "RestartUnit %s", unit);
        return reply(m, what, true, false, NULL, NULL);
}

static int get_memory_high(sd_bus *bus, const char *path, const char *interface, const char *property,
                           sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        char *unit = NULL;
        int r = sd_bus_path_decode(path, "/org/freedesktop/systemd1/unit", &unit);
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        char p[512], val[32] = "";
        snprintf(p, sizeof p, "%s/runtime/%s.MemoryHigh", dir, unit);
        FILE *f = fopen(p, "re");
        if (f) {
                if (!fgets(val, sizeof val, f))
                        val[0] = 0;
                fclose(f);
        }
        log_line("Get %s MemoryHigh", unit);
        free(unit);
        uint64_t v = val[0] && strncmp(val, "max", 3) != 0 ? strtoull(val, NULL, 10) : UINT64_MAX;
        return sd_bus_message_append(reply, "t", v);
}

static const sd_bus_vtable service_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("MemoryHigh", "t", get_memory_high, 0, 0),
        SD_BUS_VTABLE_END,
};

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("SetUnitProperties", "sba(sv)", "", set_unit_properties, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("RestartUnit", "ss", "o", restart_unit, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int main(int argc, char **argv)
{
        if (argc != 3) {
                fprintf(stderr, "usage: fake-systemd BUS_ADDRESS DIR\n");
                return 2;
        }
        dir = argv[2];
        const char *d = getenv("FAKE_SYSTEMD_DELAY_MS");
        delay_usec = d ? strtoull(d, NULL, 10) * 1000 : 0;
        char p[512];
        snprintf(p, sizeof p, "%s/runtime", dir);
        (void) mkdir(p, 0755);

        sd_bus *bus = NULL;
        int r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_address(bus, argv[1]);
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, 1);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r >= 0)
                r = sd_bus_add_object_vtable(bus, NULL, "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                                             manager_vtable, NULL);
        if (r >= 0)
                r = sd_bus_add_fallback_vtable(bus, NULL, "/org/freedesktop/systemd1/unit",
                                               "org.freedesktop.systemd1.Service", service_vtable, NULL, NULL);
        if (r >= 0)
                r = sd_bus_request_name(bus, "org.freedesktop.systemd1", 0);
        if (r >= 0)
                r = sd_event_default(&event);
        if (r >= 0)
                r = sd_bus_attach_event(bus, event, 0);
        if (r < 0) {
                fprintf(stderr, "fake-systemd: %s\n", strerror(-r));
                return 1;
        }
        log_line("ready");
        r = sd_event_loop(event);
        sd_bus_flush_close_unref(bus);
        sd_event_unref(event);
        return r < 0 ? 1 : 0;
}

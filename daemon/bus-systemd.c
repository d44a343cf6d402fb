/* SPDX-License-Identifier: MIT */
/* daemon/bus-systemd.c: the D-Bus connection to systemd, the SetUnitProperties(MemoryHigh=) call, a unit's
 * MemoryHigh=. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "bus-systemd.h"
#include "util/log.h"
#include "util/macro.h"

int bus_connect_systemd(sd_bus **ret)
{
        sd_bus *b = NULL;
        int r = sd_bus_open_system(&b);
        if (r >= 0) {
                *ret = b;
                return 0;
        }
        r = sd_bus_new(&b);
        if (r >= 0)
                r = sd_bus_set_address(b, "unix:path=/run/systemd/private");
        if (r >= 0)
                r = sd_bus_start(b);
        if (r < 0) {
                sd_bus_unref(b);
                return r;
        }
        *ret = b;
        return 0;
}

/* SetUnitProperties(unit, runtime=true, [("MemoryHigh", t value)]): the one place that builds it. */
static int message_new_memory_high(sd_bus *bus, const char *unit, uint64_t value, sd_bus_message **ret)
{
        sd_bus_message *msg = NULL;
        int r = sd_bus_message_new_method_call(bus, &msg, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                               "org.freedesktop.systemd1.Manager", "SetUnitProperties");
        if (r >= 0)
                r = sd_bus_message_append(msg, "sb", unit, 1);
        if (r >= 0)
                r = sd_bus_message_append(msg, "a(sv)", 1, "MemoryHigh", "t", value);
        if (r < 0) {
                sd_bus_message_unref(msg);
                return r;
        }
        *ret = msg;
        return 0;
}

int bus_set_memory_high(sd_bus *bus, const char *unit, uint64_t value)
{
        sd_bus_message *msg = NULL, *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r = message_new_memory_high(bus, unit, value, &msg);
        if (r >= 0)
                r = sd_bus_call(bus, msg, BUS_CALL_TIMEOUT_USEC, &error, &reply);
        if (r < 0)
                log_debug("SetUnitProperties(%s, MemoryHigh=%" PRIu64 ") failed: %s", unit, value,
                          error.message ?: strerror(-r));
        sd_bus_error_free(&error);
        sd_bus_message_unref(msg);
        sd_bus_message_unref(reply);
        return r;
}

int bus_set_memory_high_async(sd_bus *bus, sd_bus_slot **ret_slot, const char *unit, uint64_t value,
                              sd_bus_message_handler_t callback, void *userdata)
{
        sd_bus_message *msg = NULL;
        int r = message_new_memory_high(bus, unit, value, &msg);
        if (r >= 0)
                r = sd_bus_call_async(bus, ret_slot, msg, callback, userdata, 0);
        sd_bus_message_unref(msg);
        return r;
}

/* The D-Bus interface of a unit type that has a cgroup (and so MemoryHigh=). */
static const char *unit_cgroup_interface(const char *unit)
{
        static const char *const types[][2] = {
                { ".service", "org.freedesktop.systemd1.Service" }, { ".scope", "org.freedesktop.systemd1.Scope" },
                { ".slice", "org.freedesktop.systemd1.Slice" },     { ".socket", "org.freedesktop.systemd1.Socket" },
                { ".mount", "org.freedesktop.systemd1.Mount" },     { ".swap", "org.freedesktop.systemd1.Swap" },
        };
        const char *dot = strrchr(unit, '.');
        for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
                if (strcmp(dot, types[i][0]) == 0)
                        return types[i][1];
        return NULL;
}

int bus_get_memory_high(sd_bus *bus, const char *unit, uint64_t *ret)
{
        const char *iface = unit_cgroup_interface(unit);
        if (!iface)
                return -EOPNOTSUPP;
        _cleanup_free_ char *path = NULL;
        int r = sd_bus_path_encode("/org/freedesktop/systemd1/unit", unit, &path);
        if (r < 0)
                return r;
        sd_bus_message *msg = NULL, *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        r = sd_bus_message_new_method_call(bus, &msg, "org.freedesktop.systemd1", path,
                                           "org.freedesktop.DBus.Properties", "Get");
        if (r >= 0)
                r = sd_bus_message_append(msg, "ss", iface, "MemoryHigh");
        if (r >= 0)
                r = sd_bus_call(bus, msg, BUS_CALL_TIMEOUT_USEC, &error, &reply);
        if (r >= 0)
                r = sd_bus_message_read(reply, "v", "t", ret);
        if (r < 0)
                log_debug("Get(%s, MemoryHigh) failed: %s", unit, error.message ?: strerror(-r));
        sd_bus_error_free(&error);
        sd_bus_message_unref(msg);
        sd_bus_message_unref(reply);
        return r < 0 ? r : 0;
}

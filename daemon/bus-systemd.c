/* SPDX-License-Identifier: MIT */
/* daemon/bus-systemd.c: the D-Bus connection to systemd and the SetUnitProperties message. */
#include <errno.h>

#include "bus-systemd.h"

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

int bus_message_new_memory_high(sd_bus *bus, const char *unit, uint64_t value, sd_bus_message **ret)
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

/* SPDX-License-Identifier: MIT */
/* daemon/bus-systemd.h: talking to systemd (PID 1) over D-Bus: the one way to connect, and the messages more
 * than one place sends. memwardend and memwardenctl both use it. */
#pragma once

#include <stdint.h>
#include <systemd/sd-bus.h>

/* Connects to the system bus, or, without dbus-daemon (early boot, minimal containers), straight to PID 1
 * on /run/systemd/private. Returns 0 with *ret set; -errno when neither answers. */
int bus_connect_systemd(sd_bus **ret);

/* A SetUnitProperties(unit, runtime=true, MemoryHigh=value) call to systemd's manager, to send
 * synchronously or asynchronously. value is bytes (UINT64_MAX: "max"). Returns 0 with *ret set, -errno. */
int bus_message_new_memory_high(sd_bus *bus, const char *unit, uint64_t value, sd_bus_message **ret);

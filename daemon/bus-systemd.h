/* SPDX-License-Identifier: MIT */
/* daemon/bus-systemd.h: talking to systemd (PID 1) over D-Bus: the one way to connect, and the messages more
 * than one place sends. memwardend and memwardenctl both use it. */
#pragma once

#include <stdint.h>
#include <systemd/sd-bus.h>

/* Connects to the system bus, or, without dbus-daemon (early boot, minimal containers), straight to PID 1
 * on /run/systemd/private. Returns 0 with *ret set; -errno when neither answers. */
int bus_connect_systemd(sd_bus **ret);

/* How long a synchronous call waits for systemd. */
#define BUS_CALL_TIMEOUT_USEC (5U * 1000U * 1000U)

/* SetUnitProperties(unit, runtime=true, MemoryHigh=value): value is bytes (UINT64_MAX: "max").
 * bus_set_memory_high() waits for the answer (at most BUS_CALL_TIMEOUT_USEC): never on the event loop, only at
 * start-up, at exit and in memwardenctl. Returns 0, or -errno (logged at debug level).
 * bus_set_memory_high_async() sends it and returns: callback gets the reply or the error (the bus's default
 * timeout). Returns 0 with *ret_slot set (the call is cancelled when the slot is unreferenced), -errno. */
int bus_set_memory_high(sd_bus *bus, const char *unit, uint64_t value);
int bus_set_memory_high_async(sd_bus *bus, sd_bus_slot **ret_slot, const char *unit, uint64_t value,
                              sd_bus_message_handler_t callback, void *userdata);

/* The unit's MemoryHigh= as systemd has it now (a Get on the unit's object; systemd loads a unit that is not
 * loaded), in bytes (UINT64_MAX: "max"). Waits for the answer (at most BUS_CALL_TIMEOUT_USEC). Returns 0 with
 * *ret set; -EOPNOTSUPP for a unit type without a memory limit, -errno when systemd does not answer. */
int bus_get_memory_high(sd_bus *bus, const char *unit, uint64_t *ret);

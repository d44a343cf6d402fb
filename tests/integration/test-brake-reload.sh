#!/bin/bash
# SPDX-License-Identifier: MIT
# The memory.high brake is a runtime unit property set through systemd, so `systemctl daemon-reload`
# does not silently reset it; stopping memwardend restores memory.high, in systemd's view too (a
# daemon-reload after the stop, as dpkg's systemd trigger runs after `apt remove`, must not put it back).
# Then with a system bus that does not answer (dbus-daemon stopped with SIGSTOP; the project's CI once saw
# systemd answer the brake call only after 25 s, and the grower ran past the unset brake into the OOM killer):
# the brake holds in cgroupfs at once, and systemd is told once the bus answers again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.sh"

mw_install
mw_policy brake <<'P'
[Match]
Unit=mw-brake.service
[Pressure]
Brake=90%
[Actions]
Ladder=alert
P
track_unit mw-brake.service
systemd-run --quiet --unit=mw-brake.service -p MemoryMax=100M sleep infinity || fail "start unit"
cg=$(unit_cgroup mw-brake.service)
mw_start
want=$(( (100 * 1024 * 1024 * 9 / 10) / 4096 * 4096 ))
wait_for 10 sh -c "[ \"\$(cat $cg/memory.high)\" = $want ]" || fail "brake not set: $(cat $cg/memory.high), want $want"
pass "brake set at 90% of memory.max ($want)"
# cgroupfs is written first, systemd told after (daemon/brake.c): the record comes with its answer.
mw_wait_record 10 "$MW_BRAKE" 'r.get("BRAKE") == "set" and r.get("BRAKE_VIA") == "systemd"' || fail "no BRAKE record via systemd"
pass "BRAKE record says it went through systemd"
systemctl daemon-reload
sleep 1
assert_eq "$(cat $cg/memory.high)" "$want" "brake survives systemctl daemon-reload"
systemctl stop memwardend.service
assert_eq "$(cat $cg/memory.high)" max "memory.high restored when memwardend stops"
assert_eq "$(systemctl show -P MemoryHigh mw-brake.service)" infinity \
        "systemd's MemoryHigh= of the unit restored when memwardend stops"
systemctl daemon-reload
sleep 1
assert_eq "$(cat $cg/memory.high)" max "memory.high still max after a daemon-reload following the stop"

mw_policy brake <<'P'
[Match]
Unit=mw-brake*.service
[Pressure]
Brake=90%
[Actions]
Ladder=alert
P
mw_start
dbus_pid=$(systemctl show -P MainPID dbus.service)
[ "${dbus_pid:-0}" -gt 0 ] || fail "no dbus-daemon to stop"
trap 'kill -CONT $dbus_pid 2>/dev/null; _cleanup' EXIT # lib.sh's _cleanup stays the last step
kill -STOP "$dbus_pid"
track_unit mw-brake2.service
# systemd-run as root talks to systemd on its private socket: no dbus-daemon needed.
systemd-run --quiet --unit=mw-brake2.service -p MemoryMax=100M sleep infinity || fail "start mw-brake2 while the bus is stopped"
cg2=$(unit_cgroup mw-brake2.service)
wait_for 10 sh -c "[ \"\$(cat $cg2/memory.high)\" = $want ]" ||
        { high=$(cat $cg2/memory.high); kill -CONT "$dbus_pid"; mw_dump_journal
          fail "the bus does not answer: memory.high $high after 10 s, want the brake $want"; }
pass "the bus does not answer: the brake holds in cgroupfs all the same ($want)"
kill -CONT "$dbus_pid"
mw_wait_record 40 "$MW_BRAKE" 'r.get("UNIT") == "mw-brake2.service" and r.get("BRAKE") == "set" and r.get("BRAKE_VIA") == "systemd"' ||
        { mw_dump_journal; fail "no BRAKE record via systemd for mw-brake2 once the bus answered"; }
pass "once the bus answers, systemd is told (BRAKE_VIA=systemd)"
assert_eq "$(systemctl show -P MemoryHigh mw-brake2.service)" "$want" "systemd's MemoryHigh= of the unit is the brake"
systemctl stop memwardend.service
assert_eq "$(cat $cg2/memory.high)" max "memory.high restored when memwardend stops"
done_testing

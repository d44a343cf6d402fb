#!/bin/bash
# SPDX-License-Identifier: MIT
# The memory.high brake is a runtime unit property set through systemd, so `systemctl daemon-reload`
# does not silently reset it; stopping memwardend restores memory.high, in systemd's view too (a
# daemon-reload after the stop, as dpkg's systemd trigger runs after `apt remove`, must not put it back).
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
systemctl daemon-reload
sleep 1
assert_eq "$(cat $cg/memory.high)" "$want" "brake survives systemctl daemon-reload"
mw_wait_record 5 "$MW_BRAKE" 'r.get("BRAKE") == "set" and r.get("BRAKE_VIA") == "systemd"' || fail "no BRAKE record via systemd"
pass "BRAKE record says it went through systemd"
systemctl stop memwardend.service
assert_eq "$(cat $cg/memory.high)" max "memory.high restored when memwardend stops"
assert_eq "$(systemctl show -P MemoryHigh mw-brake.service)" infinity \
        "systemd's MemoryHigh= of the unit restored when memwardend stops"
systemctl daemon-reload
sleep 1
assert_eq "$(cat $cg/memory.high)" max "memory.high still max after a daemon-reload following the stop"
done_testing

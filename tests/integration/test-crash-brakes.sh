#!/bin/bash
# SPDX-License-Identifier: MIT
# A crash leaves no brake behind: memwardend is SIGKILLed (no handler runs); the unit's ExecStopPost=
# (memwardenctl release-brakes, from /run/memwarden/state) removes the memory.high brake it had set through
# systemd, through systemd again (so a daemon-reload cannot bring it back), before Restart= starts a new
# instance, which sets it again and keeps the cooldowns the first one saved.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.sh"

mw_install
mw_policy crash <<'P'
[Match]
Unit=mw-crash.service
[Pressure]
Brake=90%
[Actions]
Ladder=alert
P
track_unit mw-crash.service
systemd-run --quiet --unit=mw-crash.service -p MemoryMax=100M sleep infinity || fail "start mw-crash.service"
cg=$(unit_cgroup mw-crash.service)
mw_start
wait_for 10 sh -c "[ \"\$(cat $cg/memory.high)\" = 94371840 ]" || { mw_dump_journal; fail "no brake"; }
pass "brake set (memory.high $(cat $cg/memory.high), MemoryHigh=$(systemctl show -P MemoryHigh mw-crash.service))"
# The state is saved once the loop is idle, and memory.high is written before systemd answers.
wait_for 10 grep -q "brake=94371840 original=max via=systemd" /run/memwarden/state
assert_contains "$(cat /run/memwarden/state)" "brake=94371840 original=max via=systemd" "the brake is in the saved state"

# No restart this time, so that the state between the two instances can be seen.
mkdir -p /run/systemd/system/memwardend.service.d
printf '[Service]\nRestart=no\n' >/run/systemd/system/memwardend.service.d/norestart.conf
systemctl daemon-reload
systemctl kill --signal=SIGKILL memwardend.service
wait_for 10 sh -c "! systemctl is-active -q memwardend.service" || fail "memwardend still active after SIGKILL"
wait_for 10 sh -c "[ \"\$(cat $cg/memory.high)\" = max ]" || { journalctl -u memwardend --no-pager | tail -20 >&2; fail "brake left behind after the crash"; }
pass "ExecStopPost= removed the brake after SIGKILL"
assert_eq "$(systemctl show -P MemoryHigh mw-crash.service)" infinity "removed through systemd (MemoryHigh=infinity)"
journalctl --sync
assert_contains "$(journalctl -u memwardend --since "$MW_T0" --no-pager -o cat)" \
        "/system.slice/mw-crash.service: memory.high brake removed (memory.high=max, via systemd)" "release-brakes said so"
systemctl daemon-reload
assert_eq "$(cat "$cg/memory.high")" max "a daemon-reload does not bring the brake back"
case "$(cat /run/memwarden/state)" in *brake=*) fail "brake still in the state file" ;; esac
pass "state file without the brake"

rm -f /run/systemd/system/memwardend.service.d/norestart.conf
systemctl daemon-reload
systemctl reset-failed memwardend.service 2>/dev/null
mw_start
wait_for 10 sh -c "[ \"\$(cat $cg/memory.high)\" = 94371840 ]" || fail "the new instance did not set the brake"
pass "the next instance sets the brake again"
systemctl stop memwardend.service
assert_eq "$(cat "$cg/memory.high")" max "removed on a clean stop"
done_testing

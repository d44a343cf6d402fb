#!/bin/bash
# SPDX-License-Identifier: MIT
# leak: a service leaks steadily in a MemoryMax=128M unit (memwarden sets a memory.high brake at 90%) and
# writes "flushed N" to a state file on SIGTERM. memwarden restarts it through systemd before the limit:
# the state file shows the flush, the unit has a new invocation, nobody was OOM-killed, and the journal
# has the ACTION=restart record.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.sh"

state=/run/mw-leak.state
rm -f $state
LEAK=$MEMWARDEN_SOURCE/tests/helpers/leak.py

mw_install
mw_policy leak <<'P'
[Match]
Unit=mw-leak.service
[Pressure]
Brake=90%
Usage=40%
SampleInterval=500ms
[Actions]
Ladder=alert restart kill
[Alert]
Settle=15s
[Restart]
LeadTime=30s
P
mw_start

unit=mw-leak.service
track_unit $unit
systemd-run --quiet --unit=$unit -p MemoryMax=128M -p MemorySwapMax=0 -p OOMPolicy=continue \
        python3 $LEAK $state 6 || fail "start $unit"
inv0=$(systemctl show -P InvocationID $unit)
info "invocation $inv0"

mw_wait_record 80 "$MW_PRESSURE $MW_ACTION" 'r.get("UNIT") == "mw-leak.service" and r.get("ACTION") == "restart"' ||
        { mw_dump_journal 40; fail "no ACTION=restart record within 80 s"; }
assert_eq "$(mw_field RESULT)" ok "restart RESULT=ok"
assert_eq "$(mw_field RESTART_VIA)" systemd "restarted through systemd (RestartUnit)"
info "restart: cause $(mw_field CAUSE), reasons $(mw_field REASONS), memory $(mw_field MEMORY_CURRENT) of $(mw_field MEMORY_MAX), predicted limit in $(mw_field PREDICTED_LIMIT_USEC) us at $(mw_field GROWTH_BYTES_PER_SEC) B/s"

wait_for 20 grep -q flushed $state || { mw_dump_journal 20; fail "no flush in the state file"; }
pass "the service flushed its state on SIGTERM: $(head -1 $state)"
# The restart comes at the onset (an alert in front costs no time), and the new instance leaks into the
# brake again within ~20 s, so its invocation may already have been restarted or killed when we look:
# count systemd's own "Started" records instead.
started() { journalctl -u $unit --since "$MW_T0" --no-pager 2>/dev/null | grep -c "Started $unit"; }
wait_for 20 sh -c "[ \$(journalctl -u $unit --since '$MW_T0' --no-pager 2>/dev/null | grep -c 'Started $unit') -ge 2 ]" ||
        fail "the unit was not restarted (started $(started) time(s), now $(systemctl is-active $unit))"
pass "systemd started the unit again after memwarden's restart ($(started) starts)"

assert_eq "$(systemctl show -P Result $unit | grep -c oom-kill)" 0 "systemd saw no OOM kill"
cg=$(unit_cgroup $unit)
oom=$(cg_oom_kills "$cg")
assert_eq "$oom" 0 "memory.events oom_kill is 0"
kills=$(journalctl -k --since "$MW_T0" --no-pager 2>/dev/null | grep -c "Killed process")
assert_eq "$kills" 0 "the kernel killed no process since the test began"
assert_false "no OOM-kill record from memwarden" mw_wait_record 1 "$MW_OOM_KILL" 'r.get("UNIT") == "mw-leak.service"'
done_testing

#!/bin/bash
# SPDX-License-Identifier: MIT
# A policy with `kill`: the hog is killed by memwarden (cgroup.kill) before the kernel OOM killer could
# strike: memory.events oom_kill stays 0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.sh"

mw_install
mw_policy kill <<'P'
[Match]
Unit=mw-kill.service
[Pressure]
SomeTrigger=50ms/500ms
Brake=75%
[Actions]
Ladder=alert kill
[Alert]
Settle=1s
[Kill]
Mode=cgroup
P
mw_start

unit=mw-kill.service
track_unit $unit
systemd-run --quiet --unit=$unit -p MemoryMax=64M -p MemorySwapMax=0 -p OOMPolicy=continue -p KillMode=none \
        python3 "$(dirname "$(readlink -f "$0")")/hog.py" 120 2 0.05 || fail "start $unit"
cg=$(unit_cgroup $unit)

# The kill goes out with the onset record (MW_PRESSURE: an alert in front costs no time) or in a later action
# record (MW_ACTION): both are looked at together. (Waiting 90 s for an action record first cost 90 s in
# every run where the kill came with the onset.)
mw_wait_record 90 "$MW_PRESSURE $MW_ACTION" 'r.get("UNIT") == "mw-kill.service" and r.get("ACTION") == "kill"' ||
        { mw_dump_journal; fail "no kill record within 90 s"; }
assert_eq "$(mw_field RESULT)" ok "kill RESULT=ok"
assert_eq "$(mw_field KILL_TARGET)" cgroup "killed through cgroup.kill"
info "kill cause $(mw_field CAUSE), reasons $(mw_field REASONS), latency $(mw_field LATENCY_USEC) us"
wait_for 20 sh -c "! systemctl is-active -q $unit || [ -z \"\$(cat $cg/cgroup.procs 2>/dev/null)\" ]" ||
        fail "the hog still runs after the kill"
pass "the hog is gone"
assert_eq "$(systemctl show -P Result $unit | grep -c oom-kill)" 0 "systemd saw no OOM kill"
oom=$(cg_oom_kills "$cg")
[ -z "$oom" ] && oom=0
assert_eq "$oom" 0 "memory.events oom_kill stayed 0 (memwarden acted before the kernel)"
done_testing

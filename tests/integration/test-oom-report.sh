#!/bin/bash
# SPDX-License-Identifier: MIT
# Alert-only policy, no brake: the kernel OOM-kills the hog, and memwarden reports the oom_kill it saw in
# memory.events with a journald record naming the unit.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.sh"

mw_install
mw_policy oom <<'P'
[Match]
Unit=mw-oom.service
[Actions]
Ladder=alert
P
mw_start

unit=mw-oom.service
track_unit $unit
systemd-run --quiet --unit=$unit -p MemoryMax=48M -p MemorySwapMax=0 -p OOMPolicy=continue \
        /bin/sh -c "python3 -c 'x = bytearray(200 << 20); x[::4096] = b\"x\" * len(x[::4096])'; exec sleep infinity" ||
        fail "start $unit"
cg=$(unit_cgroup $unit)
wait_for 120 sh -c "[ \"\$(awk '\$1==\"oom_kill\"{print \$2}' $cg/memory.events)\" -ge 1 ]" ||
        fail "the kernel did not OOM-kill the hog within 120 s"
pass "kernel OOM kill in $unit (memory.events oom_kill=$(cg_event "$cg" oom_kill))"

mw_wait_record 15 "$MW_OOM_KILL" 'r.get("UNIT") == "mw-oom.service"' || { mw_dump_journal; fail "no OOM-kill record"; }
assert_ge "$(mw_field OOM_KILLS)" 1 "OOM-kill record: OOM_KILLS"
assert_eq "$(mw_field CGROUP)" "/system.slice/$unit" "OOM-kill record names the cgroup"
assert_ge "$(mw_field EVENTS_OOM_KILL)" 1 "OOM-kill record carries the memory.events counter"
done_testing

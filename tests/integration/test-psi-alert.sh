#!/bin/bash
# SPDX-License-Identifier: MIT
# A guarded unit with MemoryMax=64M and a hog: the memory.high brake makes the kernel throttle, the PSI
# trigger fires, and a journald record with the pressure MESSAGE_ID, CGROUP= and UNIT= appears within the
# policy's window (checked with journalctl -o json). The brake is set through systemd and restored at exit.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.sh"

mw_install
mw_policy hog <<'P'
[Match]
Unit=mw-hog.service
[Pressure]
SomeTrigger=50ms/500ms
HighEvents=no
MaxEvents=no
SomeAvg10=0
FullAvg10=0
Brake=75%
# An alert-only ladder cannot relieve the brake: memwardend lifts it after MaxThrottle= (at once with
# MaxThrottle=off, see test-safety-brake-lift). This test wants the brake in place until it stops the
# daemon, so the bound is far away.
MaxThrottle=10min
[Actions]
Ladder=alert
P
mw_start

unit=mw-hog.service
track_unit $unit
t_start=$(date +%s%N)
systemd-run --quiet --unit=$unit -p MemoryMax=64M -p MemorySwapMax=0 -p OOMPolicy=continue \
        python3 "$(dirname "$(readlink -f "$0")")/hog.py" 120 2 0.02 || fail "start hog"
cg=$(unit_cgroup $unit)

wait_for 10 sh -c "[ \"\$(cat $cg/memory.high)\" != max ]" || fail "brake not set: memory.high=$(cat $cg/memory.high)"
high=$(cat "$cg/memory.high")
assert_eq "$high" $((64 * 1024 * 1024 * 3 / 4)) "brake: memory.high = 75% of memory.max"
# cgroupfs first, systemd told after (daemon/brake.c): its MemoryHigh= follows when it answers.
wait_for 10 sh -c "[ \"\$(systemctl show -P MemoryHigh $unit)\" = $high ]"
assert_eq "$(systemctl show -P MemoryHigh $unit)" "$high" "brake set through systemd (unit property)"

mw_wait_record 60 "$MW_PRESSURE" 'r.get("UNIT") == "mw-hog.service" and "trigger-some" in r.get("REASONS","")' ||
        { mw_dump_journal; fail "no pressure record with trigger-some for $unit within 60 s"; }
pass "pressure record (MESSAGE_ID=$MW_PRESSURE) with REASONS=$(mw_field REASONS)"
assert_eq "$(mw_field CGROUP)" "/system.slice/$unit" "record names the cgroup"
assert_eq "$(mw_field ACTION)" alert "record names the action"
assert_ge "$(mw_field MEMORY_CURRENT)" 1 "record carries MEMORY_CURRENT"
assert_eq "$(mw_field MEMORY_MAX)" $((64 << 20)) "record carries MEMORY_MAX"
assert_eq "$(mw_field MEMORY_HIGH)" "$high" "record carries MEMORY_HIGH (the brake)"
[ -n "$(mw_field PSI_SOME_AVG10)" ] || fail "record lacks PSI_SOME_AVG10"
pass "record carries PSI figures (avg10 $(mw_field PSI_SOME_AVG10))"
info "pressure record after $(( ($(date +%s%N) - t_start) / 1000000 )) ms of the test (upper bound)"

systemctl stop memwardend.service
mw_wait_record 5 "$MW_BRAKE" 'r.get("BRAKE") == "restored" and r.get("UNIT") == "mw-hog.service"' ||
        fail "no brake-restored record when memwardend stopped"
assert_eq "$(mw_field MEMORY_HIGH)" max "the brake is restored to max when memwardend stops"
# Without the brake the hog runs into memory.max and the kernel may kill it and remove the cgroup at once.
h=$(cat "$cg/memory.high" 2>/dev/null)
[ -z "$h" ] || assert_eq "$h" max "memory.high is max again"
done_testing

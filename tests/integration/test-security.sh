#!/bin/bash
# SPDX-License-Identifier: MIT
# The unit's hardening, measured: `systemd-analyze security memwardend.service` on the installed unit. The
# exposure score (0 = locked down .. 10 = unprotected) must stay below MW_SECURITY_MAX (docs/hardening.md):
# every line that still costs exposure is printed so that a change to the unit shows here.
# Then the tightened unit must still work: it starts (READY=1), guards a unit, sets the brake through
# systemd, and stops cleanly with the brake removed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.sh"

# Measured in the VM (Debian 12, systemd 252): 2.4 before the unit was tightened, 1.8 after.
max=${MW_SECURITY_MAX:-2.0}
mw_install
out=$(systemd-analyze security --no-pager memwardend.service 2>&1) || true
echo "$out" | grep -E '^✗|^ ✗|✗' | sed 's/^/# exposed: /' | head -60
score=$(echo "$out" | sed -n 's/.*Overall exposure level for memwardend.service: \([0-9.]*\).*/\1/p')
[ -n "$score" ] || { echo "$out" | tail -20 >&2; fail "no exposure score from systemd-analyze security"; }
info "systemd-analyze security memwardend.service: exposure $score (threshold < $max)"
python3 -c "import sys; sys.exit(0 if float('$score') < float('$max') else 1)" ||
        fail "exposure $score is not below $max"
pass "exposure score $score < $max"

# ProtectProc=invisible hides other users' processes unless the reader may ptrace them: root with
# CAP_SYS_PTRACE, as the daemon is. Read a nobody process's /proc files in the unit's own sandbox settings.
track_unit mw-sec-nobody.service
systemd-run --quiet --unit=mw-sec-nobody.service -p User=nobody sleep infinity || fail "start a nobody unit"
npid=$(systemctl show -P MainPID mw-sec-nobody.service)
props=()
for p in ProtectProc CapabilityBoundingSet NoNewPrivileges ProtectSystem ProtectKernelTunables; do
        props+=(-p "$p=$(systemctl show -P "$p" memwardend.service)")
done
seen=$(systemd-run --quiet --wait --pipe "${props[@]}" sh -c "grep -c VmRSS /proc/$npid/status; grep -c Rss /proc/$npid/smaps_rollup" 2>&1)
assert_eq "$(echo $seen)" "1 1" "a nobody process's /proc/PID/status and smaps_rollup are readable in the sandbox"

mw_policy sec <<'P'
[Match]
Unit=mw-sec.service
[Pressure]
Brake=90%
[Actions]
Ladder=alert
P
# A cgroup systemd does not manage: its brake is written to cgroupfs, which ProtectKernelTunables= (read-only
# /sys) must leave writable.
mw_policy sec-raw <<'P'
[Match]
Cgroup=/mw-sec-raw
[Pressure]
Brake=90%
[Actions]
Ladder=alert
P
mkdir -p /sys/fs/cgroup/mw-sec-raw && echo 100M >/sys/fs/cgroup/mw-sec-raw/memory.max || fail "make mw-sec-raw"
track_unit mw-sec.service
systemd-run --quiet --unit=mw-sec.service -p MemoryMax=100M sleep infinity || fail "start mw-sec.service"
mw_start
wait_for 10 sh -c "'$MWCTL' status | grep -q mw-sec.service" || fail "mw-sec.service not guarded"
# Its own memory is protected (memory.min in force: the slice below the root has it too) and the OOM killer
# never picks it.
assert_eq "$(systemctl show -P ControlGroup memwardend.service)" /memwarden.slice/memwardend.service "own slice"
assert_eq "$(cat /sys/fs/cgroup/memwarden.slice/memory.min)" 16777216 "memwarden.slice memory.min"
assert_eq "$(cat /sys/fs/cgroup/memwarden.slice/memwardend.service/memory.min)" 16777216 "memwardend memory.min"
assert_eq "$(cat /proc/$MW_PID/oom_score_adj)" -1000 "oom_score_adj -1000"
info "memwardend RSS while calm: $(awk '/^VmRSS/ {print $2, $3}' /proc/$MW_PID/status), memory.current $(cat /sys/fs/cgroup/memwarden.slice/memwardend.service/memory.current)"
pass "the hardened daemon guards a unit"
cg=$(unit_cgroup mw-sec.service)
wait_for 10 sh -c "[ \"\$(cat $cg/memory.high)\" != max ]" || fail "no brake on mw-sec.service"
# cgroupfs first, systemd told after (daemon/brake.c): its MemoryHigh= follows when it answers.
wait_for 10 sh -c "[ \"\$(systemctl show -P MemoryHigh mw-sec.service)\" = \"\$(cat $cg/memory.high)\" ]"
assert_eq "$(systemctl show -P MemoryHigh mw-sec.service)" "$(cat "$cg/memory.high")" "brake set through systemd"
wait_for 10 sh -c "[ \"\$(cat /sys/fs/cgroup/mw-sec-raw/memory.high)\" != max ]" || { mw_dump_journal; fail "no cgroupfs brake"; }
assert_eq "$(cat /sys/fs/cgroup/mw-sec-raw/memory.high)" 94371840 "brake written to cgroupfs under ProtectKernelTunables=yes"
systemctl stop memwardend.service || fail "stop memwardend"
assert_eq "$(systemctl show -P Result memwardend.service)" success "clean exit"
assert_eq "$(cat "$cg/memory.high")" max "brake removed on stop"
assert_eq "$(cat /sys/fs/cgroup/mw-sec-raw/memory.high)" max "cgroupfs brake removed on stop"
rmdir /sys/fs/cgroup/mw-sec-raw
done_testing

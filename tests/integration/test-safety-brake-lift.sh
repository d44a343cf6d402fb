#!/bin/bash
# SPDX-License-Identifier: MIT
# "Never worse than no supervisor": a brake never outlives the ability to act. One boot:
#  1. A leaking python service (tests/helpers/leak.py, 8 MiB/s) in a MemoryMax=128M unit. Without
#     memwarden the kernel OOM-kills it (time from the first `max` event printed). With memwarden,
#     Brake=90%, MaxThrottle=10s, Ladder=alert (no rung that frees memory): memwarden lifts its brake
#     (MW_BRAKE BRAKE=released with BRAKE_REASON=) within MaxThrottle + one SampleInterval of the first
#     `high` event (+ a margin for TCG; the time is printed), then the kernel kills the leak (oom_kill rises):
#     it is not left alive throttled. PSI full avg10 meanwhile is printed. Once the cgroup was calm the brake
#     is set again. `memwardenctl check` warns about this policy (a brake whose ladder cannot free memory).
#  2. The slice of test-safety-slice (acc55memwarden.slice, MemoryMax=200M, bloat + chill) with Ladder=alert trim
#     (nobody has a trim handler: the last rung cannot act): the brake is lifted in the same time, the
#     kernel kills bloat, chill lives, the brake comes back after calm.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.sh"
. "$(dirname "$0")/safety.sh"

LEAK=$MEMWARDEN_SOURCE/tests/helpers/leak.py
MAX_THROTTLE=10 SAMPLE=1 MARGIN=9   # seconds; MARGIN: onset after the first high event, TCG, journald
LIFT_LIMIT=$((MAX_THROTTLE + SAMPLE + MARGIN))
mw_install

# brake_lift NAME CGDIR WATCH_TARGET: after the first high event, the brake must be released in time, then the
# kernel kills the grower, then the brake is set again once the cgroup was calm.
brake_lift() {
        local name=$1 cg=$2 target=$3 cgpath=${2#/sys/fs/cgroup} brake0 t_high t_rel gone
        # The brake the policy sets (Brake=90% of memory.max, page-aligned down as daemon/brake.c does), not
        # memory.high as read here: under load the rung may have failed already and the relief raised it.
        brake0=$(( $(cat "$cg/memory.max") * 90 / 100 / 4096 * 4096 ))
        wait_for 60 sh -c "grep -q '^first_high=' /run/ev-$name" || { _sf_fail "$(basename "$0"):$LINENO" "$name: no high event within 60 s"; return; }
        t_high=$(ev_get $name first_high)
        if sf_wait $((LIFT_LIMIT + 30)) "$MW_BRAKE" "r.get('CGROUP') == '$cgpath' and r.get('BRAKE') == 'released'"; then
                t_rel=$(rec_time)
                info "$name: brake released $(sub_f "$t_rel" "$t_high") s after the first high event: $(rec_fields BRAKE_REASON MEMORY_HIGH)"
                check_lef "$(sub_f "$t_rel" "$t_high")" $LIFT_LIMIT "$name: brake lifted within MaxThrottle + SampleInterval + ${MARGIN} s"
                check_true "$name: the release says why (BRAKE_REASON=)" test -n "$(mw_field BRAKE_REASON)"
        else
                _sf_fail "$(basename "$0"):$LINENO" "$name: no BRAKE=released record within $((LIFT_LIMIT + 30)) s of the first high event"
                t_rel=
        fi
        # The kernel must be able to do its work now: the grower dies soon after the lift.
        wait_for 30 sh -c "grep -q '^gone_$target=' /run/ev-$name"
        gone=$(ev_get $name gone_$target)
        info "$name: first high -> grower dead: $(ev_since $name gone_$target "$t_high") s; oom_kill +$(ev_get $name delta_oom_kill); memory.high changes: $(ev_get $name high_changes)"
        info "$name: PSI full avg10 max $(ev_get $name full_avg10_max)%; every 5th sample (t:current:high:full_avg10): $(ev_get $name samples | tr ' ' '\n' | awk 'NR % 5 == 1' | tr '\n' ' ')"
        check_true "$name: the grower is not left alive throttled ($((LIFT_LIMIT + 30)) s after the first high event)" test -n "$gone"
        check_ge "$(ev_get $name delta_oom_kill)" 1 "$name: the kernel OOM killer did the kill after the lift (oom_kill rose)"
        if [ -n "$t_rel" ]; then
                if sf_wait 60 "$MW_BRAKE" "r.get('CGROUP') == '$cgpath' and r.get('BRAKE') == 'set' and int(r['__MONOTONIC_TIMESTAMP']) > ${t_rel/./} * 1000"; then
                        info "$name: brake set again $(sub_f "$(rec_time)" "$t_rel") s after the release (memory.high $(cat "$cg/memory.high"))"
                        check_eq "$(cat "$cg/memory.high")" "$brake0" "$name: the brake is re-armed after calm"
                else
                        _sf_fail "$(basename "$0"):$LINENO" "$name: brake not re-armed within 60 s of the release"
                fi
        fi
}

# --- 1. the leaking unit -------------------------------------------------------------------------------
unit=mw-leak128.service
track_unit $unit
leak_up() { # the leak runs under a shell that stays, so that the cgroup (and its memory.events) survive it
        rm -f /run/mw-leak128.state /run/mw-leak128.log
        systemd-run --quiet --unit=$unit -p MemoryMax=128M -p MemorySwapMax=0 -p OOMPolicy=continue \
                bash -c "python3 $LEAK /run/mw-leak128.state 8 & echo \$! >/run/mw-leak128.pid; wait; echo exit \$? >/run/mw-leak128.log; exec sleep infinity" ||
                fail "start $unit"
        wait_for 10 test -s /run/mw-leak128.pid || fail "no leak pid"
        LEAK_PID=$(cat /run/mw-leak128.pid)
        LEAK_CG=$(unit_cgroup $unit)
}
leak_down() { systemctl stop $unit; systemctl reset-failed $unit 2>/dev/null; }

info "== leak, MemoryMax=128M, without memwarden"
leak_up
ev_watch leakbase "$LEAK_CG" pid:$LEAK_PID
wait_for 90 sh -c "grep -q '^gone_$LEAK_PID=' /run/ev-leakbase" || info "the leak still alive after 90 s"
ev_stop leakbase
info "bare kernel: first max -> leak dead: $(ev_since leakbase gone_$LEAK_PID "$(ev_get leakbase first_max)") s, oom_kill +$(ev_get leakbase delta_oom_kill), PSI full avg10 max $(ev_get leakbase full_avg10_max)%"
check_ge "$(ev_get leakbase delta_oom_kill)" 1 "without memwarden the kernel OOM-killed the leak"
leak_down

info "== leak, memwarden, Brake=90% MaxThrottle=10s Ladder=alert"
mw_policy 10-leak <<P
[Match]
Unit=$unit
[Pressure]
Brake=90%
MaxThrottle=${MAX_THROTTLE}s
SampleInterval=${SAMPLE}s
[Actions]
Ladder=alert
P
"$MWCTL" check >/run/mw-check.out 2>&1; rc=$?
info "memwardenctl check (exit $rc) said: $(grep -i -m3 warn /run/mw-check.out | tr '\n' ' ')"
check_eq $rc 0 "memwardenctl check accepts the policy"
check_true "memwardenctl check warns about a brake whose ladder cannot free memory (warning + Brake)" \
        sh -c "grep -i warning /run/mw-check.out | grep -q Brake"
mw_restart || fail "memwardend refused the leak policy"
leak_up
wait_for 20 sh -c "[ \"\$(cat $LEAK_CG/memory.high)\" != max ]" || _sf_fail "$(basename "$0"):$LINENO" "no brake on $unit"
ev_watch leak "$LEAK_CG" pid:$LEAK_PID
brake_lift leak "$LEAK_CG" $LEAK_PID
ev_stop leak
info "alerts for $unit meanwhile: $(sf_count "$MW_PRESSURE $MW_ACTION" "r.get('UNIT') == '$unit'")"
mw_stop
leak_down
rm -f /etc/memwarden/policy.d/10-leak.conf

# --- 2. the slice with a last rung that cannot act -----------------------------------------------------
info "== slice, memwarden, Ladder=alert trim (no trim handler anywhere)"
slice_units
mw_policy 10-slice <<P
[Match]
Cgroup=/$SLICE
[Pressure]
SomeTrigger=100ms/1s
Brake=90%
MaxThrottle=${MAX_THROTTLE}s
SampleInterval=${SAMPLE}s
[Actions]
Ladder=alert trim
P
slice_up
mw_restart || fail "memwardend refused the slice policy"
wait_for 20 sh -c "[ \"\$(cat $SLICE_CG/memory.high)\" != max ]" || _sf_fail "$(basename "$0"):$LINENO" "no brake on the slice"
ev_watch slice "$SLICE_CG" cg:$SLICE_CG/bloat.service
slice_bloat
brake_lift slice "$SLICE_CG" bloat.service
ev_stop slice
check_true "slice: chill survived" kill -0 "$CHILL_PID"
sf_wait 1 "$MW_PRESSURE $MW_ACTION" "r.get('CGROUP') == '/$SLICE' and r.get('ACTION') == 'trim'" &&
        info "slice: trim record: $(rec_fields RESULT ERRNO REASON_TEXT)"
mw_stop
slice_down
sf_done

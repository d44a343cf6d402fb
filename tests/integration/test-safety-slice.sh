#!/bin/bash
# SPDX-License-Identifier: MIT
# "Never worse than no supervisor", the kill rung on shapes other than a leaf service. One boot:
#  1. acc55memwarden.slice (MemoryMax=200M) holding bloat.service (tail -f /dev/zero) and chill.service
#     (sleep infinity), the scenario systemd tests its OOM daemon with. First without memwarden (the kernel
#     OOM-kills bloat; the time from the first `max` event to bloat's death is printed), then with memwarden
#     (SomeTrigger=100ms/1s, Brake=90%, MaxThrottle=10s, Ladder=alert kill) for Mode=largest, largest-child
#     and cgroup: memwarden kills bloat (RESULT=ok, the record names the cgroup killed), the slice's
#     memory.events oom_kill stays 0, chill lives (but for Mode=cgroup); the time from the first `high`
#     event to bloat's death is printed beside the kernel's.
#  2. Ladder=alert restart on the slice: the unit owning the largest child (bloat.service) is restarted and
#     named (RESTART_UNIT=), chill is left alone.
#  3. A synthetic pod slice as the kubelet (systemd driver) names it: kubepods.slice/kubepods-burstable.slice/
#     kubepods-burstable-pod<uid>.slice (MemoryMax=200M) with two container scopes cri-containerd-<64 hex>
#     .scope (a hog and a quiet one) and the pause container's scope. Without memwarden the kernel kills
#     the hog; with Mode=largest-child memwarden kills the hog's scope only (oom_kill 0), the other
#     container and pause live.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.sh"
. "$(dirname "$0")/safety.sh"

HOG=$MEMWARDEN_SOURCE/tests/integration/hog.py
mw_install
slice_units

slice_policy() { # MODE [LADDER]
        mw_policy 10-slice <<P
[Match]
Cgroup=/$SLICE
[Pressure]
SomeTrigger=100ms/1s
Brake=90%
MaxThrottle=10s
[Actions]
Ladder=${2:-alert kill}
[Kill]
Mode=$1
P
}

# --- 1. the slice without memwarden --------------------------------------------------------------------
info "== slice, without memwarden"
slice_up
ev_watch base "$SLICE_CG" cg:$SLICE_CG/bloat.service
slice_bloat
wait_for 60 sh -c "[ -n \"\$(sed -n 's/^gone_bloat.service=//p' /run/ev-base)\" ]" || info "bloat still alive after 60 s"
ev_stop base
base_t=$(ev_since base gone_bloat.service "$(ev_get base first_max)")
info "bare kernel: first max event -> bloat dead: ${base_t:-?} s; oom_kill +$(ev_get base delta_oom_kill), max events +$(ev_get base delta_max)"
check_ge "$(ev_get base delta_oom_kill)" 1 "without memwarden the kernel OOM-killed bloat (oom_kill rose)"
check_true "without memwarden chill survived" kill -0 "$CHILL_PID"
slice_down

# --- 1. the slice with memwarden, each kill mode -------------------------------------------------------
declare -A kill_t
for mode in largest largest-child cgroup; do
        info "== slice, memwarden, Ladder=alert kill, Mode=$mode"
        slice_policy $mode
        slice_up
        if ! mw_restart; then
                _sf_fail "$(basename "$0"):$LINENO" "memwardend refused Mode=$mode (see its journal above)"
                slice_down
                continue
        fi
        wait_for 20 sh -c "[ \"\$(cat $SLICE_CG/memory.high)\" = $((200 * 1048576 * 9 / 10)) ]" ||
                _sf_fail "$(basename "$0"):$LINENO" "no brake on the slice (memory.high $(cat $SLICE_CG/memory.high))"
        ev_watch $mode "$SLICE_CG" cg:$SLICE_CG/bloat.service
        slice_bloat
        sel='r.get("CGROUP") == "/'$SLICE'" and r.get("ACTION") == "kill"'
        if sf_wait 60 "$MW_PRESSURE $MW_ACTION" "$sel and r.get(\"RESULT\") == \"ok\""; then
                pass "Mode=$mode: a kill record with RESULT=ok"
                info "kill record: $(rec_fields KILL_TARGET KILLED_PID KILLED_CGROUP CAUSE REASONS ONSET)"
                t_rec=$(rec_time)
                case $mode in
                largest)
                        check_eq "$(mw_field KILL_TARGET)" largest-process "Mode=largest: KILL_TARGET"
                        check_eq "$(mw_field KILLED_PID)" "$BLOAT_PID" "Mode=largest: KILLED_PID is bloat's tail"
                        check_eq "$(mw_field KILLED_CGROUP)" "/$SLICE/bloat.service" "Mode=largest: KILLED_CGROUP" ;;
                largest-child)
                        check_eq "$(mw_field KILL_TARGET)" largest-child "Mode=largest-child: KILL_TARGET"
                        check_eq "$(mw_field KILLED_CGROUP)" "/$SLICE/bloat.service" "Mode=largest-child: KILLED_CGROUP" ;;
                cgroup)
                        check_eq "$(mw_field KILL_TARGET)" cgroup "Mode=cgroup: KILL_TARGET"
                        check_eq "$(mw_field KILLED_CGROUP)" "/$SLICE" "Mode=cgroup: KILLED_CGROUP is the slice" ;;
                esac
        else
                _sf_fail "$(basename "$0"):$LINENO" "Mode=$mode: no kill record with RESULT=ok within 60 s"
                sf_wait 1 "$MW_PRESSURE $MW_ACTION" "$sel" &&
                        info "first kill record: $(rec_fields RESULT ERRNO KILL_TARGET REASON_TEXT MAP_TOP ONSET), $(sub_f "$(rec_time)" "$(ev_get $mode first_high)") s after the first high event"
                info "kill records: $(sf_count "$MW_PRESSURE $MW_ACTION" "$sel"), of them RESULT=failed: $(sf_count "$MW_PRESSURE $MW_ACTION" "$sel and r.get('RESULT') == 'failed'")"
                t_rec=
        fi
        wait_for 15 sh -c "[ -n \"\$(sed -n 's/^gone_bloat.service=//p' /run/ev-$mode)\" ]"
        ev_stop $mode
        first_high=$(ev_get $mode first_high)
        kill_t[$mode]=$(ev_since $mode gone_bloat.service "$first_high")
        info "Mode=$mode: first high event -> bloat dead: ${kill_t[$mode]:-never} s (kill record at $(sub_f "$t_rec" "$first_high" || echo never) s; bare kernel ${base_t:-?} s from its first max); PSI full avg10 max $(ev_get $mode full_avg10_max)%"
        check_true "Mode=$mode: bloat is dead" sh -c "[ -n \"$(ev_get $mode gone_bloat.service)\" ]"
        check_eq "$(ev_get $mode delta_oom_kill)" 0 "Mode=$mode: the slice's oom_kill stayed 0 (memwarden, not the kernel)"
        if [ $mode != cgroup ]; then
                check_true "Mode=$mode: chill survived" kill -0 "$CHILL_PID"
        fi
        mw_stop
        slice_down
done

# --- 2. restart on a slice -----------------------------------------------------------------------------
info "== slice, memwarden, Ladder=alert restart"
slice_policy largest "alert restart"
slice_up
if mw_restart; then
        slice_bloat
        sel='r.get("CGROUP") == "/'$SLICE'" and r.get("ACTION") == "restart"'
        if sf_wait 60 "$MW_PRESSURE $MW_ACTION" "$sel"; then
                info "restart record: $(rec_fields RESULT ERRNO RESTART_UNIT RESTART_VIA REASON_TEXT CAUSE)"
                check_eq "$(mw_field RESULT)" ok "restart on the slice: RESULT=ok"
                check_eq "$(mw_field RESTART_UNIT)" bloat.service "restart on the slice: RESTART_UNIT names bloat.service"
                # systemd's own "Started" records (SD_MESSAGE_UNIT_STARTED) for bloat since memwardend started:
                # the first start and the restart. (The restart can come before the test reads an InvocationID.)
                started() { sf_count 39f53479d3a045ac8e11786248231fbf "r.get('UNIT') == 'bloat.service'"; }
                restarted() { [ "$(started)" -ge 2 ]; }
                wait_for 20 restarted
                check_ge "$(started)" 2 "bloat.service was restarted (systemd started it twice)"
        else
                _sf_fail "$(basename "$0"):$LINENO" "no restart record for the slice within 60 s"
        fi
        check_true "restart on the slice: chill untouched" kill -0 "$CHILL_PID"
else
        _sf_fail "$(basename "$0"):$LINENO" "memwardend refused the restart policy"
fi
mw_stop
slice_down
rm -f /etc/memwarden/policy.d/10-slice.conf

# --- 3. a synthetic pod slice --------------------------------------------------------------------------
uid=$(cat /proc/sys/kernel/random/uuid)
POD=kubepods-burstable-pod${uid//-/_}.slice
POD_CG=/sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/$POD
hex64() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
cat >/run/systemd/system/$POD <<EOF
[Slice]
MemoryAccounting=yes
MemoryMax=200M
MemorySwapMax=0
EOF
systemctl daemon-reload
# pod_up: the pause scope, the quiet container (40 MiB), the hog's scope name in HOG_SCOPE.
pod_up() {
        PAUSE_SCOPE=cri-containerd-$(hex64).scope
        QUIET_SCOPE=cri-containerd-$(hex64).scope
        HOG_SCOPE=cri-containerd-$(hex64).scope
        systemd-run --quiet --scope --unit=$PAUSE_SCOPE --slice=$POD bash -c 'exec -a /pause sleep infinity' &
        PAUSE_PID=$!; disown
        systemd-run --quiet --scope --unit=$QUIET_SCOPE --slice=$POD python3 "$HOG" 40 4 0.01 >/dev/null &
        QUIET_PID=$!; disown
        wait_for 20 sh -c "[ -d $POD_CG/$QUIET_SCOPE ] && [ -d $POD_CG/$PAUSE_SCOPE ]" || fail "pod scopes not made"
        wait_for 30 sh -c "[ \$(cat $POD_CG/$QUIET_SCOPE/memory.current) -gt $((30 << 20)) ]" || info "quiet container below 30 MiB"
}
pod_hog() {
        systemd-run --quiet --scope --unit=$HOG_SCOPE --slice=$POD python3 "$HOG" 400 4 0.02 >/dev/null &
        HOG_PID=$!; disown
}
pod_down() {
        kill $PAUSE_PID $QUIET_PID $HOG_PID 2>/dev/null
        systemctl stop $POD 2>/dev/null
        wait_for 20 sh -c "[ ! -d $POD_CG ]" || info "the pod slice's cgroup is still there"
}

info "== pod slice, without memwarden"
pod_up
pod_hog
ev_watch podbase "$POD_CG" pid:$HOG_PID
wait_for 90 sh -c "! kill -0 $HOG_PID" || info "the hog still alive after 90 s"
ev_stop podbase
info "bare kernel: pod oom_kill +$(ev_get podbase delta_oom_kill), first max -> hog dead $(ev_since podbase gone_$HOG_PID "$(ev_get podbase first_max)") s"
check_ge "$(ev_get podbase delta_oom_kill)" 1 "without memwarden the kernel OOM-killed in the pod"
check_true "without memwarden the quiet container lives" kill -0 $QUIET_PID
pod_down

info "== pod slice, memwarden, Mode=largest-child"
mw_policy 20-pod <<'P'
[Match]
Cgroup=/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod*.slice
[Pressure]
SomeTrigger=100ms/1s
Brake=90%
MaxThrottle=10s
[Actions]
Ladder=alert kill
[Kill]
Mode=largest-child
P
pod_up
if mw_restart; then
        wait_for 20 sh -c "[ \"\$(cat $POD_CG/memory.high)\" != max ]" || _sf_fail "$(basename "$0"):$LINENO" "no brake on the pod slice"
        pod_hog
        ev_watch pod "$POD_CG" pid:$HOG_PID
        sel='r.get("CGROUP") == "'${POD_CG#/sys/fs/cgroup}'" and r.get("ACTION") == "kill"'
        if sf_wait 60 "$MW_PRESSURE $MW_ACTION" "$sel and r.get('RESULT') == 'ok'" ||
           sf_wait 1 "$MW_PRESSURE $MW_ACTION" "$sel"; then
                info "pod kill record: $(rec_fields RESULT ERRNO KILL_TARGET KILLED_CGROUP REASON_TEXT)"
                check_eq "$(mw_field RESULT)" ok "pod: kill RESULT=ok"
                check_eq "$(mw_field KILL_TARGET)" largest-child "pod: KILL_TARGET=largest-child"
                check_eq "$(mw_field KILLED_CGROUP)" "${POD_CG#/sys/fs/cgroup}/$HOG_SCOPE" "pod: the hog's scope was killed"
        else
                _sf_fail "$(basename "$0"):$LINENO" "pod: no kill record within 60 s"
        fi
        wait_for 20 sh -c "! kill -0 $HOG_PID"
        ev_stop pod
        info "pod with memwarden: first high -> hog dead $(ev_since pod gone_$HOG_PID "$(ev_get pod first_high)") s, oom_kill +$(ev_get pod delta_oom_kill)"
        check_true "pod: the hog is dead" sh -c "! kill -0 $HOG_PID"
        check_eq "$(ev_get pod delta_oom_kill)" 0 "pod: oom_kill stayed 0"
        check_true "pod: the quiet container lives" kill -0 $QUIET_PID
        check_true "pod: pause lives" kill -0 $PAUSE_PID
else
        _sf_fail "$(basename "$0"):$LINENO" "memwardend refused Mode=largest-child for the pod slice"
fi
mw_stop
pod_down
sf_done

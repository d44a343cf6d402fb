#!/bin/bash
# SPDX-License-Identifier: MIT
# "Never worse than no supervisor": the brake never starves the relief it waits for. One boot,
# each scenario without memwarden (the kernel alone), then with it:
#  1. Debian's redis-server (jemalloc, decay off: MALLOC_CONF=background_thread:false,dirty_decay_ms:-1,
#     muzzy_decay_ms:-1), enrolled with `memwardenctl enroll`, in a MemoryMax=256M unit: 15,000 keys of
#     11.5 KB (DEBUG POPULATE; RSS ~190 MiB), all but every 10th deleted, then a second process in the
#     unit needs 150 MiB.
#     Brake=90%, Ladder=alert trim reclaim restart kill. Without memwarden the kernel OOM-kills (what was
#     lost is printed). With memwarden: the first record already runs trim (ONSET=yes: alert costs no
#     time), the trim record says it lifted the brake for the relief (BRAKE_RELIEF_BYTES=, MW_BRAKE
#     BRAKE=relieved then BRAKE=set), no restart and no kill (same invocation, same redis PID), every kept key
#     has its value, the second process completes, memory.events oom_kill stays 0.
#  2. The same with glibc: python3 tests/helpers/frag.py (150 MiB of 1-100 KiB objects, 90% dropped).
#  3. A graceful restart deep in the brake: a service (tests/helpers/flush-state.py, MemoryMax=128M,
#     Brake=90%, leaking into the brake) whose SIGTERM handler writes 50 MiB of state to ext4 and fsyncs it;
#     Ladder=alert restart kill: the restart record says it lifted the brake for the stop, the state file is
#     complete (size and sha256 the service wrote in state.sum), no OOM kill. Without memwarden the kernel
#     OOM-kills the service at memory.max and no state is written.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.sh"
. "$(dirname "$0")/safety.sh"

command -v redis-server >/dev/null || skip "no redis-server (scripts/install-deps --vm installs it)"
RK=$MEMWARDEN_SOURCE/tests/helpers/redis-keys.py
FRAG=$MEMWARDEN_SOURCE/tests/helpers/frag.py
FLUSH=$MEMWARDEN_SOURCE/tests/helpers/flush-state.py
N=15000 SIZE=11500 EVERY=10 PORT=6390
mw_install
LIB=$(sed -n 's/^#define TRIM_LIBRARY_PATH "\(.*\)"$/\1/p' "$MEMWARDEN_BUILD/config.h")
[ -n "$LIB" ] && [ -e "$LIB" ] || fail "libmemwarden-trim.so not installed at '$LIB'"

rss_mib() { awk '/^VmRSS/ { print int($2 / 1024) }' "/proc/$1/status" 2>/dev/null; }
# second CGDIR NAME: a second process in the cgroup that needs 150 MiB, in the background; its exit status
# goes to /run/NAME.rc, its output to /run/NAME.out.
second() {
        rm -f /run/$2.rc /run/$2.out
        ( bash -c "echo \$\$ >$1/cgroup.procs && exec python3 -c 'b = b\"y\" * (150 << 20); print(\"allocated\", len(b) >> 20)'" \
                >/run/$2.out 2>&1; echo $? >/run/$2.rc ) &
}
# relief_checks UNIT NAME: the record side of a relief run with memwarden.
relief_checks() {
        local unit=$1 name=$2
        if sf_wait 5 "$MW_PRESSURE" "r.get('UNIT') == '$unit' and r.get('ONSET') == 'yes'"; then
                info "$name: onset record: $(rec_fields ACTION RESULT CAUSE REASONS MEMORY_CURRENT MEMORY_HIGH)"
                check_eq "$(mw_field ACTION)" trim "$name: alert costs no time: the onset record already runs trim"
        else
                _sf_fail "$(basename "$0"):$LINENO" "$name: no onset record"
        fi
        if sf_wait 1 "$MW_PRESSURE $MW_ACTION" "r.get('UNIT') == '$unit' and r.get('ACTION') == 'trim'"; then
                info "$name: trim record: $(rec_fields RESULT MEMORY_CURRENT MEMORY_HIGH BRAKE_RELIEF_BYTES)"
                check_true "$name: the trim record says the brake was lifted for it (BRAKE_RELIEF_BYTES= above MEMORY_CURRENT=)" \
                        python3 -c 'import json; r = json.load(open("/tmp/mw-record.json")); exit(not int(r["BRAKE_RELIEF_BYTES"]) > int(r["MEMORY_CURRENT"]))'
        else
                _sf_fail "$(basename "$0"):$LINENO" "$name: no trim record"
        fi
        sf_wait 1 "$MW_RESULT" "r.get('UNIT') == '$unit' and r.get('ACTION') == 'trim'" &&
                info "$name: trim settled: $(rec_fields FREED_BYTES TRIM_RELEASED_BYTES SETTLE_USEC STILL_UNDER_PRESSURE)"
        check_true "$name: MW_BRAKE BRAKE=relieved" sf_wait 1 "$MW_BRAKE" "r.get('UNIT') == '$unit' and r.get('BRAKE') == 'relieved'"
        check_true "$name: MW_BRAKE BRAKE=set after the relief (within 40 s)" sf_wait 40 "$MW_BRAKE" \
                "r.get('UNIT') == '$unit' and r.get('BRAKE') == 'set' and int(r['__MONOTONIC_TIMESTAMP']) > $(python3 -c 'import json; print(json.load(open("/tmp/mw-record.json"))["__MONOTONIC_TIMESTAMP"])' 2>/dev/null || echo 0)"
        check_eq "$(sf_count "$MW_PRESSURE $MW_ACTION" "r.get('UNIT') == '$unit' and r.get('ACTION') in ('restart', 'kill')")" 0 \
                "$name: no restart or kill record"
        info "$name: the records: $(journalctl -u memwardend --no-pager -o cat --since "$scen_t0" | grep -F "$unit" | cut -c1-160 | tr '\n' '|')"
}

mw_policy 10-relief <<'P'
[Match]
Unit=mw-redis.service mw-pyfrag2.service
[Pressure]
Brake=90%
[Actions]
Ladder=alert trim reclaim restart kill
P

# MEMWARDEN_SAFETY_ONLY=flush runs section 3 alone (to check it by hand; meson runs everything).
if [ "${MEMWARDEN_SAFETY_ONLY:-}" != flush ]; then
# --- 1. redis ------------------------------------------------------------------------------------------
unit=mw-redis.service
"$MWCTL" enroll $unit >/dev/null || fail "memwardenctl enroll $unit"
"$MWCTL" enroll mw-pyfrag2.service >/dev/null || fail "memwardenctl enroll mw-pyfrag2.service"
systemctl daemon-reload
trap '"$MWCTL" unenroll mw-redis.service; "$MWCTL" unenroll mw-pyfrag2.service; _sf_cleanup' EXIT
track_unit $unit
redis_up() {
        rm -f /run/mw-redis.pid /run/mw-redis.exit
        systemd-run --quiet --unit=$unit -p MemoryMax=256M -p MemorySwapMax=0 -p OOMPolicy=continue \
                -p Environment=MALLOC_CONF=background_thread:false,dirty_decay_ms:-1,muzzy_decay_ms:-1 \
                bash -c "redis-server --port $PORT --bind 127.0.0.1 --save '' --appendonly no --enable-debug-command yes & echo \$! >/run/mw-redis.pid; wait; echo \$? >/run/mw-redis.exit; exec sleep infinity" ||
                fail "start $unit"
        grep -q "LD_PRELOAD=$LIB" <(systemctl show -P Environment $unit) || fail "the enroll drop-in did not reach $unit"
        wait_for 30 python3 "$RK" $PORT pid || fail "redis-server does not answer"
        REDIS_PID=$(python3 "$RK" $PORT pid)
        REDIS_CG=$(unit_cgroup $unit)
        REDIS_INV=$(systemctl show -P InvocationID $unit)
        local t0=$(mono_now)
        python3 "$RK" $PORT fill $N $SIZE >/dev/null || fail "fill redis"
        local rss_full=$(rss_mib $REDIS_PID)
        python3 "$RK" $PORT drop $N $EVERY >/dev/null || fail "drop keys"
        info "redis (PID $REDIS_PID, $(grep -c jemalloc /proc/$REDIS_PID/maps) jemalloc maps): $N keys in $(sub_f "$(mono_now)" "$t0") s, RSS $rss_full MiB; after dropping 90%: RSS $(rss_mib $REDIS_PID) MiB, memory.current $(($(cat $REDIS_CG/memory.current) >> 20)) MiB"
}
redis_down() { systemctl stop $unit; systemctl reset-failed $unit 2>/dev/null; }

info "== redis, without memwarden"
redis_up
ev_watch redisbase "$REDIS_CG" pid:$REDIS_PID
second "$REDIS_CG" redisbase
wait_for 120 test -s /run/redisbase.rc || info "the second process did not finish within 120 s"
sleep 1
keys=$(python3 "$RK" $PORT check $N $EVERY $SIZE 2>&1 | tail -1)
ev_stop redisbase
info "bare kernel: oom_kill +$(ev_get redisbase delta_oom_kill); redis $(kill -0 $REDIS_PID 2>/dev/null && echo alive || echo "killed (exit $(cat /run/mw-redis.exit 2>/dev/null))"); keys: $keys; second process: exit $(cat /run/redisbase.rc 2>/dev/null) $(cat /run/redisbase.out 2>/dev/null | tail -1)"
check_ge "$(ev_get redisbase delta_oom_kill)" 1 "without memwarden the kernel OOM-kills (the baseline reproduces the problem)"
redis_down

info "== redis, memwarden, Brake=90% Ladder=alert trim reclaim restart kill"
mw_restart || fail "memwardend refused the relief policy"
scen_t0=$(date '+%Y-%m-%d %H:%M:%S')
redis_up
wait_for 20 sh -c "[ \"\$(cat $REDIS_CG/memory.high)\" != max ]" || _sf_fail "$(basename "$0"):$LINENO" "no brake on $unit"
ev_watch redis "$REDIS_CG" pid:$REDIS_PID
second "$REDIS_CG" redis
wait_for 120 test -s /run/redis.rc || info "the second process did not finish within 120 s"
keys=$(python3 "$RK" $PORT check $N $EVERY $SIZE 2>&1 | tail -1)
ev_stop redis
info "with memwarden: oom_kill +$(ev_get redis delta_oom_kill); redis RSS now $(rss_mib $REDIS_PID) MiB; keys: $keys; second process: exit $(cat /run/redis.rc 2>/dev/null) $(tail -1 /run/redis.out 2>/dev/null); PSI full avg10 max $(ev_get redis full_avg10_max)%; memory.high changes $(ev_get redis high_changes)"
check_eq "$(cat /run/redis.rc 2>/dev/null)" 0 "redis: the second process completed"
check_contains "$(cat /run/redis.out 2>/dev/null)" "allocated 150" "redis: the second process got its 150 MiB"
check_contains "$keys" "kept $((N / EVERY)) ok $((N / EVERY)) missing 0 wrong 0" "redis: every kept key is there with its value"
check_true "redis: the same redis-server still runs (PID $REDIS_PID)" kill -0 $REDIS_PID
check_eq "$(systemctl show -P InvocationID $unit)" "$REDIS_INV" "redis: the unit was not restarted (same invocation)"
check_eq "$(ev_get redis delta_oom_kill)" 0 "redis: memory.events oom_kill stayed 0"
relief_checks $unit redis
redis_down

# --- 2. the same with glibc: python3 frag.py ------------------------------------------------------------
unit=mw-pyfrag2.service
track_unit $unit
frag_up() {
        rm -f /run/mw-pyfrag2.out
        systemd-run --quiet --unit=$unit -p MemoryMax=256M -p MemorySwapMax=0 -p OOMPolicy=continue \
                bash -c "python3 $FRAG 150 >/run/mw-pyfrag2.out & wait; exec sleep infinity" || fail "start $unit"
        wait_for 90 grep -q ^ready /run/mw-pyfrag2.out || fail "frag.py never became ready"
        read -r _ FRAG_PID FRAG_RSS _ </run/mw-pyfrag2.out
        FRAG_CG=$(unit_cgroup $unit)
        FRAG_INV=$(systemctl show -P InvocationID $unit)
        info "frag.py (PID $FRAG_PID): RSS $((FRAG_RSS >> 20)) MiB after dropping 90%, memory.current $(($(cat $FRAG_CG/memory.current) >> 20)) MiB"
}
info "== python3 frag, without memwarden"
mw_stop
frag_up
ev_watch fragbase "$FRAG_CG" pid:$FRAG_PID
second "$FRAG_CG" fragbase
wait_for 120 test -s /run/fragbase.rc || info "the second process did not finish within 120 s"
sleep 1
ev_stop fragbase
info "bare kernel: oom_kill +$(ev_get fragbase delta_oom_kill); frag.py $(kill -0 $FRAG_PID 2>/dev/null && echo alive || echo killed); second process: exit $(cat /run/fragbase.rc 2>/dev/null) $(tail -1 /run/fragbase.out 2>/dev/null)"
check_ge "$(ev_get fragbase delta_oom_kill)" 1 "without memwarden the kernel OOM-kills (frag)"
systemctl stop $unit

info "== python3 frag, memwarden"
mw_restart || fail "memwardend refused the relief policy"
scen_t0=$(date '+%Y-%m-%d %H:%M:%S')
frag_up
wait_for 20 sh -c "[ \"\$(cat $FRAG_CG/memory.high)\" != max ]" || _sf_fail "$(basename "$0"):$LINENO" "no brake on $unit"
ev_watch frag "$FRAG_CG" pid:$FRAG_PID
second "$FRAG_CG" frag
wait_for 120 test -s /run/frag.rc || info "the second process did not finish within 120 s"
ev_stop frag
info "with memwarden: oom_kill +$(ev_get frag delta_oom_kill); frag.py RSS now $(rss_mib $FRAG_PID) MiB; second process: exit $(cat /run/frag.rc 2>/dev/null) $(tail -1 /run/frag.out 2>/dev/null); PSI full avg10 max $(ev_get frag full_avg10_max)%"
check_eq "$(cat /run/frag.rc 2>/dev/null)" 0 "frag: the second process completed"
check_true "frag: frag.py still runs (PID $FRAG_PID)" kill -0 $FRAG_PID
check_eq "$(systemctl show -P InvocationID $unit)" "$FRAG_INV" "frag: the unit was not restarted (same invocation)"
check_eq "$(ev_get frag delta_oom_kill)" 0 "frag: memory.events oom_kill stayed 0"
relief_checks $unit frag
mw_stop
systemctl stop $unit
rm -f /etc/memwarden/policy.d/10-relief.conf

fi

# --- 3. a graceful restart deep in the brake ------------------------------------------------------------
# The state goes to ext4 (page cache, charged to the unit) on a loop device whose image is written in full
# first, from outside the unit, so that its tmpfs pages are charged here, not to the unit.
modprobe loop 2>/dev/null
img=/run/mw-flush.img
dd if=/dev/zero of=$img bs=1M count=160 status=none && mkfs.ext4 -q -F -E nodiscard $img || fail "cannot make an ext4 image"
mkdir -p /mnt/mwflush && mount -o loop $img /mnt/mwflush || fail "cannot loop-mount ext4"
trap 'umount /mnt/mwflush 2>/dev/null; "$MWCTL" unenroll mw-redis.service; "$MWCTL" unenroll mw-pyfrag2.service; _sf_cleanup' EXIT
unit=mw-flush.service
track_unit $unit
flush_up() {
        rm -f /mnt/mwflush/state.* /mnt/mwflush/ready
        systemd-run --quiet --unit=$unit -p MemoryMax=128M -p MemorySwapMax=0 -p OOMPolicy=continue \
                -p TimeoutStopSec=30s python3 $FLUSH /mnt/mwflush 50 80 5 || fail "start $unit"
        wait_for 60 test -s /mnt/mwflush/ready || fail "flush-state.py never became ready"
        FLUSH_PID=$(cat /mnt/mwflush/ready)
        FLUSH_CG=$(unit_cgroup $unit)
        FLUSH_INV=$(systemctl show -P InvocationID $unit)
}
state_check() { # the state of the first instance (FLUSH_PID): "complete" when it matches its state.sum
        local f=/mnt/mwflush/state.$FLUSH_PID size sum secs
        [ -s $f.sum ] || { echo "no state.sum; state file $(stat -c %s $f 2>/dev/null || echo absent) bytes"; return 1; }
        read -r size sum secs <$f.sum
        if [ "$(stat -c %s $f)" = "$size" ] && [ "$size" = $((50 << 20)) ] &&
           [ "$(sha256sum <$f | cut -d' ' -f1)" = "$sum" ]; then
                echo "complete: $size bytes, sha256 matches, flushed in $secs s"
                return 0
        fi
        echo "incomplete: state $(stat -c %s $f) bytes, state.sum says $size"
        return 1
}

info "== graceful restart, without memwarden"
flush_up
ev_watch flushbase "$FLUSH_CG" pid:$FLUSH_PID
wait_for 90 sh -c "grep -q '^gone_$FLUSH_PID=' /run/ev-flushbase" || info "still alive after 90 s"
ev_stop flushbase
info "bare kernel: oom_kill +$(ev_get flushbase delta_oom_kill); state: $(state_check)"
check_ge "$(ev_get flushbase delta_oom_kill)" 1 "without memwarden the kernel OOM-kills the service (no SIGTERM, no flush)"
systemctl stop $unit; systemctl reset-failed $unit 2>/dev/null

info "== graceful restart deep in the brake, memwarden, Ladder=alert restart kill"
mw_policy 10-flush <<P
[Match]
Unit=$unit
[Pressure]
Brake=90%
[Actions]
Ladder=alert restart kill
[Restart]
LeadTime=off
P
mw_restart || fail "memwardend refused the flush policy"
scen_t0=$(date '+%Y-%m-%d %H:%M:%S')
flush_up
wait_for 20 sh -c "[ \"\$(cat $FLUSH_CG/memory.high)\" != max ]" || _sf_fail "$(basename "$0"):$LINENO" "no brake on $unit"
ev_watch flush "$FLUSH_CG" pid:$FLUSH_PID
if sf_wait 90 "$MW_PRESSURE $MW_ACTION" "r.get('UNIT') == '$unit' and r.get('ACTION') == 'restart'"; then
        t_restart=$(rec_time)
        info "restart record: $(rec_fields RESULT CAUSE MEMORY_CURRENT MEMORY_HIGH BRAKE_RELIEF_BYTES), $(sub_f "$t_restart" "$(ev_get flush first_high)") s after the first high event"
        check_eq "$(mw_field RESULT)" ok "flush: restart RESULT=ok"
        check_true "flush: the restart record says the brake was lifted for the stop (BRAKE_RELIEF_BYTES= above MEMORY_CURRENT=)" \
                python3 -c 'import json; r = json.load(open("/tmp/mw-record.json")); exit(not int(r["BRAKE_RELIEF_BYTES"]) > int(r["MEMORY_CURRENT"]))'
        wait_for 45 sh -c "! kill -0 $FLUSH_PID" || info "the old service still runs 45 s after the restart"
        state=$(state_check)
        info "flush: state $state; PSI full avg10 max $(ev_get flush full_avg10_max)%; memory.high changes $(ev_get flush high_changes)"
        check_true "flush: the state written on SIGTERM is complete on disk ($state)" state_check
        check_true "flush: MW_BRAKE BRAKE=relieved" sf_wait 1 "$MW_BRAKE" "r.get('UNIT') == '$unit' and r.get('BRAKE') == 'relieved'"
        wait_for 30 sh -c "[ \"\$(systemctl show -P InvocationID $unit)\" != '$FLUSH_INV' ] && systemctl is-active -q $unit"
        check_true "flush: the unit runs again (new invocation)" \
                sh -c "[ \"\$(systemctl show -P InvocationID $unit)\" != '$FLUSH_INV' ] && systemctl is-active -q $unit"
else
        _sf_fail "$(basename "$0"):$LINENO" "flush: no restart record within 90 s"
fi
ev_stop flush
check_eq "$(ev_get flush delta_oom_kill)" 0 "flush: oom_kill stayed 0"
check_eq "$(journalctl -k --no-pager -o json | python3 -c "import json, sys; print(sum(1 for l in sys.stdin if int(json.loads(l)['__MONOTONIC_TIMESTAMP']) > $SF_T0_US and 'Killed process' in str(json.loads(l).get('MESSAGE'))))")" 0 \
        "flush: the kernel killed no process"
info "flush records: $(journalctl -u memwardend --no-pager -o cat --since "$scen_t0" | grep -F "$unit" | cut -c1-160 | tr '\n' '|')"
mw_stop
systemctl stop $unit
sf_done

#!/bin/bash
# SPDX-License-Identifier: MIT
# Issue 12, the redis evidence: Debian's redis-server (jemalloc, linked dynamically), NOT enrolled (no
# preload, no SIGRTMIN+18 handler), in a MemoryMax=256M unit: 15,000 keys of 11.5 KB (DEBUG POPULATE, RSS
# ~190 MiB), all but every 10th deleted, then a second process in the unit needs 150 MiB (3 MiB every 0.3 s). Decay is off
# (MALLOC_CONF=background_thread:false,dirty_decay_ms:-1,muzzy_decay_ms:-1) in both runs: with redis's
# defaults jemalloc's background thread gives dirty pages back within ~10-20 s on its own, and what falls
# here must be the injection's doing. First the same scenario without memwarden (same boot): the kernel
# OOM-kills. Then with memwarden, [Trim] Inject=yes through the rung (Ladder=trim): the daemon injects
# jemalloc's purge (mallctl "arena.4096.purge") into redis-server, its RSS falls toward used_memory from
# INFO memory, every kept key reads back intact, the second process gets its 150 MiB, the same redis PID
# runs on, memory.events oom_kill stays 0, and the result record names the injected purge for redis.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.sh"

command -v redis-server >/dev/null || skip "no redis-server (scripts/install-deps --vm installs it)"
command -v redis-cli >/dev/null || skip "no redis-cli (redis-tools)"
RK=$MEMWARDEN_SOURCE/tests/helpers/redis-keys.py
N=15000 SIZE=11500 EVERY=10 PORT=6391
mw_install
# The drop-in memwarden.policy(5) documents for Inject=yes (test-trim-inject checks the warning without it).
mkdir -p /etc/systemd/system/memwardend.service.d
printf '[Service]\nSystemCallFilter=ptrace process_vm_readv process_vm_writev\n' \
        >/etc/systemd/system/memwardend.service.d/inject.conf
systemctl daemon-reload
mw_policy redisinj <<'P'
[Match]
Unit=mw-redisinj.service
[Pressure]
SomeTrigger=50ms/500ms
Brake=90%
[Actions]
Ladder=trim
[Trim]
Inject=yes
InjectTimeout=20s
Settle=6s
Cooldown=10s
P
mw_start

rss_mib() { awk '/^VmRSS/ { print int($2 / 1024) }' "/proc/$1/status" 2>/dev/null; }
# info_mem FIELD: a field of redis's INFO memory, in MiB
info_mem() { redis-cli -p $PORT info memory | tr -d '\r' | awk -F: -v k="$1" '$1 == k { print int($2 / 1048576) }'; }

# redis_up UNIT: redis-server in a MemoryMax=256M unit, filled, 90% deleted.
redis_up() {
        local unit=$1
        rm -f /run/$unit.pid /run/$unit.exit
        track_unit $unit
        systemd-run --quiet --unit=$unit -p MemoryMax=256M -p MemorySwapMax=0 -p OOMPolicy=continue \
                -p Environment=MALLOC_CONF=background_thread:false,dirty_decay_ms:-1,muzzy_decay_ms:-1 \
                bash -c "redis-server --port $PORT --bind 127.0.0.1 --save '' --appendonly no --enable-debug-command yes & echo \$! >/run/$unit.pid; wait; echo \$? >/run/$unit.exit; exec sleep infinity" ||
                fail "start $unit"
        wait_for 30 python3 "$RK" $PORT pid || fail "redis-server does not answer"
        REDIS_PID=$(python3 "$RK" $PORT pid)
        REDIS_CG=$(unit_cgroup $unit)
        python3 "$RK" $PORT fill $N $SIZE >/dev/null || fail "fill redis"
        local full=$(rss_mib $REDIS_PID)
        python3 "$RK" $PORT drop $N $EVERY >/dev/null || fail "drop keys"
        RSS_BEFORE=$(rss_mib $REDIS_PID) USED_BEFORE=$(info_mem used_memory)
        info "$unit: redis PID $REDIS_PID ($(grep -c libjemalloc /proc/$REDIS_PID/maps) libjemalloc maps): $N keys, RSS $full MiB; after dropping all but every ${EVERY}th: RSS $RSS_BEFORE MiB, used_memory $USED_BEFORE MiB, memory.current $(($(cat $REDIS_CG/memory.current) >> 20)) MiB"
}
# second NAME: a second process in redis's cgroup that needs 150 MiB, growing by 3 MiB every 0.3 s (a
# first run that took it at once outran the injection under TCG: the brake is raised while trim runs);
# exit status in /run/NAME.rc. The guarded run prints memory.peak, the margin left under MemoryMax: 7 MiB
# at 3 MiB every 0.6 s as at 0.3 s (apparently the brake, raised to 242-256M while trim runs, sets the peak, not
# this rate).
second() {
        rm -f /run/$1.rc /run/$1.out
        cat >/run/second.py <<'Y'
import time
held = []
for i in range(50):
    held.append(b"y" * (3 << 20))
    time.sleep(0.3)
print("allocated", sum(map(len, held)) >> 20)
Y
        ( bash -c "echo \$\$ >$REDIS_CG/cgroup.procs && exec python3 /run/second.py" >/run/$1.out 2>&1; echo $? >/run/$1.rc ) &
}

info "== without memwarden (no policy matches mw-redisinj-bare.service)"
redis_up mw-redisinj-bare.service
second bare
wait_for 120 test -s /run/bare.rc || info "the second process did not finish within 120 s"
sleep 1
bare_oom=$(cg_oom_kills "$REDIS_CG")
bare_keys=$(python3 "$RK" $PORT check $N $EVERY $SIZE 2>&1 | tail -1)
info "baseline: oom_kill ${bare_oom:-0}; redis $(kill -0 $REDIS_PID 2>/dev/null && echo alive || echo "killed (exit $(cat /run/mw-redisinj-bare.service.exit 2>/dev/null))"), keys: $bare_keys; second process: exit $(cat /run/bare.rc 2>/dev/null) $(tail -1 /run/bare.out 2>/dev/null)"
assert_ge "${bare_oom:-0}" 1 "baseline: the kernel OOM-kills (the scenario needs the purge)"
systemctl stop mw-redisinj-bare.service
systemctl reset-failed mw-redisinj-bare.service 2>/dev/null

info "== with memwarden, [Trim] Inject=yes"
unit=mw-redisinj.service
redis_up $unit
grep -q LD_PRELOAD <(systemctl show -P Environment $unit) && fail "$unit must not be enrolled"
sigcgt=$(awk '/^SigCgt:/ { print $2 }' /proc/$REDIS_PID/status)
assert_eq $(( (0x$sigcgt >> 51) & 1 )) 0 "redis-server has no SIGRTMIN+18 handler (SigCgt $sigcgt): only injection reaches it"
assert_ge $((RSS_BEFORE - USED_BEFORE)) 60 "jemalloc holds >= 60 MiB beyond used_memory before the pressure"
second guarded
wait_for 120 test -s /run/guarded.rc || { mw_dump_journal; fail "the second process did not finish within 120 s"; }
assert_eq "$(cat /run/guarded.rc)" 0 "the second process exited 0"
assert_contains "$(cat /run/guarded.out)" "allocated 150" "the second process got its 150 MiB"
assert_true "the same redis-server still runs (PID $REDIS_PID)" kill -0 $REDIS_PID
rss_after=$(rss_mib $REDIS_PID) used_after=$(info_mem used_memory)
info "redis: RSS $RSS_BEFORE -> $rss_after MiB; used_memory $USED_BEFORE -> $used_after MiB; INFO memory: $(redis-cli -p $PORT info memory | tr -d '\r' | grep -E '^(used_memory_rss|allocator_allocated|allocator_resident|mem_allocator):' | tr '\n' ' ')"
gap_before=$((RSS_BEFORE - USED_BEFORE)) gap_after=$((rss_after - used_after))
assert_true "RSS fell toward used_memory: RSS - used_memory $gap_before -> $gap_after MiB (at most half left)" \
        test $((gap_after * 2)) -le $gap_before
keys=$(python3 "$RK" $PORT check $N $EVERY $SIZE 2>&1 | tail -1)
assert_contains "$keys" "kept $((N / EVERY)) ok $((N / EVERY)) missing 0 wrong 0" "every kept key has its value"
oom=$(cg_oom_kills "$REDIS_CG")
assert_eq "${oom:-0}" 0 "memory.events oom_kill stayed 0 (baseline: ${bare_oom:-0})"
peak=$(( $(cat $REDIS_CG/memory.peak 2>/dev/null || echo 0) >> 20 ))
info "margin: memory.peak $peak MiB of MemoryMax 256 MiB ($((256 - peak)) MiB to spare)"
assert_eq "$(awk '/^TracerPid:/ { print $2 }' /proc/$REDIS_PID/status)" 0 "redis-server is not traced any more"
mw_wait_record 60 "$MW_RESULT" "r.get('UNIT') == '$unit' and r.get('TRIM_INJECT_DONE') == '1' and 'pid=$REDIS_PID via=injected how=mallctl' in str(r.get('TRIM_PROCESS'))" ||
        { mw_dump_journal; fail "no TRIM_INJECT_DONE record with the injected purge for redis (PID $REDIS_PID)"; }
procs=$(mw_field TRIM_PROCESS)
info "result record: TRIM_INJECTED=$(mw_field TRIM_INJECTED) TRIM_RELEASED_BYTES=$(mw_field TRIM_RELEASED_BYTES) TRIM_PROCESS=$procs"
line=$(python3 -c 'import json, sys
v = json.load(open("/tmp/mw-record.json"))["TRIM_PROCESS"]
for p in (v if isinstance(v, list) else [v]):
    if p.startswith("pid=%s " % sys.argv[1]): print(p)' $REDIS_PID)
rel=$(sed -n 's/.* released=\([0-9]*\).*/\1/p' <<<"$line")
assert_ge $(( ${rel:-0} >> 20 )) 60 "the record says >= 60 MiB released by redis ($line)"
done_testing

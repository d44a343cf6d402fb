#!/bin/bash
# SPDX-License-Identifier: MIT
# The injected trim ([Trim] Inject=yes, docs/inject.md) with a real third-party program that never opted
# in: python3 (tests/helpers/frag.py) builds ~150 MiB of 1-100 KiB bytes objects, drops 90% and sleeps,
# NOT enrolled, no preload, in a MemoryMax=256M unit; then a second python3 in the same unit needs 190 MiB.
# First the same scenario without memwarden guarding the unit (the baseline, same run): the kernel has to
# OOM-kill. Then with memwarden: the trim rung calls malloc_trim(0) inside the first python through
# ptrace, the second completes, memory.events oom_kill stays 0, and the record says "via=injected".
# Also as a new user would: Inject=yes with the shipped unit alone (its SystemCallFilter= refuses ptrace)
# gets a warning record at start (INJECT=blocked) naming the drop-in; the test then adds that drop-in.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.sh"

HELPER=$MEMWARDEN_SOURCE/tests/helpers/frag.py
command -v python3 >/dev/null || skip "no python3"
mw_install

mw_policy inject <<'P'
[Match]
Unit=mw-pyinj.service
[Pressure]
SomeTrigger=50ms/500ms
Brake=87.5%
[Actions]
Ladder=trim
[Trim]
Inject=yes
InjectTimeout=20s
Settle=6s
Cooldown=10s
P
mw_start
mw_wait_record 20 "$MW_STARTED" 'r.get("INJECT") == "blocked"' ||
        { mw_dump_journal; fail "Inject=yes under the shipped unit's filter: no INJECT=blocked warning"; }
assert_contains "$(mw_field MESSAGE)" "SystemCallFilter=ptrace process_vm_readv process_vm_writev" \
        "the warning names the drop-in"
# The drop-in memwarden.policy(5) documents for Inject=yes.
mkdir -p /etc/systemd/system/memwardend.service.d
printf '[Service]\nSystemCallFilter=ptrace process_vm_readv process_vm_writev\n' \
        >/etc/systemd/system/memwardend.service.d/inject.conf
systemctl daemon-reload
systemctl restart memwardend.service || fail "restart memwardend with the drop-in"
MW_PID=$(systemctl show -P MainPID memwardend.service)
starts() { journalctl --sync 2>/dev/null; [ "$(mw_journal_json "$MW_STARTED" | grep -c '"RELOAD":"no"')" -ge 2 ]; }
wait_for 20 starts || fail "no start record from the restarted memwardend"
blocked=$(mw_journal_json "$MW_STARTED" | grep -c '"INJECT":"blocked"')
assert_eq "$blocked" 1 "with the drop-in, no second INJECT=blocked warning"

# run UNIT: the two pythons in one MemoryMax=256M unit; the log is /run/UNIT/log.
run() {
        local unit=$1 dir=/run/$1
        mkdir -p $dir
        rm -f $dir/*
        track_unit $unit
        cat >$dir/run.sh <<S
#!/bin/bash
python3 $HELPER 150 > $dir/a.out &
apid=\$!
until grep -q ^ready $dir/a.out 2>/dev/null; do sleep 0.1; done
echo "a \$(cat $dir/a.out)" >> $dir/log
until [ -e $dir/go ]; do sleep 0.1; done # the test may look at A first
python3 -c 'b = b"y" * (190 << 20); print("allocated", len(b) >> 20)' > $dir/b.out
echo "b-exit \$? \$(cat $dir/b.out)" >> $dir/log
if kill -0 \$apid 2>/dev/null; then echo a-alive; else echo a-dead; fi >> $dir/log
sleep 600 # the cgroup stays for its counters; the test stops the unit
S
        chmod +x $dir/run.sh
        systemd-run --quiet --unit=$unit -p MemoryMax=256M -p MemorySwapMax=0 -p OOMPolicy=continue \
                $dir/run.sh || fail "start $unit"
}

# Baseline: not guarded (no policy matches mw-pyinj-bare.service).
run mw-pyinj-bare.service
touch /run/mw-pyinj-bare.service/go
bare_cg=$(unit_cgroup mw-pyinj-bare.service)
wait_for 90 grep -q "^a-" /run/mw-pyinj-bare.service/log || fail "baseline: python B never ended"
bare_oom=$(cg_oom_kills "$bare_cg")
info "baseline cgroup $bare_cg: memory.max $(cat $bare_cg/memory.max 2>/dev/null) peak $(cat $bare_cg/memory.peak 2>/dev/null) swap.max $(cat $bare_cg/memory.swap.max 2>/dev/null) events: $(tr '\n' ' ' < $bare_cg/memory.events 2>/dev/null) anon $(awk '$1=="anon"{print $2}' $bare_cg/memory.stat 2>/dev/null)"
info "baseline without memwarden: $(grep ^a /run/mw-pyinj-bare.service/log | cut -d' ' -f1-4) / $(grep ^b-exit /run/mw-pyinj-bare.service/log), oom_kill ${bare_oom:-0}"
assert_ge "${bare_oom:-0}" 1 "baseline: the kernel OOM-killed (the scenario needs the trim)"
assert_contains "$(cat /run/mw-pyinj-bare.service/log)" "a-dead" "baseline: python A was the victim"
systemctl stop mw-pyinj-bare.service 2>/dev/null || true

# With memwarden.
unit=mw-pyinj.service
log=/run/$unit/log
run $unit
cg=$(unit_cgroup $unit)
grep -q LD_PRELOAD <(systemctl show -P Environment $unit) && fail "$unit must not be enrolled"
wait_for 90 grep -q "^a " $log || fail "python A never became ready"
read -r _ _ apid a_rss a_freed < <(grep "^a " $log)
sigcgt=$(awk '/^SigCgt:/ { print $2 }' /proc/$apid/status)
assert_eq $(( (0x$sigcgt >> 51) & 1 )) 0 "python A has no SIGRTMIN+18 handler (SigCgt $sigcgt): only injection reaches it"
info "python A (PID $apid, no trim handler, no preload): RSS $((a_rss >> 20)) MiB after dropping $((a_freed >> 20)) MiB"

# The map's allocator view of a process that never opted in: mallinfo2() called inside it (map --inject).
$MWCTL map $unit --inject --top 0 --json >/tmp/map.json 2>/tmp/map.err || { cat /tmp/map.err >&2; fail "map --inject"; }
info "$(cat /tmp/map.err)"
read -r alloc held in_use free arenas < <(python3 -c '
import json, sys
m = json.load(open("/tmp/map.json"))
p = [p for p in m["top"] if p["pid"] == int(sys.argv[1])][0]
a = p["allocator"] or {}
print(a.get("name", "-"), a.get("held", 0), a.get("in_use", 0), a.get("free", 0), a.get("arenas") or 0)
' $apid)
info "map --inject: python A: $alloc held $((held >> 20)) MiB, in use $((in_use >> 20)) MiB, free $((free >> 20)) MiB, arenas $arenas"
assert_eq "$alloc" glibc "the map shows python A's allocator view (glibc), no library, no preload"
assert_ge $((free >> 20)) 90 "glibc holds >= 90 MiB free in python A (it dropped $((a_freed >> 20)) MiB)"
assert_ge "$arenas" 1 "the arenas are counted"
assert_contains "$(python3 -c 'import json; print(" | ".join(d["text"] for d in json.load(open("/tmp/map.json"))["diagnosis"]))')" \
        "free memory held by glibc" "the diagnosis names the free memory glibc holds"
assert_eq "$(awk '/^TracerPid:/ { print $2 }' /proc/$apid/status)" 0 "python A is not traced any more"
touch /run/$unit/go
wait_for 90 grep -q "^b-exit " $log || { mw_dump_journal; fail "python B did not finish within 90 s"; }
read -r _ b_rc b_out < <(grep "^b-exit " $log)
assert_eq "$b_rc" 0 "python B exited 0"
assert_contains "$b_out" "allocated 190" "python B got its 190 MiB"
wait_for 10 grep -q "^a-" $log || fail "no verdict on python A"
grep -q a-alive $log || { mw_dump_journal; fail "python A was killed"; }
pass "python A is alive"
a_rss_after=$(awk '/^VmRSS/ { print $2 * 1024 }' /proc/$apid/status)
info "python A's RSS now: $((a_rss_after >> 20)) MiB"
assert_ge $(( (a_rss - a_rss_after) >> 20 )) 90 "python A's RSS fell by >= 90 MiB"
oom=$(cg_oom_kills "$cg")
assert_eq "${oom:-0}" 0 "memory.events oom_kill stayed 0 (baseline: ${bare_oom:-0})"
mw_wait_record 30 "$MW_RESULT" 'r.get("UNIT") == "mw-pyinj.service" and r.get("ACTION") == "trim" and int(r.get("TRIM_INJECTED", "0")) >= 1' ||
        { mw_dump_journal; fail "no settle record with TRIM_INJECTED for trim"; }
info "settle record: TRIM_INJECTED=$(mw_field TRIM_INJECTED) TRIM_RELEASED_BYTES=$(mw_field TRIM_RELEASED_BYTES) TRIM_PROCESS=$(mw_field TRIM_PROCESS)"
assert_ge "$(mw_field TRIM_INJECTED)" 1 "the record counts the injected call"
assert_contains "$(mw_field TRIM_PROCESS)" "via=injected how=malloc_trim" "the record says how"
assert_ge $(( $(mw_field TRIM_RELEASED_BYTES) >> 20 )) 90 "the record says >= 90 MiB released"
systemctl stop $unit 2>/dev/null || true
done_testing

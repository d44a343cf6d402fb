#!/bin/bash
# SPDX-License-Identifier: MIT
# frag with a real third-party program: python3 (tests/helpers/frag.py) builds ~150 MiB of
# 1-100 KiB bytes objects, drops 90% and sleeps, with libmemwarden-trim.so preloaded, in a MemoryMax=256M
# unit; then a second python3 in the same unit needs 150 MiB. memwarden's trim makes room: the first one's
# RSS falls, the second completes, memory.events oom_kill stays 0.
# The unit is hardened (ProtectSystem=strict: the whole file system read-only but for its own directory)
# and gets the library only through `memwardenctl enroll`, whose drop-in also keeps the library's report
# directory writable: the record must carry the bytes the library reported.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.sh"

HELPER=$MEMWARDEN_SOURCE/tests/helpers/frag.py
command -v python3 >/dev/null || skip "no python3"
mw_install
LIB=$(sed -n 's/^#define TRIM_LIBRARY_PATH "\(.*\)"$/\1/p' "$MEMWARDEN_BUILD/config.h")
[ -n "$LIB" ] && [ -e "$LIB" ] || fail "libmemwarden-trim.so not installed at '$LIB'"

mw_policy trim <<'P'
[Match]
Unit=mw-pyfrag.service
[Pressure]
SomeTrigger=50ms/500ms
Brake=87.5%
[Actions]
Ladder=trim
[Trim]
Settle=4s
Cooldown=10s
P
mw_start

unit=mw-pyfrag.service
"$MWCTL" enroll $unit >/dev/null || fail "memwardenctl enroll $unit"
systemctl daemon-reload
mkdir -p /run/mw-pyfrag
log=/run/mw-pyfrag/log
rm -f $log
track_unit $unit
cat >/run/mw-pyfrag.sh <<S
#!/bin/bash
python3 $HELPER 150 > /run/mw-pyfrag/a.out &
until grep -q ^ready /run/mw-pyfrag/a.out 2>/dev/null; do sleep 0.1; done
echo "a \$(cat /run/mw-pyfrag/a.out)" >> $log
python3 -c 'b = b"y" * (150 << 20); print("allocated", len(b) >> 20)' > /run/mw-pyfrag/b.out
echo "b-exit \$? \$(date +%s%N) \$(cat /run/mw-pyfrag/b.out)" >> $log
wait
S
chmod +x /run/mw-pyfrag.sh
systemd-run --quiet --unit=$unit -p MemoryMax=256M -p MemorySwapMax=0 -p OOMPolicy=continue \
        -p ProtectSystem=strict -p ReadWritePaths=/run/mw-pyfrag /run/mw-pyfrag.sh || fail "start $unit"
trap '"$MWCTL" unenroll $unit >/dev/null 2>&1; _cleanup' EXIT
grep -q "LD_PRELOAD=$LIB" <(systemctl show -P Environment $unit) || fail "the enroll drop-in did not reach $unit"
pass "$unit runs with ProtectSystem=$(systemctl show -P ProtectSystem $unit) and the library from enroll"
cg=$(unit_cgroup $unit)

wait_for 90 grep -q "^a " $log || fail "python A never became ready"
read -r _ _ apid a_rss a_freed < <(grep "^a " $log)
info "python A (PID $apid): RSS $((a_rss >> 20)) MiB after dropping $((a_freed >> 20)) MiB"
wait_for 60 grep -q "^b-exit " $log || { mw_dump_journal; fail "python B did not finish within 60 s"; }
read -r _ b_rc b_done_ns b_out < <(grep "^b-exit " $log)
assert_eq "$b_rc" 0 "python B exited 0"
assert_contains "$b_out" "allocated 150" "python B got its 150 MiB"
kill -0 "$apid" 2>/dev/null || fail "python A is gone"
a_rss_after=$(awk '/^VmRSS/ { print $2 * 1024 }' /proc/$apid/status)
info "python A's RSS now: $((a_rss_after >> 20)) MiB"
assert_ge $(( (a_rss - a_rss_after) >> 20 )) 90 "python A's RSS fell by >= 90 MiB"
mw_wait_record 20 "$MW_RESULT" 'r.get("UNIT") == "mw-pyfrag.service" and r.get("ACTION") == "trim"' ||
        { mw_dump_journal; fail "no settle record for trim"; }
info "settle record: TRIM_RELEASED_BYTES=$(mw_field TRIM_RELEASED_BYTES) TRIM_PROCESS=$(mw_field TRIM_PROCESS)"
assert_ge $(( $(mw_field TRIM_RELEASED_BYTES) >> 20 )) 90 "the record says >= 90 MiB released"
oom=$(cg_oom_kills "$cg")
assert_eq "${oom:-0}" 0 "memory.events oom_kill stayed 0"
done_testing

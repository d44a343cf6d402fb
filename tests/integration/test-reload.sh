#!/bin/bash
# SPDX-License-Identifier: MIT
# SIGHUP with a broken policy: the error is in the journal with file:line, the daemon keeps running the
# old policy; memwardenctl reload reports the same error and exits 1; a fixed file then loads.
# Then a reload mid-episode to another ladder (memwarden.policy(5), "Configuration changes"): the episode
# goes on and the next action is the one the rule names:
#  a. the current rung (drop-cache) is gone from the new ladder: the next harsher one present (reclaim)
#     acts at the next sample (before the fix it was skipped and kill came);
#  b. the current rung (reclaim) is kept at another position of a shorter ladder: nothing acts until its
#     Settle= from its own run is over, then the next rung by name (kill, CAUSE=escalation; mapping by
#     position would have made kill the current rung, which repeats: CAUSE=repeat).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.sh"

mw_install
mw_policy good <<'P'
[Match]
Unit=mw-reload.service
[Actions]
Ladder=alert
P
track_unit mw-reload.service
systemd-run --quiet --unit=mw-reload.service sleep infinity || fail "start unit"
mw_start
wait_for 10 sh -c "'$MWCTL' status | grep -q mw-reload.service" || fail "unit not guarded"

printf '[Match]\nUnit=mw-other.service\n[Pressure]\nSomeTrigger=10 parsecs\n' >/etc/memwarden/policy.d/zz-broken.conf
kill -HUP "$MW_PID"
mw_wait_record 10 "$MW_CONFIG_ERROR" 'r.get("CONFIG_FILE","").endswith("zz-broken.conf")' ||
        { mw_dump_journal; fail "no config error record after SIGHUP"; }
assert_eq "$(mw_field CONFIG_LINE)" 4 "config error names line 4"
assert_contains "$(mw_field MESSAGE)" "zz-broken.conf:4" "the message says file:line"
assert_eq "$(systemctl show -P MainPID memwardend.service)" "$MW_PID" "daemon still running"
out=$("$MWCTL" status)
assert_contains "$out" "mw-reload.service" "the old policy still guards its unit"

out=$("$MWCTL" reload 2>&1); rc=$?
assert_eq "$rc" 1 "memwardenctl reload exits 1 on a broken configuration"
assert_contains "$out" "zz-broken.conf:4" "memwardenctl reload prints file:line"
out=$("$MWCTL" check 2>&1); rc=$?
assert_eq "$rc" 1 "memwardenctl check exits 1 too"

printf '[Match]\nUnit=mw-other.service\n[Actions]\nLadder=alert\n' >/etc/memwarden/policy.d/zz-broken.conf
track_unit mw-other.service
systemd-run --quiet --unit=mw-other.service sleep infinity || fail "start other"
out=$("$MWCTL" reload 2>&1) || fail "reload of a fixed configuration failed: $out"
wait_for 10 sh -c "'$MWCTL' status | grep -q mw-other.service" || fail "the fixed policy is not in force"
pass "a fixed configuration loads and guards its unit"

# Mid-episode reloads. A 100M service that wants 60M: the brake at 50M wakes memwardend ("high" events)
# and holds it there (no swap: nothing to reclaim), and Usage=40% is a signal at every sample, so the
# episode lasts until the kill; MaxThrottle=off so that only the ladder moves it.
episode_policy() { # LADDER RECLAIM-SETTLE
        cat <<P
[Match]
Unit=mw-episode.service
[Pressure]
Brake=50%
Usage=40%
SampleInterval=500ms
MaxThrottle=off
[Actions]
Ladder=$1
[DropCache]
Settle=10min
[Reclaim]
Settle=$2
P
}
# actions: one line per action record of the unit, oldest first: REALTIME_USEC ACTION CAUSE
actions() {
        journalctl --sync 2>/dev/null || true
        { mw_journal_json "$MW_PRESSURE"; mw_journal_json "$MW_ACTION"; } | python3 -c '
import json, sys
rows = []
for line in sys.stdin:
    r = json.loads(line)
    if r.get("UNIT") == "mw-episode.service" and r.get("ACTION") and r.get("CAUSE"):
        rows.append((int(r["__REALTIME_TIMESTAMP"]), r["ACTION"], r["CAUSE"]))
for t, a, c in sorted(rows):
    print(t, a, c)'
}
n_actions() { actions | wc -l; }
# next_action N TIMEOUT: waits for action number N+1 and prints it
next_action() {
        local end=$(( $(date +%s) + $2 ))
        while [ "$(n_actions)" -le "$1" ]; do
                [ "$(date +%s)" -lt "$end" ] || return 1
                sleep 0.5
        done
        actions | sed -n "$(( $1 + 1 ))p"
}
now_usec() { echo $(( $(date +%s%N) / 1000 )); }

episode_policy "alert drop-cache reclaim kill" 10min | mw_policy episode
"$MWCTL" reload >/dev/null 2>&1 || fail "reload with the episode policy"
track_unit mw-episode.service
systemd-run --quiet --unit=mw-episode.service -p MemoryMax=100M -p MemorySwapMax=0 \
        python3 -c 'import time; b = bytearray(60 << 20); b[::4096] = b"x" * len(b[::4096]); time.sleep(3600)' ||
        fail "start mw-episode.service"
a=$(next_action 0 30) || { mw_dump_journal; fail "no action at the onset"; }
assert_eq "$(echo "$a" | cut -d' ' -f2-)" "drop-cache onset" "onset: drop-cache acts (the alert in front is passed through)"

# a. drop-cache removed: reclaim takes over and acts at the next sample.
# b. 3 s later (six samples; not after a look at the journal, which is slow in a busy VM): reclaim kept,
#    now first of a shorter ladder: it settles from its own run (30 s), then kill escalates. (Mapping by
#    position would have made kill the current rung: CAUSE=repeat.)
episode_policy "alert reclaim kill" 10min | mw_policy episode
t_reload_a=$(now_usec)
out=$("$MWCTL" reload 2>&1) || fail "reload a: $out"
sleep 3
episode_policy "reclaim kill" 30s | mw_policy episode
t_reload_b=$(now_usec)
out=$("$MWCTL" reload 2>&1) || fail "reload b: $out"

a=$(next_action 1 30) || { mw_dump_journal; fail "a: no action after the reload"; }
assert_eq "$(echo "$a" | cut -d' ' -f2-)" "reclaim escalation" "a: drop-cache gone: the next harsher rung present (reclaim) acts next"
t_reclaim=$(echo "$a" | cut -d' ' -f1)
[ "$t_reclaim" -lt "$t_reload_b" ] ||
        fail "a: reclaim came $(( (t_reclaim - t_reload_a) / 1000 )) ms after reload a, after reload b (a slow host?)"
pass "a: reclaim acted $(( (t_reclaim - t_reload_a) / 1000 )) ms after the reload, under that ladder"

a=$(next_action 2 60) || { mw_dump_journal; fail "b: no action within 60 s"; }
assert_eq "$(echo "$a" | cut -d' ' -f2-)" "kill escalation" "b: reclaim kept: kill follows by escalation"
dt=$(( ($(echo "$a" | cut -d' ' -f1) - t_reclaim) / 1000 ))
[ "$dt" -ge 29000 ] || fail "b: kill came $dt ms after reclaim ran, before reclaim's Settle=30s"
pass "b: kill came $dt ms after reclaim ran, $(( ($(echo "$a" | cut -d' ' -f1) - t_reload_b) / 1000 )) ms after the reload (Settle=30s counted from reclaim's own run)"
assert_eq "$(n_actions)" 3 "no other action in the episode"
done_testing

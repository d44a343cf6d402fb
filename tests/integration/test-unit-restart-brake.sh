#!/bin/bash
# SPDX-License-Identifier: MIT
# A braked unit restarted twice by systemd keeps memwarden's brake memwarden's, and its cooldown
# (daemon/unit-record.h). mw-rb.service (MemoryMax=128M, Restart=on-failure) holds 124 MiB on its first two
# runs, above the 90% brake, and 40 MiB on its third. Ladder=restart kill, [Restart] Cooldown=5min:
#  run 1: pressure -> memwarden restarts the unit (RestartUnit): a new cgroup, with the brake systemd
#         carried over (runtime MemoryHigh=): taken back by the new guard (BRAKE=adopted), not the operator's;
#  run 2: pressure -> restart is cooling down (5 min, across the new cgroup): not restarted again; kill
#         instead, and Restart=on-failure starts run 3 in another new cgroup, with the brake again;
#  run 3: calm. memwardend stops: memory.high of the unit's cgroup and systemd's MemoryHigh= are back to
#         what they were before memwarden started (max / infinity), not left at the brake.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.sh"

unit=mw-rb.service
count=/run/mw-rb.n
HOG=$MEMWARDEN_SOURCE/tests/integration/hog.py
rm -f $count

mw_install
printf '[Daemon]\nLogLevel=debug\n' >/etc/memwarden/memwarden.conf
mw_policy rb <<'P'
[Match]
Unit=mw-rb.service
[Pressure]
Brake=90%
SampleInterval=500ms
Hysteresis=3s
[Actions]
Ladder=restart kill
[Restart]
Settle=2s
Cooldown=5min
[Kill]
Settle=2s
P

# What the unit and its cgroup look like, when a step fails.
diag() {
        local cg; cg=$(unit_cgroup $unit)
        info "runs: $(cat $count 2>/dev/null); $unit: $(systemctl is-active $unit), cgroup $cg"
        for f in memory.current memory.high memory.max memory.events memory.pressure; do
                info "$f: $(tr '\n' ' ' <"$cg/$f" 2>/dev/null)"
        done
        journalctl -u $unit --since "$MW_T0" --no-pager | tail -5 >&2
        journalctl -u memwardend --since "$MW_T0" --no-pager | grep -v "^.*: \(Reading\|cannot\)" | tail -40 >&2
}

track_unit $unit
systemd-run --quiet --unit=$unit -p MemoryMax=128M -p MemorySwapMax=0 -p Restart=on-failure -p RestartSec=1 \
        sh -c "n=\$(cat $count 2>/dev/null || echo 0); n=\$((n + 1)); echo \$n >$count
               if [ \$n -le 2 ]; then exec python3 $HOG 124 4 0.05; else exec python3 $HOG 40; fi" ||
        fail "start $unit"
wait_for 10 sh -c "[ -n \"\$(systemctl show -P ControlGroup $unit)\" ]" || fail "$unit has no cgroup"
orig_prop=$(systemctl show -P MemoryHigh $unit)
orig_high=$(cat "$(unit_cgroup $unit)/memory.high")
info "before memwarden: MemoryHigh=$orig_prop, memory.high $orig_high"

mw_start

mw_wait_record 90 "$MW_PRESSURE" 'r.get("UNIT") == "mw-rb.service" and r.get("ACTION") == "restart"' ||
        { diag; fail "run 1: no restart within 90 s"; }
assert_eq "$(mw_field RESULT)" ok "run 1: restarted through systemd"
mw_wait_record 60 "$MW_BRAKE" 'r.get("UNIT") == "mw-rb.service" and r.get("BRAKE") == "adopted"' ||
        { mw_dump_journal 40; fail "run 2: the brake systemd carried to the new cgroup was not taken back"; }
brake=$(mw_field BRAKE_BYTES)
pass "run 2: the brake ($brake) carried by systemd to the new cgroup is memwarden's again"

mw_wait_record 90 "$MW_PRESSURE $MW_ACTION" 'r.get("UNIT") == "mw-rb.service" and r.get("ACTION") == "kill"' ||
        { diag; fail "run 2: no kill within 90 s"; }
info "run 2: kill, cause $(mw_field CAUSE)"
wait_for 60 sh -c "[ \"\$(cat $count 2>/dev/null)\" = 3 ] && systemctl -q is-active $unit" ||
        fail "run 3 did not start (runs: $(cat $count))"
n_adopted() { journalctl --sync 2>/dev/null; mw_journal_json "$MW_BRAKE" | grep -c '"BRAKE":"adopted"'; }
wait_for 30 sh -c "[ \$(journalctl --since '$MW_T0' -o json --no-pager MESSAGE_ID=$MW_BRAKE | grep -c '\"BRAKE\":\"adopted\"') -ge 2 ]"
adopted=$(n_adopted)
assert_eq "$adopted" 2 "the brake was taken back by the guard of each new cgroup (runs 2 and 3)"
sleep 5 # run 3 is calm; any late restart would show now

restarts=$( (mw_journal_json "$MW_PRESSURE"; mw_journal_json "$MW_ACTION") |
        python3 -c 'import json, sys
print(sum(1 for l in sys.stdin for r in [json.loads(l)]
          if r.get("UNIT") == "mw-rb.service" and r.get("ACTION") == "restart" and r.get("RESULT") == "ok"))')
assert_eq "$restarts" 1 "one restart by memwarden: run 2 came within [Restart] Cooldown=5min"
started=$(journalctl -u $unit --since "$MW_T0" --no-pager 2>/dev/null | grep -c "Started")
info "systemd started $unit $started time(s) since the test began; runs: $(cat $count)"
cg=$(unit_cgroup $unit)
assert_eq "$(cat "$cg/memory.high")" "$brake" "run 3 is braked (memwarden's brake, through systemd)"
assert_eq "$(mw_journal_json "$MW_BRAKE" | grep -c '"BRAKE":"left"')" 0 "no brake taken for the operator's"

systemctl stop memwardend.service || fail "stop memwardend"
assert_eq "$(cat "$cg/memory.high")" "$orig_high" "after memwardend stopped: memory.high back to $orig_high"
assert_eq "$(systemctl show -P MemoryHigh $unit)" "$orig_prop" \
        "after memwardend stopped: systemd's MemoryHigh= back to $orig_prop (the next cgroup is not braked)"
oom=$(cg_event "$cg" oom_kill); [ -z "$oom" ] && oom=0
info "run 3: memory.events oom_kill $oom"
done_testing

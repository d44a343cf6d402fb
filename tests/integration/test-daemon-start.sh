#!/bin/bash
# SPDX-License-Identifier: MIT
# memwardend installed from the build and started as a unit reaches READY (Type=notify) and
# `memwardenctl status` lists the guarded units; --json has them too; the STATUS= line counts them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.sh"

mw_install
mw_policy guarded <<'P'
[Match]
Unit=mw-guarded-*.service
[Actions]
Ladder=alert
P
for i in 1 2; do
        track_unit mw-guarded-$i.service
        systemd-run --quiet --unit=mw-guarded-$i.service -p MemoryMax=200M sleep infinity || fail "start guarded $i"
done
track_unit mw-other.service
systemd-run --quiet --unit=mw-other.service sleep infinity || fail "start unguarded unit"

mw_start
assert_eq "$(systemctl show -P ActiveState memwardend.service)" active "memwardend is active after READY=1"
assert_eq "$(systemctl show -P Type memwardend.service)" notify "the unit is Type=notify"

out=$("$MWCTL" status) || fail "memwardenctl status failed: $out"
assert_contains "$out" "/system.slice/mw-guarded-1.service" "status lists mw-guarded-1"
assert_contains "$out" "/system.slice/mw-guarded-2.service" "status lists mw-guarded-2"
case "$out" in *mw-other.service*) fail "status lists a unit no policy matches" ;; esac
pass "an unmatched unit is not guarded"
assert_contains "$out" "guarding 2 cgroups" "status header counts 2 guarded cgroups"

json=$("$MWCTL" status --json) || fail "memwardenctl status --json"
n=$(echo "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(1 for c in d["cgroups"] if c["unit"].startswith("mw-guarded-")))')
assert_eq "$n" 2 "status --json lists both guarded units"
assert_contains "$(systemctl show -P StatusText memwardend.service)" "guarding 2 cgroups" "sd_notify STATUS="

# A unit started later is picked up (inotify on the hierarchy, no polling).
track_unit mw-guarded-3.service
systemd-run --quiet --unit=mw-guarded-3.service sleep infinity || fail "start guarded 3"
wait_for 10 sh -c "'$MWCTL' status | grep -q mw-guarded-3.service" || fail "new unit not picked up within 10 s"
pass "a unit started after the daemon is guarded"

# Started record in the journal.
mw_wait_record 5 "$MW_STARTED" 'r.get("RELOAD") == "no"' || fail "no STARTED record"
pass "STARTED record with MESSAGE_ID"

systemctl stop memwardend.service || fail "stop memwardend"
assert_eq "$(systemctl show -P Result memwardend.service)" success "memwardend exits cleanly on SIGTERM"
done_testing

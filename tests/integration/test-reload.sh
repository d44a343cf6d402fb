#!/bin/bash
# SPDX-License-Identifier: MIT
# SIGHUP with a broken policy: the error is in the journal with file:line, the daemon keeps running the
# old policy; memwardenctl reload reports the same error and exits 1; a fixed file then loads.
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
done_testing

#!/bin/bash
# SPDX-License-Identifier: MIT
# Guarded units come and go: when a unit stops, its cgroup vanishes and the daemon forgets it. 200
# start/stop cycles leave the daemon's fd count where it was (no fd leak) and it guards nothing stale.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.sh"

mw_install
mw_policy churn <<'P'
[Match]
Unit=mw-churn-*.service
[Pressure]
SomeTrigger=100ms/1s
FullTrigger=100ms/1s
[Actions]
Ladder=alert
P
mw_start
sleep 1
fds_before=$(ls /proc/$MW_PID/fd | wc -l)
info "memwardend fds before: $fds_before"

cycles=${CHURN_CYCLES:-200}
for i in $(seq 1 "$cycles"); do
        systemd-run --quiet --unit=mw-churn-$i.service -p MemoryMax=100M sleep infinity || fail "start cycle $i"
        [ $((i % 50)) -eq 1 ] && { wait_for 10 sh -c "'$MWCTL' status | grep -q mw-churn-$i.service" || fail "cycle $i not guarded"; }
        systemctl stop mw-churn-$i.service || fail "stop cycle $i"
done
pass "$cycles start/stop cycles"
wait_for 20 sh -c "! '$MWCTL' status | grep -q mw-churn-" || fail "stale guards remain: $("$MWCTL" status | grep -c mw-churn-)"
pass "no guarded cgroup left after the units stopped"
fds_after=$(ls /proc/$MW_PID/fd | wc -l)
info "memwardend fds after: $fds_after"
assert_eq "$fds_after" "$fds_before" "fd count unchanged after $cycles cycles"
assert_eq "$(systemctl show -P MainPID memwardend.service)" "$MW_PID" "memwardend did not restart"
done_testing

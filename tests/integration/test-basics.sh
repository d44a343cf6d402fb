#!/bin/bash
# SPDX-License-Identifier: MIT
# test-basics.sh [NAME...]: short scenarios in ONE boot (each was its own VM: a boot costs ~45-57 s under
# TCG in CI, more than most of these scenarios themselves). By default test-daemon-start.sh,
# test-map-tmpfs.sh, test-psi-alert.sh, test-oom-report.sh and test-reclaim.sh (or test-NAME.sh for each NAME)
# run here one after another, each unchanged in its own bash (its own asserts, its own cleanup of the units
# it started), and each can still be run alone through vm-test.
# memwarden is installed once (MW_INSTALLED=1: their mw_install skips the unpack and the daemon-reload).
# Between two scripts memwardend is stopped, every policy removed and its runtime state (/run/memwarden,
# kept across restarts) emptied, so that none sees another's policy, daemon or saved cooldowns. Their
# workloads are separate units, stopped at each script's exit. A failing or skipped scenario does not stop
# the others; the test fails if any failed, and is skipped only if all skipped.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.sh"

here=$(cd "$(dirname "$0")" && pwd)
mw_install
export MW_INSTALLED=1
failed=() skipped=() ran=0
[ $# -gt 0 ] || set -- daemon-start map-tmpfs psi-alert oom-report reclaim
for t in "$@"; do
        systemctl stop memwardend.service 2>/dev/null
        systemctl reset-failed memwardend.service 2>/dev/null
        rm -f /etc/memwarden/policy.d/*.conf
        rm -rf /run/memwarden/*
        info "---- test-$t.sh"
        t0=$(date +%s)
        TEST_NAME=$t bash "$here/test-$t.sh"
        rc=$?
        info "---- test-$t.sh: exit $rc after $(( $(date +%s) - t0 )) s"
        case $rc in
        0) ran=$((ran + 1)); pass "test-$t.sh passed" ;;
        77) skipped+=("$t") ;;
        *) failed+=("$t") ;;
        esac
done
[ ${#skipped[@]} = 0 ] || info "skipped: ${skipped[*]}"
[ ${#failed[@]} = 0 ] || fail "failed: ${failed[*]} (their FAIL lines above)"
[ "$ran" -gt 0 ] || skip "every scenario skipped"
done_testing

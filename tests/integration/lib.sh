# SPDX-License-Identifier: MIT
# Shared helpers for integration tests; source it from a test script that runs
# inside the VM (tests/integration/vm-test -> tests/vm/run).
# Every assert prints what failed (with the caller's line) and exits 1.

# Refuse to run on the host: these tests write to /sys/fs/cgroup.
if [ "${MEMWARDEN_VM:-}" != 1 ]; then
        echo "SKIP: integration tests run only inside the test VM (use tests/integration/vm-test)" >&2
        exit 77
fi

set -u
# The source tree (meson passes it; a test run by hand with vm-test finds it from here).
MEMWARDEN_SOURCE=${MEMWARDEN_SOURCE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TEST_NAME=${TEST_NAME:-$(basename "$0" .sh)}
_checks=0

_where() { echo "${BASH_SOURCE[2]##*/}:${BASH_LINENO[1]}"; }
fail() { echo "FAIL [$(_where)]: $*" >&2; exit 1; }
pass() { _checks=$((_checks + 1)); echo "ok: $*"; }
info() { echo "# $*"; }
skip() { echo "SKIP: $*" >&2; exit 77; }

# assert_true DESCRIPTION CMD...: CMD must exit 0.
assert_true() {
        local d=$1; shift
        local out rc
        out=$("$@" 2>&1); rc=$?
        [ $rc = 0 ] || { echo "$out" | tail -n 20 >&2; fail "$d (command failed with $rc: $*)"; }
        pass "$d"
}
# assert_false DESCRIPTION CMD...: CMD must exit non-zero.
assert_false() {
        local d=$1; shift
        if "$@" >/dev/null 2>&1; then fail "$d (command unexpectedly succeeded: $*)"; fi
        pass "$d"
}
assert_eq() { # ACTUAL EXPECTED DESCRIPTION
        [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
        pass "$3"
}
assert_ge() { # ACTUAL MIN DESCRIPTION (integers)
        [[ "$1" =~ ^-?[0-9]+$ ]] || fail "$3: '$1' is not a number"
        [ "$1" -ge "$2" ] || fail "$3: got $1, expected >= $2"
        pass "$3"
}
assert_contains() { # HAYSTACK NEEDLE DESCRIPTION
        case "$1" in *"$2"*) pass "$3" ;; *) fail "$3: '$2' not in '$1'" ;; esac
}
assert_file() { [ -e "$1" ] || fail "${2:-$1 exists}: $1 missing"; pass "${2:-$1 exists}"; }

# wait_for TIMEOUT_SECONDS CMD...: poll CMD every 0.2 s until it succeeds; 1 on timeout.
wait_for() {
        local t=$1; shift
        local end=$(( $(date +%s%N) + t * 1000000000 ))
        until "$@" >/dev/null 2>&1; do
                [ "$(date +%s%N)" -lt "$end" ] || return 1
                sleep 0.2
        done
}

# unit_cgroup UNIT: absolute cgroup directory of a unit ("" if it has none).
unit_cgroup() {
        local cg
        cg=$(systemctl show -P ControlGroup "$1" 2>/dev/null)
        [ -n "$cg" ] && echo "/sys/fs/cgroup$cg"
}

# cg_event CGROUP_DIR KEY [FILE]: a counter from memory.events (or FILE).
cg_event() { awk -v k="$2" '$1 == k { print $2; f = 1 } END { if (!f) print "" }' "$1/${3:-memory.events}" 2>/dev/null; }

# wait_system_bus [TIMEOUT]: until systemd is on the system bus (dbus.service up and systemd connected to
# it). Under TCG beside another VM, dbus.service has started as late as 90 s after boot, and a call to
# systemd over D-Bus before that waits for a bus activation that times out (seen once in CI: podman's crun
# "Failed to activate service 'org.freedesktop.systemd1': timed out", the container not started).
wait_system_bus() {
        local t=${1:-150}
        wait_for "$t" sh -c 'busctl --acquired --no-legend list 2>/dev/null | grep -q "^org\.freedesktop\.systemd1 "' ||
                fail "systemd is not on the system bus $t s into the test (dbus.service: $(systemctl is-active dbus.service))"
}

# cg_oom_kills CGROUP_DIR: the kernel's OOM kills of tasks in the cgroup or below it: memory.events oom_kill
# while the cgroup exists; once it is gone (a scope or service whose last process died is removed, and an
# unreadable file must not read as 0), the kernel log's oom-kill lines of this boot whose task_memcg= is it
# or below it.
cg_oom_kills() {
        local n; n=$(cg_event "$1" oom_kill)
        [ -n "$n" ] && { echo "$n"; return; }
        journalctl -k -b --no-pager -o cat | grep -c "task_memcg=${1#/sys/fs/cgroup}[/,]"
}

# Units started with start_unit are stopped on exit.
_units=()
_cleanup() {
        local u
        for u in "${_units[@]}"; do systemctl stop "$u" >/dev/null 2>&1; systemctl reset-failed "$u" >/dev/null 2>&1; done
        return 0
}
trap _cleanup EXIT
track_unit() { _units+=("$1"); }

done_testing() { echo "PASS: $TEST_NAME ($_checks checks)"; exit 0; }

# Build dir of the project (meson build root), if the harness passed it.
MEMWARDEN_BUILD=${MEMWARDEN_BUILD:-}

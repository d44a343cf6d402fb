#!/bin/bash
# SPDX-License-Identifier: MIT
# The VM gives us what memwarden relies on: systemd as PID 1, cgroup v2 with
# the memory controller, PSI triggers, kernel OOM kills visible in
# memory.events, the journal, and systemd-oomd as a peer.
. "$(dirname "$0")/lib.sh"

info "kernel $(uname -r), systemd $(systemctl --version | head -1 | cut -d' ' -f2)"

# --- PID 1 ---------------------------------------------------------------
assert_eq "$(cat /proc/1/comm)" systemd "PID 1 is systemd"
state=$(systemctl is-system-running 2>/dev/null)
case "$state" in running|degraded) pass "system state $state" ;; *) fail "system state is '$state'" ;; esac
[ "$state" = degraded ] && info "failed units: $(systemctl --failed --no-legend | tr '\n' ' ')"

# --- cgroup v2 + memory controller ----------------------------------------
assert_eq "$(stat -f -c %T /sys/fs/cgroup)" cgroup2fs "/sys/fs/cgroup is cgroup2"
ctrls=$(cat /sys/fs/cgroup/cgroup.controllers)
assert_contains " $ctrls " " memory " "memory in cgroup.controllers ($ctrls)"
assert_contains " $(cat /sys/fs/cgroup/cgroup.subtree_control) " " memory " "memory enabled for children"

# --- PSI -----------------------------------------------------------------
assert_file /proc/pressure/memory "/proc/pressure/memory exists"
assert_contains "$(cat /proc/pressure/memory)" "some avg10=" "/proc/pressure/memory is readable"
cg=/sys/fs/cgroup/memwarden-test-psi-$$
mkdir "$cg" || fail "mkdir $cg"
trap 'rmdir "$cg" 2>/dev/null; _cleanup' EXIT
assert_file "$cg/memory.pressure" "fresh cgroup has memory.pressure"
out=$(python3 - "$cg/memory.pressure" <<'PY' 2>&1
import errno, os, select, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_NONBLOCK)
os.write(fd, b"some 150000 1000000\0")
p = select.poll()
p.register(fd, select.POLLPRI)
ev = p.poll(0)
if any(e & (select.POLLERR | select.POLLNVAL) for _, e in ev):
    sys.exit("poll error on trigger fd: %r" % ev)
try:
    os.write(fd, b"full 100000 1000000\0")
    sys.exit("second trigger on the same fd did not fail")
except OSError as e:
    if e.errno != errno.EBUSY:
        sys.exit("second trigger: %s (expected EBUSY)" % e)
print("trigger armed")
PY
)
assert_eq "$out" "trigger armed" "PSI trigger 'some 150000 1000000' on a fresh cgroup (second write: EBUSY)"
rmdir "$cg" || fail "rmdir $cg"

# --- kernel OOM kill in a systemd unit ----------------------------------
unit=memwarden-test-hog-$$.service
track_unit "$unit"
rcfile=/run/memwarden-test-hog-$$.rc
# The hog (python, 200 MiB) is killed; the shell remains so the cgroup and its
# memory.events stay around (OOMPolicy=continue keeps the unit running).
assert_true "start $unit with MemoryMax=64M" \
        systemd-run --unit="$unit" -p MemoryMax=64M -p MemorySwapMax=0 -p OOMPolicy=continue \
        /bin/sh -c "python3 -c 'x = bytearray(200 << 20); x[::4096] = b\"x\" * len(x[::4096])'; echo \$? > $rcfile; exec sleep infinity"
hcg=$(unit_cgroup "$unit")
[ -n "$hcg" ] && [ -d "$hcg" ] || fail "no cgroup for $unit ('$hcg')"
assert_eq "$(cat "$hcg/memory.max")" $((64 << 20)) "memory.max of $unit is 64M"
wait_for 180 test -s "$rcfile" || fail "hog did not finish within 180 s (memory.events: $(tr '\n' ' ' < "$hcg/memory.events"))"
info "memory.events: $(tr '\n' ' ' < "$hcg/memory.events")"
assert_ge "$(cg_event "$hcg" oom_kill)" 1 "memory.events oom_kill >= 1"
assert_ge "$(cg_event "$hcg" max)" 1 "memory.events max >= 1"
assert_eq "$(cat "$rcfile")" 137 "hog was SIGKILLed"
assert_eq "$(systemctl is-active "$unit")" active "unit survives the OOM kill (OOMPolicy=continue)"
systemctl stop "$unit"

# --- journal --------------------------------------------------------------
marker="memwarden-test-marker-$$-$RANDOM"
echo "$marker" | systemd-cat -t memwarden-test -p notice
wait_for 30 sh -c "journalctl -q -t memwarden-test -o cat | grep -q '$marker'" || fail "marker not in journal"
out=$(journalctl -q -t memwarden-test -o json | python3 -c '
import json, sys
m = [json.loads(l) for l in sys.stdin if l.strip()]
hit = [e for e in m if e.get("MESSAGE") == sys.argv[1]]
print("found" if hit and hit[0].get("PRIORITY") == "5" and hit[0].get("SYSLOG_IDENTIFIER") == "memwarden-test" else "missing: %r" % m[-3:])' "$marker" 2>&1)
assert_eq "$out" found "journalctl -o json has the record with MESSAGE, PRIORITY, SYSLOG_IDENTIFIER"
# The OOM kill is in the journal too (systemd logs it for the unit).
wait_for 20 sh -c "journalctl -q -u '$unit' -o cat | grep -qi 'oom'" && pass "journal records the OOM kill of $unit" ||
        fail "no OOM message for $unit in the journal: $(journalctl -q -u "$unit" -o cat | tail -5)"

# --- systemd-oomd -----------------------------------------------------------
assert_true "systemd-oomd binary exists" test -x /lib/systemd/systemd-oomd
assert_true "systemctl start systemd-oomd" systemctl start systemd-oomd
assert_eq "$(systemctl is-active systemd-oomd)" active "systemd-oomd is active"
assert_true "oomctl talks to systemd-oomd" oomctl
systemctl stop systemd-oomd systemd-oomd.socket

done_testing

#!/bin/bash
# SPDX-License-Identifier: MIT
# memwardend's own cgroup under pressure: the whole VM runs out of memory and the daemon keeps
# working. memwardend runs as installed (systemd/memwardend.service.in: OOMScoreAdjust=-1000, MemoryMin=16M
# in memwarden.slice, which has MemoryMin=16M below the root). The VM has the rig's default memory (1G,
# tests/vm/run --mem; no swap).
#   1. A hog in a unit without a limit fills all but ~96 MiB of MemAvailable and holds it.
#   2. While the system is that tight, a guarded unit (MemoryMax=64M, Brake=75%, Ladder=alert kill) runs
#      into its brake: memwardend must see it and kill it through cgroup.kill, and memory.events oom_kill
#      of the unit stays 0.
#   3. The hog goes on allocating until the kernel's global OOM killer (constraint=CONSTRAINT_NONE) kills
#      it: the victim is the hog, not memwardend (same MainPID, NRestarts=0, oom_score_adj -1000).
#   4. After the global OOM the same daemon guards and acts again: a second run of the guarded unit is
#      killed the same way.
# Asserted about the protection: memory.min is 16M on the service and its slice, the kernel OOM-killed
# nothing in memwardend's cgroup, and reclaimed no page from it (memory.stat pgsteal 0) while it reclaimed
# elsewhere. Printed only (they depend on the kernel's reclaim and on TCG timing): memwardend's cgroup
# memory.current, memory.events (low/high/max/oom/oom_kill), memory.pressure, its memory.stat reclaim
# counters beside systemd-journald's (no protection), VmRSS/RssAnon/RssFile before and after, the system's
# memory PSI. memory.min protects only pages charged to the cgroup; shared library pages that another
# cgroup faulted in first are not (seen before memwardend locked its memory: its RssFile fell from 2.5 to
# 1.4 MiB under the pressure and it refaulted them). So memwardend mlockall()s itself (LimitMEMLOCK=infinity
# in its unit): asserted, VmLck covers its RSS and its RssFile did not fall.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.sh"

here=$(dirname "$(readlink -f "$0")")
mw_install
mw_policy guarded <<'P'
[Match]
Unit=mw-own-guarded.service
[Pressure]
SomeTrigger=50ms/500ms
Brake=75%
[Actions]
Ladder=alert kill
[Alert]
Settle=1s
[Kill]
Mode=cgroup
P
mw_start

mwcg=$(unit_cgroup memwardend.service)
[ -n "$mwcg" ] && [ -d "$mwcg" ] || fail "memwardend.service has no cgroup"
assert_eq "$mwcg" /sys/fs/cgroup/memwarden.slice/memwardend.service "memwardend runs in memwarden.slice"
assert_eq "$(cat "$mwcg/memory.min")" $((16 << 20)) "memwardend.service memory.min = 16M"
assert_eq "$(cat /sys/fs/cgroup/memwarden.slice/memory.min)" $((16 << 20)) "memwarden.slice memory.min = 16M"
assert_eq "$(cat /proc/$MW_PID/oom_score_adj)" -1000 "memwardend oom_score_adj = -1000"

jcg=$(unit_cgroup systemd-journald.service)
stat_of() { # CGROUP_DIR: the reclaim counters of memory.stat, "key=value ..."
        awk '$1 ~ /^(anon|file|pgscan|pgsteal|workingset_refault_(anon|file))$/ {printf "%s=%s ", $1, $2}' \
                "$1/memory.stat"
}
events_of() { tr '\n' ' ' <"$1/memory.events"; }
mem_of() {
        awk '/^(VmRSS|VmLck|RssAnon|RssFile):/ {printf "%s %s KiB, ", $1, $2}' /proc/$MW_PID/status
        awk '/^AnonHugePages:/ {printf "%s %s KiB, ", $1, $2}' /proc/$MW_PID/smaps_rollup
}
info "before: memwardend $(mem_of)memory.current $(cat "$mwcg/memory.current"), memory.min $(cat "$mwcg/memory.min")"
kib() { awk -v k="$1:" '$1 == k {print $2}' /proc/$MW_PID/status; }
rssfile0=$(kib RssFile)
assert_ge "$(kib VmLck)" "$(( $(kib VmRSS) * 9 / 10 ))" "memwardend's memory is locked (VmLck $(kib VmLck) KiB of VmRSS $(kib VmRSS) KiB)"
info "before: memwardend.service memory.events: $(events_of "$mwcg")"
info "before: memwardend.service memory.stat: $(stat_of "$mwcg")"
[ -n "$jcg" ] && info "before: systemd-journald.service memory.stat: $(stat_of "$jcg")"
vm_pgsteal0=$(awk '$1 ~ /^pgsteal_/ {s += $2} END {print s}' /proc/vmstat)
info "before: memwardend.service memory.pressure: $(tr '\n' ' ' <"$mwcg/memory.pressure")"
info "before: MemAvailable $(awk '/^MemAvailable/ {print $2}' /proc/meminfo) KiB; /proc/pressure/memory: $(head -1 /proc/pressure/memory)"

# 1. The hog: fills to TARGET MiB in 16 MiB steps, says so, waits for /run/mw-own-go, then allocates until
#    it is killed.
cat >/run/mw-own-hog.py <<'PY'
import os, sys, time
target, chunks = int(sys.argv[1]), []
while len(chunks) * 16 < target:
    b = bytearray(16 << 20)
    b[::4096] = b"x" * len(b[::4096])
    chunks.append(b)
open("/run/mw-own-hog.held", "w").write(str(len(chunks) * 16))
while not os.path.exists("/run/mw-own-go"):
    time.sleep(0.2)
while True:
    b = bytearray(4 << 20)
    b[::4096] = b"x" * len(b[::4096])
    chunks.append(b)
PY
rm -f /run/mw-own-hog.held /run/mw-own-go
avail=$(awk '/^MemAvailable/ {print int($2 / 1024)}' /proc/meminfo)
target=$((avail - 96))
track_unit mw-own-hog.service
t_hog=$(date '+%Y-%m-%d %H:%M:%S')
systemd-run --quiet --unit=mw-own-hog.service -p OOMPolicy=continue -p MemorySwapMax=0 \
        python3 /run/mw-own-hog.py "$target" || fail "start the hog"
wait_for 180 test -e /run/mw-own-hog.held ||
        fail "the hog did not reach ${target} MiB within 180 s (active: $(systemctl is-active mw-own-hog.service))"
pass "hog holds $(cat /run/mw-own-hog.held) MiB of ${avail} MiB available"
info "system tight: MemAvailable $(awk '/^MemAvailable/ {print int($2 / 1024)}' /proc/meminfo) MiB;" \
        "/proc/pressure/memory: $(head -1 /proc/pressure/memory); memwardend memory.current $(cat "$mwcg/memory.current")"

# 2. The guarded unit runs into its brake while the system is tight.
guarded_run() { # TAG: start the guarded unit, wait for memwardend's kill record after it started
        local since
        since=$(date '+%Y-%m-%d %H:%M:%S')
        systemctl reset-failed mw-own-guarded.service 2>/dev/null
        systemd-run --quiet --unit=mw-own-guarded.service -p MemoryMax=64M -p MemorySwapMax=0 \
                -p OOMPolicy=continue -p KillMode=none python3 "$here/hog.py" 120 2 0.05 ||
                fail "$1: start the guarded unit"
        local cg
        cg=$(unit_cgroup mw-own-guarded.service)
        local want='r.get("UNIT") == "mw-own-guarded.service" and r.get("ACTION") == "kill"'
        MW_T0=$since mw_wait_record 120 "$MW_PRESSURE $MW_ACTION" "$want" ||
                { mw_dump_journal; fail "$1: no kill record for the guarded unit within 120 s"; }
        assert_eq "$(mw_field RESULT)" ok "$1: memwardend killed the guarded unit (RESULT=ok)"
        assert_eq "$(mw_field KILL_TARGET)" cgroup "$1: through cgroup.kill"
        local lat
        lat=$(mw_field LATENCY_USEC)
        info "$1: kill record: cause $(mw_field CAUSE), reasons $(mw_field REASONS), latency ${lat:--} us," \
                "action $(mw_field ACTION_USEC) us"
        info "$1: now MemAvailable $(awk '/^MemAvailable/ {print int($2 / 1024)}' /proc/meminfo) MiB; system $(tr '\n' ' ' </proc/pressure/memory)"
        local oom
        oom=$(cg_oom_kills "$cg")
        assert_eq "${oom:-0}" 0 "$1: the kernel OOM-killed nothing in the guarded unit (memwarden was first)"
        wait_for 20 sh -c "! systemctl is-active -q mw-own-guarded.service ||
                [ -z \"\$(cat $cg/cgroup.procs 2>/dev/null)\" ]" || fail "$1: the guarded unit still runs after the kill"
        systemctl stop mw-own-guarded.service 2>/dev/null
}
track_unit mw-own-guarded.service
guarded_run "system tight"
assert_eq "$(systemctl is-active mw-own-hog.service)" active \
        "the hog still holds its memory: the kill happened while the system was tight"

# 3. The global OOM.
touch /run/mw-own-go
wait_for 300 sh -c "! systemctl is-active -q mw-own-hog.service" ||
        fail "the hog is still running 300 s after it was let go: $(systemctl status --no-pager mw-own-hog.service | head -5)"
journalctl --sync 2>/dev/null
kmsg=$(journalctl -k -q --no-pager -o cat --since "$t_hog")
line=$(grep 'oom-kill:constraint=' <<<"$kmsg" | head -1)
[ -n "$line" ] || fail "no OOM kill in the kernel log; the hog ended as: $(systemctl show -P Result mw-own-hog.service)"
info "kernel: $line"
info "kernel: $(grep -m1 'Out of memory: Killed process' <<<"$kmsg")"
assert_contains "$line" constraint=CONSTRAINT_NONE "the kernel's global OOM killer acted (not a cgroup limit)"
assert_contains "$line" task_memcg=/system.slice/mw-own-hog.service "its victim was the hog"
assert_eq "$(grep -c 'oom-kill:constraint=.*task_memcg=/memwarden.slice' <<<"$kmsg")" 0 "nothing in memwarden.slice was OOM-killed"
info "kernel: $(grep -c 'oom-kill:constraint=' <<<"$kmsg") OOM kill(s) in all since the hog started"
assert_eq "$(systemctl show -P MainPID memwardend.service)" "$MW_PID" "memwardend survived the global OOM (same MainPID)"
assert_eq "$(systemctl show -P NRestarts memwardend.service)" 0 "memwardend was not restarted (NRestarts=0)"
assert_eq "$(cg_oom_kills "$mwcg")" 0 "memwardend.service memory.events oom_kill = 0"
assert_true "memwardenctl status answers after the global OOM" "$MWCTL" status

# 4. It still guards and acts.
guarded_run "after the global OOM"

info "after: memwardend $(mem_of)memory.current $(cat "$mwcg/memory.current"), memory.min $(cat "$mwcg/memory.min")"
info "after: memwardend.service memory.events: $(events_of "$mwcg")"
info "after: memwarden.slice memory.events: $(events_of /sys/fs/cgroup/memwarden.slice)"
info "after: memwardend.service memory.stat: $(stat_of "$mwcg")"
info "after: memwardend.service memory.pressure (its own stalls): $(tr '\n' ' ' <"$mwcg/memory.pressure")"
[ -n "$jcg" ] && info "after: systemd-journald.service memory.stat: $(stat_of "$jcg")"
steal=$(( $(awk '$1 ~ /^pgsteal_/ {s += $2} END {print s}' /proc/vmstat) - vm_pgsteal0 ))
assert_ge "$steal" 1 "the kernel reclaimed pages system-wide during the test ($steal)"
# memory.min is hard protection: while memory.current is below it, reclaim skips the cgroup. memwardend's
# cgroup holds few reclaimable pages, so this says MemoryMin= is in force rather than how much it saves.
assert_eq "$(awk '$1 == "pgsteal" {print $2}' "$mwcg/memory.stat")" 0 "no page was reclaimed from memwardend's cgroup (pgsteal 0)"
assert_ge "$(kib RssFile)" "$(( rssfile0 * 95 / 100 ))" "memwardend's file pages stayed resident (RssFile $rssfile0 -> $(kib RssFile) KiB)"
done_testing

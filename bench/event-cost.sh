#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs inside the test VM (bench/event-cost runs it there). What memwardend costs per pressure event, and
# whether that grows with the number of cgroups it guards ("the daemon's own cost"):
# for each N in $N_LIST (default "0 1000 10000"), with N idle raw cgroups guarded (/sys/fs/cgroup/mwbench,
# one PSI trigger and one memory.events watch each) beside one target cgroup (/mwtarget, memory.max 64M,
# Brake=75%, Ladder=reclaim), memwardend is started fresh and the target is pushed over its brake
# $EVENTS times (a process reads 80 MiB of page cache; a 2 s calm pause follows). Per N:
#   start-up   time from exec to "guarding N+1 cgroups" on the control socket
#   RSS/private/fds after start-up (smaps_rollup)
#   latency    LATENCY_USEC of each episode's first action: the daemon's wake-up on the kernel event (PSI
#              trigger fd or memory.events inotify) to the start of the action: p50/p99/max
#   per-event  the daemon's CPU time (/proc/PID/schedstat, ns) over the event phase / episodes
# Prints a markdown table. It is a benchmark: it prints, it asserts nothing.
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${MEMWARDEN_BUILD:-$src/build}
N_LIST=${N_LIST:-"0 1000 10000"}
EVENTS=${EVENTS:-30}
work=/run/mwevent
rm -rf $work; mkdir -p $work/pol
: >$work/main.conf
cat >$work/pol/idle.conf <<'P'
[Match]
Cgroup=/mwbench/*
[Pressure]
SomeTrigger=150ms/1s
[Actions]
Ladder=alert
P
cat >$work/pol/target.conf <<'P'
[Match]
Cgroup=/mwtarget
[Pressure]
SomeTrigger=50ms/500ms
Brake=75%
Hysteresis=1s
[Actions]
Ladder=reclaim
[Reclaim]
Cooldown=1s
Settle=200ms
P

# The pushes read page cache (a sparse file on ext4 on a loop device): reclaimable, so memory.high makes
# the kernel reclaim and count "high" events instead of throttling an anonymous hog for minutes.
modprobe loop 2>/dev/null
truncate -s 64M $work/fs.img && mkfs.ext4 -q -F $work/fs.img && mkdir -p /mnt/mwevent &&
        mount -o loop $work/fs.img /mnt/mwevent && truncate -s 1G /mnt/mwevent/sparse ||
        { echo "cannot set up the ext4 loop device"; exit 1; }

root=/sys/fs/cgroup
echo +memory >$root/cgroup.subtree_control
mkdir -p $root/mwbench $root/mwtarget
echo +memory >$root/mwbench/cgroup.subtree_control
echo 64M >$root/mwtarget/memory.max
echo 0 >$root/mwtarget/memory.swap.max 2>/dev/null
have=0
grow_to() { # create cgroups c(have+1)..c$1
        local t0; t0=$(date +%s.%N)
        # one python3 process, not one mkdir(1) per cgroup: a fork+exec costs ~50 ms under TCG
        python3 -c 'import os, sys
for i in range(int(sys.argv[2]) + 1, int(sys.argv[3]) + 1):
    os.mkdir("%s/c%d" % (sys.argv[1], i))' $root/mwbench $have "$1" && have=$1
        echo "# $have idle cgroups ($(python3 -c "print(round($(date +%s.%N) - $t0, 1))") s to create the new ones)" >&2
}
ns() { awk '{print $1}' /proc/$1/schedstat; }
percentiles() { python3 -c '
import sys
v = sorted(int(x) for x in sys.stdin.read().split())
if not v: print("- - - 0"); sys.exit()
def p(q): return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]
print(f"{p(0.5) / 1000:.1f} {p(0.99) / 1000:.1f} {v[-1] / 1000:.1f} {len(v)}")'; }

rows=()
for N in $N_LIST; do
        grow_to "$N"
        sock=$work/mw.sock
        t0=$(date +%s%N)
        "$build/memwardend" --log-target stderr -c $work/main.conf -p $work/pol --control-socket $sock \
                >/dev/null 2>$work/mw-$N.log &
        pid=$!
        want=$((N + 1))
        ok=0
        for _ in $(seq 1 ${STARTUP_POLLS:-2400}); do
                "$build/ctl/memwardenctl" --socket $sock status 2>/dev/null | head -1 |
                        grep -q "guarding $want cgroups" && { ok=1; break; }
                kill -0 $pid 2>/dev/null || break
                sleep 0.25
        done
        t1=$(date +%s%N)
        [ $ok = 1 ] || { echo "memwardend did not guard $want cgroups:"; "$build/ctl/memwardenctl" --socket $sock status | head -5; tail $work/mw-$N.log; exit 1; }
        startup=$(( (t1 - t0) / 1000000 ))
        sleep 2
        rss=$(awk '/^Rss:/ {print $2}' /proc/$pid/smaps_rollup)
        priv=$(awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s}' /proc/$pid/smaps_rollup)
        fds=$(ls /proc/$pid/fd | wc -l)

        since=$(date '+%Y-%m-%d %H:%M:%S')
        c0=$(ns $pid)
        for e in $(seq 1 "$EVENTS"); do
                sh -c "echo \$\$ >$root/mwtarget/cgroup.procs; exec head -c 80M /mnt/mwevent/sparse" >/dev/null
                sleep 2
        done
        c1=$(ns $pid)
        if [ -n "${DEBUG:-}" ]; then
                grep -H . $root/mwtarget/memory.high $root/mwtarget/memory.events $root/mwtarget/memory.current
                tail -20 $work/mw-$N.log
        fi
        # memwardend logs its records to stderr here (--log-target stderr): "... | MESSAGE_ID=... KEY=VALUE ..."
        grep -o 'CAUSE=onset .*' $work/mw-$N.log | sed -n 's/.* LATENCY_USEC=\([0-9]*\).*/\1/p' >$work/lat-$N
        nall=$(grep -c ' LATENCY_USEC=' $work/mw-$N.log)
        read -r p50 p99 pmax nact < <(percentiles <$work/lat-$N)
        per=$(python3 -c "print(round(($c1 - $c0) / 1e6 / max($nact, 1), 2))")
        rows+=("| $N | $startup | $rss | $priv | $fds | $nact ($nall) | $p50 | $p99 | $pmax | $per |")
        kill $pid; wait $pid 2>/dev/null
        echo max >$root/mwtarget/memory.high
done

echo
echo "| idle cgroups guarded | start-up ms | RSS KiB | private KiB | fds | episodes (actions) | latency p50 ms | p99 ms | max ms | daemon CPU ms per episode |"
echo "|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
echo "$EVENTS pushes over the brake per row; kernel $(uname -r), qemu TCG, $(nproc) vCPUs. Latency: the daemon's"
echo "wake-up on the kernel's event to the start of the episode's first action (LATENCY_USEC of CAUSE=onset"
echo "records). CPU: /proc/PID/schedstat over the whole event phase (every wake-up, action, settle and"
echo "sample of the episodes and all idle cgroups), divided by the episodes."
# No clean-up of the cgroups: removing 10,000 takes as long as creating them, and the VM is thrown away.

#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs inside the test VM (bench/idle-cost runs it there). What each supervisor costs while nothing
# happens, measured side by side in one window:
#   memwardend guarding 0 cgroups, memwardend guarding N cgroups (N=${N:-1000}, raw cgroups under
#   /sys/fs/cgroup/mwbench with memory enabled, one PSI trigger and one memory.events watch each), the same
#   with its metrics file on (MetricsFile=: written only when something changes),
#   systemd-oomd (Debian's, default config), earlyoom (Debian's, defaults).
# Figures per process over ${WINDOW:-60} s: wakeups/s (voluntary + involuntary context switches),
# CPU seconds per hour, RSS and private memory (smaps_rollup), open fds; and memwardend's start-up time
# with N cgroups. Prints a markdown table.
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${MEMWARDEN_BUILD:-$src/build}
N=${N:-1000}
WINDOW=${WINDOW:-60}
work=/run/mwbench
mkdir -p $work/pol0 $work/polN
: >$work/main.conf
printf '[Daemon]\nMetricsFile=%s/metrics.prom\n' $work >$work/main-metrics.conf
printf '[Match]\nCgroup=/nothing-matches-this\n[Actions]\nLadder=alert\n' >$work/pol0/p.conf
printf '[Match]\nCgroup=/mwbench/*\n[Pressure]\nSomeTrigger=150ms/1s\n[Actions]\nLadder=alert\n' >$work/polN/p.conf

cg=/sys/fs/cgroup/mwbench
mkdir -p $cg
echo +memory >$cg/cgroup.subtree_control
t=$(date +%s.%N)
for i in $(seq 1 "$N"); do mkdir -p $cg/c$i; done
echo "# created $N cgroups in $(python3 -c "print(round($(date +%s.%N) - $t, 1))") s" >&2

start_mw() { # NAME POLICYDIR [MAINCONF]
        "$build/memwardend" --log-target stderr -c "${3:-$work/main.conf}" -p "$2" --control-socket $work/$1.sock \
                >/dev/null 2>$work/$1.log &
        echo $!
}
wait_guarded() { # SOCK COUNT: the status header says "guarding N cgroups"
        for _ in $(seq 1 1200); do
                "$build/ctl/memwardenctl" --socket "$1" status 2>/dev/null | head -1 |
                        grep -q "guarding $2 cgroups" && return 0
                sleep 0.5
        done
        return 1
}

t0=$(date +%s%N)
pid0=$(start_mw mw0 $work/pol0)
wait_guarded $work/mw0.sock 0 || { cat $work/mw0.log; exit 1; }
t1=$(date +%s%N)
pidN=$(start_mw mwN $work/polN)
wait_guarded $work/mwN.sock "$N" || { cat $work/mwN.log; exit 1; }
t2=$(date +%s%N)
pidM=$(start_mw mwM $work/polN $work/main-metrics.conf)
wait_guarded $work/mwM.sock "$N" || { cat $work/mwM.log; exit 1; }
startup0=$(( (t1 - t0) / 1000000 )); startupN=$(( (t2 - t1) / 1000000 ))

systemctl start systemd-oomd.service 2>/dev/null
oomd=$(systemctl show -P MainPID systemd-oomd.service 2>/dev/null)
earlyoom_bin=$(command -v earlyoom)
if [ -n "$earlyoom_bin" ]; then "$earlyoom_bin" >/dev/null 2>&1 & early=$!; else early=0; fi
sleep 5

declare -A name=([$pid0]="memwardend, 0 cgroups" [$pidN]="memwardend, $N cgroups"
                 [$pidM]="memwardend, $N cgroups, MetricsFile= on")
pids=($pid0 $pidN $pidM)
wait_for_file() { for _ in $(seq 1 100); do [ -s "$1" ] && return 0; sleep 0.2; done; return 1; }
wait_for_file $work/metrics.prom || { echo "no metrics file" >&2; exit 1; }
mtime0=$(stat -c %y $work/metrics.prom)
[ "${oomd:-0}" -gt 0 ] && { pids+=($oomd); name[$oomd]="systemd-oomd $(systemctl --version | awk 'NR==1{print $2}'), defaults"; }
[ "$early" -gt 0 ] && { pids+=($early); name[$early]="earlyoom $(earlyoom -v 2>&1 | head -1 | awk '{print $2}'), defaults"; }

ctx() { awk '/^(voluntary|nonvoluntary)_ctxt_switches/ {s += $2} END {print s}' /proc/$1/status; }
cpu() { awk '{print $14 + $15}' /proc/$1/stat; } # utime+stime in clock ticks
declare -A c0 u0
for p in "${pids[@]}"; do c0[$p]=$(ctx $p); u0[$p]=$(cpu $p); done
sleep "$WINDOW"
hz=$(getconf CLK_TCK)
echo
echo "| process | wakeups/s | CPU s/hour | RSS KiB | private KiB | fds |"
echo "|---|---|---|---|---|---|"
for p in "${pids[@]}"; do
        c1=$(ctx $p); u1=$(cpu $p)
        w=$(python3 -c "print(round(($c1 - ${c0[$p]}) / $WINDOW, 2))")
        cs=$(python3 -c "print(round(($u1 - ${u0[$p]}) / $hz * 3600 / $WINDOW, 2))")
        rss=$(awk '/^Rss:/ {print $2}' /proc/$p/smaps_rollup)
        priv=$(awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s}' /proc/$p/smaps_rollup)
        fds=$(ls /proc/$p/fd | wc -l)
        echo "| ${name[$p]} | $w | $cs | $rss | $priv | $fds |"
done
echo
m=$(grep -c '^memwarden_cgroup_early_warning{' $work/metrics.prom)
echo "Metrics file: $(stat -c %s $work/metrics.prom) bytes, $m guarded cgroups in it;" \
     "$([ "$(stat -c %y $work/metrics.prom)" = "$mtime0" ] && echo "not rewritten during the window" ||
        echo "REWRITTEN during the window")."
echo "memwardend start-up to all guarded: ${startup0} ms with 0 cgroups, ${startupN} ms with $N cgroups (TCG)."
echo "Window ${WINDOW} s, kernel $(uname -r), qemu TCG, $(nproc) vCPUs. memwardend ran without WatchdogSec (the unit"
echo "adds one watchdog ping every 90 s)."
kill $pid0 $pidN $pidM $early 2>/dev/null
wait 2>/dev/null
for i in $(seq 1 "$N"); do rmdir $cg/c$i; done

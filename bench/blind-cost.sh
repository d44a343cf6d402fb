#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs inside the test VM (bench/blind-cost runs it there). Three memwardend instances guard the same N calm
# cgroups /mwblind/cI (one policy, SomeTrigger=off: the memory.events path alone), each in a user namespace
# of its own whose inotify watch limit (/proc/sys/user/max_inotify_watches, counted besides the host's
# fs.inotify.max_user_watches) is: unlimited (every guard watched), short by about BLIND guards, and 0 (no
# watch at all: every guard polled). Figures per instance over ${WINDOW:-60} s: how many guards it polls
# ("unwatched" in status --json), wakeups/s (voluntary + involuntary context switches), CPU seconds per hour.
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${MEMWARDEN_BUILD:-$src/build}
N=${N:-1000}
BLIND=${BLIND:-100}
WINDOW=${WINDOW:-60}
work=/run/mwblind
mkdir -p $work/pol
: >$work/main.conf
printf '[Match]\nCgroup=/mwblind/*\n[Pressure]\nSomeTrigger=off\n[Actions]\nLadder=alert\n' >$work/pol/p.conf

cg=/sys/fs/cgroup/mwblind
mkdir -p $cg
echo +memory >/sys/fs/cgroup/cgroup.subtree_control
echo +memory >$cg/cgroup.subtree_control
python3 -c 'import os, sys
for i in range(1, int(sys.argv[2]) + 1): os.mkdir("%s/c%d" % (sys.argv[1], i))' $cg "$N"
ndirs=$(find /sys/fs/cgroup -type d | wc -l)

start_mw() { # NAME WATCH_LIMIT (empty: the namespace's default)
        unshare -U -r sh -c '[ -z "$1" ] || echo "$1" >/proc/sys/user/max_inotify_watches; shift; exec "$@"' sh "$2" \
                "$build/memwardend" --log-target stderr -c $work/main.conf -p $work/pol \
                --control-socket $work/$1.sock >/dev/null 2>$work/$1.log &
        echo $!
}
wait_guarded() { # SOCK COUNT
        for _ in $(seq 1 1200); do
                "$build/ctl/memwardenctl" --socket "$1" status 2>/dev/null | head -1 |
                        grep -q "guarding $2 cgroups" && return 0
                sleep 0.5
        done
        return 1
}
unwatched() { "$build/ctl/memwardenctl" --socket "$1" --json status | python3 -c 'import json, sys
print(json.load(sys.stdin).get("unwatched", "?"))'; }

# Every cgroup directory has a watch (new cgroups), every guard one more on memory.events: short by BLIND
# guards is 2 N + the other directories - 2 BLIND (the walk gives the last ones neither).
pidA=$(start_mw all "")
wait_guarded $work/all.sock "$N" || { cat $work/all.log; exit 1; }
pidB=$(start_mw some $((ndirs + N - 2 * BLIND)))
wait_guarded $work/some.sock "$N" || { cat $work/some.log; exit 1; }
pidC=$(start_mw none 0)
wait_guarded $work/none.sock "$N" || { cat $work/none.log; exit 1; }
sleep 3 # the first poll tick and its record
declare -A name=([$pidA]="every guard watched" [$pidB]="short of watches" [$pidC]="no watch at all")
declare -A sock=([$pidA]=all [$pidB]=some [$pidC]=none)
pids=($pidA $pidB $pidC)
ctx() { awk '/^(voluntary|nonvoluntary)_ctxt_switches/ {s += $2} END {print s}' /proc/$1/status; }
cpu() { awk '{print $14 + $15}' /proc/$1/stat; }
declare -A c0 u0 nu
for p in "${pids[@]}"; do nu[$p]=$(unwatched $work/${sock[$p]}.sock); done
for p in "${pids[@]}"; do c0[$p]=$(ctx $p); u0[$p]=$(cpu $p); done
sleep "$WINDOW"
hz=$(getconf CLK_TCK)
echo
echo "| memwardend, $N guarded calm cgroups | polled guards | wakeups/s | CPU s/hour |"
echo "|---|---|---|---|"
for p in "${pids[@]}"; do
        c1=$(ctx $p); u1=$(cpu $p)
        w=$(python3 -c "print(round(($c1 - ${c0[$p]}) / $WINDOW, 2))")
        cs=$(python3 -c "print(round(($u1 - ${u0[$p]}) / $hz * 3600 / $WINDOW, 2))")
        echo "| ${name[$p]} | ${nu[$p]} | $w | $cs |"
done
echo
echo "Window ${WINDOW} s, kernel $(uname -r), qemu TCG, $(nproc) vCPUs; each instance in a user namespace of its"
echo "own with its own inotify watch limit; no WatchdogSec. Records of the short instance:"
grep -h 'UNWATCHED=' $work/some.log | head -2 | cut -c1-300
kill "${pids[@]}" 2>/dev/null
wait 2>/dev/null
python3 -c 'import os, sys
for i in range(1, int(sys.argv[2]) + 1): os.rmdir("%s/c%d" % (sys.argv[1], i))' $cg "$N"

#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs inside the test VM (bench/member-latency runs it there). N empty cgroups /sys/fs/cgroup/mwlat/cI are
# guarded (Cgroup=/mwlat/*, SomeTrigger=100ms/1s, Ladder=alert, as in bench/scale-cost.sh). A hog of 56M
# (tests/integration/hog.py) in one of them, the victim, is throttled by memory.high 40M on the PARENT
# /mwlat: a memory stall of the victim (PSI "some" counts in it and in every ancestor) that changes no
# memory.events of the victim (the kernel counts a "high" event in the cgroup over its limit and its
# ancestors only). With memory.high on the victim itself (the first version of this bench) its
# memory.events changes stepped its guard, which saw the stall before any trigger in both builds: the
# shared trigger's path was never taken. Now the candidate notices it only through the parent's trigger
# (the sentinel), the baseline through the victim's own. Each round prints the path from the daemon's
# records (run with --log-level debug: the sentinel's line for the victim, REASONS of the onset) and the
# victim's memory.events "high" before and after. Per round: the hog enters the victim (t0), the daemon's
# log is polled every 10 ms for the victim's onset record (t1); then the hog is killed and 3 s of calm.
# Rounds alternate between the builds (B C, C B, ...); each round starts its daemon fresh (so the victim's last
# look is its start-up, as for any calm cgroup) and gives it 3 s after its control socket appears.
# Prints t1 - t0 per build (p50, p90, max, all values) and the candidate/baseline ratios. A benchmark: it
# prints, it asserts nothing.
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
new=${MEMWARDEN_BUILD:-$src/build}
base=${MW_BASE:?MW_BASE: the baseline build directory}
N=${N:-1000}
ROUNDS=${ROUNDS:-6}
work=/run/mwlat
rm -rf $work; mkdir -p $work/pol
: >$work/main.conf
cat >$work/pol/idle.conf <<'P'
[Match]
Cgroup=/mwlat/*
[Pressure]
SomeTrigger=100ms/1s
HighEvents=no
[Actions]
Ladder=alert
P
root=/sys/fs/cgroup
echo +memory >$root/cgroup.subtree_control
mkdir -p $root/mwlat
echo +memory >$root/mwlat/cgroup.subtree_control
python3 -c 'import os, sys
for i in range(1, int(sys.argv[2]) + 1): os.mkdir("%s/c%d" % (sys.argv[1], i))' $root/mwlat "$N"
victim=c$((N / 2 + 7))
echo 64M >$root/mwlat/$victim/memory.max
echo 0 >$root/mwlat/$victim/memory.swap.max 2>/dev/null

round() { # label build
        local label=$1 b=$2 sock=$work/mw.sock log=$work/mw-$1.log pid hog t0 t1
        rm -f $sock
        # A fresh state directory each round: a daemon stopped mid-episode saves the victim as under pressure,
        # and the next daemon resumed that episode (no onset record: the rounds that "missed").
        rm -rf $work/state; mkdir $work/state
        printf '[Daemon]\nStateDirectory=%s/state\n' $work >$work/main.conf
        "$b/memwardend" --log-target stderr --log-level debug -c $work/main.conf -p $work/pol --control-socket $sock \
                >/dev/null 2>"$log" &
        pid=$!
        for _ in $(seq 1 6000); do [ -S $sock ] && break; kill -0 $pid 2>/dev/null || break; sleep 0.05; done
        sleep 3 # calm: start-up's work done
        local high0; high0=$(awk '$1 == "high" {print $2}' $root/mwlat/$victim/memory.events)
        local off; off=$(stat -c %s "$log") # the log is read from here on (debug: long since start-up)
        echo 40M >$root/mwlat/memory.high
        t0=$(date +%s%N)
        python3 "$src/tests/integration/hog.py" 56 2 0.02 >/dev/null &
        hog=$!
        echo $hog >$root/mwlat/$victim/cgroup.procs
        t1=$(python3 - "$log" "/mwlat/$victim" "$off" <<'P'
import sys, time
log, cg, off = sys.argv[1], sys.argv[2], int(sys.argv[3])
end = time.time() + 120
rest = ""
with open(log) as f:
    f.seek(off)
    while time.time() < end:
        lines = (rest + f.read()).split("\n")
        rest = lines.pop()
        for line in lines:
            if "CGROUP=%s " % cg in line and "ONSET=yes" in line:
                print(time.time_ns()); sys.exit()
        time.sleep(0.01)
print(0)
P
)
        kill $hog; wait $hog 2>/dev/null
        echo max >$root/mwlat/memory.high
        local ms=-1; [ "$t1" != 0 ] && ms=$(( (t1 - t0) / 1000000 ))
        echo "$ms" >>$work/lat-$label
        local high1 reasons path
        high1=$(awk '$1 == "high" {print $2}' $root/mwlat/$victim/memory.events)
        reasons=$(grep -o "CGROUP=/mwlat/$victim .*ONSET=yes" "$log" | grep -o 'REASONS=[^ ]*' | head -1)
        # daemon/sentinel.c's debug line when a member's stall is found by the parent's trigger.
        path=$(grep -m1 -o "/mwlat/$victim: stalled ([a-z]*), seen through the PSI trigger on /mwlat: [a-z ]*" "$log")
        if [ -n "$path" ]; then path="shared trigger: ${path#*: stalled }"
        elif [[ $reasons == *trigger-some* ]]; then path="own trigger"
        else path="no trigger (a sample: $reasons)"; fi
        echo "$label $path" >>$work/path-$label
        echo "# $label: $ms ms, $reasons, path: $path; victim's memory.events high $high0 -> $high1" >&2
        kill $pid; wait $pid 2>/dev/null
        # bench/member-latency with MW_LOGS=DIR (tests/vm/run --out): each round's daemon log handed back.
        [ -n "${MEMWARDEN_VM_OUT:-}" ] && cp "$log" "$MEMWARDEN_VM_OUT/$label-$(wc -l <$work/lat-$label).log"
        sleep 3
}
for r in $(seq 1 "$ROUNDS"); do
        if [ $((r % 2)) = 1 ]; then round baseline "$base"; round candidate "$new"
        else round candidate "$new"; round baseline "$base"; fi
done
stats() { python3 -c '
import sys
v = sorted(int(x) for x in open(sys.argv[1]).read().split() if int(x) >= 0)
miss = sum(1 for x in open(sys.argv[1]).read().split() if int(x) < 0)
if not v: print("- - - 0 %d" % miss); sys.exit()
def p(q): return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]
print(p(0.5), p(0.9), v[-1], len(v), miss, ",".join(map(str, v)))' "$1"; }
echo
echo "| build | guarded siblings | hog in -> onset record: p50 ms | p90 ms | max ms | n (missed) | all ms |"
echo "|---|---|---|---|---|---|---|"
for l in baseline candidate; do
        read -r p50 p90 mx n miss all < <(stats $work/lat-$l)
        declare "P50_$l=$p50" "P90_$l=$p90"
        echo "| $l | $N | $p50 | $p90 | $mx | $n ($miss) | $all |"
done
echo
python3 -c 'import sys
b50, b90, c50, c90 = map(float, sys.argv[1:])
print("ratio candidate/baseline: p50 %.2f, p90 %.2f" % (c50 / b50, c90 / b90))' "$P50_baseline" "$P90_baseline" "$P50_candidate" "$P90_candidate" 2>/dev/null
for l in baseline candidate; do
        echo "paths $l: $(cut -d' ' -f2- $work/path-$l | sort | uniq -c | sed 's/^ *//' | paste -sd';')"
done
echo "Kernel $(uname -r), qemu TCG, $(nproc) vCPUs; baseline $base, candidate $new; $ROUNDS rounds each, alternating."

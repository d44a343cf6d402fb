#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs inside the test VM (bench/member-latency runs it there). N empty cgroups /sys/fs/cgroup/mwlat/cI are
# guarded (Cgroup=/mwlat/*, SomeTrigger=100ms/1s, Ladder=alert, as in bench/scale-cost.sh; HighEvents=no drops
# the high-event reason, but memory.events changes still step the guard, and in the run of docs/scale.md that
# step saw the stall first in both builds: REASONS is printed per round to tell). One of them, the
# victim, gets memory.high 40M and a hog of 56M (tests/integration/hog.py): the kernel throttles it, a memory
# stall. Per round: the hog enters the victim (t0), the daemon's log is polled every 10 ms for the victim's
# onset record (t1); then the hog is killed and the round waits for the relieved record and 3 s of calm.
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
        "$b/memwardend" --log-target stderr -c $work/main.conf -p $work/pol --control-socket $sock \
                >/dev/null 2>"$log" &
        pid=$!
        for _ in $(seq 1 6000); do [ -S $sock ] && break; kill -0 $pid 2>/dev/null || break; sleep 0.05; done
        sleep 3 # calm: start-up's work done
        echo 40M >$root/mwlat/$victim/memory.high
        t0=$(date +%s%N)
        python3 "$src/tests/integration/hog.py" 56 2 0.02 >/dev/null &
        hog=$!
        echo $hog >$root/mwlat/$victim/cgroup.procs
        t1=$(python3 - "$log" "/mwlat/$victim" <<'P'
import sys, time
log, cg = sys.argv[1], sys.argv[2]
end = time.time() + 120
while time.time() < end:
    with open(log) as f:
        for line in f:
            if "CGROUP=%s " % cg in line and "ONSET=yes" in line:
                print(time.time_ns()); sys.exit()
    time.sleep(0.01)
print(0)
P
)
        kill $hog; wait $hog 2>/dev/null
        echo max >$root/mwlat/$victim/memory.high
        local ms=-1; [ "$t1" != 0 ] && ms=$(( (t1 - t0) / 1000000 ))
        echo "$ms" >>$work/lat-$label
        echo "# $label: $ms ms ($(grep -o "CGROUP=/mwlat/$victim .*ONSET=yes" "$log" | grep -o 'REASONS=[^ ]*' | head -1))" >&2
        kill $pid; wait $pid 2>/dev/null
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
echo "Kernel $(uname -r), qemu TCG, $(nproc) vCPUs; baseline $base, candidate $new; $ROUNDS rounds each, alternating."

#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/helpers/onepass-workload.sh DIR OUT MODE: the onepass workload, run inside the unit under test.
# DIR holds "hot" (a file that fits the unit) and "archive" (far larger than the unit, sparse is fine).
# A service re-reads DIR/hot every 0.5 s while a backup streams DIR/archive once: MODE paced = 400 MiB at
# 20 MB/s (a network- or disk-bound backup), cat = 1,200 MiB as fast as it goes. Writes
# "refaults N passes M ms T" to OUT: the unit's workingset_refault_file over the streaming phase, the hot
# passes in that time and the stream's duration. Used by tests/integration/test-onepass.sh and bench/lab.
dir=$1 out=$2 mode=$3
cg=/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/self/cgroup)
refaults() { awk '$1 == "workingset_refault_file" { print $2 }' "$cg/memory.stat"; }
cat "$dir/hot" >/dev/null; cat "$dir/hot" >/dev/null
rm -f "$out.stop" "$out.passes"
( n=0; while [ ! -e "$out.stop" ]; do cat "$dir/hot" >/dev/null; n=$((n + 1)); sleep 0.5; done
  echo $n >"$out.passes" ) &
sleep 1
r0=$(refaults); t0=$(date +%s%N)
if [ "$mode" = paced ]; then
        python3 -c '
import sys, time
f = open(sys.argv[1], "rb", buffering=0)
t0, n, rate, total = time.monotonic(), 0, 20 << 20, 400 << 20
while n < total:
    n += len(f.read(1 << 20))
    d = t0 + n / rate - time.monotonic()
    if d > 0:
        time.sleep(d)' "$dir/archive"
else
        head -c 1200M "$dir/archive" >/dev/null
fi
r1=$(refaults); t1=$(date +%s%N)
touch "$out.stop"; wait
echo "refaults $((r1 - r0)) passes $(cat "$out.passes") ms $(( (t1 - t0) / 1000000 ))" >"$out"
rm -f "$out.stop" "$out.passes"

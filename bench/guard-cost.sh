#!/bin/bash
# SPDX-License-Identifier: MIT
# On the host, no VM, no cgroupfs: what the daemon itself spends per guarded cgroup, for several builds in
# ONE run, against a fixture tree of regular files (memwardend --cgroup-root, as the unit tests use).
#   bench/guard-cost.sh [LABEL=BUILD_DIR ...]      (default: new=./build)
# Env: N_LIST (default "0 1000 10000"), ROUNDS (default 3: start-ups per build and N, alternating builds;
# the median time is printed), STRACE_N (default 1000; 0: no system call count).
# The tree: DIR/cg/mwscale/cI (I = 1..N) with the files a cgroup has (memory.current ... cgroup.procs), one
# policy Cgroup=/mwscale/* SomeTrigger=100ms/1s Ladder=alert (the issue's set-up). In a fixture tree the
# PSI trigger fds cannot be polled (regular files): no build has a trigger in the loop here, so what is
# measured is the rest: the Guard and what hangs off it, the maps, the watches, the start-up's reads.
# For each build and N it prints:
#   start-up ms   exec to the control socket (memwardend binds it right after the walk that guards every
#                 cgroup), polled every 5 ms; the median of ROUNDS
#   private KiB   Private_Clean + Private_Dirty of the daemon (/proc/PID/smaps_rollup) after start-up
#   heap KiB      Private_Dirty of its [heap] plus its anonymous mappings (malloc's large blocks)
#   B/cgroup      (private at N - private at N=0) / N, and the same for the heap
#   syscalls      strace -f -c of one start-up at N=STRACE_N minus one at N=0, per cgroup, by call
# A benchmark: it prints, it asserts nothing.
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
N_LIST=${N_LIST:-"0 1000 10000"}
ROUNDS=${ROUNDS:-3}
STRACE_N=${STRACE_N:-1000}
[ $# -gt 0 ] || set -- "new=$src/build"
labels=() dirs=()
for a in "$@"; do
        labels+=("${a%%=*}") dirs+=("${a#*=}")
        [ -x "${a#*=}/memwardend" ] || { echo "no ${a#*=}/memwardend" >&2; exit 2; }
done

work=$(mktemp -d /tmp/mw-guard-cost.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/pol" "$work/cg/mwscale" "$work/state"
printf '[Daemon]\nStateDirectory=%s/state\n' "$work" >"$work/main.conf"
printf '[Match]\nCgroup=/mwscale/*\n[Pressure]\nSomeTrigger=100ms/1s\n[Actions]\nLadder=alert\n' \
        >"$work/pol/idle.conf"
have=0
grow_to() {
        python3 - "$work/cg/mwscale" "$have" "$1" <<'PY'
import os, sys
files = {
    "memory.current": "50000000\n", "memory.max": "max\n", "memory.high": "max\n", "memory.low": "0\n",
    "memory.min": "0\n", "memory.swap.current": "0\n",
    "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n",
    "memory.pressure": "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
                       "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
    "memory.stat": "anon 30000000\nfile 20000000\nshmem 1000\n",
    "memory.reclaim": "", "cgroup.kill": "", "cgroup.procs": "",
}
for i in range(int(sys.argv[2]) + 1, int(sys.argv[3]) + 1):
    d = "%s/c%d" % (sys.argv[1], i)
    os.mkdir(d)
    for k, v in files.items():
        with open(d + "/" + k, "w") as f:
            f.write(v)
PY
        have=$1
}
# The parent has memory files too (a sentinel reads its memory.pressure).
for f in memory.pressure memory.events memory.current; do cp /dev/null "$work/cg/mwscale/$f"; done
printf 'some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n' \
        >"$work/cg/mwscale/memory.pressure"

now_ms() { date +%s%3N; }
pid=
start() { # build-dir [wrapper...] -> $pid, $ms
        local d=$1; shift
        rm -f "$work/ctl"
        local t0; t0=$(now_ms)
        DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/mw-bench NOTIFY_SOCKET= JOURNAL_STREAM= \
                "$@" "$d/memwardend" --cgroup-root "$work/cg" --control-socket "$work/ctl" -c "$work/main.conf" \
                -p "$work/pol" --log-target stderr 2>"$work/daemon.log" &
        pid=$!
        while [ ! -S "$work/ctl" ]; do
                kill -0 $pid 2>/dev/null || { echo "daemon exited:"; tail -5 "$work/daemon.log"; return 1; }
                sleep 0.005
        done
        ms=$(($(now_ms) - t0))
}
stop() { # the daemon itself (under strace it is strace's child: strace does not pass SIGTERM on)
        local d=$pid c
        c=$(cat /proc/$pid/task/*/children 2>/dev/null) && [ -n "$c" ] && d=${c%% *}
        kill -TERM "$d" 2>/dev/null; wait $pid 2>/dev/null; pid=
}
private_kib() { awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s}' /proc/$1/smaps_rollup; }
heap_kib() { # [heap] and anonymous mappings: Private_Dirty
        awk 'NF >= 5 && $1 ~ /-/ { anon = ($6 == "" || $6 == "[heap]") } anon && /^Private_Dirty:/ {s += $2}
             END {print s}' /proc/$1/smaps
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

declare -A MS PRIV HEAP MED
echo "# bench/guard-cost: $(date -u '+%F %T') UTC, host $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
for n in $N_LIST; do
        grow_to "$n"
        for b in "${!labels[@]}"; do MS[$b,$n]=; done
        for ((r = 0; r < ROUNDS; r++)); do
                # Alternate the order: round 0 A B C, round 1 C B A, ...
                order=("${!labels[@]}")
                ((r % 2)) && order=($(printf '%s\n' "${order[@]}" | tac))
                for b in "${order[@]}"; do
                        start "${dirs[$b]}" || exit 1
                        MS[$b,$n]+="$ms "
                        sleep 0.3
                        PRIV[$b,$n]=$(private_kib $pid) HEAP[$b,$n]=$(heap_kib $pid)
                        grep -q "guarding $n cgroups" "$work/daemon.log" ||
                                grep -q "GUARDED=$n\b" "$work/daemon.log" ||
                                echo "warning: ${labels[$b]} at N=$n: the STARTED record does not say $n guarded"
                        stop
                done
        done
done

echo
echo "| build | N | start-up ms (median of $ROUNDS) | private KiB | heap KiB | private B/cgroup | heap B/cgroup |"
echo "|---|---|---|---|---|---|---|"
set -- $N_LIST
n0=$1
for n in $N_LIST; do
        for b in "${!labels[@]}"; do
                m=$(echo "${MS[$b,$n]}" | median)
                pb=- hb=-
                if [ "$n" != "$n0" ]; then
                        pb=$(((${PRIV[$b,$n]} - ${PRIV[$b,$n0]}) * 1024 / (n - n0)))
                        hb=$(((${HEAP[$b,$n]} - ${HEAP[$b,$n0]}) * 1024 / (n - n0)))
                fi
                MED[$b,$n]=$m
                echo "| ${labels[$b]} | $n | $m | ${PRIV[$b,$n]} | ${HEAP[$b,$n]} | $pb | $hb |"
        done
done
if [ ${#labels[@]} -gt 1 ]; then
        echo
        echo "Ratios against ${labels[0]} (start-up time, private bytes per cgroup):"
        for n in $N_LIST; do
                [ "$n" = "$n0" ] && continue
                for b in "${!labels[@]}"; do
                        [ "$b" = 0 ] && continue
                        awk -v l="${labels[$b]}" -v n=$n -v t1="${MED[0,$n]}" -v t="${MED[$b,$n]}" \
                            -v p1=$(((${PRIV[0,$n]} - ${PRIV[0,$n0]}))) -v p=$(((${PRIV[$b,$n]} - ${PRIV[$b,$n0]}))) \
                            'BEGIN { printf "  N=%d %s: start-up %.2f, private per cgroup %.2f\n", n, l,
                                     t / t1, (p1 > 0 ? p / p1 : 0) }'
                done
        done
fi

if [ "$STRACE_N" -gt 0 ] && command -v strace >/dev/null; then
        echo
        echo "System calls per guarded cgroup at start-up (strace -f -c, N=$STRACE_N minus N=0):"
        count() { # build-dir n -> "call count" lines
                rm -rf "$work/cg/mwscale" && mkdir -p "$work/cg/mwscale" && have=0 && grow_to "$2"
                start "$1" strace -f -c -o "$work/strace.out" || return
                stop
                awk '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" { print $NF, $4 }' "$work/strace.out"
        }
        for b in "${!labels[@]}"; do
                count "${dirs[$b]}" 0 >"$work/s0"
                count "${dirs[$b]}" "$STRACE_N" >"$work/sN"
                awk -v n="$STRACE_N" -v l="${labels[$b]}" 'NR == FNR { z[$1] = $2; next }
                        { d = ($2 - z[$1]) / n; if (d >= 0.05) { s += d; out = out sprintf(" %s %.1f", $1, d) } }
                        END { printf "  %s: %.1f in all:%s\n", l, s, out }' "$work/s0" "$work/sN"
        done
fi

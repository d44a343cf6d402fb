#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs inside the test VM (bench/scale-cost runs it there). What guarding many calm cgroups costs, the
# kernel's share included, for two builds in ONE run: $MW_BASE (the baseline, e.g. main at the
# start of a branch) and $MEMWARDEN_BUILD (the candidate). For each N in $N_LIST (default "0 300 1000
# 10000"), N empty raw cgroups /sys/fs/cgroup/mwscale/cI are guarded (policy Cgroup=/mwscale/*,
# SomeTrigger=100ms/1s, Ladder=alert: the issue's set-up) beside one target cgroup (/mwtarget, memory.max
# 64M, Brake=75%, Ladder=reclaim, as in bench/event-cost.sh). Each build in turn is started fresh on the
# same cgroups and measured:
#   start-up   exec to the control socket's appearance (polled every 0.05 s; memwardend binds it right after
#              the walk that guards every cgroup), then checked: "guarding N+1 cgroups" (not timed: a status
#              rendering reads every cgroup's files)
#   psimon     kernel threads named psimon after start-up, minus those before
#   kernel KiB KernelStack + Slab (/proc/meminfo) after start-up minus before (the cgroups already exist)
#   RSS/Pss/private KiB of the daemon (smaps_rollup) and private bytes per guarded cgroup
#   idle cs    context switches over $IDLE s (default 30) of the daemon (all its threads) and of all
#              psimon threads together, while nothing is under pressure
#   latency    LATENCY_USEC of the onset action of $EVENTS pushes of /mwtarget over its brake: p50/p99,
#              pooled over 1 + $LAT_ROUNDS (default 2) rounds per build in the order B C, C B, B C, ...
#              (the extra rounds only for N <= $LAT_MAX_N, default 1000: each is a start-up and an exit)
#   churn      K = N/10 (at most 1,000) guarded cgroups removed, then K made again: wall time until the
#              daemon's fd count settles (sampled every 0.05 s: the last change), and the daemon's CPU time
#              (utime + stime) over each; then "guarding N+1" checked again
# Then the peers, measured the same way (kernel threads + meminfo delta, their RSS, idle context
# switches): systemd-oomd with $PEER_UNITS template services that have ManagedOOMMemoryPressure=kill, and
# earlyoom (which guards no cgroup; it watches /proc/meminfo).
# Prints markdown tables and the candidate/baseline ratios. A benchmark: it prints, it asserts nothing.
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
new=${MEMWARDEN_BUILD:-$src/build}
base=${MW_BASE:?MW_BASE: the baseline build directory}
N_LIST=${N_LIST:-"0 300 1000 10000"}
EVENTS=${EVENTS:-10}
LAT_ROUNDS=${LAT_ROUNDS:-2}
LAT_MAX_N=${LAT_MAX_N:-1000}
IDLE=${IDLE:-30}
PEER_UNITS=${PEER_UNITS:-300}
work=/run/mwscale
rm -rf $work; mkdir -p $work/pol
: >$work/main.conf
cat >$work/pol/idle.conf <<'P'
[Match]
Cgroup=/mwscale/*
[Pressure]
SomeTrigger=100ms/1s
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

modprobe loop 2>/dev/null
truncate -s 64M $work/fs.img && mkfs.ext4 -q -F $work/fs.img && mkdir -p /mnt/mwscale &&
        mount -o loop $work/fs.img /mnt/mwscale && truncate -s 1G /mnt/mwscale/sparse ||
        { echo "cannot set up the ext4 loop device"; exit 1; }

root=/sys/fs/cgroup
echo +memory >$root/cgroup.subtree_control
mkdir -p $root/mwscale $root/mwtarget
echo +memory >$root/mwscale/cgroup.subtree_control
echo 64M >$root/mwtarget/memory.max
have=0
grow_to() {
        python3 -c 'import os, sys
for i in range(int(sys.argv[2]) + 1, int(sys.argv[3]) + 1):
    os.mkdir("%s/c%d" % (sys.argv[1], i))' $root/mwscale $have "$1" && have=$1
}
kmem() { awk '/^(KernelStack|Slab):/ {s += $2} END {print s}' /proc/meminfo; }
psimon_pids() { for c in /proc/[0-9]*/comm; do read -r n <"$c" 2>/dev/null && [ "$n" = psimon ] &&
        { p=${c#/proc/}; echo "${p%/comm}"; }; done; }
npsimon() { psimon_pids | wc -l; }
# context switches (voluntary + involuntary) of all threads of the given pids, one awk for all
cswitch() { local f=() p; for p in "$@"; do f+=(/proc/$p/task/*/status); done
        [ ${#f[@]} -gt 0 ] || { echo 0; return; }
        awk '/ctxt_switches/ {s += $2} END {print s + 0}' "${f[@]}" 2>/dev/null; }
settle() { sync; sleep 2; }
wait_psimon() { # until the psimon count is back to $1 (threads of closed triggers exit asynchronously)
        for _ in $(seq 1 600); do [ "$(npsimon)" -le "$1" ] && return; sleep 0.5; done
        echo "# still $(npsimon) psimon threads (want $1), going on" >&2; }
percentiles() { python3 -c '
import sys
v = sorted(int(x) for x in sys.stdin.read().split())
if not v: print("- - 0"); sys.exit()
def p(q): return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]
print(f"{p(0.5) / 1000:.1f} {p(0.99) / 1000:.1f} {len(v)}")'; }

declare -A R   # R[build,N,field]
measure() { # build-label build-dir N
        local label=$1 b=$2 N=$3 sock=$work/mw.sock log=$work/mw-$1-$3.log
        echo "# $label N=$N: starting ($(npsimon) psimon threads)" >&2
        wait_psimon "$P0"
        settle
        local k0 t0 t1 pid ok=0 want=$((N + 1))
        local ps0; ps0=$(npsimon)
        k0=$(kmem)
        rm -f $sock
        t0=$(date +%s%N)
        "$b/memwardend" --log-target stderr -c $work/main.conf -p $work/pol --control-socket $sock \
                >/dev/null 2>"$log" &
        pid=$!
        for _ in $(seq 1 60000); do
                [ -S $sock ] && break
                kill -0 $pid 2>/dev/null || break
                sleep 0.05
        done
        t1=$(date +%s%N)
        # The daemon's own memory right after start-up, before the status rendering below (its buffers stay
        # in malloc's heap): private = Private_Clean + Private_Dirty, heap = Private_Dirty of [heap] and
        # anonymous mappings.
        R[$label,$N,priv]=$(awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s}' /proc/$pid/smaps_rollup)
        R[$label,$N,heap]=$(awk 'NF >= 5 && $1 ~ /-/ { anon = ($6 == "" || $6 == "[heap]") }
                anon && /^Private_Dirty:/ {s += $2} END {print s}' /proc/$pid/smaps)
        "$b/ctl/memwardenctl" --socket $sock status 2>/dev/null | head -1 | grep -q "guarding $want cgroups" && ok=1
        echo "# $label N=$N: guarded=$ok after $(( (t1 - t0) / 1000000 )) ms" >&2
        [ $ok = 1 ] || { echo "$label: memwardend did not guard $want cgroups"; tail -5 "$log"; kill $pid; return 1; }
        R[$label,$N,start]=$(( (t1 - t0) / 1000000 ))
        settle
        R[$label,$N,psimon]=$(( $(npsimon) - ps0 ))
        R[$label,$N,kmem]=$(( $(kmem) - k0 ))
        R[$label,$N,rss]=$(awk '/^Rss:/ {print $2}' /proc/$pid/smaps_rollup)
        R[$label,$N,pss]=$(awk '/^Pss:/ {print $2}' /proc/$pid/smaps_rollup)
        local mons c0 m0; mons=$(psimon_pids)
        c0=$(cswitch $pid); m0=$(cswitch $mons)
        sleep "$IDLE"
        R[$label,$N,cs]=$(( $(cswitch $pid) - c0 ))
        R[$label,$N,pcs]=$(( $(cswitch $mons) - m0 ))
        push_events "$log" "$work/lat-$label-$N"
        churn "$label" "$b" "$N" "$pid" "$sock"
        kill $pid; wait $pid 2>/dev/null
        echo max >$root/mwtarget/memory.high
        echo "# $label N=$N: start ${R[$label,$N,start]} ms, psimon +${R[$label,$N,psimon]}," \
             "kernel +${R[$label,$N,kmem]} KiB, RSS ${R[$label,$N,rss]} Pss ${R[$label,$N,pss]}" \
             "private ${R[$label,$N,priv]} heap ${R[$label,$N,heap]} KiB, idle cs ${R[$label,$N,cs]}/${R[$label,$N,pcs]}," \
             "latency (this round) $(percentiles <$work/lat-$label-$N)," \
             "churn $K: remove ${R[$label,$N,rm_ms]:-} ms / ${R[$label,$N,rm_cpu]:-} ms CPU," \
             "add ${R[$label,$N,add_ms]:-} ms / ${R[$label,$N,add_cpu]:-} ms CPU, ${R[$label,$N,churn_ok]:-}" >&2
}

nfd() { ls /proc/"$1"/fd 2>/dev/null | wc -l; }
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{print int(($14 + $15) * 1000 / hz)}' /proc/"$1"/stat; }
# Waits until the fd count of pid $1 has passed $2 (op $3: -le or -ge) and not changed for 2 s; prints the
# ms from $4 (date +%s%N) to its last change.
settle_fds() { local pid=$1 lim=$2 op=$3 t0=$4 n last=-1 tl=$4 t
        for _ in $(seq 1 12000); do
                n=$(nfd "$pid"); t=$(date +%s%N)
                [ "$n" != "$last" ] && { last=$n; tl=$t; }
                [ "$n" "$op" "$lim" ] && [ $(( (t - tl) / 1000000 )) -ge 2000 ] && break
                sleep 0.05
        done
        echo $(( (tl - t0) / 1000000 )); }
# $EVENTS pushes of /mwtarget over its brake; the onset actions' LATENCY_USEC appended to $2
push_events() {
        for _ in $(seq 1 "$EVENTS"); do
                sh -c "echo \$\$ >$root/mwtarget/cgroup.procs; exec head -c 80M /mnt/mwscale/sparse" >/dev/null
                sleep 2
        done
        grep -o 'CAUSE=onset .*' "$1" | sed -n 's/.* LATENCY_USEC=\([0-9]*\).*/\1/p' >>"$2"
}
# One more latency round of a build (the host's load drifts: rounds of both builds alternate, pooled)
lat_round() { # label build N
        local label=$1 b=$2 N=$3 sock=$work/mw.sock log=$work/mw-$1-$3-lat.log pid
        wait_psimon "$P0"; settle
        rm -f $sock
        "$b/memwardend" --log-target stderr -c $work/main.conf -p $work/pol --control-socket $sock \
                >/dev/null 2>"$log" &
        pid=$!
        for _ in $(seq 1 60000); do [ -S $sock ] && break; kill -0 $pid 2>/dev/null || break; sleep 0.05; done
        push_events "$log" "$work/lat-$label-$N"
        kill $pid; wait $pid 2>/dev/null
        echo max >$root/mwtarget/memory.high
        echo "# $label N=$N: latency round: $(grep -c 'CAUSE=onset' "$log") onsets" >&2
}
K=0
churn() { # label build N pid sock: remove the first K guarded cgroups, then make them again
        local label=$1 b=$2 N=$3 pid=$4 sock=$5 fd0 c0 t0
        K=$((N / 10)); [ $K -gt 1000 ] && K=1000
        [ $K -gt 0 ] || return 0
        fd0=$(nfd "$pid"); c0=$(cpu_ms "$pid"); t0=$(date +%s%N)
        python3 -c 'import os, sys
for i in range(1, int(sys.argv[2]) + 1): os.rmdir("%s/c%d" % (sys.argv[1], i))' $root/mwscale $K
        R[$label,$N,rm_ms]=$(settle_fds "$pid" $((fd0 - K)) -le "$t0")
        R[$label,$N,rm_cpu]=$(( $(cpu_ms "$pid") - c0 ))
        c0=$(cpu_ms "$pid"); t0=$(date +%s%N)
        python3 -c 'import os, sys
for i in range(1, int(sys.argv[2]) + 1): os.mkdir("%s/c%d" % (sys.argv[1], i))' $root/mwscale $K
        R[$label,$N,add_ms]=$(settle_fds "$pid" "$fd0" -ge "$t0")
        R[$label,$N,add_cpu]=$(( $(cpu_ms "$pid") - c0 ))
        R[$label,$N,churn_ok]="fds $fd0 -> $(nfd "$pid"), $("$b/ctl/memwardenctl" --socket "$sock" status | head -1 |
                grep -o 'guarding [0-9]* cgroups')"
}

# The peers, measured the same way. systemd-oomd guards units with ManagedOOMMemoryPressure=kill.
if [ "${PEER_UNITS}" -gt 0 ]; then
        mkdir -p /run/systemd/system
        cat >/run/systemd/system/mwpeer@.service <<'U'
[Service]
ExecStart=/bin/sleep infinity
ManagedOOMMemoryPressure=kill
ManagedOOMMemoryPressureLimit=50%
U
        systemctl daemon-reload
        # --no-block, in batches: 1,000 blocking starts at once time out on D-Bus under TCG
        for i in $(seq 1 100 "$PEER_UNITS"); do
                systemctl start --no-block $(seq -f 'mwpeer@%g.service' "$i" $((i + 99 > PEER_UNITS ? PEER_UNITS : i + 99)))
        done
        for _ in $(seq 1 600); do
                [ "$(systemctl list-units 'mwpeer@*' --state=active --no-legend | wc -l)" -ge "$PEER_UNITS" ] && break
                sleep 1
        done
        echo "# peers: $(systemctl list-units 'mwpeer@*' --state=active --no-legend | wc -l) mwpeer units active" >&2
fi
echo "| peer | guarding | psimon threads | kernel KiB (KernelStack+Slab) | RSS KiB | private KiB | idle cs daemon / psimon ($IDLE s) |"
echo "|---|---|---|---|---|---|---|"
for peer in systemd-oomd earlyoom; do
        settle
        ps0=$(npsimon); k0=$(kmem)
        systemctl start $peer || { echo "| $peer | cannot start | | | | | |"; continue; }
        settle
        pid=$(systemctl show -P MainPID $peer)
        mons=$(psimon_pids)
        c0=$(cswitch $pid); m0=$(cswitch $mons)
        sleep "$IDLE"
        cs=$(( $(cswitch $pid) - c0 )); pcs=$(( $(cswitch $mons) - m0 ))
        what="$PEER_UNITS units"; [ $peer = earlyoom ] && what="the system (/proc/meminfo)"
        echo "| $peer | $what | $(( $(npsimon) - ps0 )) | $(( $(kmem) - k0 )) | $(awk '/^Rss:/ {print $2}' /proc/$pid/smaps_rollup) | $(awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s}' /proc/$pid/smaps_rollup) | $cs / $pcs |"
        systemctl stop $peer
done
[ "${PEER_UNITS}" -gt 0 ] && systemctl stop 'mwpeer@*' && echo "# peers: mwpeer units stopped" >&2
echo
P0=$(npsimon)
for N in $N_LIST; do
        grow_to "$N"
        measure baseline "$base" "$N"
        measure candidate "$new" "$N"
        # latency: more rounds, C B, B C, ... after the B C above; all samples pooled per build
        rounds=$LAT_ROUNDS; [ "$N" -gt "$LAT_MAX_N" ] && rounds=0   # each round is a start-up and an exit
        for r in $(seq 1 "$rounds"); do
                if [ $((r % 2)) = 1 ]; then lat_round candidate "$new" "$N"; lat_round baseline "$base" "$N"
                else lat_round baseline "$base" "$N"; lat_round candidate "$new" "$N"; fi
        done
        for l in baseline candidate; do
                percentiles <$work/lat-$l-$N >$work/lat
                read -r R[$l,$N,p50] R[$l,$N,p99] R[$l,$N,nlat] <$work/lat
        done
done

ratio() { python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print('-' if a == 0 else f'{b / a:.2f}')" "$1" "$2"; }
perk() { python3 -c "import sys; n = int(sys.argv[2]); print('-' if n == 0 else f'{int(sys.argv[1]) / n:.1f}')" "$1" "$2"; }
echo
echo "| build | guarded idle cgroups | start-up ms | psimon threads | kernel KiB (KernelStack+Slab) | kernel KiB per cgroup | RSS KiB | Pss KiB | private KiB | private B per cgroup | heap KiB | heap B per cgroup | idle cs daemon / psimon ($IDLE s) | latency p50 ms | p99 ms (n) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for N in $N_LIST; do for l in baseline candidate; do
        echo "| $l | $N | ${R[$l,$N,start]:--} | ${R[$l,$N,psimon]:--} | ${R[$l,$N,kmem]:--} | $(perk "${R[$l,$N,kmem]:-0}" "$N") | ${R[$l,$N,rss]:--} | ${R[$l,$N,pss]:--} | ${R[$l,$N,priv]:--} | $(perk "$(( ${R[$l,$N,priv]:-0} * 1024 ))" "$N") | ${R[$l,$N,heap]:--} | $(perk "$(( ${R[$l,$N,heap]:-0} * 1024 ))" "$N") | ${R[$l,$N,cs]:--} / ${R[$l,$N,pcs]:--} | ${R[$l,$N,p50]:--} | ${R[$l,$N,p99]:--} (${R[$l,$N,nlat]:-0}) |"
done; done
echo
echo "Ratios candidate / baseline:"
echo
echo "| guarded | start-up | psimon | kernel KiB | kernel + private KiB | private KiB | latency p50 | p99 | removal wall | removal CPU |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for N in $N_LIST; do
        b=baseline c=candidate
        echo "| $N | $(ratio "${R[$b,$N,start]:-0}" "${R[$c,$N,start]:-0}") | $(ratio "${R[$b,$N,psimon]:-0}" "${R[$c,$N,psimon]:-0}") | $(ratio "${R[$b,$N,kmem]:-0}" "${R[$c,$N,kmem]:-0}") | $(ratio "$(( ${R[$b,$N,kmem]:-0} + ${R[$b,$N,priv]:-0} ))" "$(( ${R[$c,$N,kmem]:-0} + ${R[$c,$N,priv]:-0} ))") | $(ratio "${R[$b,$N,priv]:-0}" "${R[$c,$N,priv]:-0}") | $(ratio "${R[$b,$N,p50]:-0}" "${R[$c,$N,p50]:-0}") | $(ratio "${R[$b,$N,p99]:-0}" "${R[$c,$N,p99]:-0}") | $(ratio "${R[$b,$N,rm_ms]:-0}" "${R[$c,$N,rm_ms]:-0}") | $(ratio "${R[$b,$N,rm_cpu]:-0}" "${R[$c,$N,rm_cpu]:-0}") |"
done
echo
echo "Churn: K = N/10 (at most 1,000) guarded cgroups removed with N alive, then made again (wall ms to the"
echo "daemon's last fd change / its CPU ms):"
echo
echo "| build | guarded | K | removal wall ms | removal CPU ms | re-add wall ms | re-add CPU ms | after |"
echo "|---|---|---|---|---|---|---|---|"
for N in $N_LIST; do for l in baseline candidate; do
        echo "| $l | $N | $((N / 10 > 1000 ? 1000 : N / 10)) | ${R[$l,$N,rm_ms]:--} | ${R[$l,$N,rm_cpu]:--} | ${R[$l,$N,add_ms]:--} | ${R[$l,$N,add_cpu]:--} | ${R[$l,$N,churn_ok]:--} |"
done; done

echo
echo "Kernel $(uname -r), qemu TCG, $(nproc) vCPUs, $(awk '/MemTotal/ {print $2}' /proc/meminfo) KiB; baseline $base, candidate $new;"
echo "$EVENTS pushes over the brake per row for latency; idle window $IDLE s."

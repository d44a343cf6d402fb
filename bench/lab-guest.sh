#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/lab-guest.sh: the scenario lab's guest side. Runs INSIDE the test VM only (bench/lab boots
# it): for each run x scenario x regime x brake it starts the scenario in a fresh transient unit with a tight
# MemoryMax, samples the unit's cgroup every 0.5 s (bench/lab-sampler.py), collects who killed what from the
# journal, cleans up, and prints one markdown row; the CSV goes to $MEMWARDEN_VM_OUT/lab.csv.
# Env: LAB_SCENARIOS (frag,leak,burst,tmpfs,onepass,churn), LAB_REGIMES (none,oomd,earlyoom,memwarden), LAB_BRAKES (off,on),
#      LAB_RUNS (1), MEMWARDEN_BUILD (meson build dir with memwardend), MEMWARDEN_SOURCE.
# Brake variant: the peers (none/oomd/earlyoom) get -p MemoryHigh=7/8 of MemoryMax on the unit; memwarden
# gets its own Brake=87.5% in the policy (it sets memory.high itself), and no MemoryHigh on the unit.
# It prints figures; it asserts nothing.
if [ "${MEMWARDEN_VM:-}" != 1 ]; then echo "lab-guest.sh runs only inside the test VM (use bench/lab)" >&2; exit 77; fi
set -u
SRC=${MEMWARDEN_SOURCE:-/work/main}
B=${MEMWARDEN_BUILD:?}
OUT=${MEMWARDEN_VM_OUT:-/run/lab-out}; mkdir -p "$OUT"
SCENARIOS=${LAB_SCENARIOS:-frag,leak}
REGIMES=${LAB_REGIMES:-none,oomd,earlyoom,memwarden}
BRAKES=${LAB_BRAKES:-off,on}
RUNS=${LAB_RUNS:-1}
W=/run/lab; mkdir -p $W
MW_ACTION=6e42d91a5e50420ea92356dafbb4b46a
MW_PRESSURE=cc09ac76392d4205bf123cd640dcc1a6
MW_RESULT=e9b2e03630c84a74a65f842d7f6e6cdc
MW_OOM_KILL=fe022f9f3cd047d2bcbda2bb17ec3356
TICK=$(getconf CLK_TCK)
log() { echo "# $*" >&2; }

# --- setup: memwarden installed (not started) as tests/integration/daemon.sh's mw_install does; the trim
# library is then present for every regime (preloaded in frag/burst: harmless when nobody signals).
meson install --no-rebuild --quiet -C "$B" >$W/install.log 2>&1 || { cat $W/install.log >&2; exit 1; }
rm -f /usr/lib/memwarden/policy.d/*.conf /usr/local/lib/memwarden/policy.d/*.conf
mkdir -p /etc/memwarden/policy.d /etc/systemd/oomd.conf.d
rm -f /etc/memwarden/policy.d/*.conf
LIB=$(sed -n 's/^#define TRIM_LIBRARY_PATH "\(.*\)"$/\1/p' "$B/config.h")
FRAG=$B/tests/helpers/frag
# systemd-oomd: the shortest pressure duration it accepts (DefaultMemoryPressureDurationSec=1s).
printf '[OOM]\nDefaultMemoryPressureDurationSec=1s\n' >/etc/systemd/oomd.conf.d/lab.conf
systemctl daemon-reload
systemctl stop systemd-oomd earlyoom memwardend 2>/dev/null
KERNEL=$(uname -r); DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
CPUS=$(nproc); MEMTOT=$(awk '/MemTotal/ { printf "%d MiB", $2/1024 }' /proc/meminfo)
OOMD_V=$(/lib/systemd/systemd-oomd --version 2>/dev/null | head -1 | awk '{print $2}')
EO_V=$(earlyoom -v 2>&1 | head -1)
log "lab: kernel $KERNEL, $CPUS vCPU, $MEMTOT, systemd-oomd $OOMD_V, $EO_V, memwarden from $B"

cpu_ticks() { [ -n "$1" ] && [ -r /proc/$1/stat ] && awk '{ print $14 + $15 }' /proc/$1/stat || echo ""; }
mib() { echo $(( ${1:-0} >> 20 )); }

# --- regimes
regime_up() { # REGIME: start the supervisor, set SUP_PID
        SUP_PID=
        case $1 in
        none) ;;
        oomd) systemctl restart systemd-oomd; SUP_PID=$(systemctl show -P MainPID systemd-oomd) ;;
        earlyoom) systemctl restart earlyoom; SUP_PID=$(systemctl show -P MainPID earlyoom) ;;
        memwarden) systemctl restart memwardend || journalctl -u memwardend --no-pager | tail -20 >&2
                   SUP_PID=$(systemctl show -P MainPID memwardend) ;;
        esac
        [ "$SUP_PID" = 0 ] && SUP_PID=
}
regime_down() {
        case $1 in
        oomd) systemctl stop systemd-oomd 2>/dev/null ;;
        earlyoom) systemctl stop earlyoom ;;
        memwarden) systemctl stop memwardend; rm -f /etc/memwarden/policy.d/*.conf ;;
        esac
}
# unit_props MAX_MIB: the systemd-run -p options for the regime/brake of this cell
unit_props() {
        local max=$1
        PROPS=(-p MemoryMax=${max}M -p MemorySwapMax=0 -p OOMPolicy=continue)
        if [ "$BRAKE" = on ] && [ "$REGIME" != memwarden ]; then PROPS+=(-p MemoryHigh=$((max * 1024 * 7 / 8))K); fi
        if [ "$REGIME" = oomd ]; then PROPS+=(-p ManagedOOMMemoryPressure=kill -p ManagedOOMMemoryPressureLimit=20%); fi
}
# mw_policy_pressure: the [Pressure] section of the shipped tight-container example, Brake= only when braked
mw_pressure() {
        echo "[Pressure]"
        echo "SomeTrigger=100ms/1s"; echo "FullTrigger=50ms/1s"; echo "SomeAvg10=10%"; echo "FullAvg10=5%"
        echo "HighEvents=yes"; echo "MaxEvents=yes"; echo "Usage=${1:-85%}"
        echo "SampleInterval=500ms"; echo "Hysteresis=10s"; echo "MaxThrottle=30s"
        [ "$BRAKE" = on ] && echo "Brake=87.5%"
        return 0
}
cg_of() { local p; p=$(systemctl show -P ControlGroup "$1" 2>/dev/null); [ -n "$p" ] && echo /sys/fs/cgroup$p; }

# wait_until SECONDS CMD...: poll every 0.3 s; 1 on timeout
wait_until() { local end=$(( $(date +%s) + $1 )); shift; until "$@"; do [ "$(date +%s)" -lt $end ] || return 1; sleep 0.3; done; }
unit_gone() { ! systemctl is-active -q "$UNIT"; }

# ================= scenarios: each sets MAX and writes the memwarden policy, starts $UNIT, observes, and
# sets OUTCOME (text), LOST (yes/no/-), RECOV (MiB recovered without a kill or -)
scen_frag() {
        MAX=256
        { echo "[Match]"; echo "Unit=$UNIT"; mw_pressure; echo "[Actions]"; echo "Ladder=trim kill"
          echo "[Trim]"; echo "Settle=4s"; echo "Cooldown=10s"; echo "[Kill]"; echo "Mode=cgroup"; echo "Settle=10s"; } >/etc/memwarden/policy.d/lab.conf
        regime_up $REGIME
        local l=$W/$UNIT.log; rm -f $l $W/frag-a.out $W/frag-b.out
        cat >$W/frag.sh <<S
#!/bin/bash
$FRAG --mib 150 > $W/frag-a.out &
a=\$!
until grep -q ^ready $W/frag-a.out 2>/dev/null; do sleep 0.1; done
echo "a \$a \$(cat $W/frag-a.out)" >> $l
$FRAG --mib 0 --threads 1 --then-alloc 150 --stdin </dev/null > $W/frag-b.out
echo "b-exit \$? \$(tr "\\n" " " < $W/frag-b.out)" >> $l
wait
S
        chmod +x $W/frag.sh
        unit_props $MAX
        start_sampler
        systemd-run --quiet --unit=$UNIT "${PROPS[@]}" -p "Environment=LD_PRELOAD=$LIB" $W/frag.sh
        wait_until 40 grep -qs "^a " $l || { OUTCOME="A never ready"; LOST=-; RECOV=-; return; }
        local apid a_rss; read -r _ apid _ _ a_rss _ < <(grep "^a " $l)
        wait_until 40 sh -c "grep -qs '^b-exit ' $l || ! systemctl is-active -q $UNIT"
        local bdone=no brc; brc=$(awk '/^b-exit/ { print $2 }' $l)
        [ "$brc" = 0 ] && grep -q "allocated 150" $l && bdone=yes
        sleep 2
        local a_now=-
        kill -0 $apid 2>/dev/null && a_now=$(awk '/^VmRSS/ { print $2 * 1024 }' /proc/$apid/status)
        local a_alive=no; [ "$a_now" != - ] && a_alive=yes
        OUTCOME="B completed: $bdone${brc:+ (rc $brc)}; A alive: $a_alive; A RSS $(mib $a_rss)->$( [ "$a_now" = - ] && echo - || mib $a_now) MiB"
        KEY="B done $bdone, A $( [ $a_alive = yes ] && echo alive || echo dead)"
        LOST=-
        if [ "$a_now" != - ]; then RECOV=$(( (a_rss - a_now) >> 20 )); else RECOV=-; fi
}

scen_leak() {
        MAX=128
        local st=$W/leak.state; rm -f $st
        { echo "[Match]"; echo "Unit=$UNIT"; mw_pressure 40%; echo "[Actions]"; echo "Ladder=alert restart kill"
          echo "[Alert]"; echo "Settle=15s"; echo "[Restart]"; echo "LeadTime=30s"; echo "[Kill]"; echo "Settle=10s"; } >/etc/memwarden/policy.d/lab.conf
        regime_up $REGIME
        unit_props $MAX
        start_sampler
        systemd-run --quiet --unit=$UNIT "${PROPS[@]}" python3 $SRC/tests/helpers/leak.py $st 6
        local inv0; inv0=$(systemctl show -P InvocationID $UNIT)
        # decided when: flushed and running again (graceful restart), or the unit is no longer active, or the
        # kernel killed in it; else the 50 s window ends (livelock/throttled or still growing).
        leak_decided() {
                { grep -q flushed $st 2>/dev/null && systemctl is-active -q $UNIT &&
                  [ "$(systemctl show -P InvocationID $UNIT)" != "$inv0" ]; } && return 0
                systemctl is-active -q $UNIT || return 0
                local c; c=$(cg_of $UNIT); [ -n "$c" ] && [ "$(awk '$1 == "oom_kill" { print $2 }' $c/memory.events)" -gt 0 ] && return 0
                return 1
        }
        local t0; t0=$(date +%s)
        wait_until 50 leak_decided; local dec=$?
        sleep 1
        local flushed=no restarted=no state=
        grep -q flushed $st 2>/dev/null && flushed=yes
        [ "$(systemctl show -P InvocationID $UNIT)" != "$inv0" ] && systemctl is-active -q $UNIT && restarted=yes
        state=$(systemctl show -P ActiveState $UNIT)/$(systemctl show -P Result $UNIT)
        local c; c=$(cg_of $UNIT); local cur=-; [ -n "$c" ] && cur=$(mib $(cat $c/memory.current))
        OUTCOME="flushed: $flushed; restarted gracefully: $( [ $flushed$restarted = yesyes ] && echo yes || echo no); unit $state; $( [ $dec = 0 ] && echo "decided after $(( $(date +%s) - t0 )) s" || echo "undecided at 50 s, memory.current $cur MiB")"
        if [ $flushed = yes ]; then LOST=no; elif [ $dec = 0 ]; then LOST=yes; else LOST="(stalled)"; fi
        KEY="flushed $flushed$( [ $dec = 0 ] || echo ", stalled")"
        RECOV=-
}

scen_burst() { # spike to 118 MiB of 128 (over the 112 MiB brake) in glibc small chunks (frag helper), free 90%, idle 10 s
        MAX=128
        { echo "[Match]"; echo "Unit=$UNIT"; mw_pressure; echo "[Actions]"; echo "Ladder=trim kill"
          echo "[Trim]"; echo "Settle=4s"; echo "Cooldown=10s"; echo "[Kill]"; echo "Settle=10s"; } >/etc/memwarden/policy.d/lab.conf
        regime_up $REGIME
        rm -f $W/burst.out
        unit_props $MAX
        start_sampler
        systemd-run --quiet --unit=$UNIT "${PROPS[@]}" -p "Environment=LD_PRELOAD=$LIB" sh -c "$FRAG --mib 118 > $W/burst.out"
        wait_until 40 sh -c "grep -q ^ready $W/burst.out || ! systemctl is-active -q $UNIT"
        local c; c=$(cg_of $UNIT)
        local r0=-; [ -n "$c" ] && r0=$(cat $c/memory.current)
        sleep 10
        local r1=-; c=$(cg_of $UNIT); [ -n "$c" ] && systemctl is-active -q $UNIT && r1=$(cat $c/memory.current)
        # memory.peak (the kernel's high-water mark) where it exists: a 0.5 s sample missed the spike when the
        # trim came right after the free (seen: "peak" 17 MiB under memwarden)
        local peak
        c=$(cg_of $UNIT); [ -n "$c" ] && [ -r $c/memory.peak ] && peak=$(cat $c/memory.peak) ||
                peak=$(awk '{ if ($2 > m) m = $2 } END { print m + 0 }' $SAMPLES)
        OUTCOME="ready: $(grep -q ^ready $W/burst.out && echo yes || echo no); memory.peak $(mib $peak) MiB, after the free $( [ "$r0" = - ] && echo - || mib $r0) MiB, after 10 s idle $( [ "$r1" = - ] && echo - || mib $r1) MiB"
        LOST=-
        if [ "$r1" != - ] && [ "$peak" -gt 0 ]; then RECOV=$(( (peak - r1) >> 20 )); else RECOV=-; fi
        KEY="$( grep -q ^ready $W/burst.out || echo "not ready, ")after idle $( [ "$r1" = - ] && echo "unit gone" || echo "$(mib $r1) MiB")"
}

scen_tmpfs() { # a job writes 200 MiB into /dev/shm in a 128M unit
        MAX=128
        { echo "[Match]"; echo "Unit=$UNIT"; mw_pressure; echo "[Actions]"; echo "Ladder=alert kill"
          echo "[Alert]"; echo "Settle=2s"; echo "[Kill]"; echo "Settle=10s"; } >/etc/memwarden/policy.d/lab.conf
        regime_up $REGIME
        rm -f /dev/shm/lab-fill
        unit_props $MAX
        start_sampler
        rm -f $W/tmpfs.out
        systemd-run --quiet --unit=$UNIT "${PROPS[@]}" sh -c "dd if=/dev/zero of=/dev/shm/lab-fill bs=1M count=200 status=none; echo dd-exit \$? > $W/tmpfs.out; sleep 600"
        wait_until 40 sh -c "[ -e $W/tmpfs.out ] || ! systemctl is-active -q $UNIT"
        sleep 2
        local sz; sz=$(du -m /dev/shm/lab-fill 2>/dev/null | cut -f1)
        OUTCOME="dd finished: $( [ -e $W/tmpfs.out ] && cat $W/tmpfs.out || echo no); /dev/shm/lab-fill ${sz:-0} MiB; unit $(systemctl show -P ActiveState $UNIT)"
        LOST=-; RECOV=-
        KEY="dd $( [ -e $W/tmpfs.out ] && cut -d' ' -f2 $W/tmpfs.out || echo stuck), unit $(systemctl show -P ActiveState $UNIT)"
        rm -f /dev/shm/lab-fill
}

scen_onepass() { # a 20 MB/s backup of a sparse archive beside a hot file re-read every 0.5 s, one MemoryMax=64M unit
        MAX=64
        if ! mountpoint -q /mnt/lab; then
                modprobe loop 2>/dev/null
                truncate -s 200M /run/lab-onepass.img && mkfs.ext4 -q -F /run/lab-onepass.img && mkdir -p /mnt/lab &&
                        mount -o loop /run/lab-onepass.img /mnt/lab && truncate -s 4G /mnt/lab/archive &&
                        dd if=/dev/urandom of=/mnt/lab/hot bs=1M count=34 status=none && sync ||
                        { OUTCOME="no ext4 loop device"; return; }
        fi
        # the policy of tests/integration/test-onepass.sh (drop-cache; Brake= only in the brake variant)
        { echo "[Match]"; echo "Unit=$UNIT"; echo "[Pressure]"; echo "Usage=50%"; echo "SampleInterval=500ms"; echo "Hysteresis=5s"
          [ "$BRAKE" = on ] && echo "Brake=87.5%"
          echo "[Actions]"; echo "Ladder=drop-cache"; echo "[DropCache]"; echo "Cooldown=500ms"; echo "Settle=500ms"; } >/etc/memwarden/policy.d/lab.conf
        regime_up $REGIME
        # the workload of tests/integration/test-onepass.sh (its paced variant: 400 MiB at 20 MB/s); the unit
        # stays up after it so that the cell ends on the workload's own report
        printf '#!/bin/bash\n%s /mnt/lab "$1" paced\nsleep 600\n' "$SRC/tests/helpers/onepass-workload.sh" >$W/onepass.sh
        chmod +x $W/onepass.sh; rm -f $W/onepass.out
        sync; echo 3 >/proc/sys/vm/drop_caches
        unit_props $MAX
        start_sampler
        systemd-run --quiet --unit=$UNIT "${PROPS[@]}" $W/onepass.sh $W/onepass.out
        wait_until 60 sh -c "[ -s $W/onepass.out ] || ! systemctl is-active -q $UNIT"
        sleep 1
        local r p t
        if [ -s $W/onepass.out ]; then
                read -r _ r _ p _ t <$W/onepass.out
                OUTCOME="hot-file refaults during the stream: $r pages; hot passes $p; stream $((t / 1000)) s"
                KEY="refaults $r"
        else OUTCOME="workload did not finish in 60 s (unit $(systemctl show -P ActiveState $UNIT))"; KEY="unfinished"; fi
        LOST=-; RECOV=-
}

scen_churn() { # 30 guarded units started and stopped while the supervisor runs: its CPU, RSS and fds
        MAX=64
        if [ "$BRAKE" = on ]; then OUTCOME="(no brake variant)"; KEY=-; LOST=-; RECOV=-; regime_up none; return; fi
        { echo "[Match]"; echo "Unit=lab-churn-*.service"; mw_pressure; echo "[Actions]"; echo "Ladder=alert"; } >/etc/memwarden/policy.d/lab.conf
        regime_up $REGIME
        local props=(-p MemoryMax=${MAX}M -p MemorySwapMax=0)
        [ "$REGIME" = oomd ] && props+=(-p ManagedOOMMemoryPressure=kill -p ManagedOOMMemoryPressureLimit=20%)
        sleep 2
        local c0 r0 f0 c1 r1 f1
        if [ -n "$SUP_PID" ]; then c0=$(cpu_ticks $SUP_PID); r0=$(awk '/^Rss:/ { print $2 }' /proc/$SUP_PID/smaps_rollup); f0=$(ls /proc/$SUP_PID/fd | wc -l); fi
        start_sampler
        local t0; t0=$(date +%s.%N)
        for i in $(seq 1 "${LAB_CHURN:-30}"); do
                systemd-run --quiet --unit=lab-churn-$i.service "${props[@]}" sleep infinity
                systemctl stop lab-churn-$i.service
        done
        local dt; dt=$(awk -v a=$t0 -v b=$(date +%s.%N) 'BEGIN { printf "%.0f", b - a }')
        sleep 2
        if [ -n "$SUP_PID" ] && [ -d /proc/$SUP_PID ]; then
                c1=$(cpu_ticks $SUP_PID); r1=$(awk '/^Rss:/ { print $2 }' /proc/$SUP_PID/smaps_rollup); f1=$(ls /proc/$SUP_PID/fd | wc -l)
                local cpu; cpu=$(awk -v a=$c0 -v b=$c1 -v k=$TICK 'BEGIN { printf "%.2f", (b - a) / k }')
                OUTCOME="${LAB_CHURN:-30} units in $dt s; supervisor CPU ${cpu} s, RSS $r0->$r1 KiB, fds $f0->$f1"
                KEY="CPU ${cpu} s, fds $f0->$f1"
        elif [ -n "$SUP_PID" ]; then OUTCOME="the supervisor died during churn"; KEY="died"
        else OUTCOME="${LAB_CHURN:-30} units in $dt s; no supervisor"; KEY=-; fi
        LOST=-; RECOV=-
}

SAMPLER_PID=
start_sampler() { SAMPLES=$W/$UNIT.samples; rm -f $SAMPLES; python3 $SRC/bench/lab-sampler.py $UNIT $SAMPLES 0.5 & SAMPLER_PID=$!; }

# pressure figures from the samples: first pressured sample (high/max counter rose, or PSI some total rose by
# >= 50 ms in a 0.5 s sample), last pressured sample; peak some avg10; max oom_kill seen
pressure_figs() {
        awk '
        NR == 1 { ps = $4; ph = $6; pm = $7 }
        { pr = ($6 > ph || $7 > pm || $4 - ps >= 50000)
          if (pr) { if (first == "") first = $1; last = $1 }
          if ($3 > peak) peak = $3; if ($9 > ok) ok = $9
          ps = $4; ph = $6; pm = $7; lastt = $1 }
        END {
          if (first == "") rel = "no pressure seen"
          else if (last == lastt) rel = sprintf(">%.1f (still at end)", last - first)
          else rel = sprintf("%.1f", last - first + 0.5)
          printf "%s|%.2f|%d\n", rel, peak, ok + 0 }' $SAMPLES 2>/dev/null
}

# who killed / what memwarden did (journal since T0 for this unit)
collect_actions() {
        journalctl --sync 2>/dev/null
        KERN_K=$(journalctl -k --since "@$T0S" -o cat --no-pager 2>/dev/null | grep "oom-kill:" | grep -c "$UNIT")
        OOMD_K=$(journalctl -u systemd-oomd --since "@$T0S" -o cat --no-pager 2>/dev/null | grep -c "Killed.*$UNIT")
        EO_K=$(journalctl -u earlyoom --since "@$T0S" -o cat --no-pager 2>/dev/null | grep -c "sending SIG.* to process")
        MW_ACTS=$(journalctl --since "@$T0S" -o json --no-pager _SYSTEMD_UNIT=memwardend.service 2>/dev/null | python3 -c '
import json, sys
unit = sys.argv[1]; acts = []; diag = set()
for line in sys.stdin:
    try: r = json.loads(line)
    except Exception: continue
    if r.get("UNIT") != unit: continue
    if r.get("MESSAGE_ID") in sys.argv[2:] and r.get("ACTION"):
        acts.append("%s=%s" % (r["ACTION"], r.get("RESULT", "?")))
    for k in ("MAP_DIAGNOSIS",):
        if r.get(k): diag.add("%s=%s" % (k, r[k]))
    if r.get("STAT_SHMEM"): diag.add("STAT_SHMEM=%dMiB" % (int(r["STAT_SHMEM"]) >> 20))
print(" ".join(acts) or "-", "|", " ".join(sorted(diag)) or "-")' "$UNIT" "$MW_ACTION" "$MW_PRESSURE")
        MW_A=${MW_ACTS%%|*}; MW_A=${MW_A% }; MW_D=${MW_ACTS#*| }
}

CSV=$OUT/lab.csv; MD=$OUT/lab.md
echo "date,kernel,run,scenario,regime,brake,memory_max_mib,oom_kill_events,kernel_kills,oomd_kills,earlyoom_kills,memwarden_actions,killed_by,outcome,data_lost,recovered_mib_no_kill,pressure_to_relief_s,peak_some_avg10,supervisor_cpu_s,wall_s,memwarden_diag,load_at_start,key" >$CSV
{
echo "| scenario | regime | brake | OOM kills (memory.events) | killed by | outcome | data lost | recovered w/o kill (MiB) | pressure→relief (s) | peak PSI some avg10 | supervisor CPU (s) | wall (s) | memwarden actions / diag |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
} | tee $MD

csvq() { local s=${1//\"/\"\"}; printf '"%s"' "$s"; }
IFS=, read -ra SCS <<<"$SCENARIOS"; IFS=, read -ra RGS <<<"$REGIMES"; IFS=, read -ra BKS <<<"$BRAKES"
for run in $(seq 1 $RUNS); do
for SCEN in "${SCS[@]}"; do
for REGIME in "${RGS[@]}"; do
for BRAKE in "${BKS[@]}"; do
        UNIT=lab-$SCEN-$REGIME-b$BRAKE-r$run.service
        log "cell $SCEN/$REGIME/brake=$BRAKE run $run ($UNIT)"
        LOAD=$(cut -d' ' -f1 /proc/loadavg)
        T0=$(date +%s.%N); T0S=${T0%.*}
        OUTCOME=; LOST=-; RECOV=-; MAX=0; KEY=-
        # the scenario starts the regime after writing its policy (regime_up), then the unit
        scen_$SCEN
        T1=$(date +%s.%N)
        kill $SAMPLER_PID 2>/dev/null; wait $SAMPLER_PID 2>/dev/null
        # supervisor CPU over the cell (utime+stime of its main process; it was started for this cell)
        SUPCPU=-; [ -n "$SUP_PID" ] && t=$(cpu_ticks $SUP_PID) && [ -n "$t" ] && SUPCPU=$(awk -v t=$t -v k=$TICK 'BEGIN { printf "%.2f", t / k }')
        IFS='|' read -r REL PEAK OOMK < <(pressure_figs)
        collect_actions
        [ "${OOMK:-0}" -lt "$KERN_K" ] && OOMK=$KERN_K
        KB=
        [ "$KERN_K" -gt 0 ] && KB+="kernel($KERN_K) "
        [ "$OOMD_K" -gt 0 ] && KB+="systemd-oomd($OOMD_K) "
        [ "$EO_K" -gt 0 ] && KB+="earlyoom($EO_K) "
        case " $MW_A" in *" kill="*) KB+="memwarden(kill) " ;; esac
        case " $MW_A" in *" restart="*) KB+="memwarden(restart: SIGTERM via systemd) " ;; esac
        KB=${KB% }; [ -z "$KB" ] && KB=nobody
        WALL=$(awk -v a=$T0 -v b=$T1 'BEGIN { printf "%.1f", b - a }')
        [ "$REGIME" = memwarden ] || { MW_A=n/a; MW_D=n/a; }
        systemctl stop $UNIT 2>/dev/null; systemctl reset-failed $UNIT 2>/dev/null
        regime_down $REGIME
        echo "| $SCEN | $REGIME | $BRAKE | ${OOMK:-0} | $KB | $OUTCOME | $LOST | $RECOV | $REL | $PEAK | $SUPCPU | $WALL | $MW_A / $MW_D |" | tee -a $MD
        echo "$DATE,$KERNEL,$run,$SCEN,$REGIME,$BRAKE,$MAX,${OOMK:-0},$KERN_K,$OOMD_K,$EO_K,$(csvq "$MW_A"),$(csvq "$KB"),$(csvq "$OUTCOME"),$(csvq "$LOST"),$RECOV,$(csvq "$REL"),$PEAK,$SUPCPU,$WALL,$(csvq "$MW_D"),$LOAD,$(csvq "$KEY")" >>$CSV
        cp $SAMPLES $OUT/ 2>/dev/null
done; done; done; done
{
echo
echo "Runs per cell: $RUNS. $DATE; kernel $KERNEL (Debian), qemu TCG, $CPUS vCPU, $MEMTOT, no swap; systemd-oomd $OOMD_V (DefaultMemoryPressureDurationSec=1s, ManagedOOMMemoryPressureLimit=20%); $EO_V (defaults)."
echo "OOM kills = max(memory.events oom_kill as sampled every 0.5 s, kernel 'oom-kill:' log lines naming the unit). Pressure→relief: first to last 0.5 s sample with a memory.events high/max increase or PSI some total +>=50 ms; '(still at end)' = still pressured at the last sample."
echo "Brake on: peers get MemoryHigh=7/8 MemoryMax on the unit; memwarden sets it itself (Brake=87.5%). Supervisor CPU = utime+stime of the supervisor's main process, started fresh for each cell."
} | tee -a $MD
journalctl -b -o short-monotonic --no-pager >$OUT/journal.txt 2>/dev/null
exit 0

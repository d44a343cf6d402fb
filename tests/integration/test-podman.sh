#!/bin/bash
# SPDX-License-Identifier: MIT
# Real podman containers (Debian 12's podman 4.3 + crun, root, cgroup manager systemd, vfs storage on a tmpfs,
# --network none, no registry): one tiny image made here with `podman import` (directories and the usr-merge
# links; /usr is bind-mounted read-only from the host for python3). Nothing of memwarden is inside the
# containers: no preload library, trim is by injection from the host ([Trim] Inject=yes). The containers run
# under podman's default seccomp profile (Seccomp: 2): the injector reads the python's filter and sees that it
# allows the release's calls, which needs memwardend with CAP_SYS_ADMIN and no seccomp filter of its own
# (the drop-in docs/inject.md gives for containers).
# Each scenario runs twice AT ONCE: in a container a policy matches and in one no policy matches ("-alone":
# [Match] Container= is exact, so memwardend leaves it alone). Each outcome is judged by the container's own
# memory.events oom_kill and its processes' own state against its -alone twin:
#  a. frag (160 MiB): python3 A holds ~90 MiB of freed glibc heap, then python3 B needs 100 MiB. Alone: the
#     kernel OOM-kills A (oom_kill >= 1). Guarded ([Match] Container=frag): the brake on the container's own
#     cgroup, malloc_trim(0) injected into A, B gets its memory, A lives, oom_kill 0; the records carry
#     CONTAINER_NAME, CONTAINER_ID, CONTAINER_IMAGE and CONTAINER_RUNTIME.
#  b. leak (96 MiB, 3 MiB/s): alone, the kernel OOM-kills it (oom_kill >= 1) and nothing is flushed. Guarded:
#     restarted through `podman restart --time 30` (the runtime's own stop timeout) at the brake, its process
#     flushes on SIGTERM (its own state file says so), the container runs again, oom_kill 0. A restarted
#     leaky container idles (its state file says it flushed once): the test is not a race with a second leak.
#  c. hog (64 MiB, nothing to give back): alone, the kernel OOM-kills it (oom_kill >= 1); guarded by
#     Ladder=kill, memwarden kills it at the brake: its own exit status is 137 (SIGKILL), the kill record
#     names the container, oom_kill 0.
# Finally every kernel OOM kill of the boot was in an -alone container (the kernel log's oom_memcg=).
# Phases: a, then b and c together (at most 4 containers, 320 MiB of limits, at once in the 1 GiB VM).
# Registered in meson.build (paid for by test-basics, test-basics-2 and test-kill's shorter wait). Passed
# twice (body 417 s at host load 13-15 beside other VMs, 336 s at load 7-9 beside another VM).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.sh"

command -v podman >/dev/null || skip "no podman (scripts/install-deps --vm installs it)"
T_BEGIN=$(date +%s)
# injection into seccomp-filtered processes (docs/inject.md): CAP_SYS_ADMIN and none of the unit's settings
# that install a seccomp filter; before mw_install, whose daemon-reload reads it (up to 30 s under TCG)
mkdir -p /etc/systemd/system/memwardend.service.d
printf '[Service]\nCapabilityBoundingSet=CAP_SYS_ADMIN\n%s=\n' SystemCallFilter SystemCallArchitectures \
        RestrictAddressFamilies >/etc/systemd/system/memwardend.service.d/inject.conf
printf '%s=no\n' MemoryDenyWriteExecute RestrictNamespaces RestrictRealtime RestrictSUIDSGID LockPersonality \
        ProtectKernelTunables ProtectKernelModules ProtectKernelLogs ProtectClock ProtectHostname PrivateDevices \
        >>/etc/systemd/system/memwardend.service.d/inject.conf
mw_install
wait_system_bus # podman (crun, conmon) talks to systemd over D-Bus (cgroup manager systemd)
echo -e "[Daemon]\nLogLevel=debug" >/etc/memwarden/memwarden.conf # the guest journal shows the guard's timing

# --------------------------------------------------------------------------------------------------------
# podman, and a 20 KiB image
mkdir -p /etc/containers /var/lib/containers
mount -t tmpfs tmpfs /var/lib/containers
cat >/etc/containers/storage.conf <<'S'
[storage]
driver = "vfs"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
S
R=/run/mw-rootfs
mkdir -p $R/usr $R/etc $R/tmp $R/proc $R/sys $R/dev $R/run $R/out $R/src
for l in bin lib lib64 sbin; do ln -s usr/$l $R/$l; done
cp /etc/passwd /etc/group $R/etc/
tar -C $R -cf /run/mw-rootfs.tar . && podman import -q /run/mw-rootfs.tar localhost/mw-tiny:1 >/dev/null ||
        fail "podman import"
pass "image localhost/mw-tiny:1 imported ($(podman image inspect -f '{{.Size}}' localhost/mw-tiny:1) bytes)"

OUT=/run/mw-ct
mkdir -p $OUT
mw_diag() { # what the daemon sees, for a failure
        memwardenctl status >&2
        mw_dump_journal 60
}
declare -A CG ID # container name -> its cgroup directory, its id (one podman inspect each: ~1 s under TCG)
ctr_note() { ID[$1]=$(podman inspect -f '{{.Id}}' "$1") && CG[$1]=/sys/fs/cgroup/machine.slice/libpod-${ID[$1]}.scope/container; }
declare -A R # the fields of the record mw_wait_record found, read with one python3
rec_load() {
        R=()
        eval "$(python3 -c 'import json, shlex
for k, v in json.load(open("/tmp/mw-record.json")).items():
    if k.isidentifier():
        print("R[%s]=%s" % (k, shlex.quote(v if isinstance(v, str) else json.dumps(v))))')"
}
rec_wait() { mw_wait_record "$@" && rec_load; } # TIMEOUT ID PYEXPR
rec_wait_act() { rec_wait "$1" "$MW_PRESSURE $MW_ACTION" "$2"; } # TIMEOUT PYEXPR: the onset record or a later one
prun() { # NAME MEMORY [PODMAN-OPTIONS...] -- CMD...: a container of the tiny image; /out is $OUT, /src the tree
        local name=$1 mem=$2 opts=(); shift 2
        while [ "$1" != -- ]; do opts+=("$1"); shift; done
        shift
        podman run -d --name "$name" --memory "$mem" --memory-swap "$mem" --network none "${opts[@]}" \
                -v /usr:/usr:ro -v $OUT:/out -v "$MEMWARDEN_SOURCE:/src:ro" localhost/mw-tiny:1 "$@" >/dev/null
}
prun_all() { # "NAME MEMORY [OPTS] -- CMD" ...: podman run of each at once; fails if any failed
        local pids=() spec
        for spec in "$@"; do
                eval "prun $spec" & pids+=($!)
        done
        for p in "${pids[@]}"; do wait "$p" || fail "podman run ($*)"; done
        for spec in "$@"; do ctr_note "${spec%% *}" || fail "podman inspect ${spec%% *}"; done
}
ctr_runs() { # CGROUP COMM: a process named COMM is in the cgroup
        local p
        for p in $(cat "$1/cgroup.procs" 2>/dev/null); do grep -qx "$2" /proc/$p/comm 2>/dev/null && return 0; done
        return 1
}
phase_t0() { T_PHASE=$(date +%s); }
phase_took() { info "phase $1: $(( $(date +%s) - T_PHASE )) s"; }

cat >$OUT/frag.sh <<'S'
#!/bin/bash
# frag.sh NAME A_MIB B_MIB: python A keeps 10% of A_MIB and frees the rest into glibc's heap; then B needs B_MIB,
# 1 MiB each 0.1 s
n=$1
python3 /src/tests/helpers/frag.py $2 > /out/$n.a &
apid=$!
until grep -q ^ready /out/$n.a 2>/dev/null; do sleep 0.1; done
echo "a $(cat /out/$n.a)" >> /out/$n.log
# B takes its memory 1 MiB at a time, 0.1 s apart (a program's allocations take time; all at once, the kernel
# reached memory.max and OOM-killed A before the injection reached it at host load ~16)
python3 -c "
import time
b = []
for i in range($3):
    b.append(b'y' * (1 << 20))
    time.sleep(0.1)
print('allocated', sum(map(len, b)) >> 20)" > /out/$n.b
echo "b-exit $? $(cat /out/$n.b)" >> /out/$n.log
if kill -0 $apid 2>/dev/null; then echo a-alive; else echo a-dead; fi >> /out/$n.log
exec sleep 600 # the cgroup stays for its counters
S
# The leak: a worker thread leaks 3 MiB/s while the main thread waits for SIGTERM, flushes and exits. Pages are
# touched by a read() from /dev/zero, with the GIL released: tests/helpers/leak.py touches them in Python with
# the GIL held, and throttled at the brake (memory.high) its handler did not run within podman's --time 10
# (seen here: SIGKILL 10 s after the restart's SIGTERM, nothing flushed).
cat >$OUT/leaker.py <<'S'
import mmap, os, signal, sys, threading, time

state, rate = sys.argv[1], float(sys.argv[2])
chunks = []


def flush(*_):
    fd = os.open(state, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, b"flushed %d pid %d\n" % (len(chunks), os.getpid()))
    os.fsync(fd)
    os._exit(0)


def leak():
    with open("/dev/zero", "rb", buffering=0) as zero:
        while True:
            m = mmap.mmap(-1, 1 << 20)  # not touched yet
            zero.readinto(m)  # touched by the kernel, the GIL released
            chunks.append(m)
            time.sleep(1.0 / rate)


signal.signal(signal.SIGTERM, flush)
threading.Thread(target=leak, daemon=True).start()
while True:
    time.sleep(3600)
S
cat >$OUT/leak.sh <<'S'
#!/bin/bash
# leak.sh NAME: the leak, with SIGTERM (podman's, to this PID 1) passed on; once it has flushed (a restart),
# it idles. The cgroup stays after a kernel OOM kill, for its counters.
grep -q flushed /out/$1.state 2>/dev/null && exec sleep 600
python3 /out/leaker.py /out/$1.state 3 &
p=$!
trap 'kill -TERM $p; wait $p; exit 0' TERM
wait $p
echo "leak-exit $?" >> /out/$1.log
exec sleep 600
S
cat >$OUT/hog.sh <<'S'
#!/bin/bash
python3 /src/tests/integration/hog.py 120 2 0.05
echo "hog-exit $?" >> /out/$1.log
exec sleep 600 # the cgroup stays for its counters
S
chmod +x $OUT/*.sh

mw_policy 30-podman <<P
[Match]
Container=frag
[Pressure]
# the brake alone: a PSI trigger fired on a loaded TCG host while python A was still building its heap
# (trim at RSS 68 MiB, 45 MiB released, A then freed the rest after the trim)
Brake=87.5%
[Actions]
Ladder=trim
[Trim]
Inject=yes
InjectTimeout=20s
Settle=6s
Cooldown=10s
P
# --time 30: at host load 19 the container took 15 s to stop after its SIGTERM (flushed within 3 s, then its
# throttled shell), and `podman restart --time 10` failed: "sending SIGKILL to container ...: container state
# improper: stopped", exit 125, the container left stopped.
# Brake=50% and BrakeRelief=90%: while the restart runs, memory.high goes up to 91 MiB (the default relief
# went to 76.8 MiB from a 60% brake): at host load ~9 podman's SIGTERM came 7 s after the action, the leak
# had passed 76.8 MiB by then, and the throttled container did not stop within --time 30 (no flush, SIGKILL).
mw_policy 31-podman <<P
[Match]
Container=leaky
[Pressure]
Brake=50%
BrakeRelief=90%
SampleInterval=500ms
[Actions]
Ladder=restart
[Restart]
Command=/usr/bin/systemd-run --wait --collect --quiet /usr/bin/podman restart --time 30 %c
P
mw_policy 32-podman <<P
[Match]
Container=hog
[Pressure]
Brake=75%
[Actions]
Ladder=kill
[Kill]
Mode=largest
P
MW_T0=$(date '+%Y-%m-%d %H:%M:%S')
mw_start
info "set-up: $(( $(date +%s) - T_BEGIN )) s"

# --------------------------------------------------------------------------------------------------------
# a. frag, guarded and alone at once
phase_t0
prun_all "frag-alone 160m -- /out/frag.sh frag-alone 100 100" "frag 160m -- /out/frag.sh frag 100 100"
for n in frag-alone frag; do
        wait_for 180 grep -q "^a-" $OUT/$n.log || { mw_diag; cat $OUT/$n.log >&2; fail "$n: python B did not finish"; }
done
declare -A a_state b_rc b_out ooms
for n in frag-alone frag; do
        read -r _ b_rc[$n] b_out[$n] < <(grep "^b-exit " $OUT/$n.log)
        a_state[$n]=$(grep "^a-" $OUT/$n.log)
        ooms[$n]=$(cg_event "${CG[$n]}" oom_kill)
        info "$n: $(grep '^a ' $OUT/$n.log | cut -d' ' -f1-4) -> ${a_state[$n]}; B: exit ${b_rc[$n]} ${b_out[$n]}; memory.events oom_kill ${ooms[$n]:-?}"
done
seccomp_ct=$(for p in $(cat "${CG[frag]}/cgroup.procs"); do grep -h ^Seccomp: /proc/$p/status; done | sort | uniq -c | xargs)
assert_contains "$seccomp_ct" "Seccomp: 2" "frag: its processes run under podman's default seccomp profile ($seccomp_ct)"
assert_eq "$(grep ^Seccomp: /proc/$(systemctl show -P MainPID memwardend)/status | cut -f2)" 0 \
        "memwardend runs without a seccomp filter of its own (the drop-in), so it can read the containers' filters"
assert_ge "${ooms[frag-alone]:-0}" 1 "frag alone: the kernel OOM-killed in the container (memory.events oom_kill)"
assert_eq "${a_state[frag-alone]}" a-dead "frag alone: python A (the one holding the freed heap) was the victim"

rec_wait 10 "$MW_BRAKE" "r.get('CONTAINER_NAME') == 'frag' and r.get('BRAKE') == 'set'" ||
        { mw_diag; fail "frag: no brake record naming the container"; }
assert_eq "${R[CGROUP]}" "${CG[frag]#/sys/fs/cgroup}" "frag: the brake is on the container's own cgroup"
assert_eq "${R[BRAKE_BYTES]}" $(( 160 * 7 / 8 << 20 )) "frag: brake at 87.5% of the container's 160 MiB"
assert_eq "${R[CONTAINER_ID]}" "${ID[frag]}" "frag: CONTAINER_ID is the container's id"
assert_eq "${R[CONTAINER_IMAGE]}" localhost/mw-tiny:1 "frag: CONTAINER_IMAGE is the image podman names"
assert_eq "${R[CONTAINER_RUNTIME]}" podman "frag: CONTAINER_RUNTIME=podman"
rec_wait_act 30 "r.get('CONTAINER_NAME') == 'frag' and r.get('ACTION') == 'trim'" ||
        { mw_diag; fail "frag: no trim record naming the container"; }
info "frag: trim record: ${R[MESSAGE]}"
assert_eq "${R[CONTAINER_ID]}" "${ID[frag]}" "frag: the trim record carries CONTAINER_ID"
assert_ge "${R[MAP_PROCESSES]}" 2 "frag: the record's map lists the container's processes (MAP_PROCESSES=${R[MAP_PROCESSES]}: frag.sh, python A, B)"
assert_contains "${R[MAP_TOP]}" "python3" "frag: the record's map names python3 (${R[MAP_TOP]})"
rec_wait 30 "$MW_RESULT" "r.get('CONTAINER_NAME') == 'frag' and r.get('ACTION') == 'trim' and int(r.get('TRIM_INJECTED', '0')) >= 1" ||
        { mw_diag; fail "frag: no settle record with TRIM_INJECTED"; }
info "frag: settle record: TRIM_INJECTED=${R[TRIM_INJECTED]} TRIM_RELEASED_BYTES=${R[TRIM_RELEASED_BYTES]} TRIM_PROCESS=${R[TRIM_PROCESS]}"
assert_contains "${R[TRIM_PROCESS]}" "via=injected how=malloc_trim" "frag: malloc_trim injected into the container's python (no preload inside)"
assert_ge $(( ${R[TRIM_RELEASED_BYTES]} >> 20 )) 60 "frag: the record says >= 60 MiB released"
assert_eq "${a_state[frag]}" a-alive "frag: guarded, python A survived (alone: ${a_state[frag-alone]})"
assert_eq "${b_rc[frag]}" 0 "frag: guarded, the second python3 exited 0"
assert_contains "${b_out[frag]}" "allocated 100" "frag: guarded, the second python3 got its 100 MiB"
assert_eq "${ooms[frag]:-x}" 0 "frag: guarded, memory.events oom_kill is 0 (alone: ${ooms[frag-alone]})"
cg_frag_alone=${CG[frag-alone]#/sys/fs/cgroup}
podman rm -f -t 0 frag frag-alone >/dev/null
phase_took a

# --------------------------------------------------------------------------------------------------------
# b and c: the leak and the hog, each guarded and alone, all four at once
phase_t0
T_LEAK=$(date '+%Y-%m-%d %H:%M:%S')
prun_all "leaky-alone 96m -- /out/leak.sh leaky-alone" "leaky 96m -- /out/leak.sh leaky" \
        "hog-alone 64m -- /out/hog.sh hog-alone" "hog 64m -- /out/hog.sh hog"
started0=$(podman inspect -f '{{.State.StartedAt}}' leaky)
cg_leaky_alone=${CG[leaky-alone]#/sys/fs/cgroup}
cg_hog_alone=${CG[hog-alone]#/sys/fs/cgroup}

# c. the hog
rec_wait_act 90 "r.get('CONTAINER_NAME') == 'hog' and r.get('ACTION') == 'kill'" ||
        { mw_diag; fail "hog: no kill record naming the container"; }
info "hog: ${R[MESSAGE]}"
assert_eq "${R[RESULT]}" ok "hog: kill RESULT=ok"
assert_eq "${R[KILL_TARGET]}" largest-process "hog: the largest process (the hog) killed"
assert_eq "${R[CONTAINER_IMAGE]}" localhost/mw-tiny:1 "hog: the kill record carries the image"
for n in hog hog-alone; do
        wait_for 60 grep -q "^hog-exit" $OUT/$n.log || { mw_diag; fail "$n: the hog still runs"; }
done
hog_alone_ooms=$(cg_event "${CG[hog-alone]}" oom_kill)
info "hog-alone: $(cat $OUT/hog-alone.log), memory.events oom_kill ${hog_alone_ooms:-?}"
assert_ge "${hog_alone_ooms:-0}" 1 "hog alone: the kernel OOM-killed the hog (memory.events oom_kill)"
assert_eq "$(cat $OUT/hog.log)" "hog-exit 137" "hog: guarded, the hog's own exit status says SIGKILL"
assert_eq "$(cg_event "${CG[hog]}" oom_kill)" 0 "hog: guarded, memory.events oom_kill 0: memwarden killed, not the kernel (alone: $hog_alone_ooms)"

# b. the leak
rec_wait_act 90 "r.get('CONTAINER_NAME') == 'leaky' and r.get('ACTION') == 'restart'" ||
        { mw_diag; fail "leak: no restart record for leaky"; }
info "leak: ${R[MESSAGE]}"
assert_eq "${R[RESTART_VIA]}" command "leak: restarted through [Restart] Command= (podman restart)"
assert_eq "${R[CONTAINER_IMAGE]}" localhost/mw-tiny:1 "leak: the restart record carries the image"
wait_for 90 grep -q flushed $OUT/leaky.state || { mw_diag; fail "leak: no SIGTERM flush"; }
pass "leak: guarded, the container's process flushed on SIGTERM within podman's --time 30: $(head -1 $OUT/leaky.state)"
# the restarted container (same id, same cgroup path) runs leak.sh again, which finds its flushed state and idles
wait_for 90 ctr_runs "${CG[leaky]}" sleep || { mw_diag; fail "leak: the container does not run again"; }
assert_eq "$(podman inspect -f '{{.State.Running}}' leaky) $(podman inspect -f '{{.State.StartedAt}}' leaky | grep -c "^$started0\$")" "true 0" \
        "leak: podman says leaky runs again, started anew (it started at $started0)"
assert_eq "$(cg_event "${CG[leaky]}" oom_kill)" 0 "leak: guarded, memory.events oom_kill 0 in the restarted container"
wait_for 60 grep -q "^leak-exit" $OUT/leaky-alone.log || fail "leak alone: still leaking after 60 s more"
leak_alone_ooms=$(cg_event "${CG[leaky-alone]}" oom_kill)
info "leaky-alone: $(cat $OUT/leaky-alone.log), memory.events oom_kill ${leak_alone_ooms:-?}; state file: '$(cat $OUT/leaky-alone.state 2>/dev/null)'"
assert_ge "${leak_alone_ooms:-0}" 1 "leak alone: the kernel OOM-killed it (memory.events oom_kill)"
assert_eq "$(cat $OUT/leaky-alone.log)" "leak-exit 137" "leak alone: its own exit status says SIGKILL"
assert_eq "$(cat $OUT/leaky-alone.state 2>/dev/null)" "" "leak alone: nothing flushed (guarded: $(head -1 $OUT/leaky.state))"
phase_took "b+c"

# Every kernel OOM kill of this boot was in an -alone container.
mapfile -t killed < <(journalctl -k --no-pager | grep -o 'oom_memcg=[^,]*' | sed 's/^oom_memcg=//' | sort -u)
info "kernel OOM kills in: ${killed[*]}"
for cg in "${killed[@]}"; do
        case "$cg" in
        "$cg_frag_alone"|"$cg_leaky_alone"|"$cg_hog_alone") ;;
        *) fail "the kernel OOM-killed in $cg, not an -alone container" ;;
        esac
done
assert_ge "${#killed[@]}" 3 "the kernel OOM-killed in the three -alone containers and nowhere else"
info "body: $(( $(date +%s) - T_BEGIN )) s (memwardend up $(( $(date +%s) - $(date -d "$MW_T0" +%s) )) s)"
done_testing

#!/bin/bash
# SPDX-License-Identifier: MIT
# NOT REGISTERED in meson.build: does not pass yet. podman (Debian 12's 4.3, root, vfs storage on a tmpfs,
# cgroup manager systemd, --network none, --rootfs /:O for python3), matched by [Match] Container=,
# asserted by memory.events oom_kill of machine.slice and by the container's own state:
#  a. frag: python3 holds ~135 MiB of freed glibc heap in a 256 MiB container, then a second python3 needs
#     150 MiB: trimmed (libmemwarden-trim.so bind-mounted and preloaded), no OOM kill, the record names the
#     container. In the one run made (host under heavy load), the second python3 died with 137: the
#     container was not relieved in time; not diagnosed yet.
#  b. leak: restarted through `podman restart --time 10` (Command=, via systemd-run) before its limit,
#     SIGTERM seen; c. nothing to give back: killed by memwarden (cgroup.kill), not the kernel. Not reached.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.sh"

command -v podman >/dev/null || skip "no podman (scripts/install-deps --vm installs it)"
HELPERS=$MEMWARDEN_SOURCE/tests/helpers
HOG=$MEMWARDEN_SOURCE/tests/integration/hog.py
mw_install
LIB=$(sed -n 's/^#define TRIM_LIBRARY_PATH "\(.*\)"$/\1/p' "$MEMWARDEN_BUILD/config.h")
[ -n "$LIB" ] && [ -e "$LIB" ] || fail "libmemwarden-trim.so not installed at '$LIB'"

# --------------------------------------------------------------------------------------------------------
# P. podman
mkdir -p /etc/containers /var/lib/containers
mount -t tmpfs tmpfs /var/lib/containers
cat >/etc/containers/storage.conf <<'S'
[storage]
driver = "vfs"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
S
OUT=/run/mw-ct
mkdir -p $OUT
machine_ooms() { cg_event /sys/fs/cgroup/machine.slice oom_kill; }
ctr_cgroup() { echo "/sys/fs/cgroup/machine.slice/libpod-$(podman inspect -f '{{.Id}}' "$1").scope/container"; }
prun() { # NAME MEMORY ARGS...: a container from the host's own files (--rootfs /:O), output dir at /out
        local name=$1 mem=$2; shift 2
        podman run -d --name "$name" --memory "$mem" --memory-swap "$mem" --network none \
                -v $OUT:/out -v "$LIB:$LIB:ro" -e LD_PRELOAD="$LIB" --rootfs /:O "$@" >/dev/null ||
                fail "podman run $name"
}

mw_policy 30-podman <<P
[Match]
Container=frag
[Pressure]
SomeTrigger=50ms/500ms
Brake=87.5%
[Actions]
Ladder=trim
[Trim]
Settle=4s
Cooldown=10s
P
mw_policy 31-podman <<P
[Match]
Container=leaky
[Pressure]
Brake=90%
Usage=40%
SampleInterval=500ms
[Actions]
Ladder=alert restart
[Alert]
Settle=10s
[Restart]
LeadTime=60s
Command=/usr/bin/systemd-run --wait --collect --quiet /usr/bin/podman restart --time 10 %c
P
mw_policy 32-podman <<P
[Match]
Container=hog
[Pressure]
Brake=90%
SampleInterval=500ms
[Actions]
Ladder=alert kill
[Alert]
Settle=3s
[Kill]
Mode=cgroup
P
MW_T0=$(date '+%Y-%m-%d %H:%M:%S')
mw_start
oom0=$(machine_ooms); oom0=${oom0:-0}

# a. frag
cat >$OUT/frag.sh <<S
#!/bin/bash
python3 $HELPERS/frag.py 150 > /out/a.out &
until grep -q ^ready /out/a.out 2>/dev/null; do sleep 0.1; done
echo "a \$(cat /out/a.out)" >> /out/frag.log
python3 -c 'b = b"y" * (150 << 20); print("allocated", len(b) >> 20)' > /out/b.out
echo "b-exit \$? \$(cat /out/b.out)" >> /out/frag.log
wait
S
chmod +x $OUT/frag.sh
prun frag 256m /out/frag.sh
pass "podman container frag runs in $(ctr_cgroup frag)"
wait_for 120 grep -q "^b-exit " $OUT/frag.log || { mw_dump_journal 30; cat $OUT/frag.log >&2; fail "python B did not finish"; }
read -r _ _ apid a_rss a_freed < <(grep "^a " $OUT/frag.log)
read -r _ b_rc b_out < <(grep "^b-exit " $OUT/frag.log)
assert_eq "$b_rc" 0 "frag: the second python3 in the container exited 0"
assert_contains "$b_out" "allocated 150" "frag: the second python3 got its 150 MiB"
mw_wait_record 20 "$MW_ACTION" "r.get('CONTAINER_NAME') == 'frag' and r.get('ACTION') == 'trim'" ||
        mw_wait_record 1 "$MW_PRESSURE" "r.get('CONTAINER_NAME') == 'frag' and r.get('ACTION') == 'trim'" ||
        { mw_dump_journal 30; fail "no trim record naming the container frag"; }
assert_eq "$(mw_field CGROUP)" "$(ctr_cgroup frag | sed 's|^/sys/fs/cgroup||')" "frag: the record is for the container's own cgroup"
assert_eq "$(mw_field CONTAINER_RUNTIME)" podman "frag: CONTAINER_RUNTIME=podman"
info "frag: trim record: $(mw_field MESSAGE)"
assert_eq "$(cg_event "$(ctr_cgroup frag)" oom_kill)" 0 "frag: the container's memory.events oom_kill is 0"
podman rm -f -t 0 frag >/dev/null

# b. leak, restarted through podman
: >$OUT/leak.state
prun leaky 128m python3 $HELPERS/leak.py /out/leak.state 2 flush
pass "podman container leaky runs in $(ctr_cgroup leaky)"
mw_wait_record 120 "$MW_ACTION" "r.get('CONTAINER_NAME') == 'leaky' and r.get('ACTION') == 'restart'" ||
        mw_wait_record 1 "$MW_PRESSURE" "r.get('CONTAINER_NAME') == 'leaky' and r.get('ACTION') == 'restart'" ||
        { mw_dump_journal 30; fail "no restart record for leaky"; }
assert_eq "$(mw_field RESTART_VIA)" command "leak: restarted through Command="
info "leak: $(mw_field MESSAGE)"
wait_for 90 grep -q flushed $OUT/leak.state || { mw_dump_journal 30; fail "leak: no SIGTERM flush"; }
pass "leak: the container's process flushed on SIGTERM: $(head -1 $OUT/leak.state)"
wait_for 90 sh -c "[ \"\$(podman inspect -f '{{.State.Running}} {{.RestartCount}}' leaky 2>/dev/null)\" != 'true 0' ] && podman inspect -f '{{.State.Running}}' leaky | grep -q true" ||
        fail "leak: the container is not running again"
pass "leak: running again after podman restart ($(podman inspect -f 'started {{.State.StartedAt}}' leaky))"
assert_eq "$(( $(machine_ooms) - oom0 ))" 0 "leak: no OOM kill in machine.slice"
podman rm -f -t 0 leaky >/dev/null

# c. nothing to give back: killed by memwarden, not the kernel
prun hog 128m python3 $HOG 200 2 0.05
mw_wait_record 90 "$MW_ACTION" "r.get('CONTAINER_NAME') == 'hog' and r.get('ACTION') == 'kill'" ||
        mw_wait_record 1 "$MW_PRESSURE" "r.get('CONTAINER_NAME') == 'hog' and r.get('ACTION') == 'kill'" ||
        { mw_dump_journal 30; fail "no kill record for hog"; }
info "hog: $(mw_field MESSAGE)"
wait_for 30 sh -c "podman inspect -f '{{.State.Running}}' hog | grep -q false" || fail "hog still runs"
pass "hog: the container stopped ($(podman inspect -f 'exit code {{.State.ExitCode}}' hog))"
assert_eq "$(( $(machine_ooms) - oom0 ))" 0 "hog: memwarden killed it, the kernel OOM-killed nothing in machine.slice"
podman rm -f -t 0 hog >/dev/null
done_testing

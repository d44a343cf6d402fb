#!/bin/bash
# SPDX-License-Identifier: MIT
# Kubernetes pods under memwarden, without a kubelet, in one boot.
#  Kubernetes naming: systemd slices and scopes named exactly like the kubelet's (systemd driver, three
#     QoS classes) and cgroupfs-driver directories (three QoS classes), plus /var/log/pods and the kubelet's
#     /var/log/containers links. A policy matching PodNamespace=shop braked exactly the shop pods'
#     containers; the records carry pod, namespace, container, QoS, uid. A memory.high the kubelet set
#     (MemoryQoS) is not touched; one it writes while our brake is on survives memwardend's stop.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.sh"

mw_install

# --------------------------------------------------------------------------------------------------------
# K. Kubernetes naming
UID_B=0e8d3c1a-5b7f-4a2e-9c6d-1f2e3a4b5c6d   # shop/web-7f9c, Burstable
UID_G=7a1b2c3d-0000-4000-8000-00000000beef   # shop/db-0, Guaranteed
UID_E=5e5e5e5e-1111-4222-8333-444444444444   # shop/batch-x1, BestEffort
UID_O=9f9f9f9f-aaaa-4bbb-8ccc-dddddddddddd   # other/web-1, Burstable: not matched
hex64() { printf '%s' "$1" | sha256sum | cut -c1-64; }
declare -A POD_OF NS_OF CT_OF QOS_OF CG_OF
k8s_container() { # DRIVER QOS UID NAMESPACE POD CONTAINER MEMMAX -> sets CG_OF[id], prints nothing
        local driver=$1 qos=$2 uid=$3 ns=$4 pod=$5 ct=$6 max=$7 id
        id=$(hex64 "$driver-$uid-$ct")
        mkdir -p "/var/log/pods/${ns}_${pod}_${uid}/$ct" /var/log/containers
        : >"/var/log/pods/${ns}_${pod}_${uid}/$ct/0.log"
        ln -sf "/var/log/pods/${ns}_${pod}_${uid}/$ct/0.log" "/var/log/containers/${pod}_${ns}_${ct}-${id}.log"
        if [ "$driver" = systemd ]; then
                local u=${uid//-/_} slice
                case $qos in
                Guaranteed) slice=kubepods-pod$u.slice ;;
                Burstable) slice=kubepods-burstable-pod$u.slice ;;
                BestEffort) slice=kubepods-besteffort-pod$u.slice ;;
                esac
                track_unit cri-containerd-$id.scope
                systemd-run --quiet --scope --slice=$slice --unit=cri-containerd-$id.scope -p MemoryMax=$max \
                        sleep 100000 >/dev/null 2>&1 &
                wait_for 10 systemctl is-active -q cri-containerd-$id.scope || fail "scope for $ns/$pod/$ct"
                CG_OF[$id]=$(unit_cgroup cri-containerd-$id.scope)
        else
                local d=/sys/fs/cgroup/kubepods
                case $qos in
                Burstable) d=$d/burstable ;;
                BestEffort) d=$d/besteffort ;;
                esac
                mkdir -p "$d/pod$uid"
                echo +memory >"$d/pod$uid/cgroup.subtree_control" || fail "enable memory in $d/pod$uid"
                d=$d/pod$uid/$id
                mkdir -p "$d"
                echo $(( ${max%M} << 20 )) >"$d/memory.max"
                sleep 100000 &
                echo $! >"$d/cgroup.procs"
                CG_OF[$id]=$d
        fi
        POD_OF[$id]=$pod NS_OF[$id]=$ns CT_OF[$id]=$ct QOS_OF[$id]=$qos
}
# cgroupfs driver: the kubelet's own top-level cgroups, with the memory controller delegated down
mkdir -p /sys/fs/cgroup/kubepods/burstable /sys/fs/cgroup/kubepods/besteffort
echo +memory >/sys/fs/cgroup/kubepods/cgroup.subtree_control
echo +memory >/sys/fs/cgroup/kubepods/burstable/cgroup.subtree_control
echo +memory >/sys/fs/cgroup/kubepods/besteffort/cgroup.subtree_control
for driver in systemd cgroupfs; do
        k8s_container $driver Burstable $UID_B shop web-7f9c nginx 64M
        k8s_container $driver Guaranteed $UID_G shop db-0 postgres 64M
        k8s_container $driver BestEffort $UID_E shop batch-x1 job 64M
        k8s_container $driver Burstable $UID_O other web-1 nginx 64M
done
# the kubelet's MemoryQoS set memory.high of this one (systemd driver, db-0/postgres)
qos_id=$(hex64 "systemd-$UID_G-postgres")
echo 50331648 >"${CG_OF[$qos_id]}/memory.high"

mw_policy 10-shop <<'P'
[Match]
PodNamespace=shop
[Pressure]
Brake=90%
[Actions]
Ladder=alert
P
mw_start

# Expected: one brake record for each shop container but the one whose memory.high the kubelet owns.
# Polled with one journalctl call per round (each python/journalctl start costs seconds under TCG).
: >/run/k8s-expect
for id in "${!CG_OF[@]}"; do
        echo "$id ${NS_OF[$id]} ${POD_OF[$id]} ${CT_OF[$id]} ${QOS_OF[$id]} ${CG_OF[$id]#/sys/fs/cgroup}" >>/run/k8s-expect
done
end=$((SECONDS + 90))
while :; do
        journalctl --sync 2>/dev/null
        mw_journal_json "$MW_BRAKE" >/run/k8s-records
        [ "$(grep -c . /run/k8s-records)" -ge 5 ] && break
        [ $SECONDS -lt $end ] || { mw_dump_journal 30; fail "fewer than 5 brake records within 90 s"; }
        sleep 1
done
sleep 2
journalctl --sync 2>/dev/null
mw_journal_json "$MW_BRAKE" >/run/k8s-records
python3 - "$qos_id" <<'PY' || fail "Kubernetes records"
import json, sys
qos_id = sys.argv[1]
recs = [json.loads(l) for l in open("/run/k8s-records") if l.strip()]
bad = 0
for line in open("/run/k8s-expect"):
    cid, ns, pod, ct, qos, cg = line.split()
    mine = [r for r in recs if r.get("CONTAINER_ID") == cid and r.get("BRAKE") == "set"]
    want = "%s/%s/%s (%s, %s)" % (ns, pod, ct, qos, cg)
    if ns != "shop":
        ok, what = not mine, "not matched (namespace other): " + want
    elif cid == qos_id:
        ok, what = not mine, "no brake on the kubelet's memory.high: " + want
    else:
        got = ["%s/%s/%s (%s, %s)" % (r.get("POD_NAMESPACE"), r.get("POD_NAME"), r.get("CONTAINER_NAME"),
                                      r.get("POD_QOS"), r.get("CGROUP")) for r in mine]
        ok, what = got == [want], "record names the pod: %s (got %s)" % (want, got)
    print(("ok: " if ok else "FAIL: ") + what)
    bad += not ok
sys.exit(1 if bad else 0)
PY
_checks=$((_checks + $(wc -l </run/k8s-expect)))
assert_eq "$(cat "${CG_OF[$qos_id]}/memory.high")" 50331648 "the kubelet's memory.high (MemoryQoS) is untouched"
uid_rec=$(python3 -c 'import json; print([json.loads(l) for l in open("/run/k8s-records") if "web-7f9c" in l][0].get("POD_UID"))')
assert_eq "$uid_rec" "$UID_B" "POD_UID= is the pod's uid with dashes"
st=$("$MWCTL" status)
assert_contains "$st" "pod shop/web-7f9c (Burstable) container nginx" "memwardenctl status names pod and container"

# the kubelet writes memory.high of a braked container while our brake is on; memwardend stops
web_sd=$(hex64 "systemd-$UID_B-nginx")
echo 60000000 >"${CG_OF[$web_sd]}/memory.high"
web_fs=$(hex64 "cgroupfs-$UID_B-nginx")
systemctl stop memwardend.service
assert_eq "$(cat "${CG_OF[$web_sd]}/memory.high")" 59998208 "the kubelet's later memory.high survives our restore (page-rounded by the kernel)"
assert_eq "$(cat "${CG_OF[$web_fs]}/memory.high")" max "our own brake is removed where nobody else wrote"
mw_wait_record 5 "$MW_BRAKE" "r.get('CONTAINER_ID') == '$web_sd' and r.get('BRAKE') == 'left'" ||
        { mw_dump_journal 20; fail "no BRAKE=left record"; }
pass "BRAKE=left: $(mw_field MESSAGE)"
for id in "${!CG_OF[@]}"; do
        [[ ${CG_OF[$id]} == /sys/fs/cgroup/kubepods/* ]] && for p in $(cat "${CG_OF[$id]}/cgroup.procs"); do kill $p; done
done
rm -f /etc/memwarden/policy.d/10-shop.conf
done_testing

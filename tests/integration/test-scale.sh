#!/bin/bash
# SPDX-License-Identifier: MIT
# Guarding many cgroups costs no kernel thread per cgroup, in one boot:
#   - N (1,000; 10,000 with MEMWARDEN_SCALE_N) calm raw cgroups /mwscale/cI (one policy, SomeTrigger=100ms/1s) plus two with FullTrigger= are
#     guarded: the kernel's psimon threads grow by a small constant (the shared triggers on the parents),
#     not by one per cgroup; `status --json` says every one of them is watched ("triggers") with no trigger
#     fd of its own ("trigger_fds" 0).
#   - a stall in one child of the 10,000 (a hog under a memory.high that the test sets, memory.max 64M) is
#     noticed through the parent's trigger: a pressure record with REASONS trigger-some names that cgroup,
#     and no other cgroup of /mwscale gets a record; while it stalls it has its own trigger back.
#   - removal with 10,000 alive plus churn: 1,000 cgroups removed and 1,000 others made, twice over; each
#     removal is forgotten (status lists exactly the live ones), the daemon's fds and inotify watches come
#     back to what they were, and the psimon count stays the same small constant.
#   - out of inotify watches (fs.inotify.max_user_watches lowered in this throwaway VM to what about 40 of
#     100 guarded cgroups need): a guard whose memory.events has no watch (the kernel's own list of the
#     daemon's watches, /proc/PID/fdinfo, is the judge) is not blind: its push over the brake (page cache
#     through memory.max 64M, Brake=75%, no PSI trigger) gets its onset record with the reclaim within 30 s,
#     the kernel counted the "high" events, `memwardenctl status` names the count of unwatched guards, and
#     once the limit is raised again the guard gets its watch back. That guard is /mwblind/zz/n1, made after
#     the start below /mwblind/zz, a directory walked last and so without a watch of its own for new
#     cgroups (fdinfo again): it is found by the poll of that directory and guarded, brake set.
# MEMWARDEN_SCALE_N sets the count: 1,000 by default for the CI time budget (the structural facts are the
# same: at most 4 threads, not 1,000); MEMWARDEN_SCALE_N=10000 for the issue's size (more than the VM's
# 900 s on a host at load 29; minutes on a quiet one).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.sh"

N=${MEMWARDEN_SCALE_N:-1000}
CHURN=$((N / 10))
root=/sys/fs/cgroup
base=$root/mwscale

npsimon() { local n=0 c; for c in /proc/[0-9]*/comm; do [ "$(cat "$c" 2>/dev/null)" = psimon ] && n=$((n + 1)); done; echo $n; }
mk() { python3 -c 'import os, sys
for i in range(int(sys.argv[2]), int(sys.argv[3]) + 1):
    os.mkdir("%s/c%d" % (sys.argv[1], i))' "$base" "$1" "$2"; }
rm_range() { python3 -c 'import os, sys
for i in range(int(sys.argv[2]), int(sys.argv[3]) + 1):
    os.rmdir("%s/c%d" % (sys.argv[1], i))' "$base" "$1" "$2"; }
status_json() { "$MWCTL" status --json; }
# guarded paths below /mwscale, one a line
guarded() { status_json | python3 -c 'import json, sys
for c in json.load(sys.stdin)["cgroups"]:
    if c["cgroup"].startswith("/mwscale/"): print(c["cgroup"])' | sort; }
nwatches() { cat /proc/"$MW_PID"/fdinfo/* 2>/dev/null | awk '/^inotify wd:/ {n++} END {print n + 0}'; }

mw_install
mw_policy 10-scale-full <<'P'
[Match]
Cgroup=/mwscale/f*
[Pressure]
SomeTrigger=off
FullTrigger=100ms/1s
[Actions]
Ladder=alert
P
mw_policy 20-scale <<'P'
[Match]
Cgroup=/mwscale/*
[Pressure]
SomeTrigger=100ms/1s
HighEvents=no
MaxEvents=no
SomeAvg10=0
FullAvg10=0
MaxThrottle=0
[Actions]
Ladder=alert
P

echo +memory >$root/cgroup.subtree_control
mkdir -p $base
echo +memory >$base/cgroup.subtree_control
t0=$(date +%s%N)
mk 1 "$N" || fail "make $N cgroups"
mkdir $base/f1 $base/f2 || fail "make the FullTrigger= cgroups"
info "$N cgroups made in $(( ($(date +%s%N) - t0) / 1000000 )) ms"

# READY=1 comes once every cgroup is guarded: more than the unit's 90 s under a loaded TCG host.
mkdir -p /run/systemd/system/memwardend.service.d
printf '[Service]\nTimeoutStartSec=15min\n' >/run/systemd/system/memwardend.service.d/scale-test.conf
systemctl daemon-reload
p0=$(npsimon)
t0=$(date +%s%N)
mw_start
want=$((N + 2))
wait_for 600 sh -c "'$MWCTL' status | head -1 | grep -q 'guarding $want cgroups'" ||
        fail "not all $want cgroups guarded within 600 s: $("$MWCTL" status | head -1)"
pass "$want cgroups guarded $(( ($(date +%s%N) - t0) / 1000000 )) ms after the start"
sleep 2
p1=$(npsimon)
info "psimon threads: $p0 before memwardend, $p1 with $want guarded cgroups"
[ $((p1 - p0)) -le 4 ] || fail "psimon threads grew by $((p1 - p0)) for $want guarded cgroups (at most 4 wanted)"
pass "psimon threads grew by $((p1 - p0)) (<= 4), not by one per guarded cgroup"

t0=$(date +%s%N)
status_json >/tmp/scale-status.json || fail "status --json with $want guarded cgroups"
info "status --json with $want guarded: $(( ($(date +%s%N) - t0) / 1000000 )) ms, $(wc -c </tmp/scale-status.json) bytes"
python3 - "$N" <<'PY' || fail "status: not every cgroup watched through a shared trigger"
import json, sys
n = int(sys.argv[1])
g = {c["cgroup"]: c for c in json.load(open("/tmp/scale-status.json"))["cgroups"] if c["cgroup"].startswith("/mwscale/")}
assert len(g) == n + 2, len(g)
bad = [c for c, v in g.items() if v["triggers"] != 1 or v["trigger_fds"] != 0]
assert not bad, (bad[:3], [g[b] for b in bad[:1]])
PY
pass "status: all $want watched by one trigger kind each, none with a trigger fd of its own"

# A stall in one child of many. memory.high below the hog's size: the kernel throttles it (memory stall),
# no brake of memwarden involved.
victim=c$((N / 2 + 7))
echo 64M >$base/$victim/memory.max
echo 40M >$base/$victim/memory.high
echo 0 >$base/$victim/memory.swap.max 2>/dev/null
python3 "$(dirname "$(readlink -f "$0")")/hog.py" 56 2 0.02 >/dev/null &
hog=$!
echo $hog >$base/$victim/cgroup.procs || fail "move the hog into /mwscale/$victim"
mw_wait_record 90 "$MW_PRESSURE" "r.get(\"CGROUP\") == \"/mwscale/$victim\" and \"trigger-some\" in r.get(\"REASONS\", \"\")" ||
        { mw_dump_journal; cat $base/$victim/memory.pressure >&2; fail "no pressure record with trigger-some for /mwscale/$victim"; }
pass "pressure record for /mwscale/$victim (REASONS=$(mw_field REASONS)), with no trigger of its own before the stall"
own_fds() { status_json | python3 -c 'import json, sys
print([c for c in json.load(sys.stdin)["cgroups"] if c["cgroup"] == sys.argv[1]][0]["trigger_fds"])' "/mwscale/$victim"; }
assert_eq "$(own_fds)" 1 "the stalled cgroup has its own trigger while under pressure"
others=$(mw_journal_json "$MW_PRESSURE" | python3 -c 'import json, sys
print(sorted({r["CGROUP"] for r in map(json.loads, sys.stdin) if r.get("CGROUP", "").startswith("/mwscale/")} - {sys.argv[1]}))' "/mwscale/$victim")
assert_eq "$others" "[]" "no other cgroup of /mwscale has a pressure record"
kill $hog; wait $hog 2>/dev/null
mw_wait_record 60 "$MW_RELIEVED" "r.get(\"CGROUP\") == \"/mwscale/$victim\"" ||
        { mw_dump_journal; fail "no relieved record for /mwscale/$victim"; }
pass "relieved record for /mwscale/$victim once the hog is gone"
for _ in $(seq 1 60); do [ "$(own_fds)" = 0 ] && break; sleep 1; done
assert_eq "$(own_fds)" 0 "its own trigger is dropped again once calm"

# Removal with N alive, plus churn: remove the first CHURN, make CHURN new ones (N+1..), twice.
fd0=$(ls /proc/"$MW_PID"/fd | wc -l); in0=$(nwatches)
guarded >/tmp/scale-before
for round in 1 2; do
        lo=$(( (round - 1) * CHURN + 1 )); hi=$((round * CHURN))
        t0=$(date +%s%N)
        rm_range "$lo" "$hi" || fail "remove c$lo..c$hi"
        mk $((N + lo)) $((N + hi)) || fail "make c$((N + lo))..c$((N + hi))"
        wait_for 300 sh -c "'$MWCTL' status | head -1 | grep -q 'guarding $want cgroups'" ||
                fail "round $round: not back to $want guarded: $("$MWCTL" status | head -1)"
        info "round $round: $CHURN removed and $CHURN made, all seen in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
done
python3 -c 'import sys
n, churn = int(sys.argv[1]), int(sys.argv[2])
for i in list(range(2 * churn + 1, n + 2 * churn + 1)): print("/mwscale/c%d" % i)
print("/mwscale/f1"); print("/mwscale/f2")' "$N" "$CHURN" | sort >/tmp/scale-want
guarded >/tmp/scale-after
if ! cmp -s /tmp/scale-want /tmp/scale-after; then
        diff /tmp/scale-want /tmp/scale-after | head >&2
        fail "status does not list exactly the live cgroups after the churn"
fi
pass "after removing $((2 * CHURN)) and making $((2 * CHURN)): status lists exactly the $want live cgroups"
sleep 1
assert_eq "$(ls /proc/"$MW_PID"/fd | wc -l)" "$fd0" "the daemon's fds are back to $fd0"
assert_eq "$(nwatches)" "$in0" "its inotify watches are back to $in0 (directories and memory.events)"
p2=$(npsimon)
assert_eq "$p2" "$p1" "psimon threads unchanged by the churn"
assert_eq "$(systemctl show -P NRestarts memwardend.service)" 0 "memwardend was not restarted"

# Out of inotify watches. The daemon and the scale cgroups go first: their watches would use the budget.
systemctl stop memwardend.service || fail "stop memwardend"
rm -f /etc/memwarden/policy.d/10-scale-full.conf /etc/memwarden/policy.d/20-scale.conf
rm_range $((2 * CHURN + 1)) $((N + 2 * CHURN)) && rmdir $base/f1 $base/f2 $base || fail "remove /mwscale"
mw_policy 30-blind <<'P'
[Match]
Cgroup=/mwblind/*
[Pressure]
SomeTrigger=off
Brake=75%
Hysteresis=1s
[Actions]
Ladder=reclaim
[Reclaim]
Cooldown=1s
Settle=200ms
P
blind=$root/mwblind
mkdir $blind && echo +memory >$blind/cgroup.subtree_control || fail "make /mwblind"
for i in $(seq 1 100); do mkdir $blind/b$i && echo 64M >$blind/b$i/memory.max || fail "make /mwblind/b$i"; done
# Walked after the b's (names in order), when no watch is left: no watch for the cgroups made below it.
mkdir $blind/zz && echo +memory >$blind/zz/cgroup.subtree_control || fail "make /mwblind/zz"
# The pushes read page cache (ext4 on a loop device): reclaimable, so the brake makes the kernel count "high"
# events rather than stall (as test-control-stall does).
modprobe loop 2>/dev/null
fsimg=/run/mwblind.img
truncate -s 64M $fsimg && mkfs.ext4 -q -F $fsimg && mkdir -p /mnt/mwblind && mount -o loop $fsimg /mnt/mwblind &&
        truncate -s 1G /mnt/mwblind/sparse || fail "cannot set up the ext4 loop device"
# Root's watches in use now (every root process's inotify fds; an fd shared by two counts twice, which only
# makes the budget smaller), plus one directory watch per cgroup but the 100, plus 2 (directory and
# memory.events) for about 40 of the 100: the walk reaches the others with none left.
used=$(python3 -c 'import glob, re
n = 0
for p in glob.glob("/proc/[0-9]*"):
    try:
        if re.search(r"^Uid:\s+0\s", open(p + "/status").read(), re.M):
            for f in glob.glob(p + "/fdinfo/*"):
                n += len(re.findall(r"^inotify wd:", open(f).read(), re.M))
    except OSError:
        pass
print(n)')
ndirs=$(find $root -type d | wc -l)
watches0=$(sysctl -n fs.inotify.max_user_watches)
budget=$((used + ndirs - 100 + 80))
sysctl -q -w fs.inotify.max_user_watches=$budget || fail "set fs.inotify.max_user_watches"
trap 'sysctl -q -w fs.inotify.max_user_watches=$watches0; umount /mnt/mwblind 2>/dev/null; _cleanup' EXIT
info "fs.inotify.max_user_watches $watches0 -> $budget (root uses $used, $ndirs cgroup directories)"
mw_start
wait_for 120 sh -c "'$MWCTL' status | head -1 | grep -q 'guarding 101 cgroups'" ||
        fail "not all 100 /mwblind cgroups and /mwblind/zz guarded: $("$MWCTL" status | head -1)"
# Which of the given paths (below /mwblind) have no inotify watch of the daemon: inode numbers (hex) in its
# inotify fdinfo.
unwatched() { python3 - "$MW_PID" $blind "$@" <<'PY'
import glob, os, re, sys
pid, blind = sys.argv[1], sys.argv[2]
inos = set()
for f in glob.glob("/proc/%s/fdinfo/*" % pid):
    try:
        inos |= {int(x, 16) for x in re.findall(r"^inotify wd:[0-9a-f]+ ino:([0-9a-f]+) ", open(f).read(), re.M)}
    except OSError:
        pass
for p in sys.argv[3:]:
    if os.stat("%s/%s" % (blind, p)).st_ino not in inos:
        print(p)
PY
}
nunw=$(unwatched $(printf 'b%d/memory.events ' $(seq 1 100)) | grep -c .)
info "guards without a memory.events watch: $nunw of 100"
assert_ge "$nunw" 20 "at least 20 of the 100 guards have no memory.events watch (the budget is short)"
assert_eq "$(unwatched zz)" zz "/mwblind/zz has no directory watch (walked after the budget ran out)"
mkdir $blind/zz/n1 && echo 64M >$blind/zz/n1/memory.max || fail "make /mwblind/zz/n1"
target=zz/n1
wait_for 30 sh -c "'$MWCTL' status --json | grep -q '\"/mwblind/$target\"' && ! grep -q max $blind/$target/memory.high" ||
        { mw_dump_journal; fail "/mwblind/$target, made below the unwatched /mwblind/zz, not guarded with its brake within 30 s"; }
pass "/mwblind/$target, made below the unwatched /mwblind/zz, is guarded (found by the poll of the directory)"
assert_eq "$(unwatched $target/memory.events)" $target/memory.events "/mwblind/$target has no memory.events watch either"
info "target: /mwblind/$target (unwatched), brake $(cat $blind/$target/memory.high)"
high0=$(cg_event $blind/$target high)
sh -c "echo \$\$ >$blind/$target/cgroup.procs; exec head -c 80M /mnt/mwblind/sparse" >/dev/null
high1=$(cg_event $blind/$target high)
info "the kernel's high events of /mwblind/$target: $high0 -> $high1"
[ "$high1" -gt "$high0" ] || fail "the push did not reach the brake (memory.high $(cat $blind/$target/memory.high))"
mw_wait_record 30 "$MW_PRESSURE" "r.get(\"CGROUP\") == \"/mwblind/$target\" and r.get(\"ACTION\") == \"reclaim\"" ||
        { mw_dump_journal; fail "no action for the unwatched /mwblind/$target within 30 s of its push over the brake"; }
pass "unwatched /mwblind/$target: onset record with ACTION=reclaim (REASONS=$(mw_field REASONS))"
"$MWCTL" status | head -3
assert_contains "$("$MWCTL" status)" "without an inotify watch" "status says guards are without an inotify watch"
sysctl -q -w fs.inotify.max_user_watches=$watches0
wait_for 30 sh -c "cat /proc/$MW_PID/fdinfo/* | grep -qi ' ino:$(printf %x "$(stat -c %i $blind/$target/memory.events)") '" ||
        fail "/mwblind/$target got no memory.events watch within 30 s of the limit raised back"
pass "/mwblind/$target has its memory.events watch once the limit is raised back"
wait_for 30 sh -c "! '$MWCTL' status | grep -q 'without an inotify watch'" ||
        fail "status still names unwatched guards: $("$MWCTL" status | grep 'without an inotify watch')"
pass "status names no unwatched guard once every watch is back"
done_testing

#!/bin/bash
# SPDX-License-Identifier: MIT
# Cgroup churn while guarded: matching cgroups are made and removed many times over, and the
# daemon guards each of them, forgets each, and ends where it began:
#   - 10,000 raw cgroups: mkdir/rmdir under /sys/fs/cgroup/mwchurn (the VM's own tree), matched by Cgroup=
#     policies. A sliding window keeps the last 100 alive; every 100 cycles the churner waits until
#     `status json` lists every live cgroup, so each of the 10,000 was seen guarded once (not just created
#     and gone before the daemon looked). One in ten
#     (/mwchurn/t*) also has a PSI trigger: the kernel destroys a trigger with a synchronize_rcu()
#     (psi_trigger_destroy), ~25 ms a cycle under TCG (measured), so 10,000 triggers would take 4+ minutes; the other nine in ten
#     (guard: cgroup dirfd, memory.events watch, samples, no trigger) cost ~4 ms a cycle.
#   - 100 real systemd units: instances of a template (mw-churn@N.service) started and stopped in batches
#     of 25, each batch seen guarded (two PSI triggers each) before it is stopped.
#   - 5 systemd-run + systemctl stop cycles, timed (~0.7-0.9 s each under TCG: why the units come in
#     batches of template instances).
# Then: the fd count and the daemon's inotify watch count are the same as before (kernfs does not drop the
# watches of a removed cgroup by itself); VmRSS, RssAnon and private memory (smaps_rollup) grew by less
# than 1 MiB start to end, and RssAnon by less than 128 KiB after the warm-up (the first fifth of the raw
# cycles; figures printed every 1,000 cycles); memwardend was not restarted; it wrote at most 20 journal
# lines during the churn (a per-cycle warning would be thousands) and journald suppressed none of its
# messages; nothing stale is guarded afterwards. MEMWARDEN_CHURN_CYCLES, _WINDOW, _UNITS and _BATCH change
# the sizes. About 3 minutes in the VM under TCG, boot included.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.sh"

# MEMWARDEN_* variables reach the VM (tests/vm/run passes them on).
cycles=${MEMWARDEN_CHURN_CYCLES:-10000}
window=${MEMWARDEN_CHURN_WINDOW:-100}
units=${MEMWARDEN_CHURN_UNITS:-100}
batch=${MEMWARDEN_CHURN_BATCH:-25}
[ $((cycles % window)) = 0 ] && [ $((units % batch)) = 0 ] && [ "$cycles" -ge $((2 * window)) ] ||
        fail "MEMWARDEN_CHURN_CYCLES: a multiple of MEMWARDEN_CHURN_WINDOW (two at least);" \
             "MEMWARDEN_CHURN_UNITS: a multiple of MEMWARDEN_CHURN_BATCH"

mw_install
# The first matching policy file in name order wins: t* get a PSI trigger, the rest none.
mw_policy 10-churn-psi <<'P'
[Match]
Cgroup=/mwchurn/t*
[Pressure]
SomeTrigger=150ms/1s
[Actions]
Ladder=alert
P
mw_policy 20-churn-raw <<'P'
[Match]
Cgroup=/mwchurn/*
[Pressure]
SomeTrigger=off
[Actions]
Ladder=alert
P
mw_policy 30-churn-units <<'P'
[Match]
Unit=mw-churn*.service
[Pressure]
SomeTrigger=100ms/1s
FullTrigger=100ms/1s
[Actions]
Ladder=alert
P
cg=/sys/fs/cgroup/mwchurn
mkdir -p $cg && echo +memory >$cg/cgroup.subtree_control || fail "cannot make $cg with the memory controller"
cat >/run/systemd/system/mw-churn@.service <<'U'
[Service]
ExecStart=sleep infinity
MemoryMax=100M
U
systemctl daemon-reload
# Transparent huge pages "always" (Debian's default) lets khugepaged collapse a 2 MiB range of the daemon's
# anonymous memory at a moment of its choosing: RssAnon then jumps by up to 2 MiB at once, churn or not
# (seen: +1.3 and +1.8 MiB in two of five runs, flat before and after). That is not what this test measures:
# the VM's own THP setting goes to "madvise" (glibc madvises nothing). Since then memwardend also turns THP
# off for itself (PR_SET_THP_DISABLE); the VM setting stays, so the bound below does not rest on that alone.
echo madvise >/sys/kernel/mm/transparent_hugepage/enabled || fail "cannot set THP to madvise in the VM"
# The fd and watch counts are taken against a settled system. Seen once in a CI run: dbus-daemon's start
# timed out 90 s after boot, in the middle of the churn; the counts fell by one fd and one watch from
# "before" to "after" (our reading: the dbus.service cgroup's directory watch, and memwardend's system bus
# connection, both gone with dbus-daemon; not a leak, which would raise them). So wait until dbus has
# started (or failed) before memwardend starts.
wait_for 150 sh -c '[ "$(systemctl is-active dbus.service)" != activating ]' ||
        fail "dbus.service still starting 150 s after the test's start"
info "dbus.service $(systemctl is-active dbus.service) before memwardend starts"
mw_start
wait_for 10 sh -c "'$MWCTL' status | grep -q 'guarding 0 cgroups'" || fail "memwardend guards something before the churn"
sleep 1

# The daemon's inotify watches (one per cgroup directory, one per guarded memory.events): fdinfo lists them.
watches() {
        local f
        for f in /proc/$MW_PID/fd/*; do
                [ "$(readlink "$f")" = anon_inode:inotify ] &&
                grep -c '^inotify wd:' "/proc/$MW_PID/fdinfo/${f##*/}"
        done
}
# mem: VmRSS RssAnon private (KiB) fds inotify-watches
mem() {
        echo "$(awk '/^VmRSS:/ {r = $2} /^RssAnon:/ {a = $2} END {print r, a}' /proc/$MW_PID/status)" \
                "$(awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s}' /proc/$MW_PID/smaps_rollup)" \
                "$(ls /proc/$MW_PID/fd | wc -l)" "$(watches)"
}
read -r rss0 anon0 priv0 fds0 wds0 <<<"$(mem)"
[ -n "$wds0" ] || fail "no inotify fd in memwardend"
info "memwardend before: VmRSS $rss0 KiB, RssAnon $anon0 KiB, private $priv0 KiB, $fds0 fds, $wds0 inotify watches"
t_churn=$(date '+%Y-%m-%d %H:%M:%S')

# Raw cgroups. The churner prints "cycle N ..." every 1,000 cycles and a summary; exits 1 if a window of
# live cgroups is not all guarded within 60 s.
t0=$(date +%s%N)
python3 - "$cg" "$cycles" "$window" /run/memwarden/control "$MW_PID" <<'PY' || fail "raw cgroup churn"
import json, os, socket, sys, time
root, cycles, window, sock, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
base = "/" + os.path.basename(root)
def name(i): return ("t%d" if i % 10 == 0 else "c%d") % i
def guarded():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(sock)
    s.sendall(b"status json\n")
    buf = b""
    while True:
        k = s.recv(1 << 16)
        if not k:
            break
        buf += k
    s.close()
    st = json.loads(buf)
    return {c["cgroup"]: c for c in st["cgroups"]}
def proc(key):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith(key + ":"):
            return int(l.split()[1])
waited, max_wait, max_fds, triggers = 0.0, 0.0, 0, 0
mid = (cycles // 5) // window * window or window  # the end of the warm-up: RssAnon from here on must stay flat
t0 = time.time()
for i in range(1, cycles + 1):
    os.mkdir(f"{root}/{name(i)}")
    if i > window:
        os.rmdir(f"{root}/{name(i - window)}")
    if i % window:
        continue
    # Live now: exactly the last window, each live at one checkpoint only.
    want = {f"{base}/{name(j)}" for j in range(i - window + 1, i + 1)}
    tw = time.time()
    while True:
        g = guarded()
        missing = want - g.keys()
        if not missing:
            break
        if time.time() - tw > 60:
            print(f"cycle {i}: {len(missing)} of {window} live cgroups not guarded after 60 s, "
                  f"e.g. {sorted(missing)[0]}")
            sys.exit(1)
        time.sleep(0.02)
    bad = [c for c in want if (g[c]["triggers"] == 1) != c.startswith(base + "/t")]
    if bad:
        print(f"cycle {i}: {bad[0]} has {g[bad[0]]['triggers']} PSI triggers")
        sys.exit(1)
    triggers += sum(g[c]["triggers"] for c in want)
    w = time.time() - tw
    waited += w
    max_wait = max(max_wait, w)
    max_fds = max(max_fds, len(os.listdir(f"/proc/{pid}/fd")))
    if i == mid:
        anon_mid = proc("RssAnon")
    if i % 1000:
        continue
    wds = 0
    for f in os.listdir(f"/proc/{pid}/fdinfo"):
        try:  # the control connection's fd comes and goes
            wds += sum(l.startswith("inotify wd:") for l in open(f"/proc/{pid}/fdinfo/{f}"))
        except FileNotFoundError:
            pass
    thp = sum(int(l.split()[1]) for l in open(f"/proc/{pid}/smaps_rollup")
              if l.startswith("AnonHugePages:"))
    print(f"# cycle {i}: {time.time() - t0:.1f} s, memwardend VmRSS {proc('VmRSS')} KiB, "
          f"RssAnon {proc('RssAnon')} KiB "
          f"(AnonHugePages {thp} KiB), {len(g)} guarded, {wds} inotify watches", flush=True)
for j in range(cycles - window + 1, cycles + 1):
    os.rmdir(f"{root}/{name(j)}")
anon_end = proc("RssAnon")
open("/run/mw-churn.anon", "w").write(f"{mid} {anon_mid} {anon_end}\n")
print(f"# raw churn: {cycles} cgroups made, seen guarded and removed in {time.time() - t0:.1f} s "
      f"({triggers} with a PSI trigger); waited {waited:.1f} s in all for the daemon at the {cycles // window} "
      f"checkpoints (longest {max_wait:.2f} s); at most {max_fds} fds at a checkpoint")
PY
t_raw=$(( ($(date +%s%N) - t0) / 1000000 ))
pass "$cycles raw cgroups made and removed, each seen guarded ($t_raw ms)"

# Five systemd-run start/stop cycles, timed: the reason for the batches below.
t0=$(date +%s%N)
for k in 1 2 3 4 5; do
        systemd-run --quiet --unit=mw-churn-run$k.service -p MemoryMax=100M sleep infinity || fail "systemd-run $k"
        systemctl stop mw-churn-run$k.service || fail "stop mw-churn-run$k.service"
done
info "one systemd-run + systemctl stop cycle: $(( ($(date +%s%N) - t0) / 5000000 )) ms (mean of 5)"

guarded_all() { # UNIT...: every unit's cgroup is in status json
        "$MWCTL" status --json | python3 -c '
import json, sys
g = {c["unit"] for c in json.load(sys.stdin)["cgroups"] if c.get("triggers") == 2}
sys.exit(0 if set(sys.argv[1:]) <= g else 1)' "$@"
}
t0=$(date +%s%N)
for b in $(seq 0 $((units / batch - 1))); do
        us=()
        for k in $(seq 1 "$batch"); do us+=("mw-churn@$((b * batch + k)).service"); done
        systemctl start "${us[@]}" || fail "start batch $b"
        wait_for 60 guarded_all "${us[@]}" ||
                fail "batch $b: not every unit guarded with its two PSI triggers within 60 s"
        systemctl stop "${us[@]}" || fail "stop batch $b"
done
t_units=$(( ($(date +%s%N) - t0) / 1000000 ))
pass "$units units started, seen guarded and stopped ($t_units ms, batches of $batch)"
info "units: $(( t_units / units )) ms per cycle"

wait_for 30 sh -c "'$MWCTL' status | grep -q 'guarding 0 cgroups'" ||
        fail "stale guards remain: $("$MWCTL" status | head -5)"
pass "no guarded cgroup left after the churn"
# The instances' slice outlives them (a cgroup directory, so one more watch): stop it too.
systemctl stop 'system-mw\x2dchurn.slice' || fail "stop the template's slice"
wait_for 10 sh -c "[ ! -d '/sys/fs/cgroup/system.slice/system-mw\x2dchurn.slice' ]" ||
        fail "the template's slice is still there"
sleep 1
read -r rss1 anon1 priv1 fds1 wds1 <<<"$(mem)"
info "memwardend after: VmRSS $rss1 KiB, RssAnon $anon1 KiB, private $priv1 KiB, $fds1 fds," \
        "$wds1 inotify watches"
info "growth over $cycles raw + $units unit cycles: VmRSS $((rss1 - rss0)) KiB, RssAnon $((anon1 - anon0)) KiB," \
        "private $((priv1 - priv0)) KiB"
assert_eq "$fds1" "$fds0" "fd count unchanged after the churn"
# kernfs never drops the watch of a removed cgroup by itself: each one left would pin an inode, and after
# fs.inotify.max_user_watches (8192 in this VM) new cgroups would go unseen.
assert_eq "$wds1" "$wds0" "inotify watch count unchanged after the churn"
# Start to end, 1 MiB: what grows legitimately is bounded and comes early (code and libraries paged in on
# first use, malloc's high-water mark with a window of 100 guards): ~600-700 KiB of VmRSS and ~200 KiB of
# RssAnon within the first 1,000 cycles in the runs behind this test, then flat. A leak of 100 bytes a
# cycle would pass 1 MiB; the warm-up check below catches one of 16 bytes a cycle.
read -r mid anon_mid anon_end </run/mw-churn.anon
info "RssAnon after the warm-up (cycle $mid): $anon_mid KiB; after cycle $cycles: $anon_end KiB"
[ $((anon_end - anon_mid)) -lt 128 ] ||
        fail "RssAnon grew by $((anon_end - anon_mid)) KiB over the $((cycles - mid)) cycles after the warm-up"
pass "RssAnon grew by less than 128 KiB after the warm-up" \
        "($((anon_end - anon_mid)) KiB over $((cycles - mid)) cycles)"
for x in "VmRSS $rss0 $rss1" "RssAnon $anon0 $anon1" "private $priv0 $priv1"; do
        set -- $x
        [ $(($3 - $2)) -lt 1024 ] || fail "$1 grew by $(($3 - $2)) KiB (from $2 to $3) over the churn"
        pass "$1 grew by less than 1 MiB ($(($3 - $2)) KiB)"
done
assert_eq "$(systemctl show -P MainPID memwardend.service)" "$MW_PID" "memwardend did not restart (same MainPID)"
assert_eq "$(systemctl show -P NRestarts memwardend.service)" 0 "NRestarts=0"

journalctl --sync 2>/dev/null
lines=$(journalctl -q --no-pager -o cat _SYSTEMD_UNIT=memwardend.service --since "$t_churn" | wc -l)
info "journal lines from memwardend during the churn: $lines"
[ "$lines" -le 20 ] || { journalctl -q --no-pager _SYSTEMD_UNIT=memwardend.service --since "$t_churn" | head -20 >&2
        fail "$lines journal lines from memwardend during the churn"; }
pass "no error storm: $lines journal lines for $((cycles + units + 5)) cycles"
[ "$lines" = 0 ] || journalctl -q --no-pager _SYSTEMD_UNIT=memwardend.service --since "$t_churn" | head -20
suppressed=$(journalctl -q --no-pager -o cat -t systemd-journald --since "$t_churn" |
        grep -c 'Suppressed.*memwardend')
assert_eq "$suppressed" 0 "journald rate-limited nothing from memwardend"
done_testing

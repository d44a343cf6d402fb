#!/bin/bash
# SPDX-License-Identifier: MIT
# onepass: in one MemoryMax=64M unit a backup job streams a file far larger than the unit's memory beside a
# service that re-reads its 34 MiB hot file every 0.5 s. The same workload runs without memwarden, then
# twice with memwarden and Ladder=drop-cache (drop-behind on the backup's file; the second run reads the
# same archive again, as a nightly backup does). The hot file's refaults (memory.stat
# workingset_refault_file over the streaming phase) must drop clearly with memwarden.
#
# Two streams: a backup paced at 20 MB/s (network- or disk-bound, the case drop-behind is for: asserted),
# and an unpaced cat, faster than memwarden's scan cadence can follow in a 64 MiB unit (reported only).
# The archive is a sparse file: reading its holes fills the page cache like data, with no I/O to wait for.
# Earlier versions streamed 120 MiB with cat in 1-3 s beside a hot loop that never paused; the kernel's
# LRU then often kept the hot set by itself (41 refaults) and nothing could be compared.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.sh"

# Page cache needs a real filesystem: ext4 on a loop device (the root is 9p + tmpfs). The image lives in
# /run (tmpfs); the sparse archive and the hot file together use about 40 MiB of it.
modprobe loop 2>/dev/null
img=/run/mw-onepass.img
truncate -s 200M $img && mkfs.ext4 -q -F $img || skip "cannot make an ext4 image"
mkdir -p /mnt/mw && mount -o loop $img /mnt/mw || skip "cannot loop-mount ext4"
trap 'umount /mnt/mw 2>/dev/null; rm -f $img; _cleanup' EXIT
truncate -s 4G /mnt/mw/archive || fail "make the sparse archive"
dd if=/dev/urandom of=/mnt/mw/hot bs=1M count=34 status=none || fail "write the hot file"
sync

# The workload (tests/helpers/onepass-workload.sh, shared with bench/lab): mode paced or cat.
WORKLOAD=$MEMWARDEN_SOURCE/tests/helpers/onepass-workload.sh

# run NAME MODE: the workload in a fresh unit with a cold cache; prints "refaults N passes M ms T".
run() {
        local unit=mw-onepass-$1.service
        rm -f /run/mw-onepass.$1
        sync; echo 3 >/proc/sys/vm/drop_caches
        track_unit $unit
        systemd-run --quiet --wait --unit=$unit -p MemoryMax=64M -p MemorySwapMax=0 \
                "$WORKLOAD" /mnt/mw /run/mw-onepass.$1 "$2" >/dev/null 2>&1 || fail "run the workload ($1)"
        [ -s /run/mw-onepass.$1 ] || fail "the workload ($1) reported nothing"
        cat /run/mw-onepass.$1
}
field() { echo "$1" | awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }'; }
# per1000 RESULT: refaults per 1000 hot passes, so that a faster or slower run does not skew the comparison.
per1000() { local p; p=$(field "$1" passes); echo $(( $(field "$1" refaults) * 1000 / (p > 0 ? p : 1) )); }

paced_without=$(run without-paced paced)
info "paced backup, without memwarden: $paced_without"
cat_without=$(run without-cat cat)
info "unpaced cat, without memwarden: $cat_without"
# Without memwarden the stream must really evict the hot set, or there is nothing to win.
assert_ge "$(field "$paced_without" refaults)" 1000 "without memwarden the paced backup evicted the hot set (refaults)"

mw_install
mw_policy onepass <<'P'
[Match]
Unit=mw-onepass-with*.service
[Pressure]
# No brake (memory.high throttling would slow the workload down): the first memory.events "max" (the cache
# reached MemoryMax=) starts the episode, Usage= keeps it going while the cache stays high.
Usage=50%
SampleInterval=500ms
Hysteresis=5s
[Actions]
Ladder=drop-cache
[DropCache]
Cooldown=500ms
Settle=500ms
P
mw_start
paced_with=$(run with-paced paced)
info "paced backup, with memwarden drop-cache: $paced_with"
paced_again=$(run with-paced-again paced)
info "paced backup of the same archive again, with memwarden: $paced_again"
cat_with=$(run with-cat cat)
info "unpaced cat, with memwarden drop-cache: $cat_with"

pw=$(per1000 "$paced_without"); p1=$(per1000 "$paced_with"); p2=$(per1000 "$paced_again")
cw=$(per1000 "$cat_without"); c1=$(per1000 "$cat_with")
info "hot-file refaults per 1000 hot passes: paced backup without $pw, with $p1, again $p2; unpaced cat without $cw, with $c1"
assert_ge "$(field "$paced_with" passes)" 1 "the hot loop ran with memwarden"
[ $((p1 * 4)) -le "$pw" ] || { mw_dump_journal 30; fail "drop-cache did not cut the hot file's refaults to a quarter ($p1 vs $pw per 1000 passes)"; }
pass "drop-cache cut the hot file's refaults to a quarter or less ($p1 vs $pw per 1000 passes)"
# The second night: the archive is read again from the start. It is larger than the unit can cache, so a
# new pass over it is no reason to keep it (it used to be marked re-read and never dropped again).
[ $((p2 * 4)) -le "$pw" ] || { mw_dump_journal 30; fail "reading the same archive again: refaults not cut to a quarter ($p2 vs $pw)"; }
pass "the same archive read again was dropped behind too ($p2 vs $pw per 1000 passes)"

mw_wait_record 5 "$MW_ACTION" 'r.get("UNIT") == "mw-onepass-with-paced.service" and r.get("ACTION") == "drop-cache" and int(r.get("DROPPED_BYTES", "0")) > 0' ||
        mw_wait_record 1 "$MW_PRESSURE" 'r.get("UNIT") == "mw-onepass-with-paced.service" and r.get("ACTION") == "drop-cache" and int(r.get("DROPPED_BYTES", "0")) > 0' ||
        { mw_dump_journal 30; fail "no drop-cache record with DROPPED_BYTES > 0"; }
assert_eq "$(mw_field RESULT)" ok "drop-cache RESULT=ok"
assert_ge "$(mw_field FILES)" 1 "FILES in the record"
assert_eq "$(mw_field DROPPED_LARGEST)" /mnt/mw/archive "the archive is what was dropped"
info "a drop-cache record: DROPPED_BYTES=$(mw_field DROPPED_BYTES) FILES=$(mw_field FILES) largest $(mw_field DROPPED_LARGEST) in $(mw_field ACTION_USEC) us"
totals=$( (mw_journal_json "$MW_PRESSURE"; mw_journal_json "$MW_ACTION") | python3 -c '
import json, sys
t = {}
for l in sys.stdin:
    r = json.loads(l)
    if r.get("ACTION") == "drop-cache" and r.get("UNIT", "").startswith("mw-onepass-with"):
        n, b, hot = t.setdefault(r["UNIT"], (0, 0, 0))
        t[r["UNIT"]] = (n + 1, b + int(r.get("DROPPED_BYTES", "0")), hot + (r.get("DROPPED_LARGEST") == "/mnt/mw/hot"))
for u, (n, b, hot) in sorted(t.items()):
    print(u, n, b, hot)')
info "per unit: drop-cache actions, bytes dropped, records where the hot file lost the most:"
echo "$totals" | sed 's/^/#   /'
# The hot file is read again and again: drop-cache must recognise it (FILES_REREAD) and leave it alone.
assert_eq "$(echo "$totals" | awk '{ s += $4 } END { print s + 0 }')" 0 "the hot file was never the one dropped"
done_testing

#!/bin/bash
# SPDX-License-Identifier: MIT
# onepass: in one MemoryMax=64M unit a reader streams a file larger than the unit's memory (cat, a backup job)
# beside a loop that keeps re-reading a hot file that fits. The same workload runs twice: without memwarden,
# then with memwarden and Ladder=drop-cache (drop-behind on the streamer's file). The hot file's refaults
# (memory.stat workingset_refault_file over the streaming phase) must drop clearly with memwarden.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.sh"

# Page cache needs a real filesystem: ext4 on a loop device (the root is 9p + tmpfs). The image lives in
# /run (tmpfs, a few hundred MiB in the VM): the sizes are scaled to a 64M unit.
modprobe loop 2>/dev/null
img=/run/mw-onepass.img
truncate -s 200M $img && mkfs.ext4 -q -F $img || skip "cannot make an ext4 image"
mkdir -p /mnt/mw && mount -o loop $img /mnt/mw || skip "cannot loop-mount ext4"
trap 'umount /mnt/mw 2>/dev/null; rm -f $img; _cleanup' EXIT
dd if=/dev/zero of=/mnt/mw/big bs=1M count=120 status=none || fail "write the big file"
dd if=/dev/zero of=/mnt/mw/hot bs=1M count=34 status=none || fail "write the hot file"
sync

# The workload: warm the hot file, stream the big one while the hot loop re-reads; report the refaults
# and hot passes during the streaming phase.
cat >/run/mw-onepass.sh <<'W'
#!/bin/bash
out=$1
cg=/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/self/cgroup)
refaults() { awk '$1 == "workingset_refault_file" { print $2 }' "$cg/memory.stat"; }
cat /mnt/mw/hot >/dev/null; cat /mnt/mw/hot >/dev/null
rm -f /run/mw-onepass.stop /run/mw-onepass.passes
( n=0; while [ ! -e /run/mw-onepass.stop ]; do cat /mnt/mw/hot >/dev/null; n=$((n + 1)); done
  echo $n >/run/mw-onepass.passes ) &
sleep 1
r0=$(refaults)
cat /mnt/mw/big >/dev/null
r1=$(refaults)
touch /run/mw-onepass.stop; wait
echo "refaults $((r1 - r0)) passes $(cat /run/mw-onepass.passes)" >"$out"
W
chmod +x /run/mw-onepass.sh

# run NAME: the workload in a fresh unit with a cold cache; prints "refaults N passes M".
run() {
        local unit=mw-onepass-$1.service
        rm -f /run/mw-onepass.$1
        sync; echo 3 >/proc/sys/vm/drop_caches
        track_unit $unit
        systemd-run --quiet --wait --unit=$unit -p MemoryMax=64M -p MemorySwapMax=0 \
                /run/mw-onepass.sh /run/mw-onepass.$1 >/dev/null 2>&1 || fail "run the workload ($1)"
        [ -s /run/mw-onepass.$1 ] || fail "the workload ($1) reported nothing"
        cat /run/mw-onepass.$1
}

t0=$(date +%s)
without=$(run without)
t1=$(date +%s)
info "without memwarden: $without ($((t1 - t0)) s)"
# The kernel's LRU sometimes keeps the hot set by itself (40 refaults in one run, 795 in another): one
# more baseline run before deciding whether this run can compare at all.
if [ "$(echo "$without" | awk '{ print $2 }')" -lt 200 ]; then
        systemctl reset-failed mw-onepass-without.service 2>/dev/null
        without=$(run without)
        t1=$(date +%s)
        info "without memwarden, again: $without"
fi

mw_install
mw_policy onepass <<'P'
[Match]
Unit=mw-onepass-with.service
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
with=$(run with)
t2=$(date +%s)
info "with memwarden drop-cache: $with ($((t2 - t1)) s)"

ref_without=$(echo "$without" | awk '{ print $2 }'); passes_without=$(echo "$without" | awk '{ print $4 }')
ref_with=$(echo "$with" | awk '{ print $2 }'); passes_with=$(echo "$with" | awk '{ print $4 }')
assert_ge "$passes_with" 1 "the hot loop ran with memwarden"
if [ "$ref_without" -lt 200 ]; then
        # Nothing to compare against: the stream did not evict the hot set in either baseline run. The
        # drop-cache checks below still apply; the refault comparison is reported, not asserted.
        info "INCONCLUSIVE: without memwarden the kernel kept the hot set by itself ($ref_without refaults);" \
             "with drop-cache: $ref_with refaults; comparison not asserted in this run"
else
        # Per hot pass, so that a faster or slower run does not skew the comparison.
        per_without=$(( ref_without * 1000 / (passes_without > 0 ? passes_without : 1) ))
        per_with=$(( ref_with * 1000 / (passes_with > 0 ? passes_with : 1) ))
        info "refaults per 1000 hot passes: without $per_without, with $per_with"
        [ $((per_with * 2)) -le "$per_without" ] ||
                { mw_dump_journal 30; fail "drop-cache did not halve the hot file's refaults per pass ($per_with vs $per_without)"; }
        pass "drop-cache at least halved the hot file's refaults per pass ($per_with vs $per_without per 1000 passes)"
        [ "$ref_with" -lt "$ref_without" ] || fail "total refaults did not drop ($ref_with vs $ref_without)"
        pass "total refaults dropped ($ref_with vs $ref_without pages)"
fi

mw_wait_record 5 "$MW_ACTION" 'r.get("UNIT") == "mw-onepass-with.service" and r.get("ACTION") == "drop-cache" and int(r.get("DROPPED_BYTES", "0")) > 0' ||
        mw_wait_record 1 "$MW_PRESSURE" 'r.get("UNIT") == "mw-onepass-with.service" and r.get("ACTION") == "drop-cache" and int(r.get("DROPPED_BYTES", "0")) > 0' ||
        { mw_dump_journal 30; fail "no drop-cache record with DROPPED_BYTES > 0"; }
assert_eq "$(mw_field RESULT)" ok "drop-cache RESULT=ok"
assert_ge "$(mw_field FILES)" 1 "FILES in the record"
info "a drop-cache record: DROPPED_BYTES=$(mw_field DROPPED_BYTES) FILES=$(mw_field FILES) largest $(mw_field DROPPED_LARGEST) in $(mw_field ACTION_USEC) us"
total=$( (mw_journal_json "$MW_PRESSURE"; mw_journal_json "$MW_ACTION") | python3 -c '
import json, sys
n = b = hot = 0
for l in sys.stdin:
    r = json.loads(l)
    if r.get("ACTION") == "drop-cache" and r.get("UNIT") == "mw-onepass-with.service":
        n += 1; b += int(r.get("DROPPED_BYTES", "0")); hot += r.get("DROPPED_LARGEST") == "/mnt/mw/hot"
print(n, b, hot)')
info "drop-cache actions, bytes dropped in total, records where the hot file lost the most: $total"
# The hot file is read again and again: drop-cache must recognise it (FILES_REREAD) and leave it alone.
assert_eq "$(echo "$total" | awk '{ print $3 }')" 0 "the hot file was never the one dropped"
done_testing

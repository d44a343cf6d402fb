#!/bin/bash
# SPDX-License-Identifier: MIT
# reclaim: a unit with a large clean page cache under pressure (a one-pass read of 120 MiB crosses the
# unit's MemoryHigh=110M near its end, the kernel counts "high" events): memwarden writes memory.reclaim and
# memory.current drops;
# the result record reports what was freed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.sh"

# Clean page cache needs a real filesystem: ext4 on a loop device (the root is 9p + tmpfs).
modprobe loop 2>/dev/null
img=/run/mw-reclaim.img
truncate -s 200M $img && mkfs.ext4 -q -F $img || skip "cannot make an ext4 image"
mkdir -p /mnt/mw && mount -o loop $img /mnt/mw || skip "cannot loop-mount ext4"
trap 'umount /mnt/mw 2>/dev/null; rm -f $img; _cleanup' EXIT
dd if=/dev/urandom of=/mnt/mw/data bs=1M count=120 status=none || fail "write data file"
sync; echo 3 > /proc/sys/vm/drop_caches

mw_install
mw_policy reclaim <<'P'
[Match]
Unit=mw-reclaim.service
[Actions]
Ladder=reclaim
[Reclaim]
Amount=50%
Settle=2s
P
mw_start

unit=mw-reclaim.service
track_unit $unit
systemd-run --quiet --unit=$unit -p MemoryMax=256M -p MemoryHigh=110M \
        /bin/sh -c 'cat /mnt/mw/data > /dev/null; exec sleep infinity' || fail "start $unit"
cg=$(unit_cgroup $unit)

mw_wait_record 60 "$MW_RESULT" 'r.get("UNIT") == "mw-reclaim.service" and r.get("ACTION") == "reclaim"' ||
        { mw_dump_journal; fail "no reclaim result within 60 s"; }
before=$(mw_field MEMORY_BEFORE); after=$(mw_field MEMORY_AFTER); freed=$(mw_field FREED_BYTES)
info "reclaim: memory.current $before -> $after, freed $freed"
assert_ge "$before" $((60 << 20)) "the page cache was charged to the unit before reclaim"
assert_ge "$freed" $((30 << 20)) "reclaim freed at least 30 MiB"
[ "$after" -lt "$before" ] || fail "memory.current did not drop"
pass "memory.current dropped after reclaim"
# Reclaim is the first rung: it ran at the onset, so it is in the pressure record.
mw_wait_record 1 "$MW_PRESSURE" 'r.get("UNIT") == "mw-reclaim.service" and r.get("ACTION") == "reclaim"' ||
        fail "no pressure record with ACTION=reclaim"
assert_contains "ok partial" "$(mw_field RESULT)" "reclaim action RESULT ok or partial"
assert_ge "$(mw_field RECLAIM_REQUEST_BYTES)" $((30 << 20)) "RECLAIM_REQUEST_BYTES in the record"
done_testing

#!/bin/bash
# SPDX-License-Identifier: MIT
# The map sees tmpfs: a unit writes 60 MiB to /dev/shm and sleeps. `memwardenctl map UNIT --json` must
# show it as shmem that no process maps, with the tmpfs diagnosis (the unit is found by its name).
. "$(dirname "$0")/lib.sh"

CTL=${MEMWARDEN_BUILD:+$MEMWARDEN_BUILD/ctl/memwardenctl}
[ -n "$CTL" ] && [ -x "$CTL" ] || fail "MEMWARDEN_BUILD does not hold a built memwardenctl"

unit=mw-map-tmpfs.service
fill=/dev/shm/mw-map-tmpfs.fill
trap 'rm -f "$fill"; _cleanup' EXIT
track_unit $unit
systemd-run --quiet --unit=$unit -p MemoryMax=256M \
        /bin/sh -c "head -c 60M /dev/zero >$fill && exec sleep infinity" || fail "start $unit"
cg=$(unit_cgroup $unit)
[ -n "$cg" ] || fail "$unit has no cgroup"
wait_for 60 sh -c "[ \"\$(awk '\$1==\"shmem\"{print \$2}' $cg/memory.stat)\" -ge $((60 << 20)) ]" ||
        fail "shmem of $unit did not reach 60 MiB: $(grep -w shmem $cg/memory.stat)"
pass "60 MiB of tmpfs charged to $unit ($(grep -w shmem $cg/memory.stat))"

"$CTL" map $unit --json >/tmp/map.json 2>/tmp/map.err || { cat /tmp/map.err >&2; fail "memwardenctl map $unit --json"; }
python3 - "$unit" <<'PY' || { cat /tmp/map.json >&2; fail "the JSON map does not show the tmpfs"; }
import json, sys
d = json.load(open("/tmp/map.json"))
unit = sys.argv[1]
assert d["version"] == 1, d["version"]
assert d["unit"] == unit and d["cgroup"] == "/system.slice/" + unit, (d["unit"], d["cgroup"])
assert d["stat"]["shmem"] >= 60 << 20, d["stat"]
assert d["shmem_unowned"] >= 55 << 20, d["shmem_unowned"]
assert d["processes"]["scanned"] >= 1 and any(p["comm"] == "sleep" for p in d["top"]), d["top"]
rules = [x["rule"] for x in d["diagnosis"]]
assert "tmpfs" in rules, d["diagnosis"]
t = [x for x in d["diagnosis"] if x["rule"] == "tmpfs"][0]
assert "no process owns it" in t["text"] and t["bytes"] >= 55 << 20, t
print("tmpfs diagnosis:", t["text"])
PY
pass "map --json: shmem no process maps, with the tmpfs diagnosis"

out=$("$CTL" map $unit) || fail "memwardenctl map $unit"
assert_contains "$out" "tmpfs/shared memory (shmem) that no process maps" "human map: the diagnosis"
assert_contains "$out" "shmem (tmpfs)" "human map: the shmem bar"
done_testing

#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs inside the test VM (./start on a host without cgroup v2): installs memwarden from the build,
# starts memwardend.service with the shipped policies plus the shipped tight-container example aimed at
# the demo units, runs a demo workload, and shows what memwardend says and does.
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${MEMWARDEN_BUILD:-$src/build}

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

say "installing memwarden from $build"
meson install --no-rebuild --quiet -C "$build" >/dev/null || exit 1
systemd-tmpfiles --create /usr/lib/tmpfiles.d/memwarden.conf 2>/dev/null
journalctl --update-catalog 2>/dev/null
# The shipped tight-container example, pointed at the demo units. Policies are tried in file-name order
# and the first match wins: 10-demo.conf comes before the shipped 50-default.conf.
sed -e "s/^Unit=.*/Unit=demo-*.service/" "$src/etc/policy.d/tight-container.conf.example" \
        >/etc/memwarden/policy.d/10-demo.conf
systemctl daemon-reload
say "memwardenctl check (the effective policies)"
memwardenctl check | grep -E '^(#|\[|Unit=|Slice=|Ladder=|Brake=|SomeTrigger=|DryRun=)'
systemctl start memwardend.service || { journalctl -u memwardend --no-pager | tail; exit 1; }
t0=$(date '+%Y-%m-%d %H:%M:%S')
say "memwardend is running: $(systemctl show -P StatusText memwardend.service)"

journalctl -u memwardend -f -o cat --since "$t0" &
follow=$!

say "demo 1: in a 64 MiB unit a job reads 56 MiB once (page cache), then needs 30 MiB: the brake (90%) raises 'high' events, memwarden alerts, then reclaims the idle cache"
modprobe loop 2>/dev/null
truncate -s 120M /run/demo.img && mkfs.ext4 -q -F /run/demo.img && mkdir -p /mnt/demo &&
        mount -o loop /run/demo.img /mnt/demo && dd if=/dev/urandom of=/mnt/demo/cache bs=1M count=56 status=none
sync; echo 3 >/proc/sys/vm/drop_caches
systemd-run --quiet --unit=demo-cache.service -p MemoryMax=64M \
        /bin/sh -c 'cat /mnt/demo/cache >/dev/null; exec python3 '"$src"'/tests/integration/hog.py 30 2 0.05'
sleep 25

say "demo 2: a leaking service in a 64 MiB unit: the brake throttles it, memwardend climbs the ladder and restarts it before the limit"
systemd-run --quiet --unit=demo-leak.service -p MemoryMax=64M -p MemorySwapMax=0 -p OOMPolicy=continue \
        python3 "$src/tests/integration/hog.py" 200 1 0.1
sleep 40

say "memwardenctl status"
memwardenctl status
oom() { # UNIT: kernel OOM kills in its cgroup, read while it still exists
        local f=/sys/fs/cgroup/system.slice/$1/memory.events
        if [ -r "$f" ]; then awk '$1 == "oom_kill" { print $2 }' "$f"; else echo "n/a (the unit is gone)"; fi
}
say "kernel OOM kills: demo-cache $(oom demo-cache.service), demo-leak $(oom demo-leak.service)"
kill $follow 2>/dev/null
systemctl stop demo-cache.service demo-leak.service 2>/dev/null
systemctl stop memwardend.service
say "done; journalctl -u memwardend -o verbose shows every field of every record"

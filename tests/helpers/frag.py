#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# The frag scenario with a real third-party program: CPython builds ~MIB MiB of bytes objects of 1-100 KiB
# (above pymalloc's 512-byte limit, so glibc malloc holds them), drops 90% (keeps every 10th), prints
# "ready PID RSS FREED" and sleeps until killed. glibc keeps the freed memory in its arenas.
import os, random, sys, time

mib = int(sys.argv[1]) if len(sys.argv) > 1 else 150
rnd = random.Random(42)
objs, total = [], 0
while total < mib << 20:
    n = rnd.randint(1024, 100 * 1024)
    objs.append(b"x" * n)
    total += n
freed = sum(len(o) for i, o in enumerate(objs) if i % 10)
objs = [o for i, o in enumerate(objs) if i % 10 == 0]
with open("/proc/self/statm") as f:
    rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
print("ready", os.getpid(), rss, freed, flush=True)
while True:
    time.sleep(3600)

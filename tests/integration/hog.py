#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# A memory hog for the integration tests: touches STEP_MIB of anonymous memory every INTERVAL seconds
# until TOTAL_MIB, then sleeps. Usage: hog.py TOTAL_MIB [STEP_MIB [INTERVAL]]
import sys, time
total, step = int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 4
interval = float(sys.argv[3]) if len(sys.argv) > 3 else 0.05
chunks = []
while len(chunks) * step < total:
    b = bytearray(step << 20)
    b[::4096] = b"x" * len(b[::4096])  # touch every page
    chunks.append(b)
    time.sleep(interval)
print("hog: holding %d MiB" % (len(chunks) * step), flush=True)
while True:
    time.sleep(3600)

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# tests/helpers/flush-state.py DIR STATE_MIB HOLD_MIB MIB_PER_SEC: a service that must flush its state on a
# graceful stop. It takes HOLD_MIB at once, then leaks MIB_PER_SEC. On SIGTERM it writes STATE_MIB MiB of
# state to DIR/state.PID (1 MiB at a time, each chunk made anew, derived from its number), fsyncs it, then
# writes DIR/state.PID.sum: "SIZE SHA256 SECONDS" (what it wrote, and how long the flush took) and exits 0.
# Per PID: the instance systemd starts after a restart must not overwrite its predecessor's state.
# A flush cut short (SIGKILL after TimeoutStopSec=, an OOM kill) leaves no state.sum or a state file whose
# size or checksum differs.
import hashlib
import os
import signal
import sys
import time

d, state_mib, hold_mib, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
chunks = []


def flush(*_):
    t0 = time.monotonic()
    h = hashlib.sha256()
    size = 0
    with open(os.path.join(d, "state.%d" % os.getpid()), "wb") as f:
        for i in range(state_mib):
            seed = b"chunk %d " % i
            chunk = (seed * ((1 << 20) // len(seed) + 1))[:1 << 20]
            h.update(chunk)
            f.write(chunk)
            size += len(chunk)
        f.flush()
        os.fsync(f.fileno())
    with open(os.path.join(d, "state.%d.sum" % os.getpid()), "w") as f:
        f.write("%d %s %.2f\n" % (size, h.hexdigest(), time.monotonic() - t0))
        f.flush()
        os.fsync(f.fileno())
    sys.exit(0)


signal.signal(signal.SIGTERM, flush)
for _ in range(hold_mib):
    chunks.append(b"\x5a" * (1 << 20))
with open(os.path.join(d, "ready.tmp"), "w") as f:
    f.write("%d\n" % os.getpid())
os.replace(os.path.join(d, "ready.tmp"), os.path.join(d, "ready"))
while True:
    chunks.append(b"\x5a" * (1 << 20))
    time.sleep(1.0 / rate)

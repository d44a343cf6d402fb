#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# tests/helpers/leak.py STATE MIB_PER_SEC [flush|ignore]: a service that leaks: it allocates and touches
# 1 MiB every 1/MIB_PER_SEC s and keeps it. On SIGTERM it appends "flushed N pid PID" to STATE (fsynced)
# and exits 0 (flush, the default), or ignores SIGTERM (ignore). Used by the leak tests and bench/lab.
import os
import signal
import sys
import time

state, mib_per_sec = sys.argv[1], float(sys.argv[2])
mode = sys.argv[3] if len(sys.argv) > 3 else "flush"
chunks = []


def flush(*_):
    with open(state, "a") as f:
        f.write("flushed %d pid %d\n" % (len(chunks), os.getpid()))
        f.flush()
        os.fsync(f.fileno())
    sys.exit(0)


signal.signal(signal.SIGTERM, flush if mode == "flush" else signal.SIG_IGN)
while True:
    chunks.append(b"\x5a" * (1 << 20))  # touched: charged to the cgroup
    time.sleep(1.0 / mib_per_sec)

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# bench/lab-sampler.py UNIT OUTFILE [INTERVAL]: every INTERVAL (0.5 s) append one line per sample of the
# unit's cgroup: t_mono current some_avg10 some_total full_avg10 high max oom oom_kill. Runs until killed;
# keeps going (writing nothing) while the unit's cgroup does not exist.
import os, subprocess, sys, time
unit, out = sys.argv[1], sys.argv[2]
iv = float(sys.argv[3]) if len(sys.argv) > 3 else 0.5
cg = None
f = open(out, "a", buffering=1)
def rd(p):
    with open(p) as fh:
        return fh.read()
while True:
    if cg is None or not os.path.isdir(cg):
        try:
            p = subprocess.run(["systemctl", "show", "-P", "ControlGroup", unit], capture_output=True, text=True).stdout.strip()
            cg = "/sys/fs/cgroup" + p if p else None
        except Exception:
            cg = None
    if cg and os.path.isdir(cg):
        try:
            cur = int(rd(cg + "/memory.current"))
            pr = rd(cg + "/memory.pressure").split("\n")
            some = dict(kv.split("=") for kv in pr[0].split()[1:])
            full = dict(kv.split("=") for kv in pr[1].split()[1:])
            ev = dict(l.split() for l in rd(cg + "/memory.events").strip().split("\n"))
            f.write("%.3f %d %s %s %s %s %s %s %s\n" % (time.monotonic(), cur, some["avg10"], some["total"],
                    full["avg10"], ev.get("high", 0), ev.get("max", 0), ev.get("oom", 0), ev.get("oom_kill", 0)))
        except Exception:
            pass
    time.sleep(iv)

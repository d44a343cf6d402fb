#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# evwatch.py CGDIR OUT [pid:N | cg:DIR]...: the kernel's view of one scenario, for the safety tests.
# Polls CGDIR's memory.events, memory.pressure, memory.current and memory.high every 50 ms (CLOCK_MONOTONIC,
# the clock of journald's __MONOTONIC_TIMESTAMP) until CGDIR is removed or SIGTERM, and keeps OUT (KEY=VALUE
# lines, replaced atomically) up to date:
#   ready=1, t0
#   first_high, first_max, first_oom, first_oom_kill   when that memory.events counter first rose
#   delta_high, delta_max, delta_oom, delta_oom_kill   how much it rose since the start
#   gone_<N>           when the process N, or the cgroup DIR (named by its basename), went away or was emptied
#                      (a cgroup counts only once it has been seen holding a process)
#   high_changes       "T:VALUE ..." each change of memory.high
#   full_avg10_max, some_avg10_max, current_max
#   samples            "T:current:high:full_avg10 ..." once a second
#   ended              when CGDIR was removed (the watch stops there)
import os
import signal
import sys
import time

cg, out = sys.argv[1], sys.argv[2]
targets = sys.argv[3:]


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def events():
    s = read(cg + "/memory.events")
    if s is None:
        return None
    return {k: int(v) for k, v in (line.split() for line in s.splitlines())}


def psi():
    s = read(cg + "/memory.pressure") or ""
    r = {}
    for line in s.splitlines():
        f = line.split()
        r[f[0]] = float(f[1].split("=")[1])
    return r.get("some", 0.0), r.get("full", 0.0)


ev0 = events()
if ev0 is None:
    sys.exit("evwatch: %s has no memory.events" % cg)
st = {"ready": "1", "t0": "%.3f" % time.monotonic()}
seen = {}
high_changes, samples = [], []
last_high, last_sample = None, 0.0
full_max = some_max = 0.0
cur_max = 0


def write():
    st["high_changes"] = " ".join(high_changes)
    st["samples"] = " ".join(samples)
    st["full_avg10_max"] = "%.2f" % full_max
    st["some_avg10_max"] = "%.2f" % some_max
    st["current_max"] = str(cur_max)
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        for k, v in st.items():
            f.write("%s=%s\n" % (k, v))
    os.replace(tmp, out)


def stop(*_):
    write()
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
write()
while True:
    now = time.monotonic()
    ev = events()
    if ev is None:
        # The cgroup is gone (its unit ended): every process target that is dead went with it.
        for t in targets:
            kind, what = t.split(":", 1)
            s = read("/proc/%s/stat" % what) if kind == "pid" else None
            if kind == "pid" and ("gone_" + what) not in st and (s is None or s.rsplit(")", 1)[1].split()[0] == "Z"):
                st["gone_" + what] = "%.3f" % now
        st["ended"] = "%.3f" % now
        break
    for k in ("high", "max", "oom", "oom_kill"):
        d = ev.get(k, 0) - ev0.get(k, 0)
        st["delta_" + k] = str(d)
        if d > 0 and ("first_" + k) not in st:
            st["first_" + k] = "%.3f" % now
    some, full = psi()
    some_max, full_max = max(some_max, some), max(full_max, full)
    cur = int(read(cg + "/memory.current") or 0)
    cur_max = max(cur_max, cur)
    high = (read(cg + "/memory.high") or "").strip()
    if high != last_high:
        high_changes.append("%.3f:%s" % (now, high))
        last_high = high
    for t in targets:
        kind, what = t.split(":", 1)
        key = "gone_" + os.path.basename(what)
        if key in st:
            continue
        if kind == "pid":
            s = read("/proc/%s/stat" % what)
            alive = s is not None and s.rsplit(")", 1)[1].split()[0] != "Z"
            if not alive:
                st[key] = "%.3f" % now
        else:
            procs = read(what + "/cgroup.procs")
            if procs:
                seen[what] = True
            elif seen.get(what):
                st[key] = "%.3f" % now
    if now - last_sample >= 1.0:
        samples.append("%.1f:%d:%s:%.2f" % (now, cur, high, full))
        last_sample = now
    write()
    time.sleep(0.05)
write()

#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Parses deploy/kubernetes/memwarden-daemonset.yaml and checks what a node agent needs: hostPID, the host's
# /sys/fs/cgroup read-write, /proc, /run/memwarden, /var/log/pods read-only, exactly the capabilities
# memwardend.service keeps, a ConfigMap with policy.d whose policies `memwardenctl check` accepts, resource
# requests, and a liveness probe through the control socket. Also: the Containerfile builds from this tree.
#   test-manifest.py SOURCE_ROOT MEMWARDENCTL
import os
import re
import subprocess
import sys
import tempfile

import yaml

src, ctl = sys.argv[1], sys.argv[2]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


with open(os.path.join(src, "deploy/kubernetes/memwarden-daemonset.yaml")) as f:
    docs = [d for d in yaml.safe_load_all(f) if d]
by_kind = {}
for d in docs:
    by_kind.setdefault(d["kind"], []).append(d)

ds = by_kind["DaemonSet"][0]
spec = ds["spec"]["template"]["spec"]
check(spec.get("hostPID") is True, "hostPID is not true")
c = spec["containers"][0]

# volumes: hostPath by name -> path, mounts by name
host = {v["name"]: v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v}
mounts = {m["name"]: m for m in c["volumeMounts"]}


def mount_of(host_path):
    for name, path in host.items():
        if path == host_path and name in mounts:
            return mounts[name]
    return None


m = mount_of("/sys/fs/cgroup")
check(m is not None and not m.get("readOnly", False), "/sys/fs/cgroup is not mounted read-write")
check(m is not None and ("--cgroup-root=" + m["mountPath"]) in c.get("args", []) or
      (m is not None and m["mountPath"] == "/sys/fs/cgroup"), "memwardend is not pointed at the host's cgroups")
m = mount_of("/proc")
check(m is not None, "/proc is not mounted")
check(m is not None and ("--proc-root=" + m["mountPath"]) in c.get("args", []), "memwardend is not pointed at /proc")
m = mount_of("/run/memwarden")
check(m is not None and m["mountPath"] == "/run/memwarden" and not m.get("readOnly", False),
      "/run/memwarden is not mounted read-write at /run/memwarden")
m = mount_of("/var/log/pods")
check(m is not None and m["mountPath"] == "/var/log/pods" and m.get("readOnly") is True,
      "/var/log/pods is not mounted read-only at /var/log/pods")

# capabilities: exactly those of the systemd unit's CapabilityBoundingSet=
with open(os.path.join(src, "systemd/memwardend.service.in")) as f:
    unit_caps = re.search(r"^CapabilityBoundingSet=(.*)$", f.read(), re.M).group(1).split()
want = sorted(x.removeprefix("CAP_") for x in unit_caps)
sc = c["securityContext"]
check(sc["capabilities"].get("drop") == ["ALL"], "capabilities are not dropped first")
check(sorted(sc["capabilities"].get("add", [])) == want,
      "capabilities %s differ from the unit's %s" % (sorted(sc["capabilities"].get("add", [])), want))
check(sc.get("privileged") is False, "the container is privileged")
check(sc.get("allowPrivilegeEscalation") is False, "privilege escalation is allowed")

# resources
req = c.get("resources", {}).get("requests", {})
check("cpu" in req and "memory" in req, "no cpu/memory requests")

# liveness through the control socket
probe = c.get("livenessProbe", {}).get("exec", {}).get("command", [])
check(len(probe) >= 2 and probe[0].endswith("memwardenctl") and probe[1] == "status",
      "the liveness probe is not `memwardenctl status`")

# the ConfigMap with policy.d, mounted into /etc/memwarden/policy.d, each policy valid
cms = {cm["metadata"]["name"]: cm for cm in by_kind.get("ConfigMap", [])}
pol_vols = [v for v in spec["volumes"] if "configMap" in v]
check(len(pol_vols) == 1, "no ConfigMap volume")
cm = cms.get(pol_vols[0]["configMap"]["name"]) if pol_vols else None
check(cm is not None, "the ConfigMap volume names no ConfigMap in the manifest")
files = []
if cm:
    check(len(cm["data"]) >= 1, "the ConfigMap holds no policy")
    for name, text in cm["data"].items():
        check(name.endswith(".conf"), "ConfigMap key %s is no policy file name" % name)
        mounted = [mm for mm in c["volumeMounts"] if mm["name"] == pol_vols[0]["name"] and
                   mm["mountPath"] == "/etc/memwarden/policy.d/" + name]
        check(len(mounted) == 1, "policy %s is not mounted into /etc/memwarden/policy.d" % name)
        files.append((name, text))
with tempfile.TemporaryDirectory() as d:
    paths = []
    for name, text in files:
        p = os.path.join(d, name)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, 0o644)
        paths.append(p)
    if paths:
        r = subprocess.run([ctl, "check"] + paths, capture_output=True, text=True)
        check(r.returncode == 0, "memwardenctl check rejects the ConfigMap's policies: %s" % (r.stdout + r.stderr))

# the Containerfile builds with meson from the tree and installs what the manifest runs
with open(os.path.join(src, "deploy/kubernetes/Containerfile")) as f:
    cf = f.read()
check("meson setup" in cf and "meson install" in cf, "the Containerfile does not build with meson")
check(c["command"][0] == "/usr/sbin/memwardend", "the DaemonSet does not run /usr/sbin/memwardend")

for x in failures:
    print("FAIL:", x)
print("%d checks failed" % len(failures))
sys.exit(1 if failures else 0)

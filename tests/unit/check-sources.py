#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Source checks for what memwarden promises about its own behaviour, run as meson tests:

  check-sources.py signals SRCDIR
      Every signal goes through a pidfd: no bare kill(), tgkill(), tkill(), sigqueue(), killpg(),
      pthread_kill(), pthread_sigqueue(), raise() or syscall(SYS_kill...) in daemon/ cgroup/ ctl/ trim/. The
      one way to signal another process is pidfd_signal() (cgroup/cgroup-act.c), whose raw
      pidfd_send_signal syscall is the only signalling call allowed, in that file only.

  check-sources.py drop-cache SRCDIR
      Drop-cache (daemon/action-drop-cache.c, cgroup/cgroup-pagecache.c) only reads: every open is an
      openat() relative to the /proc root fd (r->proc_fd, so /proc/PID/fd/N, never a path from a policy glob)
      with O_RDONLY; no write/truncate/allocate/create/rename/unlink call and no write-mode flag anywhere; the
      only posix_fadvise() advice is POSIX_FADV_DONTNEED; no fopen()/open() by path.

Comments and string literals are stripped before matching. Prints file:line for each finding and exits 1.
"""
import os
import re
import sys


def strip_c(text):
    """Blanks comments and string/char literals, keeping line numbers."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + re.sub(r"[^\n]", " ", text[i + 1:j]) + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def sources(src, dirs):
    for d in dirs:
        for root, _, files in os.walk(os.path.join(src, d)):
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    yield os.path.join(root, f)


def findings(path, code, patterns):
    for no, line in enumerate(code.split("\n"), 1):
        for pat, why in patterns:
            if re.search(pat, line):
                yield f"{path}:{no}: {why}: {line.strip()}"


SIGNAL_PATTERNS = [
    (r"(?<![\w.>])(kill|tgkill|tkill|sigqueue|killpg|pthread_kill|pthread_sigqueue|raise)\s*\(",
     "signal by PID (use a pidfd: pidfd_open_in_cgroup() + pidfd_signal())"),
    (r"\bSYS_(kill|tgkill|tkill|rt_sigqueueinfo|rt_tgsigqueueinfo)\b|__NR_(kill|tgkill|tkill)\b",
     "raw signal syscall by PID"),
]
PIDFD_SYSCALL = (r"\bSYS_pidfd_send_signal\b|\bpidfd_send_signal\s*\(", "pidfd_send_signal outside the helper")
PIDFD_HELPER = os.path.join("cgroup", "cgroup-act.c")


def check_signals(src):
    bad = []
    for path in sources(src, ["daemon", "cgroup", "ctl", "trim"]):
        rel = os.path.relpath(path, src)
        code = strip_c(open(path, encoding="utf-8", errors="replace").read())
        bad += findings(rel, code, SIGNAL_PATTERNS)
        if rel != PIDFD_HELPER:
            bad += findings(rel, code, [PIDFD_SYSCALL])
    return bad


DROP_CACHE_FILES = [os.path.join("daemon", "action-drop-cache.c"), os.path.join("cgroup", "cgroup-pagecache.c")]
DROP_CACHE_PATTERNS = [
    (r"\b(write|pwrite|pwrite64|writev|pwritev|pwritev2|ftruncate|truncate|fallocate|posix_fallocate|"
     r"unlink|unlinkat|rename|renameat|renameat2|mkdir|mkdirat|creat|link|linkat|symlink|symlinkat|"
     r"fchmod|fchown|chmod|chown|fsync|fdatasync|sync_file_range|copy_file_range|splice|sendfile|"
     r"write_string_file_at|fputs|fprintf|fwrite)\s*\(", "writes or changes a file"),
    (r"\bO_(WRONLY|RDWR|TRUNC|CREAT|APPEND|TMPFILE)\b", "write-mode open flag"),
    (r"\bPROT_WRITE\b", "writable mapping"),
    (r"(?<![\w.>])(open|fopen|freopen|opendir)\s*\(", "opens by path (only openat() on the /proc root fd)"),
    (r"\bPOSIX_FADV_(?!DONTNEED\b)\w+", "fadvise other than DONTNEED"),
    (r"\bmadvise\s*\(|\bprocess_madvise\b", "madvise"),
]


def check_drop_cache(src):
    bad = []
    present = [f for f in DROP_CACHE_FILES if os.path.exists(os.path.join(src, f))]
    if not present:
        print("drop-cache sources not there yet: nothing to check")
        return bad
    for rel in present:
        code = strip_c(open(os.path.join(src, rel), encoding="utf-8", errors="replace").read())
        bad += findings(rel, code, DROP_CACHE_PATTERNS)
        # Every openat(): relative to the /proc root fd, read-only. Arguments may span lines.
        for m in re.finditer(r"\bopenat\s*\(", code):
            depth, j = 1, m.end()
            while j < len(code) and depth:
                depth += {"(": 1, ")": -1}.get(code[j], 0)
                j += 1
            args = " ".join(code[m.end():j - 1].split())
            no = code.count("\n", 0, m.start()) + 1
            if not re.match(r"r->proc_fd\s*,", args):
                bad.append(f"{rel}:{no}: openat() not relative to the /proc root fd: openat({args})")
            if "O_RDONLY" not in args:
                bad.append(f"{rel}:{no}: openat() without O_RDONLY: openat({args})")
        for m in re.finditer(r"\bposix_fadvise\s*\(([^;]*)\)\s*;", code):
            if "POSIX_FADV_DONTNEED" not in m.group(1):
                no = code.count("\n", 0, m.start()) + 1
                bad.append(f"{rel}:{no}: posix_fadvise() without POSIX_FADV_DONTNEED")
        # read_full_file_at() opens O_RDONLY|O_NOFOLLOW; it too must stay below /proc.
        for m in re.finditer(r"\bread_full_file_at\s*\(\s*([^,]+),", code):
            if m.group(1).strip() != "r->proc_fd":
                no = code.count("\n", 0, m.start()) + 1
                bad.append(f"{rel}:{no}: read_full_file_at() not relative to the /proc root fd")
    return bad


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("signals", "drop-cache"):
        print(__doc__, file=sys.stderr)
        return 2
    what, src = sys.argv[1], sys.argv[2]
    bad = check_signals(src) if what == "signals" else check_drop_cache(src)
    for b in bad:
        print(b)
    if bad:
        print(f"FAIL: {len(bad)} finding(s) ({what})")
        return 1
    print(f"ok: {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

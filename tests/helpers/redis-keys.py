#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# tests/helpers/redis-keys.py PORT fill N SIZE | drop N EVERY | check N EVERY SIZE | pid
# A minimal RESP client (no redis-py needed). The work is done by the server (fast under TCG):
#   fill N SIZE   key:0..N-1 through DEBUG POPULATE (the server needs --enable-debug-command yes): each
#                 value is "value:I" padded with NUL bytes to SIZE, every byte written
#   drop N EVERY  DEL every key whose number is not a multiple of EVERY (the kept set), in one Lua script
#   check N EVERY SIZE  GET every kept key: prints "kept K ok OK missing M wrong W"; exit 0 only when all are ok
#   pid           prints the server's process_id (INFO server)
import socket
import sys

port, cmd = int(sys.argv[1]), sys.argv[2]
sock = socket.create_connection(("127.0.0.1", port), timeout=60)
rf = sock.makefile("rb")


def enc(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def reply():
    line = rf.readline()
    if not line:
        raise SystemExit("redis-keys: connection closed")
    t, rest = line[:1], line[1:-2]
    if t in (b"+", b":"):
        return rest
    if t == b"-":
        raise SystemExit("redis-keys: error " + rest.decode())
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = rf.read(n + 2)
        return data[:-2]
    raise SystemExit("redis-keys: unexpected reply %r" % line)


def value(i, size):
    v = b"value:%d" % i
    return v + b"\0" * (size - len(v))


def pipeline(cmds, batch=200):
    replies = []
    for s in range(0, len(cmds), batch):
        sock.sendall(b"".join(enc(*c) for c in cmds[s:s + batch]))
        replies.extend(reply() for _ in cmds[s:s + batch])
    return replies


if cmd == "fill":
    n, size = int(sys.argv[3]), int(sys.argv[4])
    pipeline([("DEBUG", "POPULATE", n, "key", size)])
    print("filled", n)
elif cmd == "drop":
    n, every = int(sys.argv[3]), int(sys.argv[4])
    lua = "local n = 0 for i = 0, %d do if i %% %d ~= 0 then n = n + redis.call('DEL', 'key:' .. i) end end return n"
    print("dropped", pipeline([("EVAL", lua % (n - 1, every), 0)])[0].decode())
elif cmd == "check":
    n, every, size = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    kept = [i for i in range(n) if i % every == 0]
    got = pipeline([("GET", "key:%d" % i) for i in kept])
    missing = sum(1 for g in got if g is None)
    wrong = sum(1 for i, g in zip(kept, got) if g is not None and g != value(i, size))
    ok = len(kept) - missing - wrong
    print("kept %d ok %d missing %d wrong %d" % (len(kept), ok, missing, wrong))
    sys.exit(0 if ok == len(kept) else 1)
elif cmd == "pid":
    sock.sendall(enc("INFO", "server"))
    for line in reply().decode().splitlines():
        if line.startswith("process_id:"):
            print(line.split(":")[1])
else:
    raise SystemExit("redis-keys: unknown command " + cmd)

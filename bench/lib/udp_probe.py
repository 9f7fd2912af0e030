#!/usr/bin/env python3
"""Reachability prober of the endpoint benchmarks: tells when a packet from a new pod first reaches a peer.

One process serves a whole run. It creates its sockets inside other network namespaces (setns around
socket(): a socket stays in the namespace it was created in), so nothing has to be started inside a pod
while the clock runs. Commands on stdin, one per line; answers on stdout, one per line:

  listen NETNS PORT            receiver: UDP socket bound to 0.0.0.0:PORT in NETNS (a path)  -> "ok"
  arm ID NETNS DST_IP PORT     sender for probe ID, created in NETNS (its interfaces may not exist yet) -> "ok"
  go ID                        start sending probe ID every INTERVAL_NS until the receiver sees it
                               -> later "arrived ID ARRIVAL_NS SENT_NS SENDS SEND_ERRORS"
  quit

Times are CLOCK_MONOTONIC nanoseconds (time.monotonic_ns), the clock of Node's process.hrtime.bigint(),
so the caller can subtract its own timestamps. Errors answer "error MESSAGE".
"""

import ctypes
import os
import select
import socket
import struct
import sys
import time

INTERVAL_NS = 200_000  # 0.2 ms between sends: the resolution of "first packet arrived"
CLONE_NEWNET = 0x40000000
PAYLOAD = struct.Struct("!IQ")  # probe id, send time

libc = ctypes.CDLL(None, use_errno=True)


def socket_in_netns(path: str) -> socket.socket:
    """A UDP socket created inside the network namespace at `path` (the calling thread comes back)."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(target, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns {path}: {os.strerror(err)}")
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        finally:
            if libc.setns(own, CLONE_NEWNET) != 0:
                # Continuing in the wrong namespace would silently corrupt every later measurement.
                os.write(2, b"udp_probe: cannot return to its own network namespace\n")
                os._exit(3)
        s.setblocking(False)
        return s
    finally:
        os.close(own)
        os.close(target)


class Probe:
    def __init__(self, sock: socket.socket, dst: tuple):
        self.sock = sock
        self.dst = dst
        self.active = False
        self.next_send = 0
        self.sends = 0
        self.errors = 0


def main() -> None:
    out = sys.stdout
    receivers: list = []
    probes: dict = {}
    pending = b""

    def say(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    while True:
        active = [p for p in probes.values() if p.active]
        now = time.monotonic_ns()
        timeout = None
        if active:
            timeout = max(0, min(p.next_send for p in active) - now) / 1e9
        readable, _, _ = select.select([0, *receivers], [], [], timeout)
        for r in readable:
            if r == 0:
                continue
            while True:
                try:
                    data = r.recv(64)
                except BlockingIOError:
                    break
                arrival = time.monotonic_ns()
                if len(data) < PAYLOAD.size:
                    continue
                pid, sent = PAYLOAD.unpack_from(data)
                p = probes.get(pid)
                if p is None or not p.active:
                    continue  # a late duplicate of a probe already reported
                p.active = False
                p.sock.close()
                del probes[pid]
                say(f"arrived {pid} {arrival} {sent} {p.sends} {p.errors}")
        if 0 in readable:
            chunk = os.read(0, 65536)
            if not chunk:
                return
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                args = line.decode().split()
                if not args:
                    continue
                try:
                    if args[0] == "listen":
                        s = socket_in_netns(args[1])
                        s.bind(("0.0.0.0", int(args[2])))
                        receivers.append(s)
                        say("ok")
                    elif args[0] == "arm":
                        pid = int(args[1])
                        probes[pid] = Probe(socket_in_netns(args[2]), (args[3], int(args[4])))
                        say("ok")
                    elif args[0] == "go":
                        p = probes[int(args[1])]
                        p.active = True
                        p.next_send = 0
                    elif args[0] == "quit":
                        return
                    else:
                        say(f"error unknown command {args[0]}")
                except Exception as e:  # report and keep serving: the caller decides
                    say(f"error {e}")
        now = time.monotonic_ns()
        for pid, p in probes.items():
            if p.active and p.next_send <= now:
                p.sends += 1
                try:
                    p.sock.sendto(PAYLOAD.pack(pid, now), p.dst)
                except OSError:
                    p.errors += 1  # no route or interface yet: the pod is not wired
                p.next_send = now + INTERVAL_NS


if __name__ == "__main__":
    main()

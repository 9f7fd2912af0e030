#!/usr/bin/env python3
"""TCP request/response load for the throughput benchmark, like netperf's TCP_RR and TCP_CRR.

  tcp_rr.py server PORT
      Serves one connection at a time: answers every 1-byte request with 1 byte; a connection whose
      first byte is b"c" is closed by the server right after its answer (CRR: the server closes first,
      so TIME_WAIT stays on the server and the client never runs out of ports).
  tcp_rr.py rr HOST PORT SECONDS
      One connection, TCP_NODELAY, request/response ping-pong for SECONDS.
  tcp_rr.py crr HOST PORT SECONDS
      Connect, request, response, close, repeated for SECONDS.

Clients print one JSON line: {"transactions": N, "seconds": S, "rate": N/S}. Python costs several
microseconds per system call on both ends, so these rates are lower than netperf's and a datapath
difference shows diluted in them; both sides of a comparison pay the same overhead.
"""

import json
import socket
import sys
import time


def serve(port: int) -> None:
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(128)
    print("listening", flush=True)
    while True:
        c, _ = ls.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                b = c.recv(1)
                if not b:
                    break
                c.sendall(b)
                if b == b"c":
                    break
        except ConnectionError:
            pass
        finally:
            c.close()


def rr(host: str, port: int, seconds: float) -> dict:
    s = socket.create_connection((host, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    send, recv = s.send, s.recv
    n = 0
    start = time.monotonic()
    deadline = start + seconds
    while True:
        # Check the clock every 256 transactions only: it costs as much as a system call.
        for _ in range(256):
            send(b"r")
            if not recv(1):
                raise ConnectionError("server closed the connection")
        n += 256
        now = time.monotonic()
        if now >= deadline:
            break
    s.close()
    return {"transactions": n, "seconds": now - start, "rate": n / (now - start)}


def crr(host: str, port: int, seconds: float) -> dict:
    n = 0
    start = time.monotonic()
    deadline = start + seconds
    addr = (host, port)
    while True:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.connect(addr)
        s.send(b"c")
        if s.recv(1) != b"c":
            raise ConnectionError("bad answer")
        s.recv(1)  # EOF: the server closed first
        s.close()
        n += 1
        if n % 16 == 0:
            now = time.monotonic()
            if now >= deadline:
                break
    return {"transactions": n, "seconds": now - start, "rate": n / (now - start)}


def main() -> None:
    mode = sys.argv[1]
    if mode == "server":
        serve(int(sys.argv[2]))
    elif mode in ("rr", "crr"):
        fn = rr if mode == "rr" else crr
        print(json.dumps(fn(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))), flush=True)
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()

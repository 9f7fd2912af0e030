#!/usr/bin/env python3
"""TCP connect + first byte, for the service load-balancing benchmark (bench/lb-scale.ts).

  lb_connect.py serve PORT BYTE
      Accepts connections on 0.0.0.0:PORT forever; writes BYTE (one character naming the backend) to
      each and closes it (the server
      closes first, so TIME_WAIT stays on the backends and the client never runs out of ports).
      Prints "ready" once listening.

  lb_connect.py connect HOST PORT COUNT WARMUP
      WARMUP unmeasured connections, then COUNT sequential ones in a tight loop: socket(), connect(),
      recv() of the first byte, close(). Prints one JSON object:
      {"latencyNs": [connect() until the first byte, per connection],
       "loopNs": [socket() until close() returned, per connection],
       "elapsedNs": wall time of the COUNT connections, "errors": n, "firstError": text,
       "answers": {byte: connections it answered}}.
"""
import json
import socket
import sys
import time


def serve(port: int, byte: bytes) -> None:
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(4096)
    print("ready", flush=True)
    while True:
        conn, _ = srv.accept()
        try:
            conn.send(byte)
        except OSError:
            pass
        conn.close()


def one(host: str, port: int) -> tuple[int, int, str]:
    start = time.perf_counter_ns()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2.0)
    try:
        t0 = time.perf_counter_ns()
        s.connect((host, port))
        got = s.recv(1)
        t1 = time.perf_counter_ns()
        if len(got) != 1:
            raise OSError("connection closed before the first byte")
    finally:
        s.close()
    return t1 - t0, time.perf_counter_ns() - start, got.decode("latin-1")


def connect(host: str, port: int, count: int, warmup: int) -> None:
    errors = 0
    first_error = None
    for _ in range(warmup):
        try:
            one(host, port)
        except OSError:
            pass
    latency = []
    loop = []
    answers = {}
    start = time.perf_counter_ns()
    for _ in range(count):
        try:
            ns, total, byte = one(host, port)
            latency.append(ns)
            loop.append(total)
            answers[byte] = answers.get(byte, 0) + 1
        except OSError as e:
            errors += 1
            first_error = first_error or repr(e)
    elapsed = time.perf_counter_ns() - start
    print(json.dumps({"latencyNs": latency, "loopNs": loop, "elapsedNs": elapsed, "errors": errors, "firstError": first_error, "answers": answers}), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]), sys.argv[3].encode("latin-1")[:1])
    elif sys.argv[1] == "connect":
        connect(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        sys.exit(f"unknown command {sys.argv[1]}")

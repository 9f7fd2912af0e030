#!/usr/bin/env bash
# Runs Cilia's benchmarks (they are not part of the test command). Each prints a table and writes
# bench/results/<name>.json. Needs root, a built checkout (this script builds it), iperf3 and python3.
#
#   bash bench/run.sh                    build, then run every benchmark in bench/ with its defaults
#                                        (a file whose first line starts with "// Benchmark:")
#   bash bench/run.sh NAME [ARGS...]     build, then run one, e.g. `endpoint-scale --concurrency 8`
#   bash bench/run.sh --no-build …       skip the build
#   bash bench/run.sh clean              remove what an interrupted run left: bn* namespaces and links,
#                                        /sys/fs/bpf/cilia-bench-* that no running agent uses
#
# Benchmarks share the name prefix `bn` and 10.244.100.0/22 (test/lib/ranges.md): run them one at a
# time, never two at once, and preferably on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = clean ]; then
  for ns in $(ip netns list | awk '$1 ~ /^bn/ {print $1}'); do ip netns del "$ns" || true; done
  for dev in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^bn' || true); do ip link del "$dev" 2>/dev/null || true; done
  for d in /sys/fs/bpf/cilia-bench-*; do
    [ -e "$d" ] || continue
    # Another benchmark's agent may be running: leave its pins alone.
    if grep -qsaF -- "--bpf-root=$d" /proc/[0-9]*/cmdline; then echo "in use by a running agent, kept: $d"; continue; fi
    rm -rf "$d"
  done
  exit 0
fi

build=1
if [ "${1:-}" = --no-build ]; then build=0; shift; fi
if [ "$(id -u)" != 0 ]; then echo "bench/run.sh: run as root (benchmarks create namespaces, veths and BPF programs)" >&2; exit 1; fi
for tool in ip iperf3 python3 node; do
  command -v "$tool" >/dev/null || { echo "bench/run.sh: $tool is missing" >&2; exit 1; }
done
if [ "$build" = 1 ]; then
  npx tsc -b
  make -s -C bpf
fi

# A benchmark is a bench/<name>.ts whose first line starts with "// Benchmark:"; the other files in
# bench/ are shared code or tools (they may need arguments).
benchmarks() {
  for ts in bench/*.ts; do
    if head -n 1 "$ts" | grep -q '^// Benchmark:'; then basename "$ts" .ts; fi
  done
}

run() { # name args...
  local name=$1 js="dist/bench/$1.js"
  shift
  [ -f "$js" ] || { echo "bench/run.sh: no $js; benchmarks: $(benchmarks | tr '\n' ' ')" >&2; exit 2; }
  echo "=== $name $*"
  node --enable-source-maps "$js" "$@"
  echo
}

if [ $# -gt 0 ]; then
  run "$@"
else
  for name in $(benchmarks); do run "$name"; done
fi

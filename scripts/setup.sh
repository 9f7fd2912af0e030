#!/usr/bin/env bash
# Prepares a fresh Debian 12 machine (as root) to build and run Cilia: installs the apt packages
# that are missing, mounts bpffs, installs npm dependencies and builds TypeScript and BPF objects.
# Idempotent: a second run only rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  clang llvm libbpf-dev bpftool iproute2 iptables iperf3 jq gcc-multilib netcat-openbsd
  # tools the tests run inside pod namespaces
  iputils-ping curl python3 procps
  # podman as a real CNI client in the test suite (../shared/recipes/podman-cni.md)
  podman containernetworking-plugins conmon catatonit runc busybox-static uidmap
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# bpffs: the agent mounts it too, but tests and tools expect it from the start.
if ! mountpoint -q /sys/fs/bpf; then mount -t bpf bpf /sys/fs/bpf; fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npx tsc -b
make -s -C bpf
bash scripts/install-bins.sh

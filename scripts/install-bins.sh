#!/usr/bin/env bash
# Installs small wrappers so that `cilia`, `cilia-agent`, `cilia-operator` and the CNI plugin
# `cilia-cni` run this checkout's build: /usr/local/bin/* and /opt/cni/bin/cilia-cni.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
install_wrapper() { # name script dir
  local target="$3/$1"
  mkdir -p "$3"
  printf '#!/bin/sh\nexec node %s/%s "$@"\n' "$root" "$2" > "$target.tmp"
  chmod 0755 "$target.tmp"
  mv "$target.tmp" "$target"
}
install_wrapper cilia dist/daemon/cli.js /usr/local/bin
install_wrapper cilia-agent dist/daemon/agent.js /usr/local/bin
install_wrapper cilia-operator dist/operator/main.js /usr/local/bin
if [ -f "$root/dist/daemon/cni.js" ]; then install_wrapper cilia-cni dist/daemon/cni.js /opt/cni/bin; fi

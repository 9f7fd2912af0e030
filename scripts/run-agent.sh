#!/usr/bin/env bash
# The main job: set everything up on a fresh machine (as root) and run the agent on the embedded
# `local` backend. Extra arguments are passed to cilia-agent (e.g. --log-level=debug).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node --enable-source-maps dist/daemon/agent.js --backend=local "$@"

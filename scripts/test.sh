#!/usr/bin/env bash
# The test command: sets everything up on a fresh machine, lints, then runs every test
# (unit tests beside the code, then the privileged integration tests under test/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx eslint .
# Unit tests (pkg/, cells/, daemon/, operator/, examples/) and the integration tests (test/).
# Only tests whose source still exists: tsc leaves the output of a deleted file in dist/.
mapfile -t files < <(find dist -name '*.test.js' | sort | while read -r f; do
  src="${f#dist/}"; [[ -f "${src%.js}.ts" ]] && echo "$f"; done)
exec node --test --test-reporter=spec --test-concurrency="${CILIA_TEST_CONCURRENCY:-2}" "${files[@]}"

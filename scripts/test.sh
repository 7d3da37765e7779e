#!/usr/bin/env bash
# Sets Parley up and runs the whole test suite (unit, integration, fuzz, end-to-end).
#   bash scripts/test.sh              everything
#   bash scripts/test.sh test/unit    one folder or file
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
MEDIASOUP_WORKER_BIN=$(bash "$root/scripts/setup.sh")
export MEDIASOUP_WORKER_BIN
cd "$root"
# The type checks run beside the linter (two cores: about 15 s less than one after the other).
(npx tsc --noEmit && npx tsc --noEmit -p web/console && npx tsc --noEmit -p web) &
typecheck=$!
npx eslint src test bench web
wait "$typecheck"
# The config validator is compiled ahead of time and committed: it must be what the schema compiles to.
node --import tsx scripts/build-config-validator.ts --check
# The browser bundles are committed: they must be what web/webrtc/ builds to.
node scripts/build-web.mjs --check
exec bash scripts/run-tests.sh "$@"

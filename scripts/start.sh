#!/usr/bin/env bash
# Sets Parley up (first run: a few minutes) and starts it in the foreground with
# ./parley.yaml (or the file given with --config). Ctrl-C stops it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
MEDIASOUP_WORKER_BIN=$(bash "$root/scripts/setup.sh")
export MEDIASOUP_WORKER_BIN
cd "$root"
exec node --import tsx src/cli.ts start "$@"

#!/usr/bin/env bash
# `npm run bench`: every benchmark in turn, then the summary, the chart and the README
# table (bench/report.ts). Not part of the test command. Takes a few minutes.
#   bash scripts/bench.sh
# Benchmarks must not overlap on a shared machine: the whole run holds
# /tmp/parley-bench.lock (flock), unless a parent already holds it
# (`flock /tmp/parley-bench.lock npm run bench` works too, and does not deadlock).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
lock=/tmp/parley-bench.lock

# Does this process or one of its ancestors have the lock file open (flock(1) keeps it
# open while it runs its command)? Then the lock is ours already: taking it again would
# wait forever.
lock_held() {
  local pid=$$ fd
  while [ "$pid" -gt 1 ]; do
    for fd in /proc/"$pid"/fd/*; do
      [ "$(readlink "$fd" 2>/dev/null)" = "$lock" ] && return 0
    done
    # ppid: the second field after the command name, which may hold spaces and ')'.
    pid=$(sed 's/.*) //' /proc/"$pid"/stat 2>/dev/null | cut -d' ' -f2)
    [ -n "$pid" ] || pid=1
  done
  return 1
}
if ! lock_held; then
  echo "bench: waiting for $lock (another benchmark may be running)" >&2
  exec flock "$lock" bash "$root/scripts/bench.sh" "$@"
fi

MEDIASOUP_WORKER_BIN=$(bash scripts/setup.sh)
export MEDIASOUP_WORKER_BIN
# Janus AudioBridge is bench:mixing's opponent, Kamailio + rtpengine the anchor of
# bench:calls and bench:bridge; only the benchmarks need them.
bash scripts/apt-ensure.sh janus rtpengine-daemon

failed=()
# run_step NPM_SCRIPT FILE: runs the script when it and its file exist, else says why not.
run_step() {
  local name=$1 file=$2
  if [ ! -f "$file" ] || ! node -e "process.exit(require('./package.json').scripts['$name'] ? 0 : 1)"; then
    echo "bench: skipping $name: $file or its npm script is not there (yet)" >&2
    return 0
  fi
  echo "bench: $name" >&2
  local t0=$SECONDS
  if npm run --silent "$name"; then
    echo "bench: $name done in $((SECONDS - t0)) s" >&2
  else
    echo "bench: $name FAILED (exit $?) after $((SECONDS - t0)) s; going on" >&2
    failed+=("$name")
  fi
}

run_step bench:calls bench/call-setup.ts
run_step bench:bridge bench/bridge-compare.ts
run_step bench:floor bench/forward-floor.ts
run_step bench:mixing bench/mixing-compare.ts
run_step bench:recording bench/recording.ts
run_step bench:sip bench/sip-bench.ts
run_step bench:mixer bench/mixer-bench.ts
run_step bench:siprec bench/siprec-bench.ts

node --import tsx bench/report.ts
if [ ${#failed[@]} -gt 0 ]; then
  echo "bench: failed: ${failed[*]} (their previous results, if any, are what the report shows)" >&2
  exit 1
fi

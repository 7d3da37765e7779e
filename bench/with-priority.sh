#!/usr/bin/env bash
# Runs a benchmark command shielded from other work on a shared machine: in its own session, so
# its own scheduler autogroup (Linux gives each autogroup an equal share of the CPUs, whatever
# the nice of the processes inside), with that autogroup's nice and the processes' nice at
# $BENCH_NICE (default -10). Everything the command starts (the SIP bench's app process and
# SIPp) inherits both, so the three stand equally against each other: only outside work is
# pushed back. Needs root (or CAP_SYS_NICE); without it the command runs at normal priority.
#   bash bench/with-priority.sh npm run bench:sip
set -euo pipefail
nice_value="${BENCH_NICE:--10}"
if [ -z "${PARLEY_BENCH_SESSION:-}" ]; then
  exec env PARLEY_BENCH_SESSION=1 setsid -w bash "$0" "$@"
fi
if [ -w /proc/self/autogroup ]; then
  echo "$nice_value" > /proc/self/autogroup 2>/dev/null || echo "with-priority: cannot set the autogroup's nice" >&2
fi
exec nice -n "$nice_value" "$@" || exec "$@"

#!/usr/bin/env bash
# Runs test files with node's built-in runner through tsx. Unit test files run two at a time
# (they use fake transports, port 0 and their own temp folders; half of a unit file's time is
# tsx start-up and timers). Integration files other than test/integration/media run three at a
# time: each starts its own servers on free ports and mostly waits on timers and sockets (the
# SIP ones: 102 s one at a time, 43 s three at a time, 35 s of CPU). Media integration, fuzz
# and e2e files run one at a time (real RTP judged as audio, loads: 2 cores are not enough to
# overlap them). PARLEY_UNIT_CONCURRENCY and PARLEY_INTEGRATION_CONCURRENCY override those
# two concurrencies (1: one at a time).
#   bash scripts/run-tests.sh                 unit, then integration, fuzz, then e2e
#   bash scripts/run-tests.sh test/unit       a folder
#   bash scripts/run-tests.sh test/x.test.ts  a file
set -euo pipefail
cd "$(dirname "$0")/.."
# Every temp folder the tests (and the servers and clients they start) make goes under one
# folder of this run, removed when it ends: a run leaves nothing in /tmp (thousands of leftover
# folders there made every file created under /tmp slow). PARLEY_KEEP_TMP=1 keeps it.
run_tmp=$(mktemp -d "${TMPDIR:-/tmp}/parley-tests.XXXXXX")
export TMPDIR="$run_tmp"
if [ "${PARLEY_KEEP_TMP:-0}" = 1 ]; then
  echo "run-tests: temp files kept in $run_tmp" >&2
else
  trap 'rm -rf "$run_tmp"' EXIT
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for d in test/unit test/integration test/fuzz test/e2e; do [ -d "$d" ] && targets+=("$d"); done
fi
files=()
for t in "${targets[@]}"; do
  if [ -d "$t" ]; then
    while IFS= read -r f; do files+=("$f"); done < <(find "$t" -name '*.test.ts' | sort)
  else
    files+=("$t")
  fi
done
[ ${#files[@]} -gt 0 ] || { echo "run-tests: no test files under ${targets[*]}" >&2; exit 1; }
unit=()
side=()
rest=()
for f in "${files[@]}"; do
  case "${f#./}" in
    test/unit/*) unit+=("$f") ;;
    test/integration/media/*) rest+=("$f") ;;
    test/integration/*) side+=("$f") ;;
    *) rest+=("$f") ;;
  esac
done
# --test-force-exit: a file's process ends once its tests and hooks are done, even with a socket or
# timer a failed test left open (it waited for --test-timeout, ten minutes, before).
run() {
  node --import tsx --test --test-force-exit --test-concurrency="$1" --test-timeout=600000 --test-reporter=spec "${@:2}"
}
status=0
if [ ${#unit[@]} -gt 0 ]; then run "${PARLEY_UNIT_CONCURRENCY:-2}" "${unit[@]}" || status=$?; fi
if [ ${#side[@]} -gt 0 ]; then run "${PARLEY_INTEGRATION_CONCURRENCY:-3}" "${side[@]}" || status=$?; fi
if [ ${#rest[@]} -gt 0 ]; then run 1 "${rest[@]}" || status=$?; fi
exit "$status"

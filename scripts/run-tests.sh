#!/usr/bin/env bash
# Runs test files with node's built-in runner through tsx, in two stages.
# First stage, two runs side by side (about 60 s less than one after the other on two cores):
# - unit test files, two at a time (fake transports, port 0, their own temp folders; half of a
#   unit file's time is tsx start-up and timers); their report is printed when they are done;
# - the files that judge no real-time audio: integration files other than
#   test/integration/media, fuzz files, and any other file with a line `// parley-tests: beside`
#   in its first 40 lines (each starts its own servers on free ports and mostly waits on
#   timers and sockets), four at a time.
# Second stage: media integration and the other e2e files, one at a time (real RTP judged as
# audio, loads: 2 cores are not enough to overlap them). PARLEY_UNIT_CONCURRENCY and
# PARLEY_INTEGRATION_CONCURRENCY override the first stage's two concurrencies (1: one at a
# time); PARLEY_TEST_STAGES_APART=1 runs its two runs one after the other.
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
    test/integration/* | test/fuzz/*) side+=("$f") ;;
    *) if head -n 40 "$f" | grep -q '^// parley-tests: beside'; then side+=("$f"); else rest+=("$f"); fi ;;
  esac
done
# --test-force-exit: a file's process ends once its tests and hooks are done, even with a socket or
# timer a failed test left open (it waited for --test-timeout, ten minutes, before).
run() {
  node --import tsx --test --test-force-exit --test-concurrency="$1" --test-timeout=600000 --test-reporter=spec "${@:2}"
}
status=0
if [ ${#unit[@]} -gt 0 ] && [ ${#side[@]} -gt 0 ] && [ "${PARLEY_TEST_STAGES_APART:-0}" != 1 ]; then
  # The unit run's report goes to a file, printed whole once both runs are done (not interleaved).
  unit_log="$run_tmp/unit-tests.log"
  run "${PARLEY_UNIT_CONCURRENCY:-2}" "${unit[@]}" > "$unit_log" 2>&1 &
  unit_pid=$!
  run "${PARLEY_INTEGRATION_CONCURRENCY:-4}" "${side[@]}" || status=$?
  unit_status=0
  wait "$unit_pid" || unit_status=$?
  echo "run-tests: unit test files (run beside the files above):"
  cat "$unit_log"
  [ "$unit_status" = 0 ] || status=$unit_status
else
  if [ ${#unit[@]} -gt 0 ]; then run "${PARLEY_UNIT_CONCURRENCY:-2}" "${unit[@]}" || status=$?; fi
  if [ ${#side[@]} -gt 0 ]; then run "${PARLEY_INTEGRATION_CONCURRENCY:-4}" "${side[@]}" || status=$?; fi
fi
if [ ${#rest[@]} -gt 0 ]; then run 1 "${rest[@]}" || status=$?; fi
exit "$status"

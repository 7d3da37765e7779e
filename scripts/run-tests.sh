#!/usr/bin/env bash
# Runs test files with node's built-in runner through tsx, one file at a time
# (integration tests start real servers and workers; 2 cores are not enough to overlap them).
#   bash scripts/run-tests.sh                 unit, then integration, fuzz, then e2e
#   bash scripts/run-tests.sh test/unit       a folder
#   bash scripts/run-tests.sh test/x.test.ts  a file
set -euo pipefail
cd "$(dirname "$0")/.."
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
exec node --import tsx --test --test-concurrency=1 --test-timeout=600000 --test-reporter=spec "${files[@]}"

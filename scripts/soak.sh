#!/usr/bin/env bash
# Soak: the full suite (npm test) RUNS times in a row while the unit suite runs alongside,
# over and over, as load (issue 14: "three consecutive runs of the full suite pass while
# the unit suite runs alongside as load"). Prints one line per run and exits non-zero at
# the first failure; each run's output is kept in $SOAK_DIR (default /tmp/forestall-soak).
#   bash scripts/soak.sh [RUNS]
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
dir=${SOAK_DIR:-/tmp/forestall-soak}
mkdir -p "$dir"
PATH="$(bash scripts/node-lts.sh):$PATH"
export PATH

# The load runs in its own session, so stopping it stops every vitest process it started.
load='n=0; while :; do n=$((n + 1)); npx vitest run --project unit >"$0/load-$n.log" 2>&1 || echo "load run $n failed (see $0/load-$n.log)" >&2; done'

for run in $(seq 1 "$runs"); do
  start=$SECONDS
  npm test >"$dir/run-$run.log" 2>&1 &
  suite=$!
  # The load starts once npm test has built dist/ and started vitest: the unit suite
  # runs the built CLI, which a build in progress leaves half-written.
  until grep -q ' RUN ' "$dir/run-$run.log" 2>/dev/null || ! kill -0 "$suite" 2>/dev/null; do sleep 1; done
  setsid bash -c "$load" "$dir" &
  loader=$!
  if wait "$suite"; then status=passed; else status=FAILED; fi
  kill -- -"$loader" 2>/dev/null
  wait "$loader" 2>/dev/null
  summary=$(grep -aE '^ +Tests ' "$dir/run-$run.log" | tail -1 | sed 's/\x1b\[[0-9;]*m//g' | xargs)
  echo "run $run: $status in $((SECONDS - start)) s (${summary:-no summary}); log $dir/run-$run.log"
  [ "$status" = passed ] || exit 1
done

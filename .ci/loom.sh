#!/usr/bin/env bash
# Runs every loom model (loom-tests/): dequeue, chain and pool.
#
#   bash .ci/loom.sh                        # the CI setting: preemption bound 2
#   VICTIM_POOL_LOOM_HEAVY=1 bash .ci/loom.sh   # bound 3: far longer, see docs/testing.md
#   bash .ci/loom.sh chain::                # extra arguments go to the test binary
#
# loom needs its own build (different RUSTFLAGS rebuild everything), so it
# uses its own target directory unless CARGO_TARGET_DIR is already set.
# Each model prints "loom model NAME: N executions in T s" on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target-loom}"
# `--cfg crossbeam_loom` makes crossbeam-epoch use loom's atomics; without it
# src/sync.rs refuses to compile. Debug assertions stay on in release.
export RUSTFLAGS="--cfg loom --cfg crossbeam_loom -C debug-assertions"
if [ "${VICTIM_POOL_LOOM_HEAVY:-0}" = 1 ]; then
    export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"
else
    export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}"
fi
export LOOM_MAX_BRANCHES="${LOOM_MAX_BRANCHES:-10000}"

echo "loom: LOOM_MAX_PREEMPTIONS=$LOOM_MAX_PREEMPTIONS LOOM_MAX_BRANCHES=$LOOM_MAX_BRANCHES CARGO_TARGET_DIR=$CARGO_TARGET_DIR"
start=$(date +%s)
# --nocapture shows each model's execution count and time as it finishes.
cargo test --release --test loom -- --nocapture "$@"
echo "loom: all models passed in $(( $(date +%s) - start )) s (build included)"

#!/usr/bin/env bash
# The user crate's checks: every command docs/model-checking.md shows, run
# by the last step of .ci/test.
#
# Target directories are shared with the main crate's builds, which use the
# same dependency versions, profile and flags: the property test with
# `target` (cargo test --release), the loom model with `target-loom`
# (.ci/loom.sh's RUSTFLAGS). Only this crate and victim-pool (with the
# `model` feature) are built anew.
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
start=$(date +%s)

echo "downstream: property test against victim_pool::model"
CARGO_TARGET_DIR="$root/target" \
cargo test --release --test fuzz

echo "downstream: loom model of the static pool"
CARGO_TARGET_DIR="$root/target-loom" \
RUSTFLAGS="--cfg loom --cfg crossbeam_loom -C debug-assertions" LOOM_MAX_PREEMPTIONS=2 \
LOOM_MAX_BRANCHES=10000 \
    cargo test --release --test loom_model -- --nocapture

echo "downstream: passed in $(( $(date +%s) - start )) s (builds included)"

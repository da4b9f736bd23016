#!/usr/bin/env bash
# Times the single-thread loops of docs/benchmarks.md with an older commit's
# library and this checkout's, side by side in one process (versus.rs), and
# prints a Markdown table of medians and ratios (now ÷ then: below 1.00x,
# the checkout is faster). A check that no single-thread row got slower,
# free of the drift between two benchmark runs on a shared machine.
#
#   BENCH_REV=d22314b benches/report/versus.sh [rounds]
#
# The table, with a caption naming both commits, also goes into
# benches/report/versus.md, which report.py copies into docs/benchmarks.md.
#
# Environment:
#   BENCH_REV        the older commit (required)
#   VERSUS_OUT       where the table goes (default benches/report/versus.md)
#   CARGO_TARGET_DIR as for cargo; the scratch crate goes under
#                    $CARGO_TARGET_DIR/versus
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
: "${BENCH_REV:?set BENCH_REV to the older commit}"
commit="$(git rev-parse --short "$BENCH_REV^{commit}")"
work="${CARGO_TARGET_DIR:-$repo/target}/versus"

rm -rf "$work"
mkdir -p "$work/then" "$work/src"
# -m: fresh mtimes, so cargo rebuilds the crate from this tree.
git archive "$commit" | tar -x -m -C "$work/then"
# Two packages may not share a name in one build: rename the older one.
# (and its dev-dependency on itself).
sed -i -e '0,/^name = "victim-pool"$/s//name = "victim-pool-then"/' \
    -e 's/^victim-pool = { path = "\."/victim-pool-then = { package = "victim-pool-then", path = "."/' \
    "$work/then/Cargo.toml"
cp "$repo/benches/report/versus.rs" "$work/src/main.rs"
cp "$repo/Cargo.lock" "$work/Cargo.lock"
cat >"$work/Cargo.toml" <<TOML
[package]
name = "versus"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
victim_pool = { package = "victim-pool", path = "$repo" }
victim_pool_then = { package = "victim-pool-then", path = "then" }

[profile.release]
debug = 1

[workspace]
TOML

now="$(git rev-parse --short HEAD)$(git diff --quiet -- src Cargo.toml || echo ' with uncommitted changes to the library')"
out="${VERSUS_OUT:-$repo/benches/report/versus.md}"
cd "$work"
cargo build --release --quiet
table="$(VERSUS_THEN="$commit" ./target/release/versus "$@")"
{
    echo "Measured by \`BENCH_REV=$commit benches/report/versus.sh\` on $(date -u +%F):" \
        "the library at $commit ($(git -C "$repo" log -1 --format=%cs "$commit")) and at $now," \
        "the same loops compiled into one binary, medians of ${1:-11} interleaved rounds" \
        "($(rustc -V | cut -d' ' -f1-2))."
    echo
    echo "$table"
} | tee "$out"

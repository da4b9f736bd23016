#!/usr/bin/env bash
# Runs every benchmark of victim-pool and regenerates docs/benchmarks.md.
#
#   benches/run.sh [criterion filter...]
#
# Each of RUNS runs executes every [[bench]] target of Cargo.toml once (each
# into its own CRITERION_HOME) and then Go's sync.Pool suite (benches/go/)
# once, so the Rust and Go sides alternate in time. benches/report/report.py
# then reads every criterion group and every Go result it finds and writes
# docs/benchmarks.md plus SVG plots under docs/.
#
# Environment (all optional):
#   RUNS=3                 runs (1 in quick mode)
#   VICTIM_BENCH_QUICK=1   smoke mode: short criterion measurements, one run,
#                          short Go benchtime; writes the report under the
#                          results directory instead of docs/
#   BENCH_TARGETS="a b"    criterion bench targets (default: all [[bench]])
#   BENCH_OUT=dir          where the report goes
#   GO_BENCH=^BenchmarkPool go test -bench regexp (the -cpu list runs)
#   GO_CPU=1,2             go test -cpu list
#   GO_EXTRA_CPU=8         also run ^BenchmarkPool$ at these -cpu values
#                          (more goroutines than cores); empty to skip
#   GO_SCALING_CPU=$(nproc) -cpu of ^BenchmarkThreadScaling$ (T goroutines at
#                          GOMAXPROCS = cores); empty to skip
#   GO_BENCHTIME=1s        go test -benchtime
#   GO_COUNT=1             go test -count per run
#   BENCH_REV=<git rev>    benchmark that commit (exported to a scratch tree)
#                          instead of the working tree, which others may be
#                          editing; the report still goes to this checkout
#   CARGO_TARGET_DIR       as for cargo; results go to $CARGO_TARGET_DIR/bench-report
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

quick="${VICTIM_BENCH_QUICK:-0}"
[[ "$quick" == "" ]] && quick=0
if [[ "$quick" != "0" ]]; then
    runs="${RUNS:-1}"
    go_benchtime="${GO_BENCHTIME:-100ms}"
else
    runs="${RUNS:-3}"
    go_benchtime="${GO_BENCHTIME:-1s}"
fi
go_bench="${GO_BENCH:-^BenchmarkPool}"
go_cpu="${GO_CPU:-1,2}"
go_extra_cpu="${GO_EXTRA_CPU-8}"
go_scaling_cpu="${GO_SCALING_CPU-$(nproc)}"
go_count="${GO_COUNT:-1}"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
results="$target_dir/bench-report"

if [[ "$quick" != "0" ]]; then
    out="${BENCH_OUT:-$results/preview}"
else
    out="${BENCH_OUT:-$repo/docs}"
fi

rm -rf "$results"
mkdir -p "$results"
meta="$results/meta.env"
if [[ -n "${BENCH_REV:-}" ]]; then
    commit="$(git rev-parse --short "$BENCH_REV^{commit}")"
    tree="$results/tree"
    mkdir -p "$tree"
    # -m: fresh mtimes, so cargo rebuilds the crate from this tree.
    git archive "$commit" | tar -x -m -C "$tree"
    # Cargo's freshness check is by mtime and its hashes ignore where the
    # workspace lives, so a tree and the working copy must not share a target
    # dir: either could be mistaken for the other's build.
    target_dir="$target_dir/bench-rev-target"
    echo "== benchmarking commit $commit (exported to $tree)"
else
    commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    git diff --quiet HEAD -- src benches Cargo.toml 2>/dev/null ||
        commit="$commit (with uncommitted changes to src/, benches/ or Cargo.toml)"
    tree="$repo"
fi
export CARGO_TARGET_DIR="$target_dir"
cd "$tree"
if [[ -n "${BENCH_TARGETS:-}" ]]; then
    read -r -a targets <<<"$BENCH_TARGETS"
else
    # Every name = "..." that follows a [[bench]] header.
    mapfile -t targets < <(awk '
        /^\[\[bench\]\]/ { in_bench = 1; next }
        /^\[/ { in_bench = 0 }
        in_bench && /^name *=/ { gsub(/.*= *"|".*/, ""); print }
    ' Cargo.toml)
fi
note() { printf '%s=%s\n' "$1" "$2" >>"$meta"; }
started=$(date +%s)
step() {  # step <label> <command...>: runs it and records how long it took
    local label="$1" t0 rc=0
    shift
    t0=$(date +%s)
    "$@" || rc=$?
    note timing "$label: $(($(date +%s) - t0)) s$([[ $rc -ne 0 ]] && echo " (failed, exit $rc)")"
    return $rc
}

note date "$(date -u '+%Y-%m-%d %H:%M UTC')"
note commit "$commit"
note runs "$runs"
note quick "$quick"
note bench_targets "${targets[*]}"
note rustc_version "$(rustc -V)"
note load_before "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
note virt "$(lscpu 2>/dev/null | sed -n 's/^Hypervisor vendor: *\(.*\)/virtualized, \1/p')"

echo "== building benches (${targets[*]})"
step "cargo bench --no-run" cargo bench --no-run

have_go=0
if command -v go >/dev/null 2>&1; then
    have_go=1
    note go_version "$(go version)"
    note go_settings "go test -bench '$go_bench' -cpu $go_cpu -count $go_count -benchtime $go_benchtime per run$([[ -n "$go_extra_cpu" ]] && echo "; ^BenchmarkPool\$ also at -cpu $go_extra_cpu")$([[ -n "$go_scaling_cpu" ]] && echo "; ^BenchmarkThreadScaling\$ at -cpu $go_scaling_cpu")"
else
    echo "== go not found: skipping Go's sync.Pool benchmarks (apt-get install golang-go to include them)"
fi

for ((r = 1; r <= runs; r++)); do
    dir="$results/run-$r"
    mkdir -p "$dir"
    for t in "${targets[@]}"; do
        echo "== run $r/$runs: cargo bench --bench $t"
        CRITERION_HOME="$dir/criterion-$t" VICTIM_BENCH_EXTRA_DIR="$dir/extra-$t" \
            step "run $r: cargo bench --bench $t" \
            cargo bench --bench "$t" -- "$@" 2>&1 | tee "$dir/$t.log"
    done
    if [[ $have_go == 1 ]]; then
        echo "== run $r/$runs: go test -bench (benches/go)"
        (
            cd benches/go
            step "run $r: go test -cpu $go_cpu" \
                go test -run '^$' -bench "$go_bench" -cpu "$go_cpu" -count "$go_count" \
                -benchtime "$go_benchtime" -timeout 60m >"$dir/go.txt" 2>&1 ||
                echo "warning: go test failed; see $dir/go.txt"
            if [[ -n "$go_scaling_cpu" ]]; then
                step "run $r: go test ThreadScaling -cpu $go_scaling_cpu" \
                    go test -run '^$' -bench '^BenchmarkThreadScaling$' -cpu "$go_scaling_cpu" -count "$go_count" \
                    -benchtime "$go_benchtime" -timeout 60m >"$dir/go-scaling.txt" 2>&1 ||
                    echo "warning: go test failed; see $dir/go-scaling.txt"
            fi
            if [[ -n "$go_extra_cpu" ]]; then
                step "run $r: go test -cpu $go_extra_cpu" \
                    go test -run '^$' -bench '^BenchmarkPool$' -cpu "$go_extra_cpu" -count "$go_count" \
                    -benchtime "$go_benchtime" -timeout 60m >"$dir/go-extra.txt" 2>&1 ||
                    echo "warning: go test failed; see $dir/go-extra.txt"
            fi
        )
        grep -E '^Benchmark' "$dir"/go*.txt | sed 's/^[^:]*://' || true
    fi
done

note load_after "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
elapsed=$(($(date +%s) - started))
note elapsed "$((elapsed / 60)) min $((elapsed % 60)) s"

python3 "$repo/benches/report/report.py" "$results" --out "$out" --repo "$tree"
echo "== done in $((elapsed / 60)) min $((elapsed % 60)) s; raw results in $results"

#!/usr/bin/env bash
# Records the callgrind instruction counts of an older commit of the library,
# measured with this checkout's benchmarks, into
# benches/report/instructions-before.json; report.py shows them beside the
# counts of each later run (docs/benchmarks.md, "Instructions per pair").
#
#   BENCH_REV=d22314b benches/report/instructions-before.sh
#
# The library (src/ and Cargo.toml's package, dependencies and features) comes
# from BENCH_REV; benches/, Cargo.toml's [dev-dependencies] and [[bench]]
# sections and Cargo.lock come from this checkout, so "before" and "after"
# differ in the library alone. Only the instruction groups run (valgrind is
# required): `put-take-instructions/*` and `get-guard-instructions/*`.
#
# Environment:
#   BENCH_REV        the commit to measure (required)
#   BENCH_BEFORE_OUT where the JSON goes (default benches/report/instructions-before.json)
#   CARGO_TARGET_DIR as for cargo; the scratch tree and its build go under
#                    $CARGO_TARGET_DIR/bench-report-before and
#                    $CARGO_TARGET_DIR/bench-rev-target (shared with run.sh's BENCH_REV)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
: "${BENCH_REV:?set BENCH_REV to the commit whose library to measure}"
command -v valgrind >/dev/null || {
    echo "valgrind is required (apt-get install valgrind)" >&2
    exit 1
}
commit="$(git rev-parse --short "$BENCH_REV^{commit}")"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
work="$target_dir/bench-report-before"
tree="$work/tree"
out="${BENCH_BEFORE_OUT:-$repo/benches/report/instructions-before.json}"

rm -rf "$work"
mkdir -p "$tree"
# -m: fresh mtimes, so cargo rebuilds the crate from this tree.
git archive "$commit" | tar -x -m -C "$tree"
rm -rf "$tree/benches"
cp -r "$repo/benches" "$tree/benches"
cp "$repo/Cargo.lock" "$tree/Cargo.lock"
python3 "$repo/benches/report/splice_manifest.py" "$tree/Cargo.toml" "$repo/Cargo.toml"

echo "== instruction counts of $commit's library with this checkout's benches ($tree)"
cd "$tree"
# As in run.sh: a scratch tree must not share a target dir with a checkout.
export CARGO_TARGET_DIR="$target_dir/bench-rev-target"
VICTIM_BENCH_EXTRA_DIR="$work/extra" cargo bench --bench pool -- instructions 2>&1 |
    tee "$work/pool.log" | grep -E 'instructions/' || true

python3 - "$work/extra" "$out" "$commit" "$(git -C "$repo" log -1 --format=%cs "$commit")" \
    "$(rustc -V)" "$(valgrind --version)" <<'EOF'
import glob, json, os, sys
extra, out, commit, date, rustc, valgrind = sys.argv[1:]
groups = {}
for path in sorted(glob.glob(os.path.join(extra, "*.json"))):
    with open(path) as f:
        rec = json.load(f)
    if "metrics" in rec and "-instructions/" in rec.get("group", ""):
        groups.setdefault(rec["group"], {})[rec["function"]] = rec["metrics"]
if not groups:
    sys.exit("no instruction counts were recorded; see the log next to the records")
snapshot = {
    "_comment": "Written by benches/report/instructions-before.sh; do not edit by hand.",
    "commit": commit,
    "commit_date": date,
    "rustc": rustc,
    "valgrind": valgrind,
    "groups": groups,
}
with open(out, "w") as f:
    json.dump(snapshot, f, indent=2, sort_keys=True)
    f.write("\n")
print(f"wrote {out}: {sum(len(g) for g in groups.values())} rows in {len(groups)} groups")
EOF

#!/usr/bin/env python3
"""Gives an old commit's Cargo.toml this checkout's benchmark sections.

    splice_manifest.py OLD_CARGO_TOML CURRENT_CARGO_TOML

Rewrites OLD_CARGO_TOML in place: its [dev-dependencies] table and every
[[bench]] table are replaced by CURRENT_CARGO_TOML's; everything else (the
package, its dependencies, features, lints, tests) stays the old commit's.
Used by instructions-before.sh, so that an older library is measured by the
current benchmarks. Standard library only; tables are found by their header
lines, which is all Cargo.toml in this repository needs.
"""

import re
import sys

REPLACED = ("[dev-dependencies]", "[[bench]]")


def tables(text):
    """[(header or None, lines)] in order; the first entry holds what precedes any header."""
    out = [(None, [])]
    for line in text.splitlines(keepends=True):
        m = re.match(r"^\s*(\[\[?[^\]]+\]\]?)\s*(#.*)?$", line)
        if m:
            out.append((m.group(1).replace(" ", ""), [line]))
        else:
            out[-1][1].append(line)
    return out


def main():
    old_path, current_path = sys.argv[1:3]
    with open(old_path) as f:
        old = tables(f.read())
    with open(current_path) as f:
        current = tables(f.read())
    kept = [lines for header, lines in old if header not in REPLACED]
    taken = [lines for header, lines in current if header in REPLACED]
    text = "".join("".join(lines) for lines in kept).rstrip("\n") + "\n\n"
    text += "".join("".join(lines) for lines in taken)
    with open(old_path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()

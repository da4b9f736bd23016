#!/usr/bin/env bash
# Checks that the markdown files link to things that exist, on the repository
# page and in the rendered docs (see CONTRIBUTING.md, "Documentation links"):
# - README.md, CONTRIBUTING.md and the rendered docs/*.md use reference-style
#   links for relative targets (an inline relative link cannot be redirected
#   to the rendered module);
# - every relative target exists, relative to the file;
# - every label with a relative target is also defined in src/lib.rs, where
#   it points to the rendered page.
# Images in docs/benchmarks.md (not rendered as a module) must exist.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 - <<'PY'
import os, re, sys

rendered = ["README.md", "CONTRIBUTING.md", "docs/design.md", "docs/go-port.md",
            "docs/orderings.md", "docs/testing.md"]
lib = open("src/lib.rs").read()
lib_labels = set(re.findall(r'doc = "\[([^\]]+)\]: crate', lib))
errors = []

def strip_code(text):
    return re.sub(r"```.*?```", "", text, flags=re.S)

def relative(target):
    return not re.match(r"^([a-z]+:|#)", target)

def exists(base, target):
    path = target.split("#", 1)[0]
    return os.path.exists(os.path.normpath(os.path.join(os.path.dirname(base), path)))

for name in rendered:
    text = strip_code(open(name).read())
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if relative(target):
            errors.append(f"{name}: inline relative link ({target}): use a reference-style link")
    for label, target in re.findall(r"^\[([^\]]+)\]:\s*(\S+)", text, flags=re.M):
        if not relative(target):
            continue
        if not exists(name, target):
            errors.append(f"{name}: [{label}] points to {target}, which does not exist")
        if label not in lib_labels:
            errors.append(f"{name}: [{label}] has no definition in src/lib.rs for the rendered docs")

text = open("docs/benchmarks.md").read()
for target in re.findall(r"\]\(([^)\s]+)\)", strip_code(text)):
    if relative(target) and not exists("docs/benchmarks.md", target):
        errors.append(f"docs/benchmarks.md: {target} does not exist")

for error in errors:
    print(error)
if errors:
    sys.exit(1)
print("ok")
PY

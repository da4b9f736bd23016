#!/usr/bin/env python3
"""Turns one benches/run.sh invocation into docs/benchmarks.md and SVG plots.

Input: the results directory that run.sh fills (see README.md):

    RESULTS/meta.env                 facts run.sh recorded (settings, timings)
    RESULTS/run-<r>/criterion-<bench>/  CRITERION_HOME of bench target <bench>
    RESULTS/run-<r>/extra-<bench>/*.json  records written through benches/report/extra.rs
    RESULTS/run-<r>/go*.txt          `go test -bench` output

Nothing here knows a benchmark by name: every criterion group under every
CRITERION_HOME and every Go benchmark line is picked up. Rows whose name
starts with "victim-pool" are the references that ratios are taken against.

Standard library only.
"""

import argparse
import datetime
import glob
import html
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys

OURS = "victim-pool"
GO_ROW = "Go sync.Pool"
TIME = "time"

# ---------------------------------------------------------------- loading


def read_meta(results):
    meta = {}
    path = os.path.join(results, "meta.env")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.rstrip("\n")
                if "=" in line and not line.startswith("#"):
                    key, value = line.split("=", 1)
                    meta.setdefault(key, []).append(value)
    return meta


def run_dirs(results):
    dirs = glob.glob(os.path.join(results, "run-*"))
    return sorted(dirs, key=lambda d: int(re.sub(r"\D", "", os.path.basename(d)) or 0))


class Group:
    """One table: a criterion group, possibly joined by Go rows and records."""

    def __init__(self, gid, section):
        self.id = gid
        self.section = section
        self.description = None
        self.order = []  # row names in first-seen order
        self.times = {}  # row -> [median ns per run]
        self.best = {}  # row -> fastest criterion sample over all runs, ns
        self.metrics = {}  # row -> metric -> [value per run]
        self.not_expressible = {}  # row -> reason
        self.row_order = None  # names to put first, from a row_order record
        self.axis = None  # x axis name, from an axis record: a series group

    def finish(self):
        """Orders rows: row_order first, then victim-pool rows, others, Go."""
        named = [r for r in (self.row_order or []) if r in self.order]
        rest = [r for r in self.order if r not in named]
        rank = lambda r: (0 if r.startswith(OURS) else 2 if r.startswith(GO_ROW) else 1, r)  # noqa: E731
        self.order = named + sorted(rest, key=rank)

    def row(self, name):
        if name not in self.order:
            self.order.append(name)
        return name

    def add_time(self, name, ns):
        self.times.setdefault(self.row(name), []).append(ns)

    def add_best(self, name, ns):
        """The fastest sample (time / iterations) of one run."""
        self.best[name] = min(ns, self.best.get(name, math.inf))

    def add_metric(self, name, metric, value):
        if value is None:
            return
        self.metrics.setdefault(self.row(name), {}).setdefault(metric, []).append(value)

    def references(self):
        return [r for r in self.order if r.startswith(OURS) and r in self.times]

    def median_time(self, name):
        values = self.times.get(name)
        return statistics.median(values) if values else None

    def median_metric(self, name, metric):
        if metric == TIME:
            return self.median_time(name)
        values = self.metrics.get(name, {}).get(metric)
        return statistics.median(values) if values else None

    def metric_names(self):
        names = []
        for row in self.order:
            for m in self.metrics.get(row, {}):
                if m not in names and m != "ns/op":
                    names.append(m)
        return names


def load_criterion(results, groups, sections):
    """Every <home>/**/new/estimates.json, one median per benchmark per run."""
    for run in run_dirs(results):
        for home in sorted(glob.glob(os.path.join(run, "criterion-*"))):
            section = os.path.basename(home)[len("criterion-"):]
            if section not in sections:
                sections.append(section)
            for est_path in sorted(glob.glob(os.path.join(home, "**", "new", "estimates.json"), recursive=True)):
                bench_path = os.path.join(os.path.dirname(est_path), "benchmark.json")
                try:
                    with open(est_path) as f:
                        est = json.load(f)
                    with open(bench_path) as f:
                        bench = json.load(f)
                except (OSError, ValueError) as e:
                    print(f"report: skipping {est_path}: {e}", file=sys.stderr)
                    continue
                gid = bench.get("group_id") or "ungrouped"
                name = bench.get("function_id") or bench.get("value_str") or gid
                if bench.get("function_id") and bench.get("value_str"):
                    name = f"{bench['function_id']} ({bench['value_str']})"
                group = groups.get(gid)
                if group is None:
                    group = groups[gid] = Group(gid, section)
                group.add_time(name, est["median"]["point_estimate"])
                try:
                    with open(os.path.join(os.path.dirname(est_path), "sample.json")) as f:
                        sample = json.load(f)
                    group.add_best(name, min(t / i for t, i in zip(sample["times"], sample["iters"]) if i))
                except (OSError, ValueError, KeyError):
                    pass


def load_extra(results, groups):
    for run in run_dirs(results):
        for path in sorted(glob.glob(os.path.join(run, "extra-*", "*.json"))):
            section = os.path.basename(os.path.dirname(path))[len("extra-"):]
            try:
                with open(path) as f:
                    rec = json.load(f)
            except (OSError, ValueError) as e:
                print(f"report: skipping {path}: {e}", file=sys.stderr)
                continue
            gid = rec.get("group")
            if not gid:
                continue
            group = groups.get(gid)
            if group is None:
                group = groups[gid] = Group(gid, section)
            if "description" in rec:
                group.description = rec["description"]
            if "row_order" in rec:
                group.row_order = list(rec["row_order"])
            if "axis" in rec:
                group.axis = rec["axis"]
            fn = rec.get("function")
            if fn and "not_expressible" in rec:
                group.row(fn)
                group.not_expressible[fn] = rec["not_expressible"]
            if fn and "metrics" in rec:
                for metric, value in rec["metrics"].items():
                    group.add_metric(fn, metric, value)


GO_LINE = re.compile(r"^(Benchmark\S+)\s+(\d+)\s+(.*)$")


def go_key(full_name):
    """BenchmarkX/<rest>-N -> ("<rest>", N, "<rest>/<N>t")."""
    name = full_name
    cpu = 1
    m = re.match(r"^(.*)-(\d+)$", name)
    if m:
        name, cpu = m.group(1), int(m.group(2))
    func, _, rest = name.partition("/")
    rest = rest or func[len("Benchmark"):]
    return rest, cpu, f"{rest}/{cpu}t"


def load_go(results):
    """Go results: key -> {"name", "cpu", "metrics": {unit: [per run]}}."""
    go = {}
    header = {}
    runs_seen = 0
    for run in run_dirs(results):
        files = sorted(glob.glob(os.path.join(run, "go*.txt")))
        if files:
            runs_seen += 1
        for path in files:
            with open(path) as f:
                for line in f:
                    line = line.rstrip("\n")
                    for field in ("goos", "goarch", "cpu", "pkg"):
                        if line.startswith(field + ": "):
                            header[field] = line.split(": ", 1)[1]
                    m = GO_LINE.match(line)
                    if not m:
                        continue
                    rest, cpu, key = go_key(m.group(1))
                    parts = m.group(3).split()
                    entry = go.setdefault(key, {"name": rest, "cpu": cpu, "metrics": {}})
                    for value, unit in zip(parts[0::2], parts[1::2]):
                        try:
                            entry["metrics"].setdefault(unit, []).append(float(value))
                        except ValueError:
                            pass
    return go, header, runs_seen


SERIES_KEY = re.compile(r"^(.*)@([-+0-9.eE]+)$")


def merge_go(groups, go, go_version):
    label = f"{GO_ROW} ({go_version})" if go_version else GO_ROW
    for key, entry in go.items():
        # Benchmark<Func>/<group id>@<x>: each unit (but ns/op, the time of a
        # whole benchmark iteration) is one point `<unit>@<x>` of a series group.
        m = SERIES_KEY.match(entry["name"])
        if m and m.group(1) in groups:
            group = groups[m.group(1)]
            for unit, values in entry["metrics"].items():
                if unit != "ns/op":
                    for v in values:
                        group.add_metric(label, f"{unit}@{m.group(2)}", v)
            continue
        group = groups.get(key)
        if group is None:
            continue
        for unit, values in entry["metrics"].items():
            for v in values:
                if unit == "ns/op":
                    group.add_time(label, v)
                else:
                    group.add_metric(label, unit, v)


# ---------------------------------------------------------------- environment


def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def mem_total():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    kib = int(line.split()[1])
                    return f"{kib / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def lock_versions(repo, names):
    versions = {}
    try:
        with open(os.path.join(repo, "Cargo.lock")) as f:
            text = f.read()
    except OSError:
        return versions
    for block in text.split("[[package]]"):
        m = re.search(r'name = "([^"]+)"\s*\nversion = "([^"]+)"', block)
        if m and m.group(1) in names:
            versions.setdefault(m.group(1), []).append(m.group(2))
    return {k: ", ".join(v) for k, v in versions.items()}


def dev_dependency_names(repo):
    try:
        with open(os.path.join(repo, "Cargo.toml")) as f:
            text = f.read()
    except OSError:
        return []
    names = []
    section = None
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("["):
            section = s
            continue
        if section in ("[dev-dependencies]", "[dependencies]"):
            m = re.match(r"^([A-Za-z0-9_-]+)\s*=", s)
            if m:
                names.append(m.group(1))
    return names


# ---------------------------------------------------------------- formatting


def fmt_time(ns):
    if ns is None:
        return "—"
    if ns < 1000:
        return f"{ns:.3g} ns" if ns >= 100 else f"{ns:.2f} ns" if ns < 10 else f"{ns:.1f} ns"
    if ns < 1e6:
        return f"{ns / 1e3:.3g} µs"
    if ns < 1e9:
        return f"{ns / 1e6:.3g} ms"
    return f"{ns / 1e9:.3g} s"


def fmt_num(x):
    if x is None:
        return "—"
    if x == 0:
        return "0"
    if abs(x) >= 1e5 or abs(x) < 1e-3:
        return f"{x:.3g}"
    if float(x).is_integer():
        return f"{int(x)}"
    return f"{x:.3g}"


def fmt_ratio(r):
    if r is None or math.isnan(r):
        return "—"
    return f"{r:.2f}x"


def fmt_value(label, x):
    """A metric value in the unit its label ends with: -ns is a time, -B bytes."""
    if x is None:
        return "—"
    if label.endswith("-ns"):
        return fmt_time(x)
    if label.endswith("-B"):
        return f"{x:.0f} B" if abs(x) >= 100 else f"{fmt_num(x)} B"
    return fmt_num(x)


def spread(values):
    if not values or len(values) < 2:
        return ""
    return f"{fmt_time(min(values))} – {fmt_time(max(values))}"


def md_escape(s):
    return s.replace("|", "\\|")


# ---------------------------------------------------------------- SVG


def svg_text(x, y, text, size=12, anchor="start", weight="normal", fill="#222"):
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-family="sans-serif" font-size="{size}" '
            f'text-anchor="{anchor}" font-weight="{weight}" fill="{fill}">{html.escape(text)}</text>')


def ratio_chart(groups, title):
    """Horizontal bars of other / reference on a log axis; >1 means ours is faster."""
    rows = []  # ("group", gid) or ("bar", name, ratio)
    ratios = []
    for g in groups:
        refs = g.references()
        if not refs:
            continue
        ref = refs[0]
        ref_t = g.median_time(ref)
        bars = [(n, g.median_time(n) / ref_t) for n in g.order
                if n != ref and g.median_time(n) is not None and ref_t]
        if not bars:
            continue
        rows.append(("group", f"{g.id}  (÷ {ref})"))
        for name, r in bars:
            rows.append(("bar", name, r))
            ratios.append(r)
    if not ratios:
        return None
    lo = min(min(ratios), 0.5)
    hi = max(max(ratios), 2.0)
    lo_e, hi_e = math.floor(math.log10(lo) * 2) / 2, math.ceil(math.log10(hi) * 2) / 2
    label_w, plot_w, right = 300, 420, 70
    row_h, top = 20, 56
    height = top + row_h * len(rows) + 40
    width = label_w + plot_w + right

    def x_of(r):
        return label_w + (math.log10(r) - lo_e) / (hi_e - lo_e) * plot_w

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           svg_text(10, 20, title, 15, weight="bold"),
           svg_text(10, 38, "bar = other's median time ÷ victim-pool's (log scale); "
                    "right of 1: victim-pool is faster", 11, fill="#555")]
    y = top
    for row in rows:
        if row[0] == "group":
            out.append(svg_text(10, y + 14, row[1], 12, weight="bold"))
        else:
            _, name, r = row
            x0, x1 = x_of(1.0), x_of(r)
            color = "#3a7d44" if r >= 1 else "#c0392b"
            left, w = min(x0, x1), max(abs(x1 - x0), 1)
            out.append(svg_text(label_w - 8, y + 14, name, 11, anchor="end"))
            out.append(f'<rect x="{left:.1f}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" fill="{color}"/>')
            out.append(svg_text(max(x0, x1) + 4, y + 14, fmt_ratio(r), 11))
        y += row_h
    # axis
    out.append(f'<line x1="{label_w}" y1="{y + 4}" x2="{label_w + plot_w}" y2="{y + 4}" stroke="#444"/>')
    e = lo_e
    while e <= hi_e + 1e-9:
        r = 10 ** e
        x = x_of(r)
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{y + 8}" stroke="#ddd"/>')
        out.append(svg_text(x, y + 22, f"{r:.3g}x", 10, anchor="middle", fill="#555"))
        e += 0.5
    x1 = x_of(1.0)
    out.append(f'<line x1="{x1:.1f}" y1="{top}" x2="{x1:.1f}" y2="{y + 8}" stroke="#222" stroke-dasharray="4 3"/>')
    out.append("</svg>")
    return "\n".join(out)


PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf"]


def series_of(group):
    """{label: {row: [(x, y)]}} from metrics named label@x."""
    series = {}
    for row in group.order:
        for metric in group.metrics.get(row, {}):
            m = re.match(r"^(.*)@([-+0-9.eE]+)$", metric)
            if not m:
                continue
            y = group.median_metric(row, metric)
            series.setdefault(m.group(1), {}).setdefault(row, []).append((float(m.group(2)), y))
    for label in series:
        for row in series[label]:
            series[label][row].sort()
    return series


def line_chart(title, label, lines, x_name=None, log_x=False):
    """One line per row; log_x puts x on a log scale, and y goes on a log
    scale too when every value is positive and they span more than 20x."""
    xs = [x for pts in lines.values() for x, _ in pts]
    ys = [y for pts in lines.values() for _, y in pts if y is not None]
    if not xs or not ys:
        return None
    log_x = log_x and min(xs) > 0
    log_y = log_x and min(ys) > 0 and max(ys) / min(ys) > 20
    fx = math.log10 if log_x else (lambda v: v)
    x_lo, x_hi = fx(min(xs)), fx(max(xs))
    if log_y:
        y_lo, y_hi = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
        y_hi += y_hi == y_lo
    else:
        y_lo, y_hi = min(0, min(ys) * 1.1), (max(ys) * 1.1 if max(ys) > 0 else 1)
    left, plot_w, plot_h, top = 70, 440, 240, 50
    legend_w = 300
    width, height = left + plot_w + legend_w, top + plot_h + 60

    def px(x):
        return left + (fx(x) - x_lo) / ((x_hi - x_lo) or 1) * plot_w

    def py(y):
        v = math.log10(y) if log_y else y
        return top + plot_h - (v - y_lo) / ((y_hi - y_lo) or 1) * plot_h

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           svg_text(10, 20, title, 15, weight="bold"),
           f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#444"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#444"/>']
    for x in sorted(set(xs)):
        out.append(svg_text(px(x), top + plot_h + 16, fmt_num(x), 10, anchor="middle"))
    ticks = ([10 ** e for e in range(int(y_lo), int(y_hi) + 1)] if log_y
             else [y_lo + (y_hi - y_lo) * i / 4 for i in range(5)])
    for y in ticks:
        out.append(f'<line x1="{left}" y1="{py(y):.1f}" x2="{left + plot_w}" y2="{py(y):.1f}" stroke="#eee"/>')
        out.append(svg_text(left - 6, py(y) + 4, fmt_value(label, round(y, 3)), 10, anchor="end"))
    if x_name is None:
        x_name = "cleanups" if "retained" in label else "x"
    scales = " and ".join(n for n, on in (("x", log_x), ("y", log_y)) if on)
    out.append(svg_text(left + plot_w / 2, top + plot_h + 34,
                        x_name + (f" ({scales}: log scale)" if scales else ""), 11, anchor="middle"))
    out.append(svg_text(left, top - 8, label, 11))
    for i, (row, pts) in enumerate(lines.items()):
        color = PALETTE[i % len(PALETTE)]
        pts = [(x, y) for x, y in pts if y is not None and (y > 0 or not log_y)]
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for x, y in pts:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{color}"/>')
        ly = top + 10 + i * 18
        out.append(f'<rect x="{left + plot_w + 16}" y="{ly - 9}" width="12" height="12" fill="{color}"/>')
        out.append(svg_text(left + plot_w + 34, ly + 1, row, 11))
    out.append("</svg>")
    return "\n".join(out)


def slug(s):
    return re.sub(r"[^A-Za-z0-9]+", "-", s).strip("-").lower()


# ---------------------------------------------------------------- goals


def match_rows(group, prefix):
    return [r for r in group.order if r.startswith(prefix)]


def check_goals(goals, groups):
    """Yields (goal, group id or None, verdict, detail)."""
    for goal in goals:
        pattern = re.compile(goal["group"])
        matched = [g for g in groups.values() if pattern.search(g.id)]
        if not matched:
            yield goal, None, "pending", "no results for these groups yet"
            continue
        for g in sorted(matched, key=lambda g: g.id):
            wanted = goal.get("metric", TIME)
            metrics = [wanted]
            if wanted.endswith("@*"):
                # Every point of a series: label@x for each x ours has.
                found = {m for r in match_rows(g, goal["ours"]) for m in g.metrics.get(r, {})}
                metrics = sorted((m for m in found if m.startswith(wanted[:-1])),
                                 key=lambda m: float(m.rsplit("@", 1)[1]))
                if not metrics:
                    yield goal, g.id, "pending", f"no `{goal['ours']}` result for {wanted}"
                    continue
            verdicts = [check_goal(goal, g, metric) for metric in metrics]
            if any(v == "pending" for v, _ in verdicts):
                verdict = "pending"
            else:
                verdict = "met" if all(v == "met" for v, _ in verdicts) else "NOT met"
            detail = "; ".join(d for _, d in verdicts)
            yield goal, g.id, verdict, detail


def check_goal(goal, g, metric):
    """(verdict, detail) of one goal on group g for one metric."""
    ours_rows = [r for r in match_rows(g, goal["ours"]) if g.median_metric(r, metric) is not None]
    if not ours_rows:
        return "pending", f"no `{goal['ours']}` result for {metric}"
    ours = ours_rows[0]
    ov = g.median_metric(ours, metric)
    kind = goal["kind"]
    at = "" if metric == TIME else f"{metric}: "
    if kind in ("ratio", "ratio_all", "not_above"):
        if kind == "ratio_all":
            others = [r for r in g.order if not r.startswith(OURS)
                      and not any(r.startswith(x) for x in goal.get("exclude", []))]
        else:
            others = match_rows(g, goal["other"])
        others = [r for r in others if r not in g.not_expressible]
        measured = [r for r in others if g.median_metric(r, metric) is not None]
        if not measured:
            return "pending", f"{at}no `{goal.get('other', 'baseline')}` result"
        details, ok = [], True
        for r in measured:
            v = g.median_metric(r, metric)
            if kind == "not_above":
                good = ov <= v
                details.append(f"{at}{fmt_num(ov)} vs {md_escape(r)} {fmt_num(v)}")
            else:
                ratio = v / ov if ov else math.inf
                good = ratio >= goal["min"] - 1e-12
                details.append(f"{at}{md_escape(r)}: {fmt_ratio(ratio)} (need ≥ {goal['min']:.2f}x)")
            ok = ok and good
        return ("met" if ok else "NOT met"), "; ".join(details)
    if kind in ("metric_below", "metric_at_most"):
        limit = goal["limit"]
        ok = ov < limit if kind == "metric_below" else ov <= limit
        rel = "<" if kind == "metric_below" else "≤"
        return ("met" if ok else "NOT met"), f"{metric} = {fmt_num(ov)} (need {rel} {fmt_num(limit)})"
    if kind == "self_ratio_at_most":
        # Ours against ours: metric ÷ base (e.g. a cost at T = 128 over the same at T = 2).
        base = g.median_metric(ours, goal["base"])
        if base is None:
            return "pending", f"no `{goal['ours']}` result for {goal['base']}"
        ratio = ov / base if base else math.inf
        ok = ratio <= goal["max"] + 1e-12
        return ("met" if ok else "NOT met"), (f"{metric} {fmt_num(ov)} ÷ {goal['base']} {fmt_num(base)} = "
                                              f"{fmt_ratio(ratio)} (need ≤ {goal['max']:.2f}x)")
    return "pending", f"unknown goal kind {kind}"


# ---------------------------------------------------------------- report


def group_table(g, lines):
    refs = g.references()
    metrics = g.metric_names()
    has_time = any(g.times.values())
    header = ["implementation"]
    if has_time:
        header += ["median", "runs", "run medians (min – max)", "fastest sample"]
        header += [f"÷ {r[len(OURS):].strip() or OURS}" for r in refs]
    header += metrics
    lines.append("| " + " | ".join(md_escape(h) for h in header) + " |")
    lines.append("|" + "---|" * len(header))
    for row in g.order:
        name = f"**{md_escape(row)}**" if row.startswith(OURS) else md_escape(row)
        cells = [name]
        if row in g.not_expressible and row not in g.times and row not in g.metrics:
            reason = f"cannot express this workload: {md_escape(g.not_expressible[row])}"
            cells.append(reason)
            cells += [""] * (len(header) - 2)
            lines.append("| " + " | ".join(cells) + " |")
            continue
        if has_time:
            t = g.median_time(row)
            cells += [fmt_time(t), str(len(g.times.get(row, []))), spread(g.times.get(row, [])),
                      fmt_time(g.best.get(row))]
            for ref in refs:
                rt = g.median_time(ref)
                cells.append("" if row == ref else fmt_ratio(t / rt) if (t and rt) else "—")
        for m in metrics:
            cells.append(fmt_num(g.median_metric(row, m)))
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    if refs and has_time:
        lines.append("`÷ X`: this row's median time divided by victim-pool X's; above 1.00x, victim-pool is faster.")
        lines.append("")


def series_tables(g, lines):
    """A series group (an axis record): one table per label, a column per x."""
    ref = next((r for r in g.order if r.startswith(OURS) and r in g.metrics), None)
    for label, rows in series_of(g).items():
        xs = sorted({x for pts in rows.values() for x, _ in pts})
        lines.append(f"**{md_escape(label)}** by {md_escape(g.axis)}:")
        lines.append("")
        header = [f"implementation \\ {g.axis}"] + [fmt_num(x) for x in xs]
        lines.append("| " + " | ".join(md_escape(h) for h in header) + " |")
        lines.append("|" + "---|" * len(header))
        ref_at = dict(rows.get(ref, []))
        for row in g.order:
            name = f"**{md_escape(row)}**" if row.startswith(OURS) else md_escape(row)
            if row not in rows:
                if row in g.not_expressible:
                    reason = f"cannot express this workload: {md_escape(g.not_expressible[row])}"
                    lines.append("| " + " | ".join([name, reason] + [""] * (len(xs) - 1)) + " |")
                continue
            at = dict(rows[row])
            cells = [name]
            for x in xs:
                v, r = at.get(x), ref_at.get(x)
                cell = fmt_value(label, v)
                if row != ref and v is not None and r:
                    cell += f" ({fmt_ratio(v / r)})"
                cells.append(cell)
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    if ref:
        lines.append(f"Medians over runs. In parentheses: the row's value divided by {md_escape(ref)}'s at the "
                     f"same {md_escape(g.axis)} (for times, above 1.00x {md_escape(ref)} is faster).")
        lines.append("")


def versus_older_commit(path, lines):
    """The single-thread loops timed against an older commit in one process:
    the table versus.sh wrote, copied as it is."""
    add = lines.append
    add("## Single-thread loops against an older commit, in one process")
    add("")
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        text = ""
    if not text:
        add("*Not measured:* `BENCH_REV=<commit> benches/report/versus.sh` writes "
            f"`benches/report/{os.path.basename(path)}`, which this section copies.")
    else:
        add("Times drift between runs on a shared machine, so the question \"did this row get slower "
            "since then?\" is answered by one binary that runs both versions of the library, "
            "round by round. Below 1.00x the later commit is faster. The table is not from this run.")
        add("")
        add(text)
    add("")


def instructions_before_after(path, groups, now, lines):
    """The "before and after" table of victim-pool's instruction counts: a
    snapshot written by instructions-before.sh against this run's groups."""
    add = lines.append
    add("## Instructions per pair: before and after")
    add("")
    try:
        with open(path) as f:
            before = json.load(f)
    except (OSError, ValueError):
        before = None
    if not before:
        add("*No before figures:* `BENCH_REV=<commit> benches/report/instructions-before.sh` writes "
            f"`benches/report/{os.path.basename(path)}`, which this table reads.")
        add("")
        return
    rev = before.get("commit", "?")
    add(f"Instructions per iteration of victim-pool's rows in the instruction groups (callgrind; see those "
        f"groups below for the loops). *Before*: commit {rev} ({before.get('commit_date', '?')}), "
        f"measured with this checkout's benchmarks by `BENCH_REV={rev} benches/report/instructions-before.sh` "
        f"({md_escape(before.get('rustc', '?'))}, {before.get('valgrind', '?')}) into "
        f"`benches/report/{os.path.basename(path)}`. *After*: this run ({md_escape(now)}). The file holds the "
        "baselines' counts too: when they match the groups below (within an instruction or two of code "
        "layout), the harness and the compiler did not change between the two measurements.")
    add("")
    add("| group | row | before | after | change |")
    add("|---|---|---|---|---|")
    ids = sorted(set(before.get("groups", {})) | {gid for gid in groups if "-instructions/" in gid})
    for gid in ids:
        old_rows = before.get("groups", {}).get(gid, {})
        g = groups.get(gid)
        names = [r for r in (g.order if g else []) if r.startswith(OURS)]
        names += [r for r in old_rows if r.startswith(OURS) and r not in names]
        for row in names:
            b = old_rows.get(row, {}).get("instr/pair")
            a = g.median_metric(row, "instr/pair") if g else None
            change = f"{(a - b) / b * 100:+.0f}%" if a is not None and b else "—"
            add(f"| `{md_escape(gid)}` | {md_escape(row)} | {fmt_num(b)} | {fmt_num(a)} | {change} |")
    add("")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", help="the directory benches/run.sh filled")
    ap.add_argument("--out", default="docs", help="where benchmarks.md and the SVGs go")
    ap.add_argument("--repo", default=".", help="the crate root (for Cargo.lock, git)")
    args = ap.parse_args()

    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "goals.json")) as f:
        goals = json.load(f)["goals"]

    meta = read_meta(args.results)
    first = lambda k, d="": (meta.get(k) or [d])[0]  # noqa: E731
    groups, sections = {}, []
    load_criterion(args.results, groups, sections)
    load_extra(args.results, groups)
    go, go_header, go_runs = load_go(args.results)
    go_version = first("go_version").replace("go version ", "").split(" ")[0]
    merge_go(groups, go, go_version)
    for g in groups.values():
        g.finish()
    for bench in first("bench_targets").split():
        if bench not in sections:
            sections.append(bench)
    for g in groups.values():
        if g.section not in sections:
            sections.append(g.section)

    os.makedirs(args.out, exist_ok=True)
    lines = []
    add = lines.append
    add("# Benchmarks")
    add("")
    add("<!-- Generated by benches/run.sh (benches/report/report.py). Do not edit by hand: rerun it. -->")
    add("")
    add("Every number on this page comes from one invocation of `benches/run.sh` on the machine described "
        "below. Reproduce with:")
    add("")
    add("```text")
    add("benches/run.sh            # all criterion benches and Go's sync.Pool; rewrites this page")
    add("RUNS=5 benches/run.sh     # more runs; VICTIM_BENCH_QUICK=1 for a smoke run (writes elsewhere)")
    add("```")
    add("")

    # ---- environment
    runs = int(first("runs", "0") or 0)
    quick = first("quick", "0") not in ("", "0")
    add("## Machine and versions")
    add("")
    when = first("date") or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    versions = lock_versions(args.repo, set(dev_dependency_names(args.repo)))
    crate_list = ", ".join(f"{k} {v}" for k, v in sorted(versions.items()))
    facts = [
        ("date", when),
        ("commit", first("commit", "unknown")),
        ("CPU", f"{cpu_model()}, {os.cpu_count()} logical CPUs"
                + (f" ({first('virt')})" if first("virt") else "")),
        ("memory", mem_total()),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("load average before / after", f"{first('load_before', '?')} / {first('load_after', '?')}"
                                         " (the machine is shared: other jobs add noise)"),
        ("Rust", first("rustc_version") or sh("rustc", "-V")),
        ("profile", "`cargo bench` (release, debug = 1)"),
        ("Go", first("go_version") or "not installed: Go rows are missing"),
        ("crates", crate_list or "unknown"),
        ("criterion settings", "quick smoke mode (0.2 s warm-up, 0.5 s measurement, 10 samples)" if quick
         else "1 s warm-up, 2.5 s measurement, 50 samples per benchmark (benches/core.rs; pool.rs sets its own)"),
        ("Go settings", first("go_settings", "—")),
        ("runs", f"{runs} (each run executes every bench target once, then the Go suite once)"),
        ("wall time of this invocation", first("elapsed", "?")),
    ]
    add("| | |")
    add("|---|---|")
    for k, v in facts:
        add(f"| {k} | {md_escape(str(v))} |")
    add("")
    add("**Method.** For each benchmark, criterion's median time per iteration is taken in every run; the "
        "table shows the median of those run medians and their range. Implementations of one workload "
        "share a criterion group, so they run back to back in the same process. Ratios divide medians. "
        "\"Fastest sample\" is the quickest criterion sample (time over iterations) of all runs: on a "
        "loaded machine it is closer to the unloaded cost than the median, but it is not what ratios use. "
        "Go rows are `go test -bench` ns/op (wall time over all goroutines' iterations for RunParallel "
        "benchmarks), median over runs, and join the table whose group id equals "
        "`<workload>/<variant>/<threads>t`.")
    add("")
    timings = meta.get("timing", [])
    if timings:
        add("<details><summary>time per step</summary>")
        add("")
        for t in timings:
            add(f"- {md_escape(t)}")
        add("")
        add("</details>")
        add("")

    # ---- goals
    add("## Goals")
    add("")
    add("| issue | goal | group | verdict | detail |")
    add("|---|---|---|---|---|")
    for goal, gid, verdict, detail in check_goals(goals, groups):
        v = f"**{verdict}**" if verdict == "NOT met" else verdict
        add(f"| #{goal['issue']} | {md_escape(goal['text'])} | {md_escape(gid or '—')} | {v} | {detail} |")
    add("")

    instructions_before_after(os.path.join(here, "instructions-before.json"), groups,
                              first("commit", "this run"), lines)
    versus_older_commit(os.path.join(here, "versus.md"), lines)

    # ---- sections
    written_svgs = []
    for section in sections:
        sgroups = sorted((g for g in groups.values() if g.section == section), key=lambda g: g.id)
        add(f"## `benches/{section}.rs`")
        add("")
        if not sgroups:
            add(f"*Pending:* `benches/{section}.rs` produced no results in this run (its benchmarks are not "
                "written yet, or it was not run).")
            add("")
            continue
        # One ratio chart per workload (the group id up to its first "/"),
        # above that workload's first table: a chart of every group of a
        # section would mix scales that differ by orders of magnitude.
        charted = set()
        for g in sgroups:
            workload = g.id.split("/")[0]
            if workload not in charted:
                charted.add(workload)
                wgroups = [h for h in sgroups if h.id.split("/")[0] == workload]
                svg = ratio_chart(wgroups, f"{workload} (benches/{section}.rs): time ratios to victim-pool (medians)")
                if svg:
                    name = f"benchmarks-{slug(section)}-{slug(workload)}.svg"
                    with open(os.path.join(args.out, name), "w") as f:
                        f.write(svg + "\n")
                    written_svgs.append(name)
                    add(f"![time ratios for {workload}]({name})")
                    add("")
            add(f"### `{g.id}`")
            add("")
            if g.description:
                add(g.description)
                add("")
            if g.axis:
                series_tables(g, lines)
            else:
                group_table(g, lines)
            for label, series in series_of(g).items():
                svg = line_chart(f"{g.id}: {label}", label, series, x_name=g.axis, log_x=bool(g.axis))
                if svg:
                    name = f"benchmarks-{slug(g.id)}-{slug(label)}.svg"
                    with open(os.path.join(args.out, name), "w") as f:
                        f.write(svg + "\n")
                    written_svgs.append(name)
                    add(f"![{label} in {g.id}]({name})")
                    add("")

    # ---- Go
    add("## Go's `sync.Pool` (`benches/go/`)")
    add("")
    if not go:
        add("*Skipped:* no `go` toolchain was found (`apt-get install golang-go`), so this run has no Go rows.")
        add("")
    else:
        add(f"{go_version} on {go_header.get('cpu', 'this CPU')}; {go_runs} run(s); `-cpu N` sets GOMAXPROCS "
            "and RunParallel's goroutine count. Workloads and what Go cannot express are described at the top "
            "of `benches/go/pool_bench_test.go`. Rows marked ✓ also appear in a Rust table above.")
        add("")
        add("| benchmark | threads | ns/op (median) | runs | run medians (min – max) | other metrics (median) |")
        add("|---|---|---|---|---|---|")
        for key in sorted(go, key=lambda k: (go[k]["name"], go[k]["cpu"])):
            e = go[key]
            ns = e["metrics"].get("ns/op", [])
            others = ", ".join(f"{u} {fmt_num(statistics.median(v))}" for u, v in e["metrics"].items()
                               if u != "ns/op")
            mark = " ✓" if key in groups else ""
            add(f"| `{md_escape(e['name'])}`{mark} | {e['cpu']} | {fmt_time(statistics.median(ns)) if ns else '—'} "
                f"| {len(ns)} | {spread(ns)} | {md_escape(others)} |")
        add("")

    with open(os.path.join(args.out, "benchmarks.md"), "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")
    print(f"report: wrote {os.path.join(args.out, 'benchmarks.md')}"
          + (f" and {', '.join(written_svgs)}" if written_svgs else ""))


if __name__ == "__main__":
    main()

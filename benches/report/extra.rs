//! Side-channel from a criterion bench to `benches/report/report.py`.
//!
//! Criterion records only times. Anything else a workload wants in
//! docs/benchmarks.md (a group's description, creates per operation, latency
//! percentiles, values retained after N cleanups) is written here as one
//! small JSON file per record into `$VICTIM_BENCH_EXTRA_DIR`, which
//! `benches/run.sh` sets. Outside the runner the variable is unset and every
//! function here does nothing, so `cargo bench` and `cargo test --benches`
//! behave as usual.
//!
//! Include it from a bench with
//! `#[path = "report/extra.rs"] mod extra;`
//! and see `benches/report/README.md` for how the report uses the records.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The environment variable naming the directory records go to.
pub const DIR_VAR: &str = "VICTIM_BENCH_EXTRA_DIR";

fn dir() -> Option<PathBuf> {
    std::env::var_os(DIR_VAR).map(PathBuf::from)
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_number(out: &mut String, x: f64) {
    if x.is_finite() {
        let _ = write!(out, "{x}");
    } else {
        out.push_str("null");
    }
}

fn write_record(body: String) {
    let Some(dir) = dir() else { return };
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    // Relaxed [file-seq]: only makes file names unique within this process.
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let name = format!("{}-{}.json", std::process::id(), seq);
    if let Err(e) =
        std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(dir.join(name), body))
    {
        eprintln!(
            "warning: could not write a bench record to {}: {e}",
            dir.display()
        );
    }
}

/// Attaches a one-paragraph description to a criterion group's table.
pub fn describe_group(group: &str, description: &str) {
    let mut body = String::from("{\"group\":");
    json_string(&mut body, group);
    body.push_str(",\"description\":");
    json_string(&mut body, description);
    body.push('}');
    write_record(body);
}

/// Records named numbers for one implementation (`function`, spelled as the
/// criterion function id) in `group`.
///
/// A metric named `label@x` (x a number) becomes one point of a line plot
/// of `label` against x, one line per implementation.
pub fn metrics(group: &str, function: &str, metrics: &[(&str, f64)]) {
    let mut body = String::from("{\"group\":");
    json_string(&mut body, group);
    body.push_str(",\"function\":");
    json_string(&mut body, function);
    body.push_str(",\"metrics\":{");
    for (i, (name, value)) in metrics.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        json_string(&mut body, name);
        body.push(':');
        json_number(&mut body, *value);
    }
    body.push_str("}}");
    write_record(body);
}

/// States that `function` cannot express the workload of `group`, and why;
/// the table shows the reason instead of a blank.
pub fn not_expressible(group: &str, function: &str, reason: &str) {
    let mut body = String::from("{\"group\":");
    json_string(&mut body, group);
    body.push_str(",\"function\":");
    json_string(&mut body, function);
    body.push_str(",\"not_expressible\":");
    json_string(&mut body, reason);
    body.push('}');
    write_record(body);
}

/// Fixes the order of a group's rows in the report (rows not named keep
/// their order after these). The first `victim-pool` row in this order is
/// the one the group's plot takes ratios against.
pub fn row_order(group: &str, functions: &[&str]) {
    let mut body = String::from("{\"group\":");
    json_string(&mut body, group);
    body.push_str(",\"row_order\":[");
    for (i, name) in functions.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        json_string(&mut body, name);
    }
    body.push_str("]}");
    write_record(body);
}

/// Marks `group` as a series against an x axis named `axis`: its metrics
/// are `label@x`, and the report draws one table per label (a column per
/// x) and one plot per label with a logarithmic x axis.
pub fn axis(group: &str, axis: &str) {
    let mut body = String::from("{\"group\":");
    json_string(&mut body, group);
    body.push_str(",\"axis\":");
    json_string(&mut body, axis);
    body.push('}');
    write_record(body);
}

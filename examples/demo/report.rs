//! The report: throughput, where the pool found its buffers, and what it retained.

use super::*;

pub(crate) fn report_throughput(
    modes: &[Mode<'_>],
    times: &[Vec<Duration>],
    input: &Input,
    threads: usize,
    created: u64,
) {
    let medians: Vec<f64> = times
        .iter()
        .map(|runs| median(runs).as_secs_f64())
        .collect();
    // The spread of the middle half of each mode's runs, as a share of its
    // median: differences smaller than this are the machine, not the buffers.
    // (The middle half, because one run disturbed by another process would
    // otherwise decide it.)
    let noise = times
        .iter()
        .zip(&medians)
        .map(|(runs, median)| {
            let mut sorted = runs.clone();
            sorted.sort();
            let (low, high) = (sorted[sorted.len() / 4], sorted[sorted.len() * 3 / 4]);
            (high - low).as_secs_f64() / median
        })
        .fold(0.0, f64::max);
    println!(
        "\nThroughput, median of {ROUNDS} runs (noise: the middle runs of a mode spread up to {:.0}%):",
        noise * 100.0
    );
    for (index, (mode, &time)) in modes.iter().zip(&medians).enumerate() {
        let ratio = time / medians[0];
        let versus = match index {
            0 => String::new(),
            _ if (ratio - 1.0).abs() <= noise => {
                format!("{ratio:.2}x the pool's time: within noise")
            }
            _ if ratio > 1.0 => format!("pool {ratio:.2}x faster"),
            _ => format!("allocation {:.2}x faster", 1.0 / ratio),
        };
        println!(
            "  {:<34} {:>9}  {:>5.2} M records/s  {:>4.0} MB/s   {versus}",
            mode.describe(),
            format!("{:.1} ms", time * 1e3),
            RECORDS as f64 / time / 1e6,
            input.text.len() as f64 / time / 1e6,
        );
    }
    let batches = input.batches.len() as u64;
    let busy = medians[0] * threads as f64 / batches as f64 * 1e6;
    let pool_wins = medians[1..].iter().all(|&t| t / medians[0] - 1.0 > noise);
    let allocation_wins = medians[1..].iter().any(|&t| 1.0 - t / medians[0] > noise);
    if pool_wins {
        println!("  The pool skips an allocation, a free and, against Vec::new, the regrowth");
        println!("  copies for two buffers per batch.");
    } else if allocation_wins {
        println!("  Plain allocation won this time: the system allocator is fast for buffers");
        println!("  of this size, and reuse through the pool did not pay for itself here.");
    } else {
        println!("  A batch keeps a worker busy for about {busy:.0} us of parsing and writing, so");
        println!("  what two buffers cost is lost in the noise: a pool does not make a parser");
        println!("  faster by itself.");
    }
    println!("  What it does change is allocator traffic: each plain run allocates and frees");
    println!(
        "  {} buffers (Vec::new regrows each of them too); the {} pooled runs created {}.",
        group(2 * batches),
        ROUNDS + 1,
        group(created)
    );
}

pub(crate) fn report_tiers(after_rounds: &PoolStats, after_burst: &PoolStats) {
    let tiers = |s: &PoolStats| {
        [
            s.from_private,
            s.from_own_chain,
            s.stolen,
            s.from_victim,
            s.created,
        ]
    };
    let rounds = tiers(after_rounds);
    let burst: Vec<u64> = tiers(after_burst)
        .iter()
        .zip(rounds)
        .map(|(a, b)| a - b)
        .collect();
    let rounds_total = rounds.iter().sum::<u64>();
    let burst_total = burst.iter().sum::<u64>();
    println!("\nWhere the pool served its gets:");
    println!(
        "  {:<14} {:>17}   {:>18}",
        "",
        format!("the {} runs above", ROUNDS + 1),
        "the burst"
    );
    let labels = [
        "private slot",
        "own chain",
        "stolen",
        "victim cache",
        "created",
    ];
    for ((label, count), burst_count) in labels.iter().zip(rounds).zip(burst) {
        println!(
            "  {label:<14} {:>9} {:>6.2}%   {:>10} {:>6.2}%",
            group(count),
            percent(count, rounds_total),
            group(burst_count),
            percent(burst_count, burst_total),
        );
    }
    println!(
        "  In all: created {}, reused {}; keep_if refused {} buffers that grew past {} KiB.",
        group(after_burst.created),
        group(after_burst.hits()),
        group(after_burst.discarded),
        KEEP_AT_MOST >> 10
    );
    println!("  Scratch buffers return to their worker's private slot. Output buffers return");
    println!("  from the writer thread, so workers steal them from its chain; after a cleanup");
    println!("  they sit in the victim cache, where the next burst finds them.");
}

pub(crate) fn report_retention(retained: [u64; 4], threads: usize) {
    println!("\nBuffers the pool keeps once the work stops:");
    println!(
        "  when the work stops        {:>4}   (the peak in use: up to {IN_FLIGHT} queued for the writer)",
        retained[0]
    );
    let dropped = retained[0].saturating_sub(retained[1]);
    let note = match dropped {
        0 => String::new(),
        _ => format!("; {dropped} untouched since the last cleanup dropped"),
    };
    println!(
        "  after cleanup 1            {:>4}   (the victim cache: a get still finds them{note})",
        retained[1]
    );
    if victim_pool::cleanups_drain_idle_threads() {
        println!(
            "  after cleanup 2            {:>4}   (idle workers' private slots drained too: {threads} workers)",
            retained[2]
        );
        println!("  after each worker touches  {:>4}", retained[3]);
        println!("  Cleanups also empty the private slots of idle live threads (a membarrier");
        println!("  orders them against the owners, who pay no atomic read-modify-write).");
    } else {
        println!(
            "  after cleanup 2            {:>4}   (at most 1 per idle worker thread: {threads} workers)",
            retained[2]
        );
        println!("  after each worker touches  {:>4}", retained[3]);
        println!("  No process-wide barrier here: a live thread's private slot is emptied only by");
        println!("  that thread, so an idle thread keeps one value until it uses the pool again.");
    }
}

pub(crate) fn percent(part: u64, whole: u64) -> f64 {
    100.0 * part as f64 / whole.max(1) as f64
}

/// Prints a phase's title now, before its work, so a slow phase shows.
pub(crate) fn start_phase(title: &str) {
    print!("{title}");
    let _ = std::io::stdout().flush();
}

pub(crate) fn ensure(condition: bool, failure: impl Into<String>) -> Result<(), String> {
    if condition {
        Ok(())
    } else {
        Err(failure.into())
    }
}

pub(crate) fn median(runs: &[Duration]) -> Duration {
    let mut sorted = runs.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

pub(crate) fn millis(time: Duration) -> String {
    format!("{:.0} ms", time.as_secs_f64() * 1e3)
}

pub(crate) fn secs(time: Duration) -> String {
    format!("{:.2} s", time.as_secs_f64())
}

pub(crate) fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

/// 1234567 as "1,234,567".
pub(crate) fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut grouped = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

//! What victim-pool does, in one command:
//!
//! ```text
//! cargo run --release --example demo
//! ```
//!
//! A log converter: rayon workers parse generated logfmt records and write
//! them out as JSON, one batch at a time. Each batch borrows two buffers, a
//! scratch for decoded strings and an output buffer that travels to a writer
//! thread, which gives it back when it has consumed it. The same work runs
//! with pooled buffers and with freshly allocated ones, and the demo reports
//! the throughput of each, where the pool found its buffers, and how the pool
//! shrinks back once the work stops.
//!
//! Everything it prints is checked: every parsed record is compared with the
//! record it was generated from, and every run's output checksum with one
//! computed sequentially without the pool. Any mismatch ends the demo with a
//! non-zero exit code.

use rayon::prelude::*;
use std::fmt::Write as _;
use std::io::Write as _;
use std::ops::Range;
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};
use victim_pool::{Pool, PoolGuard, PoolStats};

mod convert;
mod records;
mod report;
use convert::*;
use records::*;
use report::*;

/// Records converted by each run.
const RECORDS: usize = 300_000;
/// Records per batch: about 6 KiB of JSON, so an output buffer is a few KiB.
const BATCH: usize = 32;
/// Timed runs of each way of getting buffers; the report quotes medians.
const ROUNDS: usize = 7;
/// What a new buffer starts with, in the pool and in the presized mode.
const BUFFER_CAPACITY: usize = 8 << 10;
/// Buffers that grew past this are not pooled: a rare giant batch must not
/// pin its memory in the pool for good.
const KEEP_AT_MOST: usize = 64 << 10;
/// One record in this many carries a note of `HUGE_NOTE` bytes, which makes
/// its batch's buffers outgrow `KEEP_AT_MOST`.
const HUGE_EVERY: usize = 40_000;
const HUGE_NOTE: usize = 96 << 10;
/// Output buffers queued for the writer at most; a full queue blocks workers.
const IN_FLIGHT: usize = 64;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("\nCHECK FAILED: {failure}");
            ExitCode::FAILURE
        }
    }
}

/// The buffer pool under demonstration.
type BufferPool = Pool<Vec<u8>>;

fn new_buffer() -> Vec<u8> {
    Vec::with_capacity(BUFFER_CAPACITY)
}

fn run() -> Result<(), String> {
    // Our own thread pool, so the number of threads that can hold pooled
    // buffers is known, and nothing else runs on them.
    let threads = thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(2);
    let workers = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("demo-worker-{i}"))
        .build()
        .map_err(|error| format!("cannot start the rayon workers: {error}"))?;

    println!(
        "victim-pool demo: converting {} logfmt records to JSON on {threads} rayon workers.",
        group(RECORDS as u64)
    );
    println!("Each batch of {BATCH} records borrows two buffers: a scratch for decoded strings,");
    println!("and an output buffer that a writer thread consumes and then gives back.\n");

    let phase = Instant::now();
    start_phase("[1/5] generating records (deterministic) ... ");
    let originals = workers.install(|| generate_records(RECORDS));
    let input = Input::logfmt(&originals);
    println!(
        "{} of logfmt, {} batches, {}",
        mib(input.text.len()),
        group(input.batches.len() as u64),
        secs(phase.elapsed())
    );

    let phase = Instant::now();
    start_phase("[2/5] reference checksum (sequential, no pool) ... ");
    let reference = reference_digest(&input, &originals);
    println!(
        "{} of JSON, {}",
        mib(reference.bytes as usize),
        secs(phase.elapsed())
    );

    let pool: BufferPool = Pool::builder(new_buffer)
        // Every buffer comes out of the pool empty, whoever used it last.
        .reset(|buffer| buffer.clear())
        .keep_if(|buffer| buffer.capacity() <= KEEP_AT_MOST)
        .build();
    let modes = [
        Mode::Pooled(&pool),
        Mode::Fresh { capacity: 0 },
        Mode::Fresh {
            capacity: BUFFER_CAPACITY,
        },
    ];
    let work = Work {
        input: &input,
        originals: &originals,
        workers: &workers,
        reference,
    };

    println!("[3/5] {ROUNDS} timed rounds after a warm-up, modes interleaved, every run checked:");
    let times = timed_rounds(&modes, &work)?;
    let after_rounds = pool.stats();

    let phase = Instant::now();
    start_phase("[4/5] one cleanup, as if a Sweeper ticked while idle, then another burst ... ");
    pool.cleanup();
    Mode::Pooled(&pool).convert(&work)?;
    let after_burst = pool.stats();
    println!("{}", secs(phase.elapsed()));

    println!("[5/5] the work has stopped: two cleanups, then each worker touches the pool");
    let mut retained = [pool.stats().retained, 0, 0, 0];
    for after_cleanup in &mut retained[1..3] {
        pool.cleanup();
        *after_cleanup = pool.stats().retained;
    }
    // What a worker kept in its private slot is past two cleanups now: the
    // second cleanup drained it, or (without a process-wide barrier) the
    // worker's next use of the pool drops it.
    let touched = workers.broadcast(|_| pool.try_take());
    ensure(
        touched.iter().all(Option::is_none),
        "a worker got a buffer back after two cleanups",
    )?;
    retained[3] = pool.stats().retained;
    let end = pool.stats();

    report_throughput(&modes, &times, &input, threads, after_rounds.created);
    report_tiers(&after_rounds, &after_burst);
    report_retention(retained, threads);

    // What the report claims about the pool, checked against its counters.
    let bound = if victim_pool::cleanups_drain_idle_threads() {
        0
    } else {
        threads as u64
    };
    ensure(
        retained[2] <= bound,
        format!(
            "{} values outlived two cleanups with only {threads} idle workers",
            retained[2]
        ),
    )?;
    ensure(
        retained[3] == 0,
        "values remain after every worker touched the pool",
    )?;
    ensure(
        end.puts == end.created + end.hits(),
        "a buffer taken from the pool was not given back",
    )?;
    ensure(
        end.created == end.discarded + end.dropped_by_cleanup,
        "the pool created buffers it has neither kept nor dropped",
    )?;
    ensure(
        after_burst.from_victim > after_rounds.from_victim,
        "the burst after a cleanup never used the victim cache",
    )?;
    println!(
        "\nChecks passed: in all {} runs every record parsed back equal to its original and",
        (ROUNDS + 1) * modes.len() + 1
    );
    println!(
        "the output matched the reference checksum; the pool dropped all {} buffers it created.",
        group(end.created)
    );
    Ok(())
}

/// One warm-up round, then `ROUNDS` timed ones; returns each mode's times.
fn timed_rounds(modes: &[Mode<'_>], work: &Work<'_>) -> Result<Vec<Vec<Duration>>, String> {
    let mut times = vec![Vec::new(); modes.len()];
    for round in 0..=ROUNDS {
        let mut line = match round {
            0 => format!("{:>14}:", "warm-up"),
            _ => format!("{:>14}:", format!("round {round}")),
        };
        // Rotating the order keeps a drift in the machine's load from always
        // favouring the same mode.
        for step in 0..modes.len() {
            let index = (round + step) % modes.len();
            let elapsed = modes[index].convert(work)?;
            if round > 0 {
                times[index].push(elapsed);
            }
            let _ = write!(line, "  {} {:>6}", modes[index].short(), millis(elapsed));
        }
        println!("{line}");
    }
    Ok(times)
}

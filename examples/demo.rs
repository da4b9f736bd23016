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

    let pool: BufferPool = Pool::builder(new_buffer as fn() -> Vec<u8>)
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
    // What a worker kept in its private slot is past two cleanups now, so
    // its next use of the pool drops it.
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
    ensure(
        retained[2] <= threads as u64,
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

// ---------------------------------------------------------------------------
// The records.

/// One generated record, the ground truth every parsed record is checked against.
#[derive(Debug)]
struct Record {
    id: u64,
    user: String,
    amount_cents: i64,
    tags: Vec<&'static str>,
    note: String,
}

#[rustfmt::skip]
const TAGS: [&str; 8] = ["eu", "us", "urgent", "refund", "retail", "wholesale", "gift", "promo"];

/// Words for notes, with the characters a converter must escape.
#[rustfmt::skip]
const WORDS: [&str; 20] = [
    "order", "shipped", "delayed", "to", "the", "warehouse", "customer", "asked", "for", "ok",
    "\"fragile\"", "C:\\exports", "line\nbreak", "tab\tstop", "café", "naïve", "東京", "✓",
    "invoice", "#4471",
];

/// splitmix64: a tiny, well-mixed generator, so the data is the same on
/// every machine without another dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Runs on the rayon workers: call it inside their `install`.
fn generate_records(count: usize) -> Vec<Record> {
    (0..count).into_par_iter().map(generate_record).collect()
}

fn generate_record(index: usize) -> Record {
    // Seeded by the index, so the data does not depend on how threads
    // split the work.
    let mut rng = Rng(mix(0x5eed ^ index as u64));
    let user = (0..4 + rng.below(9))
        .map(|_| char::from(b'a' + rng.below(26) as u8))
        .collect();
    let amount_cents = rng.below(2_000_001) as i64 - 1_000_000;
    let tags = (0..rng.below(4))
        .map(|_| TAGS[rng.below(8) as usize])
        .collect();
    let words = if index % HUGE_EVERY == HUGE_EVERY / 2 {
        usize::MAX
    } else {
        3 + rng.below(25) as usize
    };
    let mut note = String::new();
    for word in (0..words).map(|_| WORDS[rng.below(20) as usize]) {
        if note.len() >= HUGE_NOTE {
            break;
        }
        if !note.is_empty() {
            note.push(' ');
        }
        note.push_str(word);
    }
    Record {
        id: 1_000_000 + index as u64,
        user,
        amount_cents,
        tags,
        note,
    }
}

/// The records as logfmt lines, and the batches the work is split into.
struct Input {
    text: String,
    batches: Vec<Batch>,
}

struct Batch {
    /// Index of the batch's first record.
    first: usize,
    records: usize,
    /// Its lines, as a range of `Input::text`.
    bytes: Range<usize>,
}

impl Input {
    fn logfmt(records: &[Record]) -> Input {
        let mut text = String::new();
        let mut batches = Vec::new();
        for (chunk_index, chunk) in records.chunks(BATCH).enumerate() {
            let start = text.len();
            for record in chunk {
                write_logfmt(record, &mut text);
            }
            batches.push(Batch {
                first: chunk_index * BATCH,
                records: chunk.len(),
                bytes: start..text.len(),
            });
        }
        Input { text, batches }
    }
}

/// `id=1000007 user=qbx amount=-12.50 tags=eu,gift note="said \"hi\""`
fn write_logfmt(record: &Record, out: &mut String) {
    let sign = if record.amount_cents < 0 { "-" } else { "" };
    let cents = record.amount_cents.unsigned_abs();
    let _ = write!(
        out,
        "id={} user={} amount={sign}{}.{:02} tags={} note=\"",
        record.id,
        record.user,
        cents / 100,
        cents % 100,
        record.tags.join(",")
    );
    for c in record.note.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push_str("\"\n");
}

// ---------------------------------------------------------------------------
// The conversion.

/// A logfmt line as parsed: fields borrow the line, except the note, which is
/// decoded into the caller's scratch buffer.
struct Parsed<'a> {
    id: u64,
    user: &'a str,
    amount_cents: i64,
    /// Comma-separated, possibly empty.
    tags: &'a str,
    /// Where the decoded note is in the scratch buffer.
    note: Range<usize>,
}

/// A field value: as written, or decoded into the scratch buffer.
enum Value<'a> {
    Bare(&'a str),
    Decoded(Range<usize>),
}

/// Parses one line strictly: the five fields, each once, nothing else.
fn parse_logfmt<'a>(line: &'a str, scratch: &mut Vec<u8>) -> Result<Parsed<'a>, &'static str> {
    let (mut id, mut user, mut amount_cents, mut tags, mut note) = (None, None, None, None, None);
    let mut rest = line;
    loop {
        let (key, after) = rest.split_once('=').ok_or("a field has no '='")?;
        let (value, next) = match after.strip_prefix('"') {
            Some(quoted) => {
                let start = scratch.len();
                let used = unquote(quoted, scratch)?;
                (Value::Decoded(start..scratch.len()), &quoted[used..])
            }
            None => {
                let end = after.find(' ').unwrap_or(after.len());
                (Value::Bare(&after[..end]), &after[end..])
            }
        };
        let fresh = match (key, value) {
            ("id", Value::Bare(v)) => id.replace(v.parse().map_err(|_| "bad id")?).is_none(),
            ("user", Value::Bare(v)) => user.replace(v).is_none(),
            ("amount", Value::Bare(v)) => amount_cents.replace(parse_cents(v)?).is_none(),
            ("tags", Value::Bare(v)) => tags.replace(v).is_none(),
            ("note", Value::Decoded(range)) => note.replace(range).is_none(),
            _ => return Err("unexpected field"),
        };
        if !fresh {
            return Err("repeated field");
        }
        if next.is_empty() {
            break;
        }
        rest = next
            .strip_prefix(' ')
            .ok_or("fields must be separated by a space")?;
    }
    Ok(Parsed {
        id: id.ok_or("no id")?,
        user: user.ok_or("no user")?,
        amount_cents: amount_cents.ok_or("no amount")?,
        tags: tags.ok_or("no tags")?,
        note: note.ok_or("no note")?,
    })
}

/// Decodes a quoted value (after its opening quote) onto `out`; returns the
/// bytes consumed, closing quote included.
fn unquote(quoted: &str, out: &mut Vec<u8>) -> Result<usize, &'static str> {
    let bytes = quoted.as_bytes();
    let (mut at, mut copied) = (0, 0);
    while at < bytes.len() {
        match bytes[at] {
            b'"' => {
                out.extend_from_slice(&bytes[copied..at]);
                return Ok(at + 1);
            }
            b'\\' => {
                out.extend_from_slice(&bytes[copied..at]);
                out.push(match bytes.get(at + 1) {
                    Some(b'"') => b'"',
                    Some(b'\\') => b'\\',
                    Some(b'n') => b'\n',
                    Some(b't') => b'\t',
                    _ => return Err("bad escape"),
                });
                at += 2;
                copied = at;
            }
            _ => at += 1,
        }
    }
    Err("unterminated quote")
}

/// `-12.50` as -1250: exactly two decimals, no exponent, no plus sign.
fn parse_cents(text: &str) -> Result<i64, &'static str> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(digits) => (true, digits),
        None => (false, text),
    };
    let (units, cents) = digits
        .split_once('.')
        .ok_or("amount has no decimal point")?;
    let is_number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !is_number(units) || cents.len() != 2 || !is_number(cents) {
        return Err("bad amount");
    }
    let units: i64 = units.parse().map_err(|_| "amount out of range")?;
    let value = units
        .checked_mul(100)
        .and_then(|v| v.checked_add(cents.parse::<i64>().ok()?))
        .ok_or("amount out of range")?;
    Ok(if negative { -value } else { value })
}

fn tag_list(tags: &str) -> impl Iterator<Item = &str> {
    (!tags.is_empty())
        .then(|| tags.split(','))
        .into_iter()
        .flatten()
}

fn check_record(parsed: &Parsed<'_>, note: &[u8], original: &Record) -> Result<(), &'static str> {
    let checks = [
        (parsed.id == original.id, "id differs"),
        (parsed.user == original.user, "user differs"),
        (
            parsed.amount_cents == original.amount_cents,
            "amount differs",
        ),
        (
            tag_list(parsed.tags).eq(original.tags.iter().copied()),
            "tags differ",
        ),
        (note == original.note.as_bytes(), "note differs"),
    ];
    match checks.iter().find(|(ok, _)| !ok) {
        Some((_, failure)) => Err(failure),
        None => Ok(()),
    }
}

/// `{"id":1000007,"user":"qbx","amount":-12.50,"tags":["eu"],"note":"..."}`
fn write_json<'t>(
    out: &mut Vec<u8>,
    id: u64,
    user: &str,
    amount_cents: i64,
    tags: impl Iterator<Item = &'t str>,
    note: &[u8],
) {
    let sign = if amount_cents < 0 { "-" } else { "" };
    let cents = amount_cents.unsigned_abs();
    let _ = write!(out, "{{\"id\":{id},\"user\":");
    push_json_string(out, user.as_bytes());
    let _ = write!(
        out,
        ",\"amount\":{sign}{}.{:02},\"tags\":[",
        cents / 100,
        cents % 100
    );
    for (i, tag) in tags.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_json_string(out, tag.as_bytes());
    }
    out.extend_from_slice(b"],\"note\":");
    push_json_string(out, note);
    out.extend_from_slice(b"}\n");
}

/// Valid UTF-8 in, valid UTF-8 out: only ASCII bytes are ever escaped.
fn push_json_string(out: &mut Vec<u8>, text: &[u8]) {
    out.push(b'"');
    let mut copied = 0;
    for (at, &byte) in text.iter().enumerate() {
        if !matches!(byte, b'"' | b'\\' | 0..=0x1f) {
            continue;
        }
        out.extend_from_slice(&text[copied..at]);
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => {
                let _ = write!(out, "\\u{byte:04x}");
            }
        }
        copied = at + 1;
    }
    out.extend_from_slice(&text[copied..]);
    out.push(b'"');
}

/// Converts one batch: each line parsed, checked against its original, and
/// appended to `out` as JSON.
fn convert_batch(
    input: &Input,
    batch: &Batch,
    originals: &[Record],
    scratch: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    // A pooled buffer that came back dirty would corrupt the output.
    if !scratch.is_empty() || !out.is_empty() {
        return Err("a buffer was handed out with data still in it".into());
    }
    let mut lines = 0;
    for (offset, line) in input.text[batch.bytes.clone()].lines().enumerate() {
        let index = batch.first + offset;
        scratch.clear();
        let failed = |what: &str| format!("record {index}: {what}");
        let parsed = parse_logfmt(line, scratch).map_err(failed)?;
        let note = &scratch[parsed.note.clone()];
        let original = originals
            .get(index)
            .ok_or_else(|| failed("no such record"))?;
        check_record(&parsed, note, original).map_err(failed)?;
        write_json(
            out,
            parsed.id,
            parsed.user,
            parsed.amount_cents,
            tag_list(parsed.tags),
            note,
        );
        lines += 1;
    }
    if lines != batch.records {
        return Err(format!(
            "batch at record {}: {lines} lines, expected {}",
            batch.first, batch.records
        ));
    }
    Ok(())
}

/// An order-independent checksum of a run's output: batches reach the writer
/// in any order, so each is hashed with its index and the hashes are summed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Digest {
    sum: u64,
    bytes: u64,
    batches: u64,
}

impl Digest {
    fn add(&mut self, batch: usize, bytes: &[u8]) {
        // Eight bytes per step: the writer must keep up with all the workers.
        let mut hash = mix(batch as u64 ^ 0x0123_4567_89ab_cdef);
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let word = u64::from_le_bytes(word.try_into().expect("chunks of eight"));
            hash = (hash ^ word)
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                .rotate_left(29);
        }
        for &byte in words.remainder() {
            hash = (hash ^ u64::from(byte))
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                .rotate_left(29);
        }
        self.sum = self.sum.wrapping_add(mix(hash ^ bytes.len() as u64));
        self.bytes += bytes.len() as u64;
        self.batches += 1;
    }
}

/// The expected output, written straight from the originals on one thread.
fn reference_digest(input: &Input, originals: &[Record]) -> Digest {
    let mut digest = Digest::default();
    let mut out = Vec::new();
    for (index, batch) in input.batches.iter().enumerate() {
        out.clear();
        for record in &originals[batch.first..batch.first + batch.records] {
            let tags = record.tags.iter().copied();
            write_json(
                &mut out,
                record.id,
                &record.user,
                record.amount_cents,
                tags,
                record.note.as_bytes(),
            );
        }
        digest.add(index, &out);
    }
    digest
}

/// What every run converts, and where.
struct Work<'a> {
    input: &'a Input,
    originals: &'a [Record],
    workers: &'a rayon::ThreadPool,
    reference: Digest,
}

/// Where a run gets its buffers.
enum Mode<'p> {
    /// From the pool; given back when the guards drop.
    Pooled(&'p BufferPool),
    /// Allocated for each batch and freed after use.
    Fresh { capacity: usize },
}

/// A buffer from either source; the writer drops it when done.
enum Buffer<'p> {
    Pooled(PoolGuard<'p, Vec<u8>>),
    Fresh(Vec<u8>),
}

impl Buffer<'_> {
    fn bytes(&mut self) -> &mut Vec<u8> {
        match self {
            Buffer::Pooled(guard) => guard,
            Buffer::Fresh(vec) => vec,
        }
    }
}

impl<'p> Mode<'p> {
    fn buffer(&self) -> Buffer<'p> {
        match *self {
            Mode::Pooled(pool) => Buffer::Pooled(pool.get()),
            Mode::Fresh { capacity } => Buffer::Fresh(Vec::with_capacity(capacity)),
        }
    }

    fn short(&self) -> &'static str {
        match self {
            Mode::Pooled(_) => "pool",
            Mode::Fresh { capacity: 0 } => "Vec::new",
            Mode::Fresh { .. } => "with_capacity",
        }
    }

    fn describe(&self) -> String {
        match self {
            Mode::Pooled(_) => "pooled buffers (victim-pool)".into(),
            Mode::Fresh { capacity: 0 } => "Vec::new() per use, grows".into(),
            Mode::Fresh { capacity } => {
                format!("Vec::with_capacity({} KiB) per use", capacity >> 10)
            }
        }
    }

    /// One full conversion, with a writer thread consuming the output;
    /// checks the output and returns how long it took.
    fn convert(&self, work: &Work<'_>) -> Result<Duration, String> {
        let Work {
            input,
            originals,
            workers,
            reference,
        } = *work;
        let start = Instant::now();
        let digest = thread::scope(|scope| {
            let (sender, receiver) = mpsc::sync_channel::<(usize, Buffer<'p>)>(IN_FLIGHT);
            // Stands in for a file or socket writer: it consumes each output
            // buffer and drops it, which returns a pooled one to the pool.
            let writer = scope.spawn(move || {
                let mut digest = Digest::default();
                for (batch, mut buffer) in receiver {
                    digest.add(batch, buffer.bytes());
                }
                digest
            });
            let converted = workers.install(|| {
                input.batches.par_iter().enumerate().try_for_each_with(
                    sender,
                    |sender, (index, batch)| {
                        let mut scratch = self.buffer();
                        let mut out = self.buffer();
                        convert_batch(input, batch, originals, scratch.bytes(), out.bytes())?;
                        sender
                            .send((index, out))
                            .map_err(|_| "the writer stopped early".to_string())
                    },
                )
            });
            // Joined explicitly, so the writer has fully exited (its thread
            // locals torn down) before anyone looks at the pool.
            let digest = writer
                .join()
                .map_err(|_| "the writer panicked".to_string())?;
            converted.map(|()| digest)
        })?;
        let elapsed = start.elapsed();
        if digest != reference {
            return Err(format!(
                "{} produced {digest:?}, expected {reference:?}",
                self.describe()
            ));
        }
        Ok(elapsed)
    }
}

// ---------------------------------------------------------------------------
// The report.

fn report_throughput(
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

fn report_tiers(after_rounds: &PoolStats, after_burst: &PoolStats) {
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

fn report_retention(retained: [u64; 4], threads: usize) {
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
    println!(
        "  after cleanup 2            {:>4}   (at most 1 per idle worker thread: {threads} workers)",
        retained[2]
    );
    println!("  after each worker touches  {:>4}", retained[3]);
    println!("  A live thread's private slot is only ever emptied by that thread, so an idle");
    println!("  thread keeps one value until it uses the pool again or exits.");
}

fn percent(part: u64, whole: u64) -> f64 {
    100.0 * part as f64 / whole.max(1) as f64
}

/// Prints a phase's title now, before its work, so a slow phase shows.
fn start_phase(title: &str) {
    print!("{title}");
    let _ = std::io::stdout().flush();
}

fn ensure(condition: bool, failure: impl Into<String>) -> Result<(), String> {
    if condition {
        Ok(())
    } else {
        Err(failure.into())
    }
}

fn median(runs: &[Duration]) -> Duration {
    let mut sorted = runs.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

fn millis(time: Duration) -> String {
    format!("{:.0} ms", time.as_secs_f64() * 1e3)
}

fn secs(time: Duration) -> String {
    format!("{:.2} s", time.as_secs_f64())
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

/// 1234567 as "1,234,567".
fn group(n: u64) -> String {
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

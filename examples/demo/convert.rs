//! The conversion: logfmt to JSON with pooled or fresh buffers, checked against the records.

use super::*;

/// A logfmt line as parsed: fields borrow the line, except the note, which is
/// decoded into the caller's scratch buffer.
pub(crate) struct Parsed<'a> {
    pub(crate) id: u64,
    pub(crate) user: &'a str,
    pub(crate) amount_cents: i64,
    /// Comma-separated, possibly empty.
    pub(crate) tags: &'a str,
    /// Where the decoded note is in the scratch buffer.
    pub(crate) note: Range<usize>,
}

/// A field value: as written, or decoded into the scratch buffer.
pub(crate) enum Value<'a> {
    Bare(&'a str),
    Decoded(Range<usize>),
}

/// Parses one line strictly: the five fields, each once, nothing else.
pub(crate) fn parse_logfmt<'a>(
    line: &'a str,
    scratch: &mut Vec<u8>,
) -> Result<Parsed<'a>, &'static str> {
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
pub(crate) fn unquote(quoted: &str, out: &mut Vec<u8>) -> Result<usize, &'static str> {
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
pub(crate) fn parse_cents(text: &str) -> Result<i64, &'static str> {
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

pub(crate) fn tag_list(tags: &str) -> impl Iterator<Item = &str> {
    (!tags.is_empty())
        .then(|| tags.split(','))
        .into_iter()
        .flatten()
}

pub(crate) fn check_record(
    parsed: &Parsed<'_>,
    note: &[u8],
    original: &Record,
) -> Result<(), &'static str> {
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
pub(crate) fn write_json<'t>(
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
pub(crate) fn push_json_string(out: &mut Vec<u8>, text: &[u8]) {
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
pub(crate) fn convert_batch(
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
pub(crate) struct Digest {
    pub(crate) sum: u64,
    pub(crate) bytes: u64,
    pub(crate) batches: u64,
}

impl Digest {
    pub(crate) fn add(&mut self, batch: usize, bytes: &[u8]) {
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
pub(crate) fn reference_digest(input: &Input, originals: &[Record]) -> Digest {
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
pub(crate) struct Work<'a> {
    pub(crate) input: &'a Input,
    pub(crate) originals: &'a [Record],
    pub(crate) workers: &'a rayon::ThreadPool,
    pub(crate) reference: Digest,
}

/// Where a run gets its buffers.
pub(crate) enum Mode<'p> {
    /// From the pool; given back when the guards drop.
    Pooled(&'p BufferPool),
    /// Allocated for each batch and freed after use.
    Fresh { capacity: usize },
}

/// A buffer from either source; the writer drops it when done.
pub(crate) enum Buffer<'p> {
    Pooled(PoolGuard<'p, Vec<u8>>),
    Fresh(Vec<u8>),
}

impl Buffer<'_> {
    pub(crate) fn bytes(&mut self) -> &mut Vec<u8> {
        match self {
            Buffer::Pooled(guard) => guard,
            Buffer::Fresh(vec) => vec,
        }
    }
}

impl<'p> Mode<'p> {
    pub(crate) fn buffer(&self) -> Buffer<'p> {
        match *self {
            Mode::Pooled(pool) => Buffer::Pooled(pool.get()),
            Mode::Fresh { capacity } => Buffer::Fresh(Vec::with_capacity(capacity)),
        }
    }

    pub(crate) fn short(&self) -> &'static str {
        match self {
            Mode::Pooled(_) => "pool",
            Mode::Fresh { capacity: 0 } => "Vec::new",
            Mode::Fresh { .. } => "with_capacity",
        }
    }

    pub(crate) fn describe(&self) -> String {
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
    pub(crate) fn convert(&self, work: &Work<'_>) -> Result<Duration, String> {
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

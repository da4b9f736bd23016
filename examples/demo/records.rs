//! The generated records: the ground truth, its logfmt form and the input batches.

use super::*;

/// One generated record, the ground truth every parsed record is checked against.
#[derive(Debug)]
pub(crate) struct Record {
    pub(crate) id: u64,
    pub(crate) user: String,
    pub(crate) amount_cents: i64,
    pub(crate) tags: Vec<&'static str>,
    pub(crate) note: String,
}

#[rustfmt::skip]
pub(crate) const TAGS: [&str; 8] = ["eu", "us", "urgent", "refund", "retail", "wholesale", "gift", "promo"];

/// Words for notes, with the characters a converter must escape.
#[rustfmt::skip]
pub(crate) const WORDS: [&str; 20] = [
    "order", "shipped", "delayed", "to", "the", "warehouse", "customer", "asked", "for", "ok",
    "\"fragile\"", "C:\\exports", "line\nbreak", "tab\tstop", "café", "naïve", "東京", "✓",
    "invoice", "#4471",
];

/// splitmix64: a tiny, well-mixed generator, so the data is the same on
/// every machine without another dependency.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Runs on the rayon workers: call it inside their `install`.
pub(crate) fn generate_records(count: usize) -> Vec<Record> {
    (0..count).into_par_iter().map(generate_record).collect()
}

pub(crate) fn generate_record(index: usize) -> Record {
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
pub(crate) struct Input {
    pub(crate) text: String,
    pub(crate) batches: Vec<Batch>,
}

pub(crate) struct Batch {
    /// Index of the batch's first record.
    pub(crate) first: usize,
    pub(crate) records: usize,
    /// Its lines, as a range of `Input::text`.
    pub(crate) bytes: Range<usize>,
}

impl Input {
    pub(crate) fn logfmt(records: &[Record]) -> Input {
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
pub(crate) fn write_logfmt(record: &Record, out: &mut String) {
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

//! When the owner moves two values per operation on its own chain.
//!
//! A put that finds the private slot holding a primary value pushes onto
//! the chain, and a take that finds the slot empty pops from it: one atomic
//! read-modify-write each, most of the cost of a put or take past the slot.
//! One read-modify-write can move two values instead: a put pushes the
//! slot's value with its own and leaves the slot empty for the next put; a
//! take pops two and leaves the second in the slot for the next take. That
//! pays only if the next operation goes the same way: after a paired put, a
//! take would find the slot empty and pop; after a paired take, a put would
//! find the slot full and push. So the owner pairs only when the runs of
//! its recent past say the current run will go on.
//!
//! [`Runs`] sees only the owner's operations on the chain (the private
//! slot's fast paths record nothing, so they stay as they are). It counts
//! the current run's operations; a paired move counts its second operation
//! only once a later chain operation of the same run confirms that the
//! value it left (or the room it made) was used that way. A move pairs when
//! at least two more operations of the run are expected: the run so far
//! plus two is at most the shorter of the last two completed runs of that
//! direction, or always if both were long (126 operations or more: counts
//! stop there). On single-thread sequences (the tests below; docs/design.md,
//! "Paired moves") this never makes more than 1% more read-modify-writes
//! than moving one value per operation, and nearly halves them on long
//! runs.

use crate::sync::UnsafeCell;

/// Which way an operation on the own chain moves values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    /// A take popping from the own chain.
    Take = 0,
    /// A put pushing onto the own chain.
    Put = 1,
}

/// The owner's recent runs of chain operations (see the module docs).
/// Counts saturate at [`Runs::LONG`]; a bound of two such runs is none.
///
/// Laid out for the steady state, a run that goes on: the run's limit is
/// worked out when it starts, and the run's direction and progress share
/// one word, so `plan` is an exclusive or and a compare, and a paired
/// move's `record` an add and an or, with no cap: `plan`'s slower path
/// cuts a long run's progress back long before it could reach the
/// direction's bit. (Kept as a count, a flag and the two runs, a chain
/// operation spent 11 instructions here; with `plan` confirming a pair by
/// a store that `record` read back, 23 for both; with a byte per field and
/// a capped progress, 14; now 9.) The word and the limit are `repr(C)`
/// apart, with the completed runs between them, so that no load reads
/// both: with the progress in a `u16` next to byte fields, the compiler
/// read it as 32 bits right after writing it as 16, a load that
/// store-to-load forwarding cannot serve, and the boxed overflow loop ran
/// 1.3x as long.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub(crate) struct Runs {
    /// The current run: its direction in the top bit ([`Runs::PUT`] for a
    /// put run), and below it twice the operations of the run (chain
    /// operations, and confirmed second operations of paired moves), plus
    /// one while its last move was paired and is not yet confirmed. At
    /// first, a take run of no operations with a limit of 0: ending it
    /// leaves the completed runs as they were, so it is as if there were
    /// no run yet.
    run: u16,
    /// The last two completed runs of each direction (by `Direction` as an
    /// index): `[latest, the one before]`.
    completed: [[u8; 2]; 2],
    /// The current run pairs while its progress is below this: twice its
    /// bound, less three, where the bound is the shorter of the last two
    /// completed runs of its direction, taken when it started;
    /// [`ALWAYS`](Self::ALWAYS) if both were [`LONG`](Self::LONG). The
    /// rule of the module docs, as the progress is twice the operations
    /// done, plus one if the last pair awaits confirmation, which the
    /// current operation gives.
    limit: u16,
}

impl Runs {
    /// Where counts saturate: a run this long may be longer, so two of
    /// them bound the next run of their direction no more. (Every long run
    /// pairs all through; with counts that stopped at 255, a run of 1000
    /// operations paired only its first 253.)
    const LONG: u8 = 126;
    /// The direction bit of a put run in [`run`](Self::run).
    const PUT: u16 = 1 << 15;
    /// The limit of a run after two long ones: above every progress that
    /// `plan` lets through, so that such a run pairs all through.
    const ALWAYS: u16 = Self::PUT - 16;
    /// Progress from which `plan`'s slower path cuts it back to
    /// [`LONG`](Self::LONG)'s: every count at or past `LONG` decides the
    /// same, and with [`ALWAYS`](Self::ALWAYS) below the bit, the cut keeps
    /// `record` (at most four more than what `plan` saw) off it.
    const CUT_BACK: u16 = 1 << 14;

    /// The direction bit of `direction` in [`run`](Self::run).
    #[inline(always)]
    fn bit(direction: Direction) -> u16 {
        (direction as u16) << 15
    }

    /// Starts a chain operation going `direction`; returns whether it
    /// should move two values. Call [`record`](Self::record) after it, with
    /// what it moved. Planning again before the record changes nothing
    /// (the take's paired pop relies on it: a take that cannot pair plans
    /// once more on its general path).
    #[inline]
    pub(crate) fn plan(&mut self, direction: Direction) -> bool {
        // The progress if the run goes `direction`, else `PUT` or more,
        // which no limit reaches.
        let progress = self.run ^ Self::bit(direction);
        if progress < self.limit {
            return true;
        }
        self.plan_past_limit(direction, progress)
    }

    /// `plan` for a run that goes the other way (it ends here) or is at or
    /// past its limit (where a long one's progress is cut back).
    #[inline]
    fn plan_past_limit(&mut self, direction: Direction, progress: u16) -> bool {
        if progress >= Self::PUT {
            self.start(direction);
            return self.limit > 0;
        }
        if progress >= Self::CUT_BACK {
            self.run = Self::bit(direction) | (2 * u16::from(Self::LONG)) | (progress & 1);
        }
        self.limit == Self::ALWAYS
    }

    /// Ends the current run (an unconfirmed pair's second half does not
    /// count) and starts one going `direction`.
    #[inline]
    fn start(&mut self, direction: Direction) {
        let ended = usize::from(self.run >> 15);
        let done = ((self.run & !Self::PUT) >> 1).min(u16::from(Self::LONG)) as u8;
        let runs = &mut self.completed[ended];
        *runs = [done, runs[0]];
        let [latest, before] = self.completed[direction as usize];
        let shorter = latest.min(before);
        self.limit = if shorter == Self::LONG {
            Self::ALWAYS
        } else {
            (2 * u16::from(shorter)).saturating_sub(3)
        };
        self.run = Self::bit(direction);
    }

    /// Records that the planned operation moved `moved` values: 0 (a pop
    /// that found none, a put that dropped its value), 1 or 2.
    ///
    /// After `plan`, the progress is below [`ALWAYS`](Self::ALWAYS) (its
    /// fast path) or below [`CUT_BACK`](Self::CUT_BACK) (its slower path
    /// cuts it back), so adding at most four stays off the direction's
    /// bit.
    #[inline]
    pub(crate) fn record(&mut self, moved: usize) {
        if moved == 2 {
            return self.record_pair();
        }
        // The operation counts once it moved a value; it confirms a pair
        // left unconfirmed (odd progress rounds up to the next count).
        let done = self.run + if moved == 0 { 0 } else { 2 };
        self.run = (done + 1) & !1;
    }

    /// [`record`](Self::record) of a paired move, the steady state's
    /// case: the count as there, plus one for the confirmation that this
    /// move awaits. With odd progress `p` the rounding gives `p + 4`, with
    /// even `p + 3`: either way `(p + 3) | 1`.
    #[inline(always)]
    fn record_pair(&mut self) {
        self.run = (self.run + 3) | 1;
    }
}

/// A local's [`Runs`], touched only by the local's owner.
///
/// # Invariants
///
/// - M1: only the holder of the local's thread index reads or writes it
///   (the pool's L1); a new holder is ordered after the last one by the
///   thread registry (`thread_index` R3). It decides nothing that a cleanup
///   or a thief acts on: it is a hint, and any value is safe.
#[derive(Debug)]
pub(crate) struct PairedMoves {
    runs: UnsafeCell<Runs>,
}

// SAFETY: `Runs` is plain data; M1 keeps every access on one thread at a
// time, ordered by happens-before across owners.
unsafe impl Sync for PairedMoves {}

impl PairedMoves {
    pub(crate) fn new() -> Self {
        PairedMoves {
            runs: UnsafeCell::new(Runs::default()),
        }
    }

    /// [`Runs::plan`] on the local's runs.
    ///
    /// # Safety
    ///
    /// The caller holds the local's thread index (M1).
    #[inline]
    pub(crate) unsafe fn plan(&self, direction: Direction) -> bool {
        // SAFETY: M1, per the caller: no other access overlaps.
        self.runs
            .with_mut(|runs| unsafe { (*runs).plan(direction) })
    }

    /// [`Runs::record`] on the local's runs.
    ///
    /// # Safety
    ///
    /// As for [`plan`](Self::plan).
    #[inline]
    pub(crate) unsafe fn record(&self, moved: usize) {
        // SAFETY: as in `plan`.
        self.runs.with_mut(|runs| unsafe { (*runs).record(moved) })
    }
}

#[cfg(test)]
mod tests {
    use super::{Direction, Runs};

    /// A single thread's takes (`t`) and puts (`p`) against a private slot
    /// and a chain that never runs dry: the read-modify-writes they make,
    /// with pairing as `Runs` decides, or without.
    fn read_modify_writes(ops: &str, paired: bool) -> usize {
        let (mut private_full, mut runs, mut count) = (true, Runs::default(), 0);
        for op in ops.chars() {
            let direction = if op == 't' {
                Direction::Take
            } else {
                Direction::Put
            };
            if private_full == (direction == Direction::Take) {
                private_full = !private_full;
                continue;
            }
            let pair = runs.plan(direction) && paired;
            count += 1;
            runs.record(if pair { 2 } else { 1 });
            if pair {
                private_full = !private_full;
            }
        }
        count
    }

    /// A fixed sequence of pseudo-random numbers (xorshift from `seed`),
    /// each below the bound it is asked for.
    fn numbers_below(mut seed: u64) -> impl FnMut(u64) -> u64 {
        move |below| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % below
        }
    }

    fn ratio(ops: &str) -> f64 {
        read_modify_writes(ops, true) as f64 / read_modify_writes(ops, false) as f64
    }

    #[test]
    fn long_runs_move_two_values_per_read_modify_write() {
        let overflow = "p".repeat(100) + &"t".repeat(100);
        let long = ratio(&overflow.repeat(20));
        assert!(long < 0.6, "{long}");
        let fives = ratio(&"tttttppppp".repeat(200));
        assert!(fives < 0.8, "{fives}");
        // Past the counts' saturation, all through the run.
        let thousands = ratio(&("p".repeat(1000) + &"t".repeat(1000)).repeat(20));
        assert!(thousands < 0.6, "{thousands}");
    }

    /// The claim of the module docs: over periodic sequences (every cycle
    /// of up to 11 takes and 11 puts, every pair of run lengths up to 6),
    /// random sequences and random run lengths, each on its own or after
    /// long runs, pairing never makes more than 1% more read-modify-writes
    /// than single moves (plus 2 for the first runs, which decide nothing
    /// yet). Deterministic: the random sequences come from a fixed seed.
    #[test]
    fn pairing_never_costs_more_than_one_percent_over_single_moves() {
        let mut random = numbers_below(0x9e37_79b9_7f4a_7c15);
        let mut sequences = Vec::new();
        for depth in 1..=11 {
            sequences.push(("t".repeat(depth) + &"p".repeat(depth)).repeat(200));
        }
        for takes in 1..=6 {
            for puts in 1..=6 {
                sequences.push(("t".repeat(takes) + &"p".repeat(puts)).repeat(300));
            }
        }
        for _ in 0..10 {
            let ops = (0..4000).map(|_| if random(2) == 0 { 't' } else { 'p' });
            sequences.push(ops.collect());
            let mut runs = String::new();
            while runs.len() < 6000 {
                let longest = [2, 4, 10, 30][random(4) as usize];
                let op = if random(2) == 0 { "t" } else { "p" };
                runs += &op.repeat(1 + random(longest) as usize);
            }
            sequences.push(runs);
        }
        let long = "p".repeat(100) + &"t".repeat(100) + &"p".repeat(100);
        for ops in &sequences {
            for prefixed in [ops.clone(), long.clone() + ops] {
                let paired = read_modify_writes(&prefixed, true);
                let single = read_modify_writes(&prefixed, false);
                assert!(
                    paired * 100 <= single * 101 + 200,
                    "{paired} read-modify-writes paired, {single} single, for {}...",
                    &prefixed[..prefixed.len().min(40)]
                );
            }
        }
    }

    #[test]
    fn alternating_short_runs_never_pair_after_long_ones() {
        // Long runs first teach `Runs` to pair; then a take/put cycle of
        // one or two must not fall into pushing and popping the slot's
        // value on every operation.
        let long = "p".repeat(100) + &"t".repeat(100) + &"p".repeat(100);
        for cycle in ["tp", "ttpp", "tptpttpp", "ttp", "tpp"] {
            let prefixed = long.clone() + &cycle.repeat(1000);
            let paired = read_modify_writes(&prefixed, true);
            let single = read_modify_writes(&prefixed, false);
            assert!(
                paired <= single + 10,
                "{cycle}: {paired} read-modify-writes paired, {single} single"
            );
        }
    }

    #[test]
    fn a_run_pairs_only_while_two_more_operations_are_expected() {
        let mut runs = Runs::default();
        // Two completed put runs of 4 chain operations each (with takes
        // between them).
        for _ in 0..2 {
            for _ in 0..4 {
                assert!(!runs.plan(Direction::Put));
                runs.record(1);
            }
            runs.plan(Direction::Take);
            runs.record(1);
        }
        // Now a put run pairs at 0 and 2 done (0 + 2 <= 4, 2 + 2 <= 4),
        // once the pair at 0 is confirmed by the next operation.
        assert!(runs.plan(Direction::Put));
        runs.record(2);
        assert!(
            runs.plan(Direction::Put),
            "1 done and the pair confirmed: 2"
        );
        runs.record(2);
        assert!(!runs.plan(Direction::Put), "4 done: no more expected");
    }

    /// The rule of the module docs as plainly as it reads: a count of the
    /// current run, a flag for an unconfirmed pair, the last two completed
    /// runs of each direction, all saturating at `LONG`; two long runs
    /// bound nothing.
    #[derive(Default)]
    struct PlainRule {
        current: Option<Direction>,
        done: u8,
        unconfirmed: bool,
        completed: [[u8; 2]; 2],
    }

    impl PlainRule {
        fn plan(&mut self, direction: Direction) -> bool {
            if self.current != Some(direction) {
                if let Some(ended) = self.current {
                    let runs = &mut self.completed[ended as usize];
                    *runs = [self.done, runs[0]];
                }
                (self.current, self.done, self.unconfirmed) = (Some(direction), 0, false);
            } else if self.unconfirmed {
                (self.done, self.unconfirmed) = ((self.done + 1).min(Runs::LONG), false);
            }
            let [latest, before] = self.completed[direction as usize];
            let long = latest == Runs::LONG && before == Runs::LONG;
            long || self.done + 2 <= latest.min(before)
        }

        fn record(&mut self, moved: usize) {
            if moved > 0 {
                (self.done, self.unconfirmed) = ((self.done + 1).min(Runs::LONG), moved == 2);
            }
        }
    }

    #[test]
    fn the_compact_runs_decide_as_the_plain_rule_does() {
        let mut random = numbers_below(0x2545_f491_4f6c_dd1d);
        let (mut runs, mut rule) = (Runs::default(), PlainRule::default());
        let mut paired = 0;
        for _ in 0..3000 {
            // Runs of up to 600 operations: past the saturation; and now
            // and then one of up to 40,000, past where `plan` cuts the
            // progress back.
            let direction = [Direction::Take, Direction::Put][random(2) as usize];
            let longest = if random(100) == 0 {
                40_000
            } else {
                [3, 20, 120, 600][random(4) as usize]
            };
            let length = 1 + random(longest);
            for _ in 0..length {
                let pair = rule.plan(direction);
                assert_eq!(runs.plan(direction), pair, "{direction:?}");
                // A pair may still move one value (a ring boundary), and a
                // pop may find nothing (or a put drop its value).
                let moved = match random(16) {
                    0 => 0,
                    1 | 2 => 1,
                    _ => 1 + usize::from(pair),
                };
                paired += usize::from(moved == 2);
                rule.record(moved);
                runs.record(moved);
                assert_eq!(runs.completed, rule.completed);
            }
        }
        assert!(paired > 10_000, "the sequences pair often: {paired}");
    }

    #[test]
    fn planning_again_before_the_record_changes_nothing() {
        let mut random = numbers_below(0x6a09_e667_f3bc_c908);
        let mut runs = Runs::default();
        for _ in 0..20_000 {
            let direction = [Direction::Take, Direction::Put][random(2) as usize];
            let mut once = runs;
            let pair = once.plan(direction);
            let mut twice = runs;
            twice.plan(direction);
            assert_eq!(twice.plan(direction), pair);
            assert_eq!(twice, once);
            runs = once;
            runs.record([0, 1, 2][random(3) as usize]);
        }
    }

    #[test]
    fn counts_saturate_instead_of_wrapping() {
        // Past where the progress is cut back, many times over, single
        // and paired, after short runs (a limit) and after long ones
        // (none).
        for teach in [1, 200] {
            for moved in [1, 2] {
                let mut runs = Runs::default();
                for direction in [Direction::Put, Direction::Take].repeat(2) {
                    for _ in 0..teach {
                        runs.plan(direction);
                        runs.record(1);
                    }
                }
                for n in 0..100_000 {
                    let pair = runs.plan(Direction::Put);
                    assert_eq!(pair, teach == 200, "operation {n}");
                    runs.record(if pair { moved } else { 1 });
                    // Still a put run: the progress never reached the bit.
                    assert!(runs.run >= Runs::PUT, "operation {n}: {:#x}", runs.run);
                }
                runs.plan(Direction::Take);
                assert_eq!(runs.completed[Direction::Put as usize][0], Runs::LONG);
                assert!(runs.run < Runs::PUT, "a take run now: {:#x}", runs.run);
            }
        }
    }
}

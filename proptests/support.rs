//! What the tests share: a payload that counts its own drops, a start gate,
//! and one interface over the dequeue and the chain so that a threaded test
//! is written once for both.

use std::fmt;
use std::panic;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::thread;
use victim_pool::{ChainStealer, DequeueStealer, PoolChain, PoolDequeue};

/// One drop counter per value id.
///
/// A value dropped a second time panics at once (unless the thread is
/// already unwinding, when the count alone tells), so a double drop shows up
/// where it happens; [`DropLedger::assert_each_dropped_once`] catches
/// values that were never dropped.
pub struct DropLedger {
    counts: Box<[AtomicU8]>,
    /// The id whose drop panics, for the tests of panicking drops.
    panics_on_drop: Option<u32>,
}

/// The panic payload of a planted panicking drop.
///
/// It is raised with `resume_unwind`, which skips the panic hook, so the
/// tests that plant it print nothing.
#[derive(Debug, PartialEq, Eq)]
pub struct PlantedDropPanic(pub u32);

impl DropLedger {
    /// A ledger for ids `0..n`, none dropped yet.
    pub fn new(n: usize) -> Self {
        assert!(n <= u32::MAX as usize, "ids are u32");
        DropLedger {
            counts: (0..n).map(|_| AtomicU8::new(0)).collect(),
            panics_on_drop: None,
        }
    }

    /// As [`DropLedger::new`], but dropping value `id` panics (after
    /// counting the drop) with [`PlantedDropPanic`].
    pub fn with_panicking_drop(n: usize, id: u32) -> Self {
        assert!((id as usize) < n);
        DropLedger {
            panics_on_drop: Some(id),
            ..Self::new(n)
        }
    }

    /// A ledger that lives for the rest of the process, for threads started
    /// with `std::thread::spawn`: one byte per value is leaked. Plain spawns
    /// with explicit joins, rather than `thread::scope` or an `Arc` in every
    /// value, keep these tests usable under ThreadSanitizer (see
    /// `.ci/sanitizers.sh`) and keep the payload free of shared refcounts.
    pub fn leak(n: usize) -> &'static Self {
        Box::leak(Box::new(Self::new(n)))
    }

    /// How many ids this ledger counts.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// The value with this id.
    pub fn value(&self, id: u32) -> Tracked<'_> {
        assert!((id as usize) < self.counts.len(), "id {id} out of range");
        Tracked { id, ledger: self }
    }

    /// How often value `id` has been dropped so far.
    pub fn drops(&self, id: u32) -> u8 {
        // Relaxed [drop-count]: read after the threads that drop values are
        // joined, or on the thread that dropped them; the join or program
        // order is the edge, the counter publishes nothing.
        self.counts[id as usize].load(Ordering::Relaxed)
    }

    fn record_drop(&self, id: u32) {
        // Relaxed [drop-count]: as in `drops`.
        let before = self.counts[id as usize].fetch_add(1, Ordering::Relaxed);
        if before != 0 && !thread::panicking() {
            panic!("value {id} dropped {} times", before + 1);
        }
        if self.panics_on_drop == Some(id) && !thread::panicking() {
            panic::resume_unwind(Box::new(PlantedDropPanic(id)));
        }
    }

    /// Asserts that every id was dropped exactly once.
    pub fn assert_each_dropped_once(&self) {
        self.assert_drops(0..self.len() as u32, 1);
    }

    /// Asserts that each of `ids` was dropped exactly `times` times, naming
    /// the first few that were not.
    pub fn assert_drops(&self, ids: impl IntoIterator<Item = u32>, times: u8) {
        let wrong: Vec<(u32, u8)> = ids
            .into_iter()
            .map(|id| (id, self.drops(id)))
            .filter(|&(_, drops)| drops != times)
            .collect();
        assert!(
            wrong.is_empty(),
            "{} values were not dropped exactly {times} time(s); first (id, drops): {:?}",
            wrong.len(),
            &wrong[..wrong.len().min(8)]
        );
    }
}

/// A value that reports its drop to a [`DropLedger`].
pub struct Tracked<'a> {
    id: u32,
    ledger: &'a DropLedger,
}

impl Tracked<'_> {
    /// The id this value was made with.
    pub fn id(&self) -> u32 {
        self.id
    }
}

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        self.ledger.record_drop(self.id);
    }
}

impl fmt::Debug for Tracked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tracked({})", self.id)
    }
}

/// The ids of an optional value, dropping the value.
pub fn id_of(value: Option<Tracked<'_>>) -> Option<u32> {
    value.map(|v| v.id())
}

/// Drops `first`, runs `between` (while only `last` keeps the structure
/// alive), then drops `last`, catching a panic from that drop.
pub fn drop_then_catch<A, B>(first: A, between: impl FnOnce(), last: B) -> thread::Result<()> {
    drop(first);
    between();
    panic::catch_unwind(panic::AssertUnwindSafe(move || drop(last)))
}

/// Lets spawned threads start their loops together, so that they overlap
/// rather than run one after another while the next is being spawned.
#[derive(Default)]
pub struct StartGate(AtomicBool);

impl StartGate {
    /// A closed gate.
    pub fn new() -> Self {
        Self::default()
    }

    /// Lets every waiting thread go.
    pub fn open(&self) {
        // Relaxed [start-gate]: timing only; the threads' inputs were moved
        // into them at spawn, which already happens-before their start.
        self.0.store(true, Ordering::Relaxed);
    }

    /// Spins (yielding) until the gate is open.
    pub fn wait(&self) {
        // Relaxed [start-gate]: as in `open`.
        while !self.0.load(Ordering::Relaxed) {
            thread::yield_now();
        }
    }
}

/// A bound on a wait that only a bug can make endless: a producer retrying
/// a push that a ring keeps refusing, a thread waiting for others to drain
/// what it pushed. Without it such a bug hangs the test run instead of
/// failing it.
///
/// Liveness, not timing: [`Patience::retry`] panics, naming the wait, only
/// once it has both been retried [`Patience::ATTEMPTS`] times and lasted
/// [`Patience::SECONDS`], so neither a fast spin nor a starved thread on a
/// loaded machine gives up on a wait that was going to end. Debug builds
/// run several times slower and get four times the seconds. Start a new
/// `Patience` for each wait (nothing is measured until the first retry).
pub struct Patience {
    what: &'static str,
    attempts: u64,
    started: Option<std::time::Instant>,
}

impl Patience {
    /// Retries a wait may take before the time limit is looked at.
    pub const ATTEMPTS: u64 = 1_000_000;
    /// How long a wait may last, in a release build, before it fails.
    pub const SECONDS: u64 = 60;

    /// A wait for `what` (worded to follow "waiting for").
    pub fn new(what: &'static str) -> Self {
        Patience {
            what,
            attempts: 0,
            started: None,
        }
    }

    /// Counts a failed attempt and yields; panics once the wait has gone on
    /// past both limits.
    pub fn retry(&mut self) {
        let started = *self.started.get_or_insert_with(std::time::Instant::now);
        self.attempts += 1;
        if self.attempts >= Self::ATTEMPTS && self.attempts % 1024 == 0 {
            let limit = std::time::Duration::from_secs(scaled_up(Self::SECONDS, 4));
            let waited = started.elapsed();
            assert!(
                waited < limit,
                "gave up waiting for {} after {} attempts in {:.0} s: something that \
                 must happen never does (a slot that stays marked occupied, a value lost)",
                self.what,
                self.attempts,
                waited.as_secs_f64()
            );
        }
        thread::yield_now();
    }
}

/// Runs a closure when dropped, also while unwinding: a producer that
/// panics still tells the threads waiting for it to stop, so the test fails
/// with the producer's panic instead of hanging on them.
pub struct OnDrop<F: FnMut()>(pub F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

/// Joins `thread`; if it panicked, raises its panic again here, so that the
/// test fails with the thread's own message.
pub fn joined<T>(thread: thread::JoinHandle<T>) -> T {
    thread
        .join()
        .unwrap_or_else(|panic| panic::resume_unwind(panic))
}

/// The producer side of either structure, as the threaded tests use it.
pub trait Producer: Send + 'static {
    /// The matching consumer handle.
    type Stealer: Stealer;
    /// `push_head`; the chain never refuses.
    fn push_head(&self, value: Tracked<'static>) -> Result<(), Tracked<'static>>;
    /// `pop_head`.
    fn pop_head(&self) -> Option<Tracked<'static>>;
    /// `push_head_pair`: both values back if refused.
    fn push_pair(
        &self,
        older: Tracked<'static>,
        newer: Tracked<'static>,
    ) -> Result<(), (Tracked<'static>, Tracked<'static>)>;
    /// `pop_head_pair`: the values it took, newest first.
    fn pop_pair(&self) -> Vec<Tracked<'static>>;
    /// A new consumer handle.
    fn stealer(&self) -> Self::Stealer;
    /// `len`, exact when nothing runs concurrently.
    fn len(&self) -> usize;
}

/// The consumer side of either structure.
pub trait Stealer: Send + 'static {
    /// `pop_tail`.
    fn pop_tail(&self) -> Option<Tracked<'static>>;
}

impl Producer for PoolDequeue<Tracked<'static>> {
    type Stealer = DequeueStealer<Tracked<'static>>;
    fn push_head(&self, value: Tracked<'static>) -> Result<(), Tracked<'static>> {
        PoolDequeue::push_head(self, value)
    }
    fn pop_head(&self) -> Option<Tracked<'static>> {
        PoolDequeue::pop_head(self)
    }
    fn push_pair(
        &self,
        older: Tracked<'static>,
        newer: Tracked<'static>,
    ) -> Result<(), (Tracked<'static>, Tracked<'static>)> {
        PoolDequeue::push_head_pair(self, older, newer)
    }
    fn pop_pair(&self) -> Vec<Tracked<'static>> {
        PoolDequeue::pop_head_pair(self).map_or_else(Vec::new, |(a, b)| vec![a, b])
    }
    fn stealer(&self) -> Self::Stealer {
        PoolDequeue::stealer(self)
    }
    fn len(&self) -> usize {
        PoolDequeue::len(self)
    }
}

impl Stealer for DequeueStealer<Tracked<'static>> {
    fn pop_tail(&self) -> Option<Tracked<'static>> {
        DequeueStealer::pop_tail(self)
    }
}

impl Producer for PoolChain<Tracked<'static>> {
    type Stealer = ChainStealer<Tracked<'static>>;
    fn push_head(&self, value: Tracked<'static>) -> Result<(), Tracked<'static>> {
        PoolChain::push_head(self, value);
        Ok(())
    }
    fn pop_head(&self) -> Option<Tracked<'static>> {
        PoolChain::pop_head(self)
    }
    fn push_pair(
        &self,
        older: Tracked<'static>,
        newer: Tracked<'static>,
    ) -> Result<(), (Tracked<'static>, Tracked<'static>)> {
        PoolChain::push_head_pair(self, older, newer);
        Ok(())
    }
    fn pop_pair(&self) -> Vec<Tracked<'static>> {
        PoolChain::pop_head_pair(self)
            .map_or_else(Vec::new, |(a, b)| std::iter::once(a).chain(b).collect())
    }
    fn stealer(&self) -> Self::Stealer {
        PoolChain::stealer(self)
    }
    fn len(&self) -> usize {
        PoolChain::len(self)
    }
}

impl Stealer for ChainStealer<Tracked<'static>> {
    fn pop_tail(&self) -> Option<Tracked<'static>> {
        ChainStealer::pop_tail(self)
    }
}

/// Asserts that the ids one consumer took from the tail only increase: the
/// producer pushes increasing ids and `pop_head` takes the newest, so the
/// values from tail to head are always in increasing order.
pub fn assert_increasing(who: &str, ids: &[u32]) {
    if let Some(w) = ids.windows(2).find(|w| w[0] >= w[1]) {
        panic!("{who} took {} and then {} from the tail", w[0], w[1]);
    }
}

/// A proptest configuration running `release` cases in release builds and
/// `1/divisor` of them in debug builds.
pub fn cases(release: u32, divisor: u32) -> proptest::test_runner::Config {
    proptest::test_runner::Config::with_cases(scaled(release as usize, divisor as usize) as u32)
}

/// The reverse of [`scaled`], for limits: `release` in release builds,
/// `release * factor` in debug builds.
pub fn scaled_up(release: u64, factor: u64) -> u64 {
    if cfg!(debug_assertions) {
        release * factor
    } else {
        release
    }
}

/// Scales a count for the build profile: the full count in release builds,
/// `1/divisor` of it (at least 1) in debug builds. Every assertion runs in
/// both.
pub fn scaled(release: usize, divisor: usize) -> usize {
    if cfg!(debug_assertions) {
        (release / divisor).max(1)
    } else {
        release
    }
}

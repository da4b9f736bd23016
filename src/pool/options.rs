//! What a pool does with values on return: reset them, keep or discard them.

use super::Pool;
use std::fmt;

type ResetHook<T> = Box<dyn Fn(&mut T) + Send + Sync>;
type KeepRule<T> = Box<dyn Fn(&T) -> bool + Send + Sync>;

/// The return-time rules of a pool; all off for [`Pool::new`].
pub(crate) struct Rules<T> {
    pub(crate) reset: Option<ResetHook<T>>,
    pub(crate) keep: Option<KeepRule<T>>,
    pub(crate) max_chain: usize,
}

impl<T> Rules<T> {
    pub(crate) const NONE: Rules<T> = Rules {
        reset: None,
        keep: None,
        max_chain: usize::MAX,
    };
}

impl<T> fmt::Debug for Rules<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rules")
            .field("reset", &self.reset.is_some())
            .field("keep", &self.keep.is_some())
            .field("max_chain", &self.max_chain)
            .finish()
    }
}

/// Builds a [`Pool`] with return-time rules: a reset hook, a keep-or-discard
/// rule, a per-thread bound. From [`Pool::builder`].
///
/// # Examples
///
/// ```
/// use victim_pool::Pool;
///
/// let buffers = Pool::builder(|| Vec::<u8>::with_capacity(4096))
///     .reset(|buffer: &mut Vec<u8>| buffer.clear())
///     .keep_if(|buffer: &Vec<u8>| buffer.capacity() <= 1 << 20)
///     .max_chain_per_thread(64)
///     .build();
///
/// let mut buffer = buffers.get();
/// buffer.extend_from_slice(b"dirty");
/// drop(buffer); // reset on return
/// assert!(buffers.get().is_empty());
///
/// buffers.put(Vec::with_capacity(64 << 20)); // too big to keep: dropped
/// assert_eq!(buffers.stats().discarded, 1);
/// ```
pub struct PoolBuilder<T, F = fn() -> T> {
    pool: Pool<T, F>,
}

impl<T, F> PoolBuilder<T, F> {
    pub(super) fn new(pool: Pool<T, F>) -> Self {
        PoolBuilder { pool }
    }

    /// Runs `reset` on every value given back to the pool (by `put` or a
    /// guard's drop), on the returning thread, before the value is stored, so
    /// a value taken from the pool is always clean.
    ///
    /// It runs on every value the keep rule accepts, including one that the
    /// per-thread bound then refuses; not on values the keep rule refuses,
    /// nor on values later dropped by aging. If it panics, the value is
    /// dropped (counted as discarded) and the panic propagates from `put`.
    pub fn reset(mut self, reset: impl Fn(&mut T) + Send + Sync + 'static) -> Self {
        self.pool.rules.reset = Some(Box::new(reset));
        self
    }

    /// Keeps a returned value only if `keep` says so; otherwise it is dropped
    /// on the returning thread and counted in
    /// [`PoolStats::discarded`](crate::PoolStats::discarded). Use it to refuse
    /// values that would pin too much memory (golang/go#23199). Evaluated
    /// before the reset hook.
    pub fn keep_if(mut self, keep: impl Fn(&T) -> bool + Send + Sync + 'static) -> Self {
        self.pool.rules.keep = Some(Box::new(keep));
        self
    }

    /// Bounds how many values one thread's chain keeps: a `put` that would
    /// push onto a chain already holding `max` values drops that value
    /// instead (counted as discarded). Usually that is the value being put;
    /// when the private slot holds a value from before the last cleanup, the
    /// new value takes the slot and the old one is the value pushed (onto
    /// the victim chain) or dropped. The private slot holds one more, and
    /// values that age into the victim cache still count against the chain
    /// they are in. So one thread retains at most `2 * max + 1` values (its
    /// primary chain, its victim chain, its private slot). Measuring the
    /// chain pins the epoch, so bounded puts to the chain cost a little more.
    pub fn max_chain_per_thread(mut self, max: usize) -> Self {
        self.pool.rules.max_chain = max;
        self
    }

    /// Sets the capacity of the first ring of each thread's chains (see
    /// [`Pool::with_first_link_capacity`]).
    ///
    /// # Panics
    ///
    /// Panics unless `capacity` is a power of two between 1 and 2^30.
    pub fn first_link_capacity(mut self, capacity: usize) -> Self {
        self.pool = self.pool.with_first_link_capacity(capacity);
        self
    }

    /// The pool.
    pub fn build(self) -> Pool<T, F> {
        self.pool
    }
}

impl<T, F> fmt::Debug for PoolBuilder<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolBuilder")
            .field("rules", &self.pool.rules)
            .finish_non_exhaustive()
    }
}

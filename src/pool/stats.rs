//! Statistics by tier: where gets were served, and where values went.

use crate::sync::{const_fn_unless_loom, zeroed_counters, AtomicU64, Ordering};
use std::ops::AddAssign;

/// A snapshot of a pool's counters, from [`Pool::stats`](crate::Pool::stats).
///
/// Counters are cumulative since the pool was created. Each is exact for
/// operations that finished before the snapshot and ordered before it by
/// happens-before; operations running concurrently may or may not be counted.
///
/// `retained` is derived: values put, minus values taken, discarded and
/// dropped. It is exact when nothing runs concurrently.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// Gets served from the calling thread's private slot.
    pub from_private: u64,
    /// Gets served from the head of the calling thread's own chain.
    pub from_own_chain: u64,
    /// Gets served from the tail of another thread's chain.
    pub stolen: u64,
    /// Gets served from the victim cache (values that lived through one cleanup).
    pub from_victim: u64,
    /// Values the create function returned (gets that found nothing: `get`,
    /// `take`). A `create` that panicked is not counted.
    pub created: u64,
    /// Gets that found nothing and returned `None` (`try_take`, `try_get`).
    pub missed: u64,
    /// Values given to `put` (including guard drops).
    pub puts: u64,
    /// Values the retention rules refused on `put` (the keep predicate, the
    /// per-thread bound, or a put from a thread that is exiting); dropped.
    pub discarded: u64,
    /// Values dropped by aging: by a cleanup, or found expired by their
    /// owning thread.
    pub dropped_by_cleanup: u64,
    /// Values in the pool now (see above).
    pub retained: u64,
}

impl PoolStats {
    /// Gets served by the pool, over all tiers.
    pub fn hits(&self) -> u64 {
        // Wrapping, as the counters themselves are (the fields are public).
        self.from_private
            .wrapping_add(self.from_own_chain)
            .wrapping_add(self.stolen)
            .wrapping_add(self.from_victim)
    }
}

/// Which counter an event bumps.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Event {
    FromPrivate,
    FromOwnChain,
    Stolen,
    FromVictim,
    Created,
    Missed,
    Put,
    /// A loan from the private slot: a get from it and, at once, the put
    /// that will give it back (C2). One counter for both, so that a loan
    /// costs the owner one count, not two.
    Loan,
    /// Counted on the pool's counters only (see [`Event::is_owned`]).
    Discarded,
    /// Counted on the pool's counters only (see [`Event::is_owned`]).
    DroppedByCleanup,
}

const EVENTS: usize = 10;
const _: () = assert!(
    Event::DroppedByCleanup as usize + 1 == EVENTS,
    "one counter per event"
);
/// The events a local counts: all but the last two, so that a local's
/// counters keep it within 128 bytes (design.md, "Memory bounds").
pub(crate) const OWNED_EVENTS: usize = EVENTS - 2;

impl Event {
    /// Whether a local counts this event. Drops by aging are rare (once per
    /// value per two cleanups) and mostly a cleanup's, which counts on the
    /// pool's counters: they go there from owners too. Discards (a retention
    /// rule refused the value, or the thread is exiting) go there as well:
    /// they drop a value, which costs more than the shared count, and their
    /// counter's room in a local holds its paired-move runs instead.
    #[inline(always)]
    pub(crate) fn is_owned(self) -> bool {
        (self as usize) < OWNED_EVENTS
    }
}

/// One set of counters.
///
/// # Invariants
///
/// - C1: a local's counters are written only by the local's owner (the
///   holder of its thread index), with a plain load and store; ownership
///   hand-offs are ordered by the thread registry, so no increment is lost.
///   The pool's own counters are bumped with `fetch_add` by any thread.
/// - C2: a loan's put is counted when the value is lent, so that giving it
///   back counts nothing and needs no lookup on any thread. Until then the
///   sum of `Put` counts one put too many for each slot that is LENT,
///   which `Pool::stats` subtracts; a loan that is detached instead
///   (`into_inner`, or moved out to be screened) is taken back as one put
///   less on the detaching thread's counters.
#[derive(Debug)]
pub(crate) struct Counters<const N: usize = EVENTS> {
    counts: [AtomicU64; N],
}

/// A local's counters (C1).
pub(crate) type OwnedCounters = Counters<OWNED_EVENTS>;

impl<const N: usize> Counters<N> {
    const_fn_unless_loom! {
        pub(crate) const fn new() -> Self {
            Counters {
                counts: zeroed_counters(),
            }
        }
    }

    /// Bumps a counter that only the calling thread writes (C1): no
    /// read-modify-write, so the fast path stays free of them.
    ///
    /// Counts wrap: a thread that detaches a loan another thread made
    /// takes back that loan's put with `by = u64::MAX` (minus one) on its
    /// own counters (C2), so only sums over all counters mean anything.
    #[inline(always)]
    pub(crate) fn bump_owned(&self, event: Event, by: u64) {
        let counter = &self.counts[event as usize];
        // Relaxed [owner-counter]: a statistic written by one thread at a
        // time (C1); readers need no other memory to be visible.
        let count = counter.load(Ordering::Relaxed);
        // Relaxed [owner-counter]: as above.
        counter.store(count.wrapping_add(by), Ordering::Relaxed);
    }

    /// Bumps a counter that any thread may write (wrapping, as above).
    pub(crate) fn bump_shared(&self, event: Event, by: u64) {
        // Relaxed [shared-counter]: a statistic; the RMW alone keeps counts.
        self.counts[event as usize].fetch_add(by, Ordering::Relaxed);
    }

    /// Adds these counters into a snapshot.
    pub(crate) fn add_to(&self, stats: &mut PoolStats) {
        // Relaxed [counter-read]: statistics only.
        let get = |event: Event| {
            self.counts
                .get(event as usize)
                .map_or(0, |count| count.load(Ordering::Relaxed))
        };
        let loans = get(Event::Loan);
        *stats += PoolStats {
            from_private: get(Event::FromPrivate).wrapping_add(loans),
            from_own_chain: get(Event::FromOwnChain),
            stolen: get(Event::Stolen),
            from_victim: get(Event::FromVictim),
            created: get(Event::Created),
            missed: get(Event::Missed),
            puts: get(Event::Put).wrapping_add(loans),
            discarded: get(Event::Discarded),
            dropped_by_cleanup: get(Event::DroppedByCleanup),
            retained: 0,
        };
    }
}

impl AddAssign for PoolStats {
    fn add_assign(&mut self, other: PoolStats) {
        // Wrapping: one thread's `puts` may be "negative" (C2); sums are
        // what count.
        self.from_private = self.from_private.wrapping_add(other.from_private);
        self.from_own_chain = self.from_own_chain.wrapping_add(other.from_own_chain);
        self.stolen = self.stolen.wrapping_add(other.stolen);
        self.from_victim = self.from_victim.wrapping_add(other.from_victim);
        self.created = self.created.wrapping_add(other.created);
        self.missed = self.missed.wrapping_add(other.missed);
        self.puts = self.puts.wrapping_add(other.puts);
        self.discarded = self.discarded.wrapping_add(other.discarded);
        self.dropped_by_cleanup = self
            .dropped_by_cleanup
            .wrapping_add(other.dropped_by_cleanup);
        self.retained = self.retained.wrapping_add(other.retained);
    }
}

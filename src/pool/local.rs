//! One thread's share of a pool (Go: `poolLocal`).

use super::private_slot::PrivateSlot;
use super::stats::Counters;
use super::summary::Bit;
use crate::chain::RawChain;
use crate::sync::{epoch, UnsafeCell};
use crate::unwind::for_each_despite_panics;

/// How many cleanups a pooled value has lived through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Age {
    /// Put since the last cleanup: served by the private and own-chain tiers
    /// and stolen by other threads.
    Primary,
    /// Put before the last cleanup: served by the victim tier.
    Victim,
    /// Put before the last two cleanups: dropped when next seen.
    Expired,
}

impl Age {
    /// The age of a value put at `stamp` when the pool is at `generation`.
    ///
    /// A stamp newer than `generation` is `Primary`: a reader whose
    /// generation is stale (a cleanup ran since it loaded it) must never
    /// mistake a fresh value for an expired one. Only stamps older than
    /// `generation` age. Generations wrap, so "newer" is a signed distance;
    /// two readers never disagree by 2^63 cleanups.
    #[inline(always)]
    pub(crate) fn of(stamp: usize, generation: usize) -> Age {
        match generation.wrapping_sub(stamp) as isize {
            isize::MIN..=0 => Age::Primary,
            1 => Age::Victim,
            _ => Age::Expired,
        }
    }
}

/// The chain that holds values put at `generation`: the two chains of a
/// local alternate between primary and victim at every cleanup.
pub(crate) fn half(generation: usize) -> usize {
    generation & 1
}

/// What a put could not keep, for the caller to count and then drop once it
/// holds no borrow of the pool (its `Drop` may call back into the pool).
pub(crate) enum Leftover<T> {
    /// Everything was kept.
    None,
    /// Everything was kept; a victim-aged private value made room by moving
    /// onto the victim chain.
    MovedToVictim,
    /// A private value past two cleanups, displaced by the put.
    Expired(T),
    /// The put value itself, refused because the chain is at its bound.
    Refused(T),
}

/// What the private slot gave.
pub(crate) enum Taken<T> {
    /// Nothing of the wanted age.
    None,
    /// The private value, of the wanted age.
    Value(T),
    /// An expired private value, removed for the caller to drop.
    Expired(T),
}

/// One thread's private slot and chains.
///
/// # Invariants
///
/// - L1: `private` is read and written only by the owner of this local's
///   thread index, or by a cleanup that holds the thread registry's lock
///   while no thread owns that index (`thread_index` R3).
/// - L2: the owner is the single producer of both chains; any thread pops
///   their tails.
/// - L3: `chains[half(g)]` receives values put at generation `g`. A cleanup
///   moving the pool from `g` to `g + 1` first drains `chains[half(g + 1)]`,
///   so values age from primary to victim to dropped.
/// - L4: every push onto `chains[h]` that goes into an empty ring is
///   followed by `summary.mark(h)`; `steal` clears the bit only after
///   finding the chain empty, then looks again (the summary's S2-S4).
pub(crate) struct Local<T> {
    private: UnsafeCell<PrivateSlot<T>>,
    chains: [RawChain<T>; 2],
    /// This local's bit in the pool's summary of non-empty chains.
    summary: Bit,
    /// Written by the owner only (see `Counters`' C1).
    pub(crate) counters: Counters,
}

impl<T> Local<T> {
    pub(crate) fn new(first_capacity: usize, summary: Bit) -> Self {
        Local {
            private: UnsafeCell::new(PrivateSlot::empty()),
            chains: [RawChain::new(first_capacity), RawChain::new(first_capacity)],
            summary,
            counters: Counters::new(),
        }
    }

    /// Puts `value` into the private slot if it is free (Go's Put, first
    /// step); hands it back otherwise.
    ///
    /// # Safety
    ///
    /// The caller owns this local (L1).
    #[inline]
    pub(crate) unsafe fn fill_private(&self, value: T, generation: usize) -> Result<(), T> {
        // SAFETY: L1; the closure moves values only and calls no user code.
        self.private.with_mut(|slot| unsafe {
            if (*slot).stamp().is_some() {
                return Err(value);
            }
            (*slot).fill(value, generation);
            Ok(())
        })
    }

    /// Go's Put, second step, when the private slot is occupied: onto the
    /// primary chain. A victim-aged private value moves to the victim chain
    /// to make room; an expired one is handed back for the caller to drop. A
    /// value bound for a primary chain that already holds `max_chain` values
    /// is refused.
    ///
    /// # Safety
    ///
    /// The caller owns this local (L1, L2).
    #[inline]
    pub(crate) unsafe fn put_behind_private(
        &self,
        value: T,
        generation: usize,
        max_chain: usize,
    ) -> Leftover<T> {
        enum Spill<T> {
            Push(T, usize),
            PushVictim(T, usize),
            Expired(T),
        }
        // SAFETY: L1; the closure moves values only and calls no user code.
        let spill = self.private.with_mut(|slot| unsafe {
            let stamp = (*slot)
                .stamp()
                .expect("`fill_private` found the slot occupied");
            match Age::of(stamp, generation) {
                Age::Primary => Spill::Push(value, half(generation)),
                Age::Victim => Spill::PushVictim((*slot).swap(value, generation), half(stamp)),
                Age::Expired => Spill::Expired((*slot).swap(value, generation)),
            }
        });
        let (value, half, kept) = match spill {
            Spill::Push(value, half) => (value, half, Leftover::None),
            Spill::PushVictim(value, half) => (value, half, Leftover::MovedToVictim),
            Spill::Expired(value) => return Leftover::Expired(value),
        };
        // The bound is opt-in: measuring the chain pins the epoch.
        if max_chain != usize::MAX && self.chains[half].len() >= max_chain {
            return Leftover::Refused(value);
        }
        // SAFETY: L2: the caller owns this local.
        unsafe { self.push(half, value) };
        kept
    }

    /// Takes the private value if it is primary; an expired private value
    /// is removed too, for the caller to drop. A victim-aged value stays.
    ///
    /// # Safety
    ///
    /// The caller owns this local (L1).
    #[inline(always)]
    pub(crate) unsafe fn take_private(&self, generation: usize) -> Taken<T> {
        // SAFETY: L1; the closure moves values only.
        self.private.with_mut(|slot| unsafe {
            let Some(stamp) = (*slot).stamp() else {
                return Taken::None;
            };
            match Age::of(stamp, generation) {
                Age::Primary => Taken::Value((*slot).empty_out()),
                Age::Expired => Taken::Expired((*slot).empty_out()),
                Age::Victim => Taken::None,
            }
        })
    }

    /// Takes the private value only if it has age `wanted`; any other value
    /// stays in place.
    ///
    /// # Safety
    ///
    /// The caller owns this local (L1).
    pub(crate) unsafe fn take_private_aged(&self, generation: usize, wanted: Age) -> Option<T> {
        // SAFETY: L1; the closure moves values only and drops none.
        self.private.with_mut(|slot| unsafe {
            if Age::of((*slot).stamp()?, generation) != wanted {
                return None;
            }
            Some((*slot).empty_out())
        })
    }

    /// Takes the private value unless it is expired (which stays in place),
    /// with its age.
    ///
    /// # Safety
    ///
    /// The caller owns this local (L1).
    pub(crate) unsafe fn take_private_unexpired(&self, generation: usize) -> Option<(T, Age)> {
        // SAFETY: L1; the closure moves values only and drops none.
        self.private.with_mut(|slot| unsafe {
            let age = Age::of((*slot).stamp()?, generation);
            if age == Age::Expired {
                return None;
            }
            Some(((*slot).empty_out(), age))
        })
    }

    /// Pops the newest primary value of the own chain (Go: `shared.popHead`).
    ///
    /// # Safety
    ///
    /// The caller owns this local (L2).
    pub(crate) unsafe fn pop_own(&self, generation: usize) -> Option<T> {
        // SAFETY: forwarded from the caller.
        unsafe { self.chains[half(generation)].pop_head() }
    }

    /// Pushes `value` onto `chains[half]` (Go: `shared.pushHead`), and
    /// marks the chain in the summary if the value went into an empty ring
    /// (L4): one read-modify-write more, only when a ring fills from empty.
    ///
    /// # Safety
    ///
    /// The caller owns this local (L2).
    #[inline]
    pub(crate) unsafe fn push(&self, half: usize, value: T) {
        // SAFETY: forwarded from the caller.
        if unsafe { self.chains[half].push_head(value) } {
            self.summary.mark(half);
        }
    }

    /// Steals the oldest value of the chain for `generation`. A chain found
    /// empty has its summary bit cleared, and is looked at once more after
    /// the clear (L4): a push whose mark came before the clear is seen by
    /// that look, and one after it has set the bit again.
    #[inline]
    pub(crate) fn steal(&self, generation: usize, guard: &epoch::Guard) -> Option<T> {
        let half = half(generation);
        let chain = &self.chains[half];
        if let Some(value) = chain.pop_tail(guard) {
            return Some(value);
        }
        self.summary.clear(half);
        let value = chain.pop_tail(guard)?;
        // More may follow the value just found: keep the chain visible.
        self.summary.remark(half);
        Some(value)
    }
}

impl<T> Drop for Local<T> {
    /// Empties the private slot and both chains one after another, so a
    /// panicking `Drop` in one part neither leaks the others nor, by
    /// panicking again while unwinding, aborts; the first panic propagates.
    fn drop(&mut self) {
        let Local {
            private, chains, ..
        } = self;
        let [first, second] = chains;
        for_each_despite_panics(0..3, |part| match part {
            // SAFETY: `&mut self`: no thread can own or touch the slot (L1).
            0 => drop(private.with_mut(|slot| unsafe { (*slot).take() })),
            1 => first.clear(),
            _ => second.clear(),
        });
    }
}

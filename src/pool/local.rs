//! One thread's share of a pool (Go: `poolLocal`).

use super::paired_moves::{Direction, PairedMoves};
use super::private_slot::{LentSlot, Look, PrivateSlot};
use super::stats::{Event, OwnedCounters};
use super::summary::{Bit, PRIVATE_SLOTS};
use crate::chain::{Growth, RawChain};
use crate::dequeue::PairRoom;
use crate::sync::epoch;
use crate::unwind::for_each_despite_panics;
use std::mem::MaybeUninit;

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

/// Where the private slot leaves room for a put, decided before the value
/// moves: a value wrapped in an enum was stored into the slot in other
/// pieces than `take` reads it back in, which misses store-to-load
/// forwarding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Room {
    /// EMPTY, listed and unmarked: [`Local::fill_private`] takes the value.
    Private,
    /// The slot holds a primary value, or is lent: the value goes onto
    /// the primary chain.
    Primary,
    /// The slot holds a value put before the last cleanup, which the put
    /// may displace ([`Local::overflow`]).
    Aged,
    /// A cleanup's drain is about, or has left the slot unsettled: the slow
    /// path settles it and decides again ([`Local::private_room_settled`]).
    Unsettled,
}

/// Where a put goes when the private slot does not take its value.
pub(crate) enum Overflow<T> {
    /// Onto the chain `half`; `moved` if this is a victim-aged private
    /// value that made room for the put.
    Chain { value: T, half: usize, moved: bool },
    /// An expired private value displaced by the put, to drop.
    Expired(T),
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

/// What a loan from the private slot gave.
pub(crate) enum Loan<T> {
    /// Nothing to lend: empty, lent already, not primary, or held up by a
    /// cleanup's drain.
    None,
    /// The private value, lent in place.
    Lent(LentSlot<T>),
    /// An expired private value, removed for the caller to drop.
    Expired(T),
}

/// One thread's private slot and chains.
///
/// # Invariants
///
/// - L1: `private` follows its own protocol (`private_slot` P1-P5); its
///   accessor is the owner of this local's thread index, or a thread
///   acting for an index no thread owns while it holds the thread
///   registry's lock (`thread_index` R3).
/// - L2: the owner is the single producer of both chains; any thread pops
///   their tails.
/// - L3: `chains[half(g)]` receives values put at generation `g`. A cleanup
///   moving the pool from `g` to `g + 1` first drains `chains[half(g + 1)]`,
///   so values age from primary to victim to dropped.
/// - L4: every push onto `chains[h]` that goes into an empty ring is
///   followed by `summary.mark(h)`; `steal` clears the bit only after
///   finding the chain empty, then looks again (the summary's S2-S4).
/// - L5: `moves` is the owner's alone (`paired_moves` M1): planned before
///   each put's push and each take's pop on the primary chain, recorded
///   after each that moved a value.
/// - L6: the private slot's bit in the summary's set `PRIVATE_SLOTS`
///   follows `private_slot`'s P7: the owner marks it before listing an
///   unlisted slot, and after a fill that reports a racing unlisting; a
///   cleanup clears it after draining or unlisting the slot.
pub(crate) struct Local<T> {
    private: PrivateSlot<T>,
    chains: [RawChain<T>; 2],
    /// Written by the owner only (see `Counters`' C1).
    pub(crate) counters: OwnedCounters,
    moves: PairedMoves,
}

impl<T> Local<T> {
    pub(crate) fn new() -> Self {
        Local {
            private: PrivateSlot::empty(),
            chains: [RawChain::new(), RawChain::new()],
            counters: OwnedCounters::new(),
            moves: PairedMoves::new(),
        }
    }

    /// Counts a loan from the private slot: a get, and its put at once
    /// (`Counters` C2). The owner only (C1).
    #[inline(always)]
    pub(crate) fn count_loan(&self) {
        self.counters.bump_owned(Event::Loan, 1);
    }

    /// The private slot, for a cleanup's drain (`want_if_full`, then
    /// `drain_if` or `unwant`).
    pub(crate) fn private(&self) -> &PrivateSlot<T> {
        &self.private
    }

    /// Go's Put, first step: whether the private slot takes the put
    /// ([`Room::Private`], then [`fill_private`](Self::fill_private)), and
    /// if not, why: it holds an aged value (for
    /// [`overflow`](Self::overflow) to move out), a primary value or a
    /// loan (the value goes onto the primary chain), or a cleanup's drain
    /// holds it up (the slow path settles it and decides again).
    ///
    /// # Safety
    ///
    /// The caller is the slot's accessor (L1).
    #[inline(always)]
    pub(crate) unsafe fn private_room(&self, generation: usize) -> Room {
        // SAFETY: forwarded from the caller.
        let access = unsafe { self.private.enter() };
        // An overflow put's case first: one compare.
        if access.is_full_at(generation) {
            return Room::Primary;
        }
        match access.look_as_is() {
            Look::Empty if access.may_fill() => Room::Private,
            Look::Empty | Look::Claimed => Room::Unsettled,
            Look::Full(stamp) if Age::of(stamp, generation) != Age::Primary => Room::Aged,
            _ => Room::Primary,
        }
    }

    /// Whether the private slot is FULL with a value put at `generation`.
    ///
    /// # Safety
    ///
    /// The caller is the slot's accessor (L1).
    #[inline(always)]
    pub(crate) unsafe fn private_is_full_at(&self, generation: usize) -> bool {
        // SAFETY: forwarded from the caller.
        unsafe { self.private.enter() }.is_full_at(generation)
    }

    /// Moves the private value, just found FULL at `generation`, into
    /// `out`; false if a drainer is about, and then the caller calls
    /// [`private_claim_met_drainer`](Self::private_claim_met_drainer) next.
    ///
    /// # Safety
    ///
    /// The caller is the slot's accessor (L1), and its last look at the
    /// slot found it FULL at `generation`.
    #[inline(always)]
    pub(crate) unsafe fn take_private_seen_full(
        &self,
        generation: usize,
        out: &mut MaybeUninit<T>,
    ) -> bool {
        // SAFETY: forwarded from the caller.
        unsafe { self.private.enter().take_seen_full_alone(generation, out) }
    }

    /// The rest of a claim that met a drainer.
    ///
    /// # Safety
    ///
    /// As for [`take_private_seen_full`](Self::take_private_seen_full),
    /// which just returned false.
    pub(crate) unsafe fn private_claim_met_drainer(&self, generation: usize) {
        // SAFETY: forwarded from the caller.
        unsafe { self.private.enter() }.claim_met_drainer(generation);
    }

    /// Two free slots at the head of `chains[half]`, if its head ring has
    /// them: room for a paired push with one read-modify-write.
    ///
    /// # Safety
    ///
    /// The caller owns this local (L2), and pushes into the room before
    /// any other push or pop of its own.
    #[inline(always)]
    pub(crate) unsafe fn pair_room(&self, half: usize) -> Option<PairRoom<'_, T>> {
        // SAFETY: forwarded from the caller.
        unsafe { self.chains[half].head_pair_room() }
    }

    /// Whether the private slot is EMPTY, listed and unmarked (what
    /// [`private_room`](Self::private_room) calls [`Room::Private`]):
    /// `put`'s fast path, two loads of the local's own line;
    /// [`fill_private`](Self::fill_private) may follow. Anything else goes
    /// through `private_room`, out of line.
    ///
    /// # Safety
    ///
    /// The caller is the slot's accessor (L1).
    #[inline(always)]
    pub(crate) unsafe fn private_is_listed_empty(&self) -> bool {
        // SAFETY: forwarded from the caller.
        unsafe { self.private.enter() }.is_listed_empty()
    }

    /// [`private_room`](Self::private_room) after settling the slot, and
    /// listing an empty slot that a cleanup unlisted (marking `bit` first,
    /// L6); a slot that a drain still holds up counts as occupied by a
    /// primary value.
    ///
    /// # Safety
    ///
    /// The caller is the slot's accessor (L1), and `bit` gives this
    /// local's bits.
    #[cold]
    #[inline(never)]
    pub(crate) unsafe fn private_room_settled(
        &self,
        generation: usize,
        bit: impl FnOnce() -> Bit,
    ) -> Room {
        // SAFETY: forwarded from the caller.
        let access = unsafe { self.private.enter() };
        access.settle();
        if access.look_as_is() == Look::Empty && access.is_unlisted() {
            bit().mark(PRIVATE_SLOTS);
            // A drainer that marks the slot meanwhile makes it occupied
            // for this put (below); the bit stays set, which costs a
            // cleanup one look.
            let _listed = access.list();
        }
        // SAFETY: forwarded from the caller.
        match unsafe { self.private_room(generation) } {
            Room::Unsettled => Room::Primary,
            room => room,
        }
    }

    /// Stores a put's value into the private slot, stamped `generation`.
    /// Returns whether the caller must call
    /// [`relist_private`](Self::relist_private): a cleanup's unlisting may
    /// have raced the fill (L6).
    ///
    /// # Safety
    ///
    /// The caller is the slot's accessor (L1), and
    /// [`private_room`](Self::private_room) (or its settled form) just said
    /// [`Room::Private`].
    #[inline(always)]
    #[must_use = "a fill that a cleanup's unlisting raced must relist the slot"]
    pub(crate) unsafe fn fill_private(&self, value: T, generation: usize) -> bool {
        // SAFETY: forwarded from the caller, who found the slot EMPTY and
        // listed.
        unsafe { self.private.enter().fill_listed(value, generation) }
    }

    /// Lists the private slot again after a fill that a cleanup's
    /// unlisting may have raced (L6).
    ///
    /// # Safety
    ///
    /// The caller is the slot's accessor (L1), and `bit` is this local's.
    #[cold]
    #[inline(never)]
    pub(crate) unsafe fn relist_private(&self, bit: &Bit) {
        bit.mark(PRIVATE_SLOTS);
        // SAFETY: forwarded from the caller.
        unsafe { self.private.enter() }.acknowledge_unlisting();
    }

    /// [`take_private`](Self::take_private) for the take paths past the
    /// fast path: a slot that a cleanup's drain left CLAIMED, which
    /// `take_private` reads as empty, is settled (see `private_slot`'s
    /// `Access::settle`) and looked at once more.
    ///
    /// # Safety
    ///
    /// The caller is the slot's accessor (L1).
    #[inline]
    pub(crate) unsafe fn take_private_settling(&self, generation: usize) -> Taken<T> {
        // SAFETY: forwarded from the caller.
        let access = unsafe { self.private.enter() };
        // An overflow take's case first: one compare (an EMPTY slot has
        // nothing to take or settle).
        if access.is_empty() {
            return Taken::None;
        }
        // SAFETY: forwarded from the caller.
        let taken = unsafe { self.take_private(generation) };
        if !matches!(taken, Taken::None) || access.look_as_is() != Look::Claimed {
            return taken;
        }
        // SAFETY: forwarded from the caller.
        unsafe { self.take_private_settled(generation) }
    }

    /// `take_private` once the slot is settled, for a slot found CLAIMED.
    ///
    /// # Safety
    ///
    /// The caller is the slot's accessor (L1).
    #[cold]
    #[inline(never)]
    unsafe fn take_private_settled(&self, generation: usize) -> Taken<T> {
        // SAFETY: forwarded from the caller.
        unsafe { self.private.enter() }.settle();
        // SAFETY: forwarded from the caller.
        unsafe { self.take_private(generation) }
    }

    /// Where a put goes that the private slot refused: the primary chain;
    /// or, when the private value has aged, that value moves out (to the
    /// victim chain, or to be dropped if expired) and the put takes its
    /// place. A slot that is lent, or held up by a cleanup's drain, counts
    /// as occupied by a primary value.
    ///
    /// # Safety
    ///
    /// The caller is the slot's accessor (L1).
    #[cold]
    #[inline(never)]
    pub(crate) unsafe fn overflow(&self, value: T, generation: usize) -> Overflow<T> {
        let primary = half(generation);
        let chain = |value| Overflow::Chain {
            value,
            half: primary,
            moved: false,
        };
        // SAFETY: forwarded from the caller.
        let access = unsafe { self.private.enter() };
        let stamp = match access.look() {
            // Emptied meanwhile: only by a draining cleanup, as this thread
            // is the accessor; the chain is as good a place.
            Look::Empty | Look::Lent | Look::Claimed => return chain(value),
            Look::Full(stamp) => stamp,
        };
        let age = Age::of(stamp, generation);
        if age == Age::Primary {
            return chain(value);
        }
        // SAFETY: the slot was FULL at `stamp` just above.
        let old = match unsafe { access.swap(value, stamp, generation) } {
            Ok(old) => old,
            Err(value) => return chain(value),
        };
        match age {
            Age::Victim => Overflow::Chain {
                value: old,
                half: half(stamp),
                moved: true,
            },
            _ => Overflow::Expired(old),
        }
    }

    /// How many values `chains[half]` holds (pins the epoch).
    pub(crate) fn chain_len(&self, half: usize) -> usize {
        self.chains[half].len()
    }

    /// Moves the private value into `out` if it was put at this
    /// generation: `take`'s fast path. Anything else (empty, lent, aged,
    /// held up by a drain) gives false and leaves the slot as it was, for
    /// [`take_private`](Self::take_private) on the slow path to sort out.
    ///
    /// # Safety
    ///
    /// The caller is the slot's accessor (L1).
    #[inline(always)]
    pub(crate) unsafe fn take_primary(&self, generation: usize, out: &mut MaybeUninit<T>) -> bool {
        // SAFETY: forwarded from the caller.
        unsafe { self.private.enter() }.take_if_put_at(generation, out)
    }

    /// Takes the private value if it is primary; an expired private value
    /// is removed too, for the caller to drop. A victim-aged value stays.
    ///
    /// # Safety
    ///
    /// The caller is the slot's accessor (L1).
    #[inline(always)]
    pub(crate) unsafe fn take_private(&self, generation: usize) -> Taken<T> {
        // SAFETY: forwarded from the caller.
        let access = unsafe { self.private.enter() };
        // As is: a slot that a drain left CLAIMED reads as empty here; the
        // slow paths settle it (`take_private_settling`).
        let Look::Full(stamp) = access.look_as_is() else {
            return Taken::None;
        };
        let age = Age::of(stamp, generation);
        if age == Age::Victim {
            return Taken::None;
        }
        // SAFETY: the slot was FULL at `stamp` just above.
        let Some(value) = (unsafe { access.take(stamp) }) else {
            return Taken::None;
        };
        match age {
            Age::Primary => Taken::Value(value),
            _ => Taken::Expired(value),
        }
    }

    /// Lends the private value in place if it is primary; an expired private
    /// value is removed, for the caller to drop.
    ///
    /// # Safety
    ///
    /// The caller is the slot's accessor (L1).
    #[inline(always)]
    pub(crate) unsafe fn lend_private(&self, generation: usize) -> Loan<T> {
        // SAFETY: forwarded from the caller.
        let access = unsafe { self.private.enter() };
        let Some(stamp) = access.full_stamp() else {
            return Loan::None;
        };
        let loan = match Age::of(stamp, generation) {
            // SAFETY: the slot was FULL at `stamp` just above.
            Age::Primary => unsafe { access.lend(stamp) }.map(Loan::Lent),
            // SAFETY: as above.
            Age::Expired => unsafe { access.take(stamp) }.map(Loan::Expired),
            Age::Victim => None,
        };
        loan.unwrap_or(Loan::None)
    }

    /// Lends the private value if it is primary; anything else (empty,
    /// lent, held up by a drain, aged) gives `None` and leaves the slot as
    /// it was, for [`lend_private`](Self::lend_private) on the slow path to
    /// sort out.
    ///
    /// # Safety
    ///
    /// The caller is the slot's accessor (L1).
    #[inline(always)]
    pub(crate) unsafe fn lend_primary(&self, generation: usize) -> Option<LentSlot<T>> {
        // Primary means put at this generation (a later stamp, from a give
        // back that saw a newer generation, takes the slow path).
        // SAFETY: forwarded from the caller.
        unsafe { self.private.enter() }.lend_if_put_at(generation)
    }

    /// Takes the private value only if it has age `wanted`; any other value
    /// stays in place.
    ///
    /// # Safety
    ///
    /// The caller is the slot's accessor (L1).
    pub(crate) unsafe fn take_private_aged(&self, generation: usize, wanted: Age) -> Option<T> {
        // SAFETY: forwarded from the caller.
        unsafe { self.private.enter() }.take_if(|stamp| Age::of(stamp, generation) == wanted)
    }

    /// Unlists an empty private slot of an index no thread holds (L6).
    ///
    /// # Safety
    ///
    /// The caller is the one cleanup and acts as the slot's accessor: it
    /// holds the thread registry's lock and no thread holds the local's
    /// index (L1); `bit` is this local's.
    pub(crate) unsafe fn unlist_private_as_owner(&self, bit: &Bit) {
        // SAFETY: forwarded from the caller.
        unsafe { self.private.unlist_as_accessor(|| bit.clear(PRIVATE_SLOTS)) }
    }

    /// Takes the private value unless it is expired (which stays in place),
    /// with its age.
    ///
    /// # Safety
    ///
    /// The caller is the slot's accessor (L1).
    pub(crate) unsafe fn take_private_unexpired(&self, generation: usize) -> Option<(T, Age)> {
        // SAFETY: forwarded from the caller.
        let access = unsafe { self.private.enter() };
        let stamp = access.full_stamp()?;
        let age = Age::of(stamp, generation);
        if age == Age::Expired {
            return None;
        }
        // SAFETY: the slot was FULL at `stamp` just above.
        Some((unsafe { access.take(stamp) }?, age))
    }

    /// Pops the newest primary value of the own chain (Go: `shared.popHead`)
    /// into `newest`, and the next one into `next` with the same
    /// read-modify-write when the owner's runs say the takes go on (L5) and
    /// the private slot has room for it (the caller moves it there).
    /// Returns how many it wrote, `newest` first: 0, 1 or 2.
    ///
    /// # Safety
    ///
    /// The caller owns this local (L1, L2, L5).
    // Always inline: as a call, with its out-parameters on the stack, an
    // overflow put and take ran 191 instructions instead of 184.
    #[inline(always)]
    pub(crate) unsafe fn pop_own(
        &self,
        generation: usize,
        newest: &mut MaybeUninit<T>,
        next: &mut MaybeUninit<T>,
    ) -> usize {
        let chain = &self.chains[half(generation)];
        // SAFETY: forwarded from the caller (planned first: every pop is
        // planned, paired or not).
        let pair = unsafe { self.moves.plan(Direction::Take) }
            // SAFETY: forwarded from the caller.
            && unsafe { self.private_is_listed_empty() };
        let popped = if pair {
            // SAFETY: forwarded from the caller.
            unsafe { chain.pop_head_pair_into(newest, next) }
        } else {
            // SAFETY: forwarded from the caller.
            match unsafe { chain.pop_head() } {
                Some(value) => {
                    newest.write(value);
                    1
                }
                None => 0,
            }
        };
        // SAFETY: forwarded from the caller.
        unsafe { self.moves.record(popped) };
        popped
    }

    /// An overflow take's common case of
    /// [`take_private_settling`](Self::take_private_settling) then
    /// [`pop_own`](Self::pop_own): the
    /// slot is EMPTY, listed and unmarked, the runs say pair, and the head
    /// ring holds two values; pops them, `newest` first. Returns whether it
    /// did. If not, those two run as if it had not: it wrote nothing but
    /// what their own plan writes all the same (a plan writes only when the
    /// direction changes or it cuts a long run's progress back, and
    /// planning again changes nothing).
    ///
    /// # Safety
    ///
    /// The caller owns this local (L1, L2, L5).
    #[inline(always)]
    pub(crate) unsafe fn pop_own_pair(
        &self,
        generation: usize,
        newest: &mut MaybeUninit<T>,
        next: &mut MaybeUninit<T>,
    ) -> bool {
        // SAFETY: forwarded from the caller.
        if !unsafe { self.private_is_listed_empty() && self.moves.plan(Direction::Take) } {
            return false;
        }
        // SAFETY: forwarded from the caller.
        if !unsafe { self.chains[half(generation)].try_pop_head_pair_into(newest, next) } {
            return false;
        }
        // SAFETY: forwarded from the caller.
        unsafe { self.moves.record(2) };
        true
    }

    /// Starts a put's push onto the primary chain (L5): whether to push
    /// the private slot's value with it.
    ///
    /// # Safety
    ///
    /// The caller owns this local (L5).
    #[inline]
    pub(crate) unsafe fn plan_push(&self) -> bool {
        // SAFETY: forwarded from the caller.
        unsafe { self.moves.plan(Direction::Put) }
    }

    /// Records a planned push that moved `moved` values, 0 if it dropped
    /// the value (L5).
    ///
    /// # Safety
    ///
    /// The caller owns this local (L5).
    #[inline]
    pub(crate) unsafe fn record_push(&self, moved: usize) {
        // SAFETY: forwarded from the caller.
        unsafe { self.moves.record(moved) }
    }

    /// Pushes `value` onto `chains[half]` (Go: `shared.pushHead`), growing
    /// as `growth` says, and marks the chain with `bit` (this local's bit
    /// in the summary, asked for only then) if the value went into an empty
    /// ring (L4): one read-modify-write more, only when a ring fills from
    /// empty. Returns whether it did (a new ring always starts empty).
    ///
    /// # Safety
    ///
    /// The caller owns this local (L2).
    #[inline]
    pub(crate) unsafe fn push(
        &self,
        half: usize,
        value: T,
        growth: Growth<'_>,
        bit: impl FnOnce() -> Bit,
    ) -> bool {
        // SAFETY: forwarded from the caller.
        let into_empty = unsafe { self.chains[half].push_head(value, growth) };
        if into_empty {
            bit().mark(half);
        }
        into_empty
    }

    /// Pushes `older`, then `newer`, onto `chains[half]`, as
    /// [`push`](Self::push) does one value: one read-modify-write when the
    /// head ring has room for both.
    ///
    /// # Safety
    ///
    /// The caller owns this local (L2).
    #[inline]
    pub(crate) unsafe fn push_pair(
        &self,
        half: usize,
        older: T,
        newer: T,
        growth: Growth<'_>,
        bit: impl FnOnce() -> Bit,
    ) -> bool {
        // SAFETY: forwarded from the caller.
        let into_empty = unsafe { self.chains[half].push_head_pair(older, newer, growth) };
        if into_empty {
            bit().mark(half);
        }
        into_empty
    }

    /// Steals the oldest value of the chain for `generation`. A chain found
    /// empty has its summary bit cleared, and is looked at once more after
    /// the clear (L4): a push whose mark came before the clear is seen by
    /// that look, and one after it has set the bit again.
    /// `bit` is this local's bit in the summary.
    #[inline(never)]
    pub(crate) fn steal(&self, generation: usize, guard: &epoch::Guard, bit: &Bit) -> Option<T> {
        let half = half(generation);
        let chain = &self.chains[half];
        if let Some(value) = chain.pop_tail(guard) {
            return Some(value);
        }
        bit.clear(half);
        let value = chain.pop_tail(guard)?;
        // More may follow the value just found: keep the chain visible.
        bit.remark(half);
        Some(value)
    }
}

impl<T> Local<T> {
    /// Frees the rings of both chains if they hold nothing; returns whether
    /// neither holds a ring now.
    ///
    /// # Safety
    ///
    /// The caller acts as the owner (L2): it holds the thread registry's
    /// lock and no thread holds this local's index (`thread_index` R3).
    pub(crate) unsafe fn release_empty_chains(&self, pinned: &mut Option<epoch::Guard>) -> bool {
        let mut none_left = true;
        for chain in &self.chains {
            // SAFETY: forwarded from the caller (the chains' producer).
            none_left &= unsafe { chain.release_if_empty(pinned) };
        }
        none_left
    }

    /// The slots of the rings of both chains.
    pub(crate) fn ring_slots(&self) -> usize {
        self.chains.iter().map(RawChain::ring_slots).sum()
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
            0 => drop(private.take_exclusive()),
            1 => first.clear(),
            _ => second.clear(),
        });
    }
}

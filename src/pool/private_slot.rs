//! A thread's private slot (Go: `poolLocalInternal.private`) and its
//! protocol: the owner fills and empties it with plain loads and stores,
//! `get` lends its value in place, and a cleanup may drain the value of an
//! idle owner.
//!
//! ```text
//!            fill (owner)            lend (owner)
//!   EMPTY ----------------> FULL ----------------> LENT
//!     ^  <----------------   ^  <----------------   |
//!     |   take (owner, through   give back (the     |
//!     |   CLAIMED; or a drainer) loan's holder)     |
//!     +---------------------------------------------+
//!              take back (the loan's holder)
//! ```
//!
//! Three parties, and no atomic read-modify-write on the owner's side:
//!
//! - The **accessor**: the owner of the local's thread index (or, for an
//!   index no thread holds, a thread acting for it under the thread
//!   registry's lock), through an [`Access`]. It fills an EMPTY slot, and
//!   leaves FULL only by a *claim*: it stores the new state (LENT for a
//!   lend, CLAIMED for a take), runs the light side of the asymmetric fence
//!   and loads `drain`. If a drainer is about, the claim has failed: the
//!   slot stays CLAIMED, untouched, until [`settle`](PrivateSlot::settle)
//!   learns whether the drainer took the value.
//! - The **holder of a loan** ([`LentSlot`], inside a pool guard), on any
//!   thread: while the slot is LENT it alone touches the value, and it
//!   moves the slot out of LENT with a Release store.
//! - A **drainer** (a cleanup): it marks `drain` ACTIVE, runs the heavy
//!   side of the fence, and takes a FULL value with a compare-and-swap to
//!   EMPTY, leaving `drain` TOOK for the accessor to acknowledge.
//!
//! The claim store and the drainer's mark are Dekker's pair: with both
//! fences, either the drainer's compare-and-swap sees the claim (and
//! fails), or the accessor sees the mark (and stays out of the value).
//! The claim is the state store the accessor makes anyway, so a lend and
//! its give-back are one store each.
//!
//! A cleanup visits only *listed* slots (the summary's set of private
//! slots), and `drain` says whether the slot is listed: IDLE is listed,
//! UNLISTED is not. The accessor lists its slot before filling it, and a
//! fill of a listed slot costs it no read-modify-write: a cleanup that
//! unlists an empty slot marks `drain` first, and the fill looks at `drain`
//! again after its FULL store, the same Dekker pair as a claim (P7).

use crate::sync::{asymmetric_fence, AtomicUsize, Ordering, UnsafeCell};
use crate::word_copy;
use std::mem::MaybeUninit;
use std::ptr::NonNull;

// The state word: the state in the low two bits and, while FULL or
// CLAIMED, the stamp (the generation the value was put in) above them, so
// one load tells "full and put at this generation" and one store gives a
// value back.
const EMPTY: usize = 0;
const FULL: usize = 1;
const LENT: usize = 2;
const CLAIMED: usize = 3;
const STATE_BITS: u32 = 2;
const STATE_MASK: usize = (1 << STATE_BITS) - 1;

// The drain word, written by the drainer except for the accessor's
// acknowledgement of TOOK (P3).
const IDLE: usize = 0;
const ACTIVE: usize = 1;
const TOOK: usize = 2;
/// No drainer is about and the slot is not listed (P7): a new slot, one
/// whose drained value the accessor acknowledged, or one a drainer unlisted.
const UNLISTED: usize = 3;

/// The state word of a FULL slot whose value was put at `stamp`. A stamp
/// keeps the generation's low 62 bits, which equal the generation until a
/// pool's 2^62nd cleanup (146 years at one cleanup per nanosecond).
#[inline(always)]
fn full_at(stamp: usize) -> usize {
    stamp << STATE_BITS | FULL
}

/// The state word of a slot claimed from `full_at(stamp)`.
#[inline(always)]
fn claimed_at(stamp: usize) -> usize {
    stamp << STATE_BITS | CLAIMED
}

/// The stamp of a FULL or CLAIMED state word, as a generation (see
/// [`full_at`]).
#[inline(always)]
fn stamp_of(word: usize) -> usize {
    word >> STATE_BITS
}

/// One optional value, its state and stamp in one word, and the word a
/// drainer marks.
///
/// The value is a `MaybeUninit<T>` beside a separate state, not an
/// `Option<(T, usize)>`: with the enum, the compiler wrote a `Vec` into the
/// slot word by word and read it back 16 bytes at a time, a load wider than
/// the stores it reads, which misses store-to-load forwarding.
///
/// # Invariants
///
/// - P1: `value` holds the accessor's value while `state` is FULL or
///   LENT, and while it is CLAIMED unless a drainer's swap took the value
///   (then `drain` is TOOK, or ACTIVE until the drainer has read it out).
///   While it is EMPTY it holds nothing the accessor may use: between a
///   drainer's swap and its TOOK, the drainer is reading the value out.
/// - P2: while `state` is EMPTY, FULL or CLAIMED, `value` and `state` are
///   written only by the accessor, except that a drainer may swap a FULL
///   word for EMPTY (and then owns the value). The accessor touches the
///   value only after a claim that saw `drain` IDLE, or to fill an EMPTY
///   slot after seeing `drain` IDLE. While the slot is LENT, only the
///   [`LentSlot`] touches `value` and moves `state` on.
/// - P3: `drain` is written by the drainer (drainers run one at a time,
///   under the pool's cleanup lock): IDLE or UNLISTED to ACTIVE by a
///   compare-and-swap, then ACTIVE to IDLE, TOOK or UNLISTED; and by the
///   accessor, TOOK to UNLISTED (a store: the drainer unlisted the slot)
///   and UNLISTED to IDLE (a compare-and-swap, as a drainer may mark it
///   meanwhile). Accessors follow one another through the thread-index
///   hand-off.
/// - P4 (Dekker): a claim that saw `drain` IDLE after its fence and a
///   drainer's compare-and-swap never both succeed on the same value: each
///   side stored before its fence and reads the other's word after it.
/// - P5: TOOK means the drainer took the value that the accessor last
///   filled, restored or got back from a loan: the accessor fills only
///   after acknowledging TOOK, a loan began with a claim that saw IDLE, and
///   a drainer marks a slot only from IDLE or UNLISTED (P3), never TOOK.
/// - P7 (listing): while the slot holds a value (FULL, LENT or CLAIMED) or
///   `drain` is IDLE, its bit in the summary's set of private slots is
///   set, or the accessor is between a fill and the mark that follows it,
///   or a drainer between its clear and its second look. The accessor
///   marks the bit before it turns UNLISTED into IDLE (listing the slot),
///   and after a fill whose look at `drain` (after its FULL store and the
///   light fence) is not IDLE. A drainer unlists an empty slot only after
///   its mark and the heavy fence: if `state` is then EMPTY it clears the
///   bit, looks at `state` again, and either sets the bit back (a fill got
///   in) and ends its mark IDLE, or ends it UNLISTED; it never writes
///   `state`. So either its look sees the fill's FULL, or the fill's look
///   sees ACTIVE or UNLISTED and marks (P4's argument). A drainer that
///   takes a value clears the bit before its TOOK, which the accessor
///   acknowledges as UNLISTED.
pub(crate) struct PrivateSlot<T> {
    state: AtomicUsize,
    drain: AtomicUsize,
    value: UnsafeCell<MaybeUninit<T>>,
}

/// What a drainer marked a slot for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Want {
    /// It looked FULL: take the value if it is expired.
    Drain,
    /// It looked EMPTY and listed: unlist it (P7).
    Unlist,
}

/// What an accessor sees in the slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Look {
    Empty,
    /// A value put at this generation.
    Full(usize),
    /// The value is on loan.
    Lent,
    /// A claim of this accessor (or of the one before it) met a drainer
    /// that has not finished: the value may be gone. Unavailable until the
    /// drainer ends and a later look settles it.
    Claimed,
}

impl Look {
    /// What a state word says.
    #[inline(always)]
    fn of(word: usize) -> Look {
        // FULL first: the common case of the paths that look.
        let state = word & STATE_MASK;
        if state == FULL {
            Look::Full(stamp_of(word))
        } else if state == EMPTY {
            Look::Empty
        } else if state == LENT {
            Look::Lent
        } else {
            Look::Claimed
        }
    }
}

impl<T> PrivateSlot<T> {
    pub(crate) fn empty() -> Self {
        PrivateSlot {
            state: AtomicUsize::new(EMPTY),
            drain: AtomicUsize::new(UNLISTED),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// Opens the slot for its accessor.
    ///
    /// # Safety
    ///
    /// The caller is the slot's accessor: it owns the local's thread index,
    /// or acts for an index no thread holds while holding the thread
    /// registry's lock (P3). It calls no user code while the access is open.
    #[inline(always)]
    pub(crate) unsafe fn enter(&self) -> Access<'_, T> {
        Access { slot: self }
    }

    /// Whether the value is on loan now (for statistics: a loan begun or
    /// ended concurrently may or may not be seen).
    pub(crate) fn is_lent(&self) -> bool {
        // Relaxed [loan-count]: coherence alone makes a loan that ended
        // before this call (in happens-before order) read as ended; no
        // memory is read on its strength.
        self.state.load(Ordering::Relaxed) == LENT
    }

    /// Marks the slot for a drainer if it looks FULL ([`Want::Drain`]) or
    /// EMPTY and listed ([`Want::Unlist`]), unless the accessor has not
    /// acknowledged an earlier take; otherwise returns `None` and the
    /// drainer leaves it alone (a LENT or CLAIMED slot keeps its listing,
    /// P7). The drainer then runs [`asymmetric_fence::heavy`] once for all
    /// the slots it marked, and calls [`drain_if`](Self::drain_if) or
    /// [`unlist_if_empty`](Self::unlist_if_empty) on each if that returned
    /// true, [`unwant`](Self::unwant) otherwise.
    ///
    /// While a slot is marked, its accessor's claims fail, so marking only
    /// the listed slots that may hold a value, or be unlisted, keeps other
    /// threads' gets undisturbed.
    pub(crate) fn want(&self) -> Option<Want> {
        // Relaxed [slot-hint]: a stale look only leaves an expired value,
        // or a listing, for the next cleanup; the take is a
        // compare-and-swap after the fence, and the unlisting looks again.
        let word = self.state.load(Ordering::Relaxed) & STATE_MASK;
        // Relaxed [slot-hint]: the compare-and-swap below decides.
        let drain = self.drain.load(Ordering::Relaxed);
        let want = match (word, drain) {
            (FULL, IDLE | UNLISTED) => Want::Drain,
            (EMPTY, IDLE) => Want::Unlist,
            _ => return None,
        };
        // Relaxed [slot-dekker]: ordered before the state's load in
        // `drain_if` and `unlist_if_empty` by the heavy fence (P4, P7). A
        // compare-and-swap, not a load and a store: it reads the latest
        // value, so the mark never overwrites a TOOK the accessor has not
        // acknowledged, nor lands before an acknowledgement in the word's
        // order (P3). The acknowledgements carry nothing we read.
        self.drain
            .compare_exchange(drain, ACTIVE, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
            .then_some(want)
    }

    /// Takes the value if the slot is FULL and `expired` holds for its
    /// stamp, and ends the drainer's mark. After a take the slot is not
    /// listed: `unlist` clears its bit before the accessor can see TOOK,
    /// which it acknowledges as UNLISTED (P7).
    ///
    /// # Safety
    ///
    /// The caller is the one drainer (P3); [`want`](Self::want) returned
    /// `Some`, then [`asymmetric_fence::heavy`] returned true.
    pub(crate) unsafe fn drain_if(
        &self,
        expired: impl FnOnce(usize) -> bool,
        unlist: impl FnOnce(),
    ) -> Option<T> {
        // Relaxed [slot-hint]: the compare-and-swap below decides.
        let word = self.state.load(Ordering::Relaxed);
        let full = word & STATE_MASK == FULL;
        // Acquire [slot-drain-take]: pairs with the Release that made the
        // slot FULL (a fill, a give-back or a restored claim), so the
        // value's writes are visible to our read. The store needs no
        // Release of its own: the heavy fence before it is a release
        // fence, so an accessor whose Acquire look reads this EMPTY also
        // sees our ACTIVE mark, and does not fill the slot while we read
        // the value out.
        let taken = full
            && expired(stamp_of(word))
            && self
                .state
                .compare_exchange(word, EMPTY, Ordering::Acquire, Ordering::Relaxed)
                .is_ok();
        if !taken {
            self.unwant();
            return None;
        }
        // SAFETY: P1 and P2: the swap from FULL made the value ours, and
        // the accessor does not fill while we are ACTIVE.
        let value = self.value.with_mut(|v| unsafe { (*v).assume_init_read() });
        unlist();
        // Release [slot-drained]: our read of the value (and the clear of
        // the slot's bit) happens-before the accessor's next fill, which
        // acknowledges TOOK with an Acquire before it lists the slot again.
        self.drain.store(TOOK, Ordering::Release);
        Some(value)
    }

    /// Unlists the slot if it is still EMPTY: calls `clear` (the bit),
    /// looks once more, and either calls `remark` and ends the mark IDLE
    /// (a fill got in: the slot stays listed) or ends it UNLISTED, so that
    /// a fill that raced the look sees ACTIVE or UNLISTED and marks the bit
    /// itself (P7). Never writes `state`. Returns whether it unlisted.
    ///
    /// # Safety
    ///
    /// As for [`drain_if`](Self::drain_if).
    pub(crate) unsafe fn unlist_if_empty(
        &self,
        clear: impl FnOnce(),
        remark: impl FnOnce(),
    ) -> bool {
        // Relaxed [slot-listing]: ordered after our mark by the heavy fence
        // (P7): if it misses a fill's FULL store, that fill's look at
        // `drain` after its light fence reads our ACTIVE or a later value.
        // Nothing is read through the slot.
        if self.state.load(Ordering::Relaxed) != EMPTY {
            self.unwant();
            return false;
        }
        clear();
        // Relaxed [slot-listing]: a fill whose mark our clear read (the
        // clear's Acquire, the mark's Release) happens-before this look, so
        // it sees that fill's FULL or a later state.
        if self.state.load(Ordering::Relaxed) != EMPTY {
            remark();
            self.unwant();
            return false;
        }
        // Relaxed [slot-listing]: a fill that reads UNLISTED marks the bit
        // whatever it saw before; it needs nothing from us.
        self.drain.store(UNLISTED, Ordering::Relaxed);
        true
    }

    /// Unlists the slot if it is EMPTY and listed, calling `clear` (the
    /// bit), for a thread that acts as its accessor while no accessor can
    /// run.
    ///
    /// # Safety
    ///
    /// The caller is the one drainer (P3) and the slot's accessor: it holds
    /// the thread registry's lock, and no thread holds the local's index.
    pub(crate) unsafe fn unlist_as_accessor(&self, clear: impl FnOnce()) {
        // Relaxed [slot-state]: the accessor's own words; the next accessor
        // reads them after the thread-index hand-off. A loan's holder may
        // write `state` meanwhile, but not while it is EMPTY.
        if self.state.load(Ordering::Relaxed) == EMPTY && self.drain.load(Ordering::Relaxed) == IDLE
        {
            // Relaxed [slot-state]: as above.
            self.drain.store(UNLISTED, Ordering::Relaxed);
            clear();
        }
    }

    /// Ends a drainer's mark without a take.
    pub(crate) fn unwant(&self) {
        // Relaxed [slot-unmark]: nothing was taken, so nothing is published;
        // an accessor that reads IDLE here restores or uses a value that is
        // still its own.
        self.drain.store(IDLE, Ordering::Relaxed);
    }

    /// Removes the value, held or lent, when nobody else can reach the slot.
    pub(crate) fn take_exclusive(&mut self) -> Option<T> {
        // Relaxed [exclusive]: `&mut self`; no other thread can reach it.
        let word = self.state.load(Ordering::Relaxed);
        // Relaxed [exclusive]: as above.
        let took = self.drain.load(Ordering::Relaxed) == TOOK;
        // Relaxed [exclusive]: as above.
        self.state.store(EMPTY, Ordering::Relaxed);
        // Relaxed [exclusive]: as above. Not listed: whoever uses the slot
        // next lists it first.
        self.drain.store(UNLISTED, Ordering::Relaxed);
        let held = match word & STATE_MASK {
            EMPTY => false,
            CLAIMED => !took,
            _ => true,
        };
        // SAFETY: P1; `&mut self`, and the state now says EMPTY, so the value
        // is read once. A LENT value here belonged to a forgotten guard,
        // which will never touch it again.
        held.then(|| unsafe { self.value.with_mut(|v| (*v).assume_init_read()) })
    }

    /// The state word, as the accessor reads it.
    #[inline(always)]
    fn state_word(&self) -> usize {
        // Acquire [slot-return]: pairs with the Release of a loan's holder
        // that gave the value back (or took it), maybe on another thread;
        // reading a drainer's swap to EMPTY, it synchronizes with the
        // drainer's heavy fence, a release fence (slot-dekker).
        self.state.load(Ordering::Acquire)
    }

    /// Claims the value of the slot, FULL at `stamp`, by storing the state
    /// word `claim` (LENT, or CLAIMED at `stamp`): whether no drainer is
    /// about (P4). If one is, the value must not be touched: the slot is
    /// left CLAIMED at `stamp`, settled at once if the drainer has finished
    /// and by a later slow path otherwise.
    ///
    /// # Safety
    ///
    /// The caller is the accessor and saw the slot FULL at `stamp`.
    #[inline(always)]
    unsafe fn claim(&self, claim: usize, stamp: usize) -> bool {
        // SAFETY: forwarded from the caller.
        if unsafe { self.claim_alone(claim) } {
            return true;
        }
        self.claim_failed(stamp);
        false
    }

    /// [`claim`](Self::claim) without its answer to a drainer: on false,
    /// the caller calls [`claim_failed`](Self::claim_failed) before
    /// anything else touches the slot (a put's paired push does, in a
    /// function of its own, so that its common path makes no call).
    ///
    /// # Safety
    ///
    /// As for `claim`.
    #[inline(always)]
    unsafe fn claim_alone(&self, claim: usize) -> bool {
        // Relaxed [slot-dekker]: ordered before the `drain` load below by
        // the asymmetric fence, not by its ordering (P4).
        self.state.store(claim, Ordering::Relaxed);
        asymmetric_fence::light();
        // Relaxed [slot-dekker]: IDLE, the only value we act on, was stored
        // before any mark we must see (P4), or by us, or by a drainer that
        // took nothing.
        self.drain.load(Ordering::Relaxed) == IDLE
    }

    /// A claim that met a drainer: the slot becomes CLAIMED at `stamp` (a
    /// failed lend stored LENT) and is settled at once if the drainer has
    /// finished, so that a TOOK is acknowledged before anything else.
    #[cold]
    #[inline(never)]
    fn claim_failed(&self, stamp: usize) {
        // Relaxed [slot-state]: our own later looks read it in program
        // order; the drainer's swap fails on it; the next accessor reads it
        // after the thread-index hand-off.
        self.state.store(claimed_at(stamp), Ordering::Relaxed);
        self.settle();
    }

    /// Settles the drainer's part after a failed claim or a take: if the
    /// drainer took the value (TOOK), the slot becomes EMPTY and TOOK is
    /// acknowledged; if it finished without (IDLE), a CLAIMED slot is FULL
    /// again with its stamp. Returns whether the drain is over (false
    /// while the drainer is ACTIVE).
    #[cold]
    #[inline(never)]
    fn settle(&self) -> bool {
        // Acquire [slot-drained]: pairs with the Release of TOOK, so the
        // drainer's read of the value happens-before our next fill.
        let drain = self.drain.load(Ordering::Acquire);
        // Relaxed [slot-state]: our own last store, or a drainer's swap to
        // EMPTY, which the TOOK we acquired orders before us.
        let word = self.state.load(Ordering::Relaxed);
        match drain {
            TOOK => {
                // Relaxed [slot-state]: the slot was EMPTY or CLAIMED; no
                // value is left to publish.
                self.state.store(EMPTY, Ordering::Relaxed);
                // Relaxed [slot-unmark]: the acknowledgement lets the next
                // drainer mark the slot; it publishes nothing (a drainer
                // takes only a value whose FULL store was a Release). Not
                // listed: the drainer cleared the bit before its TOOK (P7).
                self.drain.store(UNLISTED, Ordering::Relaxed);
                true
            }
            IDLE | UNLISTED => {
                if word & STATE_MASK != CLAIMED {
                    // An empty slot not listed is listed by the next fill.
                    return true;
                }
                // Relaxed [slot-unmark]: a claimed value is listed whatever
                // the mark says (P7: the fill that raced an unlisting
                // marked the bit); ending UNLISTED publishes nothing. A
                // compare-and-swap, as a drainer may mark it meanwhile (P3).
                if drain == UNLISTED
                    && self
                        .drain
                        .compare_exchange(UNLISTED, IDLE, Ordering::Relaxed, Ordering::Relaxed)
                        .is_err()
                {
                    return false;
                }
                // Release [slot-restore]: the value's writes (ours, or a
                // give-back we acquired) happen-before a drainer's swap of
                // this word.
                self.state.store(full_at(stamp_of(word)), Ordering::Release);
                true
            }
            _ => false,
        }
    }

    /// An accessor's look at a CLAIMED slot: settled if the drainer has
    /// finished.
    #[cold]
    #[inline(never)]
    fn look_settled(&self) -> Look {
        if !self.settle() {
            return Look::Claimed;
        }
        let word = self.state_word();
        debug_assert!(
            word & STATE_MASK != CLAIMED,
            "a settled claim is EMPTY or FULL"
        );
        Look::of(word)
    }

    /// Reads the value out of a slot this accessor claimed, leaving it
    /// EMPTY.
    ///
    /// # Safety
    ///
    /// A [`claim`](Self::claim) by this accessor succeeded and nothing has
    /// moved the slot on since.
    #[inline(always)]
    unsafe fn take_claimed(&self) -> T {
        // SAFETY: P1 and P2: the successful claim keeps drainers out and the
        // value initialized; read once, as the state becomes EMPTY.
        let value = self.value.with_mut(|v| unsafe { (*v).assume_init_read() });
        // Relaxed [slot-state]: no drainer acts on EMPTY but to look at it
        // after its fence (P7); our own fill reads it in program order, the
        // next accessor after the hand-off.
        self.state.store(EMPTY, Ordering::Relaxed);
        value
    }

    /// Writes `value` into the slot, which the accessor holds (EMPTY and
    /// unmarked, or claimed), and makes it FULL at `stamp`.
    ///
    /// # Safety
    ///
    /// The caller is the accessor, and the slot holds no value: EMPTY with
    /// `drain` seen IDLE, or claimed and taken out.
    #[inline(always)]
    unsafe fn write_full(&self, value: T, stamp: usize) {
        // SAFETY: P2 per the caller; no value is overwritten (P1). By
        // words: the take that copies it out reads it by words.
        self.value
            .with_mut(|v| unsafe { word_copy::write((*v).as_mut_ptr(), value) });
        // Release [slot-fill]: the value's writes happen-before a drainer's
        // swap that takes it (slot-drain-take).
        self.state.store(full_at(stamp), Ordering::Release);
    }
}

impl<T> Drop for PrivateSlot<T> {
    fn drop(&mut self) {
        drop(self.take_exclusive());
    }
}

/// An open access to a slot by its accessor (see [`PrivateSlot::enter`]).
pub(crate) struct Access<'a, T> {
    slot: &'a PrivateSlot<T>,
}

impl<'a, T> Access<'a, T> {
    /// What the slot holds. A slot left CLAIMED by a failed claim is
    /// settled first, if its drainer has finished.
    #[inline]
    pub(crate) fn look(&self) -> Look {
        match self.look_as_is() {
            Look::Claimed => self.slot.look_settled(),
            look => look,
        }
    }

    /// What the slot holds, without settling a CLAIMED slot: for the
    /// inlined fast paths, whose slow paths settle it
    /// ([`settle`](Self::settle)).
    #[inline(always)]
    pub(crate) fn look_as_is(&self) -> Look {
        Look::of(self.slot.state_word())
    }

    /// Whether the slot is FULL with a value put at `stamp`: one load and
    /// one compare, for the slow paths' common case.
    #[inline(always)]
    pub(crate) fn is_full_at(&self, stamp: usize) -> bool {
        self.slot.state_word() == full_at(stamp)
    }

    /// Whether the slot is EMPTY (listed or not, marked or not).
    #[inline(always)]
    pub(crate) fn is_empty(&self) -> bool {
        self.slot.state_word() == EMPTY
    }

    /// Whether the slot is EMPTY and listed, with no drainer about:
    /// `put`'s fast path, which [`fill_listed`](Self::fill_listed) may
    /// follow.
    #[inline(always)]
    pub(crate) fn is_listed_empty(&self) -> bool {
        self.slot.state_word() == EMPTY && self.may_fill()
    }

    /// The stamp of the slot's value if it is FULL, after settling a
    /// CLAIMED slot as [`look`](Self::look) does.
    #[inline]
    pub(crate) fn full_stamp(&self) -> Option<usize> {
        match self.look() {
            Look::Full(stamp) => Some(stamp),
            _ => None,
        }
    }

    /// Settles a slot that a failed claim left CLAIMED, or whose drainer
    /// took its value (TOOK), if the drainer has finished: then the slot
    /// is EMPTY or FULL and unmarked, and the fast paths may use it again.
    /// Returns whether it settled something.
    #[inline]
    pub(crate) fn settle(&self) -> bool {
        // Relaxed [slot-state]: our own last store, or a drainer's swap
        // (then `settle` acquires its TOOK before acting on it).
        let claimed = self.slot.state.load(Ordering::Relaxed) & STATE_MASK == CLAIMED;
        // Relaxed [slot-hint]: `settle` loads it again with Acquire.
        let drain = self.slot.drain.load(Ordering::Relaxed);
        (claimed || (drain != IDLE && drain != UNLISTED)) && self.slot.settle()
    }

    /// Stores a value put at `stamp` into the EMPTY slot, unless the slot
    /// is marked by a drainer, or its TOOK is not yet acknowledged (then
    /// the value comes back, the slot stays EMPTY, and
    /// [`settle`](Self::settle) may make a fill possible again).
    /// (The pool decides first and fills after: see `local::Room`.)
    /// A slot of these unit tests has no summary: listing it marks no bit.
    #[cfg(test)]
    pub(crate) fn fill(&self, value: T, stamp: usize) -> Result<(), T> {
        if self.look_as_is() != Look::Empty || !(self.may_fill() || self.list()) {
            return Err(value);
        }
        // SAFETY: EMPTY and listed, as just checked or made.
        let _relist = unsafe { self.fill_listed(value, stamp) };
        Ok(())
    }

    /// Whether the slot, which [`look`](Self::look) found EMPTY, may be
    /// filled: it is listed, no drainer has marked it, and no TOOK is
    /// unacknowledged (`drain` is IDLE).
    #[inline(always)]
    pub(crate) fn may_fill(&self) -> bool {
        // Relaxed [slot-dekker]: a drainer that swapped the slot to EMPTY
        // marked it first, and our Acquire look of that EMPTY synchronizes
        // with its heavy fence (slot-dekker, slot-drain-take), which orders
        // the mark before this load.
        self.slot.drain.load(Ordering::Relaxed) == IDLE
    }

    /// Whether the slot is not listed and no drainer is about (P7).
    pub(crate) fn is_unlisted(&self) -> bool {
        // Relaxed [slot-hint]: `list` decides, by a compare-and-swap.
        self.slot.drain.load(Ordering::Relaxed) == UNLISTED
    }

    /// Lists the slot, which [`look`](Self::look) found EMPTY and `drain`
    /// UNLISTED (settled): the caller has just set the slot's bit (P7).
    /// Returns false if a drainer marked the slot meanwhile.
    pub(crate) fn list(&self) -> bool {
        debug_assert!(
            self.look_as_is() == Look::Empty,
            "only an empty slot is listed"
        );
        // Relaxed [slot-unmark]: a drainer that reads IDLE unlists only
        // after its mark and fence, which the next fill's look sees (P7).
        // A compare-and-swap, as a drainer may mark the slot meanwhile.
        self.slot
            .drain
            .compare_exchange(UNLISTED, IDLE, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }

    /// Fills the slot, EMPTY and listed, with `value`, put at `stamp`.
    /// Returns whether a drainer's unlisting may have raced the fill: then
    /// the caller marks the slot's bit and calls
    /// [`acknowledge_unlisting`](Self::acknowledge_unlisting) (P7).
    ///
    /// # Safety
    ///
    /// The last look of this access found the slot EMPTY, and `may_fill`
    /// (or `list`) returned true after it.
    #[inline(always)]
    pub(crate) unsafe fn fill_listed(&self, value: T, stamp: usize) -> bool {
        debug_assert!(
            self.look_as_is() == Look::Empty,
            "the private slot holds no value to fill over"
        );
        // SAFETY: we are the accessor and the slot is EMPTY with no drainer
        // reading it (per the caller).
        unsafe { self.slot.write_full(value, stamp) };
        asymmetric_fence::light();
        // Relaxed [slot-listing]: ordered after the FULL store by the light
        // fence (P7): a drainer whose unlisting missed that store marked
        // `drain` before its heavy fence, so we read ACTIVE or later.
        self.slot.drain.load(Ordering::Relaxed) != IDLE
    }

    /// After a fill that returned true, once the caller has set the slot's
    /// bit: ends a finished unlisting's mark (a drainer still ACTIVE ends
    /// its own).
    #[cold]
    pub(crate) fn acknowledge_unlisting(&self) {
        // Relaxed [slot-unmark]: as in `settle`.
        let _ =
            self.slot
                .drain
                .compare_exchange(UNLISTED, IDLE, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// Removes the value of the slot, which [`look`](Self::look) found
    /// FULL at `stamp`, unless a drainer is about (then `None`).
    ///
    /// # Safety
    ///
    /// The last `look` of this access returned `Look::Full(stamp)`.
    #[inline(always)]
    pub(crate) unsafe fn take(&self, stamp: usize) -> Option<T> {
        // SAFETY: forwarded from the caller.
        unsafe {
            self.slot
                .claim(claimed_at(stamp), stamp)
                .then(|| self.slot.take_claimed())
        }
    }

    /// Takes the value if the slot is FULL and `wanted` holds for its stamp.
    #[inline(always)]
    pub(crate) fn take_if(&self, wanted: impl FnOnce(usize) -> bool) -> Option<T> {
        match self.full_stamp() {
            // SAFETY: it looked FULL at `stamp` just now.
            Some(stamp) if wanted(stamp) => unsafe { self.take(stamp) },
            _ => None,
        }
    }

    /// Replaces the value of the slot, which [`look`](Self::look) found
    /// FULL at `stamp`, with `value`, put at `new_stamp`; gives back the
    /// old value, or `value` itself if a drainer is about.
    ///
    /// # Safety
    ///
    /// As for [`take`](Self::take).
    #[inline(always)]
    pub(crate) unsafe fn swap(&self, value: T, stamp: usize, new_stamp: usize) -> Result<T, T> {
        // SAFETY: forwarded from the caller.
        if !unsafe { self.slot.claim(claimed_at(stamp), stamp) } {
            return Err(value);
        }
        // SAFETY: the claim succeeded, which keeps drainers out until the
        // slot is FULL again.
        unsafe {
            let old = self.slot.value.with_mut(|v| (*v).assume_init_read());
            self.slot.write_full(value, new_stamp);
            Ok(old)
        }
    }

    /// Moves the value into `out` if the slot is FULL with a value put at
    /// `stamp` and no drainer is about: `take`'s fast path, one load and
    /// one compare before the claim. Returns whether it did.
    ///
    /// An out-parameter copied into with `copy_nonoverlapping`, not an
    /// `Option<T>` nor a plain read: those made the compiler move a `Vec`
    /// in pieces of other widths than the caller's next copy reads (a
    /// word, then two as one 16-byte load), and a load that spans two
    /// stores misses store-to-load forwarding. A take+put loop of a 4 KiB
    /// `Vec` took 10.1 ns this way against 10.7 ns (plain read) and 12-18
    /// ns (`Option<T>`).
    #[inline(always)]
    pub(crate) fn take_if_put_at(&self, stamp: usize, out: &mut MaybeUninit<T>) -> bool {
        if self.slot.state_word() != full_at(stamp) {
            return false;
        }
        // SAFETY: it is FULL at `stamp`.
        if !unsafe { self.slot.claim(claimed_at(stamp), stamp) } {
            return false;
        }
        // SAFETY: the claim succeeded.
        unsafe { self.move_out_claimed(out) };
        true
    }

    /// Moves the value, which the last look found FULL at `stamp`, into
    /// `out`, as [`take_if_put_at`](Self::take_if_put_at) does, but leaves
    /// a drainer's case to the caller: false means the caller must call
    /// [`claim_met_drainer`](Self::claim_met_drainer) next.
    ///
    /// # Safety
    ///
    /// As for [`take`](Self::take).
    #[inline(always)]
    pub(crate) unsafe fn take_seen_full_alone(
        &self,
        stamp: usize,
        out: &mut MaybeUninit<T>,
    ) -> bool {
        // SAFETY: forwarded from the caller.
        if !unsafe { self.slot.claim_alone(claimed_at(stamp)) } {
            return false;
        }
        // SAFETY: the claim succeeded.
        unsafe { self.move_out_claimed(out) };
        true
    }

    /// Moves the value into `out` and leaves the slot EMPTY.
    ///
    /// # Safety
    ///
    /// This access's claim of the FULL slot just succeeded.
    #[inline(always)]
    unsafe fn move_out_claimed(&self, out: &mut MaybeUninit<T>) {
        // SAFETY: P1 and P2: the successful claim keeps drainers out and the
        // value initialized; copied once, as the state becomes EMPTY. By
        // words, as the fill wrote it.
        self.slot
            .value
            .with_mut(|v| unsafe { word_copy::copy(v.cast::<T>(), out.as_mut_ptr()) });
        // Relaxed [slot-state]: as in `take_claimed`.
        self.slot.state.store(EMPTY, Ordering::Relaxed);
    }

    /// What `claim` does when it meets a drainer, after a
    /// [`take_seen_full_alone`](Self::take_seen_full_alone) that met one
    /// (`claim_failed` is out of line already).
    #[inline]
    pub(crate) fn claim_met_drainer(&self, stamp: usize) {
        self.slot.claim_failed(stamp);
    }

    /// Lends the value in place if the slot is FULL with a value put at
    /// `stamp` and no drainer is about: one load, one compare and one
    /// store, for `get`'s fast path.
    #[inline(always)]
    pub(crate) fn lend_if_put_at(&self, stamp: usize) -> Option<LentSlot<T>> {
        if self.slot.state_word() != full_at(stamp) {
            return None;
        }
        // SAFETY: it is FULL at `stamp`.
        unsafe { self.lend(stamp) }
    }

    /// Lends the value of the slot, which [`look`](Self::look) found FULL
    /// at `stamp`, in place, unless a drainer is about.
    ///
    /// # Safety
    ///
    /// As for [`take`](Self::take).
    #[inline(always)]
    pub(crate) unsafe fn lend(&self, stamp: usize) -> Option<LentSlot<T>> {
        // SAFETY: forwarded from the caller. The claim is the LENT state
        // itself; the loan reaches another thread only with the guard,
        // whose transfer orders it.
        unsafe { self.slot.claim(LENT, stamp) }.then(|| LentSlot {
            slot: NonNull::from(self.slot),
        })
    }
}

/// The right to a LENT slot's value, held by a pool guard.
///
/// # Invariants
///
/// - P6: the slot is LENT and nobody else touches its value (P2) until this
///   loan gives it back or takes it back, which consumes the loan.
pub(crate) struct LentSlot<T> {
    slot: NonNull<PrivateSlot<T>>,
}

// SAFETY: the loan is the sole user of one `T` (P6), like a `Box<T>`.
unsafe impl<T: Send> Send for LentSlot<T> {}
// SAFETY: `&LentSlot` gives only `&T`.
unsafe impl<T: Sync> Sync for LentSlot<T> {}

impl<T> LentSlot<T> {
    /// The lent value.
    ///
    /// # Safety
    ///
    /// The slot's pool is alive (the guard borrows it or holds an `Arc`).
    #[inline(always)]
    pub(crate) unsafe fn value(&self) -> &T {
        // SAFETY: alive per the caller; P1 and P6: LENT, initialized, ours.
        unsafe {
            let slot = self.slot.as_ref();
            slot.value.with(|v| &*(*v).as_ptr())
        }
    }

    /// The lent value, mutably.
    ///
    /// # Safety
    ///
    /// As for [`value`](Self::value).
    #[inline(always)]
    pub(crate) unsafe fn value_mut(&mut self) -> &mut T {
        // SAFETY: as in `value`; `&mut self` makes the borrow unique.
        unsafe {
            let slot = self.slot.as_ref();
            slot.value.with_mut(|v| &mut *(*v).as_mut_ptr())
        }
    }

    /// Gives the value back to the slot as put at `stamp`.
    ///
    /// # Safety
    ///
    /// As for [`value`](Self::value).
    #[inline(always)]
    pub(crate) unsafe fn give_back(self, stamp: usize) {
        // SAFETY: alive per the caller.
        let slot = unsafe { self.slot.as_ref() };
        // Release [slot-return]: the value's last writes happen-before the
        // accessor or drainer that sees FULL.
        slot.state.store(full_at(stamp), Ordering::Release);
    }

    /// Moves the value out, leaving the slot EMPTY.
    ///
    /// # Safety
    ///
    /// As for [`value`](Self::value).
    pub(crate) unsafe fn take_back(self) -> T {
        // SAFETY: alive per the caller.
        let slot = unsafe { self.slot.as_ref() };
        // SAFETY: P1 and P6: initialized and ours; read once, as the loan
        // is consumed and the state becomes EMPTY.
        let value = slot.value.with_mut(|v| unsafe { (*v).assume_init_read() });
        // Release [slot-return]: our last use of the slot happens-before the
        // accessor that sees EMPTY and fills it.
        slot.state.store(EMPTY, Ordering::Release);
        value
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::rc::Rc;

    #[test]
    fn a_slot_fills_takes_lends_and_drops_what_it_holds_once() {
        let value = Rc::new(());
        let mut slot = PrivateSlot::empty();
        // SAFETY: this thread is the only accessor, and no drainer runs.
        let access = unsafe { slot.enter() };
        assert_eq!(access.look(), Look::Empty);
        assert!(access.fill(Rc::clone(&value), 7).is_ok());
        assert_eq!(access.look(), Look::Full(7));
        // SAFETY: it looked FULL at 7 just above.
        let old = unsafe { access.swap(Rc::clone(&value), 7, 8) };
        drop(old.unwrap_or_else(|_| panic!("no drainer is about")));
        assert_eq!(Rc::strong_count(&value), 2);
        let mut loan = access.lend_if_put_at(8).expect("FULL at 8");
        assert_eq!(access.look(), Look::Lent);
        // SAFETY: the slot outlives the loan.
        unsafe {
            assert!(Rc::ptr_eq(loan.value(), &value));
            let _ = loan.value_mut();
            loan.give_back(9);
        }
        assert_eq!(access.look(), Look::Full(9));
        assert!(access.lend_if_put_at(8).is_none(), "put at 9, not 8");
        // SAFETY: it looked FULL at 9 just above.
        let lent_again = unsafe { access.lend(9) }.expect("no drainer is about");
        // SAFETY: as above.
        let out = unsafe { lent_again.take_back() };
        assert_eq!(slot.take_exclusive().map(drop), None);
        // SAFETY: as above.
        assert!(unsafe { slot.enter() }.fill(out, 10).is_ok());
        drop(slot);
        assert_eq!(Rc::strong_count(&value), 1, "dropped with the slot");
    }

    #[test]
    fn a_drainer_takes_an_expired_value_and_the_accessor_acknowledges_it() {
        let slot = PrivateSlot::empty();
        // SAFETY: this thread is the only accessor and the only drainer.
        unsafe {
            let access = slot.enter();
            assert_eq!(slot.want(), None, "an unlisted empty slot is left alone");
            access.fill(1u8, 0).unwrap();
            assert_eq!(slot.want(), Some(Want::Drain));
            assert_eq!(access.take(0), None, "marked: a claim fails");
            assert_eq!(access.look(), Look::Claimed, "until the drainer ends");
            assert_eq!(slot.want(), None, "a claimed slot is not marked");
            assert!(asymmetric_fence::heavy() || cfg!(not(target_os = "linux")));
            assert_eq!(slot.drain_if(|_| true, || {}), None, "the claim keeps it");
            assert_eq!(access.look(), Look::Full(0), "settled: FULL again");
            assert_eq!(slot.want(), Some(Want::Drain));
            assert_eq!(
                slot.drain_if(|stamp| stamp == 1, || {}),
                None,
                "not expired"
            );
            assert_eq!(slot.want(), Some(Want::Drain));
            assert_eq!(slot.drain_if(|stamp| stamp == 0, || {}), Some(1));
            assert_eq!(slot.want(), None, "nothing left to take, nor to unlist");
            assert_eq!(access.look(), Look::Empty, "unlisted");
            assert_eq!(access.fill(3, 5), Err(3), "TOOK not yet acknowledged");
            assert!(access.settle(), "acknowledges TOOK");
            assert!(!access.settle(), "nothing left to settle");
            access.fill(3, 5).unwrap();
            assert_eq!(access.look(), Look::Full(5));
        }
        // A drainer between its swap to EMPTY and the end of its mark is
        // still reading the value out: no fill until it ends.
        let slot = PrivateSlot::empty();
        slot.drain.store(ACTIVE, Ordering::Relaxed);
        // SAFETY: the only accessor.
        let access = unsafe { slot.enter() };
        assert_eq!(access.fill(6u8, 0), Err(6));
        slot.unwant();
        assert_eq!(access.fill(6, 0), Ok(()));
    }

    #[test]
    fn a_claim_that_met_a_drainer_learns_what_the_drainer_took() {
        let slot = PrivateSlot::empty();
        // SAFETY: this thread is the only accessor and the only drainer; the
        // failed claim is made between the drainer's mark and its swap, as
        // if the fences had ordered them so.
        unsafe {
            let access = slot.enter();
            access.fill(Rc::new(4), 0).unwrap();
            assert_eq!(slot.want(), Some(Want::Drain));
            // The drainer's swap comes first in the word's order; the
            // accessor's claim, on a stale FULL, then overwrites EMPTY.
            let taken = slot.drain_if(|_| true, || {}).expect("FULL and expired");
            slot.claim(LENT, 0);
            assert_eq!(access.look(), Look::Empty, "TOOK: the value is gone");
            assert_eq!(Rc::strong_count(&taken), 1);
            assert!(access.fill(taken, 1).is_ok(), "acknowledged, so filled");
            assert_eq!(access.look(), Look::Full(1));
        }
    }

    /// A value in a claim that a drainer interrupted and never took is
    /// dropped with the slot; one it took is not dropped again.
    #[test]
    fn a_slot_dropped_while_claimed_drops_its_value_unless_a_drainer_took_it() {
        for took in [false, true] {
            let value = Rc::new(());
            let mut slot = PrivateSlot::empty();
            // SAFETY: as above.
            let taken = unsafe {
                slot.enter().fill(Rc::clone(&value), 0).unwrap();
                assert_eq!(slot.want(), Some(Want::Drain));
                let taken = if took {
                    slot.drain_if(|_| true, || {})
                } else {
                    None
                };
                // A claim left unsettled: the drainer is still ACTIVE, or
                // its TOOK not yet seen.
                slot.state.store(claimed_at(0), Ordering::Relaxed);
                taken
            };
            drop(slot.take_exclusive());
            drop(taken);
            assert_eq!(Rc::strong_count(&value), 1, "took: {took}");
        }
    }

    /// The check is a debug assertion (the callers look first).
    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "the private slot holds no value to fill over")]
    fn filling_a_full_slot_panics() {
        let slot = PrivateSlot::<u8>::empty();
        // SAFETY: the only accessor.
        let access = unsafe { slot.enter() };
        access.fill(1, 0).unwrap();
        // SAFETY: not met, which the debug assertion catches.
        let _ = unsafe { access.fill_listed(2, 0) };
    }

    /// P7: a drainer unlists an empty listed slot, and a fill that raced
    /// the unlisting (its FULL store after the drainer's look) reads the
    /// mark and reports it; a drainer whose second look finds the fill
    /// sets the bit back. A value or a loan keeps the slot listed.
    #[test]
    fn a_drainer_unlists_an_empty_slot_and_a_racing_fill_learns_of_it() {
        let clears = std::cell::Cell::new(0);
        let remarks = std::cell::Cell::new(0);
        let clear = || clears.set(clears.get() + 1);
        let remark = || remarks.set(remarks.get() + 1);
        let slot = PrivateSlot::empty();
        // SAFETY: this thread is the only accessor and the only drainer;
        // the fences' order is played out by hand.
        unsafe {
            let access = slot.enter();
            assert!(access.is_unlisted(), "a new slot is not listed");
            access.fill(1u8, 0).unwrap();
            let lent = access.lend_if_put_at(0).expect("FULL at 0");
            assert_eq!(slot.want(), None, "a lent slot stays listed");
            assert_eq!(lent.take_back(), 1);
            assert_eq!(slot.want(), Some(Want::Unlist), "empty and listed");
            assert!(slot.unlist_if_empty(clear, remark));
            assert_eq!((clears.get(), remarks.get()), (1, 0));
            assert!(access.is_unlisted());
            assert_eq!(slot.want(), None, "unlisted: not visited again");
            assert!(!access.may_fill(), "the next fill lists first");
            assert!(access.list());
            assert!(!access.fill_listed(2, 1), "no drainer about");
            assert_eq!(access.take(1), Some(2));
            // A fill that looked before the unlisting and stores after it.
            assert_eq!(slot.want(), Some(Want::Unlist));
            assert!(slot.unlist_if_empty(clear, remark));
            assert!(access.fill_listed(3, 1), "it reads UNLISTED: must relist");
            access.acknowledge_unlisting();
            assert!(access.may_fill() || access.look() != Look::Empty);
            assert_eq!(access.take(1), Some(3), "claims work again");
            // A fill between the drainer's two looks: the bit goes back.
            assert_eq!(slot.want(), Some(Want::Unlist));
            let fill_meanwhile = || {
                clear();
                slot.state.store(full_at(1), Ordering::Relaxed);
            };
            assert!(!slot.unlist_if_empty(fill_meanwhile, remark));
            assert_eq!(remarks.get(), 1, "the look after the clear saw FULL");
            assert_eq!(slot.drain.load(Ordering::Relaxed), IDLE, "still listed");
            slot.state.store(EMPTY, Ordering::Relaxed); // as if taken
                                                        // A fill after the drainer's mark, before its look: it reads
                                                        // ACTIVE and relists; the drainer sees FULL and leaves it.
            assert_eq!(slot.want(), Some(Want::Unlist));
            assert!(access.fill_listed(4, 1), "it reads ACTIVE: must relist");
            assert!(!slot.unlist_if_empty(clear, remark));
            assert_eq!(slot.drain.load(Ordering::Relaxed), IDLE);
            assert_eq!(access.take(1), Some(4));
        }
        assert_eq!((clears.get(), remarks.get()), (3, 1));
    }
}

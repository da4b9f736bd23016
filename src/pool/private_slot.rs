//! A thread's private slot (Go: `poolLocalInternal.private`) and its
//! protocol: the owner fills and empties it with plain loads and stores,
//! `get` lends its value in place, and a cleanup may drain the value of an
//! idle owner.
//!
//! ```text
//!            fill (owner)            lend (owner)
//!   EMPTY ----------------> FULL ----------------> LENT
//!     ^  <----------------   ^  <----------------   |
//!     |   take (owner, or    |   give back (the     |
//!     |   a drainer)         |   loan's holder)     |
//!     +---------------------------------------------+
//!              take back (the loan's holder)
//! ```
//!
//! Three parties, and never an atomic read-modify-write:
//!
//! - The **accessor**: the owner of the local's thread index (or, for an
//!   index no thread holds, a thread acting for it under the thread
//!   registry's lock). It opens an [`Access`] with [`PrivateSlot::enter`],
//!   which sets `busy`, and may then move the slot between EMPTY, FULL and
//!   LENT.
//! - The **holder of a loan** ([`LentSlot`], inside a pool guard), on any
//!   thread: while the slot is LENT it alone touches the value, and it
//!   moves the slot out of LENT with a Release store.
//! - A **drainer** (a cleanup): it sets `wanted`, runs the heavy side of the
//!   asymmetric fence, and takes a FULL value only if the accessor is not
//!   `busy`. The accessor's `enter` stores `busy`, runs the light side, and
//!   backs off if it sees `wanted`: Dekker's pattern, so at most one of
//!   them goes on.

use crate::sync::{asymmetric_fence, AtomicBool, AtomicUsize, Ordering, UnsafeCell};
use std::mem::MaybeUninit;
use std::ptr::NonNull;

// The state word: the state in the low two bits and, while FULL, the
// stamp (the generation the value was put in) above them, so one load
// tells "full and put at this generation" and one store gives a value back.
const EMPTY: usize = 0;
const FULL: usize = 1;
const LENT: usize = 2;
const STATE_BITS: u32 = 2;
const STATE_MASK: usize = (1 << STATE_BITS) - 1;

/// The state word of a FULL slot whose value was put at `stamp`. A stamp
/// keeps the generation's low 62 bits, which equal the generation until a
/// pool's 2^62nd cleanup (146 years at one cleanup per nanosecond).
#[inline(always)]
fn full_at(stamp: usize) -> usize {
    stamp << STATE_BITS | FULL
}

/// The stamp of a FULL state word, as a generation (see [`full_at`]).
#[inline(always)]
fn stamp_of(word: usize) -> usize {
    word >> STATE_BITS
}

/// One optional value, its state and stamp in one word, and the flags of
/// its protocol.
///
/// The value is a `MaybeUninit<T>` beside a separate state, not an
/// `Option<(T, usize)>`: with the enum, the compiler wrote a `Vec` into the
/// slot word by word and read it back 16 bytes at a time, a load wider than
/// the stores it reads, which misses store-to-load forwarding.
///
/// # Invariants
///
/// - P1: `value` is initialized exactly while `state` is FULL or LENT.
/// - P2: while `state` is EMPTY or FULL, `value` and `state` are written
///   only by an accessor inside an [`Access`], or by a drainer that saw
///   `busy` false after setting `wanted` and running the heavy fence. While
///   it is LENT, only the [`LentSlot`] touches `value` and moves `state`
///   on; nobody else writes `state`.
/// - P3: `busy` is written only by the accessor (accessors follow one
///   another through the thread-index hand-off); `wanted` only by the
///   drainer, and drainers run one at a time (the pool's cleanup lock).
/// - P4 (Dekker): an accessor that saw `wanted` false and a drainer that saw
///   `busy` false never overlap: each stored its flag before the fence and
///   loaded the other's after it.
pub(crate) struct PrivateSlot<T> {
    state: AtomicUsize,
    busy: AtomicBool,
    wanted: AtomicBool,
    value: UnsafeCell<MaybeUninit<T>>,
}

/// What an accessor sees in the slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Look {
    Empty,
    /// A value put at this generation.
    Full(usize),
    /// The value is on loan.
    Lent,
}

impl<T> PrivateSlot<T> {
    pub(crate) fn empty() -> Self {
        PrivateSlot {
            state: AtomicUsize::new(EMPTY),
            busy: AtomicBool::new(false),
            wanted: AtomicBool::new(false),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// Opens the slot for its accessor, or returns `None` while a drainer
    /// wants it (then the caller acts as if the slot were unavailable and
    /// leaves it alone).
    ///
    /// # Safety
    ///
    /// The caller is the slot's accessor: it owns the local's thread index,
    /// or acts for an index no thread holds while holding the thread
    /// registry's lock (P3). It calls no user code while the access is open.
    #[inline(always)]
    pub(crate) unsafe fn enter(&self) -> Option<Access<'_, T>> {
        // Relaxed [slot-dekker]: ordered before the `wanted` load below by
        // the asymmetric fence, not by its ordering (P4).
        self.busy.store(true, Ordering::Relaxed);
        asymmetric_fence::light();
        // Acquire [slot-drained]: pairs with the Release in `unwant`, so the
        // drainer's take of the value happens-before what we do next.
        if self.wanted.load(Ordering::Acquire) {
            // Release [slot-busy]: as in `Access::drop` (nothing was done).
            self.busy.store(false, Ordering::Release);
            return None;
        }
        Some(Access { slot: self })
    }

    /// Whether the value is on loan now (for statistics: a loan begun or
    /// ended concurrently may or may not be seen).
    pub(crate) fn is_lent(&self) -> bool {
        // Relaxed [loan-count]: coherence alone makes a loan that ended
        // before this call (in happens-before order) read as ended; no
        // memory is read on its strength.
        self.state.load(Ordering::Relaxed) == LENT
    }

    /// Marks the slot wanted by a drainer, unless it looks EMPTY or LENT
    /// (then returns false and the drainer leaves it alone: a value put
    /// meanwhile, or given back, is fresh, not expired). The drainer then
    /// runs [`asymmetric_fence::heavy`] once for all the slots it marked,
    /// calls [`drain_if`](Self::drain_if) only if that returned true, and
    /// [`unwant`](Self::unwant)s every marked slot in any case.
    ///
    /// While a slot is wanted its accessor backs off, so marking only the
    /// slots that may hold a value keeps other threads' gets undisturbed.
    pub(crate) fn want_if_full(&self) -> bool {
        // Relaxed [slot-hint]: a stale EMPTY or LENT only leaves an expired
        // value for the next cleanup; the decision to take is made in
        // `drain_if`, after the fence.
        if self.state.load(Ordering::Relaxed) & STATE_MASK != FULL {
            return false;
        }
        // Relaxed [slot-dekker]: ordered before the `busy` load in
        // `drain_if` by the heavy fence (P4).
        self.wanted.store(true, Ordering::Relaxed);
        true
    }

    /// Takes the value if the accessor is not inside an access, the slot is
    /// FULL, and `expired` holds for its stamp.
    ///
    /// # Safety
    ///
    /// The caller is the one drainer (P3); [`want_if_full`](Self::want_if_full)
    /// returned true, then [`asymmetric_fence::heavy`] did, and the caller
    /// has not called [`unwant`](Self::unwant) since.
    pub(crate) unsafe fn drain_if(&self, expired: impl FnOnce(usize) -> bool) -> Option<T> {
        // Acquire [slot-busy]: pairs with the Release that ends an access,
        // so everything the accessor did to the slot is visible to us.
        if self.busy.load(Ordering::Acquire) {
            return None;
        }
        // SAFETY: the accessor is out and will back off until `unwant` (P4),
        // so we may act as it does on the slot (P2), without its `busy`.
        unsafe { self.take_if(expired) }
    }

    /// Ends a drainer's claim.
    pub(crate) fn unwant(&self) {
        // Release [slot-drained]: a value taken in `drain_if`, and the slot
        // left EMPTY, happen-before the next `enter` that sees this store.
        self.wanted.store(false, Ordering::Release);
    }

    /// Removes the value, held or lent, when nobody else can reach the slot.
    pub(crate) fn take_exclusive(&mut self) -> Option<T> {
        // Relaxed [exclusive]: `&mut self`; no other thread can reach it.
        if self.state.load(Ordering::Relaxed) == EMPTY {
            return None;
        }
        // Relaxed [exclusive]: as above.
        self.state.store(EMPTY, Ordering::Relaxed);
        // SAFETY: P1; `&mut self`, and the state now says EMPTY, so the value
        // is read once. A LENT value here belonged to a forgotten guard,
        // which will never touch it again.
        Some(unsafe { self.value.with_mut(|v| (*v).assume_init_read()) })
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

impl<T> PrivateSlot<T> {
    /// What the slot holds.
    ///
    /// # Safety
    ///
    /// The caller acts as the accessor (P2).
    #[inline(always)]
    unsafe fn look(&self) -> Look {
        let word = self.state_word();
        match word & STATE_MASK {
            EMPTY => Look::Empty,
            LENT => Look::Lent,
            _ => Look::Full(stamp_of(word)),
        }
    }

    /// The state word, as the accessor reads it.
    #[inline(always)]
    fn state_word(&self) -> usize {
        // Acquire [slot-return]: pairs with the Release of a loan's holder
        // that gave the value back (or took it), maybe on another thread.
        self.state.load(Ordering::Acquire)
    }

    /// Removes the value of the FULL slot.
    ///
    /// # Safety
    ///
    /// As for [`look`](Self::look), and the slot is FULL (the caller looked;
    /// checked again in debug builds only, to keep the hot path to one load).
    #[inline(always)]
    unsafe fn take(&self) -> T {
        debug_assert!(
            // SAFETY: forwarded from the caller.
            matches!(unsafe { self.look() }, Look::Full(_)),
            "the private slot holds no value to take"
        );
        // Relaxed [slot-state]: as in `Access::fill`.
        self.state.store(EMPTY, Ordering::Relaxed);
        // SAFETY: P1 and P2: it was FULL and the caller acts as the accessor;
        // now EMPTY, so the value is read exactly once.
        self.value.with_mut(|v| unsafe { (*v).assume_init_read() })
    }

    /// Takes the value if the slot is FULL and `wanted` holds for its stamp.
    ///
    /// # Safety
    ///
    /// As for [`look`](Self::look).
    #[inline(always)]
    unsafe fn take_if(&self, wanted: impl FnOnce(usize) -> bool) -> Option<T> {
        // SAFETY: forwarded from the caller.
        unsafe {
            match self.look() {
                Look::Full(stamp) if wanted(stamp) => Some(self.take()),
                _ => None,
            }
        }
    }
}

impl<'a, T> Access<'a, T> {
    /// What the slot holds.
    #[inline(always)]
    pub(crate) fn look(&self) -> Look {
        // SAFETY: an open access makes us the accessor.
        unsafe { self.slot.look() }
    }

    /// Stores a value put at `stamp` into the EMPTY slot.
    #[inline(always)]
    pub(crate) fn fill(&self, value: T, stamp: usize) {
        debug_assert_eq!(self.look(), Look::Empty);
        // SAFETY: P2; EMPTY, so no value is overwritten (P1).
        self.slot.value.with_mut(|v| unsafe { (*v).write(value) });
        // Relaxed [slot-state]: our own later accesses read it in program
        // order; a drainer or adopter reads it after acquiring our `busy`
        // release, the next owner after the thread-index hand-off.
        self.slot.state.store(full_at(stamp), Ordering::Relaxed);
    }

    /// Removes the value of the slot, which [`look`](Self::look) found FULL.
    ///
    /// # Safety
    ///
    /// The last `look` of this access returned `Look::Full` (debug builds
    /// check it again).
    #[inline(always)]
    pub(crate) unsafe fn take(&self) -> T {
        // SAFETY: an open access makes us the accessor; FULL per the caller.
        unsafe { self.slot.take() }
    }

    /// Takes the value if the slot is FULL and `wanted` holds for its stamp.
    #[inline(always)]
    pub(crate) fn take_if(&self, wanted: impl FnOnce(usize) -> bool) -> Option<T> {
        // SAFETY: an open access makes us the accessor.
        unsafe { self.slot.take_if(wanted) }
    }

    /// Replaces the value of the slot, which [`look`](Self::look) found
    /// FULL, with `value`, put at `stamp`.
    ///
    /// # Safety
    ///
    /// As for [`take`](Self::take).
    #[inline(always)]
    pub(crate) unsafe fn swap(&self, value: T, stamp: usize) -> T {
        // SAFETY: forwarded from the caller.
        let old = unsafe { self.take() };
        self.fill(value, stamp);
        old
    }

    /// Lends the value in place if the slot is FULL with a value put at
    /// `stamp`: one load and one compare, for `get`'s fast path.
    #[inline(always)]
    pub(crate) fn lend_if_put_at(&self, stamp: usize) -> Option<LentSlot<T>> {
        (self.slot.state_word() == full_at(stamp)).then(|| self.lend())
    }

    /// Lends the value of the FULL slot in place.
    #[inline(always)]
    pub(crate) fn lend(&self) -> LentSlot<T> {
        debug_assert!(matches!(self.look(), Look::Full(_)));
        // Relaxed [slot-state]: as in `fill`; the loan reaches another
        // thread only with the guard, whose transfer orders it.
        self.slot.state.store(LENT, Ordering::Relaxed);
        LentSlot {
            slot: NonNull::from(self.slot),
        }
    }
}

impl<T> Drop for Access<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        // Release [slot-busy]: what this access did to the slot
        // happens-before a drainer or later accessor that sees `busy` false.
        self.slot.busy.store(false, Ordering::Release);
    }
}

/// The right to a LENT slot's value, held by a pool guard.
///
/// # Invariants
///
/// - P5: the slot is LENT and nobody else touches its value (P2) until this
///   loan gives it back or takes it back, which consumes the loan.
pub(crate) struct LentSlot<T> {
    slot: NonNull<PrivateSlot<T>>,
}

// SAFETY: the loan is the sole user of one `T` (P5), like a `Box<T>`.
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
        // SAFETY: alive per the caller; P1 and P5: LENT, initialized, ours.
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
        // SAFETY: P1 and P5: initialized and ours; read once, as the loan
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
        let access = unsafe { slot.enter() }.expect("nobody wants the slot");
        assert_eq!(access.look(), Look::Empty);
        access.fill(Rc::clone(&value), 7);
        assert_eq!(access.look(), Look::Full(7));
        // SAFETY: it looked FULL just above.
        drop(unsafe { access.swap(Rc::clone(&value), 8) });
        assert_eq!(Rc::strong_count(&value), 2);
        let mut loan = access.lend();
        assert_eq!(access.look(), Look::Lent);
        // SAFETY: the slot outlives the loan.
        unsafe {
            assert!(Rc::ptr_eq(loan.value(), &value));
            let _ = loan.value_mut();
            loan.give_back(9);
        }
        assert_eq!(access.look(), Look::Full(9));
        let lent_again = access.lend();
        drop(access);
        // SAFETY: as above.
        let out = unsafe { lent_again.take_back() };
        assert_eq!(slot.take_exclusive().map(drop), None);
        // SAFETY: as above.
        unsafe { slot.enter() }.unwrap().fill(out, 10);
        drop(slot);
        assert_eq!(Rc::strong_count(&value), 1, "dropped with the slot");
    }

    #[test]
    fn an_accessor_backs_off_while_a_drainer_wants_the_slot() {
        let slot = PrivateSlot::empty();
        // SAFETY: this thread is the only accessor and the only drainer.
        unsafe {
            assert!(!slot.want_if_full(), "an empty slot is left alone");
            slot.enter().unwrap().fill(1u8, 0);
            assert!(slot.want_if_full());
            assert!(slot.enter().is_none(), "wanted: the accessor backs off");
            assert!(asymmetric_fence::heavy() || cfg!(not(target_os = "linux")));
            assert_eq!(slot.drain_if(|stamp| stamp == 1), None, "not expired");
            assert_eq!(slot.drain_if(|stamp| stamp == 0), Some(1));
            slot.unwant();
            assert_eq!(slot.enter().unwrap().look(), Look::Empty);
        }
    }

    /// The check is a debug assertion (the callers look first).
    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "the private slot holds no value to take")]
    fn taking_from_an_empty_slot_panics() {
        let slot = PrivateSlot::<u8>::empty();
        // SAFETY: the only accessor.
        let _ = unsafe { slot.enter().unwrap().take() };
    }
}

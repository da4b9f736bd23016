//! A thread's private slot (Go: `poolLocalInternal.private`): one value and
//! the generation it was put in.

use std::mem::MaybeUninit;

/// One optional value with its stamp.
///
/// Not an `Option<(T, usize)>`: with the enum, the compiler wrote a `Vec`
/// into the slot word by word and read it back 16 bytes at a time, and a
/// load wider than the stores it reads misses store-to-load forwarding (a
/// stall on every put+take pair). A `MaybeUninit<T>` is moved in and out as
/// a whole, with the same widths both ways; the flag is separate.
///
/// # Invariants
///
/// - P1: `value` is initialized exactly while `occupied` is true.
pub(crate) struct PrivateSlot<T> {
    occupied: bool,
    /// The pool generation the value was put in (meaningful while occupied).
    stamp: usize,
    value: MaybeUninit<T>,
}

impl<T> PrivateSlot<T> {
    pub(crate) const fn empty() -> Self {
        PrivateSlot {
            occupied: false,
            stamp: 0,
            value: MaybeUninit::uninit(),
        }
    }

    /// The stamp of the value held, or `None` if the slot is empty.
    #[inline(always)]
    pub(crate) fn stamp(&self) -> Option<usize> {
        self.occupied.then_some(self.stamp)
    }

    /// Stores `value`, put at generation `stamp`, into the empty slot.
    #[inline(always)]
    pub(crate) fn fill(&mut self, value: T, stamp: usize) {
        debug_assert!(!self.occupied, "the private slot is already full");
        self.value.write(value);
        self.stamp = stamp;
        self.occupied = true;
    }

    /// Removes the value, which the slot must hold.
    #[inline(always)]
    pub(crate) fn empty_out(&mut self) -> T {
        assert!(self.occupied, "the private slot is empty");
        self.occupied = false;
        // SAFETY: P1: the slot was occupied, so `value` is initialized; the
        // flag now says it is not, so it is read exactly once.
        unsafe { self.value.assume_init_read() }
    }

    /// Removes the value if there is one.
    pub(crate) fn take(&mut self) -> Option<T> {
        self.occupied.then(|| self.empty_out())
    }

    /// Replaces the held value with `value` (stamped `stamp`) and returns
    /// the old value.
    #[inline(always)]
    pub(crate) fn swap(&mut self, value: T, stamp: usize) -> T {
        let old = self.empty_out();
        self.fill(value, stamp);
        old
    }
}

impl<T> Drop for PrivateSlot<T> {
    fn drop(&mut self) {
        if self.occupied {
            self.occupied = false;
            // SAFETY: P1; the flag is cleared first, so a panicking `Drop`
            // cannot lead to a second drop.
            unsafe { self.value.assume_init_drop() }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::rc::Rc;

    #[test]
    fn a_slot_moves_values_in_and_out_and_drops_what_it_holds_once() {
        let value = Rc::new(());
        let mut slot = PrivateSlot::empty();
        assert_eq!(slot.stamp(), None);
        slot.fill(Rc::clone(&value), 7);
        assert_eq!(slot.stamp(), Some(7));
        let old = slot.swap(Rc::clone(&value), 8);
        assert_eq!((slot.stamp(), Rc::strong_count(&value)), (Some(8), 3));
        drop(old);
        let out = slot.empty_out();
        assert_eq!(slot.stamp(), None);
        slot.fill(out, 9);
        drop(slot);
        assert_eq!(
            Rc::strong_count(&value),
            1,
            "the held value is dropped with the slot"
        );
    }

    #[test]
    #[should_panic(expected = "the private slot is empty")]
    fn emptying_an_empty_slot_panics() {
        PrivateSlot::<u8>::empty().empty_out();
    }
}

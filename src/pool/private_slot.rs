//! A thread's private slot (Go: `poolLocalInternal.private`): one value and
//! the generation it was put in.

/// One optional value with the pool generation it was put in.
pub(crate) struct PrivateSlot<T> {
    held: Option<(T, usize)>,
}

impl<T> PrivateSlot<T> {
    pub(crate) const fn empty() -> Self {
        PrivateSlot { held: None }
    }

    /// The stamp of the value held, or `None` if the slot is empty.
    #[inline(always)]
    pub(crate) fn stamp(&self) -> Option<usize> {
        self.held.as_ref().map(|&(_, stamp)| stamp)
    }

    /// Stores `value`, put at generation `stamp`, into the empty slot.
    #[inline(always)]
    pub(crate) fn fill(&mut self, value: T, stamp: usize) {
        debug_assert!(self.held.is_none(), "the private slot is already full");
        self.held = Some((value, stamp));
    }

    /// Removes the value, which the slot must hold.
    #[inline(always)]
    pub(crate) fn empty_out(&mut self) -> T {
        match self.held.take() {
            Some((value, _)) => value,
            None => unreachable!("the private slot is empty"),
        }
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

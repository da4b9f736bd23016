//! A pool's locals, indexed by thread index, in buckets that never move.
//!
//! ```text
//!   bucket:   0     1         2                   3
//!   holds:  [ 0 ] [ 1  2 ] [ 3  4  5  6 ] [ 7 ... 14 ]   ... bucket b holds 2^b
//! ```
//!
//! A bucket is allocated the first time a thread whose index falls in it
//! uses the pool, and freed only with the pool, so a `&Local` stays valid
//! for as long as the pool is borrowed: the owner's fast path needs no pin
//! and no lock, and growth never moves or loses a value (unlike Go, whose
//! per-P array is reallocated, dropping its contents, when GOMAXPROCS changes).

use super::local::Local;
use super::summary::Summary;
use crate::sync::{
    const_fn_unless_loom, null_ptr_array, AtomicPtr, AtomicUsize, CachePadded, Ordering,
};
use crate::unwind::for_each_despite_panics;
use std::fmt;
use std::ptr;

const BUCKETS: usize = usize::BITS as usize;

type Padded<T> = CachePadded<Local<T>>;

/// Where a thread index's local lives; computed once per thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Place {
    pub(crate) index: usize,
    bucket: usize,
    offset: usize,
}

impl Place {
    /// Set in every word made by [`Place::to_word`].
    pub(crate) const WORD_VALID: usize = 1 << 7;
    const WORD_BUCKET: usize = (1 << 6) - 1;
    const WORD_OFFSET_SHIFT: u32 = 8;

    pub(crate) fn of(index: usize) -> Place {
        let position = index + 1;
        let bucket = (usize::BITS - 1 - position.leading_zeros()) as usize;
        Place {
            index,
            bucket,
            offset: position - (1 << bucket),
        }
    }

    /// The place in one word, decoded by [`Place::from_word`] with a mask and
    /// a shift: the bucket in bits 0-5, [`Place::WORD_VALID`], the offset
    /// from bit 8. The mask also proves `bucket < BUCKETS` to the compiler,
    /// so indexing the buckets needs no bounds check.
    ///
    /// # Panics
    ///
    /// Panics if the offset does not fit (2^56 threads).
    pub(crate) fn to_word(self) -> usize {
        assert!(self.offset >> (usize::BITS - Self::WORD_OFFSET_SHIFT) == 0);
        self.offset << Self::WORD_OFFSET_SHIFT | Self::WORD_VALID | self.bucket
    }

    /// Inverse of [`Place::to_word`].
    #[inline(always)]
    pub(crate) fn from_word(word: usize) -> Place {
        let bucket = word & Self::WORD_BUCKET;
        let offset = word >> Self::WORD_OFFSET_SHIFT;
        Place {
            index: (1 << bucket) - 1 + offset,
            bucket,
            offset,
        }
    }
}

const _: () = assert!(BUCKETS <= Place::WORD_BUCKET + 1 && Place::WORD_BUCKET < Place::WORD_VALID);

/// # Invariants
///
/// - B1: `buckets[b]` is null or points to `2^b` initialized locals; it goes
///   from null to non-null once (by CAS) and is freed only by `Drop`.
/// - B2: `used_buckets` is at least one more than the largest `b` whose
///   bucket is non-null (it is raised before the bucket is published).
/// - B3: every local in a published bucket holds its bit in `summary`,
///   whose group was allocated before the local was built.
pub(crate) struct Locals<T> {
    buckets: [AtomicPtr<Padded<T>>; BUCKETS],
    used_buckets: AtomicUsize,
    summary: Summary,
}

// SAFETY: locals are shared between threads exactly as their contents allow:
// `Local<T>` guards its private slot by ownership of a thread index and its
// chains are `Send + Sync` for `T: Send`.
unsafe impl<T: Send> Send for Locals<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: Send> Sync for Locals<T> {}

impl<T> Locals<T> {
    const_fn_unless_loom! {
        pub(crate) const fn new() -> Self {
            Locals {
                buckets: null_ptr_array(),
                used_buckets: AtomicUsize::new(0),
                summary: Summary::new(),
            }
        }
    }

    /// The local of thread `index`, allocating its bucket on first use.
    #[inline]
    pub(crate) fn get_or_create(&self, place: Place, first_capacity: usize) -> &Local<T> {
        let Place { bucket, offset, .. } = place;
        // Acquire [bucket-publish]: pairs with the Release CAS in `allocate`,
        // so the locals' construction is visible before we use them.
        let mut locals = self.buckets[bucket].load(Ordering::Acquire);
        if locals.is_null() {
            locals = self.allocate(bucket, first_capacity);
        }
        // SAFETY: B1: a non-null bucket holds 2^bucket locals, `offset` is
        // below that, and buckets live as long as `self`.
        unsafe { &*locals.add(offset) }
    }

    #[cold]
    fn allocate(&self, bucket: usize, first_capacity: usize) -> *mut Padded<T> {
        // A plain loop, not an iterator chain: debug builds copy large
        // locals (a private slot holds a `T` inline) once per adapter frame.
        let mut fresh = Vec::with_capacity(1 << bucket);
        let base = (1usize << bucket) - 1;
        for offset in 0..1usize << bucket {
            let bit = self.summary.bit(base + offset);
            fresh.push(CachePadded::new(Local::new(first_capacity, bit)));
        }
        let fresh: Box<[Padded<T>]> = fresh.into_boxed_slice();
        let fresh = Box::into_raw(fresh).cast::<Padded<T>>();
        // Relaxed [used-buckets]: only bounds iteration; the bucket itself
        // is published by the CAS below, which comes later in this thread
        // and so is seen after this raise by any Acquire reader of it (B2).
        self.used_buckets.fetch_max(bucket + 1, Ordering::Relaxed);
        // Release [bucket-publish]: the locals built above happen-before any
        // thread that loads this pointer. Acquire on failure: the winner's
        // locals become visible to us in the same way.
        match self.buckets[bucket].compare_exchange(
            ptr::null_mut(),
            fresh,
            Ordering::Release,
            Ordering::Acquire,
        ) {
            Ok(_) => fresh,
            Err(winner) => {
                // SAFETY: `fresh` was never published; it came from a boxed
                // slice of exactly this length.
                drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(fresh, 1 << bucket)) });
                winner
            }
        }
    }

    /// Every allocated local with its thread index, in index order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, &Local<T>)> + '_ {
        // Relaxed [used-buckets]: see `allocate`; a bucket published after
        // this load is simply not visited, as if its thread came later.
        let used = self.used_buckets.load(Ordering::Relaxed);
        (0..used).flat_map(move |bucket| {
            // Acquire [bucket-publish]: as in `get_or_create`.
            let locals = self.buckets[bucket].load(Ordering::Acquire);
            let slice: &[Padded<T>] = if locals.is_null() {
                &[]
            } else {
                // SAFETY: B1, as in `get_or_create`.
                unsafe { std::slice::from_raw_parts(locals, 1 << bucket) }
            };
            let base = (1usize << bucket) - 1;
            slice
                .iter()
                .enumerate()
                .map(move |(offset, local)| (base + offset, &**local))
        })
    }

    /// The local of thread `index`, if its bucket is allocated (and
    /// visible to this thread).
    #[inline]
    pub(crate) fn get(&self, index: usize) -> Option<&Local<T>> {
        self.get_at(Place::of(index))
    }

    /// The local at `place`, if its bucket is allocated (and visible to
    /// this thread).
    #[inline(always)]
    pub(crate) fn get_at(&self, place: Place) -> Option<&Local<T>> {
        let Place { bucket, offset, .. } = place;
        // Acquire [bucket-publish]: as in `get_or_create`.
        let found = self.buckets[bucket].load(Ordering::Acquire);
        // SAFETY: B1, as in `get_or_create`.
        (!found.is_null()).then(|| unsafe { &**found.add(offset) })
    }

    /// The locals whose chain `half` may hold values (the summary's
    /// candidates), with their indices, starting at index `start` and
    /// wrapping around: Go's order, skipping locals known to be empty.
    #[inline]
    pub(crate) fn candidates(
        &self,
        half: usize,
        start: usize,
    ) -> impl Iterator<Item = (usize, &Local<T>)> + '_ {
        // Relaxed [used-buckets]: as in `iter`; locals of a bucket this
        // load misses are skipped, as if their threads came later.
        let used = self.used_buckets.load(Ordering::Relaxed);
        // Buckets `0..used` hold the indices below 2^used - 1.
        let limit = usize::MAX
            .checked_shr(usize::BITS - used as u32)
            .unwrap_or(0);
        self.summary
            .candidates(half, start, limit)
            .filter_map(move |index| Some((index, self.get(index)?)))
    }
}

impl<T> Drop for Locals<T> {
    fn drop(&mut self) {
        // Local by local: if a value's `Drop` panics, every other local is
        // still dropped and freed, then the first panic propagates.
        let buckets = self
            .buckets
            .iter()
            .enumerate()
            .filter_map(|(bucket, locals)| {
                // Relaxed [exclusive]: `&mut self`; no other thread is left.
                let locals = locals.load(Ordering::Relaxed);
                // SAFETY: B1: allocated in `allocate` as a boxed slice of this
                // length and freed only here, once.
                (!locals.is_null()).then(|| unsafe {
                    Box::from_raw(ptr::slice_from_raw_parts_mut(locals, 1 << bucket)).into_vec()
                })
            });
        for_each_despite_panics(buckets.flatten(), drop);
    }
}

impl<T> fmt::Debug for Locals<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Locals")
            .field("allocated", &self.iter().count())
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn indices_map_to_consecutive_bucket_slots() {
        let locate = |index| {
            let place = Place::of(index);
            (place.bucket, place.offset)
        };
        assert_eq!(locate(0), (0, 0));
        assert_eq!(locate(1), (1, 0));
        assert_eq!(locate(2), (1, 1));
        assert_eq!(locate(3), (2, 0));
        assert_eq!(locate(6), (2, 3));
        assert_eq!(locate(7), (3, 0));
        assert_eq!(
            locate(usize::MAX - 1),
            (BUCKETS - 1, (1 << (BUCKETS - 1)) - 1)
        );
    }

    #[test]
    fn a_place_survives_its_word() {
        for index in [0, 1, 2, 6, 7, 1000, (1 << 40) + 5] {
            let place = Place::of(index);
            let word = place.to_word();
            assert_ne!(word & Place::WORD_VALID, 0);
            assert_eq!(Place::from_word(word), place);
        }
    }

    #[test]
    fn iteration_visits_each_allocated_local_once_in_index_order() {
        let locals = Locals::<u8>::new();
        locals.get_or_create(Place::of(5), 1);
        locals.get_or_create(Place::of(0), 1);
        let indices: Vec<usize> = locals.iter().map(|(index, _)| index).collect();
        assert_eq!(indices, [0, 3, 4, 5, 6]);
        assert!(locals.get(5).is_some() && locals.get(1).is_none());
        assert!(locals.get(7).is_none());
    }

    #[test]
    fn candidates_are_the_marked_locals_from_the_start_index_wrapping() {
        let locals = Locals::<u8>::new();
        for index in [0, 4, 5, 6, 70] {
            let local = locals.get_or_create(Place::of(index), 1);
            // SAFETY: no other thread uses these locals.
            unsafe { local.push(1, index as u8) };
        }
        let order: Vec<usize> = locals.candidates(1, 5).map(|(index, _)| index).collect();
        assert_eq!(order, [5, 6, 70, 0, 4]);
        assert_eq!(locals.candidates(0, 5).count(), 0);
    }
}

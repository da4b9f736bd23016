//! A pool's locals, indexed by thread index, in buckets that never move.
//!
//! ```text
//!   index:   0..6          7..14         15..30            31..62        ...
//!   bucket:  0..6          7..14         15..22            23..30
//!   holds:   1 local each  1 local each  2 locals each     4 locals each
//! ```
//!
//! Eight buckets per doubling of the thread count (one bucket per index
//! below 15): a pool used by T threads allocates locals for at most
//! T + T/8 indices, where buckets that each doubled would allocate up to
//! 2T. A bucket is allocated the first time a thread whose index falls in
//! it uses the pool, and freed only with the pool, so a `&Local` stays
//! valid for as long as the pool is borrowed: the owner's fast path needs
//! no pin and no lock, and growth never moves or loses a value (unlike Go,
//! whose per-P array is reallocated, dropping its contents, when GOMAXPROCS
//! changes).

use super::local::Local;
use super::summary::{Bit, Summary};
use crate::sync::{
    const_fn_unless_loom, null_ptr_array, AtomicPtr, AtomicUsize, CachePadded, Ordering,
};
use crate::unwind::for_each_despite_panics;
use std::fmt;
use std::ptr;

/// Buckets per doubling of the index, as a power of two.
const SPLIT_BITS: u32 = 3;
const SPLIT: usize = 1 << SPLIT_BITS;
/// Indices below this have a bucket each.
const SINGLES: usize = SPLIT - 1;
/// Room for every bucket of an index below [`Place::MAX_INDEX`], rounded up
/// to a power of two so that a mask bounds the bucket number.
const BUCKETS: usize = 256;

type Padded<T> = CachePadded<Local<T>>;

/// The number of locals in bucket `bucket`.
fn bucket_len(bucket: usize) -> usize {
    if bucket < SINGLES {
        1
    } else {
        1 << ((bucket - SINGLES) >> SPLIT_BITS)
    }
}

/// The index of the first local in bucket `bucket`.
fn bucket_start(bucket: usize) -> usize {
    if bucket < SINGLES {
        return bucket;
    }
    let doublings = (bucket - SINGLES) >> SPLIT_BITS;
    let part = (bucket - SINGLES) & (SPLIT - 1);
    ((SPLIT + part) << doublings) - 1
}

/// Where a thread index's local lives; computed once per thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Place {
    pub(crate) index: usize,
    bucket: usize,
    offset: usize,
}

impl Place {
    /// Set in every word made by [`Place::to_word`] (the sign bit, so the
    /// test is one instruction).
    pub(crate) const WORD_VALID: usize = 1 << (usize::BITS - 1);
    const WORD_BUCKET: usize = BUCKETS - 1;
    const WORD_OFFSET_SHIFT: u32 = 8;
    const WORD_OFFSET: usize = (1 << 28) - 1;
    const WORD_INDEX_SHIFT: u32 = 36;
    /// The largest thread index a place can hold (2^27 threads alive at
    /// once).
    pub(crate) const MAX_INDEX: usize = (1 << 27) - 1;

    /// # Panics
    ///
    /// Panics if `index` is past [`Place::MAX_INDEX`].
    pub(crate) fn of(index: usize) -> Place {
        assert!(
            index <= Self::MAX_INDEX,
            "more than 2^27 threads alive at once hold a thread index"
        );
        let position = index + 1;
        let doubling = usize::BITS - 1 - position.leading_zeros();
        let (bucket, offset) = if position <= SINGLES {
            (index, 0)
        } else {
            let shift = doubling - SPLIT_BITS;
            let part = (position >> shift) & (SPLIT - 1);
            let bucket = SINGLES + ((shift as usize) << SPLIT_BITS) + part;
            (bucket, position & ((1 << shift) - 1))
        };
        Place {
            index,
            bucket,
            offset,
        }
    }

    /// The place in one word, decoded by [`Place::from_word`] with masks and
    /// shifts: the bucket in bits 0-7, the offset in bits 8-35, the index in
    /// bits 36-62, and [`Place::WORD_VALID`]. The mask also proves
    /// `bucket < BUCKETS` to the compiler, so indexing the buckets needs no
    /// bounds check.
    pub(crate) fn to_word(self) -> usize {
        debug_assert!(self.index <= Self::MAX_INDEX && self.offset <= Self::WORD_OFFSET);
        self.index << Self::WORD_INDEX_SHIFT
            | self.offset << Self::WORD_OFFSET_SHIFT
            | Self::WORD_VALID
            | self.bucket
    }

    /// Inverse of [`Place::to_word`].
    #[inline(always)]
    pub(crate) fn from_word(word: usize) -> Place {
        Place {
            index: (word & !Self::WORD_VALID) >> Self::WORD_INDEX_SHIFT,
            bucket: word & Self::WORD_BUCKET,
            offset: (word >> Self::WORD_OFFSET_SHIFT) & Self::WORD_OFFSET,
        }
    }
}

const _: () = assert!(
    Place::WORD_BUCKET < 1 << Place::WORD_OFFSET_SHIFT
        && (Place::WORD_OFFSET << Place::WORD_OFFSET_SHIFT) < 1 << Place::WORD_INDEX_SHIFT
        && (Place::MAX_INDEX << Place::WORD_INDEX_SHIFT) < Place::WORD_VALID
);

/// # Invariants
///
/// - B1: `buckets[b]` is null or points to `bucket_len(b)` initialized
///   locals, those of the indices from `bucket_start(b)` on; it goes
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
    pub(crate) fn get_or_create(&self, place: Place) -> &Local<T> {
        let Place { bucket, offset, .. } = place;
        // Acquire [bucket-publish]: pairs with the Release CAS in `allocate`,
        // so the locals' construction is visible before we use them.
        let mut locals = self.buckets[bucket].load(Ordering::Acquire);
        if locals.is_null() {
            locals = self.allocate(bucket);
        }
        // SAFETY: B1: a non-null bucket holds `bucket_len(bucket)` locals,
        // `offset` is below that (`Place::of`), and buckets live as long as
        // `self`.
        unsafe { &*locals.add(offset) }
    }

    #[cold]
    fn allocate(&self, bucket: usize) -> *mut Padded<T> {
        // A plain loop, not an iterator chain: debug builds copy large
        // locals (a private slot holds a `T` inline) once per adapter frame.
        let len = bucket_len(bucket);
        let mut fresh = Vec::with_capacity(len);
        let base = bucket_start(bucket);
        for offset in 0..len {
            // B3: the local's summary groups exist before the local does.
            self.summary.bit(base + offset);
            fresh.push(CachePadded::new(Local::new()));
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
                drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(fresh, len)) });
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
                unsafe { std::slice::from_raw_parts(locals, bucket_len(bucket)) }
            };
            let base = bucket_start(bucket);
            slice
                .iter()
                .enumerate()
                .map(move |(offset, local)| (base + offset, &**local))
        })
    }

    /// The summary bit of the local of thread `index`, which exists (B3:
    /// its groups were allocated before it).
    #[inline]
    pub(crate) fn bit(&self, index: usize) -> Bit {
        self.summary.bit(index)
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

    /// Whether [`candidates`](Self::candidates) of `half` may yield any
    /// local: `false` only if they certainly yield none.
    #[inline]
    pub(crate) fn may_have_candidates(&self, half: usize) -> bool {
        // Relaxed [used-buckets]: as in `candidates`.
        let used = self.used_buckets.load(Ordering::Relaxed);
        self.summary.may_name_any(half, bucket_start(used))
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
        // Buckets `0..used` hold the indices below the start of `used`.
        let limit = bucket_start(used);
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
                    Box::from_raw(ptr::slice_from_raw_parts_mut(locals, bucket_len(bucket)))
                        .into_vec()
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
    use crate::chain::Growth;

    #[test]
    fn indices_map_to_consecutive_bucket_slots() {
        let locate = |index| {
            let place = Place::of(index);
            (place.bucket, place.offset)
        };
        assert_eq!(locate(0), (0, 0));
        assert_eq!(locate(6), (6, 0));
        assert_eq!(locate(7), (7, 0));
        assert_eq!(locate(14), (14, 0));
        assert_eq!(locate(15), (15, 0));
        assert_eq!(locate(16), (15, 1));
        assert_eq!(locate(17), (16, 0));
        assert_eq!(locate(31), (23, 0));
        assert_eq!(locate(34), (23, 3));
        // Every index, in order, fills each bucket from offset 0 up to its
        // length, then starts the next one.
        let mut expected = (0, 0);
        for index in 0..5000 {
            let place = Place::of(index);
            assert_eq!((place.bucket, place.offset), expected, "index {index}");
            assert_eq!(bucket_start(place.bucket) + place.offset, index);
            expected = if place.offset + 1 == bucket_len(place.bucket) {
                (place.bucket + 1, 0)
            } else {
                (place.bucket, place.offset + 1)
            };
        }
        let last = Place::of(Place::MAX_INDEX);
        assert!(last.bucket < BUCKETS && last.offset < bucket_len(last.bucket));
        assert_eq!(bucket_start(last.bucket) + last.offset, Place::MAX_INDEX);
    }

    #[test]
    fn locals_for_t_threads_are_at_most_one_eighth_more_than_t() {
        for threads in [2, 8, 9, 32, 33, 100, 128, 129, 512, 513, 5000] {
            let last = Place::of(threads - 1);
            let allocated = bucket_start(last.bucket) + bucket_len(last.bucket);
            assert!(allocated <= threads + threads / 8, "{threads}: {allocated}");
        }
    }

    #[test]
    #[should_panic(expected = "more than 2^27 threads")]
    fn an_index_past_the_largest_place_is_refused() {
        let _ = Place::of(Place::MAX_INDEX + 1);
    }

    #[test]
    fn a_local_of_a_word_sized_value_takes_128_bytes() {
        // Issue 10's memory bound: the private slot (flags, stamp, value),
        // two chains of two pointers, the counters; cache-padded.
        assert_eq!(std::mem::size_of::<Padded<u64>>(), 128);
    }

    #[test]
    fn a_place_survives_its_word() {
        for index in [0, 1, 2, 6, 7, 1000, (1 << 20) + 5, Place::MAX_INDEX] {
            let place = Place::of(index);
            let word = place.to_word();
            assert_ne!(word & Place::WORD_VALID, 0);
            assert_eq!(Place::from_word(word), place);
        }
    }

    #[test]
    fn iteration_visits_each_allocated_local_once_in_index_order() {
        let locals = Locals::<u8>::new();
        locals.get_or_create(Place::of(33));
        locals.get_or_create(Place::of(0));
        let indices: Vec<usize> = locals.iter().map(|(index, _)| index).collect();
        assert_eq!(
            indices,
            [0, 31, 32, 33, 34],
            "index 33's bucket holds 31-34"
        );
        assert!(locals.get(31).is_some() && locals.get(1).is_none());
        assert!(locals.get(35).is_none());
    }

    #[test]
    fn candidates_are_the_marked_locals_from_the_start_index_wrapping() {
        let locals = Locals::<u8>::new();
        for index in [0, 4, 5, 6, 70] {
            let local = locals.get_or_create(Place::of(index));
            let growth = Growth::new(1, None);
            // SAFETY: no other thread uses these locals.
            unsafe { local.push(1, index as u8, growth, || locals.bit(index)) };
        }
        let order: Vec<usize> = locals.candidates(1, 5).map(|(index, _)| index).collect();
        assert_eq!(order, [5, 6, 70, 0, 4]);
        assert_eq!(locals.candidates(0, 5).count(), 0);
    }
}

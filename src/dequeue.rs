//! `PoolDequeue`: a fixed-size ring with one producer at the head and any
//! number of consumers at the tail (Go: `poolDequeue`).
//!
//! ```text
//!             tail                      head
//!               v                         v
//!   +-----+-----+-----+-----+-----+-----+-----+-----+
//!   |  .  |  a  |  b  |  c  |  d  |  e  |  .  |  .  |   slots, len = 8
//!   +-----+-----+-----+-----+-----+-----+-----+-----+
//!          \_____ consumers' (pop_tail) ____/ \_ producer's (push_head) _/
//!                         <- producer's pop_head end
//!
//!   head_tail: AtomicU64 = head << 32 | tail   (both wrap at 2^32)
//! ```

use crate::sync::{Arc, AtomicBool, AtomicU64, CachePadded, Ordering, UnsafeCell};
use crate::unwind::for_each_despite_panics;
use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ptr;

/// The largest capacity a ring may have: fullness is `head - tail == len`
/// in 32-bit wrapping arithmetic, which must not alias an empty ring.
pub const MAX_CAPACITY: usize = 1 << 30;

const _: () = assert!(MAX_CAPACITY <= (u32::MAX as usize) / 2 + 1);

/// Packs the two 32-bit indices into the one word that consumers CAS.
#[inline]
pub(crate) const fn pack(head: u32, tail: u32) -> u64 {
    ((head as u64) << 32) | tail as u64
}

/// Inverse of [`pack`]: `(head, tail)`.
#[inline]
pub(crate) const fn unpack(word: u64) -> (u32, u32) {
    ((word >> 32) as u32, word as u32)
}

const ONE_HEAD: u64 = 1 << 32;

/// Panics unless `capacity` is a power of two in `1..=MAX_CAPACITY`.
pub(crate) fn check_capacity(what: &str, capacity: usize) {
    assert!(
        capacity.is_power_of_two() && capacity <= MAX_CAPACITY,
        "{what} capacity must be a power of two between 1 and 2^30, got {capacity}"
    );
}

/// One slot of the ring.
struct Slot<T> {
    /// True from the push that fills the slot until the pop that empties it
    /// has finished moving the value out (see `Ring`'s I3).
    occupied: AtomicBool,
    value: UnsafeCell<MaybeUninit<T>>,
}

/// The shared state behind a dequeue; the chain embeds it in every link.
///
/// # Invariants
///
/// - I1: `head_tail` packs `head` (high half) and `tail` (low half). Indices in
///   `[tail, head)` (wrapping) hold values; `head - tail <= len`. Every write
///   to `head_tail` is a read-modify-write, so release sequences are never
///   broken by a plain store.
/// - I2: only the producer increments `head` (push_head) or decrements it
///   (pop_head); consumers only increment `tail` (pop_tail, by CAS). Whoever
///   moves an index past slot `i` by a successful RMW owns slot `i`'s value.
/// - I3: `occupied` is set by the producer before publishing the slot, and
///   cleared by the slot's owner after it has moved the value out. The
///   producer writes a slot only when `occupied` is clear, even when the
///   indices say it is free: a consumer may have advanced `tail` and still be
///   reading.
/// - I4: `value` is written only by the producer (while I3 gives it the slot)
///   and read only by the owner from I2.
pub(crate) struct Ring<T> {
    head_tail: CachePadded<AtomicU64>,
    slots: Box<[Slot<T>]>,
    mask: u32,
}

// SAFETY: values move between threads through the ring (hence `T: Send`);
// every slot access is serialized by I2/I3, so sharing `&Ring` never gives
// two threads access to one value. No `&T` is ever handed out, so `T: Sync`
// is not needed.
unsafe impl<T: Send> Send for Ring<T> {}
// SAFETY: as for `Send` above.
unsafe impl<T: Send> Sync for Ring<T> {}

impl<T> Ring<T> {
    /// A ring of `capacity` slots whose indices both start at `start`.
    pub(crate) fn new(capacity: usize, start: u32) -> Self {
        check_capacity("ring", capacity);
        let slots = (0..capacity)
            .map(|_| Slot {
                occupied: AtomicBool::new(false),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect();
        Ring {
            head_tail: CachePadded::new(AtomicU64::new(pack(start, start))),
            slots,
            mask: (capacity - 1) as u32,
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    #[inline(always)]
    fn slot(&self, index: u32) -> &Slot<T> {
        let at = (index & self.mask) as usize;
        debug_assert!(at < self.slots.len());
        // SAFETY: `mask` is the capacity minus one, and the capacity is a
        // power of two (`check_capacity`), so `at` is below it. Unchecked:
        // without the bounds checks, an overflow put and take runs 191
        // instructions instead of 196.
        unsafe { self.slots.get_unchecked(at) }
    }

    /// A snapshot of the number of values, exact only when nothing runs
    /// concurrently.
    pub(crate) fn len(&self) -> usize {
        // Relaxed [len-snapshot]: a statistic; no memory is read through it.
        let (head, tail) = unpack(self.head_tail.load(Ordering::Relaxed));
        head.wrapping_sub(tail) as usize
    }

    /// Adds `value` at the head, or gives it back when the ring is full or
    /// the next slot is still being vacated by a consumer. `Ok(true)` if the
    /// ring was empty just before: the answer comes from the
    /// read-modify-write that publishes the value, so it describes the ring
    /// at the instant the value became visible to consumers.
    ///
    /// # Safety
    ///
    /// Only one thread at a time may call the producer methods (`push_head`,
    /// `pop_head`), and calls by different threads must be ordered by
    /// happens-before.
    #[inline]
    pub(crate) unsafe fn push_head(&self, value: T) -> Result<bool, T> {
        // Relaxed [own-head]: head is only changed by this producer (I2); a
        // stale tail can only make the ring look fuller than it is.
        let (head, tail) = unpack(self.head_tail.load(Ordering::Relaxed));
        if head.wrapping_sub(tail) as usize == self.slots.len() {
            return Err(value);
        }
        let slot = self.slot(head);
        // Acquire [slot-release]: the consumer that last popped this slot
        // moved the value out before its Release store cleared the flag;
        // our write below must come after that read (I3).
        if slot.occupied.load(Ordering::Acquire) {
            return Err(value);
        }
        // SAFETY: I3 gives this slot to the producer: it is outside
        // [tail, head) and its last owner has finished with it.
        slot.value.with_mut(|p| unsafe { (*p).write(value) });
        // Relaxed [own-flag]: only the producer reads `occupied`; consumers
        // are ordered after this store by the head increment below.
        slot.occupied.store(true, Ordering::Relaxed);
        // Release [slot-publish]: the value written above happens-before the
        // pop_tail whose Acquire CAS moves tail past this slot. A plain
        // store would race with consumers' CAS on the same word (I1).
        let before = self.head_tail.fetch_add(ONE_HEAD, Ordering::Release);
        let (head, tail) = unpack(before);
        Ok(head == tail)
    }

    /// Adds `older`, then `newer` as the newest value, with one
    /// read-modify-write; gives both back when the ring lacks two free
    /// slots (as `push_head` gives one back). `Ok(true)` if the ring was
    /// empty just before, as for `push_head`.
    ///
    /// # Safety
    ///
    /// As for [`Ring::push_head`].
    #[inline(always)]
    pub(crate) unsafe fn push_head_pair(&self, older: T, newer: T) -> Result<bool, (T, T)> {
        // SAFETY: forwarded from the caller.
        match unsafe { self.pair_room() } {
            // SAFETY: as above; no producer call since `pair_room`.
            Some(room) => Ok(unsafe { room.push(older, newer) }),
            None => Err((older, newer)),
        }
    }

    /// The two slots at the head, if both are free: the check of
    /// [`push_head_pair`](Self::push_head_pair), made before its caller
    /// has the values, which [`PairRoom::push`] then writes.
    ///
    /// # Safety
    ///
    /// As for [`Ring::push_head`].
    #[inline(always)]
    pub(crate) unsafe fn pair_room(&self) -> Option<PairRoom<'_, T>> {
        // Relaxed [own-head]: as in push_head.
        let (head, tail) = unpack(self.head_tail.load(Ordering::Relaxed));
        if head.wrapping_sub(tail) as usize + 2 > self.slots.len() {
            return None;
        }
        let (first, second) = (self.slot(head), self.slot(head.wrapping_add(1)));
        // Acquire [slot-release]: as in push_head, for each slot.
        if first.occupied.load(Ordering::Acquire) || second.occupied.load(Ordering::Acquire) {
            return None;
        }
        Some(PairRoom {
            head_tail: &self.head_tail,
            first,
            second,
        })
    }

    /// Removes the two newest values with one read-modify-write, newest
    /// first, if the ring holds two or more; otherwise removes nothing.
    ///
    /// # Safety
    ///
    /// As for [`Ring::push_head`].
    #[inline]
    pub(crate) unsafe fn pop_head_pair(&self) -> Option<(T, T)> {
        let (mut newest, mut next) = (MaybeUninit::uninit(), MaybeUninit::uninit());
        // SAFETY: forwarded from the caller.
        if !unsafe { self.pop_head_pair_into(&mut newest, &mut next) } {
            return None;
        }
        // SAFETY: `pop_head_pair_into` returned true, so it wrote both.
        Some(unsafe { (newest.assume_init(), next.assume_init()) })
    }

    /// [`pop_head_pair`](Self::pop_head_pair) into `newest` and `next`,
    /// copied straight from the slots; returns whether it wrote them. The
    /// pool's take uses this form: a pair returned in a tuple or an enum
    /// was copied in pieces of other widths than the next copy read, which
    /// misses store-to-load forwarding (docs/design.md, "Get").
    ///
    /// # Safety
    ///
    /// As for [`Ring::push_head`].
    #[inline]
    pub(crate) unsafe fn pop_head_pair_into(
        &self,
        newest: &mut MaybeUninit<T>,
        next: &mut MaybeUninit<T>,
    ) -> bool {
        let Some(head) = self.claim_newest(2) else {
            return false;
        };
        let (older, newer) = (self.slot(head), self.slot(head.wrapping_add(1)));
        // SAFETY: the successful CAS gave both slots to us (I2), and the
        // producer itself wrote them (I4); `newest` is a distinct cell.
        newer
            .value
            .with(|p| unsafe { ptr::copy_nonoverlapping(p, newest, 1) });
        // SAFETY: as above.
        older
            .value
            .with(|p| unsafe { ptr::copy_nonoverlapping(p, next, 1) });
        // Relaxed [own-flag]: as in pop_head.
        newer.occupied.store(false, Ordering::Relaxed);
        // Relaxed [own-flag]: as in pop_head.
        older.occupied.store(false, Ordering::Relaxed);
        true
    }

    /// Removes the newest value.
    ///
    /// # Safety
    ///
    /// As for [`Ring::push_head`]: the caller is the single producer.
    #[inline]
    pub(crate) unsafe fn pop_head(&self) -> Option<T> {
        let head = self.claim_newest(1)?;
        let slot = self.slot(head);
        // SAFETY: the successful CAS gave this slot to us (I2) and the
        // producer itself wrote it (I4).
        let value = slot.value.with(|p| unsafe { (*p).assume_init_read() });
        // Relaxed [own-flag]: only the producer reads the flag.
        slot.occupied.store(false, Ordering::Relaxed);
        Some(value)
    }

    /// Claims the `count` newest values for the producer, if the ring holds
    /// that many, by moving `head` back past them with one CAS; returns the
    /// index of the oldest slot claimed (the new `head`).
    #[inline(always)]
    fn claim_newest(&self, count: u32) -> Option<u32> {
        // Relaxed [own-head]: the CAS below decides; see its comment.
        let mut word = self.head_tail.load(Ordering::Relaxed);
        loop {
            let (head, tail) = unpack(word);
            if head.wrapping_sub(tail) < count {
                return None;
            }
            let head = head.wrapping_sub(count);
            // Relaxed [own-slot]: the slots claimed here were written by
            // this producer; winning the RMW against consumers' CAS on the
            // same word is all that ownership needs (I2). Failure reloads.
            // (The new word is `word` less `count` heads: the same as
            // `pack(head, tail)`, as the high half wraps on its own, in
            // fewer instructions.)
            match self.head_tail.compare_exchange_weak(
                word,
                word.wrapping_sub(u64::from(count) * ONE_HEAD),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(head),
                Err(current) => word = current,
            }
        }
    }

    /// Removes the oldest value; any thread may call it.
    pub(crate) fn pop_tail(&self) -> Option<T> {
        // Relaxed [tail-load]: the CAS below acquires. Callers that need an
        // empty answer to be final (the chain) order this load after the
        // last push by their own Acquire edge (link-next).
        let mut word = self.head_tail.load(Ordering::Relaxed);
        let tail = loop {
            let (head, tail) = unpack(word);
            if head == tail {
                return None;
            }
            // Acquire [slot-publish]: pairs with push_head's Release
            // fetch_add; all later writes to the word are RMWs (I1), so the
            // release sequence reaches this CAS. Failure reloads only.
            match self.head_tail.compare_exchange_weak(
                word,
                pack(head, tail.wrapping_add(1)),
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => break tail,
                Err(current) => word = current,
            }
        };
        let slot = self.slot(tail);
        // SAFETY: the CAS gave this slot to us (I2); slot-publish makes the
        // producer's write visible, and the producer will not overwrite it
        // until we clear `occupied` below (I3).
        let value = slot.value.with(|p| unsafe { (*p).assume_init_read() });
        // Release [slot-release]: our read above happens-before the
        // producer's next write to this slot (its Acquire flag load).
        slot.occupied.store(false, Ordering::Release);
        Some(value)
    }
}

/// Two free slots at a ring's head, found by [`Ring::pair_room`]. Only
/// the producer makes one; while it holds it, consumers can only free
/// more slots, so the room stays free until [`push`](Self::push).
pub(crate) struct PairRoom<'a, T> {
    head_tail: &'a AtomicU64,
    first: &'a Slot<T>,
    second: &'a Slot<T>,
}

impl<T> PairRoom<'_, T> {
    /// Writes `older`, then `newer` as the newest value, into the room and
    /// publishes both with one read-modify-write. Returns whether the ring
    /// was empty just before, as `push_head` does.
    ///
    /// # Safety
    ///
    /// As for [`Ring::push_head`], and the producer has made no other
    /// producer call on the ring since [`Ring::pair_room`] made the room.
    #[inline(always)]
    pub(crate) unsafe fn push(self, older: T, newer: T) -> bool {
        let PairRoom {
            head_tail,
            first,
            second,
        } = self;
        // SAFETY: I3 gives both slots to the producer, as in push_head:
        // `pair_room` saw both flags clear, and only the producer sets them.
        first.value.with_mut(|p| unsafe { (*p).write(older) });
        // SAFETY: as above.
        second.value.with_mut(|p| unsafe { (*p).write(newer) });
        // Relaxed [own-flag]: as in push_head.
        first.occupied.store(true, Ordering::Relaxed);
        // Relaxed [own-flag]: as in push_head.
        second.occupied.store(true, Ordering::Relaxed);
        // Release [slot-publish]: as in push_head; one increment publishes
        // both values, and a consumer whose CAS moves tail past either
        // slot acquires both writes.
        let before = head_tail.fetch_add(2 * ONE_HEAD, Ordering::Release);
        let (head, tail) = unpack(before);
        head == tail
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        // Relaxed [exclusive]: `&mut self` means no other thread is left.
        let (head, tail) = unpack(self.head_tail.load(Ordering::Relaxed));
        let live = (0..head.wrapping_sub(tail)).map(|i| tail.wrapping_add(i));
        for_each_despite_panics(live, |index| {
            // SAFETY: indices in [tail, head) hold initialized values (I1)
            // and each is visited once.
            self.slot(index)
                .value
                .with_mut(|p| unsafe { (*p).assume_init_drop() });
        });
    }
}

/// A fixed-size ring of values: one producer (this handle) pushes and pops at
/// the head, any number of [`DequeueStealer`]s pop at the tail
/// (Go: `poolDequeue`).
///
/// Values are stored inline in the ring. Dropping the last handle drops every
/// value still inside, exactly once.
///
/// # Progress
///
/// `push_head` and `push_head_pair` are wait-free (one read-modify-write,
/// no loop). `pop_head`, `pop_head_pair` and [`DequeueStealer::pop_tail`]
/// are lock-free: a compare-and-swap loop that no other thread's delay
/// can hold up. Nothing takes a lock, and nothing allocates after
/// `new`, which allocates the ring's `capacity` slots.
///
/// # Synchronization
///
/// A `push_head(x)` happens-before the `pop_head` or `pop_tail` that returns `x`.
///
/// # Examples
///
/// ```
/// use victim_pool::PoolDequeue;
///
/// let dequeue = PoolDequeue::new(4);
/// let stealer = dequeue.stealer();
/// for i in 0..4 {
///     dequeue.push_head(i).unwrap();
/// }
/// assert_eq!(dequeue.push_head(4), Err(4)); // full
/// assert_eq!(dequeue.pop_head(), Some(3)); // newest first
/// let thief = std::thread::spawn(move || stealer.pop_tail());
/// assert_eq!(thief.join().unwrap(), Some(0)); // oldest first
/// ```
///
/// The producer handle is `Send` but not `Sync`: only one thread pushes.
///
/// ```compile_fail
/// fn is_sync<T: Sync>() {}
/// is_sync::<victim_pool::PoolDequeue<u32>>();
/// ```
pub struct PoolDequeue<T> {
    ring: Arc<Ring<T>>,
    /// Makes the handle `!Sync`: it is the single producer.
    _producer: PhantomData<Cell<()>>,
}

/// A handle that pops the oldest values of a [`PoolDequeue`] from any thread.
///
/// Clone it once per consumer thread, or share it: it is `Send + Sync`.
pub struct DequeueStealer<T> {
    ring: Arc<Ring<T>>,
}

impl<T> PoolDequeue<T> {
    /// Creates an empty dequeue of `capacity` slots.
    ///
    /// # Panics
    ///
    /// Panics unless `capacity` is a power of two between 1 and 2^30
    /// ([`MAX_CAPACITY`]).
    ///
    /// ```should_panic
    /// # use victim_pool::PoolDequeue;
    /// let _ = PoolDequeue::<u8>::new(12); // not a power of two
    /// ```
    pub fn new(capacity: usize) -> Self {
        Self::with_start_index(capacity, 0)
    }

    /// Creates an empty dequeue whose head and tail indices both start at
    /// `start` rather than 0.
    ///
    /// Behaviour is the same for any start; this exists so tests can reach the
    /// 32-bit index wraparound quickly (Go's own test starts at 2^32 - 500).
    ///
    /// # Panics
    ///
    /// As for [`PoolDequeue::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use victim_pool::PoolDequeue;
    /// let dequeue = PoolDequeue::with_start_index(2, u32::MAX);
    /// for i in 0..10 {
    ///     dequeue.push_head(i).unwrap(); // the head index wraps to 0 here
    ///     assert_eq!(dequeue.stealer().pop_tail(), Some(i));
    /// }
    /// ```
    pub fn with_start_index(capacity: usize, start: u32) -> Self {
        check_capacity("PoolDequeue", capacity);
        PoolDequeue {
            ring: Arc::new(Ring::new(capacity, start)),
            _producer: PhantomData,
        }
    }

    /// The number of slots.
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// The number of values at this instant; stale as soon as it returns
    /// when stealers run concurrently.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether [`len`](Self::len) is zero.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds `value` as the newest value.
    ///
    /// Returns `Err(value)` when all slots are in use, including a slot whose
    /// value a stealer has claimed but not yet finished moving out.
    pub fn push_head(&self, value: T) -> Result<(), T> {
        // SAFETY: this handle is the only producer, and it is `!Sync`, so
        // calls through it are ordered by happens-before.
        unsafe { self.ring.push_head(value) }.map(|_| ())
    }

    /// Removes the newest value.
    pub fn pop_head(&self) -> Option<T> {
        // SAFETY: as in `push_head`.
        unsafe { self.ring.pop_head() }
    }

    /// Adds `older`, then `newer` as the newest value, with one atomic
    /// read-modify-write where two `push_head` calls make two. Not in Go's
    /// poolDequeue.
    ///
    /// Returns both values, and adds neither, unless two slots are free.
    pub fn push_head_pair(&self, older: T, newer: T) -> Result<(), (T, T)> {
        // SAFETY: as in `push_head`.
        unsafe { self.ring.push_head_pair(older, newer) }.map(|_| ())
    }

    /// Removes the two newest values, newest first, with one atomic
    /// read-modify-write. Not in Go's poolDequeue.
    ///
    /// Returns `None`, and removes nothing, unless the dequeue holds two or
    /// more values.
    pub fn pop_head_pair(&self) -> Option<(T, T)> {
        // SAFETY: as in `push_head`.
        unsafe { self.ring.pop_head_pair() }
    }

    /// A new handle for popping the oldest values from other threads.
    pub fn stealer(&self) -> DequeueStealer<T> {
        DequeueStealer {
            ring: Arc::clone(&self.ring),
        }
    }
}

impl<T> DequeueStealer<T> {
    /// Removes the oldest value, or returns `None` if the dequeue was empty.
    pub fn pop_tail(&self) -> Option<T> {
        self.ring.pop_tail()
    }

    /// The number of values at this instant.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether [`len`](Self::len) is zero.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Clone for DequeueStealer<T> {
    fn clone(&self) -> Self {
        DequeueStealer {
            ring: Arc::clone(&self.ring),
        }
    }
}

impl<T> fmt::Debug for PoolDequeue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolDequeue")
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .finish()
    }
}

impl<T> fmt::Debug for DequeueStealer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DequeueStealer")
            .field("len", &self.len())
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn pack_then_unpack_gives_back_both_indices(head: u32, tail: u32) {
            prop_assert_eq!(unpack(pack(head, tail)), (head, tail));
        }

        #[test]
        fn adding_one_head_leaves_tail_alone_and_wraps_head(head: u32, tail: u32) {
            let word = pack(head, tail).wrapping_add(ONE_HEAD);
            prop_assert_eq!(unpack(word), (head.wrapping_add(1), tail));
        }
    }

    #[test]
    fn capacity_one_holds_one_value() {
        let dequeue = PoolDequeue::new(1);
        assert_eq!(dequeue.push_head('a'), Ok(()));
        assert_eq!(dequeue.push_head('b'), Err('b'));
        assert_eq!(dequeue.stealer().pop_tail(), Some('a'));
        assert_eq!(dequeue.push_head('b'), Ok(()));
        assert_eq!(dequeue.pop_head(), Some('b'));
        assert_eq!(dequeue.pop_head(), None);
    }

    #[test]
    fn pairs_move_two_values_only_when_two_slots_or_two_values_are_there() {
        let dequeue = PoolDequeue::with_start_index(4, u32::MAX - 2);
        dequeue.push_head(0).unwrap();
        assert_eq!(dequeue.pop_head_pair(), None, "one value: nothing popped");
        dequeue.push_head_pair(1, 2).unwrap();
        assert_eq!(dequeue.push_head_pair(3, 4), Err((3, 4)), "one slot free");
        assert_eq!(dequeue.len(), 3);
        assert_eq!(dequeue.pop_head_pair(), Some((2, 1)), "newest first");
        assert_eq!(dequeue.stealer().pop_tail(), Some(0));
        // Across the wrap of both indices, and around the ring's end.
        for round in 0..3 {
            dequeue.push_head_pair(round, round + 10).unwrap();
            dequeue.push_head(round + 20).unwrap();
            assert_eq!(dequeue.stealer().pop_tail(), Some(round));
            assert_eq!(dequeue.pop_head_pair(), Some((round + 20, round + 10)));
        }
        assert!(dequeue.is_empty());
    }

    #[test]
    fn values_left_by_pairs_are_dropped_once_with_the_ring() {
        let counted = std::rc::Rc::new(());
        let dequeue = PoolDequeue::new(4);
        dequeue
            .push_head_pair(counted.clone(), counted.clone())
            .unwrap();
        dequeue
            .push_head_pair(counted.clone(), counted.clone())
            .unwrap();
        drop(dequeue.pop_head_pair());
        assert_eq!(std::rc::Rc::strong_count(&counted), 3);
        drop(dequeue);
        assert_eq!(std::rc::Rc::strong_count(&counted), 1);
    }

    #[test]
    #[should_panic(expected = "power of two between 1 and 2^30, got 0")]
    fn zero_capacity_is_rejected_with_the_rule() {
        let _ = PoolDequeue::<u8>::new(0);
    }

    #[test]
    #[should_panic(expected = "got 2147483648")]
    fn capacity_above_two_to_the_thirty_is_rejected() {
        let _ = PoolDequeue::<()>::new(1 << 31);
    }

    #[test]
    fn zero_sized_values_are_counted_like_any_other() {
        let dequeue = PoolDequeue::with_start_index(4, u32::MAX - 1);
        for _ in 0..4 {
            dequeue.push_head(()).unwrap();
        }
        assert_eq!(dequeue.push_head(()), Err(()));
        assert_eq!(dequeue.len(), 4);
        assert_eq!(dequeue.stealer().pop_tail(), Some(()));
        assert_eq!(dequeue.len(), 3);
    }
}

//! `PoolChain`: an unbounded queue made of rings that double in size
//! (Go: `poolChain`).
//!
//! ```text
//!   tail (atomic, stealers)                          head (producer only)
//!     |                                                   |
//!     v         next ->            next ->                v
//!   +------+  ---------->  +--------+  ---------->  +----------------+
//!   | 8    |               | 16     |               | 32             |
//!   +------+  <----------  +--------+  <----------  +----------------+
//!               <- prev                 <- prev
//!   pop_tail here, unlinking           push_head / pop_head here; pop_head
//!   links found empty once `next`      walks `prev` (pinned) when the head
//!   is set; freed by the epoch         link is empty
//! ```

use crate::dequeue::{check_capacity, PairRoom, Ring, MAX_CAPACITY};
use crate::sync::{epoch, Arc, AtomicPtr, AtomicUsize, Ordering, UnsafeCell};
use crate::unwind::for_each_despite_panics;
use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ptr;

/// The capacity of a chain's first link unless chosen otherwise.
pub const DEFAULT_FIRST_CAPACITY: usize = 8;

/// One ring of the chain.
struct Link<T> {
    ring: Ring<T>,
    /// The next newer link: null until the producer starts a newer link,
    /// then set once and never changed (see `RawChain`'s I3).
    next: AtomicPtr<Link<T>>,
    /// The next older link: set at creation, cleared once by the stealer that
    /// unlinks that older link (I4).
    prev: AtomicPtr<Link<T>>,
    /// The chain's count of allocated slots, if it keeps one (`Growth`),
    /// shared so that a link freed by the epoch after the chain is gone can
    /// still subtract itself.
    allocated_slots: Option<Arc<AtomicUsize>>,
    freed: epoch::FreedCheck,
}

impl<T> epoch::Retire for Link<T> {
    fn freed_check(&self) -> &epoch::FreedCheck {
        &self.freed
    }
}

/// Dereferences a link pointer read from the chain, checking (under loom)
/// that the epoch has not freed it.
///
/// # Safety
///
/// `link` is non-null and was read from `tail`, `next` or `prev` while the
/// caller was pinned (or is the head link, which is never retired), and the
/// result is not used after that pin ends.
#[inline(always)]
unsafe fn deref<'a, T>(link: *mut Link<T>) -> &'a Link<T> {
    // SAFETY: forwarded from the caller.
    let link = unsafe { &*link };
    link.freed.assert_live();
    link
}

impl<T> Link<T> {
    fn boxed(capacity: usize, prev: *mut Link<T>, growth: Growth<'_>) -> *mut Link<T> {
        if let Some(slots) = growth.allocated_slots {
            // Relaxed [slot-count]: a statistic; no memory is published by it.
            slots.fetch_add(capacity, Ordering::Relaxed);
        }
        Box::into_raw(Box::new(Link {
            ring: Ring::new(capacity, 0),
            next: AtomicPtr::new(ptr::null_mut()),
            prev: AtomicPtr::new(prev),
            allocated_slots: growth.allocated_slots.cloned(),
            freed: epoch::FreedCheck::default(),
        }))
    }
}

impl<T> Drop for Link<T> {
    fn drop(&mut self) {
        if let Some(slots) = &self.allocated_slots {
            // Relaxed [slot-count]: as in `boxed`.
            slots.fetch_sub(self.ring.capacity(), Ordering::Relaxed);
        }
    }
}

/// How a chain grows: the capacity of its first link, and where its
/// allocated slots are counted, if anywhere. The chain's owner (a
/// [`PoolChain`], or a pool for all its locals' chains) keeps these and
/// passes them to each push, so that a chain itself is two pointers.
#[derive(Clone, Copy)]
pub(crate) struct Growth<'a> {
    first_capacity: usize,
    allocated_slots: Option<&'a Arc<AtomicUsize>>,
}

impl<'a> Growth<'a> {
    /// Growth from `first_capacity`, which the owner checked when it was
    /// made (`check_capacity`), counting allocated slots into
    /// `allocated_slots` if given.
    #[inline(always)]
    pub(crate) fn new(
        first_capacity: usize,
        allocated_slots: Option<&'a Arc<AtomicUsize>>,
    ) -> Self {
        debug_assert!(first_capacity.is_power_of_two() && first_capacity <= MAX_CAPACITY);
        Growth {
            first_capacity,
            allocated_slots,
        }
    }
}

/// The shared state behind a chain; the pool embeds it directly.
///
/// # Invariants
///
/// - I1: `head` is read and written by the producer only. It is null until
///   the first push, then the newest link. The head link is never freed while
///   the chain lives, because stealers only unlink links whose `next` is set.
/// - I2: `tail` is null until the first push, then the oldest link not yet
///   unlinked. Stealers move it forward by CAS, one link at a time; a link is
///   unlinked by the stealer whose CAS moves `tail` past it.
/// - I3: `next` goes from null to the newer link once, after the producer has
///   stopped pushing into this link. A link with `next` set that a pop finds
///   empty stays empty forever (only `pop_head` touches it after that).
/// - I4: `prev` goes from the older link to null once, after that older link
///   was unlinked. Links reached through `prev` may be retired, so the
///   producer walks `prev` only while pinned.
/// - I5: an unlinked link is retired with `epoch::defer_free` exactly once (by
///   the unlinking stealer), after it became unreachable through `tail` and
///   through its successor's `prev`.
/// - I6: the producer may release an empty chain's only link
///   (`release_if_empty`): `tail` goes from that link back to null, `head`
///   too, and the link is retired as in I5. The chain is then as new: null
///   until the next push (I1, I2).
pub(crate) struct RawChain<T> {
    head: UnsafeCell<*mut Link<T>>,
    tail: AtomicPtr<Link<T>>,
}

// SAFETY: links are shared between the producer and stealers exactly as rings
// are (`Ring<T>: Send + Sync` for `T: Send`); `head` is touched only by the
// producer, which the unsafe producer methods require callers to guarantee.
unsafe impl<T: Send> Send for RawChain<T> {}
// SAFETY: as for `Send` above.
unsafe impl<T: Send> Sync for RawChain<T> {}

impl<T> RawChain<T> {
    /// An empty chain; nothing is allocated until the first push.
    pub(crate) fn new() -> Self {
        RawChain {
            head: UnsafeCell::new(ptr::null_mut()),
            tail: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Adds `value` as the newest value, starting a new link twice the size
    /// of the head link (capped at 2^30) when the head link refuses it.
    ///
    /// Returns whether the value went into an empty ring (the head ring was
    /// empty, or a new link was started): only then can the chain have gone
    /// from empty to non-empty. `false` means the head ring already held a
    /// value when this one was published.
    ///
    /// # Safety
    ///
    /// The caller is the chain's single producer: producer calls
    /// (`push_head`, `pop_head`) never overlap and are ordered by
    /// happens-before. Every push passes the same `growth`.
    #[inline]
    pub(crate) unsafe fn push_head(&self, value: T, growth: Growth<'_>) -> bool {
        // SAFETY: the producer alone touches `head` (I1).
        let head = self.head.with(|p| unsafe { *p });
        if head.is_null() {
            // SAFETY: forwarded from the caller.
            unsafe { self.push_into_new_link(head, growth.first_capacity, value, growth) };
            return true;
        }
        // SAFETY: the head link is never retired while it is the head (I1).
        let head_link = unsafe { deref(head) };
        // SAFETY: we are the producer of every link's ring.
        match unsafe { head_link.ring.push_head(value) } {
            Ok(was_empty) => was_empty,
            Err(value) => {
                let capacity = (head_link.ring.capacity() * 2).min(MAX_CAPACITY);
                // SAFETY: forwarded from the caller.
                unsafe { self.push_into_new_link(head, capacity, value, growth) };
                true
            }
        }
    }

    /// Adds `older`, then `newer` as the newest value: with one
    /// read-modify-write when the head ring has two free slots, else as two
    /// `push_head` calls. Returns whether either went into an empty ring,
    /// as `push_head` does.
    ///
    /// # Safety
    ///
    /// As for [`RawChain::push_head`].
    #[inline]
    pub(crate) unsafe fn push_head_pair(&self, older: T, newer: T, growth: Growth<'_>) -> bool {
        // SAFETY: forwarded from the caller.
        match unsafe { self.head_pair_room() } {
            // SAFETY: as above; no producer call since the room was made.
            Some(room) => unsafe { room.push(older, newer) },
            // SAFETY: forwarded from the caller.
            None => unsafe { self.push_one_by_one(older, newer, growth) },
        }
    }

    /// Two free slots at the head ring's head, if it has them
    /// ([`Ring::pair_room`]).
    ///
    /// # Safety
    ///
    /// As for [`RawChain::push_head`].
    #[inline(always)]
    pub(crate) unsafe fn head_pair_room(&self) -> Option<PairRoom<'_, T>> {
        // SAFETY: the producer alone touches `head` (I1).
        let head = self.head.with(|p| unsafe { *p });
        if head.is_null() {
            return None;
        }
        // SAFETY: the head link is never retired while it is the head (I1),
        // and only the producer (the caller) moves the head on; we are the
        // producer of its ring.
        unsafe { deref(head).ring.pair_room() }
    }

    /// `push_head_pair` when the head ring lacks room for both: the first
    /// may fill it, and the second start a new link.
    ///
    /// # Safety
    ///
    /// As for [`RawChain::push_head`].
    #[cold]
    #[inline(never)]
    unsafe fn push_one_by_one(&self, older: T, newer: T, growth: Growth<'_>) -> bool {
        // SAFETY: forwarded from the caller.
        let first = unsafe { self.push_head(older, growth) };
        // SAFETY: forwarded from the caller.
        let second = unsafe { self.push_head(newer, growth) };
        first || second
    }

    /// The rare half of `push_head`: allocates a link of `capacity` slots
    /// after `head` (null for the first link) and puts `value` in it. Kept
    /// out of line so that the common push stays small enough to inline.
    ///
    /// # Safety
    ///
    /// As for [`RawChain::push_head`]; `head` is the current head link.
    #[cold]
    #[inline(never)]
    unsafe fn push_into_new_link(
        &self,
        head: *mut Link<T>,
        capacity: usize,
        value: T,
        growth: Growth<'_>,
    ) {
        let link = Link::boxed(capacity, head, growth);
        // SAFETY: the link is new and unpublished, so we are its only user.
        if unsafe { deref(link).ring.push_head(value) }.is_err() {
            unreachable!("a new ring accepts its first value");
        }
        if head.is_null() {
            // Release [link-publish]: the link's construction and first
            // value happen-before any stealer that loads this tail.
            self.tail.store(link, Ordering::Release);
        } else {
            // Release [link-next]: the new link, and every push into the old
            // one, happen-before the stealer that sees `next` set (I3).
            // SAFETY: `head` is still the head link, alive by I1.
            unsafe { deref(head) }.next.store(link, Ordering::Release);
        }
        // SAFETY: the producer alone touches `head` (I1).
        self.head.with_mut(|p| unsafe { *p = link });
    }

    /// Removes the newest value, walking to older links only when the head
    /// link is empty. Pins the epoch only for that walk.
    ///
    /// # Safety
    ///
    /// As for [`RawChain::push_head`].
    #[inline]
    pub(crate) unsafe fn pop_head(&self) -> Option<T> {
        // SAFETY: the producer alone touches `head` (I1).
        let head = self.head.with(|p| unsafe { *p });
        if head.is_null() {
            return None;
        }
        // SAFETY: the head link is never retired while it is the head (I1).
        let head = unsafe { deref(head) };
        // SAFETY: we are the producer of every link's ring.
        match unsafe { head.ring.pop_head() } {
            Some(value) => Some(value),
            // SAFETY: forwarded from the caller.
            None => unsafe { Self::pop_older_links(head) },
        }
    }

    /// Removes the two newest values, newest first, into `newest` and
    /// `next`: with one read-modify-write when the head ring holds both,
    /// else as two `pop_head` calls. Returns how many it wrote (`newest`
    /// first): 0, 1 or 2.
    ///
    /// # Safety
    ///
    /// As for [`RawChain::push_head`].
    #[inline]
    pub(crate) unsafe fn pop_head_pair_into(
        &self,
        newest: &mut MaybeUninit<T>,
        next: &mut MaybeUninit<T>,
    ) -> usize {
        // SAFETY: forwarded from the caller.
        if unsafe { self.try_pop_head_pair_into(newest, next) } {
            return 2;
        }
        // SAFETY: forwarded from the caller.
        unsafe { self.pop_two_by_one(newest, next) }
    }

    /// [`pop_head_pair_into`](Self::pop_head_pair_into) when the head ring
    /// holds two or more; returns whether it wrote both. Takes nothing
    /// otherwise.
    ///
    /// # Safety
    ///
    /// As for [`RawChain::push_head`].
    #[inline(always)]
    pub(crate) unsafe fn try_pop_head_pair_into(
        &self,
        newest: &mut MaybeUninit<T>,
        next: &mut MaybeUninit<T>,
    ) -> bool {
        // SAFETY: the producer alone touches `head` (I1).
        let head = self.head.with(|p| unsafe { *p });
        // SAFETY: the head link is never retired while it is the head (I1);
        // we are the producer of its ring.
        !head.is_null() && unsafe { deref(head).ring.pop_head_pair_into(newest, next) }
    }

    /// `pop_head_pair_into` when the head ring holds fewer than two: the
    /// values may sit in older links.
    ///
    /// # Safety
    ///
    /// As for [`RawChain::push_head`].
    #[cold]
    #[inline(never)]
    unsafe fn pop_two_by_one(
        &self,
        newest: &mut MaybeUninit<T>,
        next: &mut MaybeUninit<T>,
    ) -> usize {
        // SAFETY: forwarded from the caller.
        let Some(value) = (unsafe { self.pop_head() }) else {
            return 0;
        };
        newest.write(value);
        // SAFETY: forwarded from the caller.
        match unsafe { self.pop_head() } {
            Some(value) => {
                next.write(value);
                2
            }
            None => 1,
        }
    }

    /// The rare half of `pop_head`: the head link is empty, so walk `prev`
    /// to older links that stealers have not drained yet. Out of line, as
    /// for `push_into_new_link`.
    ///
    /// # Safety
    ///
    /// As for [`RawChain::pop_head`]; `head` is the current head link.
    #[cold]
    #[inline(never)]
    unsafe fn pop_older_links(head: &Link<T>) -> Option<T> {
        // Relaxed [prev-walk]: a null check only; the pointer is loaded
        // again below, under a pin, before it is followed.
        if head.prev.load(Ordering::Relaxed).is_null() {
            return None;
        }
        let _guard = epoch::pin();
        // Relaxed [prev-walk]: the links reached were all created by this
        // producer (their contents are its own writes); the pin, not this
        // load, keeps them alive.
        let mut link = head.prev.load(Ordering::Relaxed);
        while !link.is_null() {
            // SAFETY: `link` was loaded from `prev` while pinned, so a
            // stealer that unlinks it retires it after this pin (I4, I5)
            // and the epoch keeps it alive until `_guard` drops.
            let older = unsafe { deref(link) };
            // SAFETY: older links are only popped, never pushed, and we are
            // the producer of their rings.
            if let Some(value) = unsafe { older.ring.pop_head() } {
                return Some(value);
            }
            // Relaxed [prev-walk]: as above.
            link = older.prev.load(Ordering::Relaxed);
        }
        None
    }

    /// Removes the oldest value, unlinking tail links that are empty for good.
    ///
    /// Inline: misses call it once per local, where a call costs as much as
    /// finding an empty ring.
    #[inline]
    pub(crate) fn pop_tail(&self, guard: &epoch::Guard) -> Option<T> {
        // Acquire [link-publish]: pairs with the producer's first-link store
        // and with other stealers' Release CAS of `tail`, so the link is
        // fully constructed before we read it.
        let mut link = self.tail.load(Ordering::Acquire);
        while !link.is_null() {
            // SAFETY: `link` was read from `tail` or `next` while `guard` is
            // pinned; it is retired only after becoming unreachable (I5), so
            // it outlives the guard.
            let current = unsafe { deref(link) };
            // Acquire [link-next]: pairs with the producer's Release store.
            // Loaded *before* the pop: if `next` is set now, every push into
            // this link happened before, so an empty pop is final (I3).
            let next = current.next.load(Ordering::Acquire);
            let popped = current.ring.pop_tail();
            // Under loom: the link must have stayed alive while we used it.
            current.freed.assert_live();
            if let Some(value) = popped {
                return Some(value);
            }
            if next.is_null() {
                return None;
            }
            // Release [link-publish]: hands `next` (whose construction we
            // acquired through link-next) to stealers that load `tail`.
            // Failure means another stealer unlinked it; move on either way.
            if self
                .tail
                .compare_exchange(link, next, Ordering::Release, Ordering::Relaxed)
                .is_ok()
            {
                // Relaxed [prev-clear]: publishes nothing; the producer only
                // stops walking sooner once it sees null (I4).
                // SAFETY: `next` was read under the pin, so it is alive.
                unsafe { deref(next) }
                    .prev
                    .store(ptr::null_mut(), Ordering::Relaxed);
                // SAFETY: the link is unreachable from `tail` (our CAS) and
                // from `next.prev` (cleared above); only this CAS winner
                // retires it (I5). It came from `Box::into_raw`.
                unsafe { epoch::defer_free(guard, link) };
            }
            link = next;
        }
        None
    }

    /// Frees the chain's ring if the chain holds nothing, so that it is
    /// again as new (I6): the next push allocates a first link. Returns
    /// whether the chain holds no ring now. A chain that still has older
    /// links (not yet unlinked by stealers) or a value keeps its rings.
    ///
    /// # Safety
    ///
    /// As for [`RawChain::push_head`].
    ///
    /// `pinned` is pinned here, if it is not yet, only when there is a ring
    /// to free: cleanups of pools without rings to free never pin.
    pub(crate) unsafe fn release_if_empty(&self, pinned: &mut Option<epoch::Guard>) -> bool {
        // SAFETY: the producer alone touches `head` (I1).
        let head = self.head.with(|p| unsafe { *p });
        if head.is_null() {
            return true;
        }
        // Relaxed [release-check]: a stale older link only keeps the rings
        // until a later release; `tail` reaches the head link only through
        // stealers' CASes and leaves it only through ours below.
        if self.tail.load(Ordering::Relaxed) != head {
            return false;
        }
        // SAFETY: the head link is never retired while it is the head (I1).
        let link = unsafe { deref(head) };
        // Only stealers move the ring, and only towards empty: once empty
        // it stays so, as nobody else pushes.
        if link.ring.len() != 0 {
            return false;
        }
        // Pinned before the link is unlinked, as a stealer is.
        let guard = pinned.get_or_insert_with(epoch::pin);
        // Release [link-publish]: as a stealer's unlinking CAS; it cannot
        // fail, as no stealer moves `tail` off a link whose `next` is null.
        let unlinked =
            self.tail
                .compare_exchange(head, ptr::null_mut(), Ordering::Release, Ordering::Relaxed);
        debug_assert!(
            unlinked.is_ok(),
            "a stealer moved the tail off the head link"
        );
        // SAFETY: the producer alone touches `head` (I1).
        self.head.with_mut(|p| unsafe { *p = ptr::null_mut() });
        // SAFETY: the link is unreachable from `tail` (the CAS) and `head`
        // (above), and it has no newer link whose `prev` could lead to it;
        // it is retired once, here (I5, I6). It came from `Box::into_raw`,
        // and its ring is empty.
        unsafe { epoch::defer_free(guard, head) };
        true
    }

    /// The slots of the rings this chain holds (walks the links, pinned).
    pub(crate) fn ring_slots(&self) -> usize {
        self.sum_over_links(Ring::capacity)
    }

    /// The number of values at this instant (walks the links, pinned).
    pub(crate) fn len(&self) -> usize {
        self.sum_over_links(Ring::len)
    }

    /// Sums `measure` over the rings of the links reachable from `tail`.
    fn sum_over_links(&self, measure: impl Fn(&Ring<T>) -> usize) -> usize {
        let _guard = epoch::pin();
        let mut total = 0;
        // Acquire [link-publish]: as in `pop_tail`.
        let mut link = self.tail.load(Ordering::Acquire);
        while !link.is_null() {
            // SAFETY: as in `pop_tail`: read under the pin.
            let current = unsafe { deref(link) };
            total += measure(&current.ring);
            // Acquire [link-next]: as in `pop_tail`.
            link = current.next.load(Ordering::Acquire);
        }
        total
    }
}

impl<T> Drop for RawChain<T> {
    fn drop(&mut self) {
        self.clear();
    }
}

impl<T> RawChain<T> {
    /// Drops every value and link, leaving the chain empty and usable. If a
    /// value's `Drop` panics, the rest are still dropped, then the first
    /// panic propagates.
    pub(crate) fn clear(&mut self) {
        // Relaxed [exclusive]: `&mut self`; no thread is left to race with.
        let mut link = self.tail.swap(ptr::null_mut(), Ordering::Relaxed);
        // SAFETY: `&mut self`: no producer call can overlap.
        self.head.with_mut(|p| unsafe { *p = ptr::null_mut() });
        let links = std::iter::from_fn(|| {
            if link.is_null() {
                return None;
            }
            let current = link;
            // Relaxed [exclusive]: as above.
            // SAFETY: links reachable from `tail` are owned by the chain.
            link = unsafe { (*current).next.load(Ordering::Relaxed) };
            Some(current)
        });
        // SAFETY: each link reachable from `tail` is freed once here;
        // retired links are no longer reachable (I5), so the epoch frees
        // those, never this loop.
        for_each_despite_panics(links, |link| drop(unsafe { Box::from_raw(link) }));
    }
}

/// An unbounded queue of values: one producer (this handle) pushes and pops
/// at the head, any number of [`ChainStealer`]s pop at the tail
/// (Go: `poolChain`).
///
/// It is a list of [`PoolDequeue`](crate::PoolDequeue)-style rings: the first
/// holds 8 values, each newer one twice as many as the one before (at most
/// 2^30). Rings drained by stealers are unlinked and freed through
/// crossbeam-epoch once no thread can still be reading them, so a chain that
/// is filled and drained from the tail keeps only a bounded number of rings.
///
/// The producer's `push_head`, and its `pop_head` while the newest ring has
/// values, do not pin the epoch; stealers pin for every `pop_tail`.
///
/// # Progress
///
/// `push_head` is wait-free, apart from allocating a ring when it starts
/// one. `pop_head` and [`ChainStealer::pop_tail`] are lock-free: loops of
/// compare-and-swap that no other thread's delay can hold up; `pop_tail`
/// may also run deferred frees of drained rings when it pins.
/// No operation takes a lock. `len` walks the rings.
///
/// # Synchronization
///
/// A `push_head(x)` happens-before the `pop_head` or `pop_tail` that returns `x`.
///
/// # Examples
///
/// ```
/// use victim_pool::PoolChain;
///
/// let chain = PoolChain::new();
/// let stealer = chain.stealer();
/// for i in 0..100 {
///     chain.push_head(i); // never fails: grows instead
/// }
/// assert_eq!(chain.pop_head(), Some(99));
/// let oldest = std::thread::spawn(move || stealer.pop_tail()).join().unwrap();
/// assert_eq!(oldest, Some(0));
/// ```
///
/// The producer handle is not `Sync`:
///
/// ```compile_fail
/// fn is_sync<T: Sync>() {}
/// is_sync::<victim_pool::PoolChain<u32>>();
/// ```
pub struct PoolChain<T> {
    chain: Arc<RawChain<T>>,
    first_capacity: usize,
    /// Ring slots allocated and not yet freed, shared with every link.
    allocated_slots: Arc<AtomicUsize>,
    /// Makes the handle `!Sync`: it is the single producer.
    _producer: PhantomData<Cell<()>>,
}

/// A handle that pops the oldest values of a [`PoolChain`] from any thread.
pub struct ChainStealer<T> {
    chain: Arc<RawChain<T>>,
}

impl<T> PoolChain<T> {
    /// Creates an empty chain whose first ring will hold 8 values.
    pub fn new() -> Self {
        Self::with_first_capacity(DEFAULT_FIRST_CAPACITY)
    }

    /// Creates an empty chain whose first ring will hold `capacity` values.
    ///
    /// # Panics
    ///
    /// Panics unless `capacity` is a power of two between 1 and 2^30.
    ///
    /// ```should_panic
    /// # use victim_pool::PoolChain;
    /// let _ = PoolChain::<u8>::with_first_capacity(3);
    /// ```
    pub fn with_first_capacity(capacity: usize) -> Self {
        check_capacity("PoolChain first-link", capacity);
        PoolChain {
            chain: Arc::new(RawChain::new()),
            first_capacity: capacity,
            allocated_slots: Arc::new(AtomicUsize::new(0)),
            _producer: PhantomData,
        }
    }

    /// Adds `value` as the newest value; allocates a new ring, twice the
    /// size, when the newest one refuses it (full, or its next slot still
    /// being vacated by a stealer).
    pub fn push_head(&self, value: T) {
        let growth = Growth::new(self.first_capacity, Some(&self.allocated_slots));
        // SAFETY: this `!Sync` handle is the only producer.
        unsafe { self.chain.push_head(value, growth) };
    }

    /// Removes the newest value.
    pub fn pop_head(&self) -> Option<T> {
        // SAFETY: this `!Sync` handle is the only producer.
        unsafe { self.chain.pop_head() }
    }

    /// Adds `older`, then `newer` as the newest value, with one atomic
    /// read-modify-write when the newest ring has room for both (else as
    /// two [`push_head`](Self::push_head) calls). Not in Go's poolChain.
    pub fn push_head_pair(&self, older: T, newer: T) {
        let growth = Growth::new(self.first_capacity, Some(&self.allocated_slots));
        // SAFETY: this `!Sync` handle is the only producer.
        unsafe { self.chain.push_head_pair(older, newer, growth) };
    }

    /// Removes the two newest values, newest first, with one atomic
    /// read-modify-write when the newest ring holds both (else as two
    /// [`pop_head`](Self::pop_head) calls); the second is `None` if the
    /// chain held one value. Not in Go's poolChain.
    pub fn pop_head_pair(&self) -> Option<(T, Option<T>)> {
        let (mut newest, mut next) = (MaybeUninit::uninit(), MaybeUninit::uninit());
        // SAFETY: this `!Sync` handle is the only producer.
        let popped = unsafe { self.chain.pop_head_pair_into(&mut newest, &mut next) };
        // SAFETY: `pop_head_pair_into` wrote `popped` values, newest first.
        unsafe {
            match popped {
                0 => None,
                1 => Some((newest.assume_init(), None)),
                _ => Some((newest.assume_init(), Some(next.assume_init()))),
            }
        }
    }

    /// A new handle for popping the oldest values from other threads.
    pub fn stealer(&self) -> ChainStealer<T> {
        ChainStealer {
            chain: Arc::clone(&self.chain),
        }
    }

    /// The number of values at this instant.
    pub fn len(&self) -> usize {
        self.chain.len()
    }

    /// Whether [`len`](Self::len) is zero.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of ring slots this chain has allocated and not yet freed,
    /// counting rings that are unlinked but still awaiting epoch reclamation.
    ///
    /// Multiply by `size_of::<T>()` (plus a flag per slot) for the memory a
    /// chain holds.
    pub fn allocated_slots(&self) -> usize {
        // Relaxed [slot-count]: a statistic.
        self.allocated_slots.load(Ordering::Relaxed)
    }
}

impl<T> Default for PoolChain<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> ChainStealer<T> {
    /// Removes the oldest value, or returns `None` if the chain was empty.
    pub fn pop_tail(&self) -> Option<T> {
        let guard = epoch::pin();
        self.chain.pop_tail(&guard)
    }

    /// The number of values at this instant.
    pub fn len(&self) -> usize {
        self.chain.len()
    }

    /// Whether [`len`](Self::len) is zero.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Clone for ChainStealer<T> {
    fn clone(&self) -> Self {
        ChainStealer {
            chain: Arc::clone(&self.chain),
        }
    }
}

impl<T> fmt::Debug for PoolChain<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolChain")
            .field("len", &self.len())
            .finish()
    }
}

impl<T> fmt::Debug for ChainStealer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainStealer")
            .field("len", &self.len())
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn draining_a_million_values_from_the_tail_leaves_a_bounded_number_of_slots() {
        let chain = PoolChain::new();
        let stealer = chain.stealer();
        let n = if cfg!(debug_assertions) {
            100_000
        } else {
            1_000_000
        };
        for i in 0..n {
            chain.push_head(i);
        }
        let grown = chain.allocated_slots();
        assert!(grown >= n);
        // SAFETY: this thread is the chain's only producer, and the head
        // link is never freed while it is the head (I1).
        let head_capacity = unsafe { deref(chain.chain.head.with(|head| *head)) }
            .ring
            .capacity();
        // Older links exist: else the drain would have nothing to free.
        assert!(head_capacity < grown);
        for i in 0..n {
            assert_eq!(stealer.pop_tail(), Some(i));
        }
        assert_eq!(stealer.pop_tail(), None);
        // Let the epoch free what the stealer retired.
        for _ in 0..1024 {
            epoch::pin().flush();
        }
        // Only the head link may remain: it can never be unlinked. Any older
        // link left would add its slots to the count.
        assert_eq!(
            chain.allocated_slots(),
            head_capacity,
            "of {grown} slots, more than the head link's remain after the drain"
        );
    }

    #[test]
    fn pairs_cross_link_boundaries_one_value_at_a_time() {
        let chain = PoolChain::with_first_capacity(2);
        chain.push_head(0);
        // One slot left in the first link: 1 goes there, 2 starts a link.
        chain.push_head_pair(1, 2);
        chain.push_head_pair(3, 4);
        assert_eq!(chain.allocated_slots(), 2 + 4);
        assert_eq!(chain.pop_head_pair(), Some((4, Some(3))));
        // The head link holds one value: the second comes from the older
        // link, by a walk.
        assert_eq!(chain.pop_head_pair(), Some((2, Some(1))));
        assert_eq!(chain.pop_head_pair(), Some((0, None)));
        assert_eq!(chain.pop_head_pair(), None);
    }

    #[test]
    fn pop_head_walks_back_through_older_links() {
        let chain = PoolChain::with_first_capacity(1);
        for i in 0..10 {
            chain.push_head(i);
        }
        for i in (0..10).rev() {
            assert_eq!(chain.pop_head(), Some(i));
        }
        assert_eq!(chain.pop_head(), None);
    }
}

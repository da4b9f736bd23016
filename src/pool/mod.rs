//! `Pool`: Go's `sync.Pool` with threads in place of Ps and an explicit
//! cleanup in place of the garbage collector.

mod guard;
mod inline_fn;
mod local;
mod locals;
mod options;
pub(crate) mod paired_moves;
mod private_slot;
mod registry;
mod state;
mod stats;
mod summary;
mod sweeper;
mod thread_index;

use guard::Held;
pub use guard::{OwnedPoolGuard, PoolGuard};
pub use options::PoolBuilder;
pub use registry::{cleanup_all, registered_pools};
pub use stats::PoolStats;
pub use sweeper::{sweep_every, Sweeper};
#[doc(hidden)]
pub use thread_index::reserve_thread_indices;

use crate::chain::{Growth, DEFAULT_FIRST_CAPACITY};
use crate::sync::{
    asymmetric_fence, const_fn_unless_loom, epoch, lock, per_execution, Ordering, PerExecution,
};
use crate::unwind::DropEach;
use crate::word_copy;
use local::{half, Age, Loan, Local, Overflow, Room, Taken};
use options::{check_first_capacity, Rules};
use private_slot::{LentSlot, Want};
use registry::{Ages, Garbage};
use state::{Cleanups, State};
use stats::Event;
use std::fmt;
use std::marker::PhantomPinned;
use std::mem::{self, MaybeUninit};
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::pin::Pin;
use summary::PRIVATE_SLOTS;

/// A set of interchangeable values that threads take and give back, so that
/// hot paths reuse values instead of allocating them (Go: `sync.Pool`).
///
/// Each thread that uses the pool gets a local: a private slot for one value
/// and a lock-free chain for more. [`put`](Pool::put) fills the private slot,
/// then the chain. [`take`](Pool::take) and [`get`](Pool::get) look, in
/// order, in the private slot, the own chain, other threads' chains (oldest
/// first), the victim cache, and only then call the create function.
///
/// Values age only when asked to: every [`cleanup`](Pool::cleanup) moves
/// what the pool holds into the victim cache and drops what was already
/// there, so a value nobody takes is dropped by the second cleanup after it
/// was put (a live thread's private value: see [`cleanup`](Pool::cleanup)
/// for when it waits longer). Nothing calls `cleanup` unless you do,
/// directly, through
/// [`register`](Pool::register) plus [`sweep_every`](crate::sweep_every),
/// or through a [`Sweeper`]; without any of them a pool keeps every value
/// it is given until it is taken. Any value in the pool may be dropped at
/// any cleanup; a pool is a cache, not a store.
///
/// # Examples
///
/// ```
/// use victim_pool::Pool;
///
/// static BUFFERS: Pool<Vec<u8>> = Pool::new(Vec::new);
///
/// let mut buffer = BUFFERS.get(); // from the pool, or Vec::new()
/// buffer.clear(); // values come back as they were left: reset before use
/// buffer.extend_from_slice(b"hello");
/// drop(buffer); // back into the pool
///
/// assert_eq!(BUFFERS.try_take().as_deref(), Some(&b"hello"[..]));
/// ```
///
/// # Synchronization
///
/// A `put(x)` (or the drop of a guard holding `x`) happens-before the
/// `get`, `take` or `try_take` that returns `x`.
///
/// # Threads
///
/// The fast paths (the private slot, and the head of the own chain) take no
/// lock, pin no epoch, and the private slot path performs no atomic
/// read-modify-write once the slot is listed (the first fill after a
/// cleanup unlisted an idle slot makes one compare-and-swap). A thread's
/// first operation on any pool takes the crate's thread-registry lock, and
/// its first on a pool may allocate its local; later operations take no
/// lock. An exited thread's index goes to the next thread that first uses
/// a pool (the smallest free index), together with its locals and what
/// they still hold.
///
/// While a thread is exiting, after its thread-local storage has been torn
/// down, `put` drops the value instead of pooling it and `take` skips the
/// thread's own local.
///
/// # Large values
///
/// Values are stored inline (in the private slot and in chain rings), so a
/// pool of large arrays holds their full size per slot; box them to pool only
/// a pointer. Unoptimized builds also keep several copies of a moved value
/// per stack frame: a 64 KiB value needs about 3 MiB of stack per operation
/// at opt-level 0, more than a spawned thread's default 2 MiB.
///
/// A pool of values that cannot move between threads is not `Sync`, so it
/// cannot be shared between threads:
///
/// ```compile_fail,E0277
/// use std::rc::Rc;
/// let pool: victim_pool::Pool<Rc<u8>> = victim_pool::Pool::new(|| Rc::new(0));
/// std::thread::scope(|scope| {
///     scope.spawn(|| pool.get()); // error: `Rc<u8>` cannot be sent between threads
/// });
/// ```
///
/// nor be a `static`:
///
/// ```compile_fail,E0277
/// use std::rc::Rc;
/// use victim_pool::Pool;
/// static SHARED: Pool<Rc<u8>> = Pool::new(|| Rc::new(0)); // error: not `Sync`
/// ```
///
/// # Unwind safety
///
/// A pool is `UnwindSafe` when its values and its create function are
/// `UnwindSafe`, and `RefUnwindSafe` when its values are `UnwindSafe` and
/// its create function `RefUnwindSafe` (the common case), so
/// `catch_unwind(|| POOL.get().len())` compiles. A panic in
/// `create`, a rule or a value's `Drop` leaves the pool consistent.
pub struct Pool<T, F = fn() -> T> {
    /// Locals, generation, counters: one per loom execution under loom.
    state: PerExecution<State<T>>,
    first_capacity: usize,
    rules: Rules<T>,
    /// `register` relies on a pinned pool staying where it is.
    _pinned: PhantomPinned,
    create: F,
}

impl<T, F> Pool<T, F> {
    const_fn_unless_loom! {
        /// Sets the capacity of the first ring of each thread's chains (8
        /// unless set); later rings double. Small values suit model checking.
        /// The same setting as
        /// [`PoolBuilder::with_first_capacity`](crate::PoolBuilder::with_first_capacity).
        ///
        /// # Panics
        ///
        /// Panics unless `capacity` is a power of two between 1 and 2^30.
        #[track_caller]
        pub const fn with_first_capacity(mut self, capacity: usize) -> Self {
            check_first_capacity(capacity);
            self.first_capacity = capacity;
            // A pool configured at run time has its state from here on,
            // built on this thread (only loom builds it lazily; see
            // `PerExecution`).
            self.state.build_now();
            self
        }
    }

    /// Former name of [`with_first_capacity`](Pool::with_first_capacity).
    ///
    /// # Panics
    ///
    /// As [`with_first_capacity`](Pool::with_first_capacity).
    #[deprecated(since = "0.1.0", note = "renamed `with_first_capacity`")]
    #[track_caller]
    pub fn with_first_link_capacity(self, capacity: usize) -> Self {
        self.with_first_capacity(capacity)
    }

    /// Takes a pooled value, or returns `None` without creating one (Go's
    /// `Get` on a pool without `New`).
    ///
    /// # Examples
    ///
    /// ```
    /// use victim_pool::Pool;
    /// let pool: Pool<char> = Pool::new(|| unreachable!());
    /// pool.put('a');
    /// pool.put('b');
    /// assert_eq!(pool.try_take(), Some('a')); // the private slot first
    /// assert_eq!(pool.try_take(), Some('b')); // then the own chain
    /// assert_eq!(pool.try_take(), None);
    /// ```
    #[inline]
    #[must_use = "the value is dropped, not given back; use `try_get` for a loan"]
    pub fn try_take(&self) -> Option<T> {
        // Two places, as in `take_wide`: the private slot's value in one
        // that no call sees, the rest's in another. (One place for both
        // put the slot's value through the stack: 5.4 against 3.7 ns per
        // put + `try_take` + write of a 4 KiB `Vec`, in `versus.sh`.
        // Returned from each path separately, values were gathered through
        // more copies still.)
        let mut primary = MaybeUninit::uninit();
        if let Some((_, local, generation)) = self.held_local() {
            // SAFETY: this thread holds the local's index, so it owns the
            // local.
            if unsafe { local.take_primary(generation, &mut primary) } {
                self.count(Some(local), Event::FromPrivate, 1);
                // SAFETY: `take_primary` returned true: it wrote the value.
                return Some(unsafe { primary.assume_init() });
            }
        }
        let mut elsewhere = MaybeUninit::uninit();
        // SAFETY: `try_take_slow_into` wrote the value if it returned true.
        self.try_take_slow_into(&mut elsewhere)
            .then(|| unsafe { word_copy::read_opaque(&elsewhere) })
    }

    /// [`try_take`](Self::try_take) past the private slot: the whole
    /// lookup.
    #[inline(never)]
    fn try_take_slow_into(&self, out: &mut MaybeUninit<T>) -> bool {
        write_found(self.take_pooled(Some(Event::Missed)), out)
    }

    /// The whole lookup; `miss` is what to count when nothing is found
    /// (`None` for `take`, which counts the value once `create` returns it).
    ///
    /// Only the private slot and the own chain's head are inline; the rest
    /// is out of line so that the common take stays small.
    #[inline(always)]
    fn take_pooled(&self, miss: Option<Event>) -> Option<T> {
        let place = thread_index::current();
        // Relaxed [generation]: it only selects chains and ages; values are
        // published by the chains' own edges and the thread-index hand-off.
        // Loaded after `current()`, which may acquire the index: every put
        // by the index's previous owners happens-before this load (R3), so
        // by coherence no stamp in the local is newer than `generation`.
        let generation = self.state.generation.load(Ordering::Relaxed);
        let Some(place) = place else {
            return self.take_from_elsewhere(None, generation, miss);
        };
        let local = self.state.locals.get_or_create(place);
        self.take_from_local(local, generation, miss)
    }

    /// The lookup from the caller's own `local` on: its private slot (in
    /// full, settling a slot a drain held up), its chain's head, then the
    /// rest of Go's order out of line.
    #[inline(always)]
    fn take_from_local(
        &self,
        local: &Local<T>,
        generation: usize,
        miss: Option<Event>,
    ) -> Option<T> {
        let mut value = MaybeUninit::uninit();
        if !self.take_from_local_into(local, generation, miss, &mut value) {
            return None;
        }
        // SAFETY: `take_from_local_into` returned true, so it wrote the value.
        Some(unsafe { value.assume_init() })
    }

    /// [`take_from_local`](Self::take_from_local) into `out`; returns
    /// whether it wrote a value. A pop from the own chain copies the value
    /// from the ring's slot straight into `out`: returned as an `Option`
    /// and then written, a wide value was copied three more times.
    #[inline(always)]
    fn take_from_local_into(
        &self,
        local: &Local<T>,
        generation: usize,
        miss: Option<Event>,
        out: &mut MaybeUninit<T>,
    ) -> bool {
        // SAFETY: the caller holds the local's thread index, so it owns the
        // local.
        match unsafe { local.take_private_settling(generation) } {
            Taken::Value(value) => {
                self.count(Some(local), Event::FromPrivate, 1);
                out.write(value);
                return true;
            }
            Taken::Expired(expired) => {
                return write_found(self.take_after_expired(local, expired, miss), out);
            }
            Taken::None => {}
        }
        let mut next = MaybeUninit::uninit();
        // SAFETY: as above.
        let popped = unsafe { local.pop_own(generation, out, &mut next) };
        if popped == 0 {
            return write_found(self.take_from_elsewhere(Some(local), generation, miss), out);
        }
        self.count(Some(local), Event::FromOwnChain, 1);
        if popped == 2 {
            // SAFETY: `pop_own` wrote both; `next` is read once. The refill
            // runs no code of the user's, so nothing can unwind past the
            // value in `out` and leak it.
            self.refill_private(local, unsafe { next.assume_init() }, generation);
        }
        true
    }

    /// Moves the second value of a paired pop into the private slot, which
    /// had room just before the pop. Runs no code of the user's (no drop).
    #[inline]
    fn refill_private(&self, local: &Local<T>, value: T, generation: usize) {
        // SAFETY: the caller owns the local, so it is the slot's accessor.
        if unsafe { local.private_is_listed_empty() } {
            // SAFETY: as above; the slot has room ([`Room::Private`]).
            unsafe { self.fill_private(local, value, generation) };
        } else {
            self.refill_held_up(local, value, generation);
        }
    }

    /// `refill_private` when a cleanup's drain marked the slot after the
    /// pop (from a look at the slot before the take emptied it): the slot
    /// takes the value once the drain is over, else it goes back onto the
    /// primary chain it came from. No bound is checked (the chain holds no
    /// more than before the pop) and nothing is counted (it was put
    /// already), so nothing is dropped.
    #[cold]
    #[inline(never)]
    fn refill_held_up(&self, local: &Local<T>, value: T, generation: usize) {
        // Read again here, as in `take_from_elsewhere`, so that the fast
        // paths need not keep the index live.
        let place = thread_index::current().expect("the owner of a local holds its index");
        let bit = || self.state.locals.bit(place.index);
        // SAFETY: the caller owns the local, so it is the slot's accessor.
        if unsafe { local.private_room_settled(generation, bit) } == Room::Private {
            // SAFETY: as above; the slot has room.
            return unsafe { self.fill_private(local, value, generation) };
        }
        let growth = Growth::new(self.first_capacity, None);
        // SAFETY: as above: this thread is the chains' producer (L2).
        let into_empty = unsafe { local.push(half(generation), value, growth, bit) };
        self.note_rings(into_empty);
    }

    /// Drops a private value found expired, counting it, then starts the
    /// lookup again. Called while no internal state is borrowed: its `Drop`
    /// may use this pool (run a cleanup, put a value), so the generation and
    /// the private slot are read anew afterwards.
    #[cold]
    #[inline(never)]
    fn take_after_expired(&self, local: &Local<T>, expired: T, miss: Option<Event>) -> Option<T> {
        self.count(Some(local), Event::DroppedByCleanup, 1);
        drop(expired);
        self.take_pooled(miss)
    }

    /// The lookup past the own local: stealing, the victim cache, adoption.
    #[cold]
    #[inline(never)]
    fn take_from_elsewhere(
        &self,
        local: Option<&Local<T>>,
        generation: usize,
        miss: Option<Event>,
    ) -> Option<T> {
        // The own index is read again here rather than kept live across the
        // inline fast path, which would spill it on every take.
        let own = local.and(thread_index::current()).map(|place| place.index);
        let found = self.find_elsewhere(own, local, generation);
        if let Some(event) = found.as_ref().map(|&(_, event)| event).or(miss) {
            self.count(local, event, 1);
        }
        found.map(|(value, _)| value)
    }

    /// Stealing, then the victim cache. Both scans visit only the locals
    /// that the summary names as candidates, in Go's order; the epoch is
    /// pinned at the first candidate, so a miss on an empty pool reads the
    /// summary's words and nothing else of other threads.
    fn find_elsewhere(
        &self,
        own: Option<usize>,
        local: Option<&Local<T>>,
        generation: usize,
    ) -> Option<(T, Event)> {
        let mut pinned = None;
        // Go steals from pid + 1 onwards, wrapping, and skips its own.
        let after_own = own.map_or(0, |own| own.wrapping_add(1));
        let locals = &self.state.locals;
        // An empty summary is one word to read: a miss skips setting the
        // scans up.
        let named = locals.may_have_candidates(half(generation));
        for (index, other) in named
            .then(|| locals.candidates(half(generation), after_own))
            .into_iter()
            .flatten()
        {
            if Some(index) == own {
                continue;
            }
            let guard = pinned.get_or_insert_with(epoch::pin);
            if let Some(value) = other.steal(generation, guard, &self.state.locals.bit(index)) {
                return Some((value, Event::Stolen));
            }
        }
        if let Some(adopted) = self.adopt_from_exited(generation) {
            return Some(adopted);
        }
        // The own victim-aged private value first: no other thread can see
        // it, so the shared "victim is empty" hint says nothing about it.
        if let Some(local) = local {
            // SAFETY: this thread owns its local. A value of any other age
            // stays where it is: no user code runs while pinned.
            if let Some(value) = unsafe { local.take_private_aged(generation, Age::Victim) } {
                return Some((value, Event::FromVictim));
            }
        }
        // Relaxed [victim-empty]: a hint; a stale answer costs one scan or
        // skips values until the next cleanup, never loses them.
        if self.state.victim_empty_at.load(Ordering::Relaxed) == generation {
            return None;
        }
        let victim = generation.wrapping_sub(1);
        let named = locals.may_have_candidates(half(victim));
        for (index, local) in named
            .then(|| locals.candidates(half(victim), own.unwrap_or(0)))
            .into_iter()
            .flatten()
        {
            let guard = pinned.get_or_insert_with(epoch::pin);
            if let Some(value) = local.steal(victim, guard, &self.state.locals.bit(index)) {
                return Some((value, Event::FromVictim));
            }
        }
        // Relaxed [victim-empty]: as above.
        self.state
            .victim_empty_at
            .store(generation, Ordering::Relaxed);
        None
    }

    /// Takes a value left in the private slot of a thread that has exited,
    /// so it is not stranded until cleanup. Skipped when no thread index has
    /// been given back since a scan found nothing, or when the thread
    /// registry is busy: this is a last resort before creating.
    fn adopt_from_exited(&self, generation: usize) -> Option<(T, Event)> {
        // Relaxed [releases-scanned]: a hint, stored under the registry lock
        // below; a stale value costs one scan more or one miss later.
        if self.state.releases_scanned.load(Ordering::Relaxed) == thread_index::releases() {
            return None;
        }
        thread_index::try_with_unowned_indices(|unowned| {
            let found = self
                .state
                .locals
                .iter()
                .filter(|&(index, _)| unowned(index))
                // SAFETY: no thread holds `index`, and none can acquire it
                // while the registry is locked (thread_index R3). Expired
                // values stay for cleanup, which drops them outside the lock.
                .find_map(|(_, local)| unsafe { local.take_private_unexpired(generation) });
            if found.is_none() {
                // Relaxed [releases-scanned]: as above; `releases()` is
                // exact while the lock is held (thread_index R4).
                self.state
                    .releases_scanned
                    .store(thread_index::releases(), Ordering::Relaxed);
            }
            found
        })
        .flatten()
        .map(|(value, age)| {
            let event = match age {
                Age::Primary => Event::Stolen,
                _ => Event::FromVictim,
            };
            (value, event)
        })
    }

    /// Counts an event on the owner's counters, or the pool's when the
    /// thread has no local.
    #[inline(always)]
    fn count(&self, local: Option<&Local<T>>, event: Event, by: u64) {
        match local {
            Some(local) if event.is_owned() => local.counters.bump_owned(event, by),
            _ => self.state.counters.bump_shared(event, by),
        }
    }

    /// Gives a value to the pool (Go's `Put`): into this thread's private slot
    /// if it is free, else onto this thread's chain.
    ///
    /// The value is kept until a thread takes it or two cleanups pass (for
    /// the private slot's value, see [`cleanup`](Pool::cleanup)). A value
    /// that is past two cleanups and is displaced from the private slot by
    /// this call is dropped here. A pool's rules (a keep rule, a bound on
    /// the chain), or a thread that is exiting, may drop the put's value
    /// here instead (counted as discarded). Pushing onto the chain may
    /// allocate a ring.
    ///
    /// # Panics
    ///
    /// If a reset hook or keep rule panics (the value is then discarded),
    /// or if the `Drop` of a value that this call drops panics; the put is
    /// counted and the pool stays consistent either way.
    #[inline(always)]
    pub fn put(&self, value: T) {
        match self.held_local() {
            Some((index, local, generation)) if !self.rules.screens => {
                self.put_into(index, local, value, generation);
            }
            _ => self.put_slow(value),
        }
    }

    /// `put` on a thread without an index or a local yet, or into a pool
    /// with rules.
    #[inline(never)]
    fn put_slow(&self, value: T) {
        match thread_index::current() {
            Some(place) if !self.rules.screens => {
                let local = self.state.locals.get_or_create(place);
                // Relaxed [generation]: as in `try_take`.
                let generation = self.state.generation.load(Ordering::Relaxed);
                self.put_into(place.index, local, value, generation);
            }
            _ => self.put_screened(value),
        }
    }

    /// Puts into the caller's own `local`: its private slot, or else
    /// (out of line) its chain.
    #[inline(always)]
    fn put_into(&self, index: usize, local: &Local<T>, value: T, generation: usize) {
        // SAFETY: the caller holds `index`, so it owns the local.
        if unsafe { local.private_is_listed_empty() } {
            // SAFETY: as above; the slot has room.
            unsafe { self.fill_private(local, value, generation) };
            // Counted after the value moved: counting before it made the
            // compiler copy the value once more on the stack.
            self.count(Some(local), Event::Put, 1);
        } else {
            // Counted first, as by every caller of `put_behind_private`:
            // it may drop a value, whose `Drop` may panic.
            self.count(Some(local), Event::Put, 1);
            self.put_behind_private(index, local, value, generation);
        }
    }

    /// `put` when the private slot is not empty, listed and unmarked: into
    /// the slot all the same once settled or listed, else onto the chain,
    /// or dropped. Out of line, so the private-slot put stays small; an
    /// overflow put's push is inlined in here (one call per overflow put,
    /// not two), everything else is in
    /// [`put_behind_private_rest`](Self::put_behind_private_rest).
    /// Not `#[cold]`: that made the overflow loops up to 1.09x slower.
    /// Callers count the put first: a value this drops may panic in its
    /// `Drop`.
    #[inline(never)]
    fn put_behind_private(&self, index: usize, local: &Local<T>, value: T, generation: usize) {
        // An overflow put's case first: the slot holds a value put at this
        // generation, to push with the put's value.
        // SAFETY: the caller owns `local`, so it is the slot's accessor.
        if self.rules.max_chain != usize::MAX || !unsafe { local.private_is_full_at(generation) } {
            return self.put_behind_private_rest(index, local, value, generation);
        }
        // SAFETY: as above; the slot was just found FULL at `generation`.
        unsafe { self.push_with_private(index, local, value, generation) }
    }

    /// A planned push that moves one value.
    #[inline(never)]
    fn push_planned(&self, index: usize, local: &Local<T>, value: T, generation: usize) {
        let growth = Growth::new(self.first_capacity, None);
        let bit = || self.state.locals.bit(index);
        // SAFETY: the caller holds `index`: this thread is the chains'
        // producer and owns the runs (L2, L5).
        let into_empty = unsafe { local.push(half(generation), value, growth, bit) };
        // SAFETY: as above.
        unsafe { local.record_push(1) };
        self.note_rings(into_empty);
    }

    /// A paired push whose claim met a drainer: the put's value alone.
    #[cold]
    #[inline(never)]
    fn pair_met_drainer(&self, index: usize, local: &Local<T>, value: T, generation: usize) {
        // SAFETY: the caller holds `index` and its claim just failed.
        unsafe { local.private_claim_met_drainer(generation) };
        self.push_planned(index, local, value, generation);
    }

    /// A paired push into an empty ring: the chain's summary bit.
    #[cold]
    #[inline(never)]
    fn paired_into_empty(&self, index: usize, half: usize) {
        self.state.locals.bit(index).mark(half);
        self.note_rings(true);
    }

    /// A paired push that the head ring had no room for: both values, one
    /// by one, past it.
    #[cold]
    #[inline(never)]
    fn push_pair_past_head_ring(
        &self,
        index: usize,
        local: &Local<T>,
        newer: T,
        generation: usize,
    ) {
        let mut older = MaybeUninit::uninit();
        // SAFETY: the caller holds `index` and has just found the slot FULL
        // at `generation` (nothing since has touched the slot).
        if !unsafe { local.take_private_seen_full(generation, &mut older) } {
            return self.pair_met_drainer(index, local, newer, generation);
        }
        // SAFETY: `take_private_seen_full` returned true: it wrote the value.
        let older = unsafe { older.assume_init() };
        let growth = Growth::new(self.first_capacity, None);
        let bit = || self.state.locals.bit(index);
        // SAFETY: the caller holds `index` (L2, L5).
        let into_empty = unsafe { local.push_pair(half(generation), older, newer, growth, bit) };
        // SAFETY: as above.
        unsafe { local.record_push(2) };
        self.note_rings(into_empty);
    }

    /// [`put_behind_private`](Self::put_behind_private) for every case but
    /// a slot that holds a value put at this generation, in a pool without
    /// a bound on its chains.
    #[inline(never)]
    fn put_behind_private_rest(&self, index: usize, local: &Local<T>, value: T, generation: usize) {
        // SAFETY: the caller owns `local`, so it is the slot's accessor.
        let room = match unsafe { local.private_room(generation) } {
            // SAFETY: as above.
            Room::Unsettled => unsafe {
                local.private_room_settled(generation, || self.state.locals.bit(index))
            },
            room => room,
        };
        // The bound is opt-in: measuring the chain pins the epoch.
        let max_chain = self.rules.max_chain;
        let (value, half, moved, planned) = match room {
            Room::Private => {
                // SAFETY: as above; the slot has room.
                return unsafe { self.fill_private(local, value, generation) };
            }
            Room::Primary | Room::Unsettled => {
                // Paired only without a bound, which counts values one by
                // one, and only with a value of this generation to move.
                // SAFETY: as above.
                if max_chain == usize::MAX && unsafe { local.private_is_full_at(generation) } {
                    // SAFETY: as above; found FULL at `generation` just now.
                    return unsafe { self.push_with_private(index, local, value, generation) };
                }
                // The run counts this push, which moves one value.
                // SAFETY: as above; this thread also owns the runs (L5).
                let _ = unsafe { local.plan_push() };
                (value, half(generation), false, true)
            }
            // SAFETY: the caller owns `local` (it holds its thread index),
            // so it is the slot's accessor.
            Room::Aged => match unsafe { local.overflow(value, generation) } {
                Overflow::Chain { value, half, moved } => (value, half, moved, false),
                Overflow::Expired(expired) => {
                    self.count(Some(local), Event::DroppedByCleanup, 1);
                    return drop(expired);
                }
            },
        };
        if max_chain != usize::MAX && local.chain_len(half) >= max_chain {
            if planned {
                // SAFETY: as above (L5).
                unsafe { local.record_push(0) };
            }
            self.count(Some(local), Event::Discarded, 1);
            return drop(value);
        }
        let growth = Growth::new(self.first_capacity, None);
        let bit = || self.state.locals.bit(index);
        // SAFETY: as above: this thread is the chains' producer (L2).
        let into_empty = unsafe { local.push(half, value, growth, bit) };
        if planned {
            // SAFETY: as above (L5).
            unsafe { local.record_push(1) };
        }
        self.note_rings(into_empty);
        // Relaxed [victim-empty]: the hint; the victim chain just received
        // a value, so gets must scan the victim chains again.
        if moved && self.state.victim_empty_at.load(Ordering::Relaxed) == generation {
            // Relaxed [victim-empty]: as above.
            self.state
                .victim_empty_at
                .store(generation.wrapping_sub(1), Ordering::Relaxed);
        }
    }

    /// A push onto the primary chain past a private slot that holds a
    /// value put at this generation: paired, if the runs say so (L5), the
    /// slot's value and then `value` with one read-modify-write, leaving
    /// the slot empty for the next put. The head ring's room comes first,
    /// so the claimed value goes straight into it. Every case but the
    /// paired push into a ring with room leaves by a tail call, and a push
    /// into an empty ring marks the summary by a cold call after it, so
    /// that the common case saves few registers (170 to 160 instructions
    /// per put and take in the boxed overflow loop; with the room first,
    /// and the runs' `plan` that only reads, 138).
    ///
    /// # Safety
    ///
    /// This thread holds `index`, the index of `local`, and has just found
    /// the slot FULL at `generation`.
    #[inline(always)]
    unsafe fn push_with_private(
        &self,
        index: usize,
        local: &Local<T>,
        value: T,
        generation: usize,
    ) {
        // SAFETY: the caller owns `local`: this thread owns the chains and
        // the runs (L2, L5), and is the slot's accessor.
        if !unsafe { local.plan_push() } {
            return self.push_planned(index, local, value, generation);
        }
        let half = half(generation);
        // The room first, so that the slot's value goes straight into it.
        // SAFETY: as above; the room is pushed into before any other push
        // or pop.
        let Some(room) = (unsafe { local.pair_room(half) }) else {
            return self.push_pair_past_head_ring(index, local, value, generation);
        };
        let mut older = MaybeUninit::uninit();
        // SAFETY: as above; the slot was just found FULL at `generation`.
        if !unsafe { local.take_private_seen_full(generation, &mut older) } {
            return self.pair_met_drainer(index, local, value, generation);
        }
        // SAFETY: `take_private_seen_full` returned true: it wrote the value.
        // The room is this thread's, untouched since `pair_room`.
        let into_empty = unsafe { room.push(older.assume_init(), value) };
        // SAFETY: as above.
        unsafe { local.record_push(2) };
        if into_empty {
            self.paired_into_empty(index, half);
        }
    }

    /// Fills the private slot of the caller's own `local` with a put's
    /// value, and lists the slot again if a cleanup's unlisting raced the
    /// fill (L6 of `Local`).
    ///
    /// # Safety
    ///
    /// The caller owns `local`, and its `private_room` (or the settled
    /// form) just said [`Room::Private`].
    #[inline(always)]
    unsafe fn fill_private(&self, local: &Local<T>, value: T, generation: usize) {
        // SAFETY: forwarded from the caller.
        if unsafe { local.fill_private(value, generation) } {
            self.relist_private(local);
        }
    }

    /// The rare end of `fill_private`: out of line, with the index read
    /// again so that the fast paths need not keep it live.
    #[cold]
    #[inline(never)]
    fn relist_private(&self, local: &Local<T>) {
        let place = thread_index::current().expect("the owner of a local holds its index");
        // SAFETY: this thread holds the local's index, so it is the slot's
        // accessor; the bit is the local's.
        unsafe { local.relist_private(&self.state.locals.bit(place.index)) };
    }

    /// After a push: one into an empty ring may have allocated it.
    #[inline]
    fn note_rings(&self, into_empty: bool) {
        // Relaxed [rings-hint]: tells cleanups that rings may exist; a late
        // read only postpones freeing them to a later cleanup.
        if into_empty && !self.state.rings_maybe.load(Ordering::Relaxed) {
            // Relaxed [rings-hint]: as above.
            self.state.rings_maybe.store(true, Ordering::Relaxed);
        }
    }

    /// `put` with a keep rule or reset hook, or on an exiting thread.
    #[cold]
    #[inline(never)]
    fn put_screened(&self, value: T) {
        let place = thread_index::current();
        let local = place.map(|place| self.state.locals.get_or_create(place));
        self.count(local, Event::Put, 1);
        let Some(value) = self.screen(local, value) else {
            return;
        };
        let Some((place, local)) = place.zip(local) else {
            // The thread is exiting and has no local any more.
            self.count(None, Event::Discarded, 1);
            return;
        };
        // Relaxed [generation]: as in `try_take`.
        let generation = self.state.generation.load(Ordering::Relaxed);
        // SAFETY: this thread holds index `place.index`, so it owns the local.
        self.put_behind_private(place.index, local, value, generation);
    }

    /// Applies the keep rule, then the reset rule; `None` if discarded.
    /// A value refused by the rule, or lost to a panicking rule, is counted
    /// as discarded.
    fn screen(&self, local: Option<&Local<T>>, mut value: T) -> Option<T> {
        struct CountUnlessKept<'a, T, F> {
            pool: &'a Pool<T, F>,
            local: Option<&'a Local<T>>,
        }
        impl<T, F> Drop for CountUnlessKept<'_, T, F> {
            fn drop(&mut self) {
                self.pool.count(self.local, Event::Discarded, 1);
            }
        }
        let discarded = CountUnlessKept { pool: self, local };
        if !self.rules.accept(&mut value) {
            return None;
        }
        std::mem::forget(discarded);
        Some(value)
    }

    /// Ages every pooled value by one step (Go's per-GC `poolCleanup`): values
    /// in the victim cache are dropped, and everything else becomes the
    /// victim cache.
    ///
    /// Runs concurrently with `get`/`put` on other threads without stopping
    /// them; concurrent cleanups run one after another. Values are dropped on
    /// the calling thread after the pool's internal locks are released, so a
    /// `Drop` may use the pool. If a `Drop` panics, the first panic propagates
    /// after the remaining values of this cleanup have been dropped.
    ///
    /// Private slots age too, those of idle live threads included, so an
    /// idle pool holds nothing after two cleanups, as Go's does after two
    /// garbage collections. A thread inside a pool operation at that moment
    /// keeps its private value until the next cleanup, and a get or put that
    /// runs while a cleanup is draining may find its own private slot
    /// unavailable (it then misses that value, or puts onto the chain);
    /// Go's cleanup runs with the world stopped instead. This needs a
    /// process-wide memory barrier ([`cleanups_drain_idle_threads`]); where
    /// there is none, a live thread's private slot is aged only by that
    /// thread, on its next use of the pool, and an idle thread keeps at most
    /// one value until then.
    ///
    /// A thread counts as exited once its thread-local destructors have
    /// given its index back. `JoinHandle::join` waits for that, but
    /// `std::thread::scope` returns as soon as the scoped closures have
    /// returned, possibly before: a cleanup right after a scope may still
    /// skip those threads' private slots, and their values are then dropped
    /// by the first cleanup after the threads are gone (one cleanup later
    /// than the two-cleanup bound).
    ///
    /// # Examples
    ///
    /// ```
    /// use victim_pool::Pool;
    /// let pool: Pool<u32> = Pool::new(|| 0);
    /// pool.put(7);
    /// pool.cleanup(); // 7 is now in the victim cache
    /// assert_eq!(pool.try_take(), Some(7));
    /// pool.put(8);
    /// pool.cleanup();
    /// pool.cleanup(); // 8 was not taken within two cleanups
    /// assert_eq!(pool.try_take(), None);
    /// ```
    pub fn cleanup(&self) {
        drop(self.age_one_step());
    }

    /// A snapshot of the pool's counters: where gets were served, what was
    /// created, discarded and aged out, and how many values the pool holds.
    ///
    /// Counting adds no atomic read-modify-write to the fast paths: each
    /// thread's counters are written by that thread alone and summed here.
    ///
    /// # Examples
    ///
    /// ```
    /// use victim_pool::Pool;
    /// let pool = Pool::new(|| 0u8);
    /// drop(pool.get()); // created, then put back
    /// drop(pool.get()); // from the private slot
    /// let stats = pool.stats();
    /// assert_eq!((stats.created, stats.from_private, stats.puts), (1, 1, 2));
    /// assert_eq!(stats.retained, 1);
    /// ```
    #[must_use]
    pub fn stats(&self) -> PoolStats {
        let mut stats = PoolStats::default();
        self.state.counters.add_to(&mut stats);
        let mut on_loan = 0u64;
        for (_, local) in self.state.locals.iter() {
            local.counters.add_to(&mut stats);
            on_loan += u64::from(local.private().is_lent());
        }
        // A loan's put is counted when it is lent (C2). Concurrent loans
        // may make the difference momentarily negative: then it is 0.
        let puts = stats.puts.wrapping_sub(on_loan);
        stats.puts = if (puts as i64) < 0 { 0 } else { puts };
        stats.retained = stats
            .puts
            .saturating_sub(stats.hits() + stats.discarded + stats.dropped_by_cleanup);
        stats
    }

    /// The slots of the rings that this pool's chains hold now, each room
    /// for one value: the pool's memory beyond its per-thread locals (see
    /// "Memory bounds" in the design notes). A chain allocates its first
    /// ring on its first push; rings drained by stealers are freed, and a
    /// cleanup frees the rings of exited threads' chains once they are
    /// empty. Walks every chain, pinning the epoch.
    ///
    /// # Examples
    ///
    /// ```
    /// use victim_pool::Pool;
    /// let pool = Pool::new(|| 0u8).with_first_capacity(4);
    /// pool.put(1); // the private slot: no ring
    /// assert_eq!(pool.ring_slots(), 0);
    /// pool.put(2); // the chain's first ring
    /// assert_eq!(pool.ring_slots(), 4);
    /// ```
    #[must_use]
    pub fn ring_slots(&self) -> usize {
        self.state
            .locals
            .iter()
            .map(|(_, local)| local.ring_slots())
            .sum()
    }

    /// Moves every private value that expires at `next` into `dropped`:
    /// those of idle live threads too, where the asymmetric fence has its
    /// heavy side; elsewhere only those of exited threads. Visits only the
    /// listed slots (the summary's set `PRIVATE_SLOTS`), and unlists those
    /// it finds empty, so a cleanup's work follows the slots that were
    /// used since the last one, not every local ever allocated.
    fn drain_expired_private(&self, next: usize, dropped: &mut Vec<T>) {
        let expired = |stamp| Age::of(stamp, next) == Age::Expired;
        // The same slots are marked, then drained, unlisted or unmarked:
        // only those that look full or listed-empty, as the owner of a
        // marked slot backs off (and its fill relists it).
        let marked: Vec<(usize, &Local<T>, Want)> = self
            .state
            .locals
            .candidates(PRIVATE_SLOTS, 0)
            .filter_map(|(index, local)| Some((index, local, local.private().want()?)))
            .collect();
        let fenced = marked.is_empty() || asymmetric_fence::heavy();
        for &(index, local, want) in &marked {
            if !fenced {
                local.private().unwant();
                continue;
            }
            let bit = self.state.locals.bit(index);
            let clear = || bit.clear(PRIVATE_SLOTS);
            // SAFETY: we are the one drainer (the cleanup lock is held),
            // marked this slot, and the heavy fence ran since.
            unsafe {
                match want {
                    Want::Drain => dropped.extend(local.private().drain_if(expired, clear)),
                    Want::Unlist => {
                        local
                            .private()
                            .unlist_if_empty(clear, || bit.remark(PRIVATE_SLOTS));
                    }
                }
            }
        }
        if fenced {
            return;
        }
        thread_index::with_unowned_indices(|unowned| {
            for (index, local) in self.state.locals.candidates(PRIVATE_SLOTS, 0) {
                if unowned(index) {
                    // SAFETY: no thread holds `index` and none can acquire it
                    // while we hold the registry lock, so we act for it as
                    // the slot's accessor (thread_index R3).
                    unsafe {
                        dropped.extend(local.take_private_aged(next, Age::Expired));
                        local.unlist_private_as_owner(&self.state.locals.bit(index));
                    }
                }
            }
        });
    }

    /// Frees the rings of exited threads' chains once they are empty, so an
    /// exited thread leaves only its local behind. Visits only the indices
    /// given back, and only when one was given back since a pass freed
    /// every such ring (a chain that still held values keeps the next
    /// cleanup looking).
    fn release_exited_rings(&self, cleanups: &mut Cleanups) {
        if cleanups.rings_released_at == Some(thread_index::releases())
            // Relaxed [rings-hint]: cleared before the pass, so a put into a
            // new ring after it sets the hint for the next cleanup.
            || !self.state.rings_maybe.swap(false, Ordering::Relaxed)
        {
            return;
        }
        let mut pinned = None;
        let (all, releases) = thread_index::with_free_indices(|free, releases| {
            let mut all = true;
            for local in free.filter_map(|index| self.state.locals.get(index)) {
                // SAFETY: no thread holds the local's index, and none can
                // acquire it while the registry is locked: we act as its
                // owner (thread_index R3).
                all &= unsafe { local.release_empty_chains(&mut pinned) };
            }
            (all, releases)
        });
        if all {
            cleanups.rings_released_at = Some(releases);
        } else {
            // Relaxed [rings-hint]: rings are left for a later cleanup.
            self.state.rings_maybe.store(true, Ordering::Relaxed);
        }
    }

    /// Does the work of `cleanup` and returns the values to drop.
    fn age_one_step(&self) -> DropEach<T> {
        let mut cleanups = lock(&self.state.cleanup_lock);
        // Relaxed [generation]: only cleanups store it, and they hold the lock.
        let generation = self.state.generation.load(Ordering::Relaxed);
        let next = generation.wrapping_add(1);
        let mut dropped = Vec::new();
        let mut pinned = None;
        // The chains that become primary at `next` hold the current victims;
        // the summary names those that may hold any. A chain is left when
        // `steal` finds it empty twice around clearing its bit.
        for (index, local) in self.state.locals.candidates(half(next), 0) {
            let guard = pinned.get_or_insert_with(epoch::pin);
            let bit = self.state.locals.bit(index);
            while let Some(value) = local.steal(next, guard, &bit) {
                dropped.push(value);
            }
        }
        drop(pinned);
        self.release_exited_rings(&mut cleanups);
        self.drain_expired_private(next, &mut dropped);
        debug_assert_eq!(half(next), half(generation.wrapping_sub(1)));
        // Relaxed [generation]: as in `try_take`; the chains drained above
        // are safe to use as primary whichever generation a thread reads.
        self.state.generation.store(next, Ordering::Relaxed);
        self.state
            .counters
            .bump_shared(Event::DroppedByCleanup, dropped.len() as u64);
        DropEach(dropped)
    }
}

/// Whether [`Pool::cleanup`] drains the private slots of idle live threads
/// here: true where the platform offers a process-wide memory barrier
/// (Linux on x86-64 and AArch64, through `membarrier`), false elsewhere, if
/// the kernel refuses it, or if the environment variable
/// `VICTIM_POOL_NO_MEMBARRIER` was set (to any value) before the first
/// cleanup, for a process that must not interrupt its other threads' CPUs.
/// Where false, a live thread's private value ages only when that thread
/// next uses the pool. Asking sends no barrier (the first call may register
/// the process for them).
///
/// # Examples
///
/// ```
/// use victim_pool::Pool;
/// let pool = Pool::new(|| 0u8);
/// pool.put(1);
/// pool.cleanup();
/// pool.cleanup();
/// let dropped = if victim_pool::cleanups_drain_idle_threads() { 1 } else { 0 };
/// assert_eq!(pool.stats().dropped_by_cleanup, dropped);
/// ```
#[must_use]
pub fn cleanups_drain_idle_threads() -> bool {
    asymmetric_fence::available()
}

impl<T, F: Fn() -> T> Pool<T, F> {
    /// Creates an empty pool that calls `create` when it has nothing to give.
    ///
    /// `const`, so a pool can be a `static`; nothing is allocated until a
    /// thread first uses it. [`Pool::builder`] adds return-time rules.
    pub const fn new(create: F) -> Self {
        Pool::from_parts(create, Rules::NONE, DEFAULT_FIRST_CAPACITY)
    }

    /// A pool with these settings (`new`, and the builder's `build`).
    const fn from_parts(create: F, rules: Rules<T>, first_capacity: usize) -> Self {
        Pool {
            state: per_execution!(State::new),
            first_capacity,
            rules,
            _pinned: PhantomPinned,
            create,
        }
    }

    /// Takes a value from the pool, or creates one, on loan: it goes back into
    /// the pool when the guard is dropped.
    ///
    /// `create` runs outside every internal critical section, so it may use
    /// the pool itself. If it panics, the panic propagates and the pool is
    /// unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// use victim_pool::{Pool, PoolGuard};
    /// let pool = Pool::new(|| String::with_capacity(64));
    /// {
    ///     let mut s = pool.get();
    ///     s.push_str("scratch");
    /// } // returned here
    /// let again = pool.get();
    /// assert_eq!(*again, "scratch"); // values come back as they were left
    /// let owned: String = PoolGuard::into_inner(again); // detached: not returned
    /// ```
    #[inline(always)]
    #[must_use = "dropping the guard at once gives the value straight back"]
    pub fn get(&self) -> PoolGuard<'_, T, F> {
        match self.lend_primary() {
            Some(lent) => PoolGuard::new(self, Held::Lent(lent)),
            None => self.get_slow(),
        }
    }

    /// `get` when the fast path had nothing to lend: out of line, so that
    /// the inlined `get` is small enough for its callers to inline in turn
    /// (a guard returned through a call travels through memory).
    #[inline(never)]
    fn get_slow(&self) -> PoolGuard<'_, T, F> {
        let held = match self.lend() {
            Some(lent) => Held::Lent(lent),
            None => Held::Owned(self.take()),
        };
        PoolGuard::new(self, held)
    }

    /// Takes a value from the pool, or creates one; the caller owns it.
    ///
    /// [`stats`](Pool::stats) counts a value as created once `create` has
    /// returned it: a `create` that panics is not counted.
    #[inline]
    #[must_use = "the value is dropped, not given back; use `get` for a loan"]
    pub fn take(&self) -> T {
        // Wider than two registers: returned through memory (`take_wide`).
        if mem::size_of::<T>() > 2 * mem::size_of::<usize>() {
            return self.take_wide();
        }
        // Only the private slot is inline, so that callers can inline `take`
        // in turn; everything past it is one out-of-line call.
        let Some((_, local, generation)) = self.held_local() else {
            return self.take_slow();
        };
        let mut value = MaybeUninit::uninit();
        // SAFETY: this thread holds the local's index, so it owns the local.
        if unsafe { local.take_primary(generation, &mut value) } {
            self.count(Some(local), Event::FromPrivate, 1);
            // SAFETY: `take_primary` returned true, so it wrote the value.
            return unsafe { value.assume_init() };
        }
        self.take_behind_private(local, generation)
    }

    /// `take` for a value too wide for registers, which a call returns
    /// through memory. The private slot's value is copied into a place that
    /// no call sees, so the compiler keeps it in registers and the inlined
    /// caller stores it once, where it holds it. The out-of-line paths
    /// write into another place, read back with [`word_copy::read_opaque`].
    /// (With one place for every path, the slot's value went through that
    /// place on the stack: one more store-to-load hop on the loop's chain,
    /// 4.35 against 3.58 ns per put + take + write of a 4 KiB `Vec` in
    /// `versus.sh`.)
    #[inline(always)]
    fn take_wide(&self) -> T {
        let mut primary = MaybeUninit::uninit();
        let mut elsewhere = MaybeUninit::uninit();
        match self.held_local() {
            Some((_, local, generation)) => {
                // SAFETY: this thread holds the local's index, so it owns
                // the local.
                if unsafe { local.take_primary(generation, &mut primary) } {
                    self.count(Some(local), Event::FromPrivate, 1);
                    // SAFETY: `take_primary` returned true: it wrote the value.
                    return unsafe { primary.assume_init() };
                }
                self.take_behind_private_into(local, generation, &mut elsewhere);
            }
            None => self.take_slow_into(&mut elsewhere),
        }
        // SAFETY: both calls above write a value into `elsewhere`.
        unsafe { word_copy::read_opaque(&elsewhere) }
    }

    /// `take` on a thread without an index or a local yet.
    #[inline(never)]
    fn take_slow(&self) -> T {
        self.take_slow_inline()
    }

    /// [`take_slow`](Self::take_slow) for [`take_wide`](Self::take_wide).
    #[inline(never)]
    fn take_slow_into(&self, out: &mut MaybeUninit<T>) {
        out.write(self.take_slow_inline());
    }

    /// The body of `take_slow` and `take_slow_into`.
    #[inline(always)]
    fn take_slow_inline(&self) -> T {
        self.take_pooled(None)
            .unwrap_or_else(|| self.create_counted())
    }

    /// `take` when the fast path found no value put at this generation:
    /// the private slot in full (a value stamped later, an expired one, a
    /// slot a drain held up), then the own chain's head (inline here, so an
    /// overflow take makes one call), the rest of Go's order, and `create`.
    /// An overflow take's case comes first, a paired pop from the own
    /// chain's head ring ([`take_paired`](Self::take_paired)); every other
    /// case leaves by a tail call, so that the common one saves fewer
    /// registers.
    #[inline(never)]
    fn take_behind_private(&self, local: &Local<T>, generation: usize) -> T {
        let mut newest = MaybeUninit::uninit();
        if self.take_paired(local, generation, &mut newest) {
            // SAFETY: `take_paired` returned true, so it wrote the value.
            return unsafe { newest.assume_init() };
        }
        self.take_behind_private_rest(local, generation)
    }

    /// [`take_behind_private`](Self::take_behind_private) past its first
    /// case.
    #[inline(never)]
    fn take_behind_private_rest(&self, local: &Local<T>, generation: usize) -> T {
        self.take_from_local(local, generation, None)
            .unwrap_or_else(|| self.create_counted())
    }

    /// [`take_behind_private`](Self::take_behind_private) for
    /// [`take_wide`](Self::take_wide).
    #[inline(never)]
    fn take_behind_private_into(
        &self,
        local: &Local<T>,
        generation: usize,
        out: &mut MaybeUninit<T>,
    ) {
        if !self.take_paired(local, generation, out) {
            self.take_behind_private_into_rest(local, generation, out);
        }
    }

    /// [`take_behind_private_into`](Self::take_behind_private_into) past
    /// its first case.
    #[inline(never)]
    fn take_behind_private_into_rest(
        &self,
        local: &Local<T>,
        generation: usize,
        out: &mut MaybeUninit<T>,
    ) {
        if !self.take_from_local_into(local, generation, None, out) {
            out.write(self.create_counted());
        }
    }

    /// An overflow take's common case: the private slot is empty and the
    /// runs say pair, so two values come from the own chain's head ring
    /// ([`Local::pop_own_pair`]), the newest into `out` and the next into
    /// the private slot. Returns whether it wrote `out`; if not, the rest
    /// of the take looks at the slot and the chain as if this had not run.
    #[inline(always)]
    fn take_paired(&self, local: &Local<T>, generation: usize, out: &mut MaybeUninit<T>) -> bool {
        let mut next = MaybeUninit::uninit();
        // SAFETY: the caller holds the local's thread index, so it owns the
        // local.
        if !unsafe { local.pop_own_pair(generation, out, &mut next) } {
            return false;
        }
        self.count(Some(local), Event::FromOwnChain, 1);
        // SAFETY: `pop_own_pair` wrote both; `next` is read once. The
        // refill runs no code of the user's, so nothing can unwind past
        // the value in `out` and leak it.
        self.refill_private(local, unsafe { next.assume_init() }, generation);
        true
    }

    /// Calls `create`, then counts the value on this thread's counters.
    #[cold]
    #[inline(never)]
    fn create_counted(&self) -> T {
        let value = (self.create)();
        let local = thread_index::current().map(|place| self.state.locals.get_or_create(place));
        self.count(local, Event::Created, 1);
        value
    }

    /// Like [`get`](Pool::get), for a pool in an `Arc`: the guard owns a
    /// reference to the pool, so it can be `'static` and move across threads
    /// and `.await` points. Works whether or not the pool is registered
    /// ([`register_arc`](Pool::register_arc)).
    #[must_use = "dropping the guard at once gives the value straight back"]
    pub fn get_owned(self: &std::sync::Arc<Self>) -> OwnedPoolGuard<T, F> {
        let held = match self.lend() {
            Some(lent) => Held::Lent(lent),
            None => Held::Owned(self.take()),
        };
        OwnedPoolGuard::new(std::sync::Arc::clone(self), held)
    }
}

impl<T> Pool<T> {
    /// Starts a pool with return-time rules (reset, keep-or-discard,
    /// per-thread bound); see [`PoolBuilder`]. `const`, so a `static`
    /// pool can have rules.
    ///
    /// `create` is a `fn() -> T`, which `Vec::new`, `String::new` and
    /// closures that capture nothing coerce to, so the pool's type is
    /// the plain `Pool<T>`. For a create function that captures, use
    /// [`PoolBuilder::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use victim_pool::Pool;
    ///
    /// static LINES: Pool<String> = Pool::builder(String::new)
    ///     .reset(String::clear)
    ///     .build();
    /// LINES.get().push_str("scratch");
    /// assert!(LINES.get().is_empty());
    /// ```
    pub const fn builder(create: fn() -> T) -> PoolBuilder<T> {
        PoolBuilder::new(create)
    }
}

impl<T, F> Pool<T, F> {
    /// Takes a pooled value on loan, or returns `None` without creating one.
    #[must_use = "dropping the guard at once gives the value straight back"]
    pub fn try_get(&self) -> Option<PoolGuard<'_, T, F>> {
        let held = match self.lend() {
            Some(lent) => Held::Lent(lent),
            None => Held::Owned(self.try_take()?),
        };
        Some(PoolGuard::new(self, held))
    }

    /// Lends the calling thread's primary private value in place, if it
    /// has one (the first tier of `get`, without moving the value).
    #[inline(always)]
    fn lend(&self) -> Option<LentSlot<T>> {
        let place = thread_index::current()?;
        // Relaxed [generation]: as in `try_take` (loaded after `current()`).
        let generation = self.state.generation.load(Ordering::Relaxed);
        let local = self.state.locals.get_or_create(place);
        // SAFETY: this thread holds index `place.index`, so it owns the local.
        match unsafe { local.lend_private(generation) } {
            Loan::Lent(slot) => {
                local.count_loan();
                Some(slot)
            }
            Loan::Expired(expired) => self.lend_after_expired(local, expired),
            Loan::None => None,
        }
    }

    /// This thread's index, its local and the pool's generation, if it holds
    /// an index already and its local exists: the fast paths' lookup, one
    /// thread-local load and one bucket load.
    #[inline(always)]
    fn held_local(&self) -> Option<(usize, &Local<T>, usize)> {
        let place = thread_index::current_if_held()?;
        // Relaxed [generation]: as in `take_pooled`; the index is held
        // already, so no hand-off is acquired after this load.
        let generation = self.state.generation.load(Ordering::Relaxed);
        let local = self.state.locals.get_at(place)?;
        Some((place.index, local, generation))
    }

    /// `lend`'s common case, all inline: a thread that holds an index, whose
    /// local exists and whose private value is primary. Everything else
    /// (first use, an aged or expired value) is `None`, left to `lend`.
    #[inline(always)]
    fn lend_primary(&self) -> Option<LentSlot<T>> {
        let (_, local, generation) = self.held_local()?;
        // SAFETY: this thread holds the local's index, so it owns the local.
        let slot = unsafe { local.lend_primary(generation) }?;
        local.count_loan();
        Some(slot)
    }

    /// Drops an expired private value found by `lend`, then tries again
    /// (as `take_after_expired` does for takes).
    #[cold]
    #[inline(never)]
    fn lend_after_expired(&self, local: &Local<T>, expired: T) -> Option<LentSlot<T>> {
        self.count(Some(local), Event::DroppedByCleanup, 1);
        drop(expired);
        self.lend()
    }

    /// A guard's drop of a lent value: the value stays where it is and the
    /// slot is marked full, stamped now, as a put would stamp it. Nothing is
    /// counted: lending counted the put already (`Counters` C2), so a drop
    /// on any thread needs no lookup of its own local.
    #[inline(always)]
    fn give_back(&self, lent: LentSlot<T>) {
        if self.rules.screens {
            return self.give_back_screened(lent);
        }
        // Relaxed [generation]: as in `put`.
        let generation = self.state.generation.load(Ordering::Relaxed);
        // SAFETY: the guard that held the loan keeps the pool alive.
        unsafe { lent.give_back(generation) };
    }

    /// Moves a lent value out of its slot for good, taking back the put
    /// that lending counted (C2) on the calling thread's counters.
    ///
    /// # Safety
    ///
    /// `lent` is a loan from this pool.
    pub(super) unsafe fn detach(&self, lent: LentSlot<T>) -> T {
        let local = thread_index::current().map(|place| self.state.locals.get_or_create(place));
        self.count(local, Event::Put, u64::MAX);
        // SAFETY: from this pool per the caller, which is alive (`&self`).
        unsafe { lent.take_back() }
    }

    /// `give_back` for a pool with return rules: the value is moved out and
    /// screened as `put` screens it.
    #[cold]
    #[inline(never)]
    fn give_back_screened(&self, lent: LentSlot<T>) {
        // SAFETY: the guard's loan is from this pool.
        self.put_screened(unsafe { self.detach(lent) });
    }

    /// A guard's drop of a value it owns: `put`, out of line so that the
    /// guard's drop stays small where the lent case is the common one.
    #[inline(never)]
    fn put_from_guard(&self, value: T) {
        self.put(value);
    }

    /// Joins the registry that [`cleanup_all`], [`sweep_every`] and a
    /// [`Sweeper`] age, until the pool is dropped. Registering twice has no
    /// further effect.
    ///
    /// For a `static` pool; [`register_arc`](Pool::register_arc) is the
    /// form for a pool in an `Arc`, [`register_pinned`](Pool::register_pinned)
    /// for any other pinned pool.
    ///
    /// # Examples
    ///
    /// ```
    /// use victim_pool::{cleanup_all, Pool};
    ///
    /// static NAMES: Pool<String> = Pool::new(String::new);
    /// NAMES.register();
    /// std::thread::spawn(|| {
    ///     NAMES.put("idle".to_string());
    ///     NAMES.put("idle too".to_string());
    /// })
    /// .join()
    /// .unwrap();
    /// cleanup_all();
    /// cleanup_all(); // nobody took them: both dropped
    /// assert_eq!(NAMES.stats().dropped_by_cleanup, 2);
    /// ```
    ///
    /// A pool that is not `'static` cannot register this way (the registry
    /// would outlive it):
    ///
    /// ```compile_fail
    /// use victim_pool::Pool;
    /// let local: Pool<u8> = Pool::new(|| 0);
    /// local.register(); // error: `local` does not live long enough
    /// ```
    pub fn register(&'static self)
    where
        T: Send + 'static,
        F: Sync + 'static,
    {
        // SAFETY: a `'static` borrow (a `static`, or a leaked pool) keeps
        // the pool in place and alive for the rest of the program; and if
        // it were dropped anyway, its `Drop` withdraws first.
        unsafe { self.enroll_in_place() }
    }

    /// Joins the registry, like [`register`](Pool::register), for a pool in
    /// an `Arc`. The registry does not keep the pool alive: when the last
    /// `Arc` is dropped, the pool leaves the registry, and no sweep touches
    /// it afterwards. Owned guards ([`get_owned`](Pool::get_owned)) work as
    /// for any pool in an `Arc`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use victim_pool::{cleanup_all, registered_pools, Pool};
    ///
    /// let pool = Arc::new(Pool::new(|| vec![0u64; 16]));
    /// pool.register_arc();
    /// let owned = pool.get_owned(); // 'static: may move to another thread
    /// std::thread::spawn(move || drop(owned)).join().unwrap();
    /// cleanup_all();
    /// cleanup_all(); // the value given back on the other thread is dropped
    /// assert_eq!(pool.stats().dropped_by_cleanup, 1);
    /// let registered = registered_pools();
    /// drop(pool); // leaves the registry
    /// assert_eq!(registered_pools(), registered - 1);
    /// ```
    pub fn register_arc(self: &std::sync::Arc<Self>)
    where
        T: Send + 'static,
        F: Sync + 'static,
    {
        // SAFETY: the pool stays at its address while any `Arc` to it
        // exists, and its `Drop` (run when the last one goes) withdraws
        // before the memory is freed. The registry holds no `Arc`.
        unsafe { self.enroll_in_place() }
    }

    /// Joins the registry, like [`register`](Pool::register), for a pinned
    /// pool: `Box::pin(pool)`, or a pool pinned on the stack.
    ///
    /// # Examples
    ///
    /// ```
    /// use victim_pool::{cleanup_all, Pool};
    /// let pool = Box::pin(Pool::new(|| 0u64));
    /// pool.as_ref().register_pinned();
    /// pool.put(1); // this thread's private slot
    /// pool.put(2); // this thread's chain
    /// cleanup_all();
    /// cleanup_all(); // nobody took them: both dropped
    /// assert_eq!(pool.try_take(), None);
    /// assert_eq!(pool.stats().dropped_by_cleanup, 2);
    /// assert_eq!(pool.stats().retained, 0);
    /// ```
    pub fn register_pinned(self: Pin<&Self>)
    where
        T: Send + 'static,
        F: Sync + 'static,
    {
        // SAFETY: a pinned pool stays at this address until its `Drop`,
        // which withdraws first.
        unsafe { self.get_ref().enroll_in_place() }
    }

    /// Whether the pool is in the registry.
    #[must_use]
    pub fn is_registered(&self) -> bool {
        lock(&self.state.enrollment).is_some()
    }

    /// Adds the pool to the registry unless it is there already.
    ///
    /// # Safety
    ///
    /// The pool stays at its address until its `Drop`, which withdraws the
    /// enrollment before anything is freed.
    unsafe fn enroll_in_place(&self)
    where
        T: Send + 'static,
        F: Sync + 'static,
    {
        let mut enrollment = lock(&self.state.enrollment);
        if enrollment.is_none() {
            let erased: *const (dyn Ages + 'static) = self;
            // SAFETY: the caller keeps the pool in place until its `Drop`,
            // which withdraws the enrollment first (registry's E1).
            *enrollment = Some(unsafe { registry::enroll(erased) });
        }
    }
}

impl<T: Send + 'static, F: Sync + 'static> Ages for Pool<T, F> {
    fn age(&self) -> Box<dyn Garbage> {
        Box::new(self.age_one_step())
    }
}

impl<T, F> Drop for Pool<T, F> {
    fn drop(&mut self) {
        if let Some(enrollment) = lock(&self.state.enrollment).take() {
            registry::withdraw(enrollment);
        }
    }
}

impl<T, F> fmt::Debug for Pool<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("stats", &self.stats())
            .field("rules", &self.rules)
            .field("first_capacity", &self.first_capacity)
            .field("registered", &self.is_registered())
            // Relaxed [generation]: a snapshot for display.
            .field("cleanups", &self.state.generation.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Writes a value found further along the lookup into `out`; returns
/// whether there was one.
#[inline(always)]
fn write_found<T>(found: Option<T>, out: &mut MaybeUninit<T>) -> bool {
    match found {
        Some(value) => {
            out.write(value);
            true
        }
        None => false,
    }
}

// Unwind safety, as for a `Mutex`: a panic in `create`, a rule or a value's
// `Drop` leaves the pool consistent (values are moved whole, counters and
// chains never half-updated), so a pool is as unwind-safe as what it holds
// and calls. The rules are erased (`InlineFn`) and not considered: a rule
// that panics only loses the value it was given.
impl<T: UnwindSafe, F: UnwindSafe> UnwindSafe for Pool<T, F> {}
impl<T: UnwindSafe, F: RefUnwindSafe> RefUnwindSafe for Pool<T, F> {}

#[cfg(all(test, not(loom)))]
mod tests;
#[cfg(all(test, not(loom)))]
mod tests_api;
#[cfg(all(test, not(loom)))]
mod tests_lending;
#[cfg(all(test, not(loom)))]
mod tests_service;

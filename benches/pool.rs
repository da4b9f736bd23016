//! `Pool` against Go's `sync.Pool` and the Rust pools a user could pick
//! instead, under the workloads of issue 5, side by side in one process.
//!
//! Workloads (group ids are `<workload>/<payload>/<threads>t`, the names
//! `benches/go/pool_bench_test.go` uses, so Go's rows join the tables):
//!
//! 1. `pool`: each thread repeats put + take (+ touch) on one value (Go's
//!    BenchmarkPool), at 1, 2 and 8 threads.
//! 2. `overflow`: each thread puts 100 values, then takes 100.
//! 3. `starvation`: each thread puts 67 of its 100 values back, drops 33,
//!    then takes 100: a third of the takes must steal or create.
//! 4. `handoff-1to1`, `handoff-1to3`: one producer takes, touches and sends
//!    values over bounded channels to one or three consumers, which touch
//!    them and put them back. Per-thread free lists strand values on the
//!    consumers here; creates per operation show it.
//! 5. `expensive-create`: creating a value sleeps 1 ms (as Go's side does);
//!    each thread takes 100 values, then puts them back, while victim-pool
//!    is aged by a [`Sweeper`] every 10 ms.
//! 6. `cleanup-pause` (a custom measurement, not criterion's): a cleanup of
//!    100,000 pooled values while another thread times its put + take pairs.
//! 7. `burst-then-idle` (custom): 10,000 values out at once, all back, then
//!    0..3 cleanups; values and bytes the pool still holds.
//! 8. `put-take-instructions` (custom): instructions per put + take pair
//!    under `valgrind --tool=callgrind`, and the share of victim-pool's
//!    statistics counters in them (issue 4).
//!
//! Payloads: `small` is a boxed 32-byte struct (Go pools a `*small`), `buf4k`
//! a zeroed 4096-byte `Vec<u8>`. "Touch" increments the first byte or field
//! after every take; handoff consumers increment the second.
//!
//! Contenders, in row order: victim-pool's `Pool` (`take`/`put`); a
//! `thread_local!` `RefCell<Vec<T>>` free list (the floor: no sharing, no
//! atomics); a pool of crossbeam-deque `Worker`s with their `Stealer`s (the
//! ablation: per-thread LIFO stacks with stealing, but no private slot and no
//! victim cache); regex-automata's `util::pool::Pool`; lockfree-object-pool's
//! `LinearObjectPool`; opool's concurrent `Pool` (bounded, 1024 values);
//! object-pool's `Pool` (a `Mutex<Vec<T>>`); and plain allocation of the same
//! bytes, through the system allocator and through mimalloc. mimalloc cannot
//! be a second `#[global_allocator]` in this process, so its row calls
//! `MiMalloc`'s `GlobalAlloc` methods directly for the payload's heap block,
//! and the system row makes exactly the same calls on `System`.
//!
//! Multi-threaded groups keep their threads for a whole row (a "crew"): each
//! sample hands every thread its share of the iterations and times the wall
//! clock from release to the last thread's finish, so, as in Go's
//! RunParallel, the time per iteration is wall time over all threads' work.
//!
//! `VICTIM_BENCH_QUICK=1` shortens everything (a smoke run). Positional
//! arguments filter the criterion benchmarks as usual and the custom groups
//! by substring. `benches/run.sh` turns the results into docs/benchmarks.md.

#[path = "report/extra.rs"]
mod extra;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode};
use crossbeam_deque::{Steal, Stealer, Worker};
use crossbeam_queue::ArrayQueue;
use lockfree_object_pool::{LinearObjectPool, LinearReusable};
use mimalloc::MiMalloc;
use object_pool::Reusable;
use opool::{PoolAllocator, RefGuard};
use std::alloc::{handle_alloc_error, GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hint::black_box;
use std::io::Write as _;
use std::marker::PhantomData;
use std::path::Path;
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Barrier, RwLock};
use std::thread::{self, LocalKey};
use std::time::{Duration, Instant};
use victim_pool::{Pool, PoolStats, Sweeper};

// ------------------------------------------------------------------ settings

/// Ops between puts and takes in `overflow` and `starvation`.
const BURST: usize = 100;
/// Values a `starvation` iteration puts back (Go: 100 less a third).
const STARVED_PUTS: usize = 67;
/// Values in flight between producer and consumers in `handoff` (Go's
/// channel capacity), split evenly over the consumers' channels.
const HANDOFF_IN_FLIGHT: usize = 64;
/// What creating a value costs in `expensive-create` (Go's side sleeps as long).
const EXPENSIVE_CREATE: Duration = Duration::from_millis(1);
/// The sweep interval in `expensive-create` (Go's ticking variant).
const SWEEP_INTERVAL: Duration = Duration::from_millis(10);
/// Values held at once in `expensive-create`.
const EXPENSIVE_HELD: usize = 100;
/// Values pooled before each measured cleanup in `cleanup-pause`.
const PAUSE_POOLED: usize = 100_000;
/// Values live at once in `burst-then-idle`.
const BURST_VALUES: usize = 10_000;
/// Cleanups after the burst: 0..=this.
const IDLE_CLEANUPS: usize = 3;
/// opool's pool is a bounded queue; this is its size here.
const OPOOL_CAPACITY: usize = 1024;
/// The bytes of a `buf4k` payload.
const BUF_SIZE: usize = 4096;
/// Set in the child process that callgrind runs: `<contender index>:<pairs>`.
const CALLGRIND_VAR: &str = "VICTIM_POOL_BENCH_CALLGRIND";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `cargo test --benches`: run everything once, tiny.
    Test,
    /// `VICTIM_BENCH_QUICK=1`: short measurements.
    Quick,
    Full,
}

fn mode() -> Mode {
    let quick = std::env::var_os("VICTIM_BENCH_QUICK").is_some_and(|v| !v.is_empty() && v != "0");
    if !std::env::args().any(|a| a == "--bench") {
        Mode::Test
    } else if quick {
        Mode::Quick
    } else {
        Mode::Full
    }
}

/// Positional command-line arguments: criterion takes them as a filter; the
/// custom groups run when their id contains one of them (or there are none).
fn selected(group_id: &str) -> bool {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    filters.is_empty() || filters.iter().any(|f| group_id.contains(f.as_str()))
}

fn config() -> Criterion {
    let c = Criterion::default().without_plots();
    match mode() {
        Mode::Quick => c
            .warm_up_time(Duration::from_millis(150))
            .measurement_time(Duration::from_millis(400))
            .sample_size(10),
        _ => c
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_millis(1500))
            .sample_size(30),
    }
}

// ------------------------------------------------------------------ payloads

/// What the pools hold.
trait Payload: Send + Sync + Sized + 'static {
    /// The variant part of a group id.
    const VARIANT: &'static str;
    /// Heap bytes behind one value (the plain-allocation rows allocate as
    /// many; `burst-then-idle` converts values to bytes with it).
    const SIZE: usize;
    /// What creating one costs beyond allocating it.
    fn creation_cost() {}
    fn create() -> Self;
    /// The producer's touch after a take.
    fn touch(&mut self);
    /// The handoff consumer's touch before a put.
    fn touch_other(&mut self);
    /// This payload's `thread_local!` free list (the floor contender).
    fn free_list() -> &'static LocalKey<RefCell<Vec<Self>>>;
    /// Called when a plain-allocation row frees the block standing for one
    /// of these, so that drop-counting payloads count it too.
    fn note_plain_drop() {}
}

/// Go's `small`: 32 bytes.
#[derive(Default)]
struct Small {
    a: u64,
    b: u64,
    _c: u64,
    _d: u64,
}

impl Payload for Vec<u8> {
    const VARIANT: &'static str = "buf4k";
    const SIZE: usize = BUF_SIZE;
    fn create() -> Self {
        vec![0; BUF_SIZE]
    }
    #[inline]
    fn touch(&mut self) {
        self[0] = self[0].wrapping_add(1);
    }
    #[inline]
    fn touch_other(&mut self) {
        self[1] = self[1].wrapping_add(1);
    }
    fn free_list() -> &'static LocalKey<RefCell<Vec<Self>>> {
        thread_local!(static LIST: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) });
        &LIST
    }
}

impl Payload for Box<Small> {
    const VARIANT: &'static str = "small";
    const SIZE: usize = std::mem::size_of::<Small>();
    fn create() -> Self {
        Box::default()
    }
    #[inline]
    fn touch(&mut self) {
        self.a = self.a.wrapping_add(1);
    }
    #[inline]
    fn touch_other(&mut self) {
        self.b = self.b.wrapping_add(1);
    }
    // The floor holds the very values the pools hold: boxes.
    #[allow(clippy::vec_box)]
    fn free_list() -> &'static LocalKey<RefCell<Vec<Self>>> {
        thread_local!(static LIST: RefCell<Vec<Box<Small>>> = const { RefCell::new(Vec::new()) });
        &LIST
    }
}

/// A `small` whose creation sleeps for [`EXPENSIVE_CREATE`].
struct Expensive(Box<Small>);

impl Payload for Expensive {
    // Go's name for the variant with a cleanup every 10 ms.
    const VARIANT: &'static str = "tick10ms";
    const SIZE: usize = std::mem::size_of::<Small>();
    fn creation_cost() {
        thread::sleep(EXPENSIVE_CREATE);
    }
    fn create() -> Self {
        Self::creation_cost();
        Expensive(Box::default())
    }
    #[inline]
    fn touch(&mut self) {
        self.0.touch();
    }
    #[inline]
    fn touch_other(&mut self) {
        self.0.touch_other();
    }
    fn free_list() -> &'static LocalKey<RefCell<Vec<Self>>> {
        thread_local!(static LIST: RefCell<Vec<Expensive>> = const { RefCell::new(Vec::new()) });
        &LIST
    }
}

/// Values of [`Tracked`] dropped so far, by any thread.
static TRACKED_DROPS: AtomicU64 = AtomicU64::new(0);

/// A `buf4k` that counts its drops, so that what a pool still holds is
/// measured (created minus dropped) rather than taken from the pool's word.
struct Tracked(Vec<u8>);

impl Drop for Tracked {
    fn drop(&mut self) {
        // Relaxed [tracked-drops]: read on the thread that dropped the
        // values, or after joining every thread that did.
        TRACKED_DROPS.fetch_add(1, Ordering::Relaxed);
    }
}

impl Payload for Tracked {
    const VARIANT: &'static str = "buf4k";
    const SIZE: usize = BUF_SIZE;
    fn create() -> Self {
        Tracked(Vec::create())
    }
    #[inline]
    fn touch(&mut self) {
        self.0.touch();
    }
    #[inline]
    fn touch_other(&mut self) {
        self.0.touch_other();
    }
    fn free_list() -> &'static LocalKey<RefCell<Vec<Self>>> {
        thread_local!(static LIST: RefCell<Vec<Tracked>> = const { RefCell::new(Vec::new()) });
        &LIST
    }
    fn note_plain_drop() {
        // Relaxed [tracked-drops]: as in `drop`.
        TRACKED_DROPS.fetch_add(1, Ordering::Relaxed);
    }
}

thread_local! {
    /// Create calls made on this thread, by every contender.
    static CREATED: Cell<u64> = const { Cell::new(0) };
}

/// The create function every pool is given: counts the call on this thread
/// (no shared cache line), then creates.
fn counted<P: Payload>() -> P {
    CREATED.with(|c| c.set(c.get() + 1));
    P::create()
}

fn created_here() -> u64 {
    CREATED.with(Cell::get)
}

/// A heap block of payload `P`'s size from allocator `A`: the
/// plain-allocation rows' value.
struct Heap<A: RawAlloc, P: Payload> {
    block: NonNull<u8>,
    layout: Layout,
    _allocator: PhantomData<(A, fn() -> P)>,
}

// SAFETY: a `Heap` owns its block outright, like a `Box<[u8]>`.
unsafe impl<A: RawAlloc, P: Payload> Send for Heap<A, P> {}
// SAFETY: shared references only read the pointer, never the block.
unsafe impl<A: RawAlloc, P: Payload> Sync for Heap<A, P> {}

impl<A: RawAlloc, P: Payload> Heap<A, P> {
    #[inline]
    fn new() -> Self {
        let layout = Layout::from_size_align(P::SIZE, 8).expect("a payload's layout");
        // SAFETY: every payload size is above zero.
        let block = unsafe { A::INSTANCE.alloc_zeroed(layout) };
        let Some(block) = NonNull::new(block) else {
            handle_alloc_error(layout)
        };
        Heap {
            block,
            layout,
            _allocator: PhantomData,
        }
    }

    #[inline]
    fn bump(&mut self, at: usize) {
        // SAFETY: `at` < 2 <= the block's size; the block is owned and zeroed.
        unsafe {
            let byte = self.block.as_ptr().add(at);
            *byte = (*byte).wrapping_add(1);
        }
    }
}

impl<A: RawAlloc, P: Payload> Drop for Heap<A, P> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: allocated by the same allocator with the same layout.
        unsafe { A::INSTANCE.dealloc(self.block.as_ptr(), self.layout) }
        P::note_plain_drop();
    }
}

/// An allocator the plain-allocation rows call directly.
trait RawAlloc: GlobalAlloc + Sync + 'static {
    const INSTANCE: Self;
    const ROW: &'static str;
}

impl RawAlloc for System {
    const INSTANCE: Self = System;
    const ROW: &'static str = "plain allocation (system allocator)";
}

impl RawAlloc for MiMalloc {
    const INSTANCE: Self = MiMalloc;
    const ROW: &'static str = "plain allocation (mimalloc, direct calls)";
}

// ------------------------------------------------------------------ contenders

/// One implementation, as the workloads drive it.
trait Contender: Sync + Sized {
    /// The row name in every table.
    const NAME: &'static str;
    type Payload: Payload;
    /// Per-thread state, made once per thread per row.
    type Handle<'a>
    where
        Self: 'a;
    /// What a caller holds between a take and a put.
    type Held<'a>: Send
    where
        Self: 'a;
    /// Why it cannot drop a value instead of returning it (`starvation`).
    const CANNOT_DISCARD: Option<&'static str> = None;
    /// Why it has no cleanup (`cleanup-pause`; `burst-then-idle` shows what
    /// that means for memory).
    const CANNOT_CLEAN: Option<&'static str>;

    fn make() -> Self;
    fn handle(&self) -> Self::Handle<'_>;
    fn take<'a>(&'a self, handle: &mut Self::Handle<'a>) -> Self::Held<'a>;
    fn put<'a>(&'a self, handle: &mut Self::Handle<'a>, held: Self::Held<'a>);
    fn touch(held: &mut Self::Held<'_>);
    fn touch_other(held: &mut Self::Held<'_>);
    /// Drops a value without returning it (only when `CANNOT_DISCARD` is
    /// `None`).
    fn discard(held: Self::Held<'_>) {
        drop(held);
    }
    /// One aging step; a no-op for contenders without one.
    fn cleanup(&self) {}
    fn stats(&self) -> Option<PoolStats> {
        None
    }
    /// Starts aging at `interval` until the returned handle drops.
    fn start_sweeper(&self, _interval: Duration) -> Option<Sweeper> {
        None
    }
}

const NO_CLEANUP: &str = "it has no cleanup: pooled values stay until the pool is dropped";

/// victim-pool's `Pool`, through `take` and `put`.
struct Victim<P: Payload>(Pin<Box<Pool<P>>>);

impl<P: Payload> Contender for Victim<P> {
    const NAME: &'static str = "victim-pool";
    type Payload = P;
    type Handle<'a> = ();
    type Held<'a> = P;
    const CANNOT_CLEAN: Option<&'static str> = None;

    fn make() -> Self {
        Victim(Box::pin(Pool::new(counted::<P> as fn() -> P)))
    }
    fn handle(&self) {}
    #[inline]
    fn take(&self, _: &mut ()) -> P {
        self.0.take()
    }
    #[inline]
    fn put(&self, _: &mut (), held: P) {
        self.0.put(held);
    }
    #[inline]
    fn touch(held: &mut P) {
        held.touch();
    }
    #[inline]
    fn touch_other(held: &mut P) {
        held.touch_other();
    }
    fn cleanup(&self) {
        self.0.cleanup();
    }
    fn stats(&self) -> Option<PoolStats> {
        Some(self.0.stats())
    }
    fn start_sweeper(&self, interval: Duration) -> Option<Sweeper> {
        self.0.as_ref().register();
        Some(Sweeper::start(interval))
    }
}

/// A `thread_local!` `RefCell<Vec<T>>` free list: the floor.
struct Floor<P>(PhantomData<fn() -> P>);

/// Empties this thread's list when the thread's part of a row ends.
struct FloorHandle<P: Payload>(PhantomData<fn() -> P>);

impl<P: Payload> Drop for FloorHandle<P> {
    fn drop(&mut self) {
        let list = P::free_list().try_with(|list| std::mem::take(&mut *list.borrow_mut()));
        drop(list);
    }
}

impl<P: Payload> Contender for Floor<P> {
    const NAME: &'static str = "thread_local! RefCell Vec free list (floor)";
    type Payload = P;
    type Handle<'a> = FloorHandle<P>;
    type Held<'a> = P;
    const CANNOT_CLEAN: Option<&'static str> = Some(NO_CLEANUP);

    fn make() -> Self {
        Floor(PhantomData)
    }
    fn handle(&self) -> FloorHandle<P> {
        FloorHandle(PhantomData)
    }
    #[inline]
    fn take(&self, _: &mut FloorHandle<P>) -> P {
        let pooled = P::free_list().with_borrow_mut(Vec::pop);
        pooled.unwrap_or_else(counted)
    }
    #[inline]
    fn put(&self, _: &mut FloorHandle<P>, held: P) {
        P::free_list().with_borrow_mut(|list| list.push(held));
    }
    #[inline]
    fn touch(held: &mut P) {
        held.touch();
    }
    #[inline]
    fn touch_other(held: &mut P) {
        held.touch_other();
    }
}

/// The ablation: a crossbeam-deque `Worker` (LIFO) per thread, and every
/// thread's `Stealer`; takes pop the own worker, then steal the others, then
/// create. victim-pool without the private slot and the victim cache.
struct DequePool<P> {
    stealers: RwLock<Vec<Stealer<P>>>,
}

impl<P: Payload> DequePool<P> {
    fn steal(&self, own: usize) -> Option<P> {
        let stealers = self.stealers.read().expect("stealers lock");
        let n = stealers.len();
        for k in 1..=n {
            loop {
                match stealers[(own + k) % n].steal() {
                    Steal::Success(value) => return Some(value),
                    Steal::Empty => break,
                    Steal::Retry => {}
                }
            }
        }
        None
    }
}

impl<P: Payload> Contender for DequePool<P> {
    const NAME: &'static str = "crossbeam-deque Worker/Stealer pool (ablation)";
    type Payload = P;
    type Handle<'a> = (Worker<P>, usize);
    type Held<'a> = P;
    const CANNOT_CLEAN: Option<&'static str> = Some(NO_CLEANUP);

    fn make() -> Self {
        DequePool {
            stealers: RwLock::new(Vec::new()),
        }
    }
    fn handle(&self) -> (Worker<P>, usize) {
        let worker = Worker::new_lifo();
        let mut stealers = self.stealers.write().expect("stealers lock");
        stealers.push(worker.stealer());
        (worker, stealers.len() - 1)
    }
    #[inline]
    fn take(&self, handle: &mut (Worker<P>, usize)) -> P {
        match handle.0.pop() {
            Some(value) => value,
            None => self.steal(handle.1).unwrap_or_else(counted),
        }
    }
    #[inline]
    fn put(&self, handle: &mut (Worker<P>, usize), held: P) {
        handle.0.push(held);
    }
    #[inline]
    fn touch(held: &mut P) {
        held.touch();
    }
    #[inline]
    fn touch_other(held: &mut P) {
        held.touch_other();
    }
}

type RegexPool<P> = regex_automata::util::pool::Pool<P, fn() -> P>;
type RegexGuard<'a, P> = regex_automata::util::pool::PoolGuard<'a, P, fn() -> P>;

/// regex-automata's `util::pool::Pool`: an owner slot for the first thread,
/// then stacks behind mutexes picked by thread id.
struct Regex<P: Payload>(RegexPool<P>);

impl<P: Payload> Contender for Regex<P> {
    const NAME: &'static str = "regex-automata util::pool::Pool";
    type Payload = P;
    type Handle<'a> = ();
    type Held<'a> = RegexGuard<'a, P>;
    const CANNOT_DISCARD: Option<&'static str> =
        Some("a guard can only put its value back: there is no way to drop it instead");
    const CANNOT_CLEAN: Option<&'static str> = Some(NO_CLEANUP);

    fn make() -> Self {
        Regex(RegexPool::new(counted::<P> as fn() -> P))
    }
    fn handle(&self) {}
    #[inline]
    fn take(&self, _: &mut ()) -> RegexGuard<'_, P> {
        self.0.get()
    }
    #[inline]
    fn put<'a>(&'a self, _: &mut (), held: RegexGuard<'a, P>) {
        RegexGuard::put(held);
    }
    #[inline]
    fn touch(held: &mut RegexGuard<'_, P>) {
        held.touch();
    }
    #[inline]
    fn touch_other(held: &mut RegexGuard<'_, P>) {
        held.touch_other();
    }
}

/// lockfree-object-pool's `LinearObjectPool`: values live in pages of 32
/// slots; a guard's drop frees its slot.
struct Linear<P: Payload>(LinearObjectPool<P>);

impl<P: Payload> Contender for Linear<P> {
    const NAME: &'static str = "lockfree-object-pool LinearObjectPool";
    type Payload = P;
    type Handle<'a> = ();
    type Held<'a> = LinearReusable<'a, P>;
    const CANNOT_DISCARD: Option<&'static str> =
        Some("values live in the pool's pages: a guard can only give its slot back");
    const CANNOT_CLEAN: Option<&'static str> = Some(NO_CLEANUP);

    fn make() -> Self {
        Linear(LinearObjectPool::new(counted::<P> as fn() -> P, |_| {}))
    }
    fn handle(&self) {}
    #[inline]
    fn take(&self, _: &mut ()) -> LinearReusable<'_, P> {
        self.0.pull()
    }
    #[inline]
    fn put<'a>(&'a self, _: &mut (), held: LinearReusable<'a, P>) {
        drop(held);
    }
    #[inline]
    fn touch(held: &mut LinearReusable<'_, P>) {
        held.touch();
    }
    #[inline]
    fn touch_other(held: &mut LinearReusable<'_, P>) {
        held.touch_other();
    }
}

/// opool's allocator: the counted create function.
struct OpoolCreate<P>(PhantomData<fn() -> P>);

impl<P: Payload> PoolAllocator<P> for OpoolCreate<P> {
    fn allocate(&self) -> P {
        counted()
    }
}

/// opool's concurrent `Pool`: a crossbeam `ArrayQueue` of
/// [`OPOOL_CAPACITY`] values; puts beyond it drop the value.
struct Opool<P: Payload>(opool::Pool<OpoolCreate<P>, P>);

impl<P: Payload> Contender for Opool<P> {
    const NAME: &'static str = "opool Pool (capacity 1024)";
    type Payload = P;
    type Handle<'a> = ();
    type Held<'a> = RefGuard<'a, OpoolCreate<P>, P>;
    const CANNOT_CLEAN: Option<&'static str> =
        Some("it has no cleanup: up to its capacity of values stay until the pool is dropped");

    fn make() -> Self {
        Opool(opool::Pool::new(OPOOL_CAPACITY, OpoolCreate(PhantomData)))
    }
    fn handle(&self) {}
    #[inline]
    fn take(&self, _: &mut ()) -> RefGuard<'_, OpoolCreate<P>, P> {
        self.0.get()
    }
    #[inline]
    fn put<'a>(&'a self, _: &mut (), held: RefGuard<'a, OpoolCreate<P>, P>) {
        drop(held);
    }
    #[inline]
    fn touch(held: &mut RefGuard<'_, OpoolCreate<P>, P>) {
        held.touch();
    }
    #[inline]
    fn touch_other(held: &mut RefGuard<'_, OpoolCreate<P>, P>) {
        held.touch_other();
    }
    fn discard(held: RefGuard<'_, OpoolCreate<P>, P>) {
        drop(held.into_inner());
    }
}

/// object-pool's `Pool`: a `parking_lot::Mutex<Vec<T>>`.
struct ObjectPool<P: Payload>(object_pool::Pool<P>);

impl<P: Payload> Contender for ObjectPool<P> {
    const NAME: &'static str = "object-pool Pool (Mutex + Vec)";
    type Payload = P;
    type Handle<'a> = ();
    type Held<'a> = Reusable<'a, P>;
    const CANNOT_CLEAN: Option<&'static str> = Some(NO_CLEANUP);

    fn make() -> Self {
        ObjectPool(object_pool::Pool::new(0, counted::<P>))
    }
    fn handle(&self) {}
    #[inline]
    fn take(&self, _: &mut ()) -> Reusable<'_, P> {
        self.0.pull(counted::<P>)
    }
    #[inline]
    fn put<'a>(&'a self, _: &mut (), held: Reusable<'a, P>) {
        drop(held);
    }
    #[inline]
    fn touch(held: &mut Reusable<'_, P>) {
        held.touch();
    }
    #[inline]
    fn touch_other(held: &mut Reusable<'_, P>) {
        held.touch_other();
    }
    fn discard(held: Reusable<'_, P>) {
        drop(held.detach().1);
    }
}

/// No pool: every take allocates a zeroed block of the payload's size (and
/// pays its creation cost), every put frees it.
struct Plain<P, A>(PhantomData<fn() -> (P, A)>);

impl<P: Payload, A: RawAlloc> Contender for Plain<P, A> {
    const NAME: &'static str = A::ROW;
    type Payload = P;
    type Handle<'a> = ();
    type Held<'a> = Heap<A, P>;
    const CANNOT_CLEAN: Option<&'static str> =
        Some("nothing is pooled, so there is nothing to clean");

    fn make() -> Self {
        Plain(PhantomData)
    }
    fn handle(&self) {}
    #[inline]
    fn take(&self, _: &mut ()) -> Heap<A, P> {
        CREATED.with(|c| c.set(c.get() + 1));
        P::creation_cost();
        Heap::new()
    }
    #[inline]
    fn put(&self, _: &mut (), held: Heap<A, P>) {
        drop(held);
    }
    #[inline]
    fn touch(held: &mut Heap<A, P>) {
        held.bump(0);
    }
    #[inline]
    fn touch_other(held: &mut Heap<A, P>) {
        held.bump(1);
    }
}

/// Calls `visit` once per contender, in row order.
trait Visit<P: Payload> {
    fn visit<C: Contender<Payload = P>>(&mut self);
}

fn each_contender<P: Payload>(v: &mut impl Visit<P>) {
    v.visit::<Victim<P>>();
    v.visit::<Floor<P>>();
    v.visit::<DequePool<P>>();
    v.visit::<Regex<P>>();
    v.visit::<Linear<P>>();
    v.visit::<Opool<P>>();
    v.visit::<ObjectPool<P>>();
    v.visit::<Plain<P, System>>();
    v.visit::<Plain<P, MiMalloc>>();
}

fn contender_names<P: Payload>() -> Vec<&'static str> {
    struct Names(Vec<&'static str>);
    impl<P: Payload> Visit<P> for Names {
        fn visit<C: Contender<Payload = P>>(&mut self) {
            self.0.push(C::NAME);
        }
    }
    let mut names = Names(Vec::new());
    each_contender::<P>(&mut names);
    names.0
}

// ------------------------------------------------------------------ loops

/// `n` put + take pairs after one take: Go's BenchmarkPool loop.
#[inline(never)]
fn pairs<'c, C: Contender>(c: &'c C, handle: &mut C::Handle<'c>, n: u64) {
    let mut held = c.take(handle);
    C::touch(&mut held);
    for _ in 0..n {
        c.put(handle, held);
        held = c.take(handle);
        C::touch(&mut held);
        black_box(&mut held);
    }
    c.put(handle, held);
}

/// `n` iterations of: put `puts` of the `takes` held values back, drop the
/// rest, take `takes` again.
fn puts_then_takes<'c, C: Contender>(
    c: &'c C,
    handle: &mut C::Handle<'c>,
    n: u64,
    puts: usize,
    takes: usize,
) {
    let mut held: Vec<C::Held<'c>> = Vec::with_capacity(takes);
    for _ in 0..takes {
        let mut value = c.take(handle);
        C::touch(&mut value);
        held.push(value);
    }
    for _ in 0..n {
        for (i, value) in held.drain(..).enumerate() {
            if i < puts {
                c.put(handle, value);
            } else {
                C::discard(value);
            }
        }
        for _ in 0..takes {
            let mut value = c.take(handle);
            C::touch(&mut value);
            held.push(value);
        }
        black_box(&mut held);
    }
    for value in held {
        c.put(handle, value);
    }
}

/// `n` iterations of: take [`EXPENSIVE_HELD`] values, put them all back.
fn hold_then_return<'c, C: Contender>(c: &'c C, handle: &mut C::Handle<'c>, n: u64) {
    let mut held: Vec<C::Held<'c>> = Vec::with_capacity(EXPENSIVE_HELD);
    for _ in 0..n {
        for _ in 0..EXPENSIVE_HELD {
            held.push(c.take(handle));
        }
        black_box(&mut held);
        for value in held.drain(..) {
            c.put(handle, value);
        }
    }
}

// ------------------------------------------------------------------ crews

/// What a crew's threads wait on.
struct Gate {
    /// The current sample's iterations, over all threads.
    iters: AtomicU64,
    stop: AtomicBool,
    start: Barrier,
    done: Barrier,
    /// Create calls of the crew's threads so far.
    creates: AtomicU64,
}

/// Iterations of thread `t` of `threads` when they share `total`.
fn share(total: u64, threads: usize, t: usize) -> u64 {
    let threads = threads as u64;
    total / threads + u64::from((t as u64) < total % threads)
}

/// Totals of a row.
#[derive(Default)]
struct Tally {
    /// Iterations, the crew's warm-up included.
    ops: u64,
    /// Of those, iterations criterion asked for (none if filtered out).
    timed: u64,
    creates: u64,
}

/// Runs `measure` with a function that does one sample: `iters` iterations
/// of `work`, shared by `threads` threads that each keep one handle for the
/// whole row; it returns the wall time from release to the last finish.
///
/// Before `measure`, every thread does one iteration, counted in the tally:
/// otherwise criterion's warm-up may time a cold first iteration (100
/// creates of 1 ms in `expensive-create`) and, from that estimate, run so
/// few iterations that the cold start dominates the row's creates per op.
fn with_crew<'c, C, W>(
    c: &'c C,
    threads: usize,
    work: W,
    measure: impl FnOnce(&mut dyn FnMut(u64) -> Duration),
) -> Tally
where
    C: Contender,
    W: Fn(&'c C, &mut C::Handle<'c>, u64) + Sync,
{
    let (mut ops, mut timed) = (0, 0);
    if threads == 1 {
        let before = created_here();
        let mut handle = c.handle();
        let mut run = |iters| {
            ops += iters;
            let start = Instant::now();
            work(c, &mut handle, iters);
            start.elapsed()
        };
        run(1);
        measure(&mut |iters| {
            timed += iters;
            run(iters)
        });
        drop(handle);
        return Tally {
            ops,
            timed,
            creates: created_here() - before,
        };
    }
    let gate = Gate {
        iters: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        start: Barrier::new(threads + 1),
        done: Barrier::new(threads + 1),
        creates: AtomicU64::new(0),
    };
    thread::scope(|s| {
        for t in 0..threads {
            let (gate, work) = (&gate, &work);
            s.spawn(move || {
                let mut handle = c.handle();
                loop {
                    gate.start.wait();
                    // Relaxed [crew-gate]: stored before the barrier this
                    // thread just passed, which orders it.
                    if gate.stop.load(Ordering::Relaxed) {
                        break;
                    }
                    // Relaxed [crew-gate]: as above.
                    let iters = gate.iters.load(Ordering::Relaxed);
                    let before = created_here();
                    work(c, &mut handle, share(iters, threads, t));
                    // Relaxed [crew-creates]: read after the crew is joined.
                    gate.creates
                        .fetch_add(created_here() - before, Ordering::Relaxed);
                    gate.done.wait();
                }
            });
        }
        let mut run = |iters| {
            ops += iters;
            // Relaxed [crew-gate]: published to the crew by the start barrier.
            gate.iters.store(iters, Ordering::Relaxed);
            let start = Instant::now();
            gate.start.wait();
            gate.done.wait();
            start.elapsed()
        };
        run(threads as u64);
        measure(&mut |iters| {
            timed += iters;
            run(iters)
        });
        // Relaxed [crew-gate]: as above.
        gate.stop.store(true, Ordering::Relaxed);
        gate.start.wait();
    });
    Tally {
        ops,
        timed,
        // Relaxed [crew-creates]: the crew has been joined.
        creates: gate.creates.load(Ordering::Relaxed),
    }
}

/// Creates of a row: victim-pool's own count (checked against the create
/// function's), or the create function's.
fn creates_of<C: Contender>(c: &C, counted: u64) -> u64 {
    match c.stats() {
        Some(stats) => {
            assert_eq!(
                stats.created,
                counted,
                "{}: statistics and the create function disagree",
                C::NAME
            );
            stats.created
        }
        None => counted,
    }
}

fn per_op(count: u64, ops: u64) -> f64 {
    count as f64 / ops.max(1) as f64
}

/// The records of one criterion group, written only if some row of it ran:
/// criterion's filter may skip them all, and the report must not show a
/// group that has no results.
struct Records {
    id: String,
    rows: Vec<(&'static str, RecordRow)>,
    ran: bool,
}

/// A row's metrics, or why the contender cannot express the workload.
type RecordRow = Result<Vec<(&'static str, f64)>, &'static str>;

impl Records {
    fn new(id: String) -> Self {
        Records {
            id,
            rows: Vec::new(),
            ran: false,
        }
    }

    /// A row's metrics, if criterion ran it (`timed` iterations > 0).
    fn metrics(&mut self, name: &'static str, timed: u64, metrics: Vec<(&'static str, f64)>) {
        if timed > 0 {
            self.ran = true;
            self.rows.push((name, Ok(metrics)));
        }
    }

    fn not_expressible(&mut self, name: &'static str, reason: &'static str) {
        self.rows.push((name, Err(reason)));
    }

    fn write(self, description: &str, order: &[&str]) {
        if !self.ran {
            return;
        }
        extra::describe_group(&self.id, description);
        extra::row_order(&self.id, order);
        for (name, row) in self.rows {
            match row {
                Ok(metrics) => extra::metrics(&self.id, name, &metrics),
                Err(reason) => extra::not_expressible(&self.id, name, reason),
            }
        }
    }
}

// ------------------------------------------------------------------ throughput groups

#[derive(Clone, Copy)]
enum Shape {
    Pairs,
    PutsThenTakes { puts: usize },
    HoldThenReturn,
}

struct Throughput<'a, 'g> {
    group: &'a mut BenchmarkGroup<'g, WallTime>,
    records: &'a mut Records,
    threads: usize,
    shape: Shape,
}

impl<P: Payload> Visit<P> for Throughput<'_, '_> {
    fn visit<C: Contender<Payload = P>>(&mut self) {
        let discards = matches!(self.shape, Shape::PutsThenTakes { puts } if puts < BURST);
        if let (true, Some(reason)) = (discards, C::CANNOT_DISCARD) {
            self.records.not_expressible(C::NAME, reason);
            return;
        }
        let c = C::make();
        let sweeper = match self.shape {
            Shape::HoldThenReturn => c.start_sweeper(SWEEP_INTERVAL),
            _ => None,
        };
        let shape = self.shape;
        let group = &mut *self.group;
        let tally = with_crew(
            &c,
            self.threads,
            |c, handle, n| match shape {
                Shape::Pairs => pairs(c, handle, n),
                Shape::PutsThenTakes { puts } => puts_then_takes(c, handle, n, puts, BURST),
                Shape::HoldThenReturn => hold_then_return(c, handle, n),
            },
            |run| {
                group.bench_function(C::NAME, |b| b.iter_custom(&mut *run));
            },
        );
        drop(sweeper);
        let creates = creates_of(&c, tally.creates);
        let metrics = vec![("creates/op", per_op(creates, tally.ops))];
        self.records.metrics(C::NAME, tally.timed, metrics);
    }
}

fn throughput<P: Payload>(
    c: &mut Criterion,
    workload: &str,
    threads: usize,
    shape: Shape,
    description: &str,
) {
    let id = format!("{workload}/{}/{threads}t", P::VARIANT);
    let mut group = c.benchmark_group(&id);
    let mut records = Records::new(id);
    if matches!(shape, Shape::HoldThenReturn) {
        // An iteration may create 100 values at 1 ms each.
        group.sampling_mode(SamplingMode::Flat).sample_size(10);
        if mode() == Mode::Full {
            group.measurement_time(Duration::from_secs(2));
        }
    }
    each_contender::<P>(&mut Throughput {
        group: &mut group,
        records: &mut records,
        threads,
        shape,
    });
    group.finish();
    records.write(description, &contender_names::<P>());
}

const PAYLOAD_NOTE: &str = "`small` is a boxed 32-byte struct, `buf4k` a zeroed 4 KiB \
    `Vec<u8>`; every take is followed by a write to the value. `creates/op`: calls of the \
    create function over all iterations of the row (warm-up included) per iteration; for \
    victim-pool it is `Pool::stats().created`, checked against the create function's count.";

fn pool_groups(c: &mut Criterion) {
    for threads in [1, 2, 8] {
        let text = format!(
            "One iteration: one put and one take (Go's BenchmarkPool), on each of {threads} \
             thread(s); the time is wall time over all threads' iterations (as Go's \
             RunParallel). {PAYLOAD_NOTE}{}",
            if threads > 2 {
                " More threads than the machine's 2 cores."
            } else {
                ""
            }
        );
        throughput::<Box<Small>>(c, "pool", threads, Shape::Pairs, &text);
        throughput::<Vec<u8>>(c, "pool", threads, Shape::Pairs, &text);
    }
}

fn overflow_groups(c: &mut Criterion) {
    for threads in [1, 2] {
        let text = format!(
            "One iteration: 100 puts, then 100 takes (Go's BenchmarkPoolOverflow), on each of \
             {threads} thread(s). {PAYLOAD_NOTE}"
        );
        let shape = Shape::PutsThenTakes { puts: BURST };
        throughput::<Box<Small>>(c, "overflow", threads, shape, &text);
        throughput::<Vec<u8>>(c, "overflow", threads, shape, &text);
    }
}

fn starvation_groups(c: &mut Criterion) {
    for threads in [1, 2] {
        let text = format!(
            "One iteration: 67 of the 100 held values are put back and 33 dropped, then 100 \
             takes (Go's BenchmarkPoolStarvation), on each of {threads} thread(s): a third \
             of the takes must steal or create. {PAYLOAD_NOTE}"
        );
        let shape = Shape::PutsThenTakes { puts: STARVED_PUTS };
        throughput::<Box<Small>>(c, "starvation", threads, shape, &text);
        throughput::<Vec<u8>>(c, "starvation", threads, shape, &text);
    }
}

fn expensive_groups(c: &mut Criterion) {
    for threads in [1, 2] {
        let text = format!(
            "One iteration: a thread takes 100 values, then puts them back, on each of \
             {threads} thread(s); creating a value sleeps 1 ms (a `small` after it). \
             victim-pool is registered and aged by a `Sweeper` every 10 ms; Go's row runs \
             `runtime.GC()` every 10 ms with the automatic GC off. The other pools have no \
             cleanup, so they keep every value (see burst-then-idle), and plain allocation \
             pays the 1 ms on every take."
        );
        throughput::<Expensive>(c, "expensive-create", threads, Shape::HoldThenReturn, &text);
    }
}

// ------------------------------------------------------------------ handoff

/// A handoff row keeps its pool across samples (as Go keeps one pool for a
/// whole run) until the values it has created reach this many bytes; then
/// the next sample starts a fresh pool. Only pools that strand values on the
/// consumers get there, and for them every take creates anyway.
const HANDOFF_MEMORY_BUDGET: usize = 256 << 20;

/// Waits a little after a failed queue operation: spins, then yields (the
/// machine is shared and a handoff may have more threads than cores).
#[inline]
fn back_off(failures: &mut u32) {
    *failures += 1;
    if *failures < 64 {
        std::hint::spin_loop();
    } else {
        thread::yield_now();
    }
}

/// One handoff sample on fresh threads: `iters` values go from one producer
/// to `consumers` consumers, dealt round robin to one bounded queue per
/// consumer. Returns the wall time and the create calls.
fn handoff_sample<C: Contender>(c: &C, consumers: usize, iters: u64) -> (Duration, u64) {
    let queues: Vec<ArrayQueue<C::Held<'_>>> = (0..consumers)
        .map(|_| ArrayQueue::new(HANDOFF_IN_FLIGHT.div_ceil(consumers)))
        .collect();
    let queues = &queues;
    let gate = &Barrier::new(consumers + 2);
    let (elapsed, counted) = thread::scope(|s| {
        let mut workers = Vec::with_capacity(consumers + 1);
        for (k, queue) in queues.iter().enumerate() {
            workers.push(s.spawn(move || {
                let before = created_here();
                let mut handle = c.handle();
                let mut failures = 0;
                gate.wait();
                for _ in 0..share(iters, consumers, k) {
                    let mut value = loop {
                        match queue.pop() {
                            Some(value) => break value,
                            None => back_off(&mut failures),
                        }
                    };
                    failures = 0;
                    C::touch_other(&mut value);
                    c.put(&mut handle, value);
                }
                drop(handle);
                created_here() - before
            }));
        }
        workers.push(s.spawn(move || {
            let before = created_here();
            let mut handle = c.handle();
            gate.wait();
            for j in 0..iters {
                let mut value = c.take(&mut handle);
                C::touch(&mut value);
                let queue = &queues[(j % consumers as u64) as usize];
                let mut failures = 0;
                while let Err(back) = queue.push(value) {
                    value = back;
                    back_off(&mut failures);
                }
            }
            drop(handle);
            created_here() - before
        }));
        gate.wait();
        let start = Instant::now();
        let counted: u64 = workers
            .into_iter()
            .map(|w| w.join().expect("a handoff thread panicked"))
            .sum();
        (start.elapsed(), counted)
    });
    for queue in queues {
        assert!(
            queue.is_empty(),
            "{}: a handed-over value was left behind",
            C::NAME
        );
    }
    (elapsed, counted)
}

struct Handoff<'a, 'g> {
    group: &'a mut BenchmarkGroup<'g, WallTime>,
    records: &'a mut Records,
    consumers: usize,
}

impl<P: Payload> Visit<P> for Handoff<'_, '_> {
    fn visit<C: Contender<Payload = P>>(&mut self) {
        let consumers = self.consumers;
        let mut ops = 0;
        // The pool in use, what it has created, and the creates of pools
        // already replaced.
        let mut pool: Option<(C, u64)> = None;
        let mut creates = 0;
        self.group.bench_function(C::NAME, |b| {
            b.iter_custom(|iters| {
                if let Some((old, created)) = pool
                    .take_if(|(_, created)| *created as usize * P::SIZE >= HANDOFF_MEMORY_BUDGET)
                {
                    creates += creates_of(&old, created);
                }
                let (c, created) = pool.get_or_insert_with(|| (C::make(), 0));
                let (elapsed, counted) = handoff_sample(c, consumers, iters);
                *created += counted;
                ops += iters;
                elapsed
            })
        });
        if let Some((c, created)) = pool {
            creates += creates_of(&c, created);
        }
        let metrics = vec![("creates/op", per_op(creates, ops))];
        self.records.metrics(C::NAME, ops, metrics);
    }
}

fn handoff_groups(c: &mut Criterion) {
    for consumers in [1, 3] {
        let text = format!(
            "One iteration: one value handed over. One producer takes a value, writes to it \
             and sends it over a bounded channel; {consumers} consumer(s) receive, write to \
             it and put it back ({} threads on the 2 cores). The transport differs from Go's: \
             Go's row uses one channel of 64 between goroutines (GOMAXPROCS 2), which the Go \
             runtime switches cheaply; here the producer deals values round robin to one \
             crossbeam `ArrayQueue` per consumer (64 in flight in all) and both sides spin, \
             then yield, when a queue is full or empty. So times compare pool plus transport; \
             `creates/op` compares the pools alone: it shows whether values put by the \
             consumers travel back to the producer; like Go's, it counts all creates of \
             the row, the cold start included, over all its values. A row keeps its pool \
             across samples, each sample on fresh threads; a pool is replaced at a sample \
             boundary once its creates reach 256 MiB of values (only pools that strand \
             values get there). `small` is a boxed 32-byte struct, `buf4k` a zeroed 4 KiB `Vec<u8>`; every take \
             is followed by a write to the value. For victim-pool, creates are counted by \
             `Pool::stats().created`, checked against the create function's count.",
            consumers + 1
        );
        handoff::<Box<Small>>(c, consumers, &text);
        handoff::<Vec<u8>>(c, consumers, &text);
    }
}

fn handoff<P: Payload>(c: &mut Criterion, consumers: usize, description: &str) {
    let id = format!("handoff-1to{consumers}/{}/2t", P::VARIANT);
    let mut group = c.benchmark_group(&id);
    let mut records = Records::new(id);
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    if mode() == Mode::Full {
        group
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1));
    }
    each_contender::<P>(&mut Handoff {
        group: &mut group,
        records: &mut records,
        consumers,
    });
    group.finish();
    records.write(description, &contender_names::<P>());
}

// ------------------------------------------------------------------ cleanup pause

/// Index `p` of the way through sorted values (Go's side uses the same rule).
fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[(p * (sorted.len() - 1) as f64) as usize] as f64
}

fn median(values: &mut [u64]) -> f64 {
    values.sort_unstable();
    percentile(values, 0.5)
}

/// Rounds of `cleanup-pause`, the first unmeasured.
fn pause_rounds() -> usize {
    match mode() {
        Mode::Test => 2,
        Mode::Quick => 6,
        Mode::Full => 30,
    }
}

/// Cleanups of a pool holding [`PAUSE_POOLED`] fresh values while another
/// thread times put + take pairs on the same pool.
fn cleanup_pause() {
    let id = "cleanup-pause/small/2t";
    if !selected(id) {
        return;
    }
    let rounds = pause_rounds();
    extra::describe_group(
        id,
        &format!(
            "Per round: the main thread puts 100,000 freshly allocated `small` values, then \
             runs one cleanup, while a second thread does put + take pairs on the same pool \
             and times each with `Instant::now()` (so a pair's time includes about one clock \
             read). Latencies are those of pairs that finished while a cleanup ran, over \
             {} rounds after one unmeasured round; in steady state each cleanup drops the \
             previous round's 100,000 values and demotes this round's to the victim cache. \
             `cleanup-wall-ns`: median wall time of one cleanup, the drops included (they \
             happen on the cleaning thread). victim-pool stops no thread, so it has no \
             pause; Go's time column is its mean stop-the-world pause (GC with 100,000 \
             pooled values), not comparable to a wall time.",
            rounds - 1
        ),
    );
    struct Rows<'a>(&'a str);
    impl Visit<Box<Small>> for Rows<'_> {
        fn visit<C: Contender<Payload = Box<Small>>>(&mut self) {
            match C::CANNOT_CLEAN {
                Some(reason) => extra::not_expressible(self.0, C::NAME, reason),
                None => measure_cleanup_pause(self.0, C::NAME),
            }
        }
    }
    extra::row_order(id, &contender_names::<Box<Small>>());
    let mut rows = Rows(id);
    each_contender::<Box<Small>>(&mut rows);
    println!("{id}: done");
}

fn measure_cleanup_pause(id: &str, name: &str) {
    let rounds = pause_rounds();
    let mut dropped_before = 0;
    let pool: Pool<Box<Small>> = Pool::new(counted::<Box<Small>>);
    let in_cleanup = AtomicBool::new(false);
    let stop = AtomicBool::new(false);
    let ready = Barrier::new(2);
    let (mut walls, latencies) = thread::scope(|s| {
        let other = s.spawn(|| {
            let mut latencies: Vec<u64> = Vec::with_capacity(1 << 22);
            let mut value = pool.take();
            ready.wait();
            // Relaxed [pause-stop]: only ends the loop; the scope's join orders the rest.
            while !stop.load(Ordering::Relaxed) {
                let start = Instant::now();
                pool.put(value);
                value = pool.take();
                value.touch();
                let took = start.elapsed();
                // Relaxed [pause-flag]: classifies a sample; a pair that
                // straddles the flag's change counts on either side, as in Go.
                if in_cleanup.load(Ordering::Relaxed) && latencies.len() < latencies.capacity() {
                    latencies.push(took.as_nanos() as u64);
                }
            }
            pool.put(value);
            latencies
        });
        ready.wait();
        let mut walls = Vec::with_capacity(rounds);
        for round in 0..rounds {
            for _ in 0..PAUSE_POOLED {
                pool.put(Box::default());
            }
            if round == 0 {
                pool.cleanup();
                dropped_before = pool.stats().dropped_by_cleanup;
                continue;
            }
            // Relaxed [pause-flag]: as above.
            in_cleanup.store(true, Ordering::Relaxed);
            let start = Instant::now();
            pool.cleanup();
            walls.push(start.elapsed().as_nanos() as u64);
            // Relaxed [pause-flag]: as above.
            in_cleanup.store(false, Ordering::Relaxed);
            // Let the other thread run outside cleanups too.
            thread::sleep(Duration::from_millis(1));
        }
        // Relaxed [pause-stop]: as above.
        stop.store(true, Ordering::Relaxed);
        (walls, other.join().expect("the timed thread panicked"))
    });
    let mut latencies = latencies;
    latencies.sort_unstable();
    let measured = walls.len().max(1) as f64;
    let dropped = (pool.stats().dropped_by_cleanup - dropped_before) as f64 / measured;
    extra::metrics(
        id,
        name,
        &[
            ("cleanup-wall-ns", median(&mut walls)),
            ("p50-op-ns", percentile(&latencies, 0.50)),
            ("p99-op-ns", percentile(&latencies, 0.99)),
            ("max-op-ns", percentile(&latencies, 1.0)),
            ("ops-during-cleanup", latencies.len() as f64 / measured),
            ("dropped/cleanup", dropped),
        ],
    );
    println!(
        "{id}/{name}: cleanup {:.0} ns (median of {}), other thread p50 {:.0} ns, p99 {:.0} ns, \
         max {:.0} ns over {} pairs",
        median(&mut walls),
        walls.len(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
        latencies.len()
    );
}

// ------------------------------------------------------------------ burst then idle

struct Burst<'a>(&'a str);

impl Visit<Tracked> for Burst<'_> {
    fn visit<C: Contender<Payload = Tracked>>(&mut self) {
        let mut metrics: Vec<(String, f64)> = Vec::new();
        for cleanups in 0..=IDLE_CLEANUPS {
            // Relaxed [tracked-drops]: this thread made and dropped every value.
            let drops_before = TRACKED_DROPS.load(Ordering::Relaxed);
            let creates_before = created_here();
            let c = C::make();
            let mut handle = c.handle();
            let mut held = Vec::with_capacity(BURST_VALUES);
            for _ in 0..BURST_VALUES {
                let mut value = c.take(&mut handle);
                C::touch(&mut value);
                held.push(value);
            }
            for value in held {
                c.put(&mut handle, value);
            }
            for _ in 0..cleanups {
                c.cleanup();
            }
            let created = created_here() - creates_before;
            // Relaxed [tracked-drops]: as above.
            let dropped = TRACKED_DROPS.load(Ordering::Relaxed) - drops_before;
            let retained = created - dropped;
            if let Some(stats) = c.stats() {
                assert_eq!(
                    stats.retained,
                    retained,
                    "{}: statistics disagree with the drop count",
                    C::NAME
                );
            }
            drop(handle);
            drop(c);
            // Relaxed [tracked-drops]: as above.
            let leaked = created - (TRACKED_DROPS.load(Ordering::Relaxed) - drops_before);
            assert_eq!(leaked, 0, "{}: values outlived their pool", C::NAME);
            metrics.push((format!("retained@{cleanups}"), retained as f64));
            metrics.push((
                format!("retained-KiB@{cleanups}"),
                (retained as usize * Tracked::SIZE) as f64 / 1024.0,
            ));
        }
        let pairs: Vec<(&str, f64)> = metrics.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        extra::metrics(self.0, C::NAME, &pairs);
        println!("{}/{}: {:?}", self.0, C::NAME, pairs);
    }
}

fn burst_then_idle() {
    let id = "burst-then-idle/buf4k/1t";
    if !selected(id) {
        return;
    }
    extra::describe_group(
        id,
        "A fresh pool per cleanup count: one thread takes 10,000 `buf4k` values (all \
         created), writes to each, puts all back, then the pool gets 0..3 cleanups and no \
         other use. `retained@c`: values still alive, measured as created minus dropped \
         with a drop-counting payload (for victim-pool also checked against \
         `stats().retained`); `retained-KiB@c` is that times the 4 KiB each buffer holds. \
         Contenders without a cleanup get none: their rows show what they keep. \
         victim-pool's bound after two cleanups is one value per live thread that used \
         the pool and has been idle since (its private slot is aged by that thread's next \
         use, or when it exits): 1 here. opool keeps at most its capacity (1024); \
         LinearObjectPool creates values 32 at a time. Go's row: values a drain finds \
         after c `runtime.GC()` calls.",
    );
    extra::row_order(id, &contender_names::<Tracked>());
    each_contender::<Tracked>(&mut Burst(id));
}

// ------------------------------------------------------------------ instructions

/// The child side: `pairs` put + take pairs of contender `index` on payload
/// `P`.
fn callgrind_child<P: Payload>(index: usize, pairs_to_run: u64) {
    struct Run {
        index: usize,
        pairs: u64,
        seen: usize,
    }
    impl<P: Payload> Visit<P> for Run {
        fn visit<C: Contender<Payload = P>>(&mut self) {
            if self.seen == self.index {
                let c = C::make();
                let mut handle = c.handle();
                pairs(&c, &mut handle, self.pairs);
            }
            self.seen += 1;
        }
    }
    each_contender::<P>(&mut Run {
        index,
        pairs: pairs_to_run,
        seen: 0,
    });
}

/// Parses the child's `<variant>:<contender index>:<pairs>` and runs it.
fn callgrind_child_from(spec: &str) {
    let mut fields = spec.split(':');
    let (Some(variant), Some(index), Some(n)) = (fields.next(), fields.next(), fields.next())
    else {
        panic!("{CALLGRIND_VAR} must be <variant>:<index>:<pairs>, not {spec:?}");
    };
    let index = index.parse().expect("a contender index");
    let n = n.parse().expect("a pair count");
    match variant {
        v if v == <Box<Small>>::VARIANT => callgrind_child::<Box<Small>>(index, n),
        v if v == <Vec<u8>>::VARIANT => callgrind_child::<Vec<u8>>(index, n),
        other => panic!("unknown payload variant {other:?}"),
    }
}

/// Instructions executed by a child doing `n` pairs of contender `index` on
/// payload `variant`; the callgrind output is kept at `out`.
fn callgrind_run(variant: &str, index: usize, n: u64, out: &Path) -> Option<u64> {
    let exe = std::env::current_exe().ok()?;
    let output = Command::new("valgrind")
        .args(["--tool=callgrind", "--dump-instr=yes", "--dump-line=no"])
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(exe)
        .env(CALLGRIND_VAR, format!("{variant}:{index}:{n}"))
        .output()
        .ok()?;
    if !output.status.success() {
        eprintln!(
            "callgrind failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        return None;
    }
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .find_map(|line| {
            line.split_once("Collected :")
                .map(|(_, n)| n.trim().to_string())
        })
        .and_then(|n| n.parse().ok())
}

/// Parses a number of a callgrind file (decimal, or hex after `0x`).
fn callgrind_number(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Self cost (instructions) per instruction address of object `exe`, from a
/// callgrind output written with `--dump-instr=yes --dump-line=no`; `None`
/// unless the self costs of all objects add up to the file's total.
fn callgrind_costs(out: &Path, exe: &str) -> Option<HashMap<u64, u64>> {
    let text = std::fs::read_to_string(out).ok()?;
    let mut objects: HashMap<String, String> = HashMap::new();
    let (mut in_exe, mut position, mut after_calls) = (false, 0_u64, false);
    let (mut costs, mut total, mut expected) = (HashMap::new(), 0_u64, None);
    for line in text.lines() {
        if let Some((key, object)) = line
            .strip_prefix("ob=")
            .map(|o| ("ob", o))
            .or(line.strip_prefix("cob=").map(|o| ("cob", o)))
        {
            // "(id) name" defines an id (in `ob=` or a call's `cob=`), "(id)"
            // refers to one.
            let (id, name) = match object.strip_prefix('(') {
                Some(rest) => rest
                    .split_once(')')
                    .map(|(id, n)| (id.to_string(), n.trim()))?,
                None => (object.to_string(), object),
            };
            if !name.is_empty() {
                objects.insert(id.clone(), name.to_string());
            }
            if key == "ob" {
                in_exe = objects.get(&id).is_some_and(|name| name == exe);
            }
        } else if let Some(sum) = line
            .strip_prefix("summary:")
            .or(line.strip_prefix("totals:"))
        {
            expected = sum.trim().parse::<u64>().ok();
        } else if line.starts_with("calls=") {
            // The next cost line is the call's inclusive cost, not self cost.
            after_calls = true;
        } else if line.starts_with(|c: char| c.is_ascii_digit() || "+-*".contains(c)) {
            let mut fields = line.split_whitespace();
            let at = fields.next()?;
            position = match at.as_bytes()[0] {
                b'*' => position,
                b'+' => position + callgrind_number(&at[1..])?,
                b'-' => position - callgrind_number(&at[1..])?,
                _ => callgrind_number(at)?,
            };
            let cost = fields.next().map_or(Some(0), callgrind_number)?;
            if !after_calls {
                total += cost;
                if in_exe {
                    *costs.entry(position).or_insert(0) += cost;
                }
            }
            after_calls = false;
        }
    }
    (Some(total) == expected).then_some(costs)
}

/// Instructions executed at addresses of `exe` whose inline chain (by
/// `addr2line -i -f -C`: functions and source lines) mentions one of `marks`.
fn instructions_inlined_from(out: &Path, exe: &Path, marks: &[&str]) -> Option<u64> {
    let costs = callgrind_costs(out, exe.to_str()?)?;
    let mut child = Command::new("addr2line")
        .args(["-a", "-i", "-f", "-C", "-e"])
        .arg(exe)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    let addresses: String = costs.keys().map(|a| format!("{a:#x}\n")).collect();
    let mut stdin = child.stdin.take()?;
    let writer = thread::spawn(move || stdin.write_all(addresses.as_bytes()));
    let output = child.wait_with_output().ok()?;
    writer.join().ok()?.ok()?;
    let mut total = 0;
    let mut current: Option<u64> = None;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        if let Some(address) = line.strip_prefix("0x") {
            current = u64::from_str_radix(address, 16).ok();
        } else if let Some(address) = current {
            if marks.iter().any(|mark| line.contains(mark)) {
                total += costs.get(&address).copied().unwrap_or(0);
                // Count each address once, however deep the chain.
                current = None;
            }
        }
    }
    Some(total)
}

fn instructions() {
    if mode() == Mode::Test {
        return;
    }
    let available = Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    instructions_of::<Box<Small>>(available);
    instructions_of::<Vec<u8>>(available);
}

fn instructions_of<P: Payload>(available: bool) {
    let id = format!("put-take-instructions/{}/1t", P::VARIANT);
    if !selected(&id) {
        return;
    }
    let (n1, n2) = match mode() {
        Mode::Quick => (20_000, 40_000),
        _ => (100_000, 200_000),
    };
    if !available {
        extra::describe_group(
            &id,
            "Skipped: `valgrind` is not installed (apt-get install valgrind), so the \
             instruction counts are missing from this run.",
        );
        println!("{id}: valgrind not found, skipped");
        return;
    }
    extra::describe_group(
        &id,
        &format!(
            "Instructions per put + take pair (one thread, the loop of `pool/{}/1t`), \
             counted by `valgrind --tool=callgrind` as the difference between runs of \
             {n2} and {n1} pairs, divided by {}: deterministic, unlike the timings. For \
             victim-pool, `stats-instr/pair` counts the executed instructions whose inline \
             chain (debug info, `addr2line -i`) passes through `src/pool/stats.rs` or \
             `Pool::count`: the two owner-written counters a pair bumps and the choice of \
             counter set. `stats-share-%` is their share of the pair: the cost of the \
             statistics, which are always on (issue 4 asks for at most 10%). Not measured: \
             what the pair would cost if the compiler laid it out without them, and time: \
             atomics and cache misses cost more than their count says.",
            P::VARIANT,
            n2 - n1
        ),
    );
    extra::row_order(&id, &contender_names::<P>());
    let dir = std::env::temp_dir().join(format!("victim-pool-callgrind-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    for (index, name) in contender_names::<P>().into_iter().enumerate() {
        let (out1, out2) = (
            dir.join(format!("{index}-1")),
            dir.join(format!("{index}-2")),
        );
        let (Some(ir1), Some(ir2)) = (
            callgrind_run(P::VARIANT, index, n1, &out1),
            callgrind_run(P::VARIANT, index, n2, &out2),
        ) else {
            extra::not_expressible(&id, name, "callgrind failed for this contender");
            continue;
        };
        let per_pair = (ir2 as f64 - ir1 as f64) / (n2 - n1) as f64;
        let mut metrics = vec![("instr/pair", per_pair)];
        if name == Victim::<P>::NAME {
            let exe = std::env::current_exe().expect("this executable's path");
            let marks = ["src/pool/stats.rs", "victim_pool::pool::Pool<T,F>::count"];
            let stats = instructions_inlined_from(&out1, &exe, &marks)
                .zip(instructions_inlined_from(&out2, &exe, &marks))
                .map(|(s1, s2)| (s2 as f64 - s1 as f64) / (n2 - n1) as f64);
            if let Some(stats) = stats {
                metrics.push(("stats-instr/pair", stats));
                metrics.push(("stats-share-%", 100.0 * stats / per_pair));
            }
        }
        println!("{id}/{name}: {metrics:?}");
        extra::metrics(&id, name, &metrics);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// ------------------------------------------------------------------ main

fn main() {
    if let Some(spec) = std::env::var_os(CALLGRIND_VAR) {
        callgrind_child_from(&spec.to_string_lossy());
        return;
    }
    let mut c = config().configure_from_args();
    pool_groups(&mut c);
    overflow_groups(&mut c);
    starvation_groups(&mut c);
    handoff_groups(&mut c);
    expensive_groups(&mut c);
    cleanup_pause();
    burst_then_idle();
    instructions();
    c.final_summary();
}

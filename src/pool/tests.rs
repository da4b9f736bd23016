//! Go's pool tests, ported in spirit, plus the Rust-specific contracts
//! (reentrancy, panics, thread exit, auto traits).

use super::*;
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
// The facade's types are std's in these (non-loom) tests.
use crate::sync::{AtomicBool as StdAtomicBool, AtomicUsize as StdAtomicUsize, Ordering::SeqCst};
use std::sync::Arc as StdArc;

/// Counts how often each id is dropped; asserts none is dropped twice.
#[derive(Default)]
pub(super) struct Drops(std::sync::Mutex<std::collections::HashMap<usize, usize>>);

impl Drops {
    pub(super) fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }
    pub(super) fn was_dropped(&self, id: usize) -> bool {
        self.0.lock().unwrap().contains_key(&id)
    }
}

pub(super) struct Tracked {
    pub(super) id: usize,
    drops: StdArc<Drops>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let mut counts = self.drops.0.lock().unwrap();
        let count = counts.entry(self.id).or_insert(0);
        *count += 1;
        assert_eq!(*count, 1, "value {} dropped twice", self.id);
    }
}

pub(super) fn tracked(drops: &StdArc<Drops>, id: usize) -> Tracked {
    Tracked {
        id,
        drops: StdArc::clone(drops),
    }
}

pub(super) fn no_create<T>() -> T {
    panic!("this test never creates values")
}

#[test]
fn values_come_back_private_first_then_own_chain_newest_first() {
    let pool: Pool<&str> = Pool::new(no_create);
    pool.put("a");
    pool.put("b");
    pool.put("c");
    assert_eq!(pool.try_take(), Some("a"));
    assert_eq!(pool.try_take(), Some("c"));
    assert_eq!(pool.try_take(), Some("b"));
    assert_eq!(pool.try_take(), None);
}

/// A value wider than two words moves in and out of the private slot word
/// by word, and `take` and `try_take` return it through one place for the
/// private slot's value and another for every other path (see
/// `word_copy`, `Pool::take_wide` and `Pool::try_take`):
/// each comes back whole, whether from the private slot, the own chain or
/// a steal by a thread with no local yet, and is dropped once.
#[test]
fn wide_values_come_back_whole_by_every_path_of_take() {
    let drops = StdArc::new(Drops::default());
    let pool: Pool<(Tracked, String)> = Pool::new(no_create);
    for id in 0..8 {
        pool.put((tracked(&drops, id), format!("value {id}")));
    }
    let check = |(value, text): (Tracked, String)| {
        assert_eq!(text, format!("value {}", value.id), "moved whole");
        value
    };
    let mut taken: Vec<Tracked> = (0..2).map(|_| check(pool.take())).collect();
    taken.extend((0..2).map(|_| check(pool.try_take().unwrap())));
    std::thread::scope(|s| {
        taken.push(s.spawn(|| check(pool.take())).join().unwrap());
        taken.push(s.spawn(|| check(pool.try_take().unwrap())).join().unwrap());
    });
    taken.extend((0..2).map(|_| check(pool.try_take().unwrap())));
    assert!(pool.try_take().is_none());
    let mut ids: Vec<usize> = taken.iter().map(|value| value.id).collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..8).collect::<Vec<_>>(), "each value out once");
    drop(taken);
    assert_eq!(drops.count(), 8, "each dropped once");
}

/// Runs of puts and of takes (`p`, `t`) on one thread, putting values
/// `0..` (counted from 0 at each call); returns every value taken.
fn runs_of(pool: &Pool<usize>, ops: &str) -> Vec<usize> {
    let (mut next, mut taken) = (0, Vec::new());
    for op in ops.chars() {
        if op == 'p' {
            pool.put(next);
            next += 1;
        } else {
            taken.push(pool.try_take().expect("the pool holds a value"));
        }
    }
    taken
}

#[test]
fn long_runs_of_puts_and_takes_move_two_values_per_chain_operation() {
    let pool: Pool<usize> = Pool::new(no_create);
    // Two runs each way teach the thread's runs what to expect.
    let warm_up = runs_of(&pool, "ppppptttttppppptttttppppp");
    assert_eq!(warm_up.len(), 10);
    let before = pool.stats();
    let mut taken = runs_of(&pool, "ttttt");
    let after = pool.stats();
    // Five takes: the private value, then pops of two at a time, whose
    // second waits in the private slot for the next take.
    assert_eq!(after.from_own_chain - before.from_own_chain, 2);
    assert_eq!(after.from_private - before.from_private, 3);
    // Nothing lost or duplicated: the last five puts (values 10..15) came
    // back.
    taken.sort_unstable();
    assert_eq!(taken, (10..15).collect::<Vec<_>>());
    assert_eq!(after.created, 0);
    assert_eq!(after.retained, 0);
}

#[test]
fn a_take_put_cycle_after_long_runs_stays_in_the_private_slot() {
    let pool: Pool<usize> = Pool::new(no_create);
    runs_of(&pool, &("p".repeat(50) + &"t".repeat(50)).repeat(3));
    runs_of(&pool, &"p".repeat(50));
    let before = pool.stats();
    for _ in 0..100 {
        let value = pool.try_take().expect("pooled");
        pool.put(value);
    }
    let after = pool.stats();
    assert!(
        after.from_own_chain - before.from_own_chain <= 1,
        "a take/put cycle must settle in the private slot: {before:?} then {after:?}"
    );
    assert_eq!(after.retained, 50);
}

#[test]
fn a_value_survives_one_cleanup_and_is_gone_after_two() {
    let pool: Pool<usize> = Pool::new(no_create);
    for i in 0..100 {
        pool.put(i);
    }
    pool.cleanup();
    assert!(
        pool.try_take().is_some(),
        "the victim cache serves after one cleanup"
    );
    pool.cleanup();
    assert_eq!(pool.try_take(), None, "nothing survives two cleanups");
}

#[test]
fn create_is_called_only_when_the_pool_is_empty() {
    let created = StdAtomicUsize::new(0);
    let pool = Pool::new(|| created.fetch_add(1, SeqCst) + 1);
    assert_eq!(pool.take(), 1);
    assert_eq!(pool.take(), 2);
    pool.put(42);
    assert_eq!(pool.take(), 42);
    assert_eq!(pool.take(), 3);
}

/// Whether cleanups drain idle live threads' private slots here (the
/// asymmetric fence has a heavy side).
pub(super) fn cleanups_drain_live_threads() -> bool {
    crate::cleanups_drain_idle_threads()
}

#[test]
fn two_idle_cleanups_drop_every_value_the_callers_private_one_included() {
    for drain_first in [false, true] {
        let drops = StdArc::new(Drops::default());
        let pool: Pool<Tracked> = Pool::new(no_create);
        for id in 0..100 {
            pool.put(tracked(&drops, id));
        }
        if drain_first {
            let taken: Vec<Tracked> = (0..100).map(|_| pool.try_take().unwrap()).collect();
            for value in taken {
                pool.put(value);
            }
        }
        pool.cleanup();
        pool.cleanup();
        if cleanups_drain_live_threads() {
            // Like Go's GC, the second cleanup empties the private slot too.
            assert_eq!(drops.count(), 100);
            assert_eq!(pool.stats().dropped_by_cleanup, 100);
        } else {
            // Without a process-wide barrier the private slot is only this
            // thread's to touch: its next use of the pool drops the value.
            eprintln!("note: no process-wide barrier here; live slots are not drained");
            assert_eq!(drops.count(), 99);
        }
        assert!(pool.try_take().is_none());
        assert_eq!(drops.count(), 100);
        assert_eq!(pool.stats().retained, 0);
    }
}

/// The private slots a cleanup would visit (the summary's listing).
fn listed_slots<T, F>(pool: &Pool<T, F>) -> usize {
    pool.state.locals.candidates(PRIVATE_SLOTS, 0).count()
}

/// Listing (docs/design.md, "Listing private slots"): a cleanup unlists the
/// empty slots of idle threads, so later cleanups do not visit them; a put
/// lists its slot again, and the value it leaves is drained by two
/// cleanups. Without the process-wide barrier only exited threads' slots
/// are unlisted.
#[test]
fn cleanups_unlist_idle_empty_slots_and_a_put_lists_its_slot_again() {
    const THREADS: usize = 8;
    let drops = StdArc::new(Drops::default());
    let pool: StdArc<Pool<Tracked>> = StdArc::new(Pool::new(no_create));
    let barrier = StdArc::new(std::sync::Barrier::new(THREADS + 1));
    let threads: Vec<_> = (0..THREADS)
        .map(|id| {
            let (pool, drops, barrier) = (pool.clone(), drops.clone(), barrier.clone());
            std::thread::spawn(move || {
                pool.put(tracked(&drops, id));
                let value = pool.try_take().expect("its own private value");
                barrier.wait(); // 1: empty and listed
                barrier.wait(); // 2: a cleanup ran
                pool.put(value);
                barrier.wait(); // 3: full and listed again
                barrier.wait(); // 4: two cleanups ran
            })
        })
        .collect();
    barrier.wait();
    assert_eq!(listed_slots(&pool), THREADS, "a put lists the slot");
    pool.cleanup();
    let unlisted = if cleanups_drain_live_threads() {
        THREADS
    } else {
        0
    };
    assert_eq!(
        listed_slots(&pool),
        THREADS - unlisted,
        "empty slots unlisted"
    );
    barrier.wait();
    barrier.wait();
    assert_eq!(
        listed_slots(&pool),
        THREADS,
        "each put listed its slot again"
    );
    pool.cleanup();
    pool.cleanup();
    if cleanups_drain_live_threads() {
        assert_eq!(drops.count(), THREADS, "the idle threads' values drained");
        assert_eq!(listed_slots(&pool), 0, "drained slots are unlisted");
    }
    barrier.wait();
    for thread in threads {
        thread.join().unwrap();
    }
    pool.cleanup();
    pool.cleanup();
    assert_eq!(drops.count(), THREADS);
    assert_eq!(listed_slots(&pool), 0, "exited threads' slots unlisted too");
    assert_eq!(pool.stats().retained, 0);
}

#[test]
fn stress_put_then_take_on_ten_threads_conserves_every_value() {
    let iterations = if cfg!(debug_assertions) {
        20_000
    } else {
        1_000_000
    };
    let drops = StdArc::new(Drops::default());
    let pool: Pool<Tracked> = Pool::new(no_create);
    let taken = StdAtomicUsize::new(0);
    std::thread::scope(|scope| {
        for thread in 0..10 {
            let (pool, drops, taken) = (&pool, &drops, &taken);
            scope.spawn(move || {
                for i in 0..iterations {
                    pool.put(tracked(drops, thread * iterations + i));
                    if let Some(value) = pool.try_take() {
                        taken.fetch_add(1, SeqCst);
                        drop(value);
                    }
                }
            });
        }
    });
    assert_eq!(drops.count(), taken.load(SeqCst));
    drop(pool);
    assert_eq!(
        drops.count(),
        10 * iterations,
        "every value dropped exactly once"
    );
}

static NESTED: Pool<Nested> = Pool::new(create_nested);
static NESTED_LIVE: StdAtomicUsize = StdAtomicUsize::new(0);

/// A value whose `Drop` puts a smaller child into its own pool and runs a
/// cleanup, and whose create function looks in the pool first.
struct Nested {
    depth: usize,
}

impl Nested {
    fn new(depth: usize) -> Self {
        NESTED_LIVE.fetch_add(1, SeqCst);
        Nested { depth }
    }
}

fn create_nested() -> Nested {
    NESTED.try_take().unwrap_or_else(|| Nested::new(3))
}

impl Drop for Nested {
    fn drop(&mut self) {
        NESTED_LIVE.fetch_sub(1, SeqCst);
        if self.depth > 0 {
            NESTED.put(Nested::new(self.depth - 1));
            NESTED.cleanup();
            drop(NESTED.try_take());
        }
    }
}

#[test]
fn drop_and_create_may_use_the_pool_they_belong_to() {
    // Runs on its own thread: the test harness may reuse threads, and the
    // final count must include this thread's private slot.
    std::thread::spawn(|| {
        for _ in 0..3 {
            drop(NESTED.get());
            drop(NESTED.take());
            NESTED.cleanup();
        }
        for _ in 0..3 {
            while let Some(value) = NESTED.try_take() {
                drop(value);
            }
            NESTED.cleanup();
        }
    })
    .join()
    .unwrap();
    for _ in 0..3 {
        NESTED.cleanup();
    }
    assert_eq!(
        NESTED_LIVE.load(SeqCst),
        0,
        "every nested value was dropped once"
    );
}

#[test]
fn a_panicking_create_leaves_the_pool_usable() {
    // Through `take`, `get` and `get_owned`, for a value returned in
    // registers and for a wide one (`take` has other out-of-line paths).
    fn check<T: Copy + PartialEq + std::fmt::Debug + Send + Sync + 'static>(one: T, five: T) {
        let fail = StdArc::new(StdAtomicBool::new(true));
        let failing = StdArc::clone(&fail);
        let pool = StdArc::new(Pool::new(move || {
            assert!(!failing.load(SeqCst), "planted create failure");
            five
        }));
        assert!(catch_unwind(AssertUnwindSafe(|| pool.take())).is_err());
        assert!(catch_unwind(AssertUnwindSafe(|| drop(pool.get()))).is_err());
        assert!(catch_unwind(AssertUnwindSafe(|| drop(pool.get_owned()))).is_err());
        assert_eq!(pool.stats().created, 0, "a failed create is not counted");
        pool.put(one);
        assert_eq!(pool.take(), one);
        fail.store(false, SeqCst);
        assert_eq!(pool.take(), five);
        assert_eq!(*pool.get(), five, "created again, then given back");
        let stats = pool.stats();
        assert_eq!((stats.created, stats.retained), (2, 1));
    }
    check(1u64, 5u64);
    check([1u64; 8], [5u64; 8]);
}

/// A value whose `Drop` panics if it `explodes`; its drop is counted either
/// way (the tracked field is still dropped while unwinding).
struct Bomb {
    explodes: bool,
    inner: Tracked,
}

impl Drop for Bomb {
    fn drop(&mut self) {
        assert!(!self.explodes, "planted drop failure");
    }
}

fn bomb(drops: &StdArc<Drops>, id: usize, explodes: bool) -> Bomb {
    Bomb {
        explodes,
        inner: tracked(drops, id),
    }
}

/// A put that drops a value (here its own, refused by the chain bound)
/// counts the put even when that drop panics, so `retained` stays what the
/// pool holds. (The other such drop, of an expired private value the put
/// displaces, is tested in proptests/pool.rs: it needs a live thread's
/// slot that cleanups leave alone.)
#[test]
fn a_put_whose_drop_panics_is_counted_all_the_same() {
    // Without rules (the put's own path) and with a keep rule (the path
    // that screens values first).
    for screened in [false, true] {
        let drops = StdArc::new(Drops::default());
        let builder = Pool::builder(no_create::<Bomb>).max_chain_per_thread(0);
        let pool = if screened {
            builder.keep_if(|_: &Bomb| true).build()
        } else {
            builder.build()
        };
        pool.put(bomb(&drops, 0, false)); // the private slot
        let refused = catch_unwind(AssertUnwindSafe(|| pool.put(bomb(&drops, 1, true))));
        assert!(refused.is_err(), "the drop's panic reaches the caller");
        assert_eq!(drops.count(), 1, "the refused value was dropped");
        let stats = pool.stats();
        assert_eq!(
            (stats.puts, stats.discarded, stats.retained),
            (2, 1, 1),
            "screened: {screened}"
        );
        drop(pool);
        assert_eq!(drops.count(), 2);
    }
}

#[test]
fn a_panicking_drop_during_cleanup_propagates_and_drops_the_rest_once() {
    let drops = StdArc::new(Drops::default());
    let pool: Pool<Bomb> = Pool::new(no_create);
    for id in 0..10 {
        // Two of them panic: the second panic must not abort.
        pool.put(bomb(&drops, id, id == 3 || id == 6));
    }
    pool.cleanup();
    let result = catch_unwind(AssertUnwindSafe(|| pool.cleanup()));
    assert!(result.is_err(), "the Drop panic reaches the caller");
    // All 9 chain values were dropped, the panicking one included (its fields
    // are still dropped during unwinding), and the private value with them
    // where cleanups drain live threads' slots.
    let drained = usize::from(cleanups_drain_live_threads());
    assert_eq!(drops.count(), 9 + drained);
    assert_eq!(drops.was_dropped(0), drained == 1);
    // Otherwise, two cleanups having passed, the next put displaces and
    // drops it.
    pool.put(bomb(&drops, 10, false));
    assert!(drops.was_dropped(0));
    assert_eq!(
        pool.try_take().map(|b| b.inner.id),
        Some(10),
        "the pool still works"
    );
    drop(pool);
    assert_eq!(drops.count(), 11);
}

/// `into_inner` on the last handle of a pool in an `Arc` drops the pool;
/// if a pooled value's `Drop` panics there, the value already moved out of
/// the guard is dropped once while unwinding, and so is every pooled value.
#[test]
fn into_inner_dropping_the_last_pool_handle_loses_and_doubles_nothing_on_a_panic() {
    let drops = StdArc::new(Drops::default());
    let pool = StdArc::new(Pool::new(no_create::<Bomb>));
    pool.put(bomb(&drops, 0, false)); // the private slot: lent below
    pool.put(bomb(&drops, 1, true)); // the chain: panics when the pool drops
    pool.put(bomb(&drops, 2, false));
    let guard = pool.get_owned();
    assert_eq!(guard.inner.id, 0);
    drop(pool);
    let result = catch_unwind(AssertUnwindSafe(|| OwnedPoolGuard::into_inner(guard)));
    assert!(result.is_err(), "the pool's drop panics through into_inner");
    assert_eq!(drops.count(), 3, "the detached value and both pooled ones");
}

#[test]
fn zero_sized_large_and_unsync_values_work() {
    let zst: Pool<()> = Pool::new(|| ());
    zst.put(());
    zst.put(());
    assert_eq!(zst.try_take(), Some(()));
    assert_eq!(zst.try_take(), Some(()));
    assert_eq!(zst.try_take(), None);

    let large: Pool<Box<[u8; 65536]>> = Pool::new(|| Box::new([0; 65536]));
    let mut page = large.get();
    page[65535] = 7;
    drop(page);
    assert_eq!(large.get()[65535], 7);

    // Unoptimized builds keep several copies of a moved `T` per frame: a put
    // that reaches the chain needs about 3.2 MiB of stack for a 64 KiB `T`
    // at opt-level 0 (measured), more than a test thread's 2 MiB. Release
    // builds elide the copies; proptests/isolated.rs runs this on default
    // stacks there.
    let big_stack = std::thread::Builder::new().stack_size(16 << 20);
    big_stack
        .spawn(|| {
            let inline: Pool<[u8; 65536]> = Pool::new(|| [1; 65536]);
            for _ in 0..20 {
                inline.put([2; 65536]);
            }
            assert_eq!(inline.take()[100], 2);
            inline.cleanup();
            inline.cleanup();
            assert_eq!(inline.take()[100], 1, "aged out: created anew");
        })
        .unwrap()
        .join()
        .unwrap();

    let cells: Pool<Cell<u32>> = Pool::new(|| Cell::new(0));
    cells.get().set(9);
    assert_eq!(cells.take().get(), 9);
}

#[test]
fn auto_traits_follow_the_value_and_create_types() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    // No `T: Sync` and no `T: 'static` needed.
    sync::<Pool<Cell<u8>>>();
    send::<Pool<Cell<u8>>>();
    sync::<Pool<&'static mut u8>>();
    send::<PoolGuard<'static, Cell<u8>>>();
    fn borrowed<'a>(_: &'a u8) {
        sync::<Pool<&'a u8>>();
    }
    borrowed(&0);
}

#[test]
fn dropping_a_pool_drops_every_value_when_several_drops_panic() {
    let drops = StdArc::new(Drops::default());
    let pool: Pool<Bomb> = Pool::new(no_create);
    // 24 threads x 4 values (one private, three chained) in 24 locals over
    // five buckets; every seventh value panics when dropped.
    std::thread::scope(|scope| {
        for thread in 0..24 {
            let (pool, drops) = (&pool, &drops);
            scope.spawn(move || {
                for i in 0..4 {
                    let id = thread * 4 + i;
                    pool.put(bomb(drops, id, id % 7 == 3));
                }
            });
        }
    });
    let result = catch_unwind(AssertUnwindSafe(|| drop(pool)));
    assert!(result.is_err(), "the first Drop panic reaches the caller");
    assert_eq!(drops.count(), 96, "every value is dropped, once");
}

#[test]
fn a_drop_that_cleans_up_and_puts_during_a_take_keeps_the_value_it_put() {
    /// Its first drop runs a cleanup and puts a fresh value, as a `Drop`
    /// that recycles part of itself might.
    struct Recycler {
        recycles: bool,
        inner: Tracked,
    }
    impl Drop for Recycler {
        fn drop(&mut self) {
            if self.recycles {
                POOL.cleanup();
                POOL.put(Recycler {
                    recycles: false,
                    inner: tracked(&self.inner.drops, 1),
                });
            }
        }
    }
    static POOL: Pool<Recycler> = Pool::new(no_create);
    let drops = StdArc::new(Drops::default());
    POOL.put(Recycler {
        recycles: true,
        inner: tracked(&drops, 0),
    });
    POOL.cleanup();
    POOL.cleanup();
    // Value 0 is expired: the take drops it, and its drop puts value 1 at a
    // newer generation than the one the take started with.
    let taken = POOL.try_take();
    assert!(drops.was_dropped(0));
    assert!(
        !drops.was_dropped(1),
        "the value put by the Drop was dropped"
    );
    assert_eq!(
        taken.as_ref().map(|value| value.inner.id),
        Some(1),
        "the take serves the value put meanwhile"
    );
    let stats = POOL.stats();
    assert_eq!((stats.dropped_by_cleanup, stats.retained), (1, 0));
}

#[test]
fn detaching_an_owned_guard_releases_its_pool() {
    let drops = StdArc::new(Drops::default());
    let pool = StdArc::new(Pool::new(no_create::<Tracked>));
    pool.put(tracked(&drops, 0));
    pool.put(tracked(&drops, 1));
    let detached = OwnedPoolGuard::into_inner(pool.get_owned());
    assert_eq!(detached.id, 0);
    assert_eq!(StdArc::strong_count(&pool), 1, "the guard's Arc was kept");
    drop(pool);
    assert!(drops.was_dropped(1), "the pool and its values were dropped");
    assert!(!drops.was_dropped(0));
}

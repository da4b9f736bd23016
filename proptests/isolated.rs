//! Pool tests whose outcome depends on which thread indices are free: a
//! thread that exits gives its index back, and any thread that starts next
//! may take it (with the exited thread's local and private slot). Run with
//! `--test-threads=1` so that no other test starts threads meanwhile; the
//! test command does.
#![cfg(not(loom))]

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc as StdArc, Barrier};
use std::time::{Duration, Instant};
use victim_pool::{Pool, Sweeper};

/// Counts drops per id; a second drop of one id fails the test.
#[derive(Default)]
struct Drops(std::sync::Mutex<std::collections::HashMap<usize, usize>>);

impl Drops {
    fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

struct Tracked {
    id: usize,
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

fn tracked(drops: &StdArc<Drops>, id: usize) -> Tracked {
    Tracked {
        id,
        drops: StdArc::clone(drops),
    }
}

fn no_create<T>() -> T {
    panic!("this test never creates values")
}

/// Asserts that no other test of this file runs at the same time; held for
/// the whole test.
struct Alone;

static RUNNING: AtomicUsize = AtomicUsize::new(0);

fn alone() -> Alone {
    assert_eq!(
        RUNNING.fetch_add(1, SeqCst),
        0,
        "these tests must run with --test-threads=1"
    );
    Alone
}

impl Drop for Alone {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, SeqCst);
    }
}

#[test]
fn an_exited_threads_rings_are_freed_by_cleanups() {
    let _alone = alone();
    let drops = StdArc::new(Drops::default());
    let create: fn() -> Tracked = no_create;
    let pool: StdArc<Pool<Tracked>> = StdArc::new(Pool::new(create).with_first_capacity(2));
    // All alive at once, so none inherits another's index and local.
    let together = StdArc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|thread| {
            let (pool, drops) = (StdArc::clone(&pool), StdArc::clone(&drops));
            let together = StdArc::clone(&together);
            std::thread::spawn(move || {
                // The private slot, then a first ring of 2 and a second of 4.
                let puts = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    for id in 0..4 {
                        pool.put(tracked(&drops, thread * 4 + id));
                    }
                }));
                // Waited for even after a panic, which then fails the join
                // instead of leaving the other threads at the barrier.
                together.wait();
                if let Err(panic) = puts {
                    std::panic::resume_unwind(panic);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(pool.ring_slots(), 8 * (2 + 4));
    pool.cleanup();
    assert_eq!(
        pool.ring_slots(),
        8 * (2 + 4),
        "the rings still hold values"
    );
    pool.cleanup();
    assert_eq!(
        pool.ring_slots(),
        0,
        "empty rings of exited threads are freed"
    );
    assert_eq!(drops.count(), 32, "every value dropped once");
    // The next thread with one of those indices starts a new ring.
    let again = StdArc::clone(&pool);
    std::thread::spawn(move || {
        let drops = StdArc::new(Drops::default());
        again.put(tracked(&drops, 0));
        again.put(tracked(&drops, 1));
        assert_eq!(again.ring_slots(), 2);
        assert_eq!(again.try_take().map(|value| value.id), Some(0));
        assert_eq!(again.try_take().map(|value| value.id), Some(1));
    })
    .join()
    .unwrap();
}

#[test]
fn an_exited_threads_values_are_stolen_and_then_aged_out() {
    let _alone = alone();
    let drops = StdArc::new(Drops::default());
    let pool: StdArc<Pool<Tracked>> = StdArc::new(Pool::new(no_create));
    // Hold a thread index first, so this thread cannot inherit the other's.
    assert!(pool.try_take().is_none());
    {
        let (pool, drops) = (StdArc::clone(&pool), StdArc::clone(&drops));
        std::thread::spawn(move || {
            for id in 0..10 {
                pool.put(tracked(&drops, id));
            }
        })
        .join()
        .unwrap();
    }
    // The chain's 9 values are stealable at once; the private slot of an
    // exited thread is reached only by cleanup (or by a thread that reuses
    // the index).
    let stolen = pool
        .try_take()
        .expect("stolen from the exited thread's chain");
    assert_eq!(stolen.id, 1, "stealing takes the oldest value");
    drop(stolen);
    pool.cleanup();
    pool.cleanup();
    pool.cleanup();
    assert_eq!(
        drops.count(),
        10,
        "everything the exited thread left aged out"
    );
}

#[test]
fn try_get_never_creates_and_owned_guards_return_from_other_threads() {
    let _alone = alone();
    let pool = StdArc::new(Pool::new(no_create::<String>));
    assert!(pool.try_get().is_none());
    pool.put("shared".to_string());
    let guard = pool.try_get().expect("the value just put");
    assert_eq!(format!("{guard:?}"), "PoolGuard(\"shared\")");
    drop(guard);
    let owned = pool.get_owned();
    let returned_on = std::thread::spawn(move || {
        let mut owned = owned;
        owned.push('!');
        drop(owned); // returns to the pool from this thread
        std::thread::current().id()
    })
    .join()
    .unwrap();
    assert_ne!(returned_on, std::thread::current().id());
    // That thread has exited: its private slot is adopted before creating.
    assert_eq!(pool.try_take().as_deref(), Some("shared!"));
}

#[test]
fn a_burst_is_given_back_after_two_sweeps_idle_threads_private_slots_included() {
    let _alone = alone();
    const THREADS: usize = 4;
    const PER_THREAD: usize = 2_500;
    // A static pool's create function captures nothing, so the drop
    // ledger is static too.
    static DROPS: std::sync::OnceLock<StdArc<Drops>> = std::sync::OnceLock::new();
    static NEXT_ID: AtomicUsize = AtomicUsize::new(0);
    fn create() -> Tracked {
        tracked(
            DROPS.get_or_init(Default::default),
            NEXT_ID.fetch_add(1, SeqCst),
        )
    }
    static BURST: Pool<Tracked> = Pool::new(create);
    BURST.register();
    let sweeper = Sweeper::start(Duration::from_millis(5));
    let taken = StdArc::new(Barrier::new(THREADS));
    let filled = StdArc::new(Barrier::new(THREADS + 1));
    let (exit_tx, exit_rx) = mpsc::channel::<()>();
    let exit_rx = StdArc::new(std::sync::Mutex::new(exit_rx));
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (taken, filled) = (StdArc::clone(&taken), StdArc::clone(&filled));
            let exit_rx = StdArc::clone(&exit_rx);
            std::thread::spawn(move || {
                // All values are live at once: the burst.
                let held: Vec<Tracked> = (0..PER_THREAD).map(|_| BURST.take()).collect();
                taken.wait();
                for buffer in held {
                    BURST.put(buffer);
                }
                filled.wait();
                exit_rx.lock().unwrap().recv().ok(); // idle until told to exit
            })
        })
        .collect();
    filled.wait();
    let burst = THREADS * PER_THREAD;
    assert_eq!(BURST.stats().created as usize, burst);
    // Liveness, not timing: wait (bounded) until the sweeps have aged out
    // everything they can reach.
    // One private value per idle, live thread, unless cleanups drain them.
    let bound = if victim_pool::cleanups_drain_idle_threads() {
        0
    } else {
        THREADS
    };
    wait_until(|| BURST.stats().retained as usize <= bound);
    assert_eq!(BURST.stats().retained as usize, bound);
    for _ in 0..THREADS {
        exit_tx.send(()).unwrap();
    }
    for worker in workers {
        worker.join().unwrap();
    }
    // Exited threads' private slots age like everything else.
    wait_until(|| BURST.stats().retained == 0);
    assert_eq!(BURST.stats().dropped_by_cleanup as usize, burst);
    // Joins the sweeper thread: its last sweep's drops have finished.
    drop(sweeper);
    // The values' own count, not only the pool's: each id dropped once.
    assert_eq!(DROPS.get().unwrap().count(), burst);
}

/// Polls `done` until it holds; fails the test after a minute.
fn wait_until(done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(
            Instant::now() < deadline,
            "condition not reached in a minute"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn sixty_four_kib_values_stored_inline_work_on_default_thread_stacks() {
    let _alone = alone();
    // Release builds only (this target runs with --release): unoptimized
    // builds need a larger stack for values this size; see src/pool/tests.rs.
    if cfg!(debug_assertions) {
        return;
    }
    static PAGES: Pool<[u8; 65536]> = Pool::new(|| [1; 65536]);
    std::thread::spawn(|| {
        for _ in 0..40 {
            PAGES.put([2; 65536]);
        }
        let taken: Vec<[u8; 65536]> = (0..41).map(|_| PAGES.take()).collect();
        assert_eq!(taken.iter().filter(|page| page[65535] == 2).count(), 40);
        assert_eq!(PAGES.stats().created, 1);
    })
    .join()
    .unwrap();
}

/// Runs `teardown` from a thread-local destructor of a new thread, after
/// that thread's own `before_exit` ran (which may use pools). The
/// destructor is registered before the thread touches any pool, so it runs
/// after the crate's own thread-local has been torn down and the thread's
/// index given back.
fn in_teardown<R: Send + 'static>(
    before_exit: impl FnOnce() + Send + 'static,
    teardown: impl FnOnce() -> R + Send + 'static,
) -> mpsc::Receiver<R> {
    type Teardown = Box<dyn FnOnce() + Send>;
    struct Late(std::cell::Cell<Option<Teardown>>);
    impl Drop for Late {
        fn drop(&mut self) {
            if let Some(teardown) = self.0.take() {
                teardown();
            }
        }
    }
    std::thread_local! {
        static LATE: Late = const { Late(std::cell::Cell::new(None)) };
    }
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let teardown: Teardown = Box::new(move || tx.send(teardown()).unwrap());
        LATE.with(|late| late.0.set(Some(teardown)));
        before_exit();
    });
    rx
}

#[test]
fn a_thread_in_teardown_never_uses_the_index_it_gave_back() {
    let _alone = alone();
    let drops = StdArc::new(Drops::default());
    let pool: StdArc<Pool<Tracked>> = StdArc::new(Pool::new(no_create));
    // Thread A puts 0 and exits; in its teardown, thread B takes A's index
    // (and with it value 0) and puts 1 into the private slot. Then A, still
    // in teardown, takes and puts: with a stale cached index it would take
    // B's value 1, or put 2 into B's local.
    let (b_ready_tx, b_ready_rx) = mpsc::channel();
    let (a_done_tx, a_done_rx) = mpsc::channel::<()>();
    let b = {
        let (pool, drops) = (StdArc::clone(&pool), StdArc::clone(&drops));
        std::thread::spawn(move || {
            // Started once A's index is free (A's teardown is waiting).
            let b_put_tx: mpsc::Sender<()> = b_ready_rx.recv().unwrap();
            let inherited = pool.try_take().map(|value| value.id);
            pool.put(tracked(&drops, 1));
            b_put_tx.send(()).unwrap();
            a_done_rx.recv().unwrap(); // hold the index until A is done
            let kept = pool.try_take().map(|value| value.id);
            (inherited, kept)
        })
    };
    let teardown = {
        let (pool, drops) = (StdArc::clone(&pool), StdArc::clone(&drops));
        let put_pool = StdArc::clone(&pool);
        let put_drops = StdArc::clone(&drops);
        in_teardown(
            move || put_pool.put(tracked(&put_drops, 0)),
            move || {
                let (b_put_tx, b_put_rx) = mpsc::channel::<()>();
                b_ready_tx.send(b_put_tx).unwrap();
                b_put_rx.recv().unwrap();
                let taken = pool.try_take().map(|value| value.id);
                pool.put(tracked(&drops, 2));
                let dropped_at_once = drops.0.lock().unwrap().contains_key(&2);
                (taken, dropped_at_once)
            },
        )
    };
    let (taken, dropped_at_once) = teardown.recv().unwrap();
    a_done_tx.send(()).unwrap();
    let (inherited, kept) = b.join().unwrap();
    assert_eq!(
        inherited,
        Some(0),
        "B did not inherit A's index: the scenario did not happen"
    );
    assert_eq!(taken, None, "A in teardown took a value from B's local");
    assert!(dropped_at_once, "A in teardown put a value into B's local");
    assert_eq!(kept, Some(1), "B's private value was disturbed");
    assert_eq!(drops.count(), 3);
}

#[test]
fn a_pool_first_used_in_a_thread_local_destructor_works_and_conserves() {
    let _alone = alone();
    let drops = StdArc::new(Drops::default());
    let pool: StdArc<Pool<Tracked>> = StdArc::new(Pool::new(no_create));
    let teardown = {
        let (pool, drops) = (StdArc::clone(&pool), StdArc::clone(&drops));
        in_teardown(
            || {},
            move || {
                pool.put(tracked(&drops, 0));
                pool.put(tracked(&drops, 1));
                [pool.try_take(), pool.try_take(), pool.try_take()].map(|v| v.map(|v| v.id))
            },
        )
    };
    let taken = teardown.recv().unwrap();
    // On Linux the index is acquired in teardown, so the thread gets its
    // values back; where a platform refuses, both puts are discarded.
    match taken {
        [Some(0), Some(1), None] => assert_eq!(pool.stats().discarded, 0),
        [None, None, None] => assert_eq!(pool.stats().discarded, 2),
        other => panic!("a thread in teardown took {other:?}"),
    }
    pool.cleanup();
    pool.cleanup();
    drop(pool);
    assert_eq!(drops.count(), 2, "every value dropped once");
}

#[test]
fn misses_adopt_every_exited_threads_private_value_not_only_the_first() {
    let _alone = alone();
    let drops = StdArc::new(Drops::default());
    let pool: StdArc<Pool<Tracked>> = StdArc::new(Pool::new(no_create));
    // Hold an index first, so this thread cannot inherit one of theirs.
    assert!(pool.try_take().is_none());
    // Three threads alive at once (three indices), one value each.
    let all_put = StdArc::new(Barrier::new(3));
    let threads: Vec<_> = (0..3)
        .map(|id| {
            let (pool, drops) = (StdArc::clone(&pool), StdArc::clone(&drops));
            let all_put = StdArc::clone(&all_put);
            std::thread::spawn(move || {
                // Waits at the barrier even if the put panics, so that a bug
                // fails the test instead of leaving the others waiting.
                struct WaitOnDrop(StdArc<Barrier>);
                impl Drop for WaitOnDrop {
                    fn drop(&mut self) {
                        self.0.wait();
                    }
                }
                let _wait = WaitOnDrop(all_put);
                pool.put(tracked(&drops, id));
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let mut adopted: Vec<usize> = (0..4)
        .map_while(|_| pool.try_take().map(|value| value.id))
        .collect();
    adopted.sort_unstable();
    assert_eq!(
        adopted,
        [0, 1, 2],
        "each miss adopts one exited thread's value"
    );
    assert_eq!(pool.stats().missed, 2, "the first and the last miss");
}

/// A tracked value whose `Drop` panics if armed; its tracked field is
/// still dropped, and counted, while the panic unwinds.
struct Bomb {
    value: Tracked,
    armed: bool,
}

impl Drop for Bomb {
    fn drop(&mut self) {
        if self.armed {
            panic!("value {} panics in its drop", self.value.id);
        }
    }
}

#[test]
fn cleanup_all_ages_every_pool_past_a_panicking_drop_then_propagates_the_panic() {
    let _alone = alone();
    let drops = StdArc::new(Drops::default());
    // Registered in this order, so the registry ages the panicking pool
    // first and the tracked one after the panic.
    let bombs: StdArc<Pool<Bomb>> = StdArc::new(Pool::new(no_create));
    bombs.register_arc();
    let plain: StdArc<Pool<Tracked>> = StdArc::new(Pool::new(no_create));
    plain.register_arc();
    // The first put of each pool fills this thread's private slot; the rest
    // go onto its chain, which the second cleanup drops. The armed value is
    // in the middle of the chain, so values follow it in the same drop.
    for (id, armed) in [(0, false), (1, false), (2, true), (3, false)] {
        bombs.put(Bomb {
            value: tracked(&drops, id),
            armed,
        });
    }
    for id in 10..13 {
        plain.put(tracked(&drops, id));
    }
    victim_pool::cleanup_all();
    assert_eq!(drops.count(), 0, "one cleanup only makes victims");
    let panic = std::panic::catch_unwind(victim_pool::cleanup_all)
        .expect_err("the armed value's panic propagates");
    assert_eq!(
        panic.downcast_ref::<String>().map(String::as_str),
        Some("value 2 panics in its drop")
    );
    // Both chains were dropped whole, the value after the panicking one
    // included, and so were the private values where cleanups drain them.
    let private = usize::from(victim_pool::cleanups_drain_idle_threads());
    assert_eq!(drops.count(), 3 + 2 + 2 * private);
    for (pool_drops, stats) in [(3 + private, bombs.stats()), (2 + private, plain.stats())] {
        assert_eq!(stats.dropped_by_cleanup, pool_drops as u64);
        assert_eq!(stats.retained, 1 - private as u64);
    }
    // Both pools still work: a put and a take each.
    bombs.put(Bomb {
        value: tracked(&drops, 20),
        armed: false,
    });
    assert_eq!(bombs.try_take().map(|bomb| bomb.value.id), Some(20));
    plain.put(tracked(&drops, 21));
    assert_eq!(plain.try_take().map(|value| value.id), Some(21));
    drop((bombs, plain));
    assert_eq!(drops.count(), 4 + 3 + 2, "every value dropped once");
}

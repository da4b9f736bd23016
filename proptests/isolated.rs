//! Pool tests whose outcome depends on which thread indices are free: a
//! thread that exits gives its index back, and any thread that starts next
//! may take it (with the exited thread's local and private slot). Run with
//! `--test-threads=1` so that no other test starts threads meanwhile; the
//! test command does.
#![cfg(not(loom))]

use std::pin::Pin;
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
fn a_burst_is_given_back_after_two_sweeps_except_idle_threads_private_slots() {
    let _alone = alone();
    const THREADS: usize = 4;
    const PER_THREAD: usize = 2_500;
    static BURST: Pool<Vec<u8>> = Pool::new(Vec::new);
    Pin::static_ref(&BURST).register();
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
                let held: Vec<Vec<u8>> = (0..PER_THREAD).map(|_| BURST.take()).collect();
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
    let bound = THREADS; // one private value per idle, live thread
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
    drop(sweeper);
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

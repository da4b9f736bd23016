//! The service features: return-time rules, statistics by tier, guards,
//! the registry and the sweeper.

use super::*;
use crate::sync::{AtomicUsize as StdAtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc as StdArc};

fn no_create<T>() -> T {
    panic!("this test never creates values")
}

#[test]
fn reset_runs_on_every_kept_return_and_never_on_discarded_values() {
    static RESETS: StdAtomicUsize = StdAtomicUsize::new(0);
    let pool = Pool::builder(|| Vec::<u8>::with_capacity(16))
        .reset(|v: &mut Vec<u8>| {
            RESETS.fetch_add(1, SeqCst);
            v.clear();
        })
        .keep_if(|v: &Vec<u8>| v.capacity() <= 1024)
        .build();
    let mut buffer = pool.get();
    buffer.extend_from_slice(b"dirty");
    drop(buffer);
    assert_eq!(RESETS.load(SeqCst), 1);
    assert!(
        pool.get().is_empty(),
        "a value taken from the pool is clean"
    );
    assert_eq!(RESETS.load(SeqCst), 2);
    pool.put(Vec::with_capacity(4096));
    assert_eq!(RESETS.load(SeqCst), 2, "no reset for a discarded value");
    let stats = pool.stats();
    assert_eq!((stats.puts, stats.discarded), (3, 1));
}

#[test]
fn the_per_thread_bound_caps_what_one_thread_retains() {
    let pool = Pool::builder(no_create::<u32>)
        .max_chain_per_thread(10)
        .build();
    for i in 0..100 {
        pool.put(i);
    }
    let stats = pool.stats();
    assert_eq!(
        stats.retained, 11,
        "ten in the chain, one in the private slot"
    );
    assert_eq!(stats.discarded, 89);
    let mut kept = Vec::new();
    while let Some(value) = pool.try_take() {
        kept.push(value);
    }
    assert_eq!(kept.len(), 11);
    assert_eq!(kept[0], 0, "the private slot keeps the first value");
}

#[test]
fn statistics_count_every_tier_of_go_s_get_order() {
    let pool: Pool<u32, _> = Pool::new(|| 0);
    let stealer_pool = &pool;
    // Another thread leaves three values: one private, two chained.
    std::thread::scope(|scope| {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (done_tx, done_rx) = mpsc::channel::<()>();
        scope.spawn(move || {
            for value in [10, 11, 12] {
                stealer_pool.put(value);
            }
            ready_tx.send(()).unwrap();
            done_rx.recv().unwrap(); // stay alive: its private slot stays its own
        });
        ready_rx.recv().unwrap();
        pool.put(1); // private
        pool.put(2); // own chain
        assert_eq!(pool.take(), 1);
        assert_eq!(pool.take(), 2);
        assert_eq!(pool.take(), 11, "stolen oldest-first from the other chain");
        pool.put(3);
        pool.put(4);
        pool.cleanup();
        assert_eq!(pool.take(), 3, "own victim private slot");
        assert_eq!(pool.take(), 4, "victim chains, starting at our own");
        assert_eq!(pool.take(), 12, "then the other thread's victim chain");
        assert_eq!(pool.take(), 0, "created");
        assert_eq!(pool.try_take(), None, "missed");
        done_tx.send(()).unwrap();
    });
    let stats = pool.stats();
    assert_eq!(stats.from_private, 1);
    assert_eq!(stats.from_own_chain, 1);
    assert_eq!(stats.stolen, 1);
    assert_eq!(stats.from_victim, 3);
    assert_eq!(stats.created, 1);
    assert_eq!(stats.missed, 1);
    assert_eq!(stats.puts, 7);
    assert_eq!(stats.retained, 1, "the other thread's private value");
}

#[test]
fn a_dropped_pool_leaves_the_registry_and_is_never_touched() {
    // Other tests register and drop pools concurrently, so the check is on
    // this pool's own entry, not on the registry's count.
    let pool = StdArc::new(Pool::new(|| 0u8));
    pool.register_arc();
    let enrollment = lock(&pool.state.enrollment).clone().expect("registered");
    pool.register_arc(); // once only
    let again = lock(&pool.state.enrollment).clone().expect("registered");
    assert!(StdArc::ptr_eq(&enrollment, &again), "enrolled once");
    drop(again);
    assert!(registry::is_listed(&enrollment), "listed while alive");
    drop(pool);
    assert!(!registry::is_listed(&enrollment), "the Arc pool left");
    cleanup_all(); // must not touch the dropped pool (Miri checks)

    let boxed = Box::pin(Pool::new(|| 1u8));
    boxed.as_ref().register_pinned();
    let enrollment = lock(&boxed.state.enrollment).clone().expect("registered");
    assert!(registry::is_listed(&enrollment), "listed while alive");
    drop(boxed);
    assert!(!registry::is_listed(&enrollment), "the pinned pool left");
    cleanup_all();
}

#[test]
fn a_pools_registry_entry_is_removed_by_its_drop_without_a_sweep() {
    let enrollments: Vec<_> = (0..100)
        .map(|_| {
            let pool = Box::pin(Pool::new(|| 0u8));
            pool.as_ref().register_pinned();
            let enrollment = lock(&pool.state.enrollment).clone().expect("registered");
            assert!(registry::is_listed(&enrollment));
            enrollment
        })
        .collect();
    for enrollment in &enrollments {
        assert!(
            !registry::is_listed(enrollment),
            "a dropped pool's entry stayed in the registry"
        );
    }
}

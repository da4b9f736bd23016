//! `get` lends the private value in place: where the value stays, where
//! puts and gets go meanwhile, and how every way of ending a loan gives the
//! value back (or out) exactly once.

use super::tests::{no_create, tracked, Drops, Tracked};
use super::*;
use std::sync::Arc as StdArc;

#[test]
fn get_lends_the_private_value_in_place_and_its_drop_puts_it_back_unmoved() {
    let pool: Pool<Vec<u8>> = Pool::new(Vec::new);
    pool.put(Vec::with_capacity(4096));
    let first = pool.get();
    let address: *const Vec<u8> = &*first;
    drop(first);
    let mut second = pool.get();
    assert_eq!(&*second as *const Vec<u8>, address, "the value never moved");
    second.push(1);
    drop(second);
    let stats = pool.stats();
    assert_eq!((stats.from_private, stats.puts, stats.created), (2, 3, 0));
    assert_eq!(pool.try_take(), Some(vec![1]), "written through the guard");
}

#[test]
fn while_a_value_is_lent_the_threads_puts_and_gets_use_its_chain() {
    let pool: Pool<u32> = Pool::new(no_create);
    pool.put(1);
    let lent = pool.get();
    pool.put(2); // the slot is lent: onto the chain
    assert_eq!(pool.stats().retained, 1);
    assert_eq!(pool.try_take(), Some(2), "from the own chain");
    assert_eq!(pool.try_take(), None, "the lent value is not the pool's");
    assert_eq!(*lent, 1);
    drop(lent);
    assert_eq!(pool.try_take(), Some(1), "back in the private slot");
    let stats = pool.stats();
    assert_eq!(
        (stats.from_private, stats.from_own_chain, stats.missed),
        (2, 1, 1)
    );
}

#[test]
fn a_guard_dropped_on_another_thread_gives_the_value_back_to_the_lenders_slot() {
    let pool = StdArc::new(Pool::new(|| String::from("created")));
    pool.put(String::from("pooled"));
    let mut owned = pool.get_owned();
    std::thread::spawn(move || {
        owned.push_str(" and written elsewhere");
        drop(owned);
    })
    .join()
    .unwrap();
    // Back in this thread's private slot, not the other thread's.
    assert_eq!(
        pool.try_take().as_deref(),
        Some("pooled and written elsewhere")
    );
    assert_eq!(pool.stats().from_private, 2);
}

#[test]
fn statistics_count_a_loans_put_when_it_ends_on_any_thread_and_never_for_a_detached_one() {
    let pool: StdArc<Pool<String>> = StdArc::new(Pool::new(String::new));
    pool.put(String::from("a"));
    let counts = |pool: &Pool<String>| {
        let stats = pool.stats();
        (stats.from_private, stats.puts, stats.retained)
    };
    let lent = pool.get_owned();
    assert_eq!(counts(&pool), (1, 1, 0), "a loan on the way out is no put");
    let other = std::thread::spawn(move || drop(lent));
    other.join().unwrap();
    assert_eq!(counts(&pool), (1, 2, 1), "given back on another thread");
    let lent = pool.get_owned();
    let detached = std::thread::spawn(move || OwnedPoolGuard::into_inner(lent));
    assert_eq!(detached.join().unwrap(), "a");
    assert_eq!(counts(&pool), (2, 2, 0), "detached on another thread");
    let lent = pool.get();
    assert_eq!(PoolGuard::into_inner(lent), "", "created by the miss");
    let stats = pool.stats();
    assert_eq!((stats.created, stats.puts, stats.retained), (1, 2, 0));
}

#[test]
fn detaching_a_lent_value_empties_the_slot() {
    let drops = StdArc::new(Drops::default());
    let pool: Pool<Tracked> = Pool::new(no_create);
    pool.put(tracked(&drops, 0));
    let detached = PoolGuard::into_inner(pool.get());
    assert_eq!(detached.id, 0);
    assert!(pool.try_take().is_none(), "the slot is empty");
    pool.put(tracked(&drops, 1)); // and usable
    drop(detached);
    assert!(drops.was_dropped(0) && !drops.was_dropped(1));
    drop(pool);
    assert_eq!(drops.count(), 2);
}

#[test]
fn a_forgotten_lent_guard_leaks_nothing_once_the_pool_is_dropped() {
    let drops = StdArc::new(Drops::default());
    let pool: Pool<Tracked> = Pool::new(no_create);
    pool.put(tracked(&drops, 0));
    std::mem::forget(pool.get());
    assert!(pool.try_take().is_none(), "still lent");
    drop(pool);
    assert!(drops.was_dropped(0), "dropped with the pool, once");
}

#[test]
fn a_cleanup_skips_a_lent_value_and_ages_it_from_its_return() {
    let drops = StdArc::new(Drops::default());
    let pool: Pool<Tracked> = Pool::new(no_create);
    pool.put(tracked(&drops, 0));
    let lent = pool.get();
    pool.cleanup();
    pool.cleanup();
    pool.cleanup();
    assert_eq!(drops.count(), 0, "a lent value belongs to its guard");
    drop(lent); // stamped now: primary again
    pool.cleanup();
    assert_eq!(
        pool.try_take().map(|v| v.id),
        Some(0),
        "victim-aged, served"
    );
}

#[test]
fn a_pool_with_rules_screens_a_lent_value_on_its_return() {
    let pool: Pool<Vec<u8>> = Pool::builder(Vec::new)
        .reset(Vec::clear)
        .keep_if(|v: &Vec<u8>| v.capacity() <= 64)
        .build();
    pool.put(Vec::with_capacity(16));
    let mut small = pool.get();
    small.extend_from_slice(b"scratch");
    drop(small);
    assert_eq!(pool.get().len(), 0, "reset on return");
    let mut grown = pool.get();
    grown.reserve(1024);
    drop(grown); // refused by the keep rule
    let stats = pool.stats();
    assert_eq!((stats.discarded, stats.retained), (1, 0));
}

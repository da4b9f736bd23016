//! Loom models of how the pool ages: a cleanup racing a put must not drop
//! the put value, and the victim-empty hint must not hide a value moved onto
//! a victim chain after it was set.
//!
//! Each is small enough to run at the CI preemption bound, and each is aimed
//! at one step of the protocol that `.ci/planted-bugs.sh` weakens. As in
//! `pool.rs`, operations that need a thread index run on spawned threads; the
//! main thread runs cleanups, drops the pool and checks the ledger.

use crate::support::{check, Ledger, Value};
use loom::sync::Arc;
use loom::thread;
use victim_pool::Pool;

type ModelPool = Pool<Value, fn() -> Value>;

fn never_create() -> Value {
    panic!("the models take only values they know are pooled; create must not run")
}

fn new_pool() -> ModelPool {
    let create: fn() -> Value = never_create;
    Pool::new(create).with_first_capacity(1)
}

/// The owner puts 0 (its private slot) and 1 (its chain) while the main
/// thread runs one cleanup. Whichever generation each put reads, neither
/// value has lived through a cleanup before this one, so this cleanup drops
/// nothing. That holds because a cleanup drains the chains that become
/// primary at the next generation before it publishes that generation: a
/// put that reads the new generation pushes onto a chain already drained.
/// Published first, the put could land on a chain the cleanup then drains.
#[test]
fn a_cleanup_never_drops_a_value_put_while_it_runs() {
    check("a_cleanup_never_drops_a_value_put_while_it_runs", || {
        let ledger = Ledger::new(2);
        let pool = Arc::new(new_pool());
        let owner = {
            let (pool, ledger) = (pool.clone(), ledger.clone());
            thread::spawn(move || {
                pool.put(Value::new(&ledger, 0));
                pool.put(Value::new(&ledger, 1));
            })
        };
        pool.cleanup();
        owner.join().unwrap();
        assert!(
            ledger.dropped().is_empty(),
            "a cleanup dropped {:?}, put while it ran",
            ledger.dropped()
        );
        // Both values are still pooled (the owner's private slot, a chain)
        // and go with the pool, each once.
        drop(pool);
        ledger.assert_each_dropped_once();
    });
}

/// After a cleanup, thread A's private slot holds 0, now victim-aged, and
/// the victim chains are empty. Thread B misses, which marks the victim
/// cache empty for this generation. Then A puts 1: the private slot takes
/// it, and 0 moves onto A's victim chain. A's next two gets, at the same
/// generation, return 1 (its private slot) and then 0 from the victim chain:
/// the put that moved 0 has to clear the mark, or every get skips the
/// victim chains until the next cleanup, with a value in them.
///
/// The steps are ordered by a join: a miss racing the put may set the mark
/// after the put looked at it, which the hint allows (it is a hint, as Go's
/// `victimSize = 0` is); only a mark set before the put must be cleared.
#[test]
fn a_value_moved_to_the_victim_cache_after_a_miss_is_found_by_the_next_get() {
    check(
        "a_value_moved_to_the_victim_cache_after_a_miss_is_found_by_the_next_get",
        || {
            let ledger = Ledger::new(2);
            let pool = Arc::new(new_pool());
            let a = {
                let (pool, ledger) = (pool.clone(), ledger.clone());
                thread::spawn(move || {
                    pool.put(Value::new(&ledger, 0));
                    pool.cleanup();
                    let missed = {
                        let pool = pool.clone();
                        thread::spawn(move || pool.try_take()).join().unwrap()
                    };
                    assert!(
                        missed.is_none(),
                        "a live thread's private value was handed to another thread"
                    );
                    pool.put(Value::new(&ledger, 1));
                    (pool.try_take(), pool.try_take())
                })
            };
            let (private, victim) = a.join().unwrap();
            assert_eq!(
                private.as_ref().map(Value::id),
                Some(1),
                "the private slot is served first"
            );
            assert_eq!(
                victim.as_ref().map(Value::id),
                Some(0),
                "value 0 was moved onto a victim chain at this generation, yet the next \
                 get found nothing"
            );
            drop((private, victim));
            drop(pool);
            ledger.assert_each_dropped_once();
        },
    );
}

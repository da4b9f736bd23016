//! Loom models of the thread-index hand-off seen from a get: a thread that
//! adopts an exited thread's private value must hold the registry lock until
//! it has taken it, so that no new thread acquires that index meanwhile.
//!
//! As in `pool.rs`, operations that need a thread index run on spawned
//! threads; the main thread drops the pool and checks the ledger.

use crate::support::{check, Ledger, Value};
use loom::sync::Arc;
use loom::thread;
use victim_pool::Pool;

type ModelPool = Pool<Value, fn() -> Value>;

fn never_create() -> Value {
    panic!("the models take only values they know are pooled; create must not run")
}

/// Thread A puts 0 into its private slot and exits. Thread B, started while
/// A was alive (so it may hold another index), takes once; thread C, started
/// after A was joined (so it may get A's index back, with its local), takes
/// once too. B can reach 0 only by adopting it from the free index, C as the
/// index's new owner. The registry lock is what keeps them apart: B adopts
/// only while holding it, and C acquires the index under it. A get that
/// looked at the free indices, unlocked, and then took the value would race
/// the new owner for the private slot.
///
/// 0 is taken at most once; if nobody took it, it is still in the pool
/// (possibly in a private slot whose index is still held) and goes with it.
#[test]
fn an_exited_threads_private_value_is_adopted_or_inherited_never_both() {
    check(
        "an_exited_threads_private_value_is_adopted_or_inherited_never_both",
        || {
            let ledger = Ledger::new(1);
            let create: fn() -> Value = never_create;
            let pool: Arc<ModelPool> = Arc::new(Pool::new(create).with_first_capacity(1));
            let a = {
                let (pool, ledger) = (pool.clone(), ledger.clone());
                thread::spawn(move || pool.put(Value::new(&ledger, 0)))
            };
            let b = {
                let pool = pool.clone();
                thread::spawn(move || pool.try_take())
            };
            a.join().unwrap();
            let c = {
                let pool = pool.clone();
                thread::spawn(move || pool.try_take())
            };
            let taken: Vec<Value> = [b.join().unwrap(), c.join().unwrap()]
                .into_iter()
                .flatten()
                .collect();
            assert!(
                taken.len() <= 1,
                "one pooled value, taken {} times",
                taken.len()
            );
            assert!(
                ledger.dropped().is_empty(),
                "nothing may drop a pooled value"
            );
            drop(taken);
            drop(pool);
            ledger.assert_each_dropped_once();
        },
    );
}

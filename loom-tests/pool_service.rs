//! Loom models of the pool's service features: return-time rules racing a
//! stealer, the registry racing a pool being dropped, and statistics read
//! while a thread builds its local.
//!
//! As in `pool.rs`, operations that need a thread index run on spawned
//! threads only; the main thread drops the pool and checks the ledger.

use crate::support::{check, Ledger, Out, Value};
use loom::sync::Arc;
use loom::thread;
use victim_pool::{cleanup_all, registered_pools, Pool};

/// A pooled value that remembers whether the reset hook saw it.
struct Scrubbed {
    value: Value,
    reset: bool,
}

fn never_create<T>() -> T {
    panic!("the models take only values they know are pooled")
}

/// The owner puts 0, 1 and 2 into a pool whose keep rule refuses 1 and
/// whose reset hook marks every kept value, while a stealer takes twice.
/// A stolen value was reset before it was published (the hook runs on the
/// putting thread; slot-publish carries its writes), the refused value is
/// never handed out, and every value is dropped exactly once.
#[test]
fn a_reset_hook_and_a_keep_rule_race_a_stealer() {
    check("a_reset_hook_and_a_keep_rule_race_a_stealer", || {
        let ledger = Ledger::new(3);
        let create: fn() -> Scrubbed = never_create;
        let pool = Arc::new(
            Pool::builder(create)
                .keep_if(|scrubbed: &Scrubbed| scrubbed.value.id() != 1)
                .reset(|scrubbed: &mut Scrubbed| scrubbed.reset = true)
                .with_first_capacity(1)
                .build(),
        );
        let owner = {
            let (pool, ledger) = (pool.clone(), ledger.clone());
            thread::spawn(move || {
                for id in 0..3 {
                    pool.put(Scrubbed {
                        value: Value::new(&ledger, id),
                        reset: false,
                    });
                }
            })
        };
        let stealer = {
            let pool = pool.clone();
            thread::spawn(move || {
                let mut out = Out::default();
                for _ in 0..2 {
                    if let Some(scrubbed) = pool.try_take() {
                        assert!(scrubbed.reset, "a value was handed out before its reset");
                        assert_ne!(scrubbed.value.id(), 1, "the refused value was pooled");
                        out.take(scrubbed.value);
                    }
                }
                out
            })
        };
        owner.join().unwrap();
        let mut out = stealer.join().unwrap();
        // Whatever the stealer missed: taken by a later thread, or still in
        // the pool (the exited owner's private slot) and dropped with it.
        let later = {
            let pool = pool.clone();
            thread::spawn(move || {
                let mut out = Out::default();
                while let Some(scrubbed) = pool.try_take() {
                    assert!(scrubbed.reset && scrubbed.value.id() != 1);
                    out.take(scrubbed.value);
                }
                out
            })
        };
        out.extend(later.join().unwrap());
        let stats = pool.stats();
        assert_eq!((stats.puts, stats.discarded), (3, 1));
        drop(pool);
        ledger.assert_each_dropped_once();
    });
}

/// A thread runs `cleanup_all` twice while the main thread drops the last
/// reference to a registered pool holding two values. Whether the sweep
/// reaches the pool first or not, the pool's drop waits for any sweep using
/// it, the registry forgets it, and each value is dropped exactly once (by
/// a cleanup or by the pool's drop).
#[test]
fn the_registry_races_a_pool_being_dropped() {
    check("the_registry_races_a_pool_being_dropped", || {
        let ledger = Ledger::new(2);
        let create: fn() -> Value = never_create;
        let pool = Arc::pin(Pool::new(create).with_first_capacity(1));
        pool.as_ref().register_pinned();
        {
            let (pool, ledger) = (pool.clone(), ledger.clone());
            thread::spawn(move || {
                pool.put(Value::new(&ledger, 0));
                pool.put(Value::new(&ledger, 1));
            })
            .join()
            .unwrap();
        }
        let sweeper = thread::spawn(|| {
            cleanup_all();
            cleanup_all();
        });
        drop(pool);
        sweeper.join().unwrap();
        ledger.assert_each_dropped_once();
        assert_eq!(registered_pools(), 0, "a dropped pool stayed registered");
    });
}

/// A thread puts 0, building its bucket of locals (and its counters), while
/// the main thread reads the pool's statistics, which visit every allocated
/// local: a local is read only once its construction is visible. The put
/// is counted, or not yet seen; after the join it is.
#[test]
fn statistics_read_while_a_thread_builds_its_local_see_only_built_counters() {
    check(
        "statistics_read_while_a_thread_builds_its_local_see_only_built_counters",
        || {
            let ledger = Ledger::new(1);
            let create: fn() -> Value = never_create;
            let pool = Arc::new(Pool::new(create).with_first_capacity(1));
            let owner = {
                let (pool, ledger) = (pool.clone(), ledger.clone());
                thread::spawn(move || pool.put(Value::new(&ledger, 0)))
            };
            let racing = pool.stats();
            assert!(racing.puts <= 1, "one put, counted {} times", racing.puts);
            owner.join().unwrap();
            assert_eq!(pool.stats().puts, 1, "the joined put is counted");
            drop(pool);
            ledger.assert_each_dropped_once();
        },
    );
}

//! Loom models of the summary of non-empty chains (`src/pool/summary.rs`):
//! an owner marking its chain after a push, racing a thief that finds the
//! chain empty, clears the mark and looks again.
//!
//! What must hold: a value the pool holds is never invisible to every
//! thief. The models check it at the end: once the racing threads are done,
//! a scan by a thread that does not own the chain must find every value
//! still in it, which it can only do through the summary.
//!
//! As in `pool.rs`, pool operations that need a thread index run on spawned
//! threads; the thief joins the owner itself, so that it keeps its own
//! index (a thread started after both exit would reuse the owner's index
//! and pop the chain as its owner, summary or not).

use crate::support::{check, Ledger, Value};
use loom::sync::Arc;
use loom::thread;
use victim_pool::Pool;

type ModelPool = Pool<Value, fn() -> Value>;

fn never_create() -> Value {
    panic!("the models take only values they know are pooled; create must not run")
}

fn new_pool() -> Arc<ModelPool> {
    let create: fn() -> Value = never_create;
    Arc::new(Pool::new(create).with_first_capacity(1))
}

/// The owner puts 0 (its private slot) and 1 (its chain's empty ring: a
/// mark), while a thief misses or steals once. Then the thief joins the
/// owner and takes until the pool has nothing more for it: it must get 1
/// if it did not steal it before. The private value may come to it too
/// (adopted from the exited owner); every value is dropped exactly once.
///
/// An owner that marks with a weaker ordering, or before it pushes, lets
/// the thief see the bit, find nothing, clear it and find nothing again:
/// 1 then stays in a chain that no scan visits. (The push is the owner's
/// last: a later push into an empty ring would mark again.)
#[test]
fn a_chain_value_is_never_hidden_from_every_thief() {
    check("a_chain_value_is_never_hidden_from_every_thief", || {
        let ledger = Ledger::new(2);
        let pool = new_pool();
        let owner = {
            let (pool, ledger) = (pool.clone(), ledger.clone());
            thread::spawn(move || {
                for id in 0..2 {
                    pool.put(Value::new(&ledger, id));
                }
            })
        };
        let thief = {
            let pool = pool.clone();
            thread::spawn(move || {
                let raced = pool.try_take();
                owner.join().unwrap();
                let mut taken: Vec<Value> = raced.into_iter().collect();
                while let Some(value) = pool.try_take() {
                    taken.push(value);
                }
                taken
            })
        };
        let taken = thief.join().unwrap();
        let mut ids: Vec<usize> = taken.iter().map(Value::id).collect();
        ids.sort_unstable();
        assert!(
            ids.contains(&1),
            "a value stayed in the owner's chain where no scan found it: the thief took {ids:?}"
        );
        assert!(
            ledger.dropped().is_empty(),
            "no cleanup ran, yet the pool dropped {:?}",
            ledger.dropped()
        );
        drop(taken);
        drop(pool);
        ledger.assert_each_dropped_once();
    });
}

/// The owner puts 0 (private) and 1 (chain: a mark), takes both back (its
/// own pop leaves the bit set), then puts 2 (private), 3 (into the empty
/// ring: a mark on a bit that may be set already) and 4 (same ring, no
/// mark). A thief misses or steals once meanwhile, then joins the owner and
/// takes until the pool has nothing for it: it must get every value the
/// owner's chain still holds.
///
/// This is the case the second look exists for: the thief may see the bit
/// set by the first mark, pin (which, in loom as in the C++ model, acquires
/// only what it has read: that first mark), find the ring empty after the
/// owner's own pop, and clear the bit after the owner's second mark. Only
/// the clear's acquire of that mark and the look that follows it find 3;
/// and since 4 follows 3 without a mark, the thief must set the bit back
/// when its second look finds 3. First rings of 2 slots: no link is ever
/// retired, which keeps the search small.
#[test]
fn a_value_pushed_while_a_thief_clears_the_bit_is_seen_by_its_second_look() {
    check(
        "a_value_pushed_while_a_thief_clears_the_bit_is_seen_by_its_second_look",
        || {
            let ledger = Ledger::new(5);
            let create: fn() -> Value = never_create;
            let pool: Arc<ModelPool> = Arc::new(Pool::new(create).with_first_capacity(2));
            let owner = {
                let (pool, ledger) = (pool.clone(), ledger.clone());
                thread::spawn(move || {
                    pool.put(Value::new(&ledger, 0));
                    pool.put(Value::new(&ledger, 1));
                    let mut taken: Vec<Value> = pool.try_take().into_iter().collect();
                    taken.extend(pool.try_take());
                    for id in 2..5 {
                        pool.put(Value::new(&ledger, id));
                    }
                    taken
                })
            };
            let thief = {
                let pool = pool.clone();
                thread::spawn(move || {
                    let mut taken: Vec<Value> = pool.try_take().into_iter().collect();
                    let owners = owner.join().unwrap();
                    while let Some(value) = pool.try_take() {
                        taken.push(value);
                    }
                    (owners, taken)
                })
            };
            let (owners, thiefs) = thief.join().unwrap();
            let mut ids: Vec<usize> = owners.iter().chain(&thiefs).map(Value::id).collect();
            ids.sort_unstable();
            assert!(
                [1, 3, 4].iter().all(|id| ids.contains(id)),
                "a value stayed in the owner's chain where no scan found it: taken {ids:?}"
            );
            assert!(
                ledger.dropped().is_empty(),
                "no cleanup ran, yet the pool dropped {:?}",
                ledger.dropped()
            );
            drop((owners, thiefs));
            drop(pool);
            ledger.assert_each_dropped_once();
        },
    );
}

/// The upper level (a bit per group of 64 thread indices). Thread A puts 0
/// (private) and 1 (chain: a mark, which names the group), takes both back
/// and exits, leaving its bit, and its group's, set. Then the owner, which
/// gets A's index and local, puts 2 (private), 3 (into the empty ring: a
/// mark) and 4 (no mark), while a thief takes once and then, after joining
/// the owner, takes until the pool has nothing for it.
///
/// The thief finds A's chain empty and clears the bit, which empties the
/// group's word; if the owner's mark lands between that and the thief's
/// clear of the group's upper bit, the word goes non-zero again and the
/// owner sets the upper bit (already set) before the thief clears it. The
/// thief must then read the word again and set the upper bit back, or the
/// group holding 3 and 4 is named by nothing.
#[test]
fn a_group_refilled_while_a_thief_clears_its_upper_bit_stays_named() {
    check(
        "a_group_refilled_while_a_thief_clears_its_upper_bit_stays_named",
        || {
            let ledger = Ledger::new(5);
            let create: fn() -> Value = never_create;
            let pool: Arc<ModelPool> = Arc::new(Pool::new(create).with_first_capacity(2));
            let before = {
                let (pool, ledger) = (pool.clone(), ledger.clone());
                thread::spawn(move || {
                    pool.put(Value::new(&ledger, 0));
                    pool.put(Value::new(&ledger, 1));
                    let first = pool.try_take();
                    (first, pool.try_take())
                })
            };
            let (zero, one) = before.join().unwrap();
            let mut taken: Vec<Value> = zero.into_iter().chain(one).collect();
            let owner = {
                let (pool, ledger) = (pool.clone(), ledger.clone());
                thread::spawn(move || {
                    for id in 2..5 {
                        pool.put(Value::new(&ledger, id));
                    }
                })
            };
            let thief = {
                let pool = pool.clone();
                thread::spawn(move || {
                    let mut taken: Vec<Value> = pool.try_take().into_iter().collect();
                    owner.join().unwrap();
                    while let Some(value) = pool.try_take() {
                        taken.push(value);
                    }
                    taken
                })
            };
            taken.extend(thief.join().unwrap());
            let mut ids: Vec<usize> = taken.iter().map(Value::id).collect();
            ids.sort_unstable();
            assert!(
                [0, 1, 3, 4].iter().all(|id| ids.contains(id)),
                "a value stayed in the owner's chain where no scan found it: taken {ids:?}"
            );
            assert!(
                ledger.dropped().is_empty(),
                "no cleanup ran, yet the pool dropped {:?}",
                ledger.dropped()
            );
            drop(taken);
            drop(pool);
            ledger.assert_each_dropped_once();
        },
    );
}

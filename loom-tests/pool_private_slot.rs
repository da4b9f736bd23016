//! Loom models of the private slot's protocol (`src/pool/private_slot.rs`):
//! a value lent in place by `get` and given back by its guard, on the owner
//! thread, on another thread, and after the owner exited; and a cleanup that
//! drains an idle owner's expired value, racing the owner itself.
//!
//! Under loom both sides of the asymmetric fence are `SeqCst` fences, so
//! these models check the Dekker argument that the fast build relies on.
//! As in `pool.rs`, operations that need a thread index run on spawned
//! threads; the main thread drops the pool and checks the ledger.

use crate::support::{check, check_capped, Ledger, Value};
use loom::sync::Arc;
use loom::thread;
use victim_pool::{OwnedPoolGuard, Pool};

type ModelPool = Pool<Value, fn() -> Value>;

fn never_create() -> Value {
    panic!("the models take only values they know are pooled; create must not run")
}

fn new_pool() -> Arc<ModelPool> {
    Arc::new(unshared_pool())
}

fn unshared_pool() -> ModelPool {
    let create: fn() -> Value = never_create;
    Pool::new(create).with_first_capacity(1)
}

/// For owned guards, which need std's `Arc` (not modelled: the pool's own
/// atomics and cells are what loom checks).
fn new_owned_pool() -> std::sync::Arc<ModelPool> {
    std::sync::Arc::new(unshared_pool())
}

/// Checks that no value was taken twice and that nothing was dropped, then
/// drops the taken values and the pool: every value goes exactly once.
fn settle<P>(taken: Vec<Value>, ledger: &Ledger, pool: P) {
    let mut ids: Vec<usize> = taken.iter().map(Value::id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), taken.len(), "a value was taken twice");
    assert!(ledger.dropped().is_empty(), "nothing was due to be dropped");
    drop(taken);
    drop(pool);
    ledger.assert_each_dropped_once();
}

/// The owner puts 0 and waits until the main thread has run one cleanup
/// (ordered by channels, so 0 is then a victim); then it runs `then` while
/// the main thread runs `cleanups` more. Returns what `then` returned, once
/// the owner has joined.
fn after_one_cleanup<R: Send + 'static>(
    pool: &Arc<ModelPool>,
    ledger: &std::sync::Arc<Ledger>,
    cleanups: usize,
    then: fn(&ModelPool, &std::sync::Arc<Ledger>) -> R,
) -> R {
    let (put_tx, put_rx) = loom::sync::mpsc::channel::<()>();
    let (aged_tx, aged_rx) = loom::sync::mpsc::channel::<()>();
    let owner = {
        let (pool, ledger) = (pool.clone(), ledger.clone());
        thread::spawn(move || {
            pool.put(Value::new(&ledger, 0));
            put_tx.send(()).unwrap();
            aged_rx.recv().unwrap();
            then(&pool, &ledger)
        })
    };
    put_rx.recv().unwrap();
    pool.cleanup();
    aged_tx.send(()).unwrap();
    for _ in 0..cleanups {
        pool.cleanup();
    }
    owner.join().unwrap()
}

/// Runs `owner` on a thread of its own (it puts values 0 and 1 and may
/// take one, which it returns) while the main thread runs two cleanups, the
/// second of which may drain the owner's slot. Then each value must have
/// been taken, dropped by a cleanup (and counted) or still be pooled,
/// once; everything is dropped and each value must be dropped once.
fn owner_against_two_cleanups(owner: fn(&ModelPool, &std::sync::Arc<Ledger>) -> Option<Value>) {
    let ledger = Ledger::new(2);
    let pool = new_pool();
    let handle = {
        let (pool, ledger) = (pool.clone(), ledger.clone());
        thread::spawn(move || owner(&pool, &ledger))
    };
    pool.cleanup();
    pool.cleanup();
    let taken = handle.join().unwrap();
    let dropped = ledger.dropped();
    let stats = pool.stats();
    assert_eq!(
        usize::from(taken.is_some()) + dropped.len() + stats.retained as usize,
        2,
        "each value must be taken, dropped or pooled, once: taken {taken:?}, \
         dropped {dropped:?}, {stats:?}"
    );
    assert_eq!(
        stats.dropped_by_cleanup,
        dropped.len() as u64,
        "every drop is counted"
    );
    drop(taken);
    drop(pool);
    ledger.assert_each_dropped_once();
}

/// The owner puts 0, borrows it in place with `try_get`, writes through the
/// guard and drops it, while the main thread runs two cleanups. The second
/// cleanup may drain the slot, but never while the value is lent: it skips
/// a LENT slot, and a slot given back is FULL with a fresh stamp. Whatever
/// the interleaving, 0 is dropped exactly once, by a cleanup or with the
/// pool.
#[test]
fn a_cleanup_never_drains_a_value_lent_in_place() {
    check("a_cleanup_never_drains_a_value_lent_in_place", || {
        let ledger = Ledger::new(1);
        let pool = new_pool();
        let owner = {
            let (pool, ledger) = (pool.clone(), ledger.clone());
            thread::spawn(move || {
                pool.put(Value::new(&ledger, 0));
                // Empty if both cleanups ran first: 0 was drained.
                if let Some(mut guard) = pool.try_get() {
                    assert_eq!(guard.id(), 0, "the private value is lent");
                    let _written: &mut Value = &mut guard;
                    assert!(
                        ledger.dropped().is_empty(),
                        "the lent value was dropped while its guard held it"
                    );
                }
            })
        };
        pool.cleanup();
        pool.cleanup();
        owner.join().unwrap();
        drop(pool);
        ledger.assert_each_dropped_once();
    });
}

/// The owner puts 0, borrows it with `try_get` and puts 1, while the main
/// thread runs two cleanups. The get's claim (its LENT store, the fence,
/// the load of the drain mark) may meet the second cleanup's drain of 0:
/// then the slot is CLAIMED until the drain ends, and is settled (at once,
/// or by the put of 1) before anything else uses it: if the drain took 0,
/// the slot is EMPTY and 1 goes in; if not, 0 is FULL again. Either way
/// each value is dropped once, by a cleanup or with the pool, and never
/// while a guard or the drain holds it.
#[test]
fn a_get_held_up_by_a_draining_cleanup_is_settled_by_the_next_put() {
    check(
        "a_get_held_up_by_a_draining_cleanup_is_settled_by_the_next_put",
        || {
            owner_against_two_cleanups(|pool, ledger| {
                pool.put(Value::new(ledger, 0));
                if let Some(mut guard) = pool.try_get() {
                    let _written: &mut Value = &mut guard;
                }
                pool.put(Value::new(ledger, 1));
                None
            })
        },
    );
}

/// Runs `owner` on a thread of its own with a pool in a std `Arc` (for
/// owned guards; it puts values 0 and 1 and returns what it took), then
/// settles: nothing taken twice, nothing dropped early, each value dropped
/// once.
fn owner_with_owned_guards(
    owner: fn(&std::sync::Arc<ModelPool>, &std::sync::Arc<Ledger>) -> [Option<Value>; 2],
) {
    let ledger = Ledger::new(2);
    let pool = new_owned_pool();
    let handle = {
        let (pool, ledger) = (pool.clone(), ledger.clone());
        thread::spawn(move || owner(&pool, &ledger))
    };
    let taken: Vec<Value> = handle.join().unwrap().into_iter().flatten().collect();
    settle(taken, &ledger, pool);
}

/// The owner puts 0 and lends it to a guard that a second thread drops,
/// while the owner puts 1 and takes twice. The guard's drop marks the slot
/// FULL with a Release store; the owner's Acquire look either sees LENT
/// (and uses its chain) or sees FULL together with everything the second
/// thread wrote to the value. Every value comes out once.
#[test]
fn a_value_lent_on_one_thread_can_be_given_back_on_another() {
    check_capped(
        "a_value_lent_on_one_thread_can_be_given_back_on_another",
        2,
        || {
            owner_with_owned_guards(|pool, ledger| {
                pool.put(Value::new(ledger, 0));
                let mut guard = pool.get_owned();
                let returner = thread::spawn(move || {
                    let _written: &mut Value = &mut guard;
                    drop(guard);
                });
                pool.put(Value::new(ledger, 1));
                let taken = [pool.try_take(), pool.try_take()];
                returner.join().unwrap();
                taken
            })
        },
    );
}

/// The owner puts 0 and lends it to an owned guard, which a second thread
/// detaches (`into_inner`: the value moves out and the slot becomes EMPTY
/// with a Release store) while the owner puts 1. The put fills the slot
/// only after its Acquire look saw EMPTY, so the detaching thread's read of
/// 0 happens-before the write of 1 into the same cell; the put takes no
/// claim, so no fence stands in for that Acquire.
#[test]
fn a_value_detached_on_another_thread_leaves_the_slot_to_the_next_put() {
    check_capped(
        "a_value_detached_on_another_thread_leaves_the_slot_to_the_next_put",
        2,
        || {
            owner_with_owned_guards(|pool, ledger| {
                pool.put(Value::new(ledger, 0));
                let guard = pool.get_owned();
                let detacher = thread::spawn(move || OwnedPoolGuard::into_inner(guard));
                pool.put(Value::new(ledger, 1));
                let taken = pool.try_take();
                [Some(detacher.join().unwrap()), taken]
            })
        },
    );
}

/// Thread A puts 0, lends it to an owned guard and exits, giving its index
/// back while the value is out. Thread B, started after, may inherit A's
/// index and local: it puts 1 and takes, while the main thread drops the
/// guard, which gives 0 back into A's old slot. B sees the slot LENT (and
/// uses its chain) or FULL (and may take 0); a miss may also adopt 0 from
/// the slot of the free index. Nothing is lost or taken twice.
#[test]
fn a_value_lent_when_its_owner_exits_is_given_back_to_the_slot_not_lost() {
    check_capped(
        "a_value_lent_when_its_owner_exits_is_given_back_to_the_slot_not_lost",
        2,
        || {
            let ledger = Ledger::new(2);
            let pool = new_owned_pool();
            let a = {
                let (pool, ledger) = (pool.clone(), ledger.clone());
                thread::spawn(move || {
                    pool.put(Value::new(&ledger, 0));
                    pool.get_owned()
                })
            };
            let guard = a.join().unwrap();
            let b = {
                let (pool, ledger) = (pool.clone(), ledger.clone());
                thread::spawn(move || {
                    pool.put(Value::new(&ledger, 1));
                    [pool.try_take(), pool.try_take()]
                })
            };
            drop(guard);
            let taken: Vec<Value> = b.join().unwrap().into_iter().flatten().collect();
            assert!(
                !taken.is_empty(),
                "B put 1 and took nothing: its own chain or slot holds it"
            );
            settle(taken, &ledger, pool);
        },
    );
}

/// The owner puts 0 into its private slot, takes once and puts 1, while
/// the main thread runs two cleanups; the second one drains idle slots'
/// expired values. The owner's take and the drain race for the slot with
/// no read-modify-write on the owner's side: the owner stores its claim,
/// fences and loads the drain mark; the cleanup marks, fences and swaps
/// the state word from FULL. At least one of them sees the other, so 0
/// goes to at most one of them (the owner may also find it expired and
/// drop it, or find its slot held up by the drain, leaving 0 pooled), and
/// loom sees no overlapping access to the slot. Without either fence both
/// can go ahead. The put of 1 after a drain must see the drain's read of
/// 0 (the drain's Release TOOK, the owner's Acquire when it settles).
#[test]
fn an_idle_owners_expired_value_goes_to_one_of_the_owner_and_a_draining_cleanup() {
    check(
        "an_idle_owners_expired_value_goes_to_one_of_the_owner_and_a_draining_cleanup",
        || {
            owner_against_two_cleanups(|pool, ledger| {
                pool.put(Value::new(ledger, 0));
                let taken = pool.try_take();
                pool.put(Value::new(ledger, 1));
                taken
            })
        },
    );
}

/// The Dekker pair in isolation: the owner's value is put and one cleanup
/// has run (both ordered by channels), so the next cleanup finds it expired
/// and drains, while the owner takes at the same time: the owner's look at
/// its victim-aged value, then its take from the victim tier. Each side
/// stores, fences and reads what the other stored, so either the cleanup's
/// swap finds the owner's claim and fails, or the owner finds the drain
/// mark and backs off. Removing either fence lets both take the value.
#[test]
fn a_draining_cleanup_and_the_owner_are_never_inside_the_slot_together() {
    check(
        "a_draining_cleanup_and_the_owner_are_never_inside_the_slot_together",
        || {
            let ledger = Ledger::new(1);
            let pool = new_pool();
            let taken = after_one_cleanup(&pool, &ledger, 1, |pool, _| pool.try_take());
            let dropped = ledger.dropped();
            assert_eq!(
                usize::from(taken.is_some()) + dropped.len() + pool.stats().retained as usize,
                1,
                "0 must be taken, dropped or pooled, once: taken {taken:?}, dropped {dropped:?}"
            );
            drop(taken);
            drop(pool);
            ledger.assert_each_dropped_once();
        },
    );
}

/// Two cleanups with no use leave an idle owner's private slot empty: the
/// owner put 0 and is still alive (parked on a channel), and the value is
/// dropped by the second cleanup, not when the owner next looks. The steps
/// are ordered by the channels, so loom runs one execution: this checks the
/// drain itself, with loom's fences, rather than a race.
#[test]
fn two_cleanups_drain_an_idle_live_owners_private_value() {
    check(
        "two_cleanups_drain_an_idle_live_owners_private_value",
        || {
            let ledger = Ledger::new(1);
            let pool = new_pool();
            let (put_done_tx, put_done_rx) = loom::sync::mpsc::channel::<()>();
            let (exit_tx, exit_rx) = loom::sync::mpsc::channel::<()>();
            let owner = {
                let (pool, ledger) = (pool.clone(), ledger.clone());
                thread::spawn(move || {
                    pool.put(Value::new(&ledger, 0));
                    put_done_tx.send(()).unwrap();
                    exit_rx.recv().unwrap(); // alive and idle until told
                })
            };
            put_done_rx.recv().unwrap();
            pool.cleanup();
            assert!(ledger.dropped().is_empty(), "one cleanup only ages it");
            pool.cleanup();
            if victim_pool::cleanups_drain_idle_threads() {
                assert_eq!(ledger.dropped(), [0], "the second cleanup drains it");
                assert_eq!(pool.stats().retained, 0);
            } else {
                assert!(ledger.dropped().is_empty(), "only the owner ages its slot");
            }
            exit_tx.send(()).unwrap();
            owner.join().unwrap();
            drop(pool);
            ledger.assert_each_dropped_once();
        },
    );
}

/// Paired moves (docs/design.md) against two cleanups. The owner first runs
/// two rounds of three puts and three takes of values 0-2, which teaches its
/// runs to pair, and puts 0 into its private slot; the channel keeps the
/// cleanups out of that. Then it puts 1, which moves 0 out of the slot by
/// the take's claim and pushes 0 and 1 with one read-modify-write, and
/// takes: the take pops 1 and 0 and leaves 0 in the private slot. The
/// second cleanup may drain the slot at either step (its mark may meet the
/// claim of 0, or the refill after the paired pop, which then puts 0 back
/// onto the chain). Each value is taken, dropped by a cleanup or still
/// pooled, once.
///
/// At preemption bound 1 (21 s) in CI; the heavy run's bound 2 explores
/// 953,765 executions in about 190 s, and passes.
#[test]
fn paired_moves_race_two_cleanups_without_losing_or_doubling_a_value() {
    check_capped(
        "paired_moves_race_two_cleanups_without_losing_or_doubling_a_value",
        1,
        || {
            let ledger = Ledger::new(3);
            let pool = new_pool();
            let (primed_tx, primed_rx) = loom::sync::mpsc::channel::<()>();
            let owner = {
                let (pool, ledger) = (pool.clone(), ledger.clone());
                thread::spawn(move || {
                    let mut held: Vec<Value> = (0..3).map(|id| Value::new(&ledger, id)).collect();
                    for _ in 0..2 {
                        for value in held.drain(..) {
                            pool.put(value);
                        }
                        held = (0..3).map(|_| pool.try_take().expect("pooled")).collect();
                    }
                    held.sort_by_key(Value::id);
                    let last = held.pop().expect("value 2");
                    let mut held = held.into_iter();
                    pool.put(held.next().expect("value 0"));
                    primed_tx.send(()).unwrap();
                    pool.put(held.next().expect("value 1"));
                    let mut taken = vec![last];
                    taken.extend(pool.try_take());
                    taken
                })
            };
            primed_rx.recv().unwrap();
            pool.cleanup();
            pool.cleanup();
            let taken = owner.join().unwrap();
            let dropped = ledger.dropped();
            let stats = pool.stats();
            assert_eq!(
                taken.len() + dropped.len() + stats.retained as usize,
                3,
                "each value must be taken, dropped or pooled, once: taken {taken:?}, \
                 dropped {dropped:?}, {stats:?}"
            );
            let mut ids: Vec<usize> = taken.iter().map(Value::id).collect();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), taken.len(), "a value was taken twice");
            drop(taken);
            drop(pool);
            ledger.assert_each_dropped_once();
        },
    );
}

/// Listing (docs/design.md, "Listing private slots"): a cleanup visits only
/// listed private slots, and unlists the empty ones. The owner put 0 and
/// took it back, so its slot is empty and listed; then it puts 1 (a fill
/// with no read-modify-write) while the first cleanup may unlist the slot.
/// Either the cleanup's look after its fence sees the fill, or the fill's
/// look at the drain mark after its store sees the cleanup and lists the
/// slot again. With the owner alive and idle, the next two cleanups must
/// then drop 1 (put at generation 0 or 1). Without the fill's look, with
/// an unlisting that ends its mark IDLE, without the cleanup's second look
/// after clearing the bit, or with a mark that an unlisting's UNLISTED
/// blocks, 1 is left in a slot that no cleanup visits.
#[test]
fn a_fill_racing_a_cleanup_that_unlists_the_slot_leaves_the_value_to_later_cleanups() {
    check(
        "a_fill_racing_a_cleanup_that_unlists_the_slot_leaves_the_value_to_later_cleanups",
        || {
            let ledger = Ledger::new(2);
            let pool = new_pool();
            let (listed_tx, listed_rx) = loom::sync::mpsc::channel::<()>();
            let (put_tx, put_rx) = loom::sync::mpsc::channel::<()>();
            let (exit_tx, exit_rx) = loom::sync::mpsc::channel::<()>();
            let owner = {
                let (pool, ledger) = (pool.clone(), ledger.clone());
                thread::spawn(move || {
                    pool.put(Value::new(&ledger, 0));
                    let zero = pool.try_take().expect("0 is in the private slot");
                    listed_tx.send(()).unwrap();
                    pool.put(Value::new(&ledger, 1));
                    put_tx.send(()).unwrap();
                    exit_rx.recv().unwrap(); // alive and idle until told
                    zero
                })
            };
            listed_rx.recv().unwrap();
            pool.cleanup(); // races the put of 1
            put_rx.recv().unwrap();
            pool.cleanup();
            pool.cleanup();
            if victim_pool::cleanups_drain_idle_threads() {
                assert_eq!(ledger.dropped(), [1], "1 must be drained by now");
                assert_eq!(pool.stats().retained, 0);
            }
            exit_tx.send(()).unwrap();
            drop(owner.join().unwrap()); // 0, taken back before the race
            drop(pool);
            ledger.assert_each_dropped_once();
        },
    );
}

/// slot-fill without a fill's own fence: an overflow put finds the private
/// value aged, claims it (the claim's fence comes before the new value is
/// written), moves it to the victim chain and writes its own value in its
/// place with the Release store of FULL. Two cleanups race that put; the
/// second may take the new value, and its read must see the put's writes.
/// (A put into an empty slot looks at the drain mark after its store, with
/// a fence that under loom also orders the value before every later
/// cleanup's fence, so it cannot show a Relaxed FULL store; this path
/// can.)
#[test]
fn a_put_that_displaces_an_aged_value_publishes_its_own_to_a_draining_cleanup() {
    check(
        "a_put_that_displaces_an_aged_value_publishes_its_own_to_a_draining_cleanup",
        || {
            let ledger = Ledger::new(2);
            let pool = new_pool();
            // Puts 1, which displaces 0.
            after_one_cleanup(&pool, &ledger, 2, |pool, ledger| {
                pool.put(Value::new(ledger, 1));
            });
            drop(pool);
            ledger.assert_each_dropped_once();
        },
    );
}

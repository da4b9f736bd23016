//! Loom models of `PoolChain`: growth while stealers pop, drained links
//! unlinked while the producer walks `prev` and other stealers still hold
//! them, and epoch reclamation of those links.
//!
//! First links of 1 slot make the chain grow on the second push. Every model
//! checks that each value comes out exactly once and is dropped exactly
//! once. Freed links are caught two ways: under loom a link the epoch has
//! freed panics when touched again ("use after free"), and every link holds a
//! loom `Arc`, so a link that is never freed fails loom's leak check.

use crate::support::{check, check_capped, Ledger, Out, Value};
use loom::thread;
use victim_pool::PoolChain;

/// Pops with the producer until the chain is empty; `pop_head` walks back
/// through every older link, so nothing pushed can be left behind.
fn drain_head(chain: &PoolChain<Value>, out: &mut Out) {
    while out.take_some(chain.pop_head()) {}
}

#[derive(Clone, Copy)]
enum Producer {
    OnMain,
    Spawned,
}

/// The stealer starts before the first push, so the first link reaches it
/// only through `tail` (link-publish) and the second only through `next`
/// (link-next).
fn growth_while_a_stealer_pops(roles: Producer, first_capacity: usize, pushes: usize) {
    let ledger = Ledger::new(pushes);
    let chain = PoolChain::with_first_capacity(first_capacity);
    let stealer = chain.stealer();
    let producer_ledger = ledger.clone();
    let producer = move || {
        for id in 0..pushes {
            chain.push_head(Value::new(&producer_ledger, id));
            thread::yield_now();
        }
        chain
    };
    let stealer_on_main = matches!(roles, Producer::Spawned);
    let steal = move || {
        let mut out = Out::default();
        for _ in 0..2 {
            if stealer_on_main {
                // See `dequeue::values_pushed_concurrently`: loom runs main
                // first and needs this yield to let the producer in.
                thread::yield_now();
            }
            out.take_some(stealer.pop_tail());
        }
        out
    };
    let (chain, mut out) = match roles {
        Producer::OnMain => {
            let thief = thread::spawn(steal);
            let chain = producer();
            (chain, thief.join().unwrap())
        }
        Producer::Spawned => {
            let owner = thread::spawn(producer);
            let out = steal();
            (owner.join().unwrap(), out)
        }
    };
    drain_head(&chain, &mut out);
    assert!(chain.is_empty());
    drop(chain);
    out.assert_each_out_once(pushes);
    ledger.assert_each_dropped_once();
}

#[test]
fn chain_grows_while_a_stealer_pops() {
    check("chain_grows_while_a_stealer_pops", || {
        growth_while_a_stealer_pops(Producer::OnMain, 1, 3)
    });
}

#[test]
fn chain_grows_while_a_stealer_pops_roles_swapped() {
    check("chain_grows_while_a_stealer_pops_roles_swapped", || {
        growth_while_a_stealer_pops(Producer::Spawned, 1, 3)
    });
}

#[test]
fn chain_with_two_slot_first_link_grows_while_a_stealer_pops() {
    check(
        "chain_with_two_slot_first_link_grows_while_a_stealer_pops",
        || growth_while_a_stealer_pops(Producer::OnMain, 2, 3),
    );
}

/// The first link exists but is empty when the stealer looks at it; the
/// producer then fills it and starts a second link. A stealer that sees
/// `next` set must also see every value pushed into the link before, or it
/// would unlink (and lose) a link that still holds a value.
fn empty_link_refilled_then_grown(roles: Producer) {
    let ledger = Ledger::new(3);
    let chain = PoolChain::with_first_capacity(1);
    let mut out = Out::default();
    chain.push_head(Value::new(&ledger, 0));
    out.take_some(chain.pop_head());
    let stealer = chain.stealer();
    let producer_ledger = ledger.clone();
    let producer = move || {
        chain.push_head(Value::new(&producer_ledger, 1));
        thread::yield_now();
        chain.push_head(Value::new(&producer_ledger, 2));
        chain
    };
    let stealer_on_main = matches!(roles, Producer::Spawned);
    let steal = move || {
        let mut out = Out::default();
        if stealer_on_main {
            thread::yield_now();
        }
        out.take_some(stealer.pop_tail());
        out
    };
    let chain = match roles {
        Producer::OnMain => {
            let thief = thread::spawn(steal);
            let chain = producer();
            out.extend(thief.join().unwrap());
            chain
        }
        Producer::Spawned => {
            let owner = thread::spawn(producer);
            out.extend(steal());
            owner.join().unwrap()
        }
    };
    drain_head(&chain, &mut out);
    drop(chain);
    out.assert_each_out_once(3);
    ledger.assert_each_dropped_once();
}

#[test]
fn a_stealer_never_unlinks_a_link_the_producer_is_still_filling() {
    check(
        "a_stealer_never_unlinks_a_link_the_producer_is_still_filling",
        || empty_link_refilled_then_grown(Producer::OnMain),
    );
}

#[test]
fn a_stealer_never_unlinks_a_link_the_producer_is_still_filling_roles_swapped() {
    check(
        "a_stealer_never_unlinks_a_link_the_producer_is_still_filling_roles_swapped",
        || empty_link_refilled_then_grown(Producer::Spawned),
    );
}

/// Links 1 (holding value 0) and 2 (holding value 1). The stealer pops
/// twice: value 0, then it finds link 1 drained, unlinks and retires it,
/// and tries link 2. Meanwhile the producer pops twice; the second pop finds
/// its head link empty and walks `prev` into link 1, which may be unlinked
/// or retired by then. The epoch must keep it alive for the walk.
#[test]
fn a_drained_link_is_unlinked_while_the_producer_walks_prev() {
    check(
        "a_drained_link_is_unlinked_while_the_producer_walks_prev",
        || {
            let ledger = Ledger::new(2);
            let chain = PoolChain::with_first_capacity(1);
            chain.push_head(Value::new(&ledger, 0));
            chain.push_head(Value::new(&ledger, 1));
            let stealer = chain.stealer();
            let thief = thread::spawn(move || {
                let mut out = Out::default();
                for _ in 0..2 {
                    out.take_some(stealer.pop_tail());
                }
                out
            });
            let mut out = Out::default();
            for _ in 0..2 {
                out.take_some(chain.pop_head());
            }
            out.extend(thief.join().unwrap());
            drain_head(&chain, &mut out);
            out.assert_each_out_once(2);
            // Nothing was pushed after the first two links; whatever the
            // stealer retired may still await the epoch, so at least the
            // head link (2 slots) and at most both links are allocated.
            let slots = chain.allocated_slots();
            assert!((2..=3).contains(&slots), "{slots} slots allocated");
            drop(chain);
            ledger.assert_each_dropped_once();
        },
    );
}

/// The epoch must advance twice before it frees a retired link, and one
/// retire flushes (advances) once, so a model needs two unlinks to see a
/// link actually freed while a thread could still hold it.
///
/// Links 1 (empty), 2 (value 1) and 3 (empty head). The stealer unlinks link
/// 1, pops value 1, then unlinks link 2, which frees link 1 unless someone
/// pinned still holds it. The producer's pop finds link 3 empty and walks
/// `prev` through link 2 into link 1: its pin must keep link 1 alive.
#[test]
fn a_link_the_producer_walks_into_survives_two_unlinks() {
    check(
        "a_link_the_producer_walks_into_survives_two_unlinks",
        || {
            let ledger = Ledger::new(4);
            let chain = PoolChain::with_first_capacity(1);
            for id in 0..4 {
                chain.push_head(Value::new(&ledger, id));
            }
            // Links: 1 = [0], 2 = [1, 2], 3 = [3]. Leave 1 and 3 empty.
            let mut out = Out::default();
            out.take_some(chain.stealer().pop_tail());
            out.take_some(chain.pop_head());
            out.take_some(chain.pop_head());
            let stealer = chain.stealer();
            let thief = thread::spawn(move || {
                // A thread's first pin also advances the epoch while that
                // very pin holds the old one, which would spoil the count of
                // flushes below: register this thread with the epoch first.
                assert!(stealer.len() <= 1);
                let mut out = Out::default();
                for _ in 0..2 {
                    out.take_some(stealer.pop_tail());
                }
                out
            });
            out.take_some(chain.pop_head());
            out.extend(thief.join().unwrap());
            drain_head(&chain, &mut out);
            drop(chain);
            out.assert_each_out_once(4);
            ledger.assert_each_dropped_once();
        },
    );
}

/// Link 1 is drained but still the tail; link 2 (the head) holds one value.
/// Two stealers race to unlink link 1: the loser may still be reading it
/// after the winner retired it, and the producer, finding its head link
/// emptied by a stealer, may be walking `prev` into it at the same time.
#[test]
fn two_stealers_race_to_unlink_a_drained_link_the_producer_may_walk() {
    check(
        "two_stealers_race_to_unlink_a_drained_link_the_producer_may_walk",
        || {
            let ledger = Ledger::new(3);
            let chain = PoolChain::with_first_capacity(1);
            for id in 0..3 {
                chain.push_head(Value::new(&ledger, id));
            }
            // Links: 1 = [0], 2 = [1, 2]. Leave 1 = [], 2 = [1].
            let mut out = Out::default();
            out.take_some(chain.stealer().pop_tail());
            out.take_some(chain.pop_head());
            let thieves: Vec<_> = (0..2)
                .map(|_| {
                    let stealer = chain.stealer();
                    thread::spawn(move || {
                        let mut out = Out::default();
                        out.take_some(stealer.pop_tail());
                        out
                    })
                })
                .collect();
            out.take_some(chain.pop_head());
            for thief in thieves {
                out.extend(thief.join().unwrap());
            }
            drain_head(&chain, &mut out);
            drop(chain);
            out.assert_each_out_once(3);
            ledger.assert_each_dropped_once();
        },
    );
}

/// The second stealer starts before link 2 exists and first sees it through
/// `tail`, moved there by the first stealer's unlink: that CAS must publish
/// the link it installs (link-publish, release side of the stealers' CAS).
#[test]
fn a_link_installed_by_one_stealer_is_fully_visible_to_another() {
    // One preemption finds a Relaxed unlinking CAS in about 15 s; the full
    // search at bound 2 takes 4-8 minutes (docs/testing.md).
    check_capped(
        "a_link_installed_by_one_stealer_is_fully_visible_to_another",
        1,
        || {
            let ledger = Ledger::new(2);
            let chain = PoolChain::with_first_capacity(1);
            chain.push_head(Value::new(&ledger, 0));
            let unlinker = chain.stealer();
            let first = thread::spawn(move || {
                let mut out = Out::default();
                for _ in 0..2 {
                    out.take_some(unlinker.pop_tail());
                }
                out
            });
            let later = chain.stealer();
            let second = thread::spawn(move || {
                let mut out = Out::default();
                out.take_some(later.pop_tail());
                out
            });
            chain.push_head(Value::new(&ledger, 1));
            let mut out = first.join().unwrap();
            out.extend(second.join().unwrap());
            drain_head(&chain, &mut out);
            drop(chain);
            out.assert_each_out_once(2);
            ledger.assert_each_dropped_once();
        },
    );
}

/// `len` walks the links from `tail` while the producer grows the chain; it
/// may only read links whose construction it has acquired.
#[test]
fn len_walks_only_published_links() {
    check("len_walks_only_published_links", || {
        let ledger = Ledger::new(2);
        let chain = PoolChain::with_first_capacity(1);
        let stealer = chain.stealer();
        let observer = thread::spawn(move || {
            let len = stealer.len();
            assert!(len <= 2, "len {len} with two values pushed");
        });
        for id in 0..2 {
            chain.push_head(Value::new(&ledger, id));
        }
        observer.join().unwrap();
        let mut out = Out::default();
        drain_head(&chain, &mut out);
        drop(chain);
        out.assert_each_out_once(2);
        ledger.assert_each_dropped_once();
    });
}

/// Whichever handle goes last drops the chain and every value left in any
/// link, exactly once.
#[test]
fn the_last_handle_drops_each_value_left_in_any_link_once() {
    check(
        "the_last_handle_drops_each_value_left_in_any_link_once",
        || {
            let ledger = Ledger::new(3);
            let chain = PoolChain::with_first_capacity(1);
            for id in 0..3 {
                chain.push_head(Value::new(&ledger, id));
            }
            let stealer = chain.stealer();
            let thief = thread::spawn(move || {
                let mut out = Out::default();
                out.take_some(stealer.pop_tail());
                out
            });
            let mut out = Out::default();
            out.take_some(chain.pop_head());
            drop(chain);
            out.extend(thief.join().unwrap());
            out.assert_distinct(2);
            ledger.assert_each_dropped_once();
        },
    );
}

//! Loom models of `PoolDequeue`: one producer, one or two stealers, rings of
//! 2-4 slots. Every model ends by draining what is left and checks that each
//! value came out exactly once and was dropped exactly once.
//!
//! Where loom's search is known to miss the schedule "producer: fetch_add,
//! stealer: load, stealer: CAS, producer: load" (see docs/testing.md), the
//! producer yields between its operations and a role-swapped variant runs the
//! producer on a spawned thread instead of the main one.

use crate::support::{check, Ledger, Out, Value};
use loom::thread;
use victim_pool::{DequeueStealer, PoolDequeue};

/// Pops with the producer until the dequeue is empty.
fn drain_head(dequeue: &PoolDequeue<Value>, out: &mut Out) {
    while out.take_some(dequeue.pop_head()) {}
}

/// Which thread plays the producer: loom explores schedules starting from the
/// main thread, so swapping roles reaches interleavings in a different order.
#[derive(Clone, Copy)]
enum Producer {
    OnMain,
    Spawned,
}

/// Runs `producer` and `stealer` on two threads as `roles` says; returns
/// what each recorded.
fn run_pair(
    roles: Producer,
    producer: impl FnOnce() -> Out + Send + 'static,
    stealer: impl FnOnce() -> Out + Send + 'static,
) -> Out {
    match roles {
        Producer::OnMain => {
            let thief = thread::spawn(stealer);
            let mut out = producer();
            out.extend(thief.join().unwrap());
            out
        }
        Producer::Spawned => {
            let owner = thread::spawn(producer);
            let mut out = stealer();
            out.extend(owner.join().unwrap());
            out
        }
    }
}

fn last_value_race(roles: Producer) {
    let stealer_on_main = matches!(roles, Producer::Spawned);
    let ledger = Ledger::new(1);
    let dequeue = PoolDequeue::new(2);
    let stealer = dequeue.stealer();
    dequeue.push_head(Value::new(&ledger, 0)).unwrap();
    let out = run_pair(
        roles,
        move || {
            let mut out = Out::default();
            out.take_some(dequeue.pop_head());
            // The ring must be empty now whoever won: nothing to drain.
            assert!(dequeue.pop_head().is_none());
            out
        },
        move || {
            let mut out = Out::default();
            if stealer_on_main {
                thread::yield_now();
            }
            out.take_some(stealer.pop_tail());
            out
        },
    );
    out.assert_each_out_once(1);
    ledger.assert_each_dropped_once();
}

#[test]
fn pop_head_and_pop_tail_race_for_the_last_value() {
    check("pop_head_and_pop_tail_race_for_the_last_value", || {
        last_value_race(Producer::OnMain)
    });
}

#[test]
fn pop_tail_and_pop_head_race_for_the_last_value_roles_swapped() {
    check(
        "pop_tail_and_pop_head_race_for_the_last_value_roles_swapped",
        || last_value_race(Producer::Spawned),
    );
}

/// The stealer's part of the models below: two `pop_tail`s. On the main
/// thread it yields before each: loom runs the main thread first and,
/// without the yield, explores almost no schedule where the producer pushes
/// between the pops. (With the producer on main the yield has the opposite
/// effect: it hides the schedules.)
fn pop_tail_twice(stealer: &DequeueStealer<Value>, on_main: bool) -> Out {
    let mut out = Out::default();
    for _ in 0..2 {
        if on_main {
            thread::yield_now();
        }
        out.take_some(stealer.pop_tail());
    }
    out
}

/// The stealer starts before anything is pushed, so it learns about each
/// value only through the ring (slot-publish), never through `spawn`.
fn values_pushed_concurrently(roles: Producer) {
    let stealer_on_main = matches!(roles, Producer::Spawned);
    let ledger = Ledger::new(3);
    let dequeue = PoolDequeue::new(2);
    let stealer = dequeue.stealer();
    let producer_ledger = ledger.clone();
    let out = run_pair(
        roles,
        move || {
            let mut out = Out::default();
            for id in 0..2 {
                out.take_refused(dequeue.push_head(Value::new(&producer_ledger, id)));
            }
            out.take_some(dequeue.pop_head());
            out.take_refused(dequeue.push_head(Value::new(&producer_ledger, 2)));
            drain_head(&dequeue, &mut out);
            out
        },
        move || pop_tail_twice(&stealer, stealer_on_main),
    );
    out.assert_each_out_once(3);
    ledger.assert_each_dropped_once();
}

#[test]
fn a_stealer_reads_only_values_published_to_it() {
    check("a_stealer_reads_only_values_published_to_it", || {
        values_pushed_concurrently(Producer::OnMain)
    });
}

#[test]
fn a_stealer_reads_only_values_published_to_it_roles_swapped() {
    check(
        "a_stealer_reads_only_values_published_to_it_roles_swapped",
        || values_pushed_concurrently(Producer::Spawned),
    );
}

/// The ring starts full; the stealer frees slot 0 while the producer keeps
/// trying to push into it. A push may succeed only once the stealer has
/// finished moving its value out (the "slot still being vacated" check), and
/// the slot's `UnsafeCell` lets loom see a write that overlaps the read.
/// `start` lets the same model run across the 32-bit index wraparound.
fn push_into_a_slot_being_vacated(roles: Producer, start: u32) {
    let stealer_on_main = matches!(roles, Producer::Spawned);
    let ledger = Ledger::new(4);
    let dequeue = PoolDequeue::with_start_index(2, start);
    let stealer = dequeue.stealer();
    dequeue.push_head(Value::new(&ledger, 0)).unwrap();
    dequeue.push_head(Value::new(&ledger, 1)).unwrap();
    let producer_ledger = ledger.clone();
    let out = run_pair(
        roles,
        move || {
            let mut out = Out::default();
            for id in 2..4 {
                // Without this yield loom does not reach the schedule where
                // the stealer's CAS lands between two producer steps.
                thread::yield_now();
                out.take_refused(dequeue.push_head(Value::new(&producer_ledger, id)));
            }
            drain_head(&dequeue, &mut out);
            out
        },
        move || {
            let mut out = Out::default();
            if stealer_on_main {
                thread::yield_now();
            }
            out.take_some(stealer.pop_tail());
            out
        },
    );
    out.assert_each_out_once(4);
    ledger.assert_each_dropped_once();
}

#[test]
fn push_into_a_full_ring_waits_for_the_slot_being_vacated() {
    check(
        "push_into_a_full_ring_waits_for_the_slot_being_vacated",
        || push_into_a_slot_being_vacated(Producer::OnMain, 0),
    );
}

#[test]
fn push_into_a_full_ring_waits_for_the_slot_being_vacated_roles_swapped() {
    check(
        "push_into_a_full_ring_waits_for_the_slot_being_vacated_roles_swapped",
        || push_into_a_slot_being_vacated(Producer::Spawned, 0),
    );
}

#[test]
fn indices_wrap_past_u32_max_without_losing_or_duplicating_values() {
    // Head wraps from u32::MAX to 0 on the second push before the model
    // starts; tail wraps when the stealer pops.
    check(
        "indices_wrap_past_u32_max_without_losing_or_duplicating_values",
        || push_into_a_slot_being_vacated(Producer::OnMain, u32::MAX),
    );
}

/// Two stealers and the producer compete for two values while the producer
/// also pushes a third into whichever slot is freed first.
#[test]
fn two_stealers_and_the_producer_take_each_value_once() {
    check("two_stealers_and_the_producer_take_each_value_once", || {
        let ledger = Ledger::new(3);
        let dequeue = PoolDequeue::with_start_index(2, u32::MAX);
        dequeue.push_head(Value::new(&ledger, 0)).unwrap();
        dequeue.push_head(Value::new(&ledger, 1)).unwrap();
        let thieves: Vec<_> = (0..2)
            .map(|_| {
                let stealer = dequeue.stealer();
                thread::spawn(move || {
                    let mut out = Out::default();
                    out.take_some(stealer.pop_tail());
                    out
                })
            })
            .collect();
        let mut out = Out::default();
        out.take_some(dequeue.pop_head());
        out.take_refused(dequeue.push_head(Value::new(&ledger, 2)));
        for thief in thieves {
            out.extend(thief.join().unwrap());
        }
        drain_head(&dequeue, &mut out);
        out.assert_each_out_once(3);
        ledger.assert_each_dropped_once();
    });
}

/// Whichever handle goes last drops the ring, and with it every value still
/// inside, exactly once.
#[test]
fn the_last_handle_drops_each_value_left_inside_once() {
    check("the_last_handle_drops_each_value_left_inside_once", || {
        let ledger = Ledger::new(3);
        let dequeue = PoolDequeue::new(4);
        for id in 0..3 {
            dequeue.push_head(Value::new(&ledger, id)).unwrap();
        }
        let stealer = dequeue.stealer();
        let thief = thread::spawn(move || {
            let mut out = Out::default();
            out.take_some(stealer.pop_tail());
            out
        });
        let mut out = Out::default();
        out.take_some(dequeue.pop_head());
        drop(dequeue);
        out.extend(thief.join().unwrap());
        // Three values and two pops: both pops succeed, with different
        // values, and the ring dropped the third when the last handle went.
        out.assert_distinct(2);
        ledger.assert_each_dropped_once();
    });
}

/// A ring of one slot. The producer pushes 0 while the stealer tries to pop
/// it, so the pop may land inside the push, between the head increment that
/// publishes the slot and the push's return. Once both threads are joined
/// the ring is empty whoever got the value, so a push must be accepted: the
/// slot's `occupied` flag has to be set before the slot is published, or a
/// pop that cleared it first leaves it set for good (I3) and the ring
/// refuses every push from then on.
fn a_slot_popped_during_its_push_is_free_again(roles: Producer) {
    let stealer_on_main = matches!(roles, Producer::Spawned);
    let ledger = Ledger::new(2);
    let dequeue = PoolDequeue::new(1);
    let stealer = dequeue.stealer();
    let producer_ledger = ledger.clone();
    let (dequeue, mut out) = match roles {
        Producer::OnMain => {
            let thief = thread::spawn(move || {
                let mut out = Out::default();
                out.take_some(stealer.pop_tail());
                out
            });
            dequeue.push_head(Value::new(&ledger, 0)).unwrap();
            (dequeue, thief.join().unwrap())
        }
        Producer::Spawned => {
            let owner = thread::spawn(move || {
                dequeue.push_head(Value::new(&producer_ledger, 0)).unwrap();
                dequeue
            });
            let mut out = Out::default();
            if stealer_on_main {
                // Loom runs the main thread first: without this yield the
                // pop is over before the push starts in most schedules.
                thread::yield_now();
            }
            out.take_some(stealer.pop_tail());
            (owner.join().unwrap(), out)
        }
    };
    drain_head(&dequeue, &mut out);
    assert!(
        dequeue.push_head(Value::new(&ledger, 1)).is_ok(),
        "a push into the empty ring was refused: its slot still looks occupied"
    );
    drain_head(&dequeue, &mut out);
    out.assert_each_out_once(2);
    ledger.assert_each_dropped_once();
}

#[test]
fn a_slot_popped_during_its_push_is_free_again_once_both_are_done() {
    check(
        "a_slot_popped_during_its_push_is_free_again_once_both_are_done",
        || a_slot_popped_during_its_push_is_free_again(Producer::OnMain),
    );
}

#[test]
fn a_slot_popped_during_its_push_is_free_again_roles_swapped() {
    check(
        "a_slot_popped_during_its_push_is_free_again_roles_swapped",
        || a_slot_popped_during_its_push_is_free_again(Producer::Spawned),
    );
}

/// A full ring of two: the stealer pops 0 and then tries once more, while
/// the producer pops 1, pushes 2 and 3 as a pair into the two slots (one of
/// which the stealer may still be vacating: the pair waits for both slots'
/// `occupied` flags), then pops two at once, racing the stealer's second
/// pop. One `fetch_add` publishes both values of the pair to the stealer
/// (slot-publish), and one CAS claims both for the producer.
fn paired_moves_race_a_stealer(roles: Producer) {
    let stealer_on_main = matches!(roles, Producer::Spawned);
    let ledger = Ledger::new(4);
    let dequeue = PoolDequeue::new(2);
    let stealer = dequeue.stealer();
    dequeue.push_head(Value::new(&ledger, 0)).unwrap();
    dequeue.push_head(Value::new(&ledger, 1)).unwrap();
    let producer_ledger = ledger.clone();
    let out = run_pair(
        roles,
        move || {
            let mut out = Out::default();
            out.take_some(dequeue.pop_head());
            // As in `push_into_a_slot_being_vacated`: lets the stealer's
            // CAS land between the producer's steps.
            thread::yield_now();
            let pair = (
                Value::new(&producer_ledger, 2),
                Value::new(&producer_ledger, 3),
            );
            if let Err((older, newer)) = dequeue.push_head_pair(pair.0, pair.1) {
                out.take(older);
                out.take(newer);
            }
            if let Some((newest, next)) = dequeue.pop_head_pair() {
                assert_eq!((newest.id(), next.id()), (3, 2), "newest first");
                out.take(newest);
                out.take(next);
            }
            drain_head(&dequeue, &mut out);
            out
        },
        move || pop_tail_twice(&stealer, stealer_on_main),
    );
    out.assert_each_out_once(4);
    ledger.assert_each_dropped_once();
}

#[test]
fn paired_moves_wait_for_both_slots_and_race_a_stealer_for_each_value_once() {
    check(
        "paired_moves_wait_for_both_slots_and_race_a_stealer_for_each_value_once",
        || paired_moves_race_a_stealer(Producer::OnMain),
    );
}

#[test]
fn paired_moves_wait_for_both_slots_and_race_a_stealer_roles_swapped() {
    check(
        "paired_moves_wait_for_both_slots_and_race_a_stealer_roles_swapped",
        || paired_moves_race_a_stealer(Producer::Spawned),
    );
}

//! `PoolDequeue` driven by one thread, step by step against the model, and
//! dropped with values inside (including a value whose drop panics).

use crate::model::{powers_of_two, scripts, start_indices, DequeueModel, Op};
use crate::support::{cases, drop_then_catch, id_of, DropLedger, PlantedDropPanic};
use proptest::prelude::*;
use victim_pool::PoolDequeue;

proptest! {
    #![proptest_config(cases(4096, 4))]

    /// Every push, pop (single or paired) and length agrees with a bounded `VecDeque` for
    /// capacities 1 to 64 and indices that cross the 32-bit wraparound;
    /// dropping the dequeue then drops exactly the values left inside.
    #[test]
    fn dequeue_agrees_with_a_bounded_vecdeque_at_every_step(
        capacity in powers_of_two(64),
        start in start_indices(),
        script in scripts(80, 24),
    ) {
        let pushes = script.iter().map(|op| op.pushes()).sum();
        let ledger = DropLedger::new(pushes);
        let dequeue = PoolDequeue::with_start_index(capacity, start);
        let stealer = dequeue.stealer();
        let mut model = DequeueModel::new(capacity);
        prop_assert_eq!(dequeue.capacity(), capacity);
        let mut pushed = 0u32;
        for op in &script {
            match op {
                Op::PushHead => {
                    let id = pushed;
                    pushed += 1;
                    let result = dequeue.push_head(ledger.value(id)).map_err(|v| v.id());
                    prop_assert_eq!(result, model.push_head(id), "push_head of {}", id);
                }
                Op::PopHead => prop_assert_eq!(id_of(dequeue.pop_head()), model.pop_head()),
                Op::PopTail => prop_assert_eq!(id_of(stealer.pop_tail()), model.pop_tail()),
                Op::PushPair => {
                    let (older, newer) = (pushed, pushed + 1);
                    pushed += 2;
                    let result = dequeue
                        .push_head_pair(ledger.value(older), ledger.value(newer))
                        .map_err(|(a, b)| (a.id(), b.id()));
                    prop_assert_eq!(result, model.push_pair(older, newer), "push_head_pair of {}", older);
                }
                Op::PopPair => {
                    let popped = dequeue.pop_head_pair().map(|(a, b)| (a.id(), b.id()));
                    prop_assert_eq!(popped, model.pop_pair());
                }
            }
            prop_assert_eq!(dequeue.len(), model.len());
            prop_assert_eq!(stealer.len(), model.len());
            prop_assert_eq!(dequeue.is_empty(), model.len() == 0);
        }
        // Everything that left the dequeue (popped or refused) was dropped
        // by the script; what is left must be dropped by the dequeue's drop.
        let inside: Vec<u32> = model.ids().collect();
        let outside = (0..pushed).filter(|id| !inside.contains(id));
        ledger.assert_drops(outside, 1);
        ledger.assert_drops(inside.iter().copied(), 0);
        drop(dequeue);
        ledger.assert_drops(inside.iter().copied(), 0); // the stealer keeps the ring alive
        drop(stealer);
        ledger.assert_each_dropped_once();
    }

    /// A value that panics while the last handle drops the ring: the panic
    /// reaches the caller and every other value is still dropped, once.
    #[test]
    fn a_panicking_drop_propagates_and_every_other_value_is_dropped_once(
        (capacity, pushes, tail_pops, panicking) in filled_ring_with_a_panicking_value(),
        start in start_indices(),
        stealer_outlives_producer: bool,
    ) {
        let ledger = DropLedger::with_panicking_drop((pushes + tail_pops) as usize, panicking);
        let dequeue = PoolDequeue::with_start_index(capacity, start);
        let stealer = dequeue.stealer();
        for id in 0..pushes {
            prop_assert!(dequeue.push_head(ledger.value(id)).is_ok());
        }
        // Take some from the tail and push as many again, so that the live
        // values wrap around the end of the slot array.
        for id in 0..tail_pops {
            prop_assert_eq!(id_of(stealer.pop_tail()), Some(id));
            prop_assert!(dequeue.push_head(ledger.value(pushes + id)).is_ok());
        }
        let live = || ledger.assert_drops(tail_pops..pushes + tail_pops, 0);
        let result = if stealer_outlives_producer {
            drop_then_catch(dequeue, live, stealer)
        } else {
            drop_then_catch(stealer, live, dequeue)
        };
        let payload = result.expect_err("the panic of a value's drop reaches the caller");
        prop_assert_eq!(
            payload.downcast_ref::<PlantedDropPanic>(),
            Some(&PlantedDropPanic(panicking))
        );
        ledger.assert_each_dropped_once();
    }
}

/// `(capacity, pushes, tail_pops, panicking)`: a ring filled with
/// `pushes <= capacity` values, `tail_pops < pushes` of them replaced by
/// newer ones, and the id whose drop panics among those left inside.
fn filled_ring_with_a_panicking_value() -> impl Strategy<Value = (usize, u32, u32, u32)> {
    powers_of_two(64)
        .prop_flat_map(|capacity| (Just(capacity), 1..=capacity as u32))
        .prop_flat_map(|(capacity, pushes)| (Just(capacity), Just(pushes), 0..pushes))
        .prop_flat_map(|(capacity, pushes, tail_pops)| {
            (
                Just(capacity),
                Just(pushes),
                Just(tail_pops),
                tail_pops..pushes + tail_pops,
            )
        })
}

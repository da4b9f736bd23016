//! `PoolChain` driven by one thread, step by step against the models, and
//! dropped with values spread over several links (including a value whose
//! drop panics).

use crate::model::{powers_of_two, scripts, ChainLinksModel, DequeueModel, Op};
use crate::support::{cases, drop_then_catch, id_of, DropLedger, PlantedDropPanic};
use proptest::prelude::*;
use victim_pool::PoolChain;

proptest! {
    #![proptest_config(cases(4096, 4))]

    /// Every push, pop and length agrees with an unbounded `VecDeque` for
    /// first links of 1 to 8 slots, `allocated_slots` stays between the
    /// slots of the links still linked and the slots ever allocated, and
    /// dropping the chain drops exactly the values left inside.
    #[test]
    fn chain_agrees_with_an_unbounded_vecdeque_at_every_step(
        first_capacity in powers_of_two(8),
        script in scripts(80, 24),
    ) {
        let pushes = script.iter().map(|op| op.pushes()).sum();
        let ledger = DropLedger::new(pushes);
        let chain = PoolChain::with_first_capacity(first_capacity);
        let stealer = chain.stealer();
        let mut model = DequeueModel::new(usize::MAX);
        let mut links = ChainLinksModel::new(first_capacity);
        let mut pushed = 0u32;
        for op in &script {
            match op {
                Op::PushHead => {
                    let id = pushed;
                    pushed += 1;
                    chain.push_head(ledger.value(id));
                    prop_assert_eq!(model.push_head(id), Ok(()));
                    links.push_head(id);
                }
                Op::PopHead => {
                    let popped = id_of(chain.pop_head());
                    prop_assert_eq!(popped, model.pop_head());
                    prop_assert_eq!(popped, links.pop_head());
                }
                Op::PopTail => {
                    let popped = id_of(stealer.pop_tail());
                    prop_assert_eq!(popped, model.pop_tail());
                    prop_assert_eq!(popped, links.pop_tail());
                }
                // A pair moves what two single operations move, link by
                // link (the chain falls back to them across a ring's end).
                Op::PushPair => {
                    let (older, newer) = (pushed, pushed + 1);
                    pushed += 2;
                    chain.push_head_pair(ledger.value(older), ledger.value(newer));
                    for id in [older, newer] {
                        prop_assert_eq!(model.push_head(id), Ok(()));
                        links.push_head(id);
                    }
                }
                Op::PopPair => {
                    let popped = chain.pop_head_pair();
                    let (newest, next) = match popped {
                        Some((newest, next)) => (Some(newest.id()), next.map(|v| v.id())),
                        None => (None, None),
                    };
                    prop_assert_eq!(newest, model.pop_head());
                    prop_assert_eq!(newest, links.pop_head());
                    if newest.is_some() {
                        prop_assert_eq!(next, model.pop_head());
                        prop_assert_eq!(next, links.pop_head());
                    }
                }
            }
            prop_assert_eq!(chain.len(), model.len());
            prop_assert_eq!(stealer.len(), model.len());
            prop_assert_eq!(chain.is_empty(), model.len() == 0);
            let allocated = chain.allocated_slots();
            prop_assert!(
                links.linked_slots() <= allocated && allocated <= links.allocated_ever(),
                "allocated_slots {} outside [{}, {}] after {:?} with {} pushed",
                allocated, links.linked_slots(), links.allocated_ever(), op, pushed
            );
        }
        let inside: Vec<u32> = model.ids().collect();
        let outside = (0..pushed).filter(|id| !inside.contains(id));
        ledger.assert_drops(outside, 1);
        ledger.assert_drops(inside.iter().copied(), 0);
        drop(chain);
        ledger.assert_drops(inside.iter().copied(), 0); // the stealer keeps the links alive
        drop(stealer);
        ledger.assert_each_dropped_once();
    }

    /// A value that panics while the last handle drops the chain: the panic
    /// reaches the caller, and every other value, in the same link or in
    /// other links, is still dropped once.
    #[test]
    fn a_panicking_drop_propagates_and_every_other_value_is_dropped_once(
        first_capacity in powers_of_two(8),
        (pushes, tail_pops, head_pops, panicking) in chain_with_a_panicking_value(),
        stealer_outlives_producer: bool,
    ) {
        let ledger = DropLedger::with_panicking_drop(pushes as usize, panicking);
        let chain = PoolChain::with_first_capacity(first_capacity);
        let stealer = chain.stealer();
        for id in 0..pushes {
            chain.push_head(ledger.value(id));
        }
        // Unlink some links from the tail and leave some links at the head
        // empty, so that values sit in the middle of the chain.
        for id in 0..tail_pops {
            prop_assert_eq!(id_of(stealer.pop_tail()), Some(id));
        }
        for id in (pushes - head_pops..pushes).rev() {
            prop_assert_eq!(id_of(chain.pop_head()), Some(id));
        }
        let live = || ledger.assert_drops(tail_pops..pushes - head_pops, 0);
        let result = if stealer_outlives_producer {
            drop_then_catch(chain, live, stealer)
        } else {
            drop_then_catch(stealer, live, chain)
        };
        let payload = result.expect_err("the panic of a value's drop reaches the caller");
        prop_assert_eq!(
            payload.downcast_ref::<PlantedDropPanic>(),
            Some(&PlantedDropPanic(panicking))
        );
        ledger.assert_each_dropped_once();
    }
}

/// `(pushes, tail_pops, head_pops, panicking)`: `pushes` values of which
/// the oldest `tail_pops` and the newest `head_pops` are popped, and the id
/// whose drop panics among those left inside.
fn chain_with_a_panicking_value() -> impl Strategy<Value = (u32, u32, u32, u32)> {
    (1..=200u32)
        .prop_flat_map(|pushes| (Just(pushes), 0..pushes))
        .prop_flat_map(|(pushes, tail_pops)| (Just(pushes), Just(tail_pops), 0..pushes - tail_pops))
        .prop_flat_map(|(pushes, tail_pops, head_pops)| {
            (
                Just(pushes),
                Just(tail_pops),
                Just(head_pops),
                tail_pops..pushes - head_pops,
            )
        })
}

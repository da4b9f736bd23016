//! Reference models: what the lock-free structures must do when a single
//! thread drives them, written as plainly as possible.
//!
//! Both structures behave like a double-ended queue of ids: `push_head`
//! appends the newest, `pop_head` removes the newest, `pop_tail` the oldest.
//! The dequeue is bounded by its capacity; the chain is unbounded, and its
//! model also tracks the links it is made of, to bound
//! `PoolChain::allocated_slots`.

use proptest::prelude::*;
use std::collections::VecDeque;
use victim_pool::MAX_CAPACITY;

/// One step of a single-threaded script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    PushHead,
    PopHead,
    PopTail,
    /// `push_head_pair`: two values, the older first.
    PushPair,
    /// `pop_head_pair`: the two newest values.
    PopPair,
}

impl Op {
    /// How many new values the operation pushes.
    pub fn pushes(self) -> usize {
        match self {
            Op::PushHead => 1,
            Op::PushPair => 2,
            _ => 0,
        }
    }
}

/// Scripts made of runs of one operation, so that a script fills a ring,
/// drains it and wraps its indices instead of hovering around one length.
pub fn scripts(max_run: usize, max_runs: usize) -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        3 => Just(Op::PushHead),
        1 => Just(Op::PopHead),
        2 => Just(Op::PopTail),
        1 => Just(Op::PushPair),
        1 => Just(Op::PopPair),
    ];
    prop::collection::vec((op, 1..=max_run), 0..=max_runs).prop_map(|runs| {
        runs.into_iter()
            .flat_map(|(op, n)| std::iter::repeat_n(op, n))
            .collect()
    })
}

/// Powers of two from 1 to `max`.
pub fn powers_of_two(max: usize) -> impl Strategy<Value = usize> {
    assert!(max.is_power_of_two());
    (0..=max.trailing_zeros()).prop_map(|shift| 1 << shift)
}

/// Start indices for a dequeue: mostly just below the 32-bit wraparound
/// (so the scripts cross it), sometimes just above 0, sometimes anywhere.
pub fn start_indices() -> impl Strategy<Value = u32> {
    prop_oneof![
        3 => (0..=200u32).prop_map(|back| u32::MAX - back),
        1 => 0..=200u32,
        1 => any::<u32>(),
    ]
}

/// A bounded double-ended queue of ids: the dequeue's specification.
#[derive(Debug)]
pub struct DequeueModel {
    capacity: usize,
    ids: VecDeque<u32>,
}

impl DequeueModel {
    /// An empty queue of `capacity` (use `usize::MAX` for unbounded).
    pub fn new(capacity: usize) -> Self {
        DequeueModel {
            capacity,
            ids: VecDeque::new(),
        }
    }

    /// Appends `id` unless full; gives it back if full.
    pub fn push_head(&mut self, id: u32) -> Result<(), u32> {
        if self.ids.len() == self.capacity {
            return Err(id);
        }
        self.ids.push_back(id);
        Ok(())
    }

    pub fn pop_head(&mut self) -> Option<u32> {
        self.ids.pop_back()
    }

    /// Appends `older`, then `newer`, unless fewer than two slots are free;
    /// gives both back then.
    pub fn push_pair(&mut self, older: u32, newer: u32) -> Result<(), (u32, u32)> {
        if self.capacity - self.ids.len() < 2 {
            return Err((older, newer));
        }
        self.ids.push_back(older);
        self.ids.push_back(newer);
        Ok(())
    }

    /// The two newest, newest first, if there are two; else nothing moves.
    pub fn pop_pair(&mut self) -> Option<(u32, u32)> {
        if self.ids.len() < 2 {
            return None;
        }
        Some((self.ids.pop_back()?, self.ids.pop_back()?))
    }

    pub fn pop_tail(&mut self) -> Option<u32> {
        self.ids.pop_front()
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// The ids still inside, oldest first.
    pub fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.ids.iter().copied()
    }
}

/// The chain's links as a single thread sees them: which rings exist, how
/// big they are and what each holds. Mirrors the growth and unlinking rules
/// of `PoolChain` (Go's poolChain), not its code.
#[derive(Debug)]
pub struct ChainLinksModel {
    /// Oldest link first; the last one is the head link.
    links: VecDeque<LinkModel>,
    first_capacity: usize,
    /// Slots of every link ever allocated, including unlinked ones.
    allocated_ever: usize,
}

#[derive(Debug)]
struct LinkModel {
    capacity: usize,
    ids: VecDeque<u32>,
}

impl ChainLinksModel {
    pub fn new(first_capacity: usize) -> Self {
        ChainLinksModel {
            links: VecDeque::new(),
            first_capacity,
            allocated_ever: 0,
        }
    }

    /// Pushes into the head link, or into a new link twice its size (capped
    /// at 2^30) when the head link is full.
    pub fn push_head(&mut self, id: u32) {
        let capacity = match self.links.back_mut() {
            Some(head) if head.ids.len() < head.capacity => {
                head.ids.push_back(id);
                return;
            }
            Some(head) => (head.capacity * 2).min(MAX_CAPACITY),
            None => self.first_capacity,
        };
        self.allocated_ever += capacity;
        self.links.push_back(LinkModel {
            capacity,
            ids: VecDeque::from([id]),
        });
    }

    /// Takes the newest id: from the head link, else from the newest older
    /// link that has one. Links emptied this way stay linked.
    pub fn pop_head(&mut self) -> Option<u32> {
        self.links
            .iter_mut()
            .rev()
            .find_map(|link| link.ids.pop_back())
    }

    /// Takes the oldest id, unlinking tail links that are empty and have a
    /// newer link (only the head link is never unlinked).
    pub fn pop_tail(&mut self) -> Option<u32> {
        loop {
            let tail = self.links.front_mut()?;
            if let Some(id) = tail.ids.pop_front() {
                return Some(id);
            }
            if self.links.len() == 1 {
                return None;
            }
            self.links.pop_front();
        }
    }

    pub fn len(&self) -> usize {
        self.links.iter().map(|link| link.ids.len()).sum()
    }

    /// Slots of the links still linked: `allocated_slots` can never be
    /// lower, as only unlinked links are ever freed.
    pub fn linked_slots(&self) -> usize {
        self.links.iter().map(|link| link.capacity).sum()
    }

    /// Slots of every link allocated so far: `allocated_slots` can never be
    /// higher.
    pub fn allocated_ever(&self) -> usize {
        self.allocated_ever
    }

    /// The head link's capacity (0 before the first push).
    pub fn head_capacity(&self) -> usize {
        self.links.back().map_or(0, |link| link.capacity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The link model must itself be a double-ended queue: the chain is
    // checked against both, so the two models check each other.
    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn chain_links_model_behaves_as_an_unbounded_deque(
            first in powers_of_two(8),
            script in scripts(40, 30),
        ) {
            let mut links = ChainLinksModel::new(first);
            let mut flat = DequeueModel::new(usize::MAX);
            for (id, op) in (0..).zip(script) {
                match op {
                    Op::PushHead => {
                        links.push_head(id);
                        prop_assert_eq!(flat.push_head(id), Ok(()));
                    }
                    Op::PopHead => prop_assert_eq!(links.pop_head(), flat.pop_head()),
                    Op::PopTail => prop_assert_eq!(links.pop_tail(), flat.pop_tail()),
                    // The model of the pair operations is the flat queue's
                    // own; the links model sees them as single operations.
                    Op::PushPair | Op::PopPair => {}
                }
                prop_assert_eq!(links.len(), flat.len());
                prop_assert!(links.linked_slots() >= links.len());
                prop_assert!(links.linked_slots() <= links.allocated_ever());
            }
        }
    }
}

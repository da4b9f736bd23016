//! The pool's specification as a sequential reference model: what a
//! [`Pool`](crate::Pool) does, operation by operation, when the operations
//! of its threads run one at a time. Enabled by the `model` feature.
//!
//! The model tracks every logical thread's local (its private slot, with
//! the generation the value was put in, and its two chains, which take
//! turns as primary and victim), the pool's generation (one step per
//! cleanup), the "victim is empty" memo, the exact order in which a get
//! looks (private slot, own chain newest first, other threads' chains
//! oldest first starting after the own thread in thread-index order, the
//! victim tier), the paired moves between the private slot and the own
//! chain (decided by the same per-thread runs as the pool's), aging (a
//! value not taken within two cleanups is dropped), the return-time rules,
//! and the statistics by tier ([`crate::PoolStats`]). Values are ids
//! ([`Id`]); the model moves ids where the pool moves values.
//!
//! # Using it in a property test
//!
//! Run each operation on the real pool and on the model, then compare what
//! came out ([`Effects::got`]), where it came from ([`Effects::tier`],
//! through the statistics) and what was dropped ([`Effects::dropped`]):
//!
//! - Each logical thread must be one OS thread that keeps its thread
//!   index (and so its local) for the whole test: run the operations of a
//!   thread on a worker thread and wait for each before sending the next.
//! - The model is told the cyclic order of its threads' indices (`ring` in
//!   [`PoolModel::new`]). With one or two threads every order is the same
//!   cycle, so `vec![0]` or `vec![0, 1]` is always right; with more, learn
//!   it from the pool (each thread puts two markers, one thread takes them
//!   all: the order it steals them in is the order).
//! - The pool must be used only by those threads while the test runs (a
//!   fresh pool per case; a `static` pool carries values between cases).
//! - Values get their id from the test: a new value (to `put`, or made by
//!   `create`) takes [`PoolModel::fresh_id`]; store the id in the value.
//!
//! ```
//! use victim_pool::model::{PoolModel, Rules, Tier};
//! use victim_pool::Pool;
//!
//! // One thread, so the ring is `[0]`; values are their own ids.
//! let pool: Pool<u64> = Pool::new(|| unreachable!("only try_take is used"));
//! let mut model = PoolModel::new(vec![0], 0, Rules::default());
//!
//! for _ in 0..2 {
//!     let id = model.fresh_id();
//!     pool.put(id);
//!     model.put(0, id);
//! }
//! pool.cleanup();
//! model.cleanup();
//!
//! // The model is told what the pool returned (it needs that only for
//! // values of exited threads), then predicts it.
//! let got = pool.try_take();
//! let effects = model.try_take(0, got);
//! assert_eq!(got, effects.got);
//! assert_eq!(effects.got, Some(0)); // the private slot's value...
//! assert_eq!(effects.tier, Some(Tier::Victim)); // ...aged by the cleanup
//! assert_eq!(pool.stats(), model.counts());
//! ```
//!
//! # What the model cannot decide
//!
//! The model knows nothing of thread indices beyond `ring`. One thing is not
//! determined by the operations alone: what happens to the private value of
//! a thread that has exited ([`PoolModel::exit`]). The pool may adopt it in
//! a get (after stealing, before the victim tier) or drop it in a cleanup
//! once it has expired, but only while no other thread holds the exited
//! thread's index and, for adoption, only if the thread registry is not
//! busy; both depend on unrelated threads of the process. So a get takes
//! the value it actually returned as an oracle: if that is an exited
//! thread's private value of a servable age, the model adopts it, otherwise
//! it goes on as if adoption found nothing.
//!
//! Where cleanups drain idle threads' private slots
//! ([`cleanups_drain_idle_threads`](crate::cleanups_drain_idle_threads),
//! which the model reads when it is made), a cleanup drops every expired
//! private value, live or exited threads': the model assumes no operation
//! runs during a cleanup, as in a lockstep test. Elsewhere a cleanup drops
//! an exited thread's expired private value only while no other thread
//! holds its index, and no live thread's; those drops are reported in
//! [`Effects::may_drop`] and confirmed with [`PoolModel::resolve_may_drop`].
//! A get never drops another thread's private value.

use crate::pool::paired_moves::{Direction, Runs};
use crate::PoolStats;
use std::collections::VecDeque;

/// A value's identity: the model moves ids where the pool moves values.
pub type Id = u64;

/// Where a get was served from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    /// The calling thread's private slot.
    Private,
    /// The calling thread's own chain (newest first).
    OwnChain,
    /// Another thread's chain (oldest first), or an exited thread's private
    /// slot.
    Stolen,
    /// The victim cache: values that lived through one cleanup.
    Victim,
    /// Nothing found; `create` ran.
    Created,
    /// Nothing found; `None` returned.
    Missed,
}

/// How many cleanups a value put at `stamp` has lived through at `generation`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Age {
    Primary,
    Victim,
    Expired,
}

fn age(stamp: usize, generation: usize) -> Age {
    if stamp == generation {
        Age::Primary
    } else if stamp.wrapping_add(1) == generation {
        Age::Victim
    } else {
        Age::Expired
    }
}

/// The chain (0 or 1) that receives values put at `generation`.
fn chain_of(generation: usize) -> usize {
    generation % 2
}

#[derive(Clone, Debug, Default)]
struct ModelLocal {
    /// The private value and the generation it was put in.
    private: Option<(Id, usize)>,
    /// The private value lent to a guard: the slot counts as occupied.
    lent: Option<Id>,
    /// Oldest at the front, newest at the back.
    chains: [VecDeque<Id>; 2],
    /// Whether the thread has exited (its local stays, with its values).
    exited: bool,
    /// The runs that decide paired moves on the own chain (the pool's own
    /// bookkeeping, a function of this local's chain operations alone).
    runs: Runs,
}

/// What one operation did, as the model predicts it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Effects {
    /// The value a get returned (taken or created).
    pub got: Option<Id>,
    /// Where a get was served from.
    pub tier: Option<Tier>,
    /// Values the operation dropped, sorted.
    pub dropped: Vec<Id>,
    /// Values the operation may or may not drop, sorted (exited threads'
    /// expired private values; see the module docs).
    pub may_drop: Vec<Id>,
    /// Values the reset hook ran on, in order.
    pub reset: Vec<Id>,
}

/// The pool's return-time rules (all off for [`Pool::new`](crate::Pool::new);
/// see [`PoolBuilder`](crate::PoolBuilder)).
#[derive(Clone, Copy, Debug, Default)]
pub struct Rules {
    /// The keep rule ([`PoolBuilder::keep_if`](crate::PoolBuilder::keep_if)),
    /// stated on ids: it refuses values whose id is a multiple of this.
    pub discard_multiple_of: Option<u64>,
    /// [`PoolBuilder::max_chain_per_thread`](crate::PoolBuilder::max_chain_per_thread).
    pub max_chain: Option<usize>,
    /// Whether a reset hook is installed ([`PoolBuilder::reset`](crate::PoolBuilder::reset)).
    pub reset: bool,
}

impl Rules {
    /// Whether the keep rule keeps value `id`.
    ///
    /// # Panics
    ///
    /// Panics if `discard_multiple_of` is `Some(0)`.
    #[track_caller]
    pub fn keeps(&self, id: Id) -> bool {
        self.discard_multiple_of.is_none_or(|m| {
            assert!(m != 0, "Rules::discard_multiple_of must not be Some(0)");
            id % m != 0
        })
    }
}

/// The reference model of one pool; see the [module docs](self).
///
/// # Panics
///
/// Every method that takes a logical `thread` panics if that thread is not
/// one the model was made with, or has exited; [`exit`](Self::exit) only in
/// the first case, and [`return_guard`](Self::return_guard) in neither when
/// the value it gives back was lent (a guard may drop on any thread).
#[derive(Clone, Debug)]
pub struct PoolModel {
    locals: Vec<ModelLocal>,
    /// Logical threads in increasing thread-index order (any rotation).
    ring: Vec<usize>,
    generation: usize,
    /// The generation at which a full scan last found the victim empty; the
    /// victim tier is skipped while the generation still equals it.
    victim_empty_at: usize,
    next_id: Id,
    rules: Rules,
    counts: PoolStats,
    /// [`cleanups_drain_idle_threads`](crate::cleanups_drain_idle_threads)
    /// when the model was made.
    drains_idle_threads: bool,
}

impl PoolModel {
    /// A fresh pool used by `ring.len()` threads whose thread indices, in
    /// increasing order, are those of logical threads `ring[0], ring[1], ...`
    /// (any rotation of that order gives the same model). Ids handed out by
    /// [`fresh_id`](Self::fresh_id) and by `create` start at `first_id`.
    ///
    /// # Panics
    ///
    /// Panics if `ring` is not a permutation of `0..ring.len()`.
    #[track_caller]
    pub fn new(ring: Vec<usize>, first_id: Id, rules: Rules) -> Self {
        let mut sorted = ring.clone();
        sorted.sort_unstable();
        assert!(
            sorted.iter().copied().eq(0..ring.len()),
            "ring must be a permutation of 0..{}, got {ring:?}",
            ring.len()
        );
        PoolModel {
            locals: vec![ModelLocal::default(); ring.len()],
            ring,
            generation: 0,
            // The real pool starts with the memo equal to the generation:
            // at generation 0 there is no victim to scan.
            victim_empty_at: 0,
            next_id: first_id,
            rules,
            counts: PoolStats::default(),
            drains_idle_threads: crate::cleanups_drain_idle_threads(),
        }
    }

    /// The id the next new value gets, whether the test makes it or `create`.
    pub fn fresh_id(&mut self) -> Id {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// The statistics the pool should report now (compare with
    /// [`Pool::stats`](crate::Pool::stats)).
    pub fn counts(&self) -> PoolStats {
        PoolStats {
            retained: self.retained().len() as u64,
            ..self.counts
        }
    }

    /// Every value the pool holds, sorted: what dropping the pool drops.
    pub fn retained(&self) -> Vec<Id> {
        let mut all: Vec<Id> = self
            .locals
            .iter()
            .flat_map(|l| {
                l.private
                    .map(|(id, _)| id)
                    .into_iter()
                    .chain(l.chains.iter().flatten().copied())
            })
            .collect();
        all.sort_unstable();
        all
    }

    /// `thread`'s neighbours in index order, starting after it and wrapping
    /// (`include_self`: starting at it).
    fn ring_from(&self, thread: usize, include_self: bool) -> Vec<usize> {
        let n = self.ring.len();
        let at = self
            .ring
            .iter()
            .position(|&t| t == thread)
            .expect("known thread");
        let skip = usize::from(!include_self);
        (skip..n).map(|k| self.ring[(at + k) % n]).collect()
    }

    /// `try_take` (or `try_get`) on `thread`, which returned `observed`.
    pub fn try_take(&mut self, thread: usize, observed: Option<Id>) -> Effects {
        let mut effects = self.find(thread, observed);
        if effects.got.is_none() {
            effects.tier = Some(Tier::Missed);
            self.counts.missed += 1;
        }
        effects
    }

    /// `take` (or `get`) on `thread`, which returned `observed`. When the
    /// pool finds nothing, the model predicts that `create` ran and made a
    /// value whose id is the next [`fresh_id`](Self::fresh_id): number the
    /// values `create` makes in step with the model.
    pub fn take(&mut self, thread: usize, observed: Id) -> Effects {
        let mut effects = self.find(thread, Some(observed));
        if effects.got.is_none() {
            effects.got = Some(self.fresh_id());
            effects.tier = Some(Tier::Created);
            self.counts.created += 1;
        }
        effects
    }

    /// `get` (or `get_owned`) on `thread`, which returned `observed`, with
    /// the guard kept: a value served from the private slot is lent in
    /// place, and until [`return_guard`](Self::return_guard) the slot counts
    /// as occupied (puts go to the chain) and serves nothing.
    pub fn get(&mut self, thread: usize, observed: Id) -> Effects {
        let effects = self.take(thread, observed);
        if effects.tier == Some(Tier::Private) {
            self.locals[thread].lent = effects.got;
        }
        effects
    }

    /// The guard of `id` (from [`get`](Self::get)) dropped on `thread`. A
    /// lent value goes back into the slot it came from, whichever thread
    /// drops it, and is counted as put on `thread`; a pool with a keep rule
    /// or reset hook takes it out and puts it as `put` would.
    pub fn return_guard(&mut self, thread: usize, id: Id) -> Effects {
        let Some(lender) = self.locals.iter().position(|l| l.lent == Some(id)) else {
            return self.put(thread, id);
        };
        self.locals[lender].lent = None;
        if self.rules.discard_multiple_of.is_some() || self.rules.reset {
            return self.put(thread, id);
        }
        self.counts.puts += 1;
        self.locals[lender].private = Some((id, self.generation));
        Effects::default()
    }

    /// `get` on `thread` (which returned `observed`), then dropping the
    /// guard on the same thread.
    pub fn get_and_return(&mut self, thread: usize, observed: Id) -> Effects {
        let mut effects = self.take(thread, observed);
        let returned = self.put(thread, effects.got.expect("get returns a value"));
        effects.dropped.extend(returned.dropped);
        effects.dropped.sort_unstable();
        effects.reset = returned.reset;
        effects
    }

    fn find(&mut self, thread: usize, observed: Option<Id>) -> Effects {
        assert!(!self.locals[thread].exited, "thread {thread} has exited");
        let generation = self.generation;
        let mut effects = Effects::default();
        let served = |effects: &mut Effects, id: Id, tier: Tier| {
            effects.got = Some(id);
            effects.tier = Some(tier);
        };

        // 1. The private slot: taken if put this generation; dropped if past
        //    two cleanups; left alone (for step 5) if victim-aged.
        let own = &mut self.locals[thread];
        if let Some((id, stamp)) = own.private {
            match age(stamp, generation) {
                Age::Primary => {
                    own.private = None;
                    served(&mut effects, id, Tier::Private);
                }
                Age::Expired => {
                    own.private = None;
                    effects.dropped.push(id);
                    self.counts.dropped_by_cleanup += 1;
                }
                Age::Victim => {}
            }
        }
        // 2. The own primary chain, newest first. A paired move takes the
        //    next newest too, into the private slot, if the slot is empty.
        if effects.got.is_none() {
            let pair =
                own.runs.plan(Direction::Take) && own.private.is_none() && own.lent.is_none();
            let chain = &mut own.chains[chain_of(generation)];
            match chain.pop_back() {
                Some(id) => {
                    served(&mut effects, id, Tier::OwnChain);
                    let next = if pair { chain.pop_back() } else { None };
                    own.runs.record(1 + usize::from(next.is_some()));
                    if let Some(next) = next {
                        own.private = Some((next, generation));
                    }
                }
                None => own.runs.record(0),
            }
        }
        // 3. Other threads' primary chains, oldest first, from the next index.
        if effects.got.is_none() {
            for other in self.ring_from(thread, false) {
                if let Some(id) = self.locals[other].chains[chain_of(generation)].pop_front() {
                    served(&mut effects, id, Tier::Stolen);
                    break;
                }
            }
        }
        // 4. Private values of exited threads: adopted if `observed` is one
        //    of a servable age. Expired ones are left for cleanup.
        if effects.got.is_none() {
            for local in self.locals.iter_mut().filter(|l| l.exited) {
                let Some((id, stamp)) = local.private else {
                    continue;
                };
                let tier = match age(stamp, generation) {
                    Age::Primary => Tier::Stolen,
                    Age::Victim => Tier::Victim,
                    Age::Expired => continue,
                };
                if observed == Some(id) {
                    local.private = None;
                    served(&mut effects, id, tier);
                }
            }
        }
        // 5. The victim tier: the own victim-aged private value, then,
        //    unless known empty at this generation, every victim chain,
        //    oldest first, from the own index.
        if effects.got.is_none() {
            let own = &mut self.locals[thread];
            if let Some((id, stamp)) = own.private {
                if age(stamp, generation) == Age::Victim {
                    own.private = None;
                    served(&mut effects, id, Tier::Victim);
                }
            }
        }
        if effects.got.is_none() && self.victim_empty_at != generation {
            {
                let victim = chain_of(generation.wrapping_sub(1));
                for local in self.ring_from(thread, true) {
                    if let Some(id) = self.locals[local].chains[victim].pop_front() {
                        served(&mut effects, id, Tier::Victim);
                        break;
                    }
                }
            }
            if effects.got.is_none() {
                self.victim_empty_at = generation;
            }
        }
        match effects.tier {
            Some(Tier::Private) => self.counts.from_private += 1,
            Some(Tier::OwnChain) => self.counts.from_own_chain += 1,
            Some(Tier::Stolen) => self.counts.stolen += 1,
            Some(Tier::Victim) => self.counts.from_victim += 1,
            _ => {}
        }
        effects.may_drop.sort_unstable();
        effects
    }

    /// `put(id)` on `thread` (also a guard dropped on `thread`).
    pub fn put(&mut self, thread: usize, id: Id) -> Effects {
        assert!(!self.locals[thread].exited, "thread {thread} has exited");
        let generation = self.generation;
        let mut effects = Effects::default();
        self.counts.puts += 1;
        if !self.rules.keeps(id) {
            effects.dropped.push(id);
            self.counts.discarded += 1;
            return effects;
        }
        if self.rules.reset {
            effects.reset.push(id);
        }
        let own = &mut self.locals[thread];
        // A slot occupied by a primary value (or lent) sends the put onto
        // the primary chain; a paired move sends the slot's value with it.
        let primary = chain_of(generation);
        if own.lent.is_some()
            || own
                .private
                .is_some_and(|(_, stamp)| age(stamp, generation) == Age::Primary)
        {
            let pair = own.runs.plan(Direction::Put) && self.rules.max_chain.is_none();
            let chain = &mut own.chains[primary];
            match own.private.take_if(|_| pair) {
                Some((old, _)) => {
                    chain.push_back(old);
                    chain.push_back(id);
                    own.runs.record(2);
                }
                None if self.rules.max_chain.is_some_and(|max| chain.len() >= max) => {
                    own.runs.record(0);
                    effects.dropped.push(id);
                    self.counts.discarded += 1;
                }
                None => {
                    chain.push_back(id);
                    own.runs.record(1);
                }
            }
            return effects;
        }
        // What goes onto a chain, and which chain.
        let spill = match own.private {
            None => {
                own.private = Some((id, generation));
                None
            }
            Some((old, stamp)) => match age(stamp, generation) {
                Age::Primary => unreachable!("put onto the primary chain above"),
                // The old value moves to its own (now victim) chain.
                Age::Victim => {
                    own.private = Some((id, generation));
                    Some((old, chain_of(stamp)))
                }
                Age::Expired => {
                    own.private = Some((id, generation));
                    effects.dropped.push(old);
                    self.counts.dropped_by_cleanup += 1;
                    None
                }
            },
        };
        if let Some((value, chain_index)) = spill {
            let chain = &mut own.chains[chain_index];
            if self.rules.max_chain.is_some_and(|max| chain.len() >= max) {
                effects.dropped.push(value);
                self.counts.discarded += 1;
            } else {
                chain.push_back(value);
                // A victim chain that was known empty is not any more.
                if chain_index != chain_of(generation) && self.victim_empty_at == generation {
                    self.victim_empty_at = generation.wrapping_sub(1);
                }
            }
        }
        effects.dropped.sort_unstable();
        effects
    }

    /// `cleanup` on any thread.
    pub fn cleanup(&mut self) -> Effects {
        let next = self.generation.wrapping_add(1);
        let mut effects = Effects::default();
        // The victim chains are the ones that become primary at `next`.
        for local in &mut self.locals {
            effects
                .dropped
                .extend(local.chains[chain_of(next)].drain(..));
        }
        // Private values that expire now: every one where cleanups drain
        // idle threads' slots (no operation runs during this one); else an
        // exited thread's, if no other thread holds its index (see the
        // module docs), and no live thread's.
        for local in &mut self.locals {
            let Some((id, stamp)) = local.private else {
                continue;
            };
            if age(stamp, next) != Age::Expired {
                continue;
            }
            if self.drains_idle_threads {
                local.private = None;
                effects.dropped.push(id);
            } else if local.exited {
                effects.may_drop.push(id);
            }
        }
        self.counts.dropped_by_cleanup += effects.dropped.len() as u64;
        self.generation = next;
        effects.dropped.sort_unstable();
        effects.may_drop.sort_unstable();
        effects
    }

    /// Tells the model which of an operation's `may_drop` values it dropped.
    pub fn resolve_may_drop(&mut self, dropped: &[Id]) {
        for local in &mut self.locals {
            if let Some((id, _)) = local.private {
                if dropped.contains(&id) {
                    assert!(local.exited, "only exited threads' values are uncertain");
                    local.private = None;
                    self.counts.dropped_by_cleanup += 1;
                }
            }
        }
    }

    /// `thread` exits; its local keeps its values (its chains stay stealable).
    pub fn exit(&mut self, thread: usize) {
        self.locals[thread].exited = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `try_take` when the real pool's answer is not needed (no thread exited).
    fn try_take(m: &mut PoolModel, thread: usize) -> Effects {
        m.try_take(thread, None)
    }

    #[test]
    fn model_serves_private_then_own_chain_newest_first() {
        let mut m = PoolModel::new(vec![0], 0, Rules::default());
        for id in [10, 11, 12] {
            m.put(0, id);
        }
        assert_eq!(try_take(&mut m, 0).got, Some(10));
        assert_eq!(try_take(&mut m, 0).got, Some(12));
        assert_eq!(try_take(&mut m, 0).got, Some(11));
        assert_eq!(try_take(&mut m, 0).tier, Some(Tier::Missed));
    }

    #[test]
    fn model_steals_oldest_first_from_the_next_thread_in_index_order() {
        // Index order: thread 2, thread 0, thread 1.
        let mut m = PoolModel::new(vec![2, 0, 1], 0, Rules::default());
        for (thread, ids) in [(0, [1, 2, 3]), (1, [4, 5, 6]), (2, [7, 8, 9])] {
            for id in ids {
                m.put(thread, id);
            }
        }
        // From thread 0: thread 1's chain (5, 6), then thread 2's (8, 9).
        let taken: Vec<_> = (0..7).map(|_| try_take(&mut m, 0).got).collect();
        assert_eq!(
            taken,
            [
                Some(1),
                Some(3),
                Some(2),
                Some(5),
                Some(6),
                Some(8),
                Some(9)
            ]
        );
    }

    #[test]
    fn model_ages_values_through_the_victim_and_drops_them_after_two_cleanups() {
        for drains in [true, false] {
            let mut m = PoolModel::new(vec![0, 1], 0, Rules::default());
            m.drains_idle_threads = drains;
            m.put(0, 1);
            m.put(0, 2);
            assert!(m.cleanup().dropped.is_empty());
            let first = try_take(&mut m, 1);
            assert_eq!((first.got, first.tier), (Some(2), Some(Tier::Victim)));
            let second = m.cleanup();
            if drains {
                // Thread 0 is idle: the cleanup drains its private slot.
                assert_eq!(second.dropped, vec![1]);
                assert_eq!(try_take(&mut m, 0).got, None);
            } else {
                assert_eq!(second.dropped, Vec::<Id>::new(), "only its owner ages it");
                // Thread 0's private value is expired: its next get drops it.
                let last = try_take(&mut m, 0);
                assert_eq!((last.got, last.dropped), (None, vec![1]));
            }
            assert_eq!(m.counts().dropped_by_cleanup, 1);
            assert_eq!(m.counts().retained, 0);
        }
    }

    #[test]
    fn model_skips_the_victim_chains_once_a_scan_found_them_empty_until_a_put_refills_one() {
        let mut m = PoolModel::new(vec![0, 1], 0, Rules::default());
        m.put(0, 1);
        m.put(1, 3);
        m.cleanup();
        // Thread 1 takes its own victim-aged private value, then cannot see
        // thread 0's and marks the victim chains empty.
        assert_eq!(try_take(&mut m, 1).got, Some(3));
        assert_eq!(try_take(&mut m, 1).got, None);
        // Thread 0's put moves its victim-aged private value to its victim
        // chain, which clears the memo...
        m.put(0, 2);
        assert_eq!(try_take(&mut m, 0).got, Some(2));
        // ...so thread 1 finds it there.
        let stolen = try_take(&mut m, 1);
        assert_eq!(stolen.got, Some(1));
        assert_eq!(stolen.tier, Some(Tier::Victim));
        assert_eq!(try_take(&mut m, 1).got, None);
    }

    #[test]
    fn model_serves_the_own_victim_private_value_despite_the_memo() {
        let mut m = PoolModel::new(vec![0, 1], 0, Rules::default());
        m.put(0, 1);
        m.cleanup();
        assert_eq!(try_take(&mut m, 1).got, None);
        // The memo covers the chains; thread 0's private slot is its own.
        assert_eq!(try_take(&mut m, 0).got, Some(1));
    }

    #[test]
    fn model_lets_a_get_adopt_an_exited_threads_private_value_only_after_stealing() {
        let mut m = PoolModel::new(vec![0, 1, 2], 0, Rules::default());
        m.put(0, 1); // thread 0's private slot
        m.put(2, 2);
        m.put(2, 3); // thread 2's chain
        m.exit(0);
        // Stealing comes first, whatever the pool answered.
        assert_eq!(m.try_take(1, Some(1)).got, Some(3));
        let adopted = m.try_take(1, Some(1));
        assert_eq!((adopted.got, adopted.tier), (Some(1), Some(Tier::Stolen)));
        assert_eq!(m.counts().retained, 1);
    }

    #[test]
    fn model_applies_the_keep_rule_then_the_reset_then_the_bound() {
        let rules = Rules {
            discard_multiple_of: Some(3),
            max_chain: Some(1),
            reset: true,
        };
        let mut m = PoolModel::new(vec![0], 1, rules);
        assert_eq!(m.put(0, 3).dropped, [3], "the keep rule refuses 3");
        assert_eq!(m.put(0, 1).reset, [1]);
        assert!(m.put(0, 2).dropped.is_empty(), "onto the chain");
        let refused = m.put(0, 4);
        assert_eq!((refused.reset, refused.dropped), (vec![4], vec![4]));
        let counts = m.counts();
        assert_eq!((counts.puts, counts.discarded, counts.retained), (4, 2, 2));
    }
}

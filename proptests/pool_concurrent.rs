//! Concurrent scripts on real threads, checked for conservation: every
//! value is created once, handed out at most once at a time, and dropped
//! exactly once, whatever the interleaving.

use crate::pool::rules;
use proptest::prelude::*;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::sync::{Barrier, Mutex};
use victim_pool::model::Rules;
use victim_pool::{Pool, PoolBuilder};

/// Where a value is, from the test's point of view.
mod state {
    /// The id was never used.
    pub const UNUSED: u8 = 0;
    /// Made by `create`, not yet seen by its caller.
    pub const CREATED: u8 = 1;
    /// Held by exactly one caller.
    pub const HELD: u8 = 2;
    /// Given to the pool.
    pub const IN_POOL: u8 = 3;
    /// Its holder is dropping it.
    pub const DROPPING: u8 = 4;
    pub const DROPPED: u8 = 5;
}

/// The state of every value of one case, the drop count, and what went
/// wrong inside drops (which must not panic: see `Logged`'s `Drop`).
struct Ledger {
    states: Vec<AtomicU8>,
    next_id: AtomicUsize,
    drops: AtomicUsize,
    violations: Mutex<Vec<String>>,
    /// Calls of `put` (guard drops included) and of the get family.
    puts: AtomicUsize,
    gets: AtomicUsize,
    created: AtomicUsize,
}

impl Ledger {
    fn new(capacity: usize) -> Self {
        Ledger {
            states: (0..capacity)
                .map(|_| AtomicU8::new(state::UNUSED))
                .collect(),
            next_id: AtomicUsize::new(0),
            drops: AtomicUsize::new(0),
            violations: Mutex::new(Vec::new()),
            puts: AtomicUsize::new(0),
            gets: AtomicUsize::new(0),
            created: AtomicUsize::new(0),
        }
    }

    /// Moves `id` to `to`; an error unless it was in one of `from`.
    fn try_transition(&self, id: usize, from: &[u8], to: u8) -> Result<(), String> {
        let was = self.states[id].swap(to, SeqCst);
        if from.contains(&was) {
            Ok(())
        } else {
            Err(format!(
                "value {id}: state {was} where one of {from:?} was expected (moving to {to})"
            ))
        }
    }

    /// Moves `id` to `to`, asserting it was in one of `from`.
    fn transition(&self, id: usize, from: &[u8], to: u8) {
        if let Err(violation) = self.try_transition(id, from, to) {
            panic!("{violation}");
        }
    }

    fn make(&self, state: u8) -> Audited<'_> {
        let id = self.next_id.fetch_add(1, SeqCst);
        self.transition(id, &[state::UNUSED], state);
        Audited {
            id,
            check: !id,
            ledger: self,
        }
    }
}

/// A value that audits its own life in a `Ledger` (and borrows it: the pool
/// needs no `'static` values).
struct Audited<'l> {
    id: usize,
    check: usize,
    ledger: &'l Ledger,
}

impl Audited<'_> {
    fn id(&self) -> usize {
        assert_eq!(self.check, !self.id, "value {} corrupted", self.id);
        self.id
    }
}

impl Drop for Audited<'_> {
    fn drop(&mut self) {
        // The pool drops only what it holds; a caller only what it holds.
        let checked = if self.check == !self.id {
            self.ledger
                .try_transition(self.id, &[state::IN_POOL, state::DROPPING], state::DROPPED)
        } else {
            Err(format!("value {} corrupted", self.id))
        };
        if let Err(violation) = checked {
            self.ledger.violations.lock().unwrap().push(violation);
        }
        self.ledger.drops.fetch_add(1, SeqCst);
    }
}

#[derive(Clone, Copy, Debug)]
enum Move {
    PutNew,
    PutHeld,
    TryTake,
    Take,
    /// `get`, then drop the guard.
    GetAndReturn,
    DropHeld,
    Cleanup,
    /// The script goes on in a new thread; this one exits.
    Respawn,
}

fn a_move() -> impl Strategy<Value = Move> {
    prop_oneof![
        4 => Just(Move::PutNew),
        4 => Just(Move::PutHeld),
        4 => Just(Move::TryTake),
        2 => Just(Move::Take),
        3 => Just(Move::GetAndReturn),
        1 => Just(Move::DropHeld),
        1 => Just(Move::Cleanup),
        1 => Just(Move::Respawn),
    ]
}

type AuditedPool<'l, F> = Pool<Audited<'l>, F>;

/// Runs moves up to the next `Respawn` on this thread; returns the rest.
fn run_until_respawn<'m, 'l, F: Fn() -> Audited<'l>>(
    pool: &AuditedPool<'l, F>,
    ledger: &'l Ledger,
    moves: &'m [Move],
    hand: &mut Vec<Audited<'l>>,
) -> &'m [Move] {
    let took = |value: &Audited<'_>, may_be_created: bool| {
        let from: &[u8] = if may_be_created {
            &[state::IN_POOL, state::CREATED]
        } else {
            &[state::IN_POOL]
        };
        ledger.transition(value.id(), from, state::HELD);
    };
    let count = |calls: &AtomicUsize| {
        calls.fetch_add(1, SeqCst);
    };
    for (at, &m) in moves.iter().enumerate() {
        match m {
            Move::PutNew => {
                let value = ledger.make(state::IN_POOL);
                count(&ledger.puts);
                pool.put(value);
            }
            Move::PutHeld => {
                if let Some(value) = hand.pop() {
                    ledger.transition(value.id(), &[state::HELD], state::IN_POOL);
                    count(&ledger.puts);
                    pool.put(value);
                }
            }
            Move::TryTake => {
                count(&ledger.gets);
                if let Some(value) = pool.try_take() {
                    took(&value, false);
                    hand.push(value);
                }
            }
            Move::Take => {
                count(&ledger.gets);
                let value = pool.take();
                took(&value, true);
                hand.push(value);
            }
            Move::GetAndReturn => {
                count(&ledger.gets);
                let guard = pool.get();
                took(&guard, true);
                ledger.transition(guard.id(), &[state::HELD], state::IN_POOL);
                count(&ledger.puts);
                drop(guard);
            }
            Move::DropHeld => {
                if let Some(value) = hand.pop() {
                    ledger.transition(value.id(), &[state::HELD], state::DROPPING);
                    drop(value);
                }
            }
            Move::Cleanup => pool.cleanup(),
            Move::Respawn => return &moves[at + 1..],
        }
    }
    &[]
}

fn check_conservation(first_link: usize, rules: Rules, lanes: &[Vec<Move>], rounds: usize) {
    let capacity = lanes.iter().map(Vec::len).sum::<usize>() * rounds + 1;
    let ledger = Ledger::new(capacity);
    let create = || {
        ledger.created.fetch_add(1, SeqCst);
        ledger.make(state::CREATED)
    };
    let mut builder = PoolBuilder::new(create).with_first_capacity(first_link);
    if let Some(m) = rules.discard_multiple_of {
        builder = builder.keep_if(move |v: &Audited<'_>| v.id() as u64 % m != 0);
    }
    if let Some(max) = rules.max_chain {
        builder = builder.max_chain_per_thread(max);
    }
    if rules.reset {
        builder = builder.reset(|v: &mut Audited<'_>| {
            v.id();
        });
    }
    let pool = builder.build();
    let start = Barrier::new(lanes.len());
    std::thread::scope(|scope| {
        for lane in lanes {
            let (pool, ledger, start) = (&pool, &ledger, &start);
            let script: Vec<Move> = (0..rounds).flat_map(|_| lane.iter().copied()).collect();
            scope.spawn(move || {
                start.wait();
                let mut hand = Vec::new();
                let mut rest = &script[..];
                while !rest.is_empty() {
                    // Each segment on a fresh thread, which exits at its end.
                    let hand_in = std::mem::take(&mut hand);
                    let (next, hand_out) = std::thread::scope(|inner| {
                        inner
                            .spawn(move || {
                                let mut hand = hand_in;
                                let next = run_until_respawn(pool, ledger, rest, &mut hand);
                                (next, hand)
                            })
                            .join()
                            .expect("script thread panicked")
                    });
                    rest = next;
                    hand = hand_out;
                }
                for value in hand {
                    ledger.transition(value.id(), &[state::HELD], state::DROPPING);
                    drop(value);
                }
            });
        }
    });
    // Quiescent now: the statistics are exact.
    let stats = pool.stats();
    let in_pool = ledger
        .states
        .iter()
        .filter(|s| s.load(SeqCst) == state::IN_POOL)
        .count() as u64;
    let load = |calls: &AtomicUsize| calls.load(SeqCst) as u64;
    assert_eq!(stats.retained, in_pool, "retained: {stats:?}");
    assert_eq!(stats.puts, load(&ledger.puts), "puts: {stats:?}");
    assert_eq!(stats.created, load(&ledger.created), "created: {stats:?}");
    assert_eq!(
        stats.hits() + stats.created + stats.missed,
        load(&ledger.gets),
        "gets: {stats:?}"
    );
    drop(pool);
    let violations = ledger.violations.lock().unwrap();
    assert!(violations.is_empty(), "{violations:#?}");
    let made = ledger.next_id.load(SeqCst);
    for (id, s) in ledger.states[..made].iter().enumerate() {
        assert_eq!(
            s.load(SeqCst),
            state::DROPPED,
            "value {id} was never dropped"
        );
    }
    assert_eq!(ledger.drops.load(SeqCst), made, "drops");
}

/// Repeats per case: enough overlap between threads in release, quick in debug.
const ROUNDS: usize = if cfg!(debug_assertions) { 4 } else { 100 };

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 96,
        ..ProptestConfig::default()
    })]

    /// With 2-4 threads running random put/take/get/cleanup scripts at once
    /// (and exiting, handing their script to a new thread), under random
    /// return-time rules, no value is returned to two holders at once, none
    /// is corrupted, none is dropped while a caller holds it; once the
    /// threads are done the statistics are exact (retained equals the values
    /// in the pool, puts and gets match the calls made); and after the pool
    /// is dropped every value was dropped exactly once.
    #[test]
    fn concurrent_scripts_conserve_every_value(
        first_link in prop_oneof![Just(1usize), Just(2), Just(8)],
        rules in rules(),
        lanes in prop::collection::vec(prop::collection::vec(a_move(), 1..60), 2..=4),
    ) {
        check_conservation(first_link, rules, &lanes, ROUNDS);
    }
}

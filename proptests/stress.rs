//! The dequeue and the chain on real threads: random scripts for one producer
//! and 1-3 stealers, Go's one-producer-nine-stealers tests ported, and the
//! chain's memory after it has been drained.
//!
//! Every test spawns plain `std::thread`s, opens a [`StartGate`] so they
//! overlap, and joins them explicitly; values come from a leaked
//! [`DropLedger`] (see there why). That keeps this module runnable under
//! ThreadSanitizer (`.ci/sanitizers.sh`).

use crate::model::{powers_of_two, start_indices, ChainLinksModel};
use crate::support::{
    assert_increasing, cases, joined, scaled, DropLedger, OnDrop, Patience, Producer, StartGate,
    Stealer, Tracked,
};
use proptest::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use victim_pool::{PoolChain, PoolDequeue, DEFAULT_FIRST_CAPACITY};

/// A producer's step in a threaded script.
#[derive(Clone, Copy, Debug)]
enum ProducerOp {
    Push,
    PopHead,
    /// Two values with one read-modify-write.
    PushPair,
    /// The two newest with one read-modify-write.
    PopPair,
    Yield,
}

/// A stealer's step in a threaded script.
#[derive(Clone, Copy, Debug)]
enum StealerOp {
    PopTail,
    Yield,
}

fn producer_scripts() -> impl Strategy<Value = Vec<ProducerOp>> {
    let op = prop_oneof![
        5 => Just(ProducerOp::Push),
        2 => Just(ProducerOp::PopHead),
        2 => Just(ProducerOp::PushPair),
        1 => Just(ProducerOp::PopPair),
        1 => Just(ProducerOp::Yield),
    ];
    prop::collection::vec(op, 0..=400)
}

fn stealer_scripts() -> impl Strategy<Value = Vec<Vec<StealerOp>>> {
    let op = prop_oneof![4 => Just(StealerOp::PopTail), 1 => Just(StealerOp::Yield)];
    prop::collection::vec(prop::collection::vec(op, 0..=300), 1..=3)
}

/// Runs `script` on a producer thread and each of `stealers` on its own
/// thread, all started together; then checks that every value ended up in
/// exactly one place (refused by a push, popped at the head, popped at the
/// tail, or still inside), that each stealer saw increasing ids, and that
/// dropping the structure drops exactly the values still inside.
fn run_scripts<P: Producer>(producer: P, script: Vec<ProducerOp>, stealers: Vec<Vec<StealerOp>>) {
    let pushes = script
        .iter()
        .map(|op| match op {
            ProducerOp::Push => 1,
            ProducerOp::PushPair => 2,
            _ => 0,
        })
        .sum();
    let ledger = DropLedger::leak(pushes);
    let gate = Arc::new(StartGate::new());

    let stealer_threads: Vec<_> = stealers
        .into_iter()
        .map(|steps| {
            let stealer = producer.stealer();
            let gate = Arc::clone(&gate);
            thread::spawn(move || {
                gate.wait();
                let mut taken = Vec::new();
                for step in steps {
                    match step {
                        StealerOp::PopTail => taken.extend(stealer.pop_tail().map(|v| v.id())),
                        StealerOp::Yield => thread::yield_now(),
                    }
                }
                taken
            })
        })
        .collect();
    let producer_thread = {
        let gate = Arc::clone(&gate);
        thread::spawn(move || {
            gate.wait();
            let (mut refused, mut popped) = (Vec::new(), Vec::new());
            let mut next = 0;
            for step in script {
                match step {
                    ProducerOp::Push => {
                        if let Err(value) = producer.push_head(ledger.value(next)) {
                            refused.push(value.id());
                        }
                        next += 1;
                    }
                    ProducerOp::PopHead => popped.extend(producer.pop_head().map(|v| v.id())),
                    ProducerOp::PushPair => {
                        let pair = (ledger.value(next), ledger.value(next + 1));
                        if let Err((older, newer)) = producer.push_pair(pair.0, pair.1) {
                            refused.extend([older.id(), newer.id()]);
                        }
                        next += 2;
                    }
                    ProducerOp::PopPair => {
                        let pair: Vec<u32> = producer.pop_pair().iter().map(|v| v.id()).collect();
                        // Newest first, and only the two newest: adjacent in
                        // push order, unless a refused push lies between.
                        if let [newest, next] = pair[..] {
                            assert!(newest > next, "a pair pop gave {newest} before {next}");
                        }
                        popped.extend(pair);
                    }
                    ProducerOp::Yield => thread::yield_now(),
                }
            }
            (producer, refused, popped)
        })
    };
    gate.open();
    let (producer, refused, popped) = producer_thread.join().unwrap();
    let mut seen = vec![0u8; pushes];
    for (i, handle) in stealer_threads.into_iter().enumerate() {
        let taken = handle.join().unwrap();
        assert_increasing(&format!("stealer {i}"), &taken);
        for id in taken {
            seen[id as usize] += 1;
        }
    }
    for &id in refused.iter().chain(&popped) {
        seen[id as usize] += 1;
    }
    if let Some(id) = seen.iter().position(|&n| n > 1) {
        panic!("value {id} came out {} times", seen[id]);
    }
    let inside: Vec<u32> = (0..pushes as u32)
        .filter(|&id| seen[id as usize] == 0)
        .collect();
    assert_eq!(
        producer.len(),
        inside.len(),
        "len() after all threads joined"
    );
    ledger.assert_drops((0..pushes as u32).filter(|&id| seen[id as usize] == 1), 1);
    ledger.assert_drops(inside.iter().copied(), 0);
    drop(producer); // the last handle: the stealers' were dropped on their threads
    ledger.assert_each_dropped_once();
}

proptest! {
    #![proptest_config(cases(4096, 16))]

    /// One producer and 1-3 stealers run random scripts on a dequeue whose
    /// indices start near the wraparound: no value is lost, duplicated or
    /// dropped twice, and the values left inside are dropped with it.
    #[test]
    fn dequeue_scripts_on_threads_account_for_every_value_once(
        capacity in powers_of_two(16),
        start in start_indices(),
        script in producer_scripts(),
        stealers in stealer_scripts(),
    ) {
        run_scripts(PoolDequeue::with_start_index(capacity, start), script, stealers);
    }

    /// As above, for a chain with a first link of 1 to 8 slots.
    #[test]
    fn chain_scripts_on_threads_account_for_every_value_once(
        first_capacity in powers_of_two(8),
        script in producer_scripts(),
        stealers in stealer_scripts(),
    ) {
        run_scripts(PoolChain::with_first_capacity(first_capacity), script, stealers);
    }
}

/// Go's dequeue and chain tests, ported in intent: one producer pushes
/// `0..n`, retrying while it is refused, and pops the head after every tenth
/// push; nine stealers pop the tail until the producer is done and the
/// structure is empty. Returns the producer handle, for further checks.
///
/// A push refused for good (a slot that stays marked occupied after its
/// value was stolen) fails the test through [`Patience`] rather than
/// retrying forever.
///
/// Checks that every value came out exactly once and was dropped exactly
/// once, that `pop_head` succeeded at least once and only ever returned the
/// value just pushed (nothing else can be the newest), and that each
/// stealer saw increasing values.
fn one_producer_nine_stealers<P: Producer>(producer: P, n: u32) -> P {
    const STEALERS: usize = 9;
    let ledger = DropLedger::leak(n as usize);
    let gate = Arc::new(StartGate::new());
    let done = Arc::new(AtomicBool::new(false));

    let stealer_threads: Vec<_> = (0..STEALERS)
        .map(|_| {
            let stealer = producer.stealer();
            let (gate, done) = (Arc::clone(&gate), Arc::clone(&done));
            thread::spawn(move || {
                gate.wait();
                let mut taken = Vec::new();
                loop {
                    // Acquire [producer-done]: pairs with the producer's
                    // Release store after its last push, so a pop that
                    // finds nothing after this load saw every push.
                    let finished = done.load(Ordering::Acquire);
                    match stealer.pop_tail() {
                        Some(value) => taken.push(value.id()),
                        None if finished => break taken,
                        None => thread::yield_now(),
                    }
                }
            })
        })
        .collect();
    let producer_thread = {
        let (gate, done) = (Arc::clone(&gate), Arc::clone(&done));
        thread::spawn(move || {
            gate.wait();
            // Release [producer-done]: every push below happens-before a
            // stealer that sees `true`. Set on unwinding too, so that the
            // stealers stop if this thread panics.
            let _done = OnDrop(|| done.store(true, Ordering::Release));
            let mut popped = Vec::new();
            for id in 0..n {
                let mut value: Tracked<'static> = ledger.value(id);
                let mut patience = Patience::new("the producer's push to be accepted");
                while let Err(refused) = producer.push_head(value) {
                    value = refused;
                    patience.retry();
                }
                if id % 10 == 0 {
                    if let Some(value) = producer.pop_head() {
                        assert_eq!(value.id(), id, "pop_head right after pushing {id}");
                        popped.push(id);
                    }
                }
            }
            (producer, popped)
        })
    };
    gate.open();
    let (producer, popped) = joined(producer_thread);
    let mut seen = vec![0u8; n as usize];
    for (i, handle) in stealer_threads.into_iter().enumerate() {
        let taken = handle.join().unwrap();
        assert_increasing(&format!("stealer {i}"), &taken);
        for id in taken {
            seen[id as usize] += 1;
        }
    }
    assert!(!popped.is_empty(), "pop_head never succeeded");
    for &id in &popped {
        seen[id as usize] += 1;
    }
    let wrong: Vec<(usize, u8)> = (seen.iter().enumerate())
        .filter(|&(_, &count)| count != 1)
        .map(|(id, &count)| (id, count))
        .take(8)
        .collect();
    assert!(
        wrong.is_empty(),
        "values not seen exactly once, first (id, times): {wrong:?}"
    );
    assert_eq!(producer.len(), 0);
    ledger.assert_each_dropped_once();
    producer
}

/// Go runs its dequeue and chain tests with 2e6 values.
fn go_test_values() -> u32 {
    scaled(2_000_000, 10) as u32
}

/// Go's dequeue test: a 16-slot ring whose indices start 500 before the
/// 32-bit wraparound.
#[test]
fn one_producer_and_nine_stealers_see_every_dequeue_value_once() {
    let dequeue = PoolDequeue::with_start_index(16, u32::MAX - 499);
    one_producer_nine_stealers(dequeue, go_test_values());
}

/// Go's chain test; afterwards every link but the head has been unlinked
/// by the racing stealers and is freed by the epoch.
#[test]
fn one_producer_and_nine_stealers_see_every_chain_value_once() {
    let n = go_test_values();
    let chain = one_producer_nine_stealers(PoolChain::new(), n);
    let allocated = pin_until(&chain, |slots| slots.is_power_of_two());
    assert!(
        allocated.is_power_of_two(),
        "{allocated} slots allocated after draining: links before the head were not freed"
    );
    // A link refuses a push only after taking at least as many pushes as it
    // has slots, so the links before the head hold at most `n` slots in
    // all, and the head link, twice the one before it, at most about `n`.
    let bound = (n as usize + DEFAULT_FIRST_CAPACITY).next_power_of_two();
    assert!(
        allocated <= bound,
        "a head link of {allocated} slots after {n} pushes"
    );
}

/// Fills a chain with a million values on one thread and drains them from
/// the tail on another: once the epoch has run, exactly the head link's
/// slots remain (the link model says how big that link is), not the
/// million slots the chain grew to.
#[test]
fn a_chain_drained_from_the_tail_frees_every_link_but_the_head() {
    let n = scaled(1_000_000, 4) as u32;
    let ledger = DropLedger::leak(n as usize);
    let chain = PoolChain::new();
    let mut links = ChainLinksModel::new(DEFAULT_FIRST_CAPACITY);
    for id in 0..n {
        chain.push_head(ledger.value(id));
        links.push_head(id);
    }
    assert_eq!(chain.allocated_slots(), links.allocated_ever());
    let stealer = chain.stealer();
    // The links retired on the draining thread reach the epoch's global
    // queue when that thread exits; from there pinning frees them.
    let drainer = thread::spawn(move || {
        for id in 0..n {
            assert_eq!(stealer.pop_tail().map(|v| v.id()), Some(id));
            assert_eq!(links.pop_tail(), Some(id));
        }
        assert!(stealer.pop_tail().is_none());
        links
    });
    let links = drainer.join().unwrap();
    ledger.assert_each_dropped_once();
    let head = links.head_capacity();
    assert!(
        head < n as usize,
        "the model's head link is smaller than the values pushed"
    );
    let allocated = pin_until(&chain, |slots| slots == head);
    assert_eq!(
        allocated, head,
        "slots still allocated once drained, vs the head link's"
    );
}

/// Interleaved producer and stealers: the producer pushes a million values
/// in rounds of 1024 (popping its head now and then) and waits for two
/// stealers to drain each round. No link can then grow past one round
/// (a link that can hold a whole round is never refused within it, not even
/// by a slot a stealer is still vacating), so after the last round and the
/// epoch, a single link of at most 1024 slots remains however many values
/// went through.
#[test]
fn a_chain_drained_round_by_round_keeps_at_most_one_round_of_slots() {
    const ROUND: u32 = 1024;
    const STEALERS: usize = 2;
    let rounds = scaled(1_000_000, 4) as u32 / ROUND;
    let n = rounds * ROUND;
    let ledger = DropLedger::leak(n as usize);
    let chain: PoolChain<Tracked<'static>> = PoolChain::new();
    let gate = Arc::new(StartGate::new());
    let done = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicUsize::new(0));

    let stealer_threads: Vec<_> = (0..STEALERS)
        .map(|_| {
            let stealer = chain.stealer();
            let (gate, done, received) =
                (Arc::clone(&gate), Arc::clone(&done), Arc::clone(&received));
            thread::spawn(move || {
                gate.wait();
                let mut taken = Vec::new();
                loop {
                    // Acquire [producer-done]: as in `one_producer_nine_stealers`.
                    let finished = done.load(Ordering::Acquire);
                    match stealer.pop_tail() {
                        Some(value) => {
                            taken.push(value.id());
                            drop(value);
                            // Release [round-drained]: this pop, including
                            // the slot it vacated, happens-before the
                            // producer's next round.
                            received.fetch_add(1, Ordering::Release);
                        }
                        None if finished => break taken,
                        None => thread::yield_now(),
                    }
                }
            })
        })
        .collect();
    let producer_thread = {
        let (gate, done, received) = (Arc::clone(&gate), Arc::clone(&done), Arc::clone(&received));
        thread::spawn(move || {
            gate.wait();
            // Release [producer-done]: as in `one_producer_nine_stealers`,
            // set on unwinding too.
            let _done = OnDrop(|| done.store(true, Ordering::Release));
            let mut popped = Vec::new();
            for round in 0..rounds {
                for id in round * ROUND..(round + 1) * ROUND {
                    chain.push_head(ledger.value(id));
                    if id % 7 == 0 {
                        if let Some(value) = chain.pop_head() {
                            assert_eq!(value.id(), id, "pop_head right after pushing {id}");
                            popped.push(id);
                        }
                    }
                }
                let pushed = ((round + 1) * ROUND) as usize;
                // A value lost by the chain would keep this wait from ever
                // ending: Patience turns that into a failure.
                let mut patience = Patience::new("the stealers to drain the round");
                // Acquire [round-drained]: pairs with the stealers' Release
                // increments.
                while received.load(Ordering::Acquire) + popped.len() < pushed {
                    patience.retry();
                }
            }
            (chain, popped)
        })
    };
    gate.open();
    let (chain, popped) = joined(producer_thread);
    let mut seen = vec![0u8; n as usize];
    for (i, handle) in stealer_threads.into_iter().enumerate() {
        let taken = handle.join().unwrap();
        assert_increasing(&format!("stealer {i}"), &taken);
        for id in taken {
            seen[id as usize] += 1;
        }
    }
    for &id in &popped {
        seen[id as usize] += 1;
    }
    assert!(
        seen.iter().all(|&count| count == 1),
        "a value was lost or duplicated"
    );
    ledger.assert_each_dropped_once();
    let allocated = pin_until(&chain, |slots| {
        slots.is_power_of_two() && slots <= ROUND as usize
    });
    assert!(
        allocated.is_power_of_two() && allocated <= ROUND as usize,
        "{allocated} slots allocated after rounds of {ROUND} were drained"
    );
}

/// Links are unlinked and retired by whichever stealer finds them drained
/// while other stealers, and the producer walking back from an empty head
/// link, may still be reading them. A chain has only ~log2(n) links, so this
/// drains many small chains in turn (first link of one slot) with three
/// stealers, while the producer pops its head twice after every fourth
/// push. Every value comes out once and is dropped once; under
/// AddressSanitizer (`.ci/sanitizers.sh`) a link freed too early is a
/// use-after-free report.
#[test]
fn many_chains_drained_by_racing_stealers_lose_no_value_across_unlinks() {
    const STEALERS: usize = 3;
    const PER_CHAIN: u32 = 1024;
    let chains = scaled(4096, 16);
    let n = chains as u32 * PER_CHAIN;
    let ledger = DropLedger::leak(n as usize);
    let gate = Arc::new(StartGate::new());
    let finished = Arc::new(AtomicUsize::new(0));
    let producers: Vec<PoolChain<Tracked<'static>>> = (0..chains)
        .map(|_| PoolChain::with_first_capacity(1))
        .collect();

    let stealer_threads: Vec<_> = (0..STEALERS)
        .map(|_| {
            let stealers: Vec<_> = producers.iter().map(PoolChain::stealer).collect();
            let (gate, finished) = (Arc::clone(&gate), Arc::clone(&finished));
            thread::spawn(move || {
                gate.wait();
                let mut taken = Vec::new();
                for (i, stealer) in stealers.iter().enumerate() {
                    loop {
                        // Acquire [producer-done]: pairs with the Release
                        // increment after the producer's last push into
                        // chain `i`.
                        let done = finished.load(Ordering::Acquire) > i;
                        match stealer.pop_tail() {
                            Some(value) => taken.push(value.id()),
                            None if done => break,
                            None => thread::yield_now(),
                        }
                    }
                }
                // Handles are returned, not dropped here: the chains are
                // freed on the main thread after the joins.
                (stealers, taken)
            })
        })
        .collect();
    let producer_thread = {
        let (gate, finished) = (Arc::clone(&gate), Arc::clone(&finished));
        thread::spawn(move || {
            gate.wait();
            // If this thread panics, the stealers waiting for its next
            // chain must not wait forever.
            let _give_up = OnDrop(|| {
                if thread::panicking() {
                    finished.store(usize::MAX, Ordering::Release);
                }
            });
            let mut popped = Vec::new();
            for (i, chain) in producers.iter().enumerate() {
                let first = i as u32 * PER_CHAIN;
                for id in first..first + PER_CHAIN {
                    chain.push_head(ledger.value(id));
                    if id % 4 == 3 {
                        popped.extend(chain.pop_head().map(|v| v.id()));
                        popped.extend(chain.pop_head().map(|v| v.id()));
                    }
                }
                // Release [producer-done]: the pushes into chain `i`
                // happen-before a stealer that sees the count pass `i`.
                finished.fetch_add(1, Ordering::Release);
            }
            (producers, popped)
        })
    };
    gate.open();
    let (producers, popped) = joined(producer_thread);
    let mut seen = vec![0u8; n as usize];
    let mut handles = Vec::new();
    for (i, handle) in stealer_threads.into_iter().enumerate() {
        let (stealers, taken) = handle.join().unwrap();
        assert_increasing(&format!("stealer {i}"), &taken);
        for id in taken {
            seen[id as usize] += 1;
        }
        handles.push(stealers);
    }
    for &id in &popped {
        seen[id as usize] += 1;
    }
    let wrong: Vec<(usize, u8)> = (seen.iter().enumerate())
        .filter(|&(_, &count)| count != 1)
        .map(|(id, &count)| (id, count))
        .take(8)
        .collect();
    assert!(
        wrong.is_empty(),
        "values not seen exactly once, first (id, times): {wrong:?}"
    );
    ledger.assert_each_dropped_once();
    drop((producers, handles));
}

/// Pins the epoch again and again (an empty `pop_tail` pins, and every
/// 128th pin tries to advance the epoch and free retired links) until
/// `enough(allocated_slots)` holds, or a few million pins have passed;
/// returns the last count.
///
/// Only garbage already in the epoch's global queue can be freed this way,
/// so callers unlink links on threads that have exited (which hands their
/// garbage over). The chain must be empty.
fn pin_until<T: Send>(chain: &PoolChain<T>, enough: impl Fn(usize) -> bool) -> usize {
    const PINS: usize = 20_000_000;
    let stealer = chain.stealer();
    for i in 0..PINS {
        let allocated = chain.allocated_slots();
        if enough(allocated) {
            return allocated;
        }
        assert!(stealer.pop_tail().is_none(), "the chain should be empty");
        if i % 128 == 127 {
            thread::yield_now(); // let other tests' pinned threads move on
        }
    }
    chain.allocated_slots()
}

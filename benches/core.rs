//! The lock-free core against the structures a user could build a pool on,
//! side by side in one process (issue 2).
//!
//! Groups (each holds every implementation, run back to back):
//! - `owner-pair/empty`: the owner pushes one value and pops it again on an
//!   otherwise empty structure (the pop takes the last value, so Chase-Lev
//!   style deques pay their "last element" CAS).
//! - `owner-pair/prefilled`: the same pair above 16 values that stay put.
//! - `owner-burst/100`: 100 pushes then 100 pops by the owner (the core of
//!   Go's BenchmarkPoolOverflow).
//! - `owner-push-stealer-pop`: the owner pushes, a second thread pops the
//!   other end; time per value handed over.
//!
//! Implementations: `PoolDequeue` and `PoolChain` (victim-pool),
//! crossbeam-deque's `Worker` (LIFO) with its `Stealer`, crossbeam-queue's
//! `ArrayQueue` of the same capacity as the `PoolDequeue`, and a plain `Vec`
//! (no atomics at all: the floor).
//!
//! `VICTIM_BENCH_QUICK=1` shortens every measurement (a smoke run). The
//! runner `benches/run.sh` turns the results into docs/benchmarks.md.

// criterion_group! and criterion_main! generate undocumented public items.
#![allow(missing_docs)]

#[path = "report/extra.rs"]
mod extra;

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use crossbeam_deque::{Steal, Stealer, Worker};
use crossbeam_queue::ArrayQueue;
use std::hint::black_box;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};
use victim_pool::{ChainStealer, DequeueStealer, PoolChain, PoolDequeue};

/// Ring capacity for the bounded structures in the pair and handoff groups.
const CAPACITY: usize = 1024;
/// Values left underneath the pair in `owner-pair/prefilled`.
const PREFILL: usize = 16;
/// Pushes, then pops, per iteration of `owner-burst/100`.
const BURST: usize = 100;

const DEQUEUE: &str = "victim-pool PoolDequeue";
const CHAIN: &str = "victim-pool PoolChain";
const WORKER: &str = "crossbeam-deque Worker (LIFO)";
const ARRAY_QUEUE: &str = "crossbeam-queue ArrayQueue";
const VEC: &str = "Vec (single-threaded floor)";

/// The payload of the owner-only groups: pointer-sized and with a destructor,
/// like the boxed or `Vec` values a pool holds. It is moved in and out, never
/// reallocated.
type Payload = Box<u64>;

fn quick() -> bool {
    std::env::var_os("VICTIM_BENCH_QUICK").is_some_and(|v| !v.is_empty() && v != "0")
}

fn config() -> Criterion {
    let c = Criterion::default().without_plots();
    if quick() {
        c.warm_up_time(Duration::from_millis(200))
            .measurement_time(Duration::from_millis(500))
            .sample_size(10)
    } else {
        c.warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_millis(2500))
            .sample_size(50)
    }
}

/// The owner-side operations the single-thread groups need.
trait Owner {
    fn push(&mut self, value: Payload);
    fn pop(&mut self) -> Option<Payload>;
}

struct Dequeue(PoolDequeue<Payload>);
impl Owner for Dequeue {
    #[inline]
    fn push(&mut self, value: Payload) {
        self.0
            .push_head(value)
            .expect("dequeue sized for the benchmark");
    }
    #[inline]
    fn pop(&mut self) -> Option<Payload> {
        self.0.pop_head()
    }
}

struct Chain(PoolChain<Payload>);
impl Owner for Chain {
    #[inline]
    fn push(&mut self, value: Payload) {
        self.0.push_head(value);
    }
    #[inline]
    fn pop(&mut self) -> Option<Payload> {
        self.0.pop_head()
    }
}

struct Lifo(Worker<Payload>);
impl Owner for Lifo {
    #[inline]
    fn push(&mut self, value: Payload) {
        self.0.push(value);
    }
    #[inline]
    fn pop(&mut self) -> Option<Payload> {
        self.0.pop()
    }
}

struct Array(ArrayQueue<Payload>);
impl Owner for Array {
    #[inline]
    fn push(&mut self, value: Payload) {
        if self.0.push(value).is_err() {
            panic!("array queue sized for the benchmark");
        }
    }
    #[inline]
    fn pop(&mut self) -> Option<Payload> {
        self.0.pop()
    }
}

struct Plain(Vec<Payload>);
impl Owner for Plain {
    #[inline]
    fn push(&mut self, value: Payload) {
        self.0.push(value);
    }
    #[inline]
    fn pop(&mut self) -> Option<Payload> {
        self.0.pop()
    }
}

/// Builds one implementation's owner handle.
type MakeOwner = Box<dyn FnOnce() -> Box<dyn OwnerBench>>;

/// Every implementation, fresh, with `capacity` slots where it has a bound.
fn owners(capacity: usize) -> Vec<(&'static str, MakeOwner)> {
    vec![
        (
            DEQUEUE,
            Box::new(move || Box::new(Dequeue(PoolDequeue::new(capacity))) as Box<dyn OwnerBench>),
        ),
        (CHAIN, Box::new(|| Box::new(Chain(PoolChain::new())))),
        (WORKER, Box::new(|| Box::new(Lifo(Worker::new_lifo())))),
        (
            ARRAY_QUEUE,
            Box::new(move || Box::new(Array(ArrayQueue::new(capacity)))),
        ),
        (
            VEC,
            Box::new(move || Box::new(Plain(Vec::with_capacity(capacity)))),
        ),
    ]
}

/// The benchmark loops, monomorphized per implementation behind one object
/// so the loops themselves contain no dynamic calls.
trait OwnerBench {
    fn pair(&mut self, group: &mut BenchmarkGroup<'_, WallTime>, name: &str, prefill: usize);
    fn burst(&mut self, group: &mut BenchmarkGroup<'_, WallTime>, name: &str);
}

impl<O: Owner> OwnerBench for O {
    fn pair(&mut self, group: &mut BenchmarkGroup<'_, WallTime>, name: &str, prefill: usize) {
        for i in 0..prefill {
            self.push(Box::new(i as u64));
        }
        let mut value = Some(Box::new(7_u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                self.push(value.take().expect("the pair returns its value"));
                value = black_box(self.pop());
            })
        });
        assert!(value.is_some(), "{name}: the pop returned nothing");
        for _ in 0..prefill {
            assert!(
                self.pop().is_some(),
                "{name}: a prefilled value went missing"
            );
        }
        assert!(
            self.pop().is_none(),
            "{name}: more values came out than went in"
        );
    }

    fn burst(&mut self, group: &mut BenchmarkGroup<'_, WallTime>, name: &str) {
        let mut values: Vec<Payload> = (0..BURST as u64).map(Box::new).collect();
        group.bench_function(name, |b| {
            b.iter(|| {
                for value in values.drain(..) {
                    self.push(value);
                }
                for _ in 0..BURST {
                    values.push(black_box(self.pop()).expect("burst pops what it pushed"));
                }
            })
        });
        assert_eq!(values.len(), BURST, "{name}: values lost in the burst");
        assert!(
            self.pop().is_none(),
            "{name}: more values came out than went in"
        );
    }
}

/// The report's row order for every group: ours first, the dequeue being the
/// reference for ratios.
fn order_rows(group_name: &str) {
    extra::row_order(group_name, &[DEQUEUE, CHAIN, WORKER, ARRAY_QUEUE, VEC]);
}

fn owner_pair(c: &mut Criterion, prefill: usize, group_name: &str, description: &str) {
    extra::describe_group(group_name, description);
    order_rows(group_name);
    let mut group = c.benchmark_group(group_name);
    for (name, make) in owners(CAPACITY) {
        make().pair(&mut group, name, prefill);
    }
    group.finish();
}

fn owner_pairs(c: &mut Criterion) {
    owner_pair(
        c,
        0,
        "owner-pair/empty",
        "One iteration: the owner pushes a `Box<u64>` and pops it back, on an \
         otherwise empty structure (the pop takes the last value). Bounded \
         structures have 1024 slots. Locked instructions per pair on x86-64 \
         (read from the compiled code): victim-pool 2 (push's fetch_add on the \
         packed head/tail word, pop's CAS on it); crossbeam-deque's LIFO \
         Worker 2 here (pop's SeqCst fence, and a CAS because it takes the \
         last value; its push is a plain store); ArrayQueue 2 (a CAS each); \
         Vec 0.",
    );
    owner_pair(
        c,
        PREFILL,
        "owner-pair/prefilled",
        "As `owner-pair/empty`, but 16 values stay underneath, so the pop \
         never takes the last value. crossbeam-deque's Worker now needs one \
         locked instruction per pair (the fence), victim-pool still two: with \
         Go's single head/tail word, which stealers CAS, the owner cannot \
         publish a push with a plain store.",
    );
}

fn owner_burst(c: &mut Criterion) {
    let group_name = "owner-burst/100";
    extra::describe_group(
        group_name,
        "One iteration: the owner pushes 100 `Box<u64>` values, then pops \
         100 (the core of Go's BenchmarkPoolOverflow). Bounded structures \
         have 128 slots; the chain keeps its links between iterations.",
    );
    order_rows(group_name);
    let mut group = c.benchmark_group(group_name);
    for (name, make) in owners(BURST.next_power_of_two()) {
        make().burst(&mut group, name);
    }
    group.finish();
}

/// A single-producer structure split into the owner's and a stealer's end.
trait Handoff {
    type Producer;
    type Consumer: Send + Sync;
    fn split() -> (Self::Producer, Self::Consumer);
    fn push(producer: &Self::Producer, value: usize) -> Result<(), usize>;
    fn pop(consumer: &Self::Consumer) -> Option<usize>;
}

struct DequeueHandoff;
impl Handoff for DequeueHandoff {
    type Producer = PoolDequeue<usize>;
    type Consumer = DequeueStealer<usize>;
    fn split() -> (Self::Producer, Self::Consumer) {
        let dequeue = PoolDequeue::new(CAPACITY);
        let stealer = dequeue.stealer();
        (dequeue, stealer)
    }
    #[inline]
    fn push(producer: &Self::Producer, value: usize) -> Result<(), usize> {
        producer.push_head(value)
    }
    #[inline]
    fn pop(consumer: &Self::Consumer) -> Option<usize> {
        consumer.pop_tail()
    }
}

struct ChainHandoff;
impl Handoff for ChainHandoff {
    type Producer = PoolChain<usize>;
    type Consumer = ChainStealer<usize>;
    fn split() -> (Self::Producer, Self::Consumer) {
        let chain = PoolChain::new();
        let stealer = chain.stealer();
        (chain, stealer)
    }
    #[inline]
    fn push(producer: &Self::Producer, value: usize) -> Result<(), usize> {
        producer.push_head(value);
        Ok(())
    }
    #[inline]
    fn pop(consumer: &Self::Consumer) -> Option<usize> {
        consumer.pop_tail()
    }
}

struct WorkerHandoff;
impl Handoff for WorkerHandoff {
    type Producer = Worker<usize>;
    type Consumer = Stealer<usize>;
    fn split() -> (Self::Producer, Self::Consumer) {
        let worker = Worker::new_lifo();
        let stealer = worker.stealer();
        (worker, stealer)
    }
    #[inline]
    fn push(producer: &Self::Producer, value: usize) -> Result<(), usize> {
        producer.push(value);
        Ok(())
    }
    #[inline]
    fn pop(consumer: &Self::Consumer) -> Option<usize> {
        loop {
            match consumer.steal() {
                Steal::Success(value) => return Some(value),
                Steal::Empty => return None,
                Steal::Retry => {}
            }
        }
    }
}

struct ArrayHandoff;
impl Handoff for ArrayHandoff {
    type Producer = std::sync::Arc<ArrayQueue<usize>>;
    type Consumer = std::sync::Arc<ArrayQueue<usize>>;
    fn split() -> (Self::Producer, Self::Consumer) {
        let queue = std::sync::Arc::new(ArrayQueue::new(CAPACITY));
        (queue.clone(), queue)
    }
    #[inline]
    fn push(producer: &Self::Producer, value: usize) -> Result<(), usize> {
        producer.push(value)
    }
    #[inline]
    fn pop(consumer: &Self::Consumer) -> Option<usize> {
        consumer.pop()
    }
}

/// Spins a little, then yields: the machine is shared and may have fewer
/// free cores than threads here.
#[inline]
fn back_off(failures: &mut u32) {
    *failures += 1;
    if *failures < 64 {
        std::hint::spin_loop();
    } else {
        thread::yield_now();
    }
}

/// Hands `count` values from this thread to a fresh stealer thread and
/// returns the time from the start gate until the stealer has the last one.
fn hand_over<H: Handoff>(count: u64) -> Duration {
    let (producer, consumer) = H::split();
    let gate = Barrier::new(2);
    thread::scope(|s| {
        let stealer = s.spawn(|| {
            gate.wait();
            let (mut received, mut sum, mut failures) = (0_u64, 0_u64, 0);
            while received < count {
                match H::pop(&consumer) {
                    Some(value) => {
                        received += 1;
                        sum = sum.wrapping_add(value as u64);
                        failures = 0;
                    }
                    None => back_off(&mut failures),
                }
            }
            (Instant::now(), sum)
        });
        gate.wait();
        let start = Instant::now();
        for i in 0..count as usize {
            let mut value = i;
            let mut failures = 0;
            while let Err(back) = H::push(&producer, value) {
                value = back;
                back_off(&mut failures);
            }
        }
        let (end, sum) = stealer.join().expect("the stealer thread panicked");
        let expected = (0..count).fold(0_u64, u64::wrapping_add);
        assert_eq!(
            sum, expected,
            "values were lost or duplicated in the handoff"
        );
        assert!(
            H::pop(&consumer).is_none(),
            "the handoff produced extra values"
        );
        end.duration_since(start)
    })
}

fn owner_push_stealer_pop(c: &mut Criterion) {
    let group_name = "owner-push-stealer-pop";
    extra::describe_group(
        group_name,
        "Time per value handed over: the owner pushes `usize` values (retrying \
         while a bounded structure is full), a second thread pops the other end \
         until it has them all. Bounded structures have 1024 slots; the chain \
         and the Worker grow. Both threads spin; when the stealer is \
         descheduled, a bounded structure fills and the owner waits, so on a \
         loaded 2-core machine this group is the noisiest (compare the \
         fastest samples).",
    );
    order_rows(group_name);
    let mut group = c.benchmark_group(group_name);
    group.bench_function(DEQUEUE, |b| b.iter_custom(hand_over::<DequeueHandoff>));
    group.bench_function(CHAIN, |b| b.iter_custom(hand_over::<ChainHandoff>));
    group.bench_function(WORKER, |b| b.iter_custom(hand_over::<WorkerHandoff>));
    group.bench_function(ARRAY_QUEUE, |b| b.iter_custom(hand_over::<ArrayHandoff>));
    extra::not_expressible(group_name, VEC, "single-threaded: no second end");
    group.finish();
}

criterion_group! {
    name = core;
    config = config();
    targets = owner_pairs, owner_burst, owner_push_stealer_pop
}
criterion_main!(core);

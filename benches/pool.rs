//! `Pool` against Go's `sync.Pool` and the Rust pools a user could pick
//! instead, under the workloads of issue 5, side by side in one process.
//!
//! Workloads (group ids are `<workload>/<payload>/<threads>t`, the names
//! `benches/go/pool_bench_test.go` uses, so Go's rows join the tables):
//!
//! 1. `pool`: each thread repeats put + take (+ touch) on one value (Go's
//!    BenchmarkPool), at 1, 2 and 8 threads.
//!    `get-guard`: on one thread, `get()`, a write through the guard and the
//!    guard's drop, beside victim-pool's own take + put, the floor and
//!    regex-automata's guard (issue 11).
//! 2. `overflow`: each thread puts 100 values, then takes 100.
//! 3. `starvation`: each thread puts 67 of its 100 values back, drops 33,
//!    then takes 100: a third of the takes must steal or create.
//! 4. `handoff-1to1`, `handoff-1to3`: one producer takes, touches and sends
//!    values over bounded channels to one or three consumers, which touch
//!    them and put them back. Per-thread free lists strand values on the
//!    consumers here; creates per operation show it.
//! 5. `expensive-create`: creating a value sleeps 1 ms (as Go's side does);
//!    each thread takes 100 values, then puts them back, while victim-pool
//!    is aged by a [`Sweeper`] every 10 ms.
//! 6. `cleanup-pause` (a custom measurement, not criterion's): a cleanup of
//!    100,000 pooled values while another thread times its put + take pairs.
//! 7. `burst-then-idle` (custom): 10,000 values out at once, all back, then
//!    0..3 cleanups; values and bytes the pool still holds.
//! 8. `thread-scaling/{miss,starvation,handoff,memory}` (custom, issue 10):
//!    T = 2..512 live threads that touched the pool: a miss, Go's
//!    starvation loop, a one-producer handoff, and heap bytes per
//!    (thread x pool), counted by the binary's global allocator.
//! 9. `put-take-instructions`, `get-guard-instructions` (custom):
//!    instructions per pair (of the pool and get-guard loops) under
//!    `valgrind --tool=callgrind`, and the share of victim-pool's statistics
//!    counters in them (issue 4).
//!
//! Payloads: `small` is a boxed 32-byte struct (Go pools a `*small`), `buf4k`
//! a zeroed 4096-byte `Vec<u8>`, `box-u64` a `Box<u64>` (Go: `*uint64`).
//! "Touch" increments the first byte or field after every take; handoff
//! consumers increment the second.
//!
//! Contenders, in row order: victim-pool's `Pool` (`take`/`put`); a
//! `thread_local!` `RefCell<Vec<T>>` free list (the floor: no sharing, no
//! atomics); a pool of crossbeam-deque `Worker`s with their `Stealer`s (the
//! ablation: per-thread LIFO stacks with stealing, but no private slot and no
//! victim cache); regex-automata's `util::pool::Pool`; lockfree-object-pool's
//! `LinearObjectPool`; opool's concurrent `Pool` (bounded, 1024 values);
//! object-pool's `Pool` (a `Mutex<Vec<T>>`); and plain allocation of the same
//! bytes, through the system allocator and through mimalloc. mimalloc cannot
//! be a second `#[global_allocator]` in this process, so its row calls
//! `MiMalloc`'s `GlobalAlloc` methods directly for the payload's heap block,
//! and the system row makes exactly the same calls on `System`.
//!
//! Multi-threaded groups keep their threads for a whole row (a "crew"): each
//! sample hands every thread its share of the iterations and times the wall
//! clock from release to the last thread's finish, so, as in Go's
//! RunParallel, the time per iteration is wall time over all threads' work.
//!
//! `VICTIM_BENCH_QUICK=1` shortens everything (a smoke run). Positional
//! arguments filter the criterion benchmarks as usual and the custom groups
//! by substring. `benches/run.sh` turns the results into docs/benchmarks.md.

#[path = "report/extra.rs"]
mod extra;
#[path = "pool/payloads.rs"]
mod payloads;
use payloads::*;
#[path = "pool/contenders.rs"]
mod contenders;
use contenders::*;
#[path = "pool/crews.rs"]
mod crews;
use crews::*;
#[path = "pool/handoff.rs"]
mod handoff;
use handoff::*;
#[path = "pool/cleanup_pause.rs"]
mod cleanup_pause;
use cleanup_pause::*;
#[path = "pool/burst_then_idle.rs"]
mod burst_then_idle;
use burst_then_idle::*;
#[path = "pool/instructions.rs"]
mod instructions;
use instructions::*;
#[path = "pool/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::*;
#[path = "pool/thread_scaling.rs"]
mod thread_scaling;
use thread_scaling::*;
#[path = "pool/scaling_memory.rs"]
mod scaling_memory;
use scaling_memory::*;

/// Counts live bytes for `thread-scaling/memory`, only while it measures.
#[global_allocator]
static ALLOCATOR: Counting = Counting;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode};
use crossbeam_deque::{Steal, Stealer, Worker};
use crossbeam_queue::ArrayQueue;
use lockfree_object_pool::{LinearObjectPool, LinearReusable};
use mimalloc::MiMalloc;
use object_pool::Reusable;
use opool::{PoolAllocator, RefGuard};
use std::alloc::{handle_alloc_error, GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::hint::black_box;
use std::io::Write as _;
use std::marker::PhantomData;
use std::path::Path;
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Barrier, Condvar, Mutex, MutexGuard, RwLock};
use std::thread::{self, LocalKey, Thread};
use std::time::{Duration, Instant};
use victim_pool::{Pool, PoolGuard, PoolStats, Sweeper};

// ------------------------------------------------------------------ settings

/// Ops between puts and takes in `overflow` and `starvation`.
const BURST: usize = 100;
/// Values a `starvation` iteration puts back (Go: 100 less a third).
const STARVED_PUTS: usize = 67;
/// Values in flight between producer and consumers in `handoff` (Go's
/// channel capacity), split evenly over the consumers' channels.
const HANDOFF_IN_FLIGHT: usize = 64;
/// What creating a value costs in `expensive-create` (Go's side sleeps as long).
const EXPENSIVE_CREATE: Duration = Duration::from_millis(1);
/// The sweep interval in `expensive-create` (Go's ticking variant).
const SWEEP_INTERVAL: Duration = Duration::from_millis(10);
/// Values held at once in `expensive-create`.
const EXPENSIVE_HELD: usize = 100;
/// Values pooled before each measured cleanup in `cleanup-pause`.
const PAUSE_POOLED: usize = 100_000;
/// Values live at once in `burst-then-idle`.
const BURST_VALUES: usize = 10_000;
/// Cleanups after the burst: 0..=this.
const IDLE_CLEANUPS: usize = 3;
/// opool's pool is a bounded queue; this is its size here.
const OPOOL_CAPACITY: usize = 1024;
/// The bytes of a `buf4k` payload.
const BUF_SIZE: usize = 4096;
/// Set in the child process that callgrind runs: `<contender index>:<pairs>`.
const CALLGRIND_VAR: &str = "VICTIM_POOL_BENCH_CALLGRIND";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `cargo test --benches`: run everything once, tiny.
    Test,
    /// `VICTIM_BENCH_QUICK=1`: short measurements.
    Quick,
    Full,
}

fn mode() -> Mode {
    let quick = std::env::var_os("VICTIM_BENCH_QUICK").is_some_and(|v| !v.is_empty() && v != "0");
    if !std::env::args().any(|a| a == "--bench") {
        Mode::Test
    } else if quick {
        Mode::Quick
    } else {
        Mode::Full
    }
}

/// Positional command-line arguments: criterion takes one as a regular
/// expression; the custom groups run when there is none, or when their id
/// matches one alternative of an argument read as `a|^b|c`: a literal that
/// the id contains, or starts with if it begins with `^` (the part of regex
/// syntax that picks groups).
fn selected(group_id: &str) -> bool {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    filters.is_empty()
        || filters
            .iter()
            .flat_map(|f| f.split('|'))
            .any(|alternative| match alternative.strip_prefix('^') {
                Some(prefix) => group_id.starts_with(prefix),
                None => group_id.contains(alternative),
            })
}

fn config() -> Criterion {
    let c = Criterion::default().without_plots();
    match mode() {
        Mode::Quick => c
            .warm_up_time(Duration::from_millis(150))
            .measurement_time(Duration::from_millis(400))
            .sample_size(10),
        _ => c
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_millis(1500))
            .sample_size(30),
    }
}

// ------------------------------------------------------------------ loops

/// `n` put + take pairs after one take: Go's BenchmarkPool loop.
#[inline(never)]
fn pairs<'c, C: Contender>(c: &'c C, handle: &mut C::Handle<'c>, n: u64) {
    let mut held = c.take(handle);
    C::touch(&mut held);
    for _ in 0..n {
        c.put(handle, held);
        held = c.take(handle);
        C::touch(&mut held);
        black_box(&mut held);
    }
    c.put(handle, held);
}

/// `n` iterations of: put `puts` of the `takes` held values back, drop the
/// rest, take `takes` again.
fn puts_then_takes<'c, C: Contender>(
    c: &'c C,
    handle: &mut C::Handle<'c>,
    n: u64,
    puts: usize,
    takes: usize,
) {
    let mut held: Vec<C::Held<'c>> = Vec::with_capacity(takes);
    for _ in 0..takes {
        let mut value = c.take(handle);
        C::touch(&mut value);
        held.push(value);
    }
    for _ in 0..n {
        for (i, value) in held.drain(..).enumerate() {
            if i < puts {
                c.put(handle, value);
            } else {
                C::discard(value);
            }
        }
        for _ in 0..takes {
            let mut value = c.take(handle);
            C::touch(&mut value);
            held.push(value);
        }
        black_box(&mut held);
    }
    for value in held {
        c.put(handle, value);
    }
}

/// `n` iterations of: take [`EXPENSIVE_HELD`] values, put them all back.
fn hold_then_return<'c, C: Contender>(c: &'c C, handle: &mut C::Handle<'c>, n: u64) {
    let mut held: Vec<C::Held<'c>> = Vec::with_capacity(EXPENSIVE_HELD);
    for _ in 0..n {
        for _ in 0..EXPENSIVE_HELD {
            held.push(c.take(handle));
        }
        black_box(&mut held);
        for value in held.drain(..) {
            c.put(handle, value);
        }
    }
}

// ------------------------------------------------------------------ throughput groups

#[derive(Clone, Copy)]
enum Shape {
    Pairs,
    PutsThenTakes { puts: usize },
    HoldThenReturn,
}

struct Throughput<'a, 'g> {
    group: &'a mut BenchmarkGroup<'g, WallTime>,
    records: &'a mut Records,
    threads: usize,
    shape: Shape,
}

impl<P: Payload> Visit<P> for Throughput<'_, '_> {
    fn visit<C: Contender<Payload = P>>(&mut self) {
        let discards = matches!(self.shape, Shape::PutsThenTakes { puts } if puts < BURST);
        if let (true, Some(reason)) = (discards, C::CANNOT_DISCARD) {
            self.records.not_expressible(C::NAME, reason);
            return;
        }
        let c = C::make();
        let sweeper = match self.shape {
            Shape::HoldThenReturn => c.start_sweeper(SWEEP_INTERVAL),
            _ => None,
        };
        let shape = self.shape;
        let group = &mut *self.group;
        let tally = with_crew(
            &c,
            self.threads,
            |c, handle, n| match shape {
                Shape::Pairs => pairs(c, handle, n),
                Shape::PutsThenTakes { puts } => puts_then_takes(c, handle, n, puts, BURST),
                Shape::HoldThenReturn => hold_then_return(c, handle, n),
            },
            |run| {
                group.bench_function(C::NAME, |b| b.iter_custom(&mut *run));
            },
        );
        drop(sweeper);
        let creates = creates_of(&c, tally.creates);
        let metrics = vec![("creates/op", per_op(creates, tally.ops))];
        self.records.metrics(C::NAME, tally.timed, metrics);
    }
}

fn throughput<P: Payload>(
    c: &mut Criterion,
    workload: &str,
    threads: usize,
    shape: Shape,
    description: &str,
) {
    throughput_of::<P, Everyone>(c, workload, threads, shape, description);
}

/// A throughput group whose rows are roster `R`'s contenders.
fn throughput_of<P: Payload, R: Roster>(
    c: &mut Criterion,
    workload: &str,
    threads: usize,
    shape: Shape,
    description: &str,
) {
    let id = format!("{workload}/{}/{threads}t", P::VARIANT);
    let mut group = c.benchmark_group(&id);
    let mut records = Records::new(id);
    if matches!(shape, Shape::HoldThenReturn) {
        // An iteration may create 100 values at 1 ms each.
        group.sampling_mode(SamplingMode::Flat).sample_size(10);
        if mode() == Mode::Full {
            group.measurement_time(Duration::from_secs(2));
        }
    }
    R::each::<P>(&mut Throughput {
        group: &mut group,
        records: &mut records,
        threads,
        shape,
    });
    group.finish();
    records.write(description, &roster_names::<P, R>());
}

const PAYLOAD_NOTE: &str = "`small` is a boxed 32-byte struct, `buf4k` a zeroed 4 KiB \
    `Vec<u8>`; every take is followed by a write to the value. `creates/op`: calls of the \
    create function over all iterations of the row (warm-up included) per iteration; for \
    victim-pool it is `Pool::stats().created`, checked against the create function's count.";

fn pool_groups(c: &mut Criterion) {
    for threads in [1, 2, 8] {
        let text = format!(
            "One iteration: one put and one take (Go's BenchmarkPool), on each of {threads} \
             thread(s); the time is wall time over all threads' iterations (as Go's \
             RunParallel). {PAYLOAD_NOTE}{}",
            if threads > 2 {
                " More threads than the machine's 2 cores."
            } else {
                ""
            }
        );
        throughput::<Box<Small>>(c, "pool", threads, Shape::Pairs, &text);
        throughput::<Vec<u8>>(c, "pool", threads, Shape::Pairs, &text);
    }
}

fn get_guard_groups(c: &mut Criterion) {
    let text = "One iteration: `get()`, a write through the guard, and the guard's drop, \
        which gives the value back (issue 11), on one thread. Rows: victim-pool's guard; \
        victim-pool's moving `take()` + `put()` of the same value, for comparison; the \
        `thread_local!` `RefCell<Vec<T>>` free list (pop, write, push: the floor); \
        regex-automata's `util::pool::Pool::get()` and its guard's drop (its owner thread's \
        fast path); Go's row: `Get`, a write, `Put` (`*uint64` for `box-u64`, `*[]byte` for \
        `buf4k`), at GOMAXPROCS 1. `box-u64` is a `Box<u64>`, `buf4k` a zeroed 4 KiB \
        `Vec<u8>`. `creates/op`: calls of the create function over all iterations of the row \
        (warm-up included) per iteration.";
    throughput_of::<Box<u64>, GuardRows>(c, "get-guard", 1, Shape::Pairs, text);
    throughput_of::<Vec<u8>, GuardRows>(c, "get-guard", 1, Shape::Pairs, text);
}

fn overflow_groups(c: &mut Criterion) {
    for threads in [1, 2] {
        let text = format!(
            "One iteration: 100 puts, then 100 takes (Go's BenchmarkPoolOverflow), on each of \
             {threads} thread(s). {PAYLOAD_NOTE}"
        );
        let shape = Shape::PutsThenTakes { puts: BURST };
        throughput::<Box<Small>>(c, "overflow", threads, shape, &text);
        throughput::<Vec<u8>>(c, "overflow", threads, shape, &text);
    }
}

fn starvation_groups(c: &mut Criterion) {
    for threads in [1, 2] {
        let text = format!(
            "One iteration: 67 of the 100 held values are put back and 33 dropped, then 100 \
             takes (Go's BenchmarkPoolStarvation), on each of {threads} thread(s): a third \
             of the takes must steal or create. {PAYLOAD_NOTE}"
        );
        let shape = Shape::PutsThenTakes { puts: STARVED_PUTS };
        throughput::<Box<Small>>(c, "starvation", threads, shape, &text);
        throughput::<Vec<u8>>(c, "starvation", threads, shape, &text);
    }
}

fn expensive_groups(c: &mut Criterion) {
    for threads in [1, 2] {
        let text = format!(
            "One iteration: a thread takes 100 values, then puts them back, on each of \
             {threads} thread(s); creating a value sleeps 1 ms (a `small` after it). \
             victim-pool is registered and aged by a `Sweeper` every 10 ms; Go's row runs \
             `runtime.GC()` every 10 ms with the automatic GC off. The other pools have no \
             cleanup, so they keep every value (see burst-then-idle), and plain allocation \
             pays the 1 ms on every take."
        );
        throughput::<Expensive>(c, "expensive-create", threads, Shape::HoldThenReturn, &text);
    }
}

// ------------------------------------------------------------------ main

fn main() {
    if let Some(spec) = std::env::var_os(CALLGRIND_VAR) {
        callgrind_child_from(&spec.to_string_lossy());
        return;
    }
    let mut c = config().configure_from_args();
    thread_scaling();
    pool_groups(&mut c);
    get_guard_groups(&mut c);
    overflow_groups(&mut c);
    starvation_groups(&mut c);
    handoff_groups(&mut c);
    expensive_groups(&mut c);
    cleanup_pause();
    burst_then_idle();
    instructions();
    c.final_summary();
}

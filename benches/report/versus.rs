//! The single-thread loops of `docs/benchmarks.md`, the pool's and the
//! core's (and the benchmark's put-take loop with `try_take`), run by two
//! versions of the library in
//! one process, interleaved round by round: `then` (an older
//! commit) and `now` (this checkout). Built and run by `versus.sh`, which
//! supplies both as dependencies; not a target of this crate.
//!
//! Both versions see the same loop code, compiled in the same crate, so a
//! ratio moves only with the library. Medians of `ROUNDS` rounds (argument 1,
//! default 11); a shared machine's drift hits both columns alike.

use std::hint::black_box;
use std::time::Instant;

/// The loops, written once and compiled against each version.
macro_rules! loops {
    ($module:ident, $krate:ident) => {
        mod $module {
            use super::*;
            use $krate::{Pool, PoolChain, PoolDequeue};

            type Small = Box<[u64; 4]>;

            /// The owner's side of the core's two structures, as in
            /// `benches/core.rs`.
            trait Owner {
                fn push(&self, value: Box<u64>);
                fn pop(&self) -> Option<Box<u64>>;
            }

            impl Owner for PoolDequeue<Box<u64>> {
                #[inline]
                fn push(&self, value: Box<u64>) {
                    self.push_head(value).expect("the ring has room");
                }
                #[inline]
                fn pop(&self) -> Option<Box<u64>> {
                    self.pop_head()
                }
            }

            impl Owner for PoolChain<Box<u64>> {
                #[inline]
                fn push(&self, value: Box<u64>) {
                    self.push_head(value);
                }
                #[inline]
                fn pop(&self) -> Option<Box<u64>> {
                    self.pop_head()
                }
            }

            pub struct Pools {
                small: Pool<Small>,
                buf: Pool<Vec<u8>>,
                word: Pool<Box<u64>>,
                held: Vec<Small>,
                held_buf: Vec<Vec<u8>>,
                dequeue: PoolDequeue<Box<u64>>,
                chain: PoolChain<Box<u64>>,
                burst_dequeue: PoolDequeue<Box<u64>>,
                burst_values: Vec<Box<u64>>,
                empty: Pool<Small>,
            }

            pub fn pools() -> Pools {
                let small: Pool<Small> = Pool::new((|| Box::new([0; 4])) as fn() -> Small);
                let held = (0..100).map(|_| small.take()).collect();
                let buf = Pool::new((|| vec![0u8; 4096]) as fn() -> Vec<u8>);
                let held_buf = (0..100).map(|_| buf.take()).collect();
                Pools {
                    small,
                    buf,
                    word: Pool::new((|| Box::new(0)) as fn() -> Box<u64>),
                    held,
                    held_buf,
                    dequeue: PoolDequeue::new(1024),
                    chain: PoolChain::new(),
                    burst_dequeue: PoolDequeue::new(128),
                    burst_values: (0..100).map(Box::new).collect(),
                    empty: Pool::new((|| Box::new([0; 4])) as fn() -> Small),
                }
            }

            /// `owner-pair`: push a value and pop it back, `n` times, above
            /// `prefill` values that stay (pushed first, popped after).
            #[inline(never)]
            fn owner_pair(owner: &impl Owner, n: u64, prefill: u64) {
                (0..prefill).for_each(|i| owner.push(Box::new(i)));
                let mut value = Some(Box::new(7));
                for _ in 0..n {
                    owner.push(value.take().expect("the pair returns its value"));
                    value = black_box(owner.pop());
                }
                for _ in 0..prefill {
                    owner.pop().expect("a prefilled value");
                }
            }

            /// `owner-burst/100`: 100 pushes, then 100 pops, `rounds` times.
            #[inline(never)]
            fn owner_burst(owner: &impl Owner, values: &mut Vec<Box<u64>>, rounds: u64) {
                for _ in 0..rounds {
                    for value in values.drain(..) {
                        owner.push(value);
                    }
                    for _ in 0..100 {
                        values.push(black_box(owner.pop()).expect("the burst's value"));
                    }
                }
            }

            /// Take, write through `touch`, put back: `n` times.
            #[inline(never)]
            fn take_put<T>(pool: &Pool<T>, n: u64, touch: impl Fn(&mut T)) {
                for _ in 0..n {
                    let mut value = pool.take();
                    touch(&mut value);
                    pool.put(black_box(value));
                }
            }

            /// `benches/pool.rs`'s loop: put the held value back, take
            /// (`take`: `Pool::take` or `Pool::try_take`), write through
            /// `touch`, `n` times (the value stays in a variable whose
            /// address escapes, as there).
            #[inline(never)]
            fn pairs<T>(
                pool: &Pool<T>,
                n: u64,
                take: impl Fn(&Pool<T>) -> T,
                touch: impl Fn(&mut T),
            ) {
                let mut held = pool.take();
                touch(&mut held);
                for _ in 0..n {
                    pool.put(held);
                    held = take(pool);
                    touch(&mut held);
                    black_box(&mut held);
                }
                pool.put(held);
            }

            /// `Pool::try_take`, for a value that is there.
            fn try_take<T>(pool: &Pool<T>) -> T {
                pool.try_take().expect("the value just put")
            }

            /// Get, write through `touch`, drop the guard: `n` times.
            #[inline(never)]
            fn get<T>(pool: &Pool<T>, n: u64, touch: impl Fn(&mut T)) {
                for _ in 0..n {
                    let mut guard = pool.get();
                    touch(&mut guard);
                    black_box(&mut guard);
                }
            }

            /// `try_take` on a pool that holds nothing: `n` misses.
            #[inline(never)]
            fn misses(pool: &Pool<Small>, n: u64) {
                for _ in 0..n {
                    assert!(black_box(pool.try_take()).is_none(), "the pool stays empty");
                }
            }

            #[inline(never)]
            fn overflow<T>(
                pool: &Pool<T>,
                held: &mut Vec<T>,
                rounds: u64,
                touch: impl Fn(&mut T),
            ) {
                for _ in 0..rounds {
                    for value in held.drain(..) {
                        pool.put(value);
                    }
                    for _ in 0..100 {
                        let mut value = pool.take();
                        touch(&mut value);
                        held.push(value);
                    }
                    black_box(&mut *held);
                }
            }

            /// `overflow` on this thread and on a second one at once, on
            /// the same pool (each with its own held values).
            fn overflow_2t(pool: &Pool<Small>, rounds: u64) {
                std::thread::scope(|s| {
                    for _ in 0..2 {
                        s.spawn(|| {
                            let mut held: Vec<Small> = (0..100).map(|_| pool.take()).collect();
                            overflow(pool, &mut held, rounds, |value| value[1] += 1);
                            for value in held {
                                pool.put(value);
                            }
                        });
                    }
                });
            }

            /// Nanoseconds per iteration of loop `which` (per 100 + 100 for
            /// the overflow loop).
            pub fn run(pools: &mut Pools, which: usize, n: u64) -> f64 {
                let start = Instant::now();
                match which {
                    0 => take_put(&pools.small, n, |value| value[0] += 1),
                    1 => take_put(&pools.buf, n, |value| value[0] += 1),
                    2 => get(&pools.word, n, |value| **value += 1),
                    3 => get(&pools.buf, n, |value| value[0] += 1),
                    4 => overflow(&pools.small, &mut pools.held, n / 100, |value| value[1] += 1),
                    5 => pairs(&pools.small, n, Pool::take, |value| value[0] += 1),
                    6 => pairs(&pools.buf, n, Pool::take, |value| value[0] += 1),
                    7 => overflow(&pools.buf, &mut pools.held_buf, n / 100, |value| value[1] += 1),
                    8 => overflow_2t(&pools.small, n / 100),
                    9 => pairs(&pools.small, n, try_take, |value| value[0] += 1),
                    10 => pairs(&pools.buf, n, try_take, |value| value[0] += 1),
                    11 => owner_pair(&pools.dequeue, n, 0),
                    12 => owner_pair(&pools.chain, n, 0),
                    13 => owner_pair(&pools.dequeue, n, 16),
                    14 => owner_pair(&pools.chain, n, 16),
                    15 => owner_burst(&pools.burst_dequeue, &mut pools.burst_values, n / 100),
                    16 => owner_burst(&pools.chain, &mut pools.burst_values, n / 100),
                    _ => misses(&pools.empty, n),
                }
                let per = if per_round(which) { 100.0 } else { 1.0 };
                start.elapsed().as_nanos() as f64 / n as f64 * per
            }
        }
    };
}

loops!(then, victim_pool_then);
loops!(now, victim_pool);

const LOOPS: [&str; 18] = [
    "take + write + put, boxed 32 B (`pool/small/1t`)",
    "take + write + put, 4 KiB `Vec<u8>` (`pool/buf4k/1t`)",
    "get + write + guard drop, `Box<u64>` (`get-guard/box-u64/1t`)",
    "get + write + guard drop, 4 KiB `Vec<u8>` (`get-guard/buf4k/1t`)",
    "100 puts, then 100 takes, boxed 32 B (`overflow/small/1t`)",
    "put + take + write, boxed 32 B, the benchmark's loop (`pool/small/1t`)",
    "put + take + write, 4 KiB `Vec<u8>`, the benchmark's loop (`pool/buf4k/1t`)",
    "100 puts, then 100 takes, 4 KiB `Vec<u8>` (`overflow/buf4k/1t`)",
    "100 puts, then 100 takes, boxed 32 B, on 2 threads at once (`overflow/small/2t`; wall time)",
    "put + `try_take` + write, boxed 32 B (the loop of `pool/small/1t` with `try_take`)",
    "put + `try_take` + write, 4 KiB `Vec<u8>` (the loop of `pool/buf4k/1t` with `try_take`)",
    "owner push + pop, `PoolDequeue` (`owner-pair/empty`)",
    "owner push + pop, `PoolChain` (`owner-pair/empty`)",
    "owner push + pop above 16 values, `PoolDequeue` (`owner-pair/prefilled`)",
    "owner push + pop above 16 values, `PoolChain` (`owner-pair/prefilled`)",
    "owner 100 pushes, then 100 pops, `PoolDequeue` (`owner-burst/100`)",
    "owner 100 pushes, then 100 pops, `PoolChain` (`owner-burst/100`)",
    "`try_take` on an empty pool, 1 thread (`thread-scaling/miss` without other threads)",
];

/// Whether loop `which` is timed per 100 + 100 (in µs), not per iteration.
fn per_round(which: usize) -> bool {
    matches!(which, 4 | 7 | 8 | 15 | 16)
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[samples.len() / 2]
}

fn main() {
    let rounds: usize = std::env::args().nth(1).map_or(11, |a| a.parse().expect("rounds"));
    let then_rev = std::env::var("VERSUS_THEN").unwrap_or_else(|_| "then".into());
    let (mut old, mut new) = (then::pools(), now::pools());
    let n = 5_000_000;
    println!("| loop | {then_rev} | now | now ÷ {then_rev} |");
    println!("|---|---|---|---|");
    for (which, name) in LOOPS.iter().enumerate() {
        then::run(&mut old, which, n / 10);
        now::run(&mut new, which, n / 10);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            a.push(then::run(&mut old, which, n));
            b.push(now::run(&mut new, which, n));
        }
        let (a, b) = (median(a), median(b));
        let per_round = per_round(which);
        let unit = if per_round { "µs" } else { "ns" };
        let scale = if per_round { 1e-3 } else { 1.0 };
        println!("| {name} | {:.2} {unit} | {:.2} {unit} | {:.2}x |", a * scale, b * scale, b / a);
    }
}

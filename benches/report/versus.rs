//! The single-thread loops of `docs/benchmarks.md`, run by two versions of
//! the library in one process, interleaved round by round: `then` (an older
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
            use $krate::Pool;

            type Small = Box<[u64; 4]>;

            pub struct Pools {
                small: Pool<Small>,
                buf: Pool<Vec<u8>>,
                word: Pool<Box<u64>>,
                held: Vec<Small>,
            }

            pub fn pools() -> Pools {
                let small: Pool<Small> = Pool::new((|| Box::new([0; 4])) as fn() -> Small);
                let held = (0..100).map(|_| small.take()).collect();
                Pools {
                    small,
                    buf: Pool::new((|| vec![0u8; 4096]) as fn() -> Vec<u8>),
                    word: Pool::new((|| Box::new(0)) as fn() -> Box<u64>),
                    held,
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

            /// `benches/pool.rs`'s loop: put the held value back, take,
            /// write through `touch`, `n` times (the value stays in a
            /// variable whose address escapes, as there).
            #[inline(never)]
            fn pairs<T>(pool: &Pool<T>, n: u64, touch: impl Fn(&mut T)) {
                let mut held = pool.take();
                touch(&mut held);
                for _ in 0..n {
                    pool.put(held);
                    held = pool.take();
                    touch(&mut held);
                    black_box(&mut held);
                }
                pool.put(held);
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

            #[inline(never)]
            fn overflow(pool: &Pool<Small>, held: &mut Vec<Small>, rounds: u64) {
                for _ in 0..rounds {
                    for value in held.drain(..) {
                        pool.put(value);
                    }
                    for _ in 0..100 {
                        let mut value = pool.take();
                        value[1] += 1;
                        held.push(value);
                    }
                    black_box(&mut *held);
                }
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
                    4 => overflow(&pools.small, &mut pools.held, n / 100),
                    5 => pairs(&pools.small, n, |value| value[0] += 1),
                    _ => pairs(&pools.buf, n, |value| value[0] += 1),
                }
                start.elapsed().as_nanos() as f64 / n as f64 * if which == 4 { 100.0 } else { 1.0 }
            }
        }
    };
}

loops!(then, victim_pool_then);
loops!(now, victim_pool);

const LOOPS: [&str; 7] = [
    "take + write + put, boxed 32 B (`pool/small/1t`)",
    "take + write + put, 4 KiB `Vec<u8>` (`pool/buf4k/1t`)",
    "get + write + guard drop, `Box<u64>` (`get-guard/box-u64/1t`)",
    "get + write + guard drop, 4 KiB `Vec<u8>` (`get-guard/buf4k/1t`)",
    "100 puts, then 100 takes, boxed 32 B (`overflow/small/1t`)",
    "put + take + write, boxed 32 B, the benchmark's loop (`pool/small/1t`)",
    "put + take + write, 4 KiB `Vec<u8>`, the benchmark's loop (`pool/buf4k/1t`)",
];

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
        let unit = if which == 4 { "µs" } else { "ns" };
        let scale = if which == 4 { 1e-3 } else { 1.0 };
        println!("| {name} | {:.2} {unit} | {:.2} {unit} | {:.2}x |", a * scale, b * scale, b / a);
    }
}

//! Many more threads than cores: 256 threads at a time take, put, drop and
//! exit in waves while a cleaner thread ages the pool, and every value the
//! pool created is accounted for exactly once.

use crate::support::{scaled, DropLedger, OnDrop, Tracked};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::Barrier;
use std::thread;
use victim_pool::Pool;

const THREADS: usize = 256;

/// What one thread does: a deterministic mix of takes, loans (`get`, a guard
/// dropped at once), puts, user drops and misses driven by `seed`, holding at most three values at a time; what it
/// still holds when it is done is put back or dropped, alternately.
fn churn<'l, F: Fn() -> Tracked<'l>>(
    pool: &Pool<Tracked<'l>, F>,
    seed: u64,
    ops: usize,
    user_drops: &AtomicU64,
) {
    let mut held: Vec<Tracked<'l>> = Vec::new();
    let mut state = seed | 1;
    for _ in 0..ops {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        match state % 6 {
            0 | 1 if held.len() < 3 => held.push(pool.take()),
            // A loan: lent in place if the private slot has a value.
            5 => {
                let guard = pool.get();
                std::hint::black_box(guard.id());
            }
            2 => {
                if let Some(value) = held.pop() {
                    pool.put(value);
                }
            }
            3 => {
                if held.pop().is_some() {
                    user_drops.fetch_add(1, Relaxed);
                }
            }
            _ => {
                if let Some(value) = pool.try_take() {
                    held.push(value);
                }
            }
        }
    }
    for (i, value) in held.into_iter().enumerate() {
        if i % 2 == 0 {
            pool.put(value);
        } else {
            drop(value);
            user_drops.fetch_add(1, Relaxed);
        }
    }
}

#[test]
fn waves_of_256_threads_and_a_cleaner_conserve_every_value() {
    let waves = scaled(4, 2);
    let ops = scaled(200, 4);
    let ledger = DropLedger::leak(waves * THREADS * ops);
    let created = AtomicU32::new(0);
    let user_drops = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let pool = Pool::new(|| ledger.value(created.fetch_add(1, Relaxed)));
    let cleanups = thread::scope(|scope| {
        let cleaner = scope.spawn(|| {
            let mut cleanups = 0u64;
            while !stop.load(Relaxed) {
                pool.cleanup();
                cleanups += 1;
                thread::yield_now();
            }
            cleanups
        });
        // Stops the cleaner however the waves end: a panicking thread makes
        // its wave's scope panic, and the outer scope would then wait for
        // the cleaner forever.
        let stop_cleaner = OnDrop(|| stop.store(true, Relaxed));
        for wave in 0..waves {
            // Each wave's threads start after the last wave's exited, so
            // they inherit its thread indices, locals and private values.
            thread::scope(|wave_scope| {
                for t in 0..THREADS {
                    let (pool, user_drops) = (&pool, &user_drops);
                    let seed = ((wave * THREADS + t) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                    wave_scope.spawn(move || churn(pool, seed, ops, user_drops));
                }
            });
        }
        drop(stop_cleaner);
        cleaner.join().unwrap()
    });
    let created = created.load(Relaxed);
    let stats = pool.stats();
    let dropped_so_far = (0..created).filter(|&id| ledger.drops(id) == 1).count() as u64;
    let user_drops = user_drops.load(Relaxed);
    assert!(cleanups > 0, "the cleaner never ran");
    assert_eq!(stats.created, u64::from(created), "created values counted");
    assert_eq!(
        dropped_so_far,
        user_drops + stats.dropped_by_cleanup + stats.discarded,
        "every drop so far is the user's or the pool's ({stats:?})"
    );
    assert_eq!(
        u64::from(created),
        dropped_so_far + stats.retained,
        "created = dropped by the user + dropped by the pool + still pooled ({stats:?})"
    );
    drop(pool);
    ledger.assert_drops(0..created, 1);
    ledger.assert_drops(created..ledger.len() as u32, 0);
}

/// Like Go's pool after two garbage collections, a pool holds nothing after
/// two cleanups with no use, even while the threads that filled it are alive
/// and idle: 64 threads each leave a value in their private slot and park;
/// two cleanups later every value was dropped once.
#[test]
fn two_cleanups_drain_the_private_slots_of_64_idle_live_threads() {
    const IDLE: usize = 64;
    if !victim_pool::cleanups_drain_idle_threads() {
        eprintln!("skipped: no process-wide memory barrier here, idle threads keep their value");
        return;
    }
    let ledger = DropLedger::new(IDLE);
    let pool: Pool<Tracked<'_>> = Pool::new(|| unreachable!("nothing is created"));
    let (filled, drained) = (Barrier::new(IDLE + 1), Barrier::new(IDLE + 1));
    thread::scope(|scope| {
        for id in 0..IDLE {
            let (pool, ledger, filled, drained) = (&pool, &ledger, &filled, &drained);
            scope.spawn(move || {
                pool.put(ledger.value(id as u32));
                filled.wait();
                drained.wait(); // alive and idle meanwhile
            });
        }
        filled.wait();
        let before = pool.stats().retained;
        pool.cleanup();
        pool.cleanup();
        let stats = pool.stats();
        // Checked once the threads are released, so a failure cannot hang.
        drained.wait();
        assert_eq!(before, IDLE as u64, "each thread's private value");
        assert_eq!(
            (stats.retained, stats.dropped_by_cleanup),
            (0, IDLE as u64),
            "two cleanups drop every idle thread's private value"
        );
    });
    ledger.assert_each_dropped_once();
}

//! Loom models of this crate's code: a thread encodes a record with the
//! static pool while the main thread runs a cleanup, then (second model)
//! another thread reuses the buffer. Run as CI does:
//!
//! ```text
//! RUSTFLAGS="--cfg loom --cfg crossbeam_loom -C debug-assertions" LOOM_MAX_PREEMPTIONS=2 \
//!     cargo test --release --test loom_model -- --nocapture
//! ```
#![cfg(loom)]

use downstream::{frame, BUFFERS};
use loom::thread;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use victim_pool::PoolStats;

/// Runs `model` under loom with the settings from the environment and
/// prints how many executions it explored, and how long that took.
fn check(name: &str, model: fn()) {
    // A std counter: bookkeeping outside the model.
    let executions = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&executions);
    let start = Instant::now();
    loom::model(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        model();
    });
    eprintln!(
        "downstream loom model {name}: {} executions in {:.1} s",
        executions.load(Ordering::Relaxed),
        start.elapsed().as_secs_f64()
    );
}

#[test]
fn a_thread_frames_a_record_while_the_static_pool_is_cleaned_up() {
    check("frame_during_cleanup", || {
        // Each execution starts from a fresh, empty pool.
        assert_eq!(BUFFERS.stats(), PoolStats::default());
        let framer = thread::spawn(|| frame(b"ab"));
        BUFFERS.cleanup();
        assert_eq!(framer.join().unwrap(), [0, 0, 0, 2, b'a', b'b']);
        let stats = BUFFERS.stats();
        assert_eq!(
            (stats.created, stats.puts, stats.dropped_by_cleanup),
            (1, 1, 0)
        );
    });
}

#[test]
fn a_thread_frames_a_record_while_the_static_pool_is_cleaned_up_and_another_reuses_its_buffer() {
    check("frame_during_cleanup_then_reuse", || {
        // Each execution starts from a fresh, empty pool.
        assert_eq!(BUFFERS.stats(), PoolStats::default());

        // Pool operations that need a thread index run on spawned threads:
        // the main thread's thread-locals outlive loom's statics.
        let first = thread::spawn(|| frame(b"ab"));
        BUFFERS.cleanup();
        assert_eq!(first.join().unwrap(), [0, 0, 0, 2, b'a', b'b']);
        let second = thread::spawn(|| frame(b"c"));
        assert_eq!(second.join().unwrap(), [0, 0, 0, 1, b'c']);

        // One cleanup never drops a value; the second thread reuses the
        // first one's buffer (from the index it inherits, or adopted from
        // the exited thread), or creates its own if the first thread has
        // not given its index back yet.
        let stats = BUFFERS.stats();
        assert_eq!((stats.puts, stats.dropped_by_cleanup), (2, 0));
        assert_eq!(stats.hits() + stats.created, 2);
        assert!(stats.created >= 1);
    });
}

#[test]
#[should_panic(expected = "a pool's contents belong to one loom execution")]
fn a_pool_shared_between_executions_fails_with_a_message_that_says_what_to_do() {
    // Wrong: one pool for every execution, created outside the model and
    // dropped after it. (A `static`, or a pool created inside the closure,
    // is right.)
    let pool = std::sync::Arc::new(victim_pool::Pool::new(Vec::<u8>::new));
    let shared = std::sync::Arc::clone(&pool);
    loom::model(move || {
        let pool = std::sync::Arc::clone(&shared);
        thread::spawn(move || drop(pool.get())).join().unwrap();
    });
    drop(pool);
}

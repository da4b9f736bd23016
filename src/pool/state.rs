//! What a pool holds and counts: everything a loom model must see created
//! fresh in each execution (see `sync::PerExecution`).

use super::locals::Locals;
use super::registry::Enrollment;
use super::stats::Counters;
use crate::sync::{const_fn_unless_loom, Arc, AtomicBool, AtomicUsize, Mutex};

/// What cleanups remember between them (under `State::cleanup_lock`).
pub(super) struct Cleanups {
    /// The number of thread-index releases as of the last cleanup that
    /// freed the rings of every exited thread's chains: until another
    /// index is given back, there are none to free.
    pub(super) rings_released_at: Option<usize>,
}

/// A pool's shared state; its configuration stays in `Pool`.
pub(super) struct State<T> {
    pub(super) locals: Locals<T>,
    /// The number of cleanups so far (see `Local`'s L3).
    pub(super) generation: AtomicUsize,
    /// A generation at which a full scan found the victim chains empty:
    /// later gets at that generation skip them (Go: `victimSize = 0`). A put
    /// that moves a value onto a victim chain clears it.
    pub(super) victim_empty_at: AtomicUsize,
    /// The number of thread-index releases as of the last scan for exited
    /// threads' private values that found none: until another index is
    /// given back, misses skip that scan (and its registry lock).
    pub(super) releases_scanned: AtomicUsize,
    /// Set by a put that went into an empty ring (a new ring among them),
    /// cleared by a cleanup that then frees exited threads' empty rings: a
    /// pool whose chains were never used skips that pass, and its lock.
    pub(super) rings_maybe: AtomicBool,
    /// Serializes cleanups, which must each age the pool by exactly one
    /// step, and holds what they remember between them.
    pub(super) cleanup_lock: Mutex<Cleanups>,
    /// Counts for threads without a local (exiting) and for cleanups.
    pub(super) counters: Counters,
    /// Set while the pool is in the registry (see `registry`'s E1).
    pub(super) enrollment: Mutex<Option<Arc<Enrollment>>>,
}

impl<T> State<T> {
    const_fn_unless_loom! {
        /// An empty pool's state.
        pub(super) const fn new() -> Self {
            State {
                locals: Locals::new(),
                generation: AtomicUsize::new(0),
                victim_empty_at: AtomicUsize::new(0),
                releases_scanned: AtomicUsize::new(0),
                rings_maybe: AtomicBool::new(false),
                cleanup_lock: Mutex::new(Cleanups {
                    rings_released_at: None,
                }),
                counters: Counters::new(),
                enrollment: Mutex::new(None),
            }
        }
    }
}

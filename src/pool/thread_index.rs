//! Dense thread indices: Rust's stand-in for Go's P id.
//!
//! Every thread that touches a pool gets the smallest index no live thread
//! holds, and gives it back when it exits, so indices (and with them every
//! pool's array of locals) stay as small as the number of threads alive at
//! once, not the number ever started.

use super::locals::Place;
use crate::sync::{
    const_fn_unless_loom, global, global_ref, hold_until_thread_exit, lock, set_thread_word,
    thread_word, try_lock, AtomicUsize, GlobalRef, Mutex, Ordering,
};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Which indices are taken.
///
/// # Invariants
///
/// - R1: `taken[i]` is true exactly while a live thread holds index `i`;
///   indices at or past `taken.len()` were never handed out.
/// - R2: `free` holds exactly the indices below `taken.len()` that are not
///   taken.
/// - R3 (the ownership hand-off): whatever a thread did as the owner of index
///   `i` (a local's private slot, its chains' producer side) happens-before
///   the next thread that acquires `i`, and before any cleanup that inspects
///   local `i` while holding the registry lock with `i` free. The registry
///   mutex provides both edges.
struct Registry {
    taken: Vec<bool>,
    free: BinaryHeap<Reverse<usize>>,
}

impl Registry {
    const fn new() -> Self {
        Registry {
            taken: Vec::new(),
            free: BinaryHeap::new(),
        }
    }

    fn acquire(&mut self) -> usize {
        let index = match self.free.pop() {
            Some(Reverse(index)) => index,
            None => {
                self.taken.push(false);
                self.taken.len() - 1
            }
        };
        self.taken[index] = true;
        index
    }

    fn release(&mut self, index: usize) {
        debug_assert!(self.taken[index], "thread index {index} released twice");
        self.taken[index] = false;
        self.free.push(Reverse(index));
    }
}

/// The registry, and how many indices have been given back.
///
/// - R4: `releases` is raised, under the registry lock, each time an index
///   is given back, so a holder of the lock reads it exactly; without the
///   lock it is a hint (see `releases`).
struct Threads {
    registry: Mutex<Registry>,
    releases: AtomicUsize,
}

impl Threads {
    const_fn_unless_loom! {
        const fn new() -> Self {
            Threads {
                registry: Mutex::new(Registry::new()),
                releases: AtomicUsize::new(0),
            }
        }
    }
}

global! {
    static THREADS: Threads = Threads::new();
}

/// Marks the `n` lowest indices never handed out as taken for good, so that
/// threads that acquire an index afterwards get higher ones.
///
/// For model checking only (hidden from the docs): loom starts every
/// execution with a fresh registry, and each index below 15 has a bucket of
/// locals to itself, so a model whose threads must share a bucket reserves
/// the first 15 indices. Outside a model it only wastes `n` indices.
///
/// # Panics
///
/// Panics, naming `n`, if the indices taken would then be more than thread
/// indices can name (2^27).
#[doc(hidden)]
#[track_caller]
pub fn reserve_thread_indices(n: usize) {
    let mut registry = lock(&THREADS.registry);
    let taken = registry.taken.len();
    let Some(end) = taken
        .checked_add(n)
        .filter(|&end| end <= Place::MAX_INDEX + 1)
    else {
        drop(registry);
        panic!(
            "reserve_thread_indices: {n} more indices than thread indices can name \
             ({taken} taken, at most {} in all)",
            Place::MAX_INDEX + 1
        );
    };
    // R2 holds: the new indices are taken, so none joins `free`.
    registry.taken.resize(end, true);
}

/// The calling thread's index, returned to the registry when the thread exits.
pub(crate) struct ThreadIndex {
    place: Place,
    /// Kept so that the destructor can reach the registry (loom tears its
    /// statics down before thread-local destructors run).
    threads: GlobalRef<Threads>,
}

impl ThreadIndex {
    fn acquire() -> Self {
        let threads = global_ref(&THREADS);
        let index = lock(&threads.registry).acquire();
        ThreadIndex {
            place: Place::of(index),
            threads,
        }
    }
}

impl Drop for ThreadIndex {
    fn drop(&mut self) {
        // Forget the index on this thread before anyone else can acquire it.
        set_thread_word(GONE);
        let mut registry = lock(&self.threads.registry);
        registry.release(self.place.index);
        // Relaxed [releases]: R4; the lock orders it for lock holders.
        let releases = self.threads.releases.load(Ordering::Relaxed);
        // Relaxed [releases]: as above.
        self.threads.releases.store(releases + 1, Ordering::Relaxed);
        drop(registry);
    }
}

/// How many thread indices have been given back so far: exact while the
/// caller is inside [`with_unowned_indices`] or
/// [`try_with_unowned_indices`] (R4); otherwise possibly behind, never
/// ahead. A caller that saw no change since its last look under the lock
/// knows that no index has become free since then, unless the release is
/// still on its way (then it looks again at its next call).
pub(crate) fn releases() -> usize {
    // Relaxed [releases]: a hint outside the lock; exact inside it (R4).
    THREADS.releases.load(Ordering::Relaxed)
}

/// The thread word (`sync::thread_word`) before the thread has an index;
/// while it holds one, the word is its place (`Place::to_word`).
const NO_INDEX_YET: usize = 0;
/// The thread word once the thread has given its index back (it is
/// exiting): neither of the above.
const GONE: usize = 1;

const _: () = assert!(GONE & Place::WORD_VALID == 0 && GONE != NO_INDEX_YET);

/// The calling thread's index (with where its locals live), or `None` while
/// the thread is exiting and its index has already been given back (then the
/// caller owns no local).
///
/// One thread-local load and one test on the hot path; acquiring an index
/// (and arranging its release at thread exit) is the out-of-line first use.
#[inline(always)]
pub(crate) fn current() -> Option<Place> {
    let mut word = thread_word().unwrap_or(GONE);
    if word & Place::WORD_VALID == 0 {
        // A word, not a `Place`, comes back: it stays in a register.
        word = acquire_unless_gone(word);
    }
    (word & Place::WORD_VALID != 0).then(|| Place::from_word(word))
}

/// The calling thread's place if it already holds an index: one
/// thread-local load and one test, never the first-use path (for fast paths
/// that fall back to one that calls [`current`]).
#[inline(always)]
pub(crate) fn current_if_held() -> Option<Place> {
    let word = current_word();
    (word & Place::WORD_VALID != 0).then(|| Place::from_word(word))
}

/// The calling thread's word as it is now, without acquiring an index: the
/// encoded place while the thread holds an index, otherwise a value that no
/// place encodes to. Two threads never see the same place word at once, so a
/// word equal to a local's owner's word means the caller owns that local.
#[inline(always)]
pub(crate) fn current_word() -> usize {
    thread_word().unwrap_or(GONE)
}

/// `current()` for a thread without a valid word: acquires an index for the
/// calling thread, has its thread-local destructors give it back, and
/// returns the new word; returns `word` unchanged once the thread is gone.
#[cold]
#[inline(never)]
fn acquire_unless_gone(word: usize) -> usize {
    if word != NO_INDEX_YET {
        return word;
    }
    let index = ThreadIndex::acquire();
    let word = index.place.to_word();
    set_thread_word(word);
    match hold_until_thread_exit(Box::new(index)) {
        Ok(()) => word,
        // Past its thread-local destructors: give the index back at once
        // (its drop marks the word `GONE`).
        Err(index) => {
            drop(index);
            GONE
        }
    }
}

/// Runs `f` while no thread can acquire or release an index; `f` is told
/// which indices no live thread holds. Per R3, `f` may act as the owner of
/// every such index. `f` must not call into user code.
pub(crate) fn with_unowned_indices<R>(f: impl FnOnce(&dyn Fn(usize) -> bool) -> R) -> R {
    let registry = lock(&THREADS.registry);
    f(&|index| !registry.taken.get(index).copied().unwrap_or(false))
}

/// Runs `f` on the indices that were handed out and given back, and on
/// `releases()` (exact here, R4), while no thread can acquire or release an
/// index: per R3, `f` may act as the owner of each. `f` must not call into
/// user code. The cost is proportional to the indices given back, not to
/// every index.
pub(crate) fn with_free_indices<R>(
    f: impl FnOnce(&mut dyn Iterator<Item = usize>, usize) -> R,
) -> R {
    let registry = lock(&THREADS.registry);
    // Relaxed [releases]: R4, under the lock.
    let releases = THREADS.releases.load(Ordering::Relaxed);
    f(
        &mut registry.free.iter().map(|&Reverse(index)| index),
        releases,
    )
}

/// Like [`with_unowned_indices`], but returns `None` at once if the registry
/// is locked by another thread.
pub(crate) fn try_with_unowned_indices<R>(
    f: impl FnOnce(&dyn Fn(usize) -> bool) -> R,
) -> Option<R> {
    let registry = try_lock(&THREADS.registry)?;
    Some(f(&|index| {
        !registry.taken.get(index).copied().unwrap_or(false)
    }))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_smallest_free_index_is_handed_out_first() {
        let mut registry = Registry::new();
        assert_eq!(
            [registry.acquire(), registry.acquire(), registry.acquire()],
            [0, 1, 2]
        );
        registry.release(2);
        registry.release(0);
        assert_eq!(registry.acquire(), 0);
        assert_eq!(registry.acquire(), 2);
        assert_eq!(registry.acquire(), 3);
    }

    #[test]
    fn reserving_more_indices_than_can_be_named_panics_naming_the_count() {
        let before = lock(&THREADS.registry).taken.len();
        for n in [usize::MAX, Place::MAX_INDEX + 2] {
            let reserve = std::panic::catch_unwind(|| reserve_thread_indices(n));
            let payload = reserve.expect_err("too many");
            let text = payload
                .downcast_ref::<String>()
                .expect("a formatted message");
            assert!(
                text.starts_with(&format!("reserve_thread_indices: {n} ")),
                "{text}"
            );
        }
        // Nothing was reserved (other tests may only add threads' indices).
        assert!(lock(&THREADS.registry).taken.len() < before + 1000);
    }

    #[test]
    fn a_live_threads_index_is_owned_and_an_exited_ones_is_not() {
        let mine = current().unwrap().index;
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let other = std::thread::spawn(move || {
            tx.send(current().unwrap().index).unwrap();
            done_rx.recv().unwrap();
        });
        let theirs = rx.recv().unwrap();
        assert_ne!(theirs, mine);
        with_unowned_indices(|unowned| {
            assert!(!unowned(mine));
            assert!(!unowned(theirs));
        });
        done_tx.send(()).unwrap();
        other.join().unwrap();

        // Parallel tests may take the exited thread's global index at once,
        // so its release at thread exit is checked on a registry of our own.
        static PRIVATE: Threads = Threads::new();
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let exiting = std::thread::spawn(move || {
            let index = ThreadIndex {
                place: Place::of(lock(&PRIVATE.registry).acquire()),
                threads: &PRIVATE,
            };
            tx.send(index.place.index).unwrap();
            // As `current` arranges it: given back by the thread's exit.
            assert!(hold_until_thread_exit(Box::new(index)).is_ok());
            done_rx.recv().unwrap();
        });
        let exited = rx.recv().unwrap();
        assert!(lock(&PRIVATE.registry).taken[exited], "owned while alive");
        done_tx.send(()).unwrap();
        exiting.join().unwrap();
        assert!(!lock(&PRIVATE.registry).taken[exited], "free once exited");
        assert_eq!(PRIVATE.releases.load(Ordering::Relaxed), 1);
    }
}

//! Dense thread indices: Rust's stand-in for Go's P id.
//!
//! Every thread that touches a pool gets the smallest index no live thread
//! holds, and gives it back when it exits, so indices (and with them every
//! pool's array of locals) stay as small as the number of threads alive at
//! once, not the number ever started.

use super::locals::Place;
use crate::sync::{global_mutex, lock, try_lock, GlobalRef};

type RegistryRef = GlobalRef<Registry>;
use crate::sync::global_ref as registry_ref;
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

global_mutex! {
    static REGISTRY: Registry = Registry::new();
}

/// The registry, as a handle a thread-local destructor may keep using (loom
/// tears its statics down before such destructors run).
fn registry() -> RegistryRef {
    registry_ref(&REGISTRY)
}

/// The calling thread's index, returned to the registry when the thread exits.
pub(crate) struct ThreadIndex {
    place: Place,
    registry: RegistryRef,
}

impl ThreadIndex {
    pub(crate) fn acquire() -> Self {
        let registry = registry();
        let index = lock(&registry).acquire();
        ThreadIndex {
            place: Place::of(index),
            registry,
        }
    }
}

impl Drop for ThreadIndex {
    fn drop(&mut self) {
        lock(&self.registry).release(self.place.index);
    }
}

/// The calling thread's index (with where its locals live), or `None` while
/// the thread is exiting and its index has already been given back (then the
/// caller owns no local).
#[inline]
pub(crate) fn current() -> Option<Place> {
    crate::sync::with_thread_index(|thread| thread.place)
}

/// Runs `f` while no thread can acquire or release an index; `f` is told
/// which indices no live thread holds. Per R3, `f` may act as the owner of
/// every such index. `f` must not call into user code.
pub(crate) fn with_unowned_indices<R>(f: impl FnOnce(&dyn Fn(usize) -> bool) -> R) -> R {
    let registry = lock(&REGISTRY);
    f(&|index| !registry.taken.get(index).copied().unwrap_or(false))
}

/// Like [`with_unowned_indices`], but returns `None` at once if the registry
/// is locked by another thread.
pub(crate) fn try_with_unowned_indices<R>(
    f: impl FnOnce(&dyn Fn(usize) -> bool) -> R,
) -> Option<R> {
    let registry = try_lock(&REGISTRY)?;
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
    }
}

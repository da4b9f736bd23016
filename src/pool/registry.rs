//! Aging every registered pool at once, as Go's garbage collector does for
//! all pools (Go: `allPools`, `oldPools`).

use crate::sync::{global_mutex, lock, Arc, Mutex};
use crate::unwind::for_each_despite_panics;

/// A pool seen through the registry, its value type erased.
pub(crate) trait Ages: Sync {
    /// One cleanup step; returns the values to drop once no lock is held.
    fn age(&self) -> Box<dyn Garbage>;
}

/// Anything whose drop is deferred until the registry's locks are released.
pub(crate) trait Garbage {}
impl<T> Garbage for T {}

/// The registry's handle on one pool.
///
/// # Invariants
///
/// - E1: `pool` is `Some` from registration until the pool's `Drop` sets it
///   to `None`; while it is `Some`, the pool is alive and pinned in place.
///   A holder of the lock may therefore use the pointer, and the pool's
///   `Drop` waits for that holder before it frees anything.
/// - E2: `POOLS` holds an enrollment from registration until the pool's
///   `Drop` removes it, which it does before E1's step: a sweep that starts
///   after that removal never sees the pool, and one that copied the list
///   earlier finds `None` or holds the lock that the drop waits for.
pub(crate) struct Enrollment {
    pool: Mutex<Option<PoolRef>>,
}

struct PoolRef(*const (dyn Ages + 'static));

// SAFETY: the pointee is `Sync` (an `Ages` bound), and E1 keeps it alive
// while the pointer is used, whichever thread uses it.
unsafe impl Send for PoolRef {}

global_mutex! {
    static POOLS: Vec<Arc<Enrollment>> = Vec::new();
}

/// Adds `pool` to the registry.
///
/// # Safety
///
/// `pool` must stay at its address and alive until `withdraw` has been
/// called with the returned enrollment (the pool's `Drop` does this).
pub(crate) unsafe fn enroll(pool: *const (dyn Ages + 'static)) -> Arc<Enrollment> {
    let enrollment = Arc::new(Enrollment {
        pool: Mutex::new(Some(PoolRef(pool))),
    });
    lock(&POOLS).push(Arc::clone(&enrollment));
    enrollment
}

/// Removes a pool from the registry (E2), then waits until no `cleanup_all`
/// uses it (E1). The registry keeps no memory for a dropped pool.
pub(crate) fn withdraw(enrollment: Arc<Enrollment>) {
    lock(&POOLS).retain(|other| !Arc::ptr_eq(other, &enrollment));
    *lock(&enrollment.pool) = None;
}

/// Runs one [`cleanup`](crate::Pool::cleanup) on every registered pool.
///
/// Pools join with [`Pool::register`](crate::Pool::register) (or
/// `register_arc`, `register_pinned`) and leave when
/// they are dropped; a dropped pool is never touched. Each pool's values are
/// dropped after the registry's locks are released, so a `Drop` may use any
/// pool or the registry. If a `Drop` panics, the remaining values and pools
/// are still aged and dropped, and then the first panic propagates.
///
/// # Examples
///
/// ```
/// use victim_pool::{cleanup_all, Pool};
///
/// static NAMES: Pool<String> = Pool::new(String::new);
/// NAMES.register();
/// std::thread::spawn(|| {
///     NAMES.put("idle".to_string());
///     NAMES.put("idle too".to_string());
/// })
/// .join()
/// .unwrap();
/// cleanup_all();
/// cleanup_all(); // nobody took them: both dropped
/// assert_eq!(NAMES.stats().dropped_by_cleanup, 2);
/// ```
pub fn cleanup_all() {
    let enrolled: Vec<Arc<Enrollment>> = lock(&POOLS).clone();
    for_each_despite_panics(enrolled.into_iter(), |enrollment| {
        let garbage = {
            let pool = lock(&enrollment.pool);
            match &*pool {
                // SAFETY: E1: the pool is alive while its entry is `Some`,
                // and its `Drop` waits for this lock.
                Some(pool) => unsafe { (*pool.0).age() },
                None => return,
            }
        };
        drop(garbage);
    });
}

/// The number of pools registered and not yet dropped (E2).
#[must_use]
pub fn registered_pools() -> usize {
    lock(&POOLS).len()
}

/// Whether `enrollment` is still in the registry's list.
#[cfg(all(test, not(loom)))]
pub(crate) fn is_listed(enrollment: &Arc<Enrollment>) -> bool {
    lock(&POOLS)
        .iter()
        .any(|other| Arc::ptr_eq(other, enrollment))
}

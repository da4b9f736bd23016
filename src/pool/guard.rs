//! `PoolGuard`: a value on loan from a pool, returned when dropped.

use super::Pool;
use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};

/// A value taken from a [`Pool`] that goes back into it when dropped.
///
/// Dereferences to the value. [`PoolGuard::take`] detaches it instead.
///
/// A guard borrows its pool, so it cannot outlive it:
///
/// ```compile_fail
/// use victim_pool::Pool;
/// let guard = {
///     let pool: Pool<Vec<u8>> = Pool::new(Vec::new);
///     pool.get()
/// };
/// ```
///
/// It is `Send` when `T: Send` and the create function is `Sync`, so it can
/// be held across an `.await` in a multi-threaded runtime.
pub struct PoolGuard<'a, T, F = fn() -> T> {
    pool: &'a Pool<T, F>,
    value: ManuallyDrop<T>,
}

impl<'a, T, F> PoolGuard<'a, T, F> {
    pub(super) fn new(pool: &'a Pool<T, F>, value: T) -> Self {
        PoolGuard {
            pool,
            value: ManuallyDrop::new(value),
        }
    }

    /// Detaches the value: it will not return to the pool.
    ///
    /// An associated function, not a method, so it never shadows a method of `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// use victim_pool::{Pool, PoolGuard};
    /// let pool: Pool<String> = Pool::new(String::new);
    /// let mut guard = pool.get();
    /// guard.push_str("kept");
    /// let owned: String = PoolGuard::take(guard);
    /// assert_eq!(owned, "kept");
    /// assert_eq!(pool.try_take(), None);
    /// ```
    pub fn take(guard: Self) -> T {
        let mut guard = ManuallyDrop::new(guard);
        // SAFETY: the guard is never used or dropped again, so the value is
        // moved out exactly once.
        unsafe { ManuallyDrop::take(&mut guard.value) }
    }

    /// The pool this value returns to.
    pub fn pool(guard: &Self) -> &'a Pool<T, F> {
        guard.pool
    }
}

impl<T, F> Drop for PoolGuard<'_, T, F> {
    fn drop(&mut self) {
        // SAFETY: `drop` runs once and `take` forgets the guard, so the value
        // is still here and is moved out exactly once.
        let value = unsafe { ManuallyDrop::take(&mut self.value) };
        self.pool.put(value);
    }
}

impl<T, F> Deref for PoolGuard<'_, T, F> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T, F> DerefMut for PoolGuard<'_, T, F> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T, F> AsRef<T> for PoolGuard<'_, T, F> {
    fn as_ref(&self) -> &T {
        &self.value
    }
}

impl<T, F> AsMut<T> for PoolGuard<'_, T, F> {
    fn as_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T: fmt::Debug, F> fmt::Debug for PoolGuard<'_, T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PoolGuard").field(&*self.value).finish()
    }
}

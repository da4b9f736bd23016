//! `PoolGuard`: a value on loan from a pool, returned when dropped.

use super::private_slot::LentSlot;
use super::Pool;
use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

/// A value taken from a [`Pool`] that goes back into it when dropped.
///
/// Dereferences to the value. [`PoolGuard::into_inner`] detaches it instead.
///
/// A value served from the calling thread's private slot is lent in place:
/// the guard points at it, and dropping the guard marks the slot full
/// again, without moving the value either way. Meanwhile that thread's puts
/// and gets use its chain.
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
#[must_use = "dropping the guard at once gives the value straight back"]
pub struct PoolGuard<'a, T, F = fn() -> T> {
    pool: &'a Pool<T, F>,
    value: ManuallyDrop<Held<T>>,
}

/// How a guard holds its value.
pub(super) enum Held<T> {
    /// Moved out of the pool (or just created).
    Owned(T),
    /// Lent in place from a private slot of the guard's pool, which the
    /// guard keeps alive (a borrow or an `Arc`).
    Lent(LentSlot<T>),
}

impl<T> Held<T> {
    /// Gives the value to `pool`: back into its slot if lent.
    #[inline(always)]
    fn give_back<F>(self, pool: &Pool<T, F>) {
        match self {
            Held::Owned(value) => pool.put_from_guard(value),
            Held::Lent(lent) => pool.give_back(lent),
        }
    }

    /// The value, out of its slot if lent.
    ///
    /// # Safety
    ///
    /// `pool` is the guard's pool.
    unsafe fn into_value<F>(self, pool: &Pool<T, F>) -> T {
        match self {
            Held::Owned(value) => value,
            // SAFETY: the guard's loan is from `pool`, per the caller.
            Held::Lent(lent) => unsafe { pool.detach(lent) },
        }
    }
}

impl<'a, T, F> PoolGuard<'a, T, F> {
    pub(super) fn new(pool: &'a Pool<T, F>, value: Held<T>) -> Self {
        PoolGuard {
            pool,
            value: ManuallyDrop::new(value),
        }
    }

    /// The pool this value returns to.
    pub fn pool(guard: &Self) -> &'a Pool<T, F> {
        guard.pool
    }
}

/// The value access every guard offers.
macro_rules! value_access {
    ($guard:ident $(<$lifetime:lifetime>)?) => {
        impl<$($lifetime,)? T, F> Deref for $guard<$($lifetime,)? T, F> {
            type Target = T;

            #[inline(always)]
            fn deref(&self) -> &T {
                match &*self.value {
                    Held::Owned(value) => value,
                    // SAFETY: the guard keeps its pool alive.
                    Held::Lent(lent) => unsafe { lent.value() },
                }
            }
        }

        impl<$($lifetime,)? T, F> DerefMut for $guard<$($lifetime,)? T, F> {
            #[inline(always)]
            fn deref_mut(&mut self) -> &mut T {
                match &mut *self.value {
                    Held::Owned(value) => value,
                    // SAFETY: the guard keeps its pool alive.
                    Held::Lent(lent) => unsafe { lent.value_mut() },
                }
            }
        }

        impl<$($lifetime,)? T, F> AsRef<T> for $guard<$($lifetime,)? T, F> {
            fn as_ref(&self) -> &T {
                self
            }
        }

        impl<$($lifetime,)? T, F> AsMut<T> for $guard<$($lifetime,)? T, F> {
            fn as_mut(&mut self) -> &mut T {
                self
            }
        }

        impl<$($lifetime,)? T: fmt::Debug, F> fmt::Debug for $guard<$($lifetime,)? T, F> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($guard)).field(&**self).finish()
            }
        }

        impl<$($lifetime,)? T, F> Drop for $guard<$($lifetime,)? T, F> {
            #[inline(always)]
            fn drop(&mut self) {
                // SAFETY: `drop` runs once and `into_inner` forgets the guard, so
                // the value is still here and is moved out exactly once.
                let held = unsafe { ManuallyDrop::take(&mut self.value) };
                held.give_back(&self.pool);
            }
        }

        impl<$($lifetime,)? T, F> $guard<$($lifetime,)? T, F> {
            /// Detaches the value: it will not return to the pool (std's
            /// name for unwrapping a wrapper, as `Mutex::into_inner`).
            ///
            /// An associated function, not a method, so it never shadows a
            /// method of `T`.
            #[must_use = "the value is dropped, not given back to the pool"]
            pub fn into_inner(guard: Self) -> T {
                let mut guard = ManuallyDrop::new(guard);
                // SAFETY: the guard is never used or dropped again, so the
                // value is moved out exactly once (the pool is still alive:
                // its handle goes after), and the pool handle (an `Arc` for
                // owned guards) is dropped exactly once.
                unsafe {
                    let value = ManuallyDrop::take(&mut guard.value).into_value(&guard.pool);
                    std::ptr::drop_in_place(&mut guard.pool);
                    value
                }
            }

            /// Former name of `into_inner`.
            #[deprecated(since = "0.1.0", note = "renamed `into_inner`")]
            pub fn take(guard: Self) -> T {
                Self::into_inner(guard)
            }
        }
    };
}

value_access!(PoolGuard<'a>);
value_access!(OwnedPoolGuard);

/// A value taken from a pool held in an `Arc`, returned to it when dropped.
/// From [`Pool::get_owned`].
///
/// It owns a reference to the pool, so it is `'static` when `T` and the
/// create function are, and `Send` when `T: Send` and the pool is `Send +
/// Sync`: it can move into a spawned task or thread.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use victim_pool::{OwnedPoolGuard, Pool};
///
/// let pool: Arc<Pool<Vec<u8>>> = Arc::new(Pool::new(Vec::new));
/// let mut buffer = pool.get_owned();
/// std::thread::spawn(move || buffer.push(1)).join().unwrap(); // returned there
/// let buffer = pool.get_owned();
/// assert_eq!(OwnedPoolGuard::into_inner(buffer), [1]);
/// ```
#[must_use = "dropping the guard at once gives the value straight back"]
pub struct OwnedPoolGuard<T, F = fn() -> T> {
    pool: Arc<Pool<T, F>>,
    value: ManuallyDrop<Held<T>>,
}

impl<T, F> OwnedPoolGuard<T, F> {
    pub(super) fn new(pool: Arc<Pool<T, F>>, value: Held<T>) -> Self {
        OwnedPoolGuard {
            pool,
            value: ManuallyDrop::new(value),
        }
    }

    /// The pool this value returns to.
    pub fn pool(guard: &Self) -> &Arc<Pool<T, F>> {
        &guard.pool
    }
}

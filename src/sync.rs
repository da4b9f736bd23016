//! The facade: the only module that names std's atomics, loom, `UnsafeCell`
//! and crossbeam-epoch.
//!
//! Under `--cfg loom` every type here is loom's model type, so a loom test
//! checks the real algorithm, including the slot-ownership protocol of every
//! `UnsafeCell`. In a normal build the same names are std's, and `UnsafeCell`
//! is a zero-cost newtype that offers loom's closure-based access.

#[cfg(all(loom, not(crossbeam_loom)))]
compile_error!(
    "victim-pool: `--cfg loom` needs `--cfg crossbeam_loom` as well; without it \
     crossbeam-epoch is not modelled and loom explores almost nothing. Build with \
     RUSTFLAGS=\"--cfg loom --cfg crossbeam_loom\"."
);

pub(crate) use crossbeam_utils::CachePadded;

/// Epoch-based reclamation, as modelled by loom under `--cfg crossbeam_loom`.
pub(crate) mod epoch {
    #[cfg(loom)]
    pub(crate) use super::loom_thread::pin;
    #[cfg(not(loom))]
    pub(crate) use crossbeam_epoch::pin;
    pub(crate) use crossbeam_epoch::Guard;

    /// A heap block that is retired through the epoch and can tell whether
    /// it has been freed (see [`FreedCheck`]).
    pub(crate) trait Retire {
        // Read only by loom's simulated free.
        #[cfg_attr(not(loom), allow(dead_code))]
        fn freed_check(&self) -> &FreedCheck;
    }

    /// Makes a use-after-free of a retired block a loud test failure.
    ///
    /// Under loom, the epoch's free drops the block's contents but keeps its
    /// memory and sets this flag, so a later access panics with a message
    /// (loom would otherwise crash on the freed memory, or miss it). In normal
    /// builds it is empty and the check compiles to nothing.
    #[derive(Debug, Default)]
    pub(crate) struct FreedCheck {
        // A std atomic on purpose: loom runs its threads one at a time on one
        // OS thread, and this flag is bookkeeping, not part of the model.
        #[cfg(loom)]
        freed: std::sync::atomic::AtomicBool,
    }

    impl FreedCheck {
        /// Panics if the block holding this check has been freed.
        #[inline(always)]
        pub(crate) fn assert_live(&self) {
            #[cfg(loom)]
            assert!(
                !self.freed.load(std::sync::atomic::Ordering::SeqCst),
                "a block freed by the epoch was accessed again (use after free)"
            );
        }
    }

    /// Frees `ptr` (a `Box` turned into a raw pointer) once no thread that
    /// is pinned now can still be reading it.
    ///
    /// # Safety
    ///
    /// `ptr` came from `Box::into_raw`, is no longer reachable from any shared
    /// location for threads that pin after this call, and is retired once.
    pub(crate) unsafe fn defer_free<T: Retire>(guard: &Guard, ptr: *mut T) {
        struct SendPtr<T>(*mut T);
        // SAFETY: the pointer is only dereferenced by the deferred function,
        // which runs once, after every thread that could hold it has unpinned.
        unsafe impl<T> Send for SendPtr<T> {}
        let ptr = SendPtr(ptr);
        // SAFETY: the caller guarantees `ptr` is unreachable for new readers
        // and retired once; the epoch delays the free past current readers.
        // Retired blocks hold no values (links are empty when retired), so
        // running after `T`'s lifetime ends is sound, as in crossbeam-deque.
        unsafe {
            guard.defer_unchecked(move || {
                let ptr = ptr;
                free(ptr.0);
            });
        }
        // Small models never fill a bag of garbage: flush so loom exercises
        // the free itself, not only the deferral.
        #[cfg(loom)]
        guard.flush();
    }

    /// # Safety
    ///
    /// `ptr` came from `Box::into_raw` and nobody can reach it any more.
    #[cfg(not(loom))]
    unsafe fn free<T: Retire>(ptr: *mut T) {
        // SAFETY: forwarded from the caller.
        drop(unsafe { Box::from_raw(ptr) });
    }

    /// # Safety
    ///
    /// As above. The memory is kept (leaked) so that the flag stays readable.
    #[cfg(loom)]
    unsafe fn free<T: Retire>(ptr: *mut T) {
        // SAFETY: forwarded from the caller; the contents are dropped once and
        // the memory is never reused, so reading `freed` later is defined.
        unsafe {
            std::ptr::drop_in_place(ptr);
            (*ptr)
                .freed_check()
                .freed
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

#[cfg(not(loom))]
mod imp {
    pub(crate) use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize};
    pub(crate) use std::sync::{Arc, Mutex, MutexGuard};

    /// `std::cell::UnsafeCell` with loom's closure-based access, so the same
    /// code compiles against both.
    #[derive(Debug)]
    #[repr(transparent)]
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> Self {
            Self(std::cell::UnsafeCell::new(value))
        }

        /// Gives `f` a shared pointer to the contents.
        #[inline(always)]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Gives `f` a unique pointer to the contents.
        #[inline(always)]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

/// Something a thread keeps until its thread-local destructors run.
pub(crate) trait HeldUntilExit {}
impl<T> HeldUntilExit for T {}

/// The calling thread's word: one `usize` per thread, 0 until set, read with
/// a single thread-local load (const-initialised, no destructor, so no
/// "initialised?" or "destroyed?" check) and readable from any thread-local
/// destructor. `None` only under loom, once its storage is gone.
#[cfg(not(loom))]
#[inline(always)]
pub(crate) fn thread_word() -> Option<usize> {
    Some(THREAD_WORD.with(std::cell::Cell::get))
}

/// Sets the calling thread's word (ignored under loom once it is gone).
#[cfg(not(loom))]
pub(crate) fn set_thread_word(word: usize) {
    THREAD_WORD.with(|cell| cell.set(word));
}

#[cfg(not(loom))]
std::thread_local! {
    static THREAD_WORD: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Keeps `held` until the calling thread's thread-local destructors run, and
/// drops it there; hands it back if the thread is past that point or
/// already holds something (one per thread).
#[cfg(not(loom))]
pub(crate) fn hold_until_thread_exit(
    held: Box<dyn HeldUntilExit>,
) -> Result<(), Box<dyn HeldUntilExit>> {
    std::thread_local! {
        static HELD: std::cell::OnceCell<Box<dyn HeldUntilExit>> =
            const { std::cell::OnceCell::new() };
    }
    let mut held = Some(held);
    match HELD.try_with(|slot| slot.set(held.take().expect("not yet moved"))) {
        Ok(result) => result,
        Err(_) => Err(held.take().expect("not moved: the storage is gone")),
    }
}

#[cfg(loom)]
pub(crate) use loom_thread::{hold_until_thread_exit, set_thread_word, thread_word};

/// Under loom, the one thread-local whose destructor performs loom
/// operations.
///
/// loom 0.7 drops a thread's thread-locals in `HashMap` order, which differs
/// between executions; two thread-locals with modelled destructors (the
/// thread index and an epoch handle) therefore make a model
/// non-deterministic. Keeping both in one struct fixes their order: the
/// index is given back first, then the thread leaves the epoch collector.
/// The collector is the crate's own, so crossbeam-epoch's default
/// thread-local is never created.
#[cfg(loom)]
mod loom_thread {
    use super::HeldUntilExit;
    use crossbeam_epoch::{Collector, Guard, LocalHandle};
    use std::cell::{Cell, OnceCell};

    /// Both parts are created on first use, so a thread that never pins
    /// (or never uses a pool) adds no modelled operations.
    struct ThreadState {
        // Field order is drop order: what is held (the thread index) first.
        held: OnceCell<Box<dyn HeldUntilExit>>,
        epoch: OnceCell<LocalHandle>,
    }

    loom::lazy_static! {
        static ref COLLECTOR: Collector = Collector::new();
    }

    loom::thread_local! {
        static STATE: ThreadState = ThreadState {
            held: OnceCell::new(),
            epoch: OnceCell::new(),
        };
        // No modelled operations in its destructor, so its place in loom's
        // teardown order does not change the explored path.
        static WORD: Cell<usize> = Cell::new(0);
    }

    /// Runs `f` on the calling thread's state, or returns `None` once the
    /// thread is tearing it down.
    fn with<R>(f: impl FnOnce(&ThreadState) -> R) -> Option<R> {
        STATE.try_with(f).ok()
    }

    /// As the normal build's `thread_word`.
    pub(crate) fn thread_word() -> Option<usize> {
        WORD.try_with(Cell::get).ok()
    }

    /// As the normal build's `set_thread_word`.
    pub(crate) fn set_thread_word(word: usize) {
        let _ = WORD.try_with(|cell| cell.set(word));
    }

    /// As the normal build's `hold_until_thread_exit`.
    pub(crate) fn hold_until_thread_exit(
        held: Box<dyn HeldUntilExit>,
    ) -> Result<(), Box<dyn HeldUntilExit>> {
        let mut held = Some(held);
        match with(|state| state.held.set(held.take().expect("not yet moved"))) {
            Some(result) => result,
            None => Err(held.take().expect("not moved: the storage is gone")),
        }
    }

    /// Pins the calling thread in the crate's collector (through a
    /// temporary handle while the thread is exiting).
    pub(crate) fn pin() -> Guard {
        with(|state| state.epoch.get_or_init(|| COLLECTOR.register()).pin())
            .unwrap_or_else(|| COLLECTOR.register().pin())
    }
}

#[cfg(loom)]
mod imp {
    pub(crate) use loom::cell::UnsafeCell;
    pub(crate) use loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize};
    pub(crate) use loom::sync::{Arc, Mutex, MutexGuard};
}

pub(crate) use imp::*;
pub(crate) use std::sync::atomic::Ordering;

/// A handle on a `global!` that stays valid in thread-local destructors: a
/// plain reference normally; under loom a shared pointer, since loom drops
/// its lazy statics before those destructors run.
///
/// The pointer is std's `Arc`, not loom's: loom drops lazy statics in
/// `HashMap` order, and a modelled `Arc` decrement in that drop would make
/// the explored path differ between executions. What it points to is
/// loom's (mutexes, atomics), so every access is still modelled.
#[cfg(not(loom))]
pub(crate) type GlobalRef<T> = &'static T;
#[cfg(loom)]
pub(crate) type GlobalRef<T> = std::sync::Arc<T>;

#[cfg(not(loom))]
pub(crate) fn global_ref<T>(global: &'static T) -> GlobalRef<T> {
    global
}
#[cfg(loom)]
pub(crate) fn global_ref<T>(global: &'static std::sync::Arc<T>) -> GlobalRef<T> {
    std::sync::Arc::clone(global)
}

/// Declares a process-wide value: a plain `static` normally, a loom
/// `lazy_static` (reset for every explored execution) under loom.
macro_rules! global {
    ($(#[$attr:meta])* static $name:ident: $ty:ty = $init:expr;) => {
        #[cfg(not(loom))]
        $(#[$attr])*
        static $name: $ty = $init;
        #[cfg(loom)]
        ::loom::lazy_static! {
            $(#[$attr])*
            static ref $name: ::std::sync::Arc<$ty> = ::std::sync::Arc::new($init);
        }
    };
}
pub(crate) use global;

/// Declares a process-wide `Mutex<$ty>` (see [`global!`]).
macro_rules! global_mutex {
    ($(#[$attr:meta])* static $name:ident: $ty:ty = $init:expr;) => {
        $crate::sync::global! {
            $(#[$attr])*
            static $name: $crate::sync::Mutex<$ty> = $crate::sync::Mutex::new($init);
        }
    };
}
pub(crate) use global_mutex;

/// Writes `const fn` normally and plain `fn` under loom, whose types have no
/// const constructors (so `static POOL: Pool<_> = Pool::new(..)` works for
/// users while loom still models every field).
macro_rules! const_fn_unless_loom {
    ($(#[$attr:meta])* $vis:vis const fn $($rest:tt)*) => {
        #[cfg(not(loom))]
        $(#[$attr])*
        $vis const fn $($rest)*
        #[cfg(loom)]
        $(#[$attr])*
        $vis fn $($rest)*
    };
}
pub(crate) use const_fn_unless_loom;

/// An array of null atomic pointers, in a `const` context where the
/// platform allows it.
#[cfg(not(loom))]
pub(crate) const fn null_ptr_array<T, const N: usize>() -> [AtomicPtr<T>; N] {
    [const { AtomicPtr::new(std::ptr::null_mut()) }; N]
}

/// An array of null atomic pointers (loom's have no const constructor).
#[cfg(loom)]
pub(crate) fn null_ptr_array<T, const N: usize>() -> [AtomicPtr<T>; N] {
    std::array::from_fn(|_| AtomicPtr::new(std::ptr::null_mut()))
}

/// An array of zeroed counters, in a `const` context where the platform
/// allows it.
#[cfg(not(loom))]
pub(crate) const fn zeroed_counters<const N: usize>() -> [AtomicU64; N] {
    [const { AtomicU64::new(0) }; N]
}

/// An array of zeroed counters (loom's have no const constructor).
#[cfg(loom)]
pub(crate) fn zeroed_counters<const N: usize>() -> [AtomicU64; N] {
    std::array::from_fn(|_| AtomicU64::new(0))
}

/// Takes a poisoned lock anyway: every structure guarded by a mutex in this
/// crate is left consistent before any user code can panic.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// [`lock`], or `None` if another thread holds the mutex.
pub(crate) fn try_lock<T>(mutex: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    match mutex.try_lock() {
        Ok(guard) => Some(guard),
        Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => None,
    }
}

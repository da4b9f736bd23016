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

pub(crate) mod asymmetric_fence {
    //! An asymmetric fence: a cheap side for the frequent party (a pool's owner
    //! thread, on every private-slot access) and an expensive side for the rare
    //! one (a cleanup draining idle threads' private slots).
    //!
    //! Together the two sides order a store before a load on each side, as a
    //! pair of `SeqCst` fences would (Dekker's pattern: each side stores its
    //! flag, fences, loads the other's; at least one of them sees the other's
    //! flag). The light side costs only a compiler fence; the heavy side asks
    //! the kernel to run a full memory barrier on every running thread of the
    //! process (Linux `membarrier`, `MEMBARRIER_CMD_PRIVATE_EXPEDITED`), which
    //! acts as the missing fence of whichever owner is between its store and
    //! its load. A thread that is not running has no pending store to order:
    //! the context switch that stopped it was a full barrier.
    //!
    //! Where no such barrier exists (other systems, or a kernel that refuses
    //! the call), [`heavy`] returns `false` and callers must not rely on the
    //! pattern against threads that only ran [`light`]. Under loom and Miri both
    //! sides are `SeqCst` fences, the portable form of the same argument, so the
    //! models check the protocol that the fast build relies on.
    //!
    //! Setting the environment variable `VICTIM_POOL_NO_MEMBARRIER` (to any
    //! value) before the first cleanup makes [`heavy`] return `false`
    //! everywhere, loom and Miri included: for a process that must not send
    //! inter-processor interrupts to its other threads' CPUs, and so that the
    //! tests and models cover the fallback too.

    #[cfg(any(loom, miri))]
    mod imp {
        #[cfg(loom)]
        use loom::sync::atomic::fence;
        #[cfg(not(loom))]
        use std::sync::atomic::fence;
        use std::sync::atomic::Ordering::SeqCst;

        #[inline(always)]
        pub(crate) fn light() {
            // SeqCst [slot-dekker, slot-listing]: the owner's side, a real
            // fence where there is no process-wide barrier to stand in.
            fence(SeqCst);
        }

        pub(crate) fn heavy() -> bool {
            if !available() {
                return false;
            }
            // SeqCst [slot-dekker, slot-listing]: the cleanup's side.
            fence(SeqCst);
            true
        }

        pub(crate) fn available() -> bool {
            !super::disabled()
        }
    }

    #[cfg(all(
        not(any(loom, miri)),
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    mod imp {
        use std::ffi::{c_int, c_long};
        use std::sync::atomic::Ordering::{Relaxed, SeqCst};
        use std::sync::atomic::{compiler_fence, fence, AtomicU8};

        #[cfg(target_arch = "x86_64")]
        const SYS_MEMBARRIER: c_long = 324;
        #[cfg(target_arch = "aarch64")]
        const SYS_MEMBARRIER: c_long = 283;
        const CMD_QUERY: c_int = 0;
        const CMD_PRIVATE_EXPEDITED: c_int = 1 << 3;
        const CMD_REGISTER_PRIVATE_EXPEDITED: c_int = 1 << 4;

        extern "C" {
            // The C library's variadic system-call entry; std links it on Linux.
            fn syscall(number: c_long, ...) -> c_long;
        }

        fn membarrier(command: c_int) -> c_long {
            // SAFETY: membarrier(2) takes (cmd, flags, cpu_id) as ints, reads and
            // writes no memory of ours, and reports failure as -1.
            unsafe { syscall(SYS_MEMBARRIER, command, 0 as c_int, 0 as c_int) }
        }

        const UNKNOWN: u8 = 0;
        const AVAILABLE: u8 = 1;
        const UNAVAILABLE: u8 = 2;
        /// Whether this process registered for expedited barriers.
        static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);

        #[cold]
        fn register() -> u8 {
            if super::disabled() {
                // Relaxed [barrier-state]: as below.
                STATE.store(UNAVAILABLE, Relaxed);
                return UNAVAILABLE;
            }
            let supported = membarrier(CMD_QUERY);
            let wanted = (CMD_PRIVATE_EXPEDITED | CMD_REGISTER_PRIVATE_EXPEDITED) as c_long;
            let state = if supported >= 0
                && supported & wanted == wanted
                && membarrier(CMD_REGISTER_PRIVATE_EXPEDITED) == 0
            {
                AVAILABLE
            } else {
                UNAVAILABLE
            };
            // Relaxed [barrier-state]: registering twice is harmless, and the
            // registration is a kernel-side fact, not data published here.
            STATE.store(state, Relaxed);
            state
        }

        #[inline(always)]
        pub(crate) fn light() {
            // SeqCst [slot-dekker, slot-listing]: the owner's side; the
            // compiler keeps its store before its load, and the cleanup's
            // membarrier makes the CPU's full barrier for it.
            compiler_fence(SeqCst);
        }

        pub(crate) fn available() -> bool {
            // Relaxed [barrier-state]: as in `register`; a thread that still
            // reads UNKNOWN registers again.
            let state = match STATE.load(Relaxed) {
                UNKNOWN => register(),
                state => state,
            };
            state == AVAILABLE
        }

        pub(crate) fn heavy() -> bool {
            if !available() {
                return false;
            }
            // SeqCst [slot-dekker, slot-listing]: the cleanup's side; the
            // fences order its mark before, and its look after, the
            // barrier that every running thread executes.
            fence(SeqCst);
            let done = membarrier(CMD_PRIVATE_EXPEDITED) == 0;
            // SeqCst [slot-dekker, slot-listing]: as above.
            fence(SeqCst);
            done
        }
    }

    #[cfg(not(any(
        loom,
        miri,
        all(
            target_os = "linux",
            any(target_arch = "x86_64", target_arch = "aarch64")
        )
    )))]
    mod imp {
        use std::sync::atomic::{compiler_fence, Ordering::SeqCst};

        #[inline(always)]
        pub(crate) fn light() {
            // SeqCst [slot-dekker, slot-listing]: the owner's side; with no
            // barrier (`heavy` fails), cleanups leave the slot to its owner,
            // so this orders nothing that a cleanup relies on.
            compiler_fence(SeqCst);
        }

        pub(crate) fn heavy() -> bool {
            false
        }

        pub(crate) fn available() -> bool {
            false
        }
    }

    /// Whether `VICTIM_POOL_NO_MEMBARRIER` turns the heavy side off.
    #[cfg_attr(
        not(any(
            loom,
            miri,
            all(
                target_os = "linux",
                any(target_arch = "x86_64", target_arch = "aarch64")
            )
        )),
        allow(dead_code)
    )]
    fn disabled() -> bool {
        std::env::var_os("VICTIM_POOL_NO_MEMBARRIER").is_some()
    }

    /// The owner's side: between its flag store and its load of the other
    /// party's flag. A compiler fence where [`heavy`] is a process-wide barrier.
    #[inline(always)]
    pub(crate) fn light() {
        imp::light();
    }

    /// The drainer's side: between its flag store and its loads of the owners'
    /// flags. Returns `false`, having ordered nothing against [`light`], where
    /// no process-wide barrier is available.
    pub(crate) fn heavy() -> bool {
        imp::heavy()
    }

    /// Whether [`heavy`] orders anything here: a process-wide barrier exists
    /// and is not turned off. Issues no barrier (the first call registers the
    /// process for them, as the first `heavy` would).
    pub(crate) fn available() -> bool {
        imp::available()
    }
}
#[cfg(loom)]
use std::fmt;

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
            // SeqCst [freed-check]: a std atomic outside the model; only
            // the flag's own value is read.
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
            // SeqCst [freed-check]: as in `assert_live`.
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
        // Created by the first thread that pins, and published to the
        // others by the lazy static; freed with the execution's scope (see
        // `execution::Scope`), so its teardown has a fixed place.
        static ref COLLECTOR: &'static Collector =
            super::execution::free_at_end(Collector::new());
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

/// State that loom must model: a plain `S` normally, one `S` per loom
/// execution under loom. Declared with [`per_execution!`].
///
/// A `static` holding loom types is a problem for loom: its atomics and
/// mutexes must be created inside the execution that uses them, and every
/// execution must start from the same state. So under loom this wrapper
/// keeps the function that builds `S` and creates a fresh `S` the first time
/// each execution uses it; in a normal build it is the `S` itself, built by a
/// `const fn`, and dereferencing it costs nothing.
#[cfg(not(loom))]
#[repr(transparent)]
pub(crate) struct PerExecution<S>(S);

#[cfg(not(loom))]
impl<S> PerExecution<S> {
    /// Wraps a state built in a `const` context (see [`per_execution!`]).
    pub(crate) const fn new(state: S) -> Self {
        PerExecution(state)
    }

    /// Nothing to do: the state was built with the pool.
    #[inline(always)]
    pub(crate) const fn build_now(&self) {}
}

#[cfg(not(loom))]
impl<S> std::ops::Deref for PerExecution<S> {
    type Target = S;

    #[inline(always)]
    fn deref(&self) -> &S {
        &self.0
    }
}

/// Builds a [`PerExecution`] from the path of a constructor of `S`: called in
/// place (and `const`) normally; under loom kept and called once per
/// execution.
#[cfg(not(loom))]
macro_rules! per_execution {
    ($init:path) => {
        $crate::sync::PerExecution::new($init())
    };
}
#[cfg(loom)]
macro_rules! per_execution {
    ($init:path) => {
        $crate::sync::PerExecution::new($init)
    };
}
pub(crate) use per_execution;

/// Under loom: one `S` per execution, created on the execution's first use.
///
/// # Invariants
///
/// - X1: every state in `states` came from `Box::into_raw`; it is freed
///   once, while its execution runs: by `Drop` if the pool is dropped in
///   that execution, else when the execution ends (X4). Loom types of an
///   execution that has ended must never be touched again, so an entry of
///   an ended execution is only counted, never read.
/// - X2: `states` holds at most one entry per OS thread: the state of the
///   latest execution that OS thread ran (loom runs all the threads of one
///   model on the OS thread that called `loom::model`; parallel tests each
///   have their own). An entry of an ended execution is replaced by the
///   next execution's and counted in `left_behind`.
/// - X3: a state's creation happens-before every use of it: each entry has
///   a loom lazy static of its own (leaked, so its address is never reused),
///   initialized right after the state is built, and every access reads it.
///   loom publishes a lazy static's initialization to its readers without a
///   scheduling point. Without this edge, loom would report the first use
///   of a state by a second thread as a race with its creation.
/// - X4: from creation until `Drop` takes it back, a state is registered
///   with the execution's `Scope`, which frees it when the execution ends:
///   a static pool's values and links are then dropped inside the
///   execution, as loom's leak check requires. A pool that outlives the
///   execution some other way (leaked) has its values dropped then too:
///   under loom, such a pool must not hold values that borrow from the
///   model closure.
#[cfg(loom)]
pub(crate) struct PerExecution<S> {
    init: fn() -> S,
    states: std::sync::Mutex<PerExecutionStates>,
    _owns: std::marker::PhantomData<S>,
}

#[cfg(loom)]
struct PerExecutionStates {
    live: Vec<LiveState>,
    /// How many states of ended executions were left behind.
    left_behind: usize,
}

#[cfg(loom)]
struct LiveState {
    os_thread: std::thread::ThreadId,
    execution: u64,
    /// A `*mut S`.
    state: *mut (),
    /// Carries the happens-before edge from the state's creation (X3).
    created: &'static loom::lazy_static::Lazy<()>,
}

// SAFETY: the wrapper owns its states (X1), so moving it to another thread
// moves them: `S: Send` suffices.
#[cfg(loom)]
unsafe impl<S: Send> Send for PerExecution<S> {}
// SAFETY: shared access gives out `&S` on any thread (`S: Sync`), and a state
// is created on one thread and may be dropped on another (`S: Send`).
#[cfg(loom)]
unsafe impl<S: Send + Sync> Sync for PerExecution<S> {}

/// What to do when a pool meets a loom execution it does not belong to.
#[cfg(loom)]
const ACROSS_EXECUTIONS: &str = "victim-pool under loom: a pool's contents belong to one \
     loom execution, but this pool was used outside any execution, or kept from one execution \
     into another and then dropped. Create the pool inside the closure given to loom::model \
     (each execution then builds its own), or declare it as a `static` (each execution then \
     starts from a fresh, empty pool). See victim_pool::docs::model_checking.";

/// Under loom, what the crate keeps for one loom execution and tears down
/// at its end.
#[cfg(loom)]
mod execution {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Mutex;

    /// Hands out execution identities, unique in the process.
    static NEXT: AtomicU64 = AtomicU64::new(1);

    std::thread_local! {
        /// The identity of the execution that this OS thread runs now, or
        /// ran last; replaced when an execution that used the crate ends.
        // Relaxed [execution-id]: a std atomic outside the model; only the
        // uniqueness of the ids matters, and the RMW alone gives it.
        static CURRENT: Cell<u64> = Cell::new(NEXT.fetch_add(1, Ordering::Relaxed));
    }

    /// A state to drop when the execution ends, unless its owner drops it
    /// first: a `Box<S>` as a raw pointer, and the function that frees it.
    struct Pending {
        state: *mut (),
        free: unsafe fn(*mut ()),
    }

    // SAFETY: loom runs all threads of an execution on one OS thread; the
    // pointer only moves between its loom threads.
    unsafe impl Send for Pending {}

    /// What the crate frees when the execution ends: the states of pools
    /// still alive then (a static pool's links and values) and the epoch
    /// collector, in the order they were created. loom drops its lazy
    /// statics in `HashMap` order, which differs between executions: two
    /// of them whose drops perform loom operations make the same schedule
    /// take different paths. So this is the only one whose drop does.
    pub(crate) struct Scope {
        pending: Mutex<Vec<Pending>>,
    }

    impl Drop for Scope {
        fn drop(&mut self) {
            let pending = std::mem::take(
                self.pending
                    .get_mut()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
            );
            for Pending { state, free } in pending {
                // SAFETY: registered by `PerExecution` with the matching
                // free function and not deregistered, so nobody else frees
                // it; its loom objects belong to this execution, which is
                // still running (see `PerExecution`'s X4).
                unsafe { free(state) };
            }
            // Relaxed [execution-id]: as for `CURRENT`'s first value.
            CURRENT.with(|current| current.set(NEXT.fetch_add(1, Ordering::Relaxed)));
        }
    }

    loom::lazy_static! {
        static ref SCOPE: Scope = Scope {
            pending: Mutex::new(Vec::new()),
        };
    }

    /// The identity of the running execution, read without any modelled
    /// operation.
    pub(super) fn current() -> u64 {
        CURRENT.with(Cell::get)
    }

    /// Whether a loom execution is running on this thread (and is not
    /// shutting down).
    pub(super) fn running() -> bool {
        let touch = || {
            let _: &Scope = &SCOPE;
        };
        // Outside an execution loom panics (its own message goes to the
        // panic hook); this catches it so the caller can say what to do.
        std::panic::catch_unwind(touch).is_ok()
    }

    /// Has `state` freed by `free` when the execution ends, unless taken
    /// back with [`keep`] (and makes [`current`] change then).
    pub(super) fn drop_at_end(state: *mut (), free: unsafe fn(*mut ())) {
        lock(&SCOPE.pending).push(Pending { state, free });
    }

    /// Moves `value` to the heap until the execution ends; it is freed then.
    pub(super) fn free_at_end<V>(value: V) -> &'static V {
        let value = Box::into_raw(Box::new(value));
        lock(&SCOPE.pending).push(Pending {
            state: value.cast(),
            free: super::free_state::<V>,
        });
        // SAFETY: freed only by the scope's drop, when the execution ends;
        // nothing of this execution runs after that but thread-local
        // destructors, which reach it through a lazy static that is gone by
        // then (and panics when used).
        unsafe { &*value }
    }

    /// Takes `state` back from [`drop_at_end`]: its owner frees it.
    pub(super) fn keep(state: *mut ()) {
        lock(&SCOPE.pending).retain(|pending| pending.state != state);
    }

    fn lock(pending: &Mutex<Vec<Pending>>) -> std::sync::MutexGuard<'_, Vec<Pending>> {
        pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Frees a state of type `S` registered as `*mut ()`.
///
/// # Safety
///
/// `state` came from `Box::<S>::into_raw`, is freed once, and its loom
/// objects belong to the running execution.
#[cfg(loom)]
unsafe fn free_state<S>(state: *mut ()) {
    // SAFETY: forwarded from the caller.
    drop(unsafe { Box::from_raw(state.cast::<S>()) });
}

#[cfg(loom)]
impl<S> PerExecution<S> {
    /// Keeps `init` to build the state of each execution.
    pub(crate) const fn new(init: fn() -> S) -> Self {
        PerExecution {
            init,
            states: std::sync::Mutex::new(PerExecutionStates {
                live: Vec::new(),
                left_behind: 0,
            }),
            _owns: std::marker::PhantomData,
        }
    }

    /// Builds the running execution's state now, on this thread, if it does
    /// not exist yet; for a pool built at run time, so that its state is
    /// created where the pool is, as in a normal build.
    pub(crate) fn build_now(&self) {
        let _: &S = self;
    }
}

#[cfg(loom)]
impl<S> std::ops::Deref for PerExecution<S> {
    type Target = S;

    /// The running execution's state, created on its first use.
    ///
    /// # Panics
    ///
    /// Outside a loom execution.
    fn deref(&self) -> &S {
        let os_thread = std::thread::current().id();
        let execution = execution::current();
        let mut states = self
            .states
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let found = states
            .live
            .iter()
            .find(|live| live.os_thread == os_thread && live.execution == execution)
            .map(|live| (live.state, live.created));
        let state = match found {
            Some((state, created)) => {
                drop(states);
                // X3: acquire the state's creation.
                let _: &() = created.get();
                state
            }
            None => {
                assert!(execution::running(), "{ACROSS_EXECUTIONS}");
                // Building the state creates loom objects but performs no
                // modelled operation, so no other loom thread runs meanwhile.
                let state = Box::into_raw(Box::new((self.init)())).cast::<()>();
                // X4: a state still here when the execution ends is freed
                // then.
                execution::drop_at_end(state, free_state::<S>);
                let created: &'static loom::lazy_static::Lazy<()> =
                    Box::leak(Box::new(loom::lazy_static::Lazy {
                        init: || (),
                        _p: std::marker::PhantomData,
                    }));
                // X2: this OS thread's earlier execution has ended: leak its
                // state (X1).
                let before = states.live.len();
                states.live.retain(|live| live.os_thread != os_thread);
                states.left_behind += before - states.live.len();
                states.live.push(LiveState {
                    os_thread,
                    execution,
                    state,
                    created,
                });
                drop(states);
                // X3: initializing the lazy static releases the creation.
                let _: &() = created.get();
                state
            }
        };
        // SAFETY: X1: the state stays allocated until `self` is dropped,
        // which cannot happen while `&self` is borrowed.
        unsafe { &*state.cast::<S>() }
    }
}

#[cfg(loom)]
impl<S> Drop for PerExecution<S> {
    fn drop(&mut self) {
        let os_thread = std::thread::current().id();
        let execution = execution::current();
        let states = self
            .states
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut others = states.left_behind;
        for live in &states.live {
            if live.os_thread == os_thread && live.execution == execution {
                execution::keep(live.state);
                // SAFETY: X1, X4: from `Box::into_raw`, taken back from the
                // end of the execution, and freed once, here, during the
                // execution whose loom objects it holds.
                unsafe { free_state::<S>(live.state) };
            } else {
                others += 1;
            }
        }
        if others > 0 && !std::thread::panicking() {
            panic!("{ACROSS_EXECUTIONS}");
        }
    }
}

#[cfg(loom)]
impl<S> fmt::Debug for PerExecution<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("PerExecution { .. }")
    }
}

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

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
        fence(SeqCst);
    }

    pub(crate) fn heavy() -> bool {
        if super::disabled() {
            return false;
        }
        fence(SeqCst);
        true
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
        compiler_fence(SeqCst);
    }

    pub(crate) fn heavy() -> bool {
        // Relaxed [barrier-state]: as in `register`; a thread that still
        // reads UNKNOWN registers again.
        let state = match STATE.load(Relaxed) {
            UNKNOWN => register(),
            state => state,
        };
        if state != AVAILABLE {
            return false;
        }
        fence(SeqCst);
        let done = membarrier(CMD_PRIVATE_EXPEDITED) == 0;
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
        compiler_fence(SeqCst);
    }

    pub(crate) fn heavy() -> bool {
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

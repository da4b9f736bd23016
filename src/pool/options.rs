//! What a pool does with values on return: reset them, keep or discard them;
//! and the builder that sets those rules, `const` so a `static` can use it.

use super::inline_fn::{InlineFn, Storage};
use super::Pool;
use crate::chain::DEFAULT_FIRST_CAPACITY;
use crate::dequeue::MAX_CAPACITY;
use std::fmt;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::ptr::{self, addr_of};

/// Calls a reset rule stored in an `InlineFn`.
type ResetShim<T> = unsafe fn(*const Storage, &mut T);
/// Calls a keep rule stored in an `InlineFn`.
type KeepShim<T> = unsafe fn(*const Storage, &T) -> bool;

/// Calls the `R` stored at `rule`.
///
/// # Safety
///
/// `rule` holds a live `R` (`InlineFn`'s N1 and N3).
unsafe fn call_reset<T, R: Fn(&mut T)>(rule: *const Storage, value: &mut T) {
    // SAFETY: the caller's contract.
    unsafe { (*rule.cast::<R>())(value) }
}

/// Calls the `R` stored at `rule`.
///
/// # Safety
///
/// `rule` holds a live `R` (`InlineFn`'s N1 and N3).
unsafe fn call_keep<T, R: Fn(&T) -> bool>(rule: *const Storage, value: &T) -> bool {
    // SAFETY: the caller's contract.
    unsafe { (*rule.cast::<R>())(value) }
}

/// The return-time rules of a pool; all off for [`Pool::new`].
///
/// Owns its rules: its `Drop` drops each stored closure once.
pub(crate) struct Rules<T> {
    pub(crate) reset: Option<InlineFn<ResetShim<T>>>,
    pub(crate) keep: Option<InlineFn<KeepShim<T>>>,
    pub(crate) max_chain: usize,
    /// Whether `reset` or `keep` is set: the fast paths test this one flag.
    pub(crate) screens: bool,
}

impl<T> Rules<T> {
    pub(crate) const NONE: Rules<T> = Rules {
        reset: None,
        keep: None,
        max_chain: usize::MAX,
        screens: false,
    };

    /// Applies the keep rule, then the reset rule; `false` if the value is
    /// to be discarded (refused, or a rule panicked).
    ///
    /// On a thread that is already unwinding (a guard dropped by a panic), a
    /// panic escaping a rule would abort the process, so it is caught here
    /// and the value discarded; the panic hook still reports it. Otherwise
    /// the panic propagates to the caller, which discards the value.
    pub(crate) fn accept(&self, value: &mut T) -> bool {
        if std::thread::panicking() {
            // Unwind safety: the rule's panic costs only this value, which
            // the caller drops; the pool's own state is not borrowed here.
            catch_unwind(AssertUnwindSafe(|| self.apply(value))).unwrap_or(false)
        } else {
            self.apply(value)
        }
    }

    fn apply(&self, value: &mut T) -> bool {
        if let Some(keep) = &self.keep {
            let (rule, call) = keep.parts();
            // SAFETY: `call` is the shim stored with this rule, which is
            // alive until `self` drops (N1, N3).
            if !unsafe { call(rule, value) } {
                return false;
            }
        }
        if let Some(reset) = &self.reset {
            let (rule, call) = reset.parts();
            // SAFETY: as above.
            unsafe { call(rule, value) }
        }
        true
    }
}

impl<T> Drop for Rules<T> {
    fn drop(&mut self) {
        // Each rule is dropped here and nowhere else: the builder sets a
        // rule only where there was none, and moves `Rules` whole. A panic
        // from the reset hook's captures still lets the keep rule drop.
        let reset = catch_unwind(AssertUnwindSafe(|| {
            if let Some(reset) = &mut self.reset {
                // SAFETY: the rule was stored once and is dropped once (N3);
                // `self` is not used afterwards.
                unsafe { reset.drop_in_place() }
            }
        }));
        if let Some(keep) = &mut self.keep {
            // SAFETY: as above.
            unsafe { keep.drop_in_place() }
        }
        if let Err(panic) = reset {
            resume_unwind(panic);
        }
    }
}

impl<T> fmt::Debug for Rules<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |is_set: bool| if is_set { "set" } else { "none" };
        let mut rules = f.debug_struct("Rules");
        rules
            .field("reset", &format_args!("{}", set(self.reset.is_some())))
            .field("keep_if", &format_args!("{}", set(self.keep.is_some())));
        if self.max_chain == usize::MAX {
            rules.field("max_chain_per_thread", &format_args!("unbounded"));
        } else {
            rules.field("max_chain_per_thread", &self.max_chain);
        }
        rules.finish()
    }
}

// The builder is `const` so that a `static` pool can carry its rules (no
// `LazyLock`). A `const fn` cannot box a closure nor run a destructor, which
// shapes it:
// - rules are stored inline (`InlineFn`), so `Pool<T, F>` does not depend on
//   the rules' types and a capturing `move` rule built at run time gives the
//   same type as a `fn` item in a static;
// - a rule is set once: replacing one would have to drop the old closure,
//   which a `const fn` cannot do, and forgetting it would leak its captures
//   at run time. Setting it twice panics (a compile error in a `static`);
// - setters assign fields of `self` (whose old values have no drop glue) and
//   return it whole, and `build` takes `self` apart through `ManuallyDrop`,
//   since stable `const fn`s cannot drop a partly moved value (borrowing a
//   builder whose `F` may hold a cell, in a `const fn`, needs Rust 1.83);
// - the closure is moved into the buffer through a union, not `ptr::write`,
//   so no `&mut` is needed in const.

/// Builds a [`Pool`] with return-time rules: a reset rule, a keep-or-discard
/// rule, a per-thread bound. From [`Pool::builder`] (a `fn` or non-capturing
/// closure as the create function, the usual case) or
/// [`PoolBuilder::new`] (any create function).
///
/// Every method is `const`, so a `static` pool can have rules.
///
/// # Examples
///
/// ```
/// use victim_pool::Pool;
///
/// static BUFFERS: Pool<Vec<u8>> = Pool::builder(Vec::new)
///     .reset(Vec::clear)
///     .keep_if(|buffer| buffer.capacity() <= 1 << 20)
///     .max_chain_per_thread(64)
///     .build();
///
/// let mut buffer = BUFFERS.get();
/// buffer.extend_from_slice(b"dirty");
/// drop(buffer); // reset on return
/// assert!(BUFFERS.get().is_empty());
///
/// BUFFERS.put(Vec::with_capacity(64 << 20)); // too big to keep: dropped
/// assert_eq!(BUFFERS.stats().discarded, 1);
/// ```
///
/// Rules built at run time may capture (up to four words; capture an `Arc`
/// for more), and the pool's type does not change:
///
/// ```
/// use victim_pool::Pool;
///
/// let limit = 4096; // from a configuration file, say
/// let strings: Pool<String> = Pool::builder(|| String::with_capacity(64))
///     .reset(|s: &mut String| s.clear())
///     .keep_if(move |s: &String| s.capacity() <= limit)
///     .build();
/// strings.put("x".repeat(10_000));
/// assert_eq!(strings.stats().discarded, 1);
/// ```
///
/// A capture that does not fit is a compile error naming the fix:
///
/// ```compile_fail
/// let big = [0u64; 8];
/// let pool: victim_pool::Pool<u64> = victim_pool::Pool::builder(|| 0)
///     .keep_if(move |v: &u64| big.contains(v))
///     .build();
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct PoolBuilder<T, F = fn() -> T> {
    create: F,
    rules: Rules<T>,
    first_capacity: usize,
}

impl<T, F: Fn() -> T> PoolBuilder<T, F> {
    /// Starts a pool with any create function, such as a closure that
    /// captures; [`Pool::builder`] is the shorthand for a `fn`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use victim_pool::PoolBuilder;
    ///
    /// let template = Arc::new(vec![0u8; 16]);
    /// let pool = PoolBuilder::new(move || Vec::clone(&template))
    ///     .reset(|v: &mut Vec<u8>| v.fill(0))
    ///     .build();
    /// assert_eq!(pool.get().len(), 16);
    /// ```
    pub const fn new(create: F) -> Self {
        PoolBuilder {
            create,
            rules: Rules::NONE,
            first_capacity: DEFAULT_FIRST_CAPACITY,
        }
    }

    /// Runs `reset` on every value given back to the pool (by `put` or a
    /// guard's drop), on the returning thread, before the value is
    /// stored, so a value taken from the pool is always clean.
    ///
    /// It runs on every value the keep rule accepts, including one that
    /// the per-thread bound then refuses; not on values the keep rule
    /// refuses, nor on values later dropped by aging. If it panics, the
    /// value is dropped (counted as discarded) and the panic propagates
    /// from `put`, except during a guard's drop on a thread that is
    /// already panicking: then the panic is caught (the panic hook still
    /// reports it), since a second one would abort the process.
    ///
    /// `reset` may capture up to four words (an `Arc` of anything
    /// larger); more is a compile error.
    ///
    /// # Panics
    ///
    /// Panics if this builder already has a reset rule (a compile error
    /// in a `static`): each rule is set once.
    #[track_caller]
    pub const fn reset<R>(mut self, reset: R) -> Self
    where
        R: Fn(&mut T) + Send + Sync + 'static,
    {
        if self.rules.reset.is_some() {
            panic!("PoolBuilder::reset called twice: each rule is set once");
        }
        let call: ResetShim<T> = call_reset::<T, R>;
        self.rules.reset = Some(InlineFn::new(reset, call));
        self.rules.screens = true;
        self
    }

    /// Keeps a returned value only if `keep` says so; otherwise it is
    /// dropped on the returning thread and counted in
    /// [`PoolStats::discarded`](crate::PoolStats::discarded). Use it to
    /// refuse values that would pin too much memory (golang/go#23199).
    /// Evaluated before the reset rule; a panic is handled as for
    /// [`reset`](PoolBuilder::reset).
    ///
    /// # Panics
    ///
    /// Panics if this builder already has a keep rule (a compile error
    /// in a `static`): each rule is set once.
    #[track_caller]
    pub const fn keep_if<R>(mut self, keep: R) -> Self
    where
        R: Fn(&T) -> bool + Send + Sync + 'static,
    {
        if self.rules.keep.is_some() {
            panic!("PoolBuilder::keep_if called twice: each rule is set once");
        }
        let call: KeepShim<T> = call_keep::<T, R>;
        self.rules.keep = Some(InlineFn::new(keep, call));
        self.rules.screens = true;
        self
    }

    /// Bounds how many values one thread's chain keeps: a `put` that would
    /// push onto a chain already holding `max` values drops that value
    /// instead (counted as discarded). Usually that is the value being
    /// put; when the private slot holds a value from before the last
    /// cleanup, the new value takes the slot and the old one is the value
    /// pushed (onto the victim chain) or dropped. The private slot holds
    /// one more, and values that age into the victim cache still count
    /// against the chain they are in. So one thread retains at most
    /// `2 * max + 1` values (its primary chain, its victim chain, its
    /// private slot). Measuring the chain pins the epoch, so bounded puts
    /// to the chain cost a little more.
    pub const fn max_chain_per_thread(mut self, max: usize) -> Self {
        self.rules.max_chain = max;
        self
    }

    /// Sets the capacity of the first ring of each thread's chains (8
    /// unless set); later rings double. Small values suit model checking.
    /// The same setting as [`Pool::with_first_capacity`] and
    /// [`PoolChain::with_first_capacity`](crate::PoolChain::with_first_capacity).
    ///
    /// # Panics
    ///
    /// Panics unless `capacity` is a power of two between 1 and 2^30
    /// (a compile error in a `static`).
    #[track_caller]
    pub const fn with_first_capacity(mut self, capacity: usize) -> Self {
        check_first_capacity(capacity);
        self.first_capacity = capacity;
        self
    }

    /// Former name of [`with_first_capacity`](PoolBuilder::with_first_capacity).
    ///
    /// # Panics
    ///
    /// As [`with_first_capacity`](PoolBuilder::with_first_capacity).
    #[deprecated(since = "0.1.0", note = "renamed `with_first_capacity`")]
    #[track_caller]
    pub fn first_link_capacity(self, capacity: usize) -> Self {
        self.with_first_capacity(capacity)
    }

    /// The pool.
    #[must_use = "the pool is dropped at once"]
    pub const fn build(self) -> Pool<T, F> {
        let this = ManuallyDrop::new(self);
        let this: *const Self = (&this as *const ManuallyDrop<Self>).cast();
        // SAFETY: `this` points to a live builder that is never dropped
        // (it is in a `ManuallyDrop`), and each field is read once, so
        // the create function and the rules have exactly one owner.
        unsafe {
            Pool::from_parts(
                ptr::read(addr_of!((*this).create)),
                ptr::read(addr_of!((*this).rules)),
                (*this).first_capacity,
            )
        }
    }
}

/// Panics unless `capacity` is a power of two in `1..=MAX_CAPACITY`, with a
/// message naming it; usable in a `const fn`, where `format!` is not.
#[track_caller]
pub(crate) const fn check_first_capacity(capacity: usize) {
    if capacity.is_power_of_two() && capacity <= MAX_CAPACITY {
        return;
    }
    const PREFIX: &[u8] = b"the first capacity must be a power of two between 1 and 2^30, got ";
    let mut message = [0u8; PREFIX.len() + 20];
    let mut i = 0;
    while i < PREFIX.len() {
        message[i] = PREFIX[i];
        i += 1;
    }
    let mut digits = 1;
    let mut rest = capacity / 10;
    while rest > 0 {
        digits += 1;
        rest /= 10;
    }
    let mut rest = capacity;
    let mut at = PREFIX.len() + digits;
    while at > PREFIX.len() {
        at -= 1;
        message[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    let (text, _) = message.split_at(PREFIX.len() + digits);
    match std::str::from_utf8(text) {
        Ok(text) => panic!("{}", text),
        Err(_) => panic!("the first capacity must be a power of two between 1 and 2^30"),
    }
}

impl<T, F> fmt::Debug for PoolBuilder<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolBuilder")
            .field("rules", &self.rules)
            .field("first_capacity", &self.first_capacity)
            .finish_non_exhaustive()
    }
}

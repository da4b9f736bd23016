//! A closure kept inline in a few words of storage, so that a `const fn`
//! (the builder of a `static` pool) can hold one without boxing it.
//!
//! A `const fn` can neither allocate nor call a closure's destructor, so a
//! rule is moved whole into a fixed buffer and reached through two shims,
//! monomorphized for its type when it is stored: one calls it, one drops it.
//! The buffer has no drop glue of its own; its owner (`Rules`) runs the drop
//! shim exactly once, at run time.

use std::mem::{align_of, size_of, ManuallyDrop, MaybeUninit};

/// How many words a rule may capture inline.
pub(crate) const WORDS: usize = 4;

/// The buffer a rule lives in: word-aligned, possibly partly uninitialized.
pub(crate) type Storage = MaybeUninit<[usize; WORDS]>;

/// Reinterprets a closure as the start of a buffer, in a `const fn` (where
/// neither `ptr::write` through a `&mut` nor `transmute` of a generic type
/// is available on the supported Rust versions).
union Pun<R> {
    closure: ManuallyDrop<R>,
    storage: Storage,
}

/// A closure of some erased type `R`, stored inline, with the shim `S` that
/// calls it.
///
/// # Invariants
///
/// - N1: `storage` holds a valid `R` at offset 0 (`size_of::<R>() <=
///   size_of::<Storage>()`, `align_of::<R>() <= align_of::<Storage>()`),
///   where `R` is the type `call` and `drop` were instantiated with.
/// - N2: `R: Send + Sync + 'static`, so the value may be shared and sent with
///   the `InlineFn` (whose auto traits see only words and fn pointers).
/// - N3: the `R` is dropped at most once, through `drop_in_place`, and never
///   called afterwards. An `InlineFn` is neither `Copy` nor `Clone`.
pub(crate) struct InlineFn<S> {
    storage: Storage,
    call: S,
    drop: unsafe fn(*mut Storage),
}

impl<S: Copy> InlineFn<S> {
    /// Stores `closure`; `call` must be the call shim instantiated for `R`.
    ///
    /// Fails to compile (when instantiated) if `R` does not fit.
    pub(crate) const fn new<R: Send + Sync + 'static>(closure: R, call: S) -> Self {
        const {
            assert!(
                size_of::<R>() <= size_of::<Storage>(),
                "a pool rule may capture at most 4 words (32 bytes on 64-bit targets): \
                 capture an Arc or a Box of the larger state instead"
            );
            assert!(
                align_of::<R>() <= align_of::<Storage>(),
                "a pool rule's captures must not need more than word alignment: \
                 capture an Arc or a Box of the over-aligned state instead"
            );
        }
        let pun = Pun {
            closure: ManuallyDrop::new(closure),
        };
        InlineFn {
            // SAFETY: reading the whole buffer as `MaybeUninit` is valid for
            // any bytes; the closure's bytes now live there (N1), and the
            // `ManuallyDrop` in `pun` makes this the only owner.
            storage: unsafe { pun.storage },
            call,
            drop: drop_shim::<R>,
        }
    }

    /// The stored closure's address and its call shim.
    pub(crate) fn parts(&self) -> (*const Storage, S) {
        (&self.storage, self.call)
    }

    /// Drops the stored closure.
    ///
    /// # Safety
    ///
    /// Called at most once per `InlineFn`, which is not used afterwards (N3).
    pub(crate) unsafe fn drop_in_place(&mut self) {
        // SAFETY: the caller upholds N3; `drop` matches the stored type (N1).
        unsafe { (self.drop)(&mut self.storage) }
    }
}

/// Drops the `R` stored at `storage`.
///
/// # Safety
///
/// `storage` holds a valid `R` (N1) that is not used again.
unsafe fn drop_shim<R>(storage: *mut Storage) {
    // SAFETY: the caller's contract; N1 gives size and alignment.
    unsafe { std::ptr::drop_in_place(storage.cast::<R>()) }
}

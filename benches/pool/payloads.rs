//! The payloads the pools hold (`small`, `buf4k` and their drop-counting twins).

use super::*;

/// What the pools hold.
pub(crate) trait Payload: Send + Sync + Sized + 'static {
    /// The variant part of a group id.
    const VARIANT: &'static str;
    /// Heap bytes behind one value (the plain-allocation rows allocate as
    /// many; `burst-then-idle` converts values to bytes with it).
    const SIZE: usize;
    /// What creating one costs beyond allocating it.
    fn creation_cost() {}
    fn create() -> Self;
    /// The producer's touch after a take.
    fn touch(&mut self);
    /// The handoff consumer's touch before a put.
    fn touch_other(&mut self);
    /// This payload's `thread_local!` free list (the floor contender).
    fn free_list() -> &'static LocalKey<RefCell<Vec<Self>>>;
    /// Called when a plain-allocation row frees the block standing for one
    /// of these, so that drop-counting payloads count it too.
    fn note_plain_drop() {}
}

/// Go's `small`: 32 bytes.
#[derive(Default)]
pub(crate) struct Small {
    a: u64,
    b: u64,
    _c: u64,
    _d: u64,
}

impl Payload for Vec<u8> {
    const VARIANT: &'static str = "buf4k";
    const SIZE: usize = BUF_SIZE;
    fn create() -> Self {
        vec![0; BUF_SIZE]
    }
    #[inline]
    fn touch(&mut self) {
        self[0] = self[0].wrapping_add(1);
    }
    #[inline]
    fn touch_other(&mut self) {
        self[1] = self[1].wrapping_add(1);
    }
    fn free_list() -> &'static LocalKey<RefCell<Vec<Self>>> {
        thread_local!(static LIST: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) });
        &LIST
    }
}

impl Payload for Box<Small> {
    const VARIANT: &'static str = "small";
    const SIZE: usize = std::mem::size_of::<Small>();
    fn create() -> Self {
        Box::default()
    }
    #[inline]
    fn touch(&mut self) {
        self.a = self.a.wrapping_add(1);
    }
    #[inline]
    fn touch_other(&mut self) {
        self.b = self.b.wrapping_add(1);
    }
    // The floor holds the very values the pools hold: boxes.
    #[allow(clippy::vec_box)]
    fn free_list() -> &'static LocalKey<RefCell<Vec<Self>>> {
        thread_local!(static LIST: RefCell<Vec<Box<Small>>> = const { RefCell::new(Vec::new()) });
        &LIST
    }
}

/// The get-guard groups' one-word payload: a `Box<u64>` (Go pools a `*uint64`).
impl Payload for Box<u64> {
    const VARIANT: &'static str = "box-u64";
    const SIZE: usize = std::mem::size_of::<u64>();
    fn create() -> Self {
        Box::new(0)
    }
    #[inline]
    fn touch(&mut self) {
        **self = self.wrapping_add(1);
    }
    #[inline]
    fn touch_other(&mut self) {
        **self = self.wrapping_add(2);
    }
    // The floor holds the very values the pools hold: boxes.
    #[allow(clippy::vec_box)]
    fn free_list() -> &'static LocalKey<RefCell<Vec<Self>>> {
        thread_local!(static LIST: RefCell<Vec<Box<u64>>> = const { RefCell::new(Vec::new()) });
        &LIST
    }
}

/// A `small` whose creation sleeps for [`EXPENSIVE_CREATE`].
pub(crate) struct Expensive(Box<Small>);

impl Payload for Expensive {
    // Go's name for the variant with a cleanup every 10 ms.
    const VARIANT: &'static str = "tick10ms";
    const SIZE: usize = std::mem::size_of::<Small>();
    fn creation_cost() {
        thread::sleep(EXPENSIVE_CREATE);
    }
    fn create() -> Self {
        Self::creation_cost();
        Expensive(Box::default())
    }
    #[inline]
    fn touch(&mut self) {
        self.0.touch();
    }
    #[inline]
    fn touch_other(&mut self) {
        self.0.touch_other();
    }
    fn free_list() -> &'static LocalKey<RefCell<Vec<Self>>> {
        thread_local!(static LIST: RefCell<Vec<Expensive>> = const { RefCell::new(Vec::new()) });
        &LIST
    }
}

/// Values of [`Tracked`] dropped so far, by any thread.
pub(crate) static TRACKED_DROPS: AtomicU64 = AtomicU64::new(0);

/// A `buf4k` that counts its drops, so that what a pool still holds is
/// measured (created minus dropped) rather than taken from the pool's word.
pub(crate) struct Tracked(Vec<u8>);

impl Drop for Tracked {
    fn drop(&mut self) {
        // Relaxed [tracked-drops]: read on the thread that dropped the
        // values, or after joining every thread that did.
        TRACKED_DROPS.fetch_add(1, Ordering::Relaxed);
    }
}

impl Payload for Tracked {
    const VARIANT: &'static str = "buf4k";
    const SIZE: usize = BUF_SIZE;
    fn create() -> Self {
        Tracked(Vec::create())
    }
    #[inline]
    fn touch(&mut self) {
        self.0.touch();
    }
    #[inline]
    fn touch_other(&mut self) {
        self.0.touch_other();
    }
    fn free_list() -> &'static LocalKey<RefCell<Vec<Self>>> {
        thread_local!(static LIST: RefCell<Vec<Tracked>> = const { RefCell::new(Vec::new()) });
        &LIST
    }
    fn note_plain_drop() {
        // Relaxed [tracked-drops]: as in `drop`.
        TRACKED_DROPS.fetch_add(1, Ordering::Relaxed);
    }
}

thread_local! {
    /// Create calls made on this thread, by every contender.
    pub(crate) static CREATED: Cell<u64> = const { Cell::new(0) };
}

/// The create function every pool is given: counts the call on this thread
/// (no shared cache line), then creates.
pub(crate) fn counted<P: Payload>() -> P {
    CREATED.with(|c| c.set(c.get() + 1));
    P::create()
}

pub(crate) fn created_here() -> u64 {
    CREATED.with(Cell::get)
}

/// A heap block of payload `P`'s size from allocator `A`: the
/// plain-allocation rows' value.
pub(crate) struct Heap<A: RawAlloc, P: Payload> {
    block: NonNull<u8>,
    layout: Layout,
    _allocator: PhantomData<(A, fn() -> P)>,
}

// SAFETY: a `Heap` owns its block outright, like a `Box<[u8]>`.
unsafe impl<A: RawAlloc, P: Payload> Send for Heap<A, P> {}
// SAFETY: shared references only read the pointer, never the block.
unsafe impl<A: RawAlloc, P: Payload> Sync for Heap<A, P> {}

impl<A: RawAlloc, P: Payload> Heap<A, P> {
    #[inline]
    pub(crate) fn new() -> Self {
        let layout = Layout::from_size_align(P::SIZE, 8).expect("a payload's layout");
        // SAFETY: every payload size is above zero.
        let block = unsafe { A::INSTANCE.alloc_zeroed(layout) };
        let Some(block) = NonNull::new(block) else {
            handle_alloc_error(layout)
        };
        Heap {
            block,
            layout,
            _allocator: PhantomData,
        }
    }

    #[inline]
    pub(crate) fn bump(&mut self, at: usize) {
        // SAFETY: `at` < 2 <= the block's size; the block is owned and zeroed.
        unsafe {
            let byte = self.block.as_ptr().add(at);
            *byte = (*byte).wrapping_add(1);
        }
    }
}

impl<A: RawAlloc, P: Payload> Drop for Heap<A, P> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: allocated by the same allocator with the same layout.
        unsafe { A::INSTANCE.dealloc(self.block.as_ptr(), self.layout) }
        P::note_plain_drop();
    }
}

/// An allocator the plain-allocation rows call directly.
pub(crate) trait RawAlloc: GlobalAlloc + Sync + 'static {
    const INSTANCE: Self;
    const ROW: &'static str;
}

impl RawAlloc for System {
    const INSTANCE: Self = System;
    const ROW: &'static str = "plain allocation (system allocator)";
}

impl RawAlloc for MiMalloc {
    const INSTANCE: Self = MiMalloc;
    const ROW: &'static str = "plain allocation (mimalloc, direct calls)";
}

//! The bench binary's global allocator: the system allocator, counting live
//! bytes while a memory measurement asks it to.

use super::*;

/// Forwards to [`System`]; while [`Counting::start`] is in force it adds
/// every allocation's size to a live-byte count and subtracts every
/// deallocation's (a reallocation adds the difference).
pub(crate) struct Counting;

/// Whether allocations are being counted. Outside a memory measurement the
/// allocator pays one load per call.
static COUNTING: AtomicBool = AtomicBool::new(false);
/// Bytes allocated minus bytes freed while counting.
static LIVE: AtomicI64 = AtomicI64::new(0);

impl Counting {
    /// Starts counting from zero.
    pub(crate) fn start() {
        // Relaxed [live-bytes]: the measurement reads the count only after
        // joining or hearing back from (via park/unpark or a join) every
        // thread whose allocations it wants; those edges order the adds.
        LIVE.store(0, Ordering::Relaxed);
        // Relaxed [live-bytes]: as above.
        COUNTING.store(true, Ordering::Relaxed);
    }

    /// Stops counting.
    pub(crate) fn stop() {
        // Relaxed [live-bytes]: as in `start`.
        COUNTING.store(false, Ordering::Relaxed);
    }

    /// Live bytes allocated since `start`.
    pub(crate) fn live() -> i64 {
        // Relaxed [live-bytes]: as in `start`.
        LIVE.load(Ordering::Relaxed)
    }

    #[inline]
    fn add(bytes: i64) {
        // Relaxed [live-bytes]: as in `start`.
        if COUNTING.load(Ordering::Relaxed) {
            // Relaxed [live-bytes]: as in `start`.
            LIVE.fetch_add(bytes, Ordering::Relaxed);
        }
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments,
// so `System`'s guarantees are this allocator's; counting touches only the
// two atomics above.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout (see the impl).
        let block = unsafe { System.alloc(layout) };
        if !block.is_null() {
            Counting::add(layout.size() as i64);
        }
        block
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout (see the impl).
        let block = unsafe { System.alloc_zeroed(layout) };
        if !block.is_null() {
            Counting::add(layout.size() as i64);
        }
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: forwarded; the block came from `System` with this layout.
        unsafe { System.dealloc(block, layout) };
        Counting::add(-(layout.size() as i64));
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded; the block came from `System` with this layout.
        let moved = unsafe { System.realloc(block, layout, new_size) };
        if !moved.is_null() {
            Counting::add(new_size as i64 - layout.size() as i64);
        }
        moved
    }
}

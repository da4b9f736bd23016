//! Copies of a pooled value eight bytes at a time, so that no load of the
//! copy waits for the store buffer to drain.
//!
//! A value wider than two registers (a `Vec`, a `String`) moves through
//! memory: the caller stores it, a put copies it into the private slot,
//! and the next take copies it out for the caller. A load is forwarded
//! from a pending store only if that one store covers the whole load; a
//! 16-byte load over two 8-byte stores waits until both reach the cache.
//! The compiler copies 24 bytes as a 16-byte and an 8-byte access, while
//! a caller that held the value in registers stores it in 8-byte words,
//! so a put-then-take loop stalled on a copy of ours whenever the two
//! layouts met. Loading and storing in 8-byte words, every load of ours
//! fits in any store that wrote the word (docs/design.md, "Moving a value
//! through the slot", has the measurements).
//!
//! The words are `MaybeUninit<u64>`: they carry a pointer's provenance and
//! a padding byte's uninitialized state unchanged, as a `memcpy` does. The
//! copy is written out word by word, not as a loop: the compiler turned
//! the loop back into a `memcpy` of 16-byte accesses. (Volatile accesses
//! kept their width too, but made `put` too costly for callers' wrappers
//! to inline.) This is a matter of the code the compiler emits, checked by
//! the benchmarks, not of correctness: any width copies the same bytes.

use std::mem::{align_of, size_of, ManuallyDrop, MaybeUninit};
use std::ptr;

type Word = MaybeUninit<u64>;

/// Whether values of `T` are copied word by word: a whole number of
/// aligned words, from two (a fat pointer) to eight (a cache line). One
/// word fits a register, and larger values are left to `memcpy`.
const fn by_words<T>() -> bool {
    let size = size_of::<T>();
    size % size_of::<Word>() == 0
        && align_of::<T>() >= align_of::<Word>()
        && size >= 2 * size_of::<Word>()
        && size <= 8 * size_of::<Word>()
}

/// Copies the value at `src` to `dst`, as `ptr::copy_nonoverlapping(src,
/// dst, 1)` does.
///
/// # Safety
///
/// As for [`ptr::copy_nonoverlapping`] with a count of one.
#[inline(always)]
pub(crate) unsafe fn copy<T>(src: *const T, dst: *mut T) {
    if !by_words::<T>() {
        // SAFETY: forwarded from the caller.
        return unsafe { ptr::copy_nonoverlapping(src, dst, 1) };
    }
    let (src, dst) = (src.cast::<Word>(), dst.cast::<Word>());
    let words = size_of::<T>() / size_of::<Word>();
    macro_rules! word {
        ($i:literal) => {
            if $i < words {
                // SAFETY: the caller's pointers are valid and aligned for
                // `T`, which is a whole number of words and at least
                // word-aligned (`by_words`), so word `$i` lies inside both.
                unsafe { ptr::write(dst.add($i), ptr::read(src.add($i))) };
            }
        };
    }
    word!(0);
    word!(1);
    word!(2);
    word!(3);
    word!(4);
    word!(5);
    word!(6);
    word!(7);
}

/// Reads the value in `src` out, as `src.assume_init_read()` does, with
/// loads the compiler keeps: it cannot turn the read into a copy that
/// makes the caller's place and `src` one place. `Pool::take_wide` and
/// `Pool::try_take` need that: otherwise the compiler gives their other
/// path's value the same stack place, and the value a take finds in the
/// private slot goes through that place too (with a plain read, a put +
/// take + write loop of a 4 KiB `Vec` ran 11.8 ns, against 3.6 ns).
///
/// # Safety
///
/// `src` holds a value, which the caller moves out once.
#[inline(always)]
pub(crate) unsafe fn read_opaque<T>(src: &MaybeUninit<T>) -> T {
    if !by_words::<T>() {
        // SAFETY: forwarded from the caller.
        return unsafe { src.assume_init_read() };
    }
    let mut out = MaybeUninit::<T>::uninit();
    let (src, dst) = (src.as_ptr().cast::<Word>(), out.as_mut_ptr().cast::<Word>());
    for i in 0..size_of::<T>() / size_of::<Word>() {
        // SAFETY: both places hold a `T`, a whole number of words, and are
        // at least word-aligned (`by_words`); a volatile load of a word is
        // a plain load of it that the compiler must do as written.
        unsafe { ptr::write(dst.add(i), ptr::read_volatile(src.add(i))) };
    }
    // SAFETY: every word of the value was copied.
    unsafe { out.assume_init() }
}

/// Moves `value` into `dst`, as `ptr::write(dst, value)` does.
///
/// # Safety
///
/// As for [`ptr::write`].
#[inline(always)]
pub(crate) unsafe fn write<T>(dst: *mut T, value: T) {
    let value = ManuallyDrop::new(value);
    // SAFETY: forwarded from the caller; `value` is a local, so the two do
    // not overlap, and it is not dropped, so the copy moves it.
    unsafe { copy::<T>(&*value, dst) };
}

#[cfg(test)]
mod tests {
    use super::{by_words, copy, read_opaque, write};
    use std::mem::MaybeUninit;

    #[test]
    fn only_values_of_two_to_eight_aligned_words_go_by_words() {
        assert!(!by_words::<u64>());
        assert!(!by_words::<Box<u64>>());
        assert!(by_words::<Box<[u8]>>());
        assert!(by_words::<Vec<u8>>());
        assert!(by_words::<[u64; 8]>());
        assert!(!by_words::<[u64; 9]>());
        assert!(!by_words::<[u8; 24]>(), "not word-aligned");
        assert!(!by_words::<[u32; 5]>(), "not whole words");
    }

    /// A value with padding: its bytes 1..8 are uninitialized.
    #[derive(Clone, Debug, PartialEq)]
    struct Padded {
        flag: u8,
        name: String,
    }

    #[test]
    fn copies_move_the_value_with_its_pointers_and_padding() {
        let original = Padded {
            flag: 7,
            name: "pooled".repeat(3),
        };
        let mut first = MaybeUninit::<Padded>::uninit();
        // SAFETY: `first` is valid for a write and does not overlap.
        unsafe { write(first.as_mut_ptr(), original.clone()) };
        let mut second = MaybeUninit::<Padded>::uninit();
        // SAFETY: `first` holds a value, moved out once into `second`.
        unsafe { copy(first.as_ptr(), second.as_mut_ptr()) };
        // SAFETY: `second` holds the moved value (Miri checks that the
        // string's pointer kept its provenance).
        let third = MaybeUninit::new(unsafe { second.assume_init() });
        // SAFETY: `third` holds the value, read out once (Miri checks the
        // provenance through the volatile word loads as well).
        let mut moved = unsafe { read_opaque(&third) };
        assert_eq!(moved, original);
        moved.name.push('!');
        assert_eq!(moved.name.len(), original.name.len() + 1);

        let words = vec![[1_u64, 2, 3], [4, 5, 6]];
        let mut out = MaybeUninit::<Vec<[u64; 3]>>::uninit();
        // SAFETY: as above.
        unsafe { write(out.as_mut_ptr(), words.clone()) };
        // SAFETY: as above.
        assert_eq!(unsafe { out.assume_init() }, words);
    }
}

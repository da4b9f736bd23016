//! Finishing a loop of drops when one of them panics.

/// Calls `f` on every item, like `for_each`, but if `f` panics the remaining
/// items are still visited while the panic unwinds (as `Vec`'s drop does).
/// A second panic during that unwinding aborts the process, as it does for
/// any drop glue.
pub(crate) fn for_each_despite_panics<I: Iterator>(iter: I, f: impl FnMut(I::Item)) {
    struct Rest<I: Iterator, F: FnMut(I::Item)> {
        iter: I,
        f: F,
    }
    impl<I: Iterator, F: FnMut(I::Item)> Drop for Rest<I, F> {
        // Runs to completion on the normal path (the iterator is already
        // exhausted) and resumes the loop when `f` unwinds.
        fn drop(&mut self) {
            for item in self.iter.by_ref() {
                (self.f)(item);
            }
        }
    }
    let mut rest = Rest { iter, f };
    for item in rest.iter.by_ref() {
        (rest.f)(item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::panic::{catch_unwind, AssertUnwindSafe};

    #[test]
    fn every_item_is_visited_once_even_when_one_panics() {
        let mut seen = Vec::new();
        let result = catch_unwind(AssertUnwindSafe(|| {
            for_each_despite_panics(0..5, |i| {
                seen.push(i);
                assert_ne!(i, 2, "planted panic");
            })
        }));
        assert!(result.is_err());
        assert_eq!(seen, [0, 1, 2, 3, 4]);
    }
}

//! Finishing a loop of drops when some of them panic.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

/// Calls `f` on every item, like `for_each`, but if `f` panics the remaining
/// items are still visited; once all are, the first panic propagates and any
/// later ones are discarded (`Vec`'s drop would abort on a second panic).
///
/// For loops whose items are independent (values to drop, pools to age):
/// a panic leaves nothing half-done that a later item depends on, which is
/// why asserting unwind safety is sound here.
pub(crate) fn for_each_despite_panics<I: Iterator>(iter: I, mut f: impl FnMut(I::Item)) {
    let mut first_panic = None;
    for item in iter {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| f(item))) {
            first_panic.get_or_insert(panic);
        }
    }
    if let Some(panic) = first_panic {
        resume_unwind(panic);
    }
}

/// Values to drop together: dropping the batch drops each of them, despite
/// panics, as [`for_each_despite_panics`] does.
pub(crate) struct DropEach<T>(pub(crate) Vec<T>);

impl<T> Drop for DropEach<T> {
    fn drop(&mut self) {
        for_each_despite_panics(self.0.drain(..), drop);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_is_visited_once_and_the_first_panic_propagates() {
        let mut seen = Vec::new();
        let result = catch_unwind(AssertUnwindSafe(|| {
            for_each_despite_panics(0..5, |i| {
                seen.push(i);
                if i % 2 == 1 {
                    panic!("planted panic {i}");
                }
            })
        }));
        let payload = result.expect_err("the first panic propagates");
        assert_eq!(
            payload.downcast_ref::<String>().map(String::as_str),
            Some("planted panic 1")
        );
        assert_eq!(seen, [0, 1, 2, 3, 4]);
    }
}

//! Loom models. Build with `--cfg loom --cfg crossbeam_loom`; see docs/testing.md.
#![cfg(loom)]

mod dequeue;

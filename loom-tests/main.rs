//! Loom models. Build with `--cfg loom --cfg crossbeam_loom`; run them with
//! `.ci/loom.sh` (see docs/testing.md).
#![cfg(loom)]

mod chain;
mod dequeue;
mod pool;
mod pool_aging;
mod pool_handoff;
mod pool_private_slot;
mod pool_service;
mod pool_summary;
mod support;

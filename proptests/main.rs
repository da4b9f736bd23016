//! Property tests and stress tests on real threads (not built under loom).
#![cfg(not(loom))]

mod chain;
mod dequeue;
mod model;
mod pool;
mod pool_concurrent;
mod pool_threads;
mod stress;
mod support;

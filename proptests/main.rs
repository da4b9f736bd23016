//! Property tests and stress tests on real threads (not built under loom).
#![cfg(not(loom))]

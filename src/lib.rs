#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod chain;
mod dequeue;
mod pool;
mod sync;
mod unwind;

pub use chain::{ChainStealer, PoolChain, DEFAULT_FIRST_CAPACITY};
pub use dequeue::{DequeueStealer, PoolDequeue, MAX_CAPACITY};
pub use pool::{
    cleanup_all, registered_pools, OwnedPoolGuard, Pool, PoolBuilder, PoolGuard, PoolStats, Sweeper,
};

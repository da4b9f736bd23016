#![doc = include_str!("../README.md")]

mod chain;
mod dequeue;
#[cfg(feature = "model")]
pub mod model;
mod pool;
mod sync;
mod unwind;

pub use chain::{ChainStealer, PoolChain, DEFAULT_FIRST_CAPACITY};
pub use dequeue::{DequeueStealer, PoolDequeue, MAX_CAPACITY};
pub use pool::{
    cleanup_all, registered_pools, OwnedPoolGuard, Pool, PoolBuilder, PoolGuard, PoolStats, Sweeper,
};

/// The design notes in `docs/`, rendered here so their examples are tested.
pub mod docs {
    #[doc = include_str!("../docs/design.md")]
    pub mod design {}
    #[doc = include_str!("../docs/go-port.md")]
    pub mod go_port {}
    #[doc = include_str!("../docs/orderings.md")]
    pub mod orderings {}
    #[doc = include_str!("../docs/testing.md")]
    pub mod testing {}
    #[doc = include_str!("../docs/model-checking.md")]
    pub mod model_checking {}
    #[doc = include_str!("../docs/benchmarks.md")]
    pub mod benchmarks {}
}

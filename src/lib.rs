// README.md is the crate's front page, on the repository and here. Its links
// are reference-style: README.md defines them as repository paths, and the
// definitions below, which come first and so take precedence, point the
// same names at the rendered `docs` modules.
#![doc = "[design]: crate::docs::design"]
#![doc = "[design-service]: crate::docs::design#running-it-in-a-service"]
#![doc = "[orderings]: crate::docs::orderings"]
#![doc = "[testing]: crate::docs::testing"]
#![doc = "[go-port]: crate::docs::go_port"]
#![doc = "[model-checking]: crate::docs::model_checking"]
#![doc = "[benchmarks]: crate::docs#benchmarks"]
#![doc = "[contributing]: crate::docs::contributing"]
#![doc = "[`cleanups_drain_idle_threads`]: crate::cleanups_drain_idle_threads"]
#![doc = ""]
#![doc = include_str!("../README.md")]

mod chain;
mod dequeue;
#[cfg(feature = "model")]
pub mod model;
mod pool;
mod sync;
mod unwind;
mod word_copy;

pub use chain::{ChainStealer, PoolChain, DEFAULT_FIRST_CAPACITY};
pub use dequeue::{DequeueStealer, PoolDequeue, MAX_CAPACITY};
#[doc(hidden)]
pub use pool::reserve_thread_indices;
pub use pool::{
    cleanup_all, cleanups_drain_idle_threads, registered_pools, sweep_every, OwnedPoolGuard, Pool,
    PoolBuilder, PoolGuard, PoolStats, Sweeper,
};

/// The design notes in `docs/`, rendered here so their examples are tested.
///
/// # Benchmarks
///
/// The side-by-side numbers and their plots are generated into
/// `docs/benchmarks.md` in the source repository; they are not part of the
/// package.
pub mod docs {
    // Links between the notes, as in the crate root: each file defines its
    // links as sibling paths; these definitions point them here instead.
    #[doc = include_str!("../docs/design.md")]
    pub mod design {}
    #[doc = include_str!("../docs/go-port.md")]
    pub mod go_port {}
    #[doc = "[testing-planted-bugs]: crate::docs::testing#planted-bugs"]
    #[doc = "[testing-pool-models]: crate::docs::testing#pool-models"]
    #[doc = ""]
    #[doc = include_str!("../docs/orderings.md")]
    pub mod orderings {}
    #[doc = "[orderings]: crate::docs::orderings"]
    #[doc = ""]
    #[doc = include_str!("../docs/testing.md")]
    pub mod testing {}
    #[doc = "[readme]: crate"]
    #[doc = "[design]: crate::docs::design"]
    #[doc = "[testing]: crate::docs::testing"]
    #[doc = "[orderings]: crate::docs::orderings"]
    #[doc = ""]
    #[doc = include_str!("../CONTRIBUTING.md")]
    pub mod contributing {}
    #[doc = include_str!("../docs/model-checking.md")]
    pub mod model_checking {}
}

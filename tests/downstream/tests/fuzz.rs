//! Random interleavings of this crate's pool operations on two threads,
//! checked step by step against victim-pool's reference model
//! (`victim_pool::model`, the `model` feature). Run as CI does:
//!
//! ```text
//! cargo test --release --test fuzz
//! ```
//!
//! Each logical thread is a worker thread that runs one operation at a time
//! and waits for the next, so it keeps its thread index (and its local in
//! the pool) for the whole case. With two threads the model needs no
//! knowledge of their indices: every order of two is the same cycle.
//!
//! Conservation: every value is dropped exactly once, when and where the
//! model says. `with_buffer` takes a `Pool<Vec<u8>>`, so the payload cannot
//! be a type with its own `Drop`; instead a value's buffer has a capacity
//! that names its id, and this binary's allocator counts the frees of such
//! buffers.
#![cfg(not(loom))]

use downstream::with_buffer;
use proptest::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
use std::sync::{mpsc, Arc};
use std::thread;
use victim_pool::model::{Effects, Id, PoolModel, Rules, Tier};
use victim_pool::Pool;

/// More ids than a case can create (one per op at most).
const MAX_IDS: usize = 64;
/// Value `id`'s buffer has capacity `ID_BASE + id`: a size nothing else in
/// this test allocates, so freeing such a buffer is that value's drop.
const ID_BASE: usize = 40_961;

/// Frees of each value's buffer in the current case.
static FREES: [AtomicU8; MAX_IDS] = [const { AtomicU8::new(0) }; MAX_IDS];

struct CountingAlloc;

// SAFETY: every call is forwarded unchanged to `System`; counting a free
// touches only atomics and never allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout.align() == 1 {
            if let Some(count) = layout
                .size()
                .checked_sub(ID_BASE)
                .and_then(|id| FREES.get(id))
            {
                count.fetch_add(1, Relaxed);
            }
        }
        // SAFETY: `ptr` came from `System` with this layout (see `alloc`).
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAlloc = CountingAlloc;

/// The ids freed since `seen` was taken, sorted; brings `seen` up to date.
fn freed_since(seen: &mut [u8; MAX_IDS]) -> Vec<Id> {
    let mut freed = Vec::new();
    for (id, (count, seen)) in FREES.iter().zip(seen.iter_mut()).enumerate() {
        // Relaxed: frees happen on this thread or on a worker before its
        // reply (a channel send) or its join; those are the edges.
        let now = count.load(Relaxed);
        freed.extend((*seen..now).map(|_| id as Id));
        *seen = now;
    }
    freed
}

/// A buffer names its value: its content is the id, or it is empty when
/// the pool has just created it.
fn id_of(buffer: &[u8]) -> Option<Id> {
    (!buffer.is_empty()).then(|| Id::from_le_bytes(buffer.try_into().expect("an id")))
}

/// Value `id`'s buffer: the id as content, `ID_BASE + id` as capacity.
fn tagged(id: Id) -> Vec<u8> {
    assert!((id as usize) < MAX_IDS, "id {id} has no drop counter");
    let mut buffer = Vec::with_capacity(ID_BASE + id as usize);
    buffer.extend_from_slice(&id.to_le_bytes());
    buffer
}

type Job = Box<dyn FnOnce() -> Reply + Send>;

enum Reply {
    /// The value a get returned: its id, or `None` if it was created.
    Got(Option<Id>),
    Taken(Option<Id>, Vec<u8>),
    Done,
}

/// A thread that runs jobs one at a time.
struct Worker {
    jobs: mpsc::Sender<Job>,
    replies: mpsc::Receiver<Reply>,
}

impl Worker {
    fn spawn() -> (Worker, thread::JoinHandle<()>) {
        let (jobs, job_rx) = mpsc::channel::<Job>();
        let (reply_tx, replies) = mpsc::channel();
        let thread = thread::spawn(move || {
            for job in job_rx {
                if reply_tx.send(job()).is_err() {
                    break;
                }
            }
        });
        (Worker { jobs, replies }, thread)
    }

    fn run(&self, job: impl FnOnce() -> Reply + Send + 'static) -> Reply {
        self.jobs.send(Box::new(job)).expect("worker alive");
        self.replies.recv().expect("worker panicked")
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// `with_buffer` on thread `t`: a get, then the buffer goes back.
    WithBuffer(usize),
    /// `take` on thread `t`; the buffer is held by the test.
    Take(usize),
    /// `try_take` on thread `t`; a buffer found is held by the test.
    TryTake(usize),
    /// `put` on thread `t` of a held buffer (by position, if any).
    Put(usize, usize),
    Cleanup,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..2usize).prop_map(Op::WithBuffer),
        3 => (0..2usize).prop_map(Op::Take),
        2 => (0..2usize).prop_map(Op::TryTake),
        4 => (0..2usize, 0..8usize).prop_map(|(t, k)| Op::Put(t, k)),
        2 => Just(Op::Cleanup),
    ]
}

const CASES: u32 = 512;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn buffer_use_from_two_threads_follows_the_pools_model(
        ops in prop::collection::vec(op(), 1..48)
    ) {
        // The annotation turns the function item `Vec::new` into the
        // `fn() -> Vec<u8>` that `&Pool<Vec<u8>>` means.
        let pool: Arc<Pool<Vec<u8>>> = Arc::new(Pool::new(Vec::new));
        let mut model = PoolModel::new(vec![0, 1], 0, Rules::default());
        let (workers, threads): (Vec<Worker>, Vec<_>) = (0..2).map(|_| Worker::spawn()).unzip();
        let mut held: Vec<Vec<u8>> = Vec::new();
        // The id the model gives the next value the pool creates.
        let mut next_id: Id = 0;
        // The previous case dropped all its values; counting starts anew.
        FREES.iter().for_each(|count| count.store(0, Relaxed));
        let mut seen = [0; MAX_IDS];

        for (step, op) in ops.iter().enumerate() {
            let context = || format!("step {step}: {op:?}");
            let effects: Effects = match *op {
                Op::WithBuffer(t) => {
                    let pool = Arc::clone(&pool);
                    let fresh = next_id;
                    let Reply::Got(got) = workers[t].run(move || {
                        Reply::Got(with_buffer(&pool, |buffer| {
                            let got = id_of(buffer);
                            if got.is_none() {
                                *buffer = tagged(fresh);
                            }
                            got
                        }))
                    }) else { unreachable!() };
                    let effects = model.get_and_return(t, got.unwrap_or(fresh));
                    prop_assert_eq!(effects.got, Some(got.unwrap_or(fresh)), "{}", context());
                    prop_assert_eq!(got.is_none(), effects.tier == Some(Tier::Created), "{}", context());
                    if got.is_none() {
                        next_id += 1;
                    }
                    effects
                }
                Op::Take(t) | Op::TryTake(t) => {
                    let pool = Arc::clone(&pool);
                    let create = matches!(op, Op::Take(_));
                    let Reply::Taken(got, buffer) = workers[t].run(move || {
                        let buffer = if create { Some(pool.take()) } else { pool.try_take() };
                        match buffer {
                            Some(buffer) => Reply::Taken(id_of(&buffer), buffer),
                            None => Reply::Taken(None, Vec::new()),
                        }
                    }) else { unreachable!() };
                    if create {
                        let effects = model.take(t, got.unwrap_or(next_id));
                        prop_assert_eq!(effects.got, Some(got.unwrap_or(next_id)), "{}", context());
                        let mut buffer = buffer;
                        if got.is_none() {
                            buffer = tagged(next_id);
                            next_id += 1;
                        }
                        held.push(buffer);
                        effects
                    } else {
                        let effects = model.try_take(t, got);
                        prop_assert_eq!(effects.got, got, "{}", context());
                        if got.is_some() {
                            held.push(buffer);
                        }
                        effects
                    }
                }
                Op::Put(t, k) => {
                    if held.is_empty() {
                        continue;
                    }
                    let buffer = held.swap_remove(k % held.len());
                    let id = id_of(&buffer).expect("held buffers are tagged");
                    let pool = Arc::clone(&pool);
                    workers[t].run(move || {
                        pool.put(buffer);
                        Reply::Done
                    });
                    model.put(t, id)
                }
                Op::Cleanup => {
                    pool.cleanup();
                    model.cleanup()
                }
            };
            // Where every get was served, what was created, dropped and
            // retained: the pool's statistics are the model's.
            prop_assert_eq!(pool.stats(), model.counts(), "{}", context());
            // The values this step dropped are the ones the model drops.
            prop_assert_eq!(freed_since(&mut seen), effects.dropped, "{}", context());
        }

        prop_assert_eq!(pool.stats().created, next_id);
        let mut held_ids: Vec<Id> = held.iter().map(|b| id_of(b).expect("tagged")).collect();
        held_ids.sort_unstable();
        drop(held);
        prop_assert_eq!(freed_since(&mut seen), held_ids, "the held buffers");
        drop(workers);
        for thread in threads {
            thread.join().expect("worker panicked");
        }
        drop(Arc::into_inner(pool).expect("the workers' clones are gone"));
        prop_assert_eq!(freed_since(&mut seen), model.retained(), "dropping the pool");
        // Conservation: every value created was dropped exactly once.
        prop_assert_eq!(&seen[..next_id as usize], &vec![1; next_id as usize][..]);
        prop_assert!(seen[next_id as usize..].iter().all(|&frees| frees == 0));
    }
}

//! Loom models of `Pool`: an owner's put/take racing a stealer, a cleanup
//! racing both, and a thread that exits and hands its index, local and
//! private slot to the next thread.
//!
//! Pool operations that need a thread index (`put`, `get`, `try_take`) run
//! on spawned threads only: the main thread's thread-local destructors run
//! after loom has torn its `lazy_static`s down. The main thread runs
//! `cleanup` (which needs no index) and drops the pool.
//!
//! Every model accounts for each value: taken by a thread, dropped by a
//! cleanup, or still in the pool and dropped with it, exactly once. Taken
//! values are held until the model has checked what the cleanups dropped.
//! First links of 1 slot make the second value a thread puts on its chain
//! start a second link.

use loom::sync::Arc;
use loom::thread;
use std::fmt;
use victim_pool::{Pool, PoolGuard};

/// Counts the drops of each value id. Std atomics: bookkeeping outside the
/// model, like the ledger in `support`.
struct Tally {
    drops: Vec<std::sync::atomic::AtomicUsize>,
}

impl Tally {
    fn new(count: usize) -> std::sync::Arc<Tally> {
        std::sync::Arc::new(Tally {
            drops: (0..count)
                .map(|_| std::sync::atomic::AtomicUsize::new(0))
                .collect(),
        })
    }

    /// The ids dropped so far, each at most once (a second drop panics).
    fn dropped(&self) -> Vec<usize> {
        (0..self.drops.len())
            .filter(|&id| self.drops[id].load(std::sync::atomic::Ordering::SeqCst) == 1)
            .collect()
    }
}

/// A pooled value that records its drop and is tracked by loom's leak check
/// (a value the pool loses fails the model even before its assertions run).
struct Item {
    id: usize,
    tally: std::sync::Arc<Tally>,
    _leak_check: loom::alloc::Track<()>,
}

impl Item {
    fn new(tally: &std::sync::Arc<Tally>, id: usize) -> Item {
        Item {
            id,
            tally: std::sync::Arc::clone(tally),
            _leak_check: loom::alloc::Track::new(()),
        }
    }
}

impl Drop for Item {
    fn drop(&mut self) {
        let previous = self.tally.drops[self.id].fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(previous, 0, "value {} dropped twice", self.id);
    }
}

impl fmt::Debug for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Item({})", self.id)
    }
}

type ModelPool = Pool<Item, fn() -> Item>;

fn never_create() -> Item {
    panic!("the model takes only values it knows are pooled; create must not run")
}

fn new_pool(first_capacity: usize) -> Arc<ModelPool> {
    let create: fn() -> Item = never_create;
    Arc::new(Pool::new(create).with_first_capacity(first_capacity))
}

/// Spawns a thread that puts values 0 (into its private slot) and 1 (onto
/// its chain), then runs `then` on the pool.
fn spawn_owner_of_0_and_1<R: Send + 'static>(
    pool: &Arc<ModelPool>,
    tally: &std::sync::Arc<Tally>,
    then: impl FnOnce(&ModelPool) -> R + Send + 'static,
) -> thread::JoinHandle<R> {
    let (pool, tally) = (pool.clone(), tally.clone());
    thread::spawn(move || {
        pool.put(Item::new(&tally, 0));
        pool.put(Item::new(&tally, 1));
        then(&pool)
    })
}

fn ids(items: &[Item]) -> Vec<usize> {
    items.iter().map(|item| item.id).collect()
}

/// Takes until the pool reports nothing, at most `limit` times.
fn take_all(pool: &ModelPool, limit: usize) -> Vec<Item> {
    (0..limit).map_while(|_| pool.try_take()).collect()
}

/// The final account, once every thread is joined and every taken value is
/// in `taken`: nothing taken was also dropped by the pool, exactly the values
/// in `retained` are still in the pool, and dropping everything drops each
/// value exactly once.
fn settle(tally: &Tally, count: usize, pool: Arc<ModelPool>, taken: Vec<Item>, retained: &[usize]) {
    let taken_ids = ids(&taken);
    let mut out = taken_ids.clone();
    out.extend(tally.dropped());
    out.extend_from_slice(retained);
    out.sort_unstable();
    assert!(
        out.iter().copied().eq(0..count),
        "every value must be out exactly once: taken {taken_ids:?}, dropped by the pool {:?}, \
         retained {retained:?}",
        tally.dropped()
    );
    drop(taken);
    drop(pool);
    assert_eq!(
        tally.dropped().len(),
        count,
        "dropping the pool left values undropped"
    );
}

/// The values the pool still holds: not taken, not dropped.
fn still_pooled(tally: &Tally, count: usize, taken: &[Item]) -> Vec<usize> {
    let dropped = tally.dropped();
    let taken = ids(taken);
    (0..count)
        .filter(|id| !dropped.contains(id) && !taken.contains(id))
        .collect()
}

/// The owner puts 0 (private slot), 1 (first link) and 2 (a second link),
/// then takes twice while a stealer takes twice. The private value is never
/// stolen, the owner's chain pop is LIFO and the stealer's FIFO, and the two
/// race for the chain's values without losing or duplicating one.
#[test]
fn an_owner_and_a_stealer_take_each_value_at_most_once() {
    crate::support::check(
        "an_owner_and_a_stealer_take_each_value_at_most_once",
        || {
            let tally = Tally::new(3);
            let pool = new_pool(1);
            let owner = {
                let (pool, tally) = (pool.clone(), tally.clone());
                thread::spawn(move || {
                    for id in 0..3 {
                        pool.put(Item::new(&tally, id));
                        thread::yield_now();
                    }
                    let first = PoolGuard::into_inner(pool.get());
                    let second = pool.try_take();
                    (first, second)
                })
            };
            let stealer = {
                let pool = pool.clone();
                thread::spawn(move || take_all(&pool, 2))
            };
            let (first, second) = owner.join().unwrap();
            let stolen = stealer.join().unwrap();
            assert_eq!(
                first.id, 0,
                "the private slot is served first and never stolen"
            );
            let stolen_ids = ids(&stolen);
            assert!(
                stolen_ids.windows(2).all(|pair| pair[0] < pair[1]),
                "steals take the oldest value first: {stolen_ids:?}"
            );
            match &second {
                Some(item) => assert_eq!(item.id, 2, "the owner pops its newest value"),
                None => assert_eq!(stolen_ids, [1, 2], "the owner found its chain empty"),
            }
            let mut taken = stolen;
            taken.push(first);
            taken.extend(second);
            assert!(
                tally.dropped().is_empty(),
                "no cleanup ran, yet a value was dropped"
            );
            let retained = still_pooled(&tally, 3, &taken);
            settle(&tally, 3, pool, taken, &retained);
        },
    );
}

/// The owner puts 0 (private) and 1 (chain) and takes once, while a stealer
/// takes once and the main thread runs a cleanup. Whichever generation each
/// put lands in, no value is old enough for that cleanup to drop, so it
/// drops nothing. After the threads are joined, a second cleanup may drop
/// the values that were put before the first; whatever is left is still in
/// the pool and dropped with it.
#[test]
fn cleanup_racing_an_owner_and_a_stealer_ages_without_losing_values() {
    // Bound 1 in CI: the full bound-2 search passes too but takes about 12
    // minutes (4.9 million executions); VICTIM_POOL_LOOM_HEAVY=1 runs it.
    crate::support::check_capped(
        "cleanup_racing_an_owner_and_a_stealer_ages_without_losing_values",
        1,
        || {
            let tally = Tally::new(2);
            let pool = new_pool(1);
            let owner = spawn_owner_of_0_and_1(&pool, &tally, |pool| pool.try_take());
            let stealer = {
                let pool = pool.clone();
                thread::spawn(move || pool.try_take())
            };
            pool.cleanup();
            assert!(
                tally.dropped().is_empty(),
                "the first cleanup dropped {:?}",
                tally.dropped()
            );
            let mut taken: Vec<Item> = owner.join().unwrap().into_iter().collect();
            taken.extend(stealer.join().unwrap());
            pool.cleanup();
            let retained = still_pooled(&tally, 2, &taken);
            settle(&tally, 2, pool, taken, &retained);
        },
    );
}

/// Executions of the hand-off model in which the new thread took the exited
/// thread's private value through the reused index, and in which a cleanup
/// dropped it from the slot of the released index (both must occur, or the
/// model did not exercise the hand-off).
static PRIVATE_REUSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static PRIVATE_AGED_OUT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Thread A puts 0 (private) and 1 (chain) and exits; a cleanup makes both
/// victims. Then thread B takes what it finds while a second cleanup ages
/// the pool again. B may get A's index (once A's thread-local destructor has
/// given it back) and with it A's private slot and chains, or a new index;
/// the cleanup may find A's index free and drop the private value, racing
/// B for it under the registry lock. Each value is taken by B or dropped by
/// the second cleanup, never both, never neither; two more cleanups after B
/// is joined leave at most the private value of an index still held.
#[test]
fn an_exited_threads_index_local_and_private_value_pass_to_the_next_thread() {
    PRIVATE_REUSED.store(false, std::sync::atomic::Ordering::SeqCst);
    PRIVATE_AGED_OUT.store(false, std::sync::atomic::Ordering::SeqCst);
    crate::support::check(
        "an_exited_threads_index_local_and_private_value_pass_to_the_next_thread",
        || {
            let tally = Tally::new(2);
            let pool = new_pool(1);
            spawn_owner_of_0_and_1(&pool, &tally, |_| ())
                .join()
                .unwrap();
            pool.cleanup();
            assert!(tally.dropped().is_empty(), "one cleanup dropped a value");
            let next = {
                let pool = pool.clone();
                thread::spawn(move || take_all(&pool, 2))
            };
            pool.cleanup();
            let taken = next.join().unwrap();
            let dropped = tally.dropped();
            for id in &dropped {
                assert!(!ids(&taken).contains(id), "value {id} taken and dropped");
            }
            if ids(&taken).contains(&0) {
                PRIVATE_REUSED.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            if dropped.contains(&0) {
                PRIVATE_AGED_OUT.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            pool.cleanup();
            pool.cleanup();
            let retained = still_pooled(&tally, 2, &taken);
            assert!(
                retained.is_empty() || retained == [0],
                "four cleanups left {retained:?}; only a held private slot may keep a value"
            );
            settle(&tally, 2, pool, taken, &retained);
        },
    );
    assert!(
        PRIVATE_REUSED.load(std::sync::atomic::Ordering::SeqCst),
        "no execution handed the exited thread's private value to the next thread"
    );
    assert!(
        PRIVATE_AGED_OUT.load(std::sync::atomic::Ordering::SeqCst),
        "no execution aged the exited thread's private value out"
    );
}

/// Thread A puts 0 (private) and 1 (chain); the main thread joins it and
/// runs a cleanup, while thread C, started before A was joined, takes once.
/// After the cleanup, 1 is in the victim cache, so a thread started once
/// the others are done must still find it, unless C took it. A lookup that
/// misses the victim cache marks it empty for the generation, so it may do
/// that only after seeing what was put before the cleanup.
#[test]
fn a_value_put_before_a_cleanup_can_be_taken_after_it() {
    // Bound 1 in CI: bound 2 passes in about 4 minutes (973,000 executions).
    crate::support::check_capped(
        "a_value_put_before_a_cleanup_can_be_taken_after_it",
        1,
        || {
            let tally = Tally::new(2);
            let pool = new_pool(1);
            let owner = spawn_owner_of_0_and_1(&pool, &tally, |_| ());
            let racer = {
                let pool = pool.clone();
                thread::spawn(move || pool.try_take())
            };
            owner.join().unwrap();
            pool.cleanup();
            let mut taken: Vec<Item> = racer.join().unwrap().into_iter().collect();
            let later = {
                let pool = pool.clone();
                thread::spawn(move || take_all(&pool, 2))
            };
            taken.extend(later.join().unwrap());
            assert!(
                ids(&taken).contains(&1),
                "value 1 was put before the cleanup and not taken before it, yet a thread \
                 started after it did not find it (taken: {:?})",
                ids(&taken)
            );
            assert!(tally.dropped().is_empty(), "one cleanup dropped a value");
            let retained = still_pooled(&tally, 2, &taken);
            settle(&tally, 2, pool, taken, &retained);
        },
    );
}

/// Three threads put one value each, at indices 15 to 17 (the first 15 are
/// reserved): 15 and 16 share a bucket of locals, so two threads may race to
/// allocate it, and one may use a local
/// that another thread built (or reuse the index of a thread that exited).
/// Every value stays in the pool and is dropped with it, once.
#[test]
fn threads_sharing_a_bucket_of_locals_each_put_into_a_built_local() {
    crate::support::check(
        "threads_sharing_a_bucket_of_locals_each_put_into_a_built_local",
        || {
            // Indices 15 and 16 share the first bucket of two locals.
            victim_pool::reserve_thread_indices(15);
            let tally = Tally::new(3);
            let pool = new_pool(1);
            let threads: Vec<_> = (0..3)
                .map(|id| {
                    let (pool, tally) = (pool.clone(), tally.clone());
                    thread::spawn(move || pool.put(Item::new(&tally, id)))
                })
                .collect();
            for thread in threads {
                thread.join().unwrap();
            }
            assert!(tally.dropped().is_empty(), "a put dropped a value");
            settle(&tally, 3, pool, Vec::new(), &[0, 1, 2]);
        },
    );
}

/// Two threads at indices 15 and 16 (one bucket of locals): one puts into
/// the pool; the other already holds its index (it used another pool first),
/// so its put takes the fast path, which finds the bucket through `get_at`,
/// maybe built by the first thread. Both values stay pooled, dropped once.
#[test]
fn a_thread_that_holds_its_index_puts_into_a_local_another_thread_built() {
    crate::support::check(
        "a_thread_that_holds_its_index_puts_into_a_local_another_thread_built",
        || {
            victim_pool::reserve_thread_indices(15);
            let tally = Tally::new(2);
            let pool = new_pool(1);
            let first = new_pool(1);
            let builder = {
                let (pool, tally) = (pool.clone(), tally.clone());
                thread::spawn(move || pool.put(Item::new(&tally, 0)))
            };
            let holder = {
                let (pool, tally) = (pool.clone(), tally.clone());
                thread::spawn(move || {
                    assert!(first.try_take().is_none(), "nothing was put into it");
                    pool.put(Item::new(&tally, 1));
                })
            };
            builder.join().unwrap();
            holder.join().unwrap();
            assert!(tally.dropped().is_empty(), "a put dropped a value");
            settle(&tally, 2, pool, Vec::new(), &[0, 1]);
        },
    );
}

/// Executions of the stale-generation model in which the new thread took
/// the exited thread's value through the reused index (the race must occur,
/// or the model did not exercise it).
static INHERITED_AFTER_CLEANUP: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Thread A puts 0 into its private slot and exits, while thread B takes
/// once and the main thread runs one cleanup. B may start its take before
/// the cleanup and acquire A's index (and slot) after A put 0 at the newer
/// generation. With a single cleanup, no value is old enough to drop: B
/// must never treat a stamp newer than the generation it read as expired.
#[test]
fn a_value_inherited_with_an_index_is_never_older_than_the_takers_generation() {
    INHERITED_AFTER_CLEANUP.store(false, std::sync::atomic::Ordering::SeqCst);
    crate::support::check(
        "a_value_inherited_with_an_index_is_never_older_than_the_takers_generation",
        || {
            let tally = Tally::new(1);
            let pool = new_pool(1);
            let owner = {
                let (pool, tally) = (pool.clone(), tally.clone());
                thread::spawn(move || pool.put(Item::new(&tally, 0)))
            };
            let taker = {
                let pool = pool.clone();
                thread::spawn(move || pool.try_take())
            };
            pool.cleanup();
            owner.join().unwrap();
            let taken: Vec<Item> = taker.join().unwrap().into_iter().collect();
            assert!(
                tally.dropped().is_empty(),
                "one cleanup, yet value 0 was dropped as expired"
            );
            if !taken.is_empty() {
                INHERITED_AFTER_CLEANUP.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            let retained = still_pooled(&tally, 1, &taken);
            settle(&tally, 1, pool, taken, &retained);
        },
    );
    assert!(
        INHERITED_AFTER_CLEANUP.load(std::sync::atomic::Ordering::SeqCst),
        "no execution handed value 0 to the taker"
    );
}

/// Thread E uses the pool and exits, giving its index back, so misses scan
/// for exited threads' private values. Then the owner puts 0 into its
/// private slot and takes it back while a stealer misses and scans: the
/// scan must skip the owner's slot (its index is held), so 0 is the
/// owner's, never both threads', and never lost.
#[test]
fn a_miss_after_a_thread_exit_never_adopts_a_live_threads_private_value() {
    crate::support::check(
        "a_miss_after_a_thread_exit_never_adopts_a_live_threads_private_value",
        || {
            let tally = Tally::new(1);
            let pool = new_pool(1);
            {
                let pool = pool.clone();
                thread::spawn(move || assert!(pool.try_take().is_none()))
                    .join()
                    .unwrap();
            }
            let owner = {
                let (pool, tally) = (pool.clone(), tally.clone());
                thread::spawn(move || {
                    pool.put(Item::new(&tally, 0));
                    pool.try_take()
                })
            };
            let stealer = {
                let pool = pool.clone();
                thread::spawn(move || pool.try_take())
            };
            let mut taken: Vec<Item> = owner.join().unwrap().into_iter().collect();
            let stolen = stealer.join().unwrap();
            assert!(
                stolen.is_none(),
                "a live thread's private value was adopted"
            );
            taken.extend(stolen);
            assert_eq!(ids(&taken), [0], "the owner takes its private value back");
            settle(&tally, 1, pool, taken, &[]);
        },
    );
}

/// Executions of the ring-release model in which a cleanup freed the
/// exited thread's ring before the thief was joined.
static RING_FREED_WHILE_THIEF_RAN: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// A thief takes its thread index (and whatever it finds), then waits while thread A
/// puts 0 (private) and 1 (its chain's first ring) and exits. Then the
/// thief takes what it can (1 from A's ring, then 0 from A's private slot)
/// while a cleanup frees A's ring as soon as it is empty (A's index is
/// free, the thief holds another). A thief still inside that ring must
/// find it alive (the epoch defers the free, and loom checks every use of
/// a freed link), and no value is lost or taken twice. Whether the ring is
/// gone at the very end is not asserted: loom's `join` may return before a
/// thread's thread-local destructors give its index back; the isolated
/// test `an_exited_threads_rings_are_freed_by_cleanups` checks that with
/// std threads.
#[test]
fn an_exited_threads_ring_is_freed_once_empty_while_a_thief_may_read_it() {
    RING_FREED_WHILE_THIEF_RAN.store(false, std::sync::atomic::Ordering::SeqCst);
    // Bound 1 in CI, as the other models with a thief and a cleanup.
    crate::support::check_capped(
        "an_exited_threads_ring_is_freed_once_empty_while_a_thief_may_read_it",
        1,
        || {
            let tally = Tally::new(2);
            let pool = new_pool(1);
            let go = Arc::new(loom::sync::Notify::new());
            let thief = {
                let (pool, go) = (pool.clone(), go.clone());
                thread::spawn(move || {
                    let mut taken: Vec<Item> = pool.try_take().into_iter().collect();
                    go.wait();
                    taken.extend(take_all(&pool, 3));
                    taken
                })
            };
            spawn_owner_of_0_and_1(&pool, &tally, |_| ())
                .join()
                .unwrap();
            go.notify();
            // The cleanup runs on a thread of its own, so that the thief can
            // stop inside A's ring, the cleanup free it, and the thief go on,
            // with a single preemption.
            let cleaner = {
                let pool = pool.clone();
                thread::spawn(move || {
                    pool.cleanup();
                    pool.ring_slots() == 0
                })
            };
            let freed = cleaner.join().unwrap();
            let taken = thief.join().unwrap();
            if freed {
                RING_FREED_WHILE_THIEF_RAN.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            assert!(tally.dropped().is_empty(), "one cleanup dropped a value");
            let retained = still_pooled(&tally, 2, &taken);
            settle(&tally, 2, pool, taken, &retained);
        },
    );
    assert!(
        RING_FREED_WHILE_THIEF_RAN.load(std::sync::atomic::Ordering::SeqCst),
        "no execution freed the exited thread's ring before the thief was joined"
    );
}

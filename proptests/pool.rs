//! `Pool` against its published reference model (`victim_pool::model`), step by step. The
//! concurrent scripts checked for conservation are in `pool_concurrent`.
//!
//! # Lockstep: why the model can predict a real pool
//!
//! Each logical thread is one OS worker thread that runs the pool operations
//! the driver sends it, one at a time, so it keeps one thread index for the
//! whole case and every operation finishes before the next starts.
//!
//! Thread indices are process-wide and other tests run in parallel in this
//! binary, so the workers' indices are neither `0..n` nor in spawn order.
//! The model needs only their cyclic order: other threads' locals in this
//! pool exist but stay empty, and the steal order (after the own index,
//! wrapping) and victim order (from the own index, wrapping) over non-empty
//! locals depend on nothing else. Each case learns that order from the pool
//! itself before it starts: on a fresh pool per worker, every worker puts
//! two markers (one lands in its private slot, one on its chain) and that
//! worker then takes until it runs dry; after its own two markers, it steals
//! the others' chain markers in index order. The test asserts that all `n`
//! orders observed this way are rotations of one cyclic order (a property
//! in itself) and gives that order to the model.
//!
//! A worker that exits leaves its local behind, and what the pool does with
//! that local's private value depends on other tests' threads (see
//! `victim_pool::model`'s docs): there the model follows the pool's answer, within
//! what the contract allows. Exited workers are not replaced within a case.

use proptest::prelude::*;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::{Scope, ScopedJoinHandle};
use victim_pool::model::{Effects, Id, PoolModel, Rules};
use victim_pool::{OwnedPoolGuard, Pool, PoolBuilder, PoolGuard};

// ---------------------------------------------------------------------------
// Payload

/// Every drop and every reset of a `Logged` value, in order.
#[derive(Debug, Default)]
struct EventLog {
    drops: Mutex<Vec<Id>>,
    resets: Mutex<Vec<Id>>,
}

impl EventLog {
    /// The drops since the last call, sorted.
    fn drain_drops(&self) -> Vec<Id> {
        let mut dropped = std::mem::take(&mut *self.drops.lock().unwrap());
        dropped.sort_unstable();
        dropped
    }

    /// The resets since the last call, in order.
    fn drain_resets(&self) -> Vec<Id> {
        std::mem::take(&mut *self.resets.lock().unwrap())
    }
}

/// A pooled value that logs its drop. `check` detects a value read torn or
/// from freed memory.
#[derive(Debug)]
struct Logged {
    id: Id,
    check: Id,
    log: Arc<EventLog>,
}

impl Logged {
    fn new(id: Id, log: &Arc<EventLog>) -> Self {
        Logged {
            id,
            check: !id,
            log: Arc::clone(log),
        }
    }

    fn id(&self) -> Id {
        assert_eq!(self.check, !self.id, "value {} corrupted", self.id);
        self.id
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        // No assertion here: a panic in a drop during a cleanup's unwinding
        // would abort the whole test binary. A corrupted value logs an id
        // that no model expects.
        let id = if self.check == !self.id {
            self.id
        } else {
            Id::MAX
        };
        self.log.drops.lock().unwrap().push(id);
    }
}

type Create = Box<dyn Fn() -> Logged + Send + Sync>;
type ModelledPool = Pool<Logged, Create>;

// ---------------------------------------------------------------------------
// Lockstep workers

enum Reply {
    Done,
    Value(Option<Logged>),
    Id(Option<Id>),
    Guard(OwnedPoolGuard<Logged, Create>),
    Marker(Option<u32>),
}

type Job = Box<dyn FnOnce() -> Reply + Send>;

/// An OS thread that runs jobs one at a time, answering each.
struct Worker<'scope> {
    jobs: Option<mpsc::Sender<Job>>,
    replies: mpsc::Receiver<Reply>,
    thread: Option<ScopedJoinHandle<'scope, ()>>,
}

impl<'scope> Worker<'scope> {
    fn spawn(scope: &'scope Scope<'scope, '_>) -> Self {
        let (jobs, job_rx) = mpsc::channel::<Job>();
        let (reply_tx, replies) = mpsc::channel();
        let thread = scope.spawn(move || {
            for job in job_rx {
                if reply_tx.send(job()).is_err() {
                    break;
                }
            }
        });
        Worker {
            jobs: Some(jobs),
            replies,
            thread: Some(thread),
        }
    }

    fn run(&self, job: impl FnOnce() -> Reply + Send + 'static) -> Reply {
        let jobs = self.jobs.as_ref().expect("worker has exited");
        jobs.send(Box::new(job)).expect("worker alive");
        self.replies.recv().expect("worker panicked")
    }

    /// Ends the thread and waits until it is gone (its thread index freed).
    fn exit(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            thread.join().expect("worker panicked");
        }
    }
}

fn no_create<T>() -> T {
    panic!("calibration never creates values")
}

/// The workers' thread indices in increasing order, up to rotation, as the
/// pool's steal order shows it; asserts every worker sees the same order.
fn learn_index_order(workers: &[Worker<'_>]) -> Vec<usize> {
    let n = workers.len();
    let mut order: Option<Vec<usize>> = None;
    for taker in 0..n {
        let pool: Arc<Pool<u32>> = Arc::new(Pool::new(no_create));
        for (w, worker) in workers.iter().enumerate() {
            let pool = Arc::clone(&pool);
            worker.run(move || {
                pool.put(2 * w as u32); // the private slot
                pool.put(2 * w as u32 + 1); // the chain
                Reply::Done
            });
        }
        let mut taken = Vec::new();
        for _ in 0..=n + 1 {
            let pool = Arc::clone(&pool);
            match workers[taker].run(move || Reply::Marker(pool.try_take())) {
                Reply::Marker(marker) => taken.push(marker),
                _ => unreachable!(),
            }
        }
        let own = 2 * taker as u32;
        assert_eq!(
            &taken[..2],
            [Some(own), Some(own + 1)],
            "private, then own chain"
        );
        assert_eq!(
            taken[n + 1],
            None,
            "private values of live threads are never stolen"
        );
        let mut seen: Vec<usize> = vec![taker];
        for marker in &taken[2..=n] {
            let marker = marker.expect("every other chain marker is stolen");
            assert_eq!(marker % 2, 1, "only chain markers are stolen");
            seen.push(marker as usize / 2);
        }
        // Rotate so that worker 0 comes first, then compare perspectives.
        let zero = seen.iter().position(|&w| w == 0).unwrap();
        seen.rotate_left(zero);
        match &order {
            None => order = Some(seen),
            Some(order) => assert_eq!(
                order, &seen,
                "worker {taker} steals in another cyclic order than worker 0"
            ),
        }
    }
    order.unwrap()
}

// ---------------------------------------------------------------------------
// The model check

#[derive(Clone, Debug)]
enum Action {
    /// Put a new value.
    PutNew,
    /// Put back a value some thread took (any thread may return it).
    PutHeld(usize),
    TryTake,
    Take,
    /// `get`, then drop the guard (the value goes back).
    GetAndReturn,
    /// `get`, then `PoolGuard::into_inner`.
    GetAndDetach,
    /// `try_get`, then drop the guard, if any.
    TryGetAndReturn,
    /// `get_owned`; the guard is kept, to be dropped later on any thread.
    GetOwned,
    /// Drop a kept owned guard on this thread: the value returns here.
    ReturnGuard(usize),
    /// Drop a value some thread took.
    DropHeld(usize),
    Cleanup,
    /// The thread exits (ignored if it is the last one running).
    Exit,
}

#[derive(Clone, Debug)]
struct Step {
    /// Picks among the threads still running (modulo their number).
    thread: usize,
    action: Action,
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => Just(Action::PutNew),
        3 => (0..8usize).prop_map(Action::PutHeld),
        4 => Just(Action::TryTake),
        2 => Just(Action::Take),
        2 => Just(Action::GetAndReturn),
        1 => Just(Action::GetAndDetach),
        1 => Just(Action::TryGetAndReturn),
        1 => Just(Action::GetOwned),
        1 => (0..4usize).prop_map(Action::ReturnGuard),
        1 => (0..8usize).prop_map(Action::DropHeld),
        2 => Just(Action::Cleanup),
        1 => Just(Action::Exit),
    ]
}

fn steps(max: usize) -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        (0..4usize, action()).prop_map(|(thread, action)| Step { thread, action }),
        1..max,
    )
}

pub(crate) fn rules() -> impl Strategy<Value = Rules> {
    (
        prop::option::of(prop_oneof![Just(3u64), Just(5)]),
        prop::option::of(1..4usize),
        any::<bool>(),
    )
        .prop_map(|(discard_multiple_of, max_chain, reset)| Rules {
            discard_multiple_of,
            max_chain,
            reset,
        })
}

/// Everything dropped so far, to catch a second drop of any value.
#[derive(Default)]
struct DropLedger(HashSet<Id>);

impl DropLedger {
    fn record(&mut self, dropped: &[Id]) {
        for &id in dropped {
            assert!(self.0.insert(id), "value {id} dropped twice");
        }
    }
}

/// A pool with `rules` whose values log their drops and resets in `log`
/// and whose create function numbers values from `ids`.
fn modelled_pool(
    rules: Rules,
    first_link: usize,
    log: &Arc<EventLog>,
    ids: &Arc<AtomicU64>,
) -> ModelledPool {
    let create: Create = {
        let (log, ids) = (Arc::clone(log), Arc::clone(ids));
        Box::new(move || Logged::new(ids.fetch_add(1, SeqCst), &log))
    };
    if rules.discard_multiple_of.is_none() && rules.max_chain.is_none() && !rules.reset {
        return Pool::new(create).with_first_capacity(first_link);
    }
    let mut builder = PoolBuilder::new(create).with_first_capacity(first_link);
    if let Some(m) = rules.discard_multiple_of {
        builder = builder.keep_if(move |v: &Logged| v.id() % m != 0);
    }
    if let Some(max) = rules.max_chain {
        builder = builder.max_chain_per_thread(max);
    }
    if rules.reset {
        let log = Arc::clone(log);
        builder = builder.reset(move |v: &mut Logged| log.resets.lock().unwrap().push(v.id()));
    }
    builder.build()
}

fn check_against_model(threads: usize, first_link: usize, rules: Rules, script: &[Step]) {
    let log = Arc::new(EventLog::default());
    let ids = Arc::new(AtomicU64::new(0));
    let pool = Arc::new(modelled_pool(rules, first_link, &log, &ids));
    let mut ledger = DropLedger::default();

    let model = std::thread::scope(|scope| {
        let mut workers: Vec<Worker<'_>> = (0..threads).map(|_| Worker::spawn(scope)).collect();
        let mut model = PoolModel::new(learn_index_order(&workers), 0, rules);
        let mut live: Vec<usize> = (0..threads).collect();
        // Values and owned guards callers hold, in the order they got them.
        let mut held: Vec<Logged> = Vec::new();
        let mut guards: Vec<OwnedPoolGuard<Logged, Create>> = Vec::new();

        for (n, step) in script.iter().enumerate() {
            let t = live[step.thread % live.len()];
            let worker = &workers[t];
            let context = || format!("step {n} on thread {t}: {:?}", step.action);
            let p = Arc::clone(&pool);
            // Each arm runs the operation, then asks the model what it should
            // have done (gets tell the model what they returned: see
            // `victim_pool::model` on exited threads).
            let (expected, got): (Effects, Option<Id>) = match &step.action {
                Action::PutHeld(k) if !held.is_empty() => {
                    let value = held.remove(k % held.len());
                    let id = value.id();
                    worker.run(move || {
                        p.put(value);
                        Reply::Done
                    });
                    (model.put(t, id), None)
                }
                Action::PutNew | Action::PutHeld(_) => {
                    let id = ids.fetch_add(1, SeqCst);
                    assert_eq!(id, model.fresh_id(), "{}", context());
                    let value = Logged::new(id, &log);
                    worker.run(move || {
                        p.put(value);
                        Reply::Done
                    });
                    (model.put(t, id), None)
                }
                Action::TryTake | Action::Take | Action::GetAndDetach => {
                    let reply = match step.action {
                        Action::TryTake => worker.run(move || Reply::Value(p.try_take())),
                        Action::Take => worker.run(move || Reply::Value(Some(p.take()))),
                        _ => worker.run(move || Reply::Value(Some(PoolGuard::into_inner(p.get())))),
                    };
                    let Reply::Value(value) = reply else {
                        unreachable!()
                    };
                    let got = value.as_ref().map(Logged::id);
                    held.extend(value);
                    let expected = match (&step.action, got) {
                        (Action::TryTake, _) => model.try_take(t, got),
                        (_, Some(got)) => model.take(t, got),
                        (_, None) => unreachable!("take always returns a value"),
                    };
                    (expected, got)
                }
                Action::GetAndReturn => {
                    let Reply::Id(got) = worker.run(move || Reply::Id(Some(p.get().id()))) else {
                        unreachable!()
                    };
                    (model.get_and_return(t, got.unwrap()), got)
                }
                Action::TryGetAndReturn => {
                    let Reply::Id(got) = worker.run(move || Reply::Id(p.try_get().map(|g| g.id())))
                    else {
                        unreachable!()
                    };
                    let mut expected = model.try_take(t, got);
                    if let Some(id) = got {
                        let returned = model.put(t, id);
                        expected.dropped.extend(returned.dropped);
                        expected.dropped.sort_unstable();
                        expected.reset = returned.reset;
                    }
                    (expected, got)
                }
                Action::GetOwned => {
                    let Reply::Guard(guard) = worker.run(move || Reply::Guard(p.get_owned()))
                    else {
                        unreachable!()
                    };
                    let got = guard.id();
                    guards.push(guard);
                    (model.get(t, got), Some(got))
                }
                Action::ReturnGuard(k) => {
                    if guards.is_empty() {
                        continue;
                    }
                    let guard = guards.remove(k % guards.len());
                    let id = guard.id();
                    worker.run(move || {
                        drop(guard);
                        Reply::Done
                    });
                    (model.return_guard(t, id), None)
                }
                Action::DropHeld(k) => {
                    if held.is_empty() {
                        continue;
                    }
                    let value = held.remove(k % held.len());
                    let id = value.id();
                    drop(value);
                    let expected = Effects {
                        dropped: vec![id],
                        ..Effects::default()
                    };
                    (expected, None)
                }
                Action::Cleanup => {
                    worker.run(move || {
                        p.cleanup();
                        Reply::Done
                    });
                    (model.cleanup(), None)
                }
                Action::Exit => {
                    if live.len() == 1 {
                        continue;
                    }
                    drop(p);
                    workers[t].exit();
                    live.retain(|&l| l != t);
                    model.exit(t);
                    (Effects::default(), None)
                }
            };
            assert_eq!(got, expected.got, "value returned, {}", context());
            assert_eq!(log.drain_resets(), expected.reset, "resets, {}", context());
            let dropped = log.drain_drops();
            ledger.record(&dropped);
            let uncertain: Vec<Id> = dropped
                .iter()
                .copied()
                .filter(|id| !expected.dropped.contains(id))
                .collect();
            assert!(
                expected.dropped.iter().all(|id| dropped.contains(id))
                    && uncertain.iter().all(|id| expected.may_drop.contains(id)),
                "{}: dropped {dropped:?}, model says {:?} (and maybe {:?})",
                context(),
                expected.dropped,
                expected.may_drop
            );
            model.resolve_may_drop(&uncertain);
            assert_eq!(pool.stats(), model.counts(), "statistics, {}", context());
        }
        // Callers' values are dropped by the callers; guards go back (on
        // the driver thread, which may or may not have a local: no model).
        let mut mine: Vec<Id> = held.iter().map(Logged::id).collect();
        mine.sort_unstable();
        drop(held);
        assert_eq!(log.drain_drops(), mine);
        ledger.record(&mine);
        for worker in &mut workers {
            worker.exit();
        }
        (model, guards)
    });
    let (model, guards) = model;
    // Dropping the pool drops exactly what the model says it still holds.
    let mut retained = model.retained();
    assert_eq!(
        log.drain_drops(),
        Vec::<Id>::new(),
        "thread exits drop nothing"
    );
    let outstanding: Vec<Id> = guards.iter().map(|g| g.id()).collect();
    // Guards still out go back from the driver thread, which the model
    // does not know: their values are dropped now or with the pool.
    drop(guards);
    let pool = Arc::into_inner(pool).expect("the test holds the last reference");
    drop(pool);
    retained.extend(outstanding);
    retained.sort_unstable();
    let at_drop = log.drain_drops();
    assert_eq!(
        at_drop, retained,
        "values the pool held when dropped, and guards"
    );
    ledger.record(&at_drop);
    // Every value ever made was dropped exactly once.
    let made = ids.load(SeqCst);
    assert_eq!(ledger.0.len() as u64, made, "values made: {made}");
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    })]

    /// Every step returns the value the model predicts (by id, hence by tier
    /// and order), drops and resets exactly the values the model does, and
    /// reports the model's statistics; the pool ends holding exactly the
    /// model's values, and every value is dropped once.
    #[test]
    fn pool_matches_its_reference_model_step_by_step(
        threads in 2usize..=4,
        first_link in prop_oneof![Just(1usize), Just(2), Just(8)],
        rules in rules(),
        script in steps(120),
    ) {
        check_against_model(threads, first_link, rules, &script);
    }
}

/// The model check with a fixed script, so a failure is easy to read.
#[test]
fn pool_matches_its_reference_model_on_go_like_traffic() {
    use Action::*;
    let script: Vec<Step> = [
        (0, PutNew),
        (0, PutNew),
        (0, PutNew),
        (1, PutNew),
        (1, PutNew),
        (2, PutNew),
        (2, TryTake),
        (2, TryTake),
        (2, TryTake),
        (1, Cleanup),
        (2, PutNew),
        (0, TryTake),
        (1, TryTake),
        (1, TryTake),
        (1, TryTake),
        (0, Cleanup),
        (2, Exit),
        (1, Cleanup),
        (0, GetAndReturn),
        (0, Cleanup),
        (1, Cleanup),
    ]
    .into_iter()
    .map(|(thread, action)| Step { thread, action })
    .collect();
    check_against_model(3, 1, Rules::default(), &script);
}

/// A get leaves an exited thread's expired private value alone (it only
/// adopts servable ones), and the cleanup that drops it counts it. The value
/// expires while its thread is alive; where cleanups drain idle live
/// threads, the second cleanup drops it at once instead.
#[test]
fn an_exited_threads_expired_private_value_is_left_to_cleanup_and_counted() {
    let log = Arc::new(EventLog::default());
    let ids = Arc::new(AtomicU64::new(0));
    let pool = Arc::new(modelled_pool(Rules::default(), 8, &log, &ids));
    assert!(pool.try_take().is_none(), "this thread now holds an index");
    let (p, l) = (Arc::clone(&pool), Arc::clone(&log));
    std::thread::spawn(move || {
        p.put(Logged::new(0, &l)); // its private slot
        p.cleanup();
        p.cleanup(); // expired now
    })
    .join()
    .unwrap();
    if victim_pool::cleanups_drain_idle_threads() {
        assert_eq!(log.drain_drops(), [0], "the idle slot was drained");
        let stats = pool.stats();
        assert_eq!((stats.dropped_by_cleanup, stats.retained), (1, 0));
        return;
    }
    assert_eq!(
        log.drain_drops(),
        [],
        "the live thread's slot survives cleanups"
    );
    assert!(
        pool.try_take().is_none(),
        "an expired value is never served"
    );
    assert_eq!(log.drain_drops(), [], "nor dropped by a get");
    let stats = pool.stats();
    assert_eq!((stats.dropped_by_cleanup, stats.retained), (0, 1));
    pool.cleanup();
    // Dropped now, unless another thread of this process took the index.
    let dropped = log.drain_drops().len() as u64;
    let stats = pool.stats();
    assert_eq!(stats.dropped_by_cleanup, dropped);
    assert_eq!(stats.retained + dropped, 1);
    // What the cleanup left, dropping the pool drops: value 0 once in all.
    drop(Arc::into_inner(pool).expect("the thread's clone is gone"));
    assert_eq!(log.drain_drops(), vec![0; (1 - dropped) as usize]);
}

/// A put that displaces an expired private value drops it, and counts the
/// put even when that drop panics, so `retained` stays what the pool
/// holds. Only without the process-wide barrier: with it, cleanups drain
/// the live thread's slot and nothing is left to displace (`.ci/test` runs
/// this file both ways).
#[test]
fn a_put_whose_displaced_expired_value_panics_on_drop_is_counted_all_the_same() {
    if victim_pool::cleanups_drain_idle_threads() {
        return;
    }
    use crate::support::{DropLedger, PlantedDropPanic, Tracked};
    let ledger = DropLedger::with_panicking_drop(2, 0);
    let pool = Pool::new(|| -> Tracked<'_> { unreachable!("the test never creates") });
    pool.put(ledger.value(0)); // this thread's private slot
    pool.cleanup();
    pool.cleanup(); // expired, and left in the live thread's slot
    let displaced = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pool.put(ledger.value(1));
    }));
    let payload = displaced.expect_err("the displaced value's drop panics");
    assert_eq!(
        payload.downcast_ref::<PlantedDropPanic>(),
        Some(&PlantedDropPanic(0))
    );
    let stats = pool.stats();
    assert_eq!(
        (stats.puts, stats.dropped_by_cleanup, stats.retained),
        (2, 1, 1)
    );
    drop(pool);
    ledger.assert_each_dropped_once();
}

/// A take, `try_take` or `get` that finds this thread's private value
/// expired drops it, and counts the drop first, so a `Drop` that panics
/// leaves the statistics exact and the pool usable. Only without the
/// process-wide barrier, as above.
#[test]
fn a_take_whose_expired_private_value_panics_on_drop_counts_it_all_the_same() {
    if victim_pool::cleanups_drain_idle_threads() {
        return;
    }
    use crate::support::{DropLedger, PlantedDropPanic, Tracked};
    for op in ["take", "try_take", "get"] {
        let ledger = DropLedger::with_panicking_drop(2, 0);
        let pool = Pool::new(|| -> Tracked<'_> { unreachable!("the test never creates") });
        pool.put(ledger.value(0)); // this thread's private slot
        pool.cleanup();
        pool.cleanup(); // expired, and left in the live thread's slot
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match op {
            "take" => drop(pool.take()),
            "try_take" => drop(pool.try_take()),
            _ => drop(pool.get()),
        }));
        let payload = found.expect_err("the expired value's drop panics");
        assert_eq!(
            payload.downcast_ref::<PlantedDropPanic>(),
            Some(&PlantedDropPanic(0)),
            "{op}"
        );
        let stats = pool.stats();
        assert_eq!(
            (stats.puts, stats.dropped_by_cleanup, stats.retained),
            (1, 1, 0),
            "{op}: {stats:?}"
        );
        pool.put(ledger.value(1));
        assert_eq!(pool.try_take().map(|value| value.id()), Some(1), "{op}");
        drop(pool);
        ledger.assert_each_dropped_once();
    }
}

/// A keep rule or reset hook that panics makes `put` drop the value (once)
/// and propagate the panic; the statistics count the value as discarded,
/// so `retained` still equals what the pool holds.
#[test]
fn a_panicking_keep_rule_or_reset_hook_drops_the_value_once_and_keeps_statistics_exact() {
    for hook in ["keep_if", "reset"] {
        let log = Arc::new(EventLog::default());
        let builder = Pool::builder(no_create::<Logged>);
        let pool = match hook {
            "keep_if" => builder.keep_if(|_: &Logged| panic!("keep rule fails")),
            _ => builder.reset(|_: &mut Logged| panic!("reset hook fails")),
        }
        .build();
        let put = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.put(Logged::new(7, &log))
        }));
        assert!(put.is_err(), "{hook}: the panic propagates");
        assert_eq!(log.drain_drops(), [7], "{hook}: dropped once, by put");
        assert!(pool.try_take().is_none(), "{hook}: nothing was kept");
        let stats = pool.stats();
        assert_eq!(
            (stats.puts, stats.discarded, stats.retained),
            (1, 1, 0),
            "{hook}: {stats:?}"
        );
    }
}

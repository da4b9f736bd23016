//! Helpers shared by the loom models: a drop-counting payload and the model
//! runner.
//!
//! The ledger's counters are std atomics on purpose: they are bookkeeping,
//! not part of the algorithm under test, and loom runs its threads one at a
//! time on one OS thread. Loom atomics here would add scheduling points that
//! only widen the search without modelling anything. Each payload also holds
//! a `loom::alloc::Track`, so loom's own leak check (run after every
//! execution) reports a value that was never dropped, even when a model's
//! final assertions are never reached.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Counts, per value id, how many times a [`Value`] was dropped.
pub struct Ledger {
    drops: Vec<AtomicUsize>,
}

impl Ledger {
    /// A ledger for values `0..count`.
    pub fn new(count: usize) -> std::sync::Arc<Ledger> {
        std::sync::Arc::new(Ledger {
            drops: (0..count).map(|_| AtomicUsize::new(0)).collect(),
        })
    }

    /// The ids dropped so far (a second drop of one id panics at once).
    pub fn dropped(&self) -> Vec<usize> {
        (0..self.drops.len())
            .filter(|&id| self.drops[id].load(Ordering::SeqCst) > 0)
            .collect()
    }

    /// Panics unless every value was dropped exactly once.
    pub fn assert_each_dropped_once(&self) {
        let drops: Vec<usize> = self
            .drops
            .iter()
            .map(|count| count.load(Ordering::SeqCst))
            .collect();
        assert!(
            drops.iter().all(|&count| count == 1),
            "every value must be dropped exactly once; drops per id: {drops:?}"
        );
    }
}

/// A payload that records its drop in a [`Ledger`] and is tracked by loom's
/// leak check.
pub struct Value {
    id: usize,
    ledger: std::sync::Arc<Ledger>,
    _leak_check: loom::alloc::Track<()>,
}

impl Value {
    /// Value `id` of `ledger`; create each id once per execution.
    pub fn new(ledger: &std::sync::Arc<Ledger>, id: usize) -> Value {
        Value {
            id,
            ledger: std::sync::Arc::clone(ledger),
            _leak_check: loom::alloc::Track::new(()),
        }
    }

    /// The id given at creation.
    pub fn id(&self) -> usize {
        self.id
    }
}

impl Drop for Value {
    fn drop(&mut self) {
        let previous = self.ledger.drops[self.id].fetch_add(1, Ordering::SeqCst);
        assert_eq!(previous, 0, "value {} dropped twice", self.id);
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Value({})", self.id)
    }
}

/// The ids of values that came out of a structure: popped, or handed back
/// by a refused push. Dropping the values is the caller's business.
#[derive(Default, Debug)]
pub struct Out(Vec<usize>);

impl Out {
    /// Records `value` as out and drops it.
    pub fn take(&mut self, value: Value) {
        self.0.push(value.id());
    }

    /// Records the value in `popped`, if any; returns whether there was one.
    pub fn take_some(&mut self, popped: Option<Value>) -> bool {
        match popped {
            Some(value) => {
                self.take(value);
                true
            }
            None => false,
        }
    }

    /// Records the value handed back by a refused push, if any.
    pub fn take_refused(&mut self, pushed: Result<(), Value>) {
        if let Err(value) = pushed {
            self.take(value);
        }
    }

    /// Adds everything `other` recorded.
    pub fn extend(&mut self, other: Out) {
        self.0.extend(other.0);
    }

    /// Panics unless exactly `count` values came out, all different.
    pub fn assert_distinct(&self, count: usize) {
        let mut ids = self.0.clone();
        ids.sort_unstable();
        ids.dedup();
        assert!(
            self.0.len() == count && ids.len() == count,
            "expected {count} different values out, got {:?}",
            self.0
        );
    }

    /// Panics unless the ids recorded are exactly `0..count`, each once.
    pub fn assert_each_out_once(&self, count: usize) {
        let mut ids = self.0.clone();
        ids.sort_unstable();
        assert!(
            ids.iter().copied().eq(0..count),
            "every value must come out exactly once; out: {:?}, expected 0..{count}",
            self.0
        );
    }
}

/// Like [`check`], but explores at most `max_preemptions` preemptions even
/// when the environment allows more, unless `VICTIM_POOL_LOOM_HEAVY=1` (the
/// heavy run of `.ci/loom.sh`) asks for the environment's bound.
///
/// For three-thread models that target one edge and catch its removal at a
/// lower bound: their full search at the CI bound would cost minutes.
#[track_caller]
pub fn check_capped<F>(name: &str, max_preemptions: usize, model: F)
where
    F: Fn() + Sync + Send + 'static,
{
    let mut builder = loom::model::Builder::new();
    let heavy = std::env::var("VICTIM_POOL_LOOM_HEAVY").is_ok_and(|v| v == "1");
    if !heavy {
        let bound = builder
            .preemption_bound
            .map_or(max_preemptions, |b| b.min(max_preemptions));
        builder.preemption_bound = Some(bound);
    }
    run(name, builder, model);
}

/// Runs `model` under loom with the settings from the environment
/// (`LOOM_MAX_PREEMPTIONS`, `LOOM_MAX_BRANCHES`, ...), and prints how many
/// executions it explored and how long that took (visible with
/// `--nocapture`; `.ci/loom.sh` shows it).
#[track_caller]
pub fn check<F>(name: &str, model: F)
where
    F: Fn() + Sync + Send + 'static,
{
    run(name, loom::model::Builder::new(), model);
}

fn run<F>(name: &str, builder: loom::model::Builder, model: F)
where
    F: Fn() + Sync + Send + 'static,
{
    let executions = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&executions);
    let start = Instant::now();
    builder.check(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        model();
    });
    eprintln!(
        "loom model {name}: {} executions in {:.1} s (preemption bound {})",
        executions.load(Ordering::Relaxed),
        start.elapsed().as_secs_f64(),
        builder
            .preemption_bound
            .map_or_else(|| "none".to_owned(), |b| b.to_string())
    );
}

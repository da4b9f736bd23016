//! Crews: threads kept for a whole row, released together for each sample.

use super::*;

/// What a crew's threads wait on.
pub(crate) struct Gate {
    /// The current sample's iterations, over all threads.
    iters: AtomicU64,
    stop: AtomicBool,
    start: Barrier,
    done: Barrier,
    /// Create calls of the crew's threads so far.
    creates: AtomicU64,
}

/// Iterations of thread `t` of `threads` when they share `total`.
pub(crate) fn share(total: u64, threads: usize, t: usize) -> u64 {
    let threads = threads as u64;
    total / threads + u64::from((t as u64) < total % threads)
}

/// Totals of a row.
#[derive(Default)]
pub(crate) struct Tally {
    /// Iterations, the crew's warm-up included.
    pub(crate) ops: u64,
    /// Of those, iterations criterion asked for (none if filtered out).
    pub(crate) timed: u64,
    pub(crate) creates: u64,
}

/// Runs `measure` with a function that does one sample: `iters` iterations
/// of `work`, shared by `threads` threads that each keep one handle for the
/// whole row; it returns the wall time from release to the last finish.
///
/// Before `measure`, every thread does one iteration, counted in the tally:
/// otherwise criterion's warm-up may time a cold first iteration (100
/// creates of 1 ms in `expensive-create`) and, from that estimate, run so
/// few iterations that the cold start dominates the row's creates per op.
pub(crate) fn with_crew<'c, C, W>(
    c: &'c C,
    threads: usize,
    work: W,
    measure: impl FnOnce(&mut dyn FnMut(u64) -> Duration),
) -> Tally
where
    C: Contender,
    W: Fn(&'c C, &mut C::Handle<'c>, u64) + Sync,
{
    let (mut ops, mut timed) = (0, 0);
    if threads == 1 {
        let before = created_here();
        let mut handle = c.handle();
        let mut run = |iters| {
            ops += iters;
            let start = Instant::now();
            work(c, &mut handle, iters);
            start.elapsed()
        };
        run(1);
        measure(&mut |iters| {
            timed += iters;
            run(iters)
        });
        drop(handle);
        return Tally {
            ops,
            timed,
            creates: created_here() - before,
        };
    }
    let gate = Gate {
        iters: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        start: Barrier::new(threads + 1),
        done: Barrier::new(threads + 1),
        creates: AtomicU64::new(0),
    };
    thread::scope(|s| {
        for t in 0..threads {
            let (gate, work) = (&gate, &work);
            s.spawn(move || {
                let mut handle = c.handle();
                loop {
                    gate.start.wait();
                    // Relaxed [crew-gate]: stored before the barrier this
                    // thread just passed, which orders it.
                    if gate.stop.load(Ordering::Relaxed) {
                        break;
                    }
                    // Relaxed [crew-gate]: as above.
                    let iters = gate.iters.load(Ordering::Relaxed);
                    let before = created_here();
                    work(c, &mut handle, share(iters, threads, t));
                    // Relaxed [crew-creates]: read after the crew is joined.
                    gate.creates
                        .fetch_add(created_here() - before, Ordering::Relaxed);
                    gate.done.wait();
                }
            });
        }
        let mut run = |iters| {
            ops += iters;
            // Relaxed [crew-gate]: published to the crew by the start barrier.
            gate.iters.store(iters, Ordering::Relaxed);
            let start = Instant::now();
            gate.start.wait();
            gate.done.wait();
            start.elapsed()
        };
        run(threads as u64);
        measure(&mut |iters| {
            timed += iters;
            run(iters)
        });
        // Relaxed [crew-gate]: as above.
        gate.stop.store(true, Ordering::Relaxed);
        gate.start.wait();
    });
    Tally {
        ops,
        timed,
        // Relaxed [crew-creates]: the crew has been joined.
        creates: gate.creates.load(Ordering::Relaxed),
    }
}

/// Creates of a row: victim-pool's own count (checked against the create
/// function's), or the create function's.
pub(crate) fn creates_of<C: Contender>(c: &C, counted: u64) -> u64 {
    match c.stats() {
        Some(stats) => {
            assert_eq!(
                stats.created,
                counted,
                "{}: statistics and the create function disagree",
                C::NAME
            );
            stats.created
        }
        None => counted,
    }
}

pub(crate) fn per_op(count: u64, ops: u64) -> f64 {
    count as f64 / ops.max(1) as f64
}

/// The records of one criterion group, written only if some row of it ran:
/// criterion's filter may skip them all, and the report must not show a
/// group that has no results.
pub(crate) struct Records {
    id: String,
    rows: Vec<(&'static str, RecordRow)>,
    ran: bool,
}

/// A row's metrics, or why the contender cannot express the workload.
pub(crate) type RecordRow = Result<Vec<(&'static str, f64)>, &'static str>;

impl Records {
    pub(crate) fn new(id: String) -> Self {
        Records {
            id,
            rows: Vec::new(),
            ran: false,
        }
    }

    /// A row's metrics, if criterion ran it (`timed` iterations > 0).
    pub(crate) fn metrics(
        &mut self,
        name: &'static str,
        timed: u64,
        metrics: Vec<(&'static str, f64)>,
    ) {
        if timed > 0 {
            self.ran = true;
            self.rows.push((name, Ok(metrics)));
        }
    }

    pub(crate) fn not_expressible(&mut self, name: &'static str, reason: &'static str) {
        self.rows.push((name, Err(reason)));
    }

    pub(crate) fn write(self, description: &str, order: &[&str]) {
        if !self.ran {
            return;
        }
        extra::describe_group(&self.id, description);
        extra::row_order(&self.id, order);
        for (name, row) in self.rows {
            match row {
                Ok(metrics) => extra::metrics(&self.id, name, &metrics),
                Err(reason) => extra::not_expressible(&self.id, name, reason),
            }
        }
    }
}

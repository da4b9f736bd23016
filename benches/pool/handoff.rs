//! The handoff groups: one producer hands values to consumers through bounded queues.

use super::*;

/// A handoff row keeps its pool across samples (as Go keeps one pool for a
/// whole run) until the values it has created reach this many bytes; then
/// the next sample starts a fresh pool. Only pools that strand values on the
/// consumers get there, and for them every take creates anyway.
pub(crate) const HANDOFF_MEMORY_BUDGET: usize = 256 << 20;

/// Waits a little after a failed queue operation: spins, then yields (the
/// machine is shared and a handoff may have more threads than cores).
#[inline]
pub(crate) fn back_off(failures: &mut u32) {
    *failures += 1;
    if *failures < 64 {
        std::hint::spin_loop();
    } else {
        thread::yield_now();
    }
}

/// One handoff sample on fresh threads: `iters` values go from one producer
/// to `consumers` consumers, dealt round robin to one bounded queue per
/// consumer. Returns the wall time and the create calls.
pub(crate) fn handoff_sample<C: Contender>(c: &C, consumers: usize, iters: u64) -> (Duration, u64) {
    let queues: Vec<ArrayQueue<C::Held<'_>>> = (0..consumers)
        .map(|_| ArrayQueue::new(HANDOFF_IN_FLIGHT.div_ceil(consumers)))
        .collect();
    let queues = &queues;
    let gate = &Barrier::new(consumers + 2);
    let (elapsed, counted) = thread::scope(|s| {
        let mut workers = Vec::with_capacity(consumers + 1);
        for (k, queue) in queues.iter().enumerate() {
            workers.push(s.spawn(move || {
                let before = created_here();
                let mut handle = c.handle();
                let mut failures = 0;
                gate.wait();
                for _ in 0..share(iters, consumers, k) {
                    let mut value = loop {
                        match queue.pop() {
                            Some(value) => break value,
                            None => back_off(&mut failures),
                        }
                    };
                    failures = 0;
                    C::touch_other(&mut value);
                    c.put(&mut handle, value);
                }
                drop(handle);
                created_here() - before
            }));
        }
        workers.push(s.spawn(move || {
            let before = created_here();
            let mut handle = c.handle();
            gate.wait();
            for j in 0..iters {
                let mut value = c.take(&mut handle);
                C::touch(&mut value);
                let queue = &queues[(j % consumers as u64) as usize];
                let mut failures = 0;
                while let Err(back) = queue.push(value) {
                    value = back;
                    back_off(&mut failures);
                }
            }
            drop(handle);
            created_here() - before
        }));
        gate.wait();
        let start = Instant::now();
        let counted: u64 = workers
            .into_iter()
            .map(|w| w.join().expect("a handoff thread panicked"))
            .sum();
        (start.elapsed(), counted)
    });
    for queue in queues {
        assert!(
            queue.is_empty(),
            "{}: a handed-over value was left behind",
            C::NAME
        );
    }
    (elapsed, counted)
}

pub(crate) struct Handoff<'a, 'g> {
    group: &'a mut BenchmarkGroup<'g, WallTime>,
    records: &'a mut Records,
    consumers: usize,
}

impl<P: Payload> Visit<P> for Handoff<'_, '_> {
    fn visit<C: Contender<Payload = P>>(&mut self) {
        let consumers = self.consumers;
        let mut ops = 0;
        // The pool in use, what it has created, and the creates of pools
        // already replaced.
        let mut pool: Option<(C, u64)> = None;
        let mut creates = 0;
        self.group.bench_function(C::NAME, |b| {
            b.iter_custom(|iters| {
                if let Some((old, created)) = pool
                    .take_if(|(_, created)| *created as usize * P::SIZE >= HANDOFF_MEMORY_BUDGET)
                {
                    creates += creates_of(&old, created);
                }
                let (c, created) = pool.get_or_insert_with(|| (C::make(), 0));
                let (elapsed, counted) = handoff_sample(c, consumers, iters);
                *created += counted;
                ops += iters;
                elapsed
            })
        });
        if let Some((c, created)) = pool {
            creates += creates_of(&c, created);
        }
        let metrics = vec![("creates/op", per_op(creates, ops))];
        self.records.metrics(C::NAME, ops, metrics);
    }
}

pub(crate) fn handoff_groups(c: &mut Criterion) {
    for consumers in [1, 3] {
        let text = format!(
            "One iteration: one value handed over. One producer takes a value, writes to it \
             and sends it over a bounded channel; {consumers} consumer(s) receive, write to \
             it and put it back ({} threads on the 2 cores). The transport differs from Go's: \
             Go's row uses one channel of 64 between goroutines (GOMAXPROCS 2), which the Go \
             runtime switches cheaply; here the producer deals values round robin to one \
             crossbeam `ArrayQueue` per consumer (64 in flight in all) and both sides spin, \
             then yield, when a queue is full or empty. So times compare pool plus transport; \
             `creates/op` compares the pools alone: it shows whether values put by the \
             consumers travel back to the producer; like Go's, it counts all creates of \
             the row, the cold start included, over all its values. A row keeps its pool \
             across samples, each sample on fresh threads; a pool is replaced at a sample \
             boundary once its creates reach 256 MiB of values (only pools that strand \
             values get there). `small` is a boxed 32-byte struct, `buf4k` a zeroed 4 KiB `Vec<u8>`; every take \
             is followed by a write to the value. For victim-pool, creates are counted by \
             `Pool::stats().created`, checked against the create function's count.",
            consumers + 1
        );
        handoff::<Box<Small>>(c, consumers, &text);
        handoff::<Vec<u8>>(c, consumers, &text);
    }
}

pub(crate) fn handoff<P: Payload>(c: &mut Criterion, consumers: usize, description: &str) {
    let id = format!("handoff-1to{consumers}/{}/2t", P::VARIANT);
    let mut group = c.benchmark_group(&id);
    let mut records = Records::new(id);
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    if mode() == Mode::Full {
        group
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1));
    }
    each_contender::<P>(&mut Handoff {
        group: &mut group,
        records: &mut records,
        consumers,
    });
    group.finish();
    records.write(description, &contender_names::<P>());
}

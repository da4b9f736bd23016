//! The thread-scaling groups (issue 10): a miss, starvation, a handoff and
//! a pool's memory when T live OS threads have touched the pool, for T from
//! 2 to 512 on a machine with far fewer cores.
//!
//! Each group is records only: one metric per label and thread count,
//! named `<label>@<T>`, so that the report draws one table per label with a
//! column per T and a plot against T. Go's `BenchmarkThreadScaling` (at
//! GOMAXPROCS = cores, T goroutines) reports the same labels. The memory
//! group is in `scaling_memory.rs`.

use super::*;

/// The thread counts, T.
pub(crate) const SCALING_THREADS: [usize; 5] = [2, 8, 32, 128, 512];
/// Stack size of the threads spawned here (up to 512 at once).
const STACK: usize = 256 << 10;
/// Takes the handoff producer makes between two clock reads.
const TAKE_BATCH: usize = 8;

pub(crate) fn thread_counts() -> &'static [usize] {
    match mode() {
        Mode::Test => &SCALING_THREADS[..2],
        _ => &SCALING_THREADS,
    }
}

/// How long one sample should last, and how many samples make a figure.
fn sampling() -> (Duration, usize) {
    match mode() {
        Mode::Test => (Duration::ZERO, 1),
        Mode::Quick => (Duration::from_millis(10), 3),
        Mode::Full => (Duration::from_millis(60), 9),
    }
}

/// The median over samples of `measured / iterations`, in ns. `sample(n)`
/// runs `n` iterations and returns (wall time, measured time); `n` starts
/// at `min_iters` and grows until a sample's wall time reaches the target.
fn ns_per_iter(min_iters: u64, mut sample: impl FnMut(u64) -> (Duration, Duration)) -> f64 {
    let (target, rounds) = sampling();
    let mut iters = min_iters.max(1);
    loop {
        let (wall, _) = sample(iters);
        if wall >= target || iters >= 1 << 36 {
            break;
        }
        let factor = 1.2 * target.as_secs_f64() / wall.as_secs_f64().max(1e-9);
        iters = (iters as f64 * factor.clamp(2.0, 10.0)) as u64;
    }
    let mut per: Vec<f64> = (0..rounds)
        .map(|_| sample(iters).1.as_nanos() as f64 / iters as f64)
        .collect();
    per.sort_by(f64::total_cmp);
    per[per.len() / 2]
}

/// Spawns a thread of this module (a small stack) in scope `s`.
pub(crate) fn spawn<'s, 'e, R: Send + 's>(
    s: &'s thread::Scope<'s, 'e>,
    f: impl FnOnce() -> R + Send + 's,
) -> thread::ScopedJoinHandle<'s, R> {
    thread::Builder::new()
        .stack_size(STACK)
        .spawn_scoped(s, f)
        .expect("a benchmark thread")
}

/// One group's rows: metrics by contender, written once every T has run.
pub(crate) struct Series {
    id: &'static str,
    rows: Vec<(&'static str, Vec<(String, f64)>)>,
}

impl Series {
    pub(crate) fn new(id: &'static str, description: &str, order: &[&str]) -> Self {
        extra::describe_group(id, description);
        extra::axis(id, "threads (T)");
        extra::row_order(id, order);
        Series {
            id,
            rows: Vec::new(),
        }
    }

    pub(crate) fn add(&mut self, row: &'static str, label: &str, threads: usize, value: f64) {
        println!("{}/{row}: {label}@{threads} = {value:.4}", self.id);
        let metric = (format!("{label}@{threads}"), value);
        match self.rows.iter_mut().find(|(name, _)| *name == row) {
            Some((_, metrics)) => metrics.push(metric),
            None => self.rows.push((row, vec![metric])),
        }
    }

    pub(crate) fn not_expressible(&self, row: &str, reason: &str) {
        extra::not_expressible(self.id, row, reason);
    }

    pub(crate) fn write(self) {
        for (row, metrics) in &self.rows {
            let pairs: Vec<(&str, f64)> = metrics.iter().map(|(k, v)| (k.as_str(), *v)).collect();
            extra::metrics(self.id, row, &pairs);
        }
    }
}

/// Releases parked threads when dropped, so that a panicking measurement
/// does not leave its scope waiting for them.
struct Release<'a>(&'a (Mutex<bool>, Condvar));

impl Drop for Release<'_> {
    fn drop(&mut self) {
        let (released, wake) = self.0;
        *released.lock().unwrap_or_else(|e| e.into_inner()) = true;
        wake.notify_all();
    }
}

/// Runs `body` on a fresh thread that ran `touch` first, while `others`
/// more threads, each having run `touch` once, wait blocked on a condition
/// variable (parked in the kernel, as Go parks a goroutine blocked on a
/// channel).
fn with_parked<R: Send>(
    others: usize,
    touch: &(impl Fn() + Sync),
    body: impl FnOnce() -> R + Send,
) -> R {
    let ready = Barrier::new(others + 1);
    let released = (Mutex::new(false), Condvar::new());
    thread::scope(|s| {
        let release = Release(&released);
        for _ in 0..others {
            let (ready, released) = (&ready, &released);
            spawn(s, move || {
                touch();
                ready.wait();
                let (lock, wake) = released;
                let mut done = lock.lock().unwrap_or_else(|e| e.into_inner());
                while !*done {
                    done = wake.wait(done).unwrap_or_else(|e| e.into_inner());
                }
            });
        }
        ready.wait();
        let result = spawn(s, || {
            touch();
            body()
        })
        .join()
        .expect("the measuring thread panicked");
        drop(release);
        result
    })
}

// ------------------------------------------------------------------ miss

/// A pool as the miss group drives it.
trait MissRow: Sync {
    const NAME: &'static str;
    fn make() -> Self;
    /// The thread's one use: leaves the pool empty.
    fn touch(&self);
    /// Asks for a pooled value without creating one; true if none came.
    fn missed(&self) -> bool;
    /// One aging step of the idle pool; false if the pool has none.
    fn clean(&self) -> bool {
        false
    }
}

impl MissRow for Pool<Box<Small>> {
    const NAME: &'static str = Victim::<Box<Small>>::NAME;
    fn make() -> Self {
        Pool::new(counted::<Box<Small>> as fn() -> Box<Small>)
    }
    fn touch(&self) {
        // A value created, put in the private slot and taken back out.
        self.put(self.take());
        drop(self.try_take());
    }
    #[inline]
    fn missed(&self) -> bool {
        black_box(self.try_take()).is_none()
    }
    fn clean(&self) -> bool {
        self.cleanup();
        true
    }
}

impl MissRow for object_pool::Pool<Box<Small>> {
    const NAME: &'static str = ObjectPool::<Box<Small>>::NAME;
    fn make() -> Self {
        object_pool::Pool::new(0, counted::<Box<Small>>)
    }
    fn touch(&self) {
        drop(self.pull(counted::<Box<Small>>));
        drop(self.try_pull().map(Reusable::detach));
    }
    #[inline]
    fn missed(&self) -> bool {
        black_box(self.try_pull()).is_none()
    }
}

fn miss_row<R: MissRow>(series: &mut Series, threads: usize) {
    let pool = R::make();
    let (miss, clean) = with_parked(threads - 1, &|| pool.touch(), || {
        let miss = ns_per_iter(1000, |iters| {
            let start = Instant::now();
            for _ in 0..iters {
                assert!(pool.missed(), "{}: the pool was not empty", R::NAME);
            }
            let took = start.elapsed();
            (took, took)
        });
        let clean = pool.clean().then(|| {
            ns_per_iter(100, |iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    pool.clean();
                }
                let took = start.elapsed();
                (took, took)
            })
        });
        (miss, clean)
    });
    series.add(R::NAME, "miss-ns", threads, miss);
    if let Some(clean) = clean {
        series.add(R::NAME, "cleanup-ns", threads, clean);
    }
}

fn miss_group() {
    let id = "thread-scaling/miss";
    if !selected(id) {
        return;
    }
    let mut series = Series::new(
        id,
        "`miss-ns`: one call that asks an empty pool for a value without creating one, \
         timed on one thread while T - 1 other threads are alive and blocked (parked); each \
         of the T threads used the pool once before (it created a value, put it, and took \
         it back, so the pool is empty). victim-pool: `try_take()`; object-pool: \
         `try_pull()`; Go: `Get()` on a pool without `New`, with T goroutines that each \
         used it once (GOMAXPROCS = cores). Median over samples of the mean time per call. \
         `cleanup-ns` (victim-pool only: object-pool has no cleanup, and Go's is the \
         garbage collector): one `cleanup()` of the same idle pool, after the misses \
         (the first cleanup unlists the T empty private slots; the timed ones find \
         nothing listed).",
        &[
            Victim::<Box<Small>>::NAME,
            Regex::<Box<Small>>::NAME,
            ObjectPool::<Box<Small>>::NAME,
        ],
    );
    series.not_expressible(
        Regex::<Box<Small>>::NAME,
        "its `get` creates a value whenever none is pooled: there is no way to ask without \
         creating",
    );
    for &threads in thread_counts() {
        miss_row::<Pool<Box<Small>>>(&mut series, threads);
        miss_row::<object_pool::Pool<Box<Small>>>(&mut series, threads);
    }
    series.write();
}

// ------------------------------------------------------------------ starvation

/// The contenders of the starvation and handoff groups.
struct ScalingRows;

impl Roster for ScalingRows {
    const NAME: &'static str = "scaling";
    fn each<P: Payload>(v: &mut impl Visit<P>) {
        v.visit::<Victim<P>>();
        v.visit::<Regex<P>>();
        v.visit::<ObjectPool<P>>();
    }
}

struct Starvation<'a> {
    series: &'a mut Series,
    threads: usize,
}

impl Visit<Box<Small>> for Starvation<'_> {
    fn visit<C: Contender<Payload = Box<Small>>>(&mut self) {
        if let Some(reason) = C::CANNOT_DISCARD {
            if self.threads == thread_counts()[0] {
                self.series.not_expressible(C::NAME, reason);
            }
            return;
        }
        let threads = self.threads;
        let c = C::make();
        let mut ns = 0.0;
        let tally = with_crew(
            &c,
            threads,
            |c, handle, n| puts_then_takes(c, handle, n, STARVED_PUTS, BURST),
            |run| {
                ns = ns_per_iter(threads as u64, |iters| {
                    let took = run(iters);
                    (took, took)
                });
            },
        );
        let creates = creates_of(&c, tally.creates);
        self.series.add(C::NAME, "starvation-ns", threads, ns);
        self.series
            .add(C::NAME, "creates/op", threads, per_op(creates, tally.ops));
    }
}

fn starvation_group() {
    let id = "thread-scaling/starvation";
    if !selected(id) {
        return;
    }
    let mut series = Series::new(
        id,
        "Go's BenchmarkPoolStarvation at T threads: each of T threads holds 100 `small` \
         values; one iteration puts 67 of them back, drops 33 and takes 100, so a third of \
         the takes must steal or create. `starvation-ns`: wall time over all threads' \
         iterations (as Go's RunParallel), median over samples; the T threads live for the \
         whole row. `creates/op`: creates over all iterations of the row (warm-up \
         included) per iteration. Go: T goroutines at GOMAXPROCS = cores.",
        &roster_names::<Box<Small>, ScalingRows>(),
    );
    for &threads in thread_counts() {
        ScalingRows::each::<Box<Small>>(&mut Starvation {
            series: &mut series,
            threads,
        });
    }
    series.write();
}

// ------------------------------------------------------------------ handoff

/// A bounded channel whose ends block (a mutex, a queue and two condition
/// variables): receivers with nothing to do sleep, as Go's goroutines
/// blocked on a channel do, instead of spinning on the machine's few cores.
struct Channel<V> {
    state: Mutex<(VecDeque<V>, bool)>,
    filled: Condvar,
    drained: Condvar,
    capacity: usize,
}

impl<V> Channel<V> {
    fn new(capacity: usize) -> Self {
        Channel {
            state: Mutex::new((VecDeque::with_capacity(capacity), false)),
            filled: Condvar::new(),
            drained: Condvar::new(),
            capacity,
        }
    }

    fn lock(&self) -> MutexGuard<'_, (VecDeque<V>, bool)> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn send(&self, value: V) {
        let mut state = self.lock();
        while state.0.len() == self.capacity {
            state = self.drained.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state.0.push_back(value);
        drop(state);
        self.filled.notify_one();
    }

    /// The next value, or `None` once the channel is closed and empty.
    fn recv(&self) -> Option<V> {
        let mut state = self.lock();
        loop {
            if let Some(value) = state.0.pop_front() {
                drop(state);
                self.drained.notify_one();
                return Some(value);
            }
            if state.1 {
                return None;
            }
            state = self.filled.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn close(&self) {
        self.lock().1 = true;
        self.filled.notify_all();
    }
}

struct ScaledHandoff<'a> {
    series: &'a mut Series,
    threads: usize,
}

impl Visit<Box<Small>> for ScaledHandoff<'_> {
    fn visit<C: Contender<Payload = Box<Small>>>(&mut self) {
        let consumers = self.threads - 1;
        let c = C::make();
        let channel: Channel<C::Held<'_>> = Channel::new(HANDOFF_IN_FLIGHT);
        let (mut values, mut ns) = (0, 0.0);
        let before = created_here();
        thread::scope(|s| {
            let (c, channel) = (&c, &channel);
            for _ in 0..consumers {
                spawn(s, move || {
                    let mut handle = c.handle();
                    while let Some(mut value) = channel.recv() {
                        C::touch_other(&mut value);
                        c.put(&mut handle, value);
                    }
                });
            }
            // This thread is the producer, for the whole row.
            let mut handle = c.handle();
            let mut batch = Vec::with_capacity(TAKE_BATCH);
            ns = ns_per_iter(HANDOFF_IN_FLIGHT as u64, |iters| {
                values += iters;
                let mut taking = Duration::ZERO;
                let start = Instant::now();
                let mut left = iters as usize;
                while left > 0 {
                    let n = left.min(TAKE_BATCH);
                    let t0 = Instant::now();
                    for _ in 0..n {
                        batch.push(c.take(&mut handle));
                    }
                    taking += t0.elapsed();
                    for mut value in batch.drain(..) {
                        C::touch(&mut value);
                        channel.send(value);
                    }
                    left -= n;
                }
                (start.elapsed(), taking)
            });
            drop(handle);
            channel.close();
        });
        let creates = creates_of(&c, created_here() - before);
        self.series.add(C::NAME, "take-ns", self.threads, ns);
        self.series.add(
            C::NAME,
            "creates/value",
            self.threads,
            per_op(creates, values),
        );
    }
}

fn handoff_group() {
    let id = "thread-scaling/handoff";
    if !selected(id) {
        return;
    }
    let mut series = Series::new(
        id,
        "One producer and T - 1 consumers, all alive for the whole row: the producer takes \
         `small` values (creating when the pool has none), writes to each and sends it over \
         one bounded channel of 64 whose ends block; whichever consumer receives it writes \
         to it and puts it back. `take-ns`: the producer's time inside take, read from the \
         clock around every 8 takes (so a clock read, about 20-30 ns, adds a few ns per \
         take, on both sides), per value, median over samples. `creates/value`: creates \
         over all values of the row (warm-up included): whether values put by the \
         consumers come back to the producer. Go: the same with T goroutines at \
         GOMAXPROCS = cores and a Go channel of 64.",
        &roster_names::<Box<Small>, ScalingRows>(),
    );
    for &threads in thread_counts() {
        ScalingRows::each::<Box<Small>>(&mut ScaledHandoff {
            series: &mut series,
            threads,
        });
    }
    series.write();
}

/// Every thread-scaling group; memory first, before the other groups'
/// threads have grown any process-wide per-thread state.
pub(crate) fn thread_scaling() {
    memory_group();
    miss_group();
    starvation_group();
    handoff_group();
}

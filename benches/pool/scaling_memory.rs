//! The thread-scaling memory group (issue 10): heap bytes per (thread x
//! pool) when T threads touch a pool, and what stays once they have exited.

use super::*;

/// A pool of `u64` (no heap behind a value, so every byte counted is the
/// pool's own) as the memory group drives it.
trait MemoryRow: Sync {
    const NAME: &'static str;
    /// Whether the row's pools get their two cleanups.
    const CLEANS: bool;
    fn make() -> Self;
    /// A thread's first use: a value on loan, then back in the pool.
    fn touch(&self);
    fn cleanup(&self) {}
}

impl MemoryRow for Pool<u64> {
    const NAME: &'static str = Victim::<Box<Small>>::NAME;
    const CLEANS: bool = true;
    fn make() -> Self {
        Pool::new(|| 0)
    }
    fn touch(&self) {
        drop(self.get());
    }
    fn cleanup(&self) {
        Pool::cleanup(self);
    }
}

impl MemoryRow for RegexPool<u64> {
    const NAME: &'static str = Regex::<Box<Small>>::NAME;
    const CLEANS: bool = false;
    fn make() -> Self {
        RegexPool::new(|| 0)
    }
    fn touch(&self) {
        drop(self.get());
    }
}

impl MemoryRow for object_pool::Pool<u64> {
    const NAME: &'static str = ObjectPool::<Box<Small>>::NAME;
    const CLEANS: bool = false;
    fn make() -> Self {
        object_pool::Pool::new(0, || 0)
    }
    fn touch(&self) {
        drop(self.pull(|| 0));
    }
}

/// The control row: the same threads and steps, no pool.
struct NoPool;

impl MemoryRow for NoPool {
    const NAME: &'static str = "control: the same threads, no pool";
    const CLEANS: bool = false;
    fn make() -> Self {
        NoPool
    }
    fn touch(&self) {}
}

/// What a memory worker does next.
const WAIT: u8 = 0;
const TOUCH_FIRST: u8 = 1;
const TOUCH_SECOND: u8 = 2;
const EXIT: u8 = 3;

fn memory_row<R: MemoryRow>(series: &mut Series, threads: usize) {
    let (first, second) = (R::make(), R::make());
    let commands: Vec<AtomicU8> = (0..threads).map(|_| AtomicU8::new(WAIT)).collect();
    let acks = AtomicUsize::new(0);
    let coordinator = thread::current();
    let mut workers: Vec<Thread> = Vec::with_capacity(threads);
    // Tells worker `i` to do `command`, then waits for the `expected`-th ack.
    let order = |workers: &[Thread], i: usize, command: u8, expected: usize| {
        // Release [memory-turn]: the worker's Acquire swap sees everything
        // this thread did before.
        commands[i].store(command, Ordering::Release);
        workers[i].unpark();
        // Acquire [memory-turn]: the worker's allocations happen-before
        // the count is read.
        while acks.load(Ordering::Acquire) < expected {
            thread::park();
        }
    };
    Counting::start();
    let mut marks = [0_i64; 3];
    thread::scope(|s| {
        let mut handles = Vec::with_capacity(threads);
        for i in 0..threads {
            let (first, second, commands, acks) = (&first, &second, &commands, &acks);
            let coordinator = coordinator.clone();
            let handle = spawn(s, move || {
                // Started: whatever the thread's start allocated is done.
                // Release [memory-turn]: see `order`.
                acks.fetch_add(1, Ordering::Release);
                coordinator.unpark();
                loop {
                    // Acquire [memory-turn]: see `order`.
                    match commands[i].swap(WAIT, Ordering::Acquire) {
                        WAIT => thread::park(),
                        EXIT => break,
                        command => {
                            if command == TOUCH_FIRST {
                                first.touch();
                            } else {
                                second.touch();
                            }
                            // Release [memory-turn]: see `order`.
                            acks.fetch_add(1, Ordering::Release);
                            coordinator.unpark();
                        }
                    }
                }
            });
            workers.push(handle.thread().clone());
            handles.push(handle);
        }
        // Acquire [memory-turn]: as in `order`.
        while acks.load(Ordering::Acquire) < threads {
            thread::park();
        }
        marks[0] = Counting::live();
        for i in 0..threads {
            order(&workers, i, TOUCH_FIRST, threads + i + 1);
        }
        marks[1] = Counting::live();
        for i in 0..threads {
            order(&workers, i, TOUCH_SECOND, 2 * threads + i + 1);
        }
        marks[2] = Counting::live();
        for (i, worker) in workers.iter().enumerate() {
            // Relaxed [memory-turn]: the join below orders the exit.
            commands[i].store(EXIT, Ordering::Relaxed);
            worker.unpark();
        }
        // An explicit join waits for the threads' thread-local destructors,
        // which the scope's own wait does not.
        for handle in handles {
            handle.join().expect("a memory worker panicked");
        }
    });
    if R::CLEANS {
        for _ in 0..2 {
            first.cleanup();
            second.cleanup();
        }
    }
    // The handles go (their threads' records were allocated in the window);
    // the vector's buffer, allocated before it, stays until counting stops.
    workers.clear();
    let left = Counting::live();
    Counting::stop();
    drop(workers);
    let per_thread = |bytes: i64| bytes as f64 / threads as f64;
    series.add(
        R::NAME,
        "first-pool-B",
        threads,
        per_thread(marks[1] - marks[0]),
    );
    series.add(
        R::NAME,
        "per-pool-B",
        threads,
        per_thread(marks[2] - marks[1]),
    );
    series.add(R::NAME, "after-exit-B", threads, per_thread(left) / 2.0);
}

pub(crate) fn memory_group() {
    let id = "thread-scaling/memory";
    if !selected(id) {
        return;
    }
    let mut series = Series::new(
        id,
        "Heap bytes per (thread x pool), counted by the bench binary's global allocator \
         (live bytes: allocated minus freed). T threads are started and wait; then each in \
         turn uses pool A once (a value of type `u64` on loan, then back in the pool: no \
         heap behind the value, so every byte counted is the pool's), then each uses pool \
         B once. `first-pool-B`: bytes per thread of the first round, so everything the \
         library allocates for a thread on first use (for victim-pool also its thread \
         index and crossbeam-epoch's per-thread record); `per-pool-B`: of the second \
         round, the cost of one more pool on the same threads. Then the threads exit, are \
         joined and each victim-pool pool gets two cleanups (the others have none); \
         `after-exit-B`: the bytes still allocated, counted from before the threads \
         started (their own allocations, freed at exit, cancel out: see the control row), \
         per thread and per pool. The pools themselves (their fixed size) are not \
         counted. Go: `runtime.MemStats` (`TotalAlloc` for the two rounds, `HeapAlloc` \
         after two `runtime.GC()` for the last), T goroutines at GOMAXPROCS = cores, the \
         GC off while measuring.",
        &[
            Victim::<Box<Small>>::NAME,
            Regex::<Box<Small>>::NAME,
            ObjectPool::<Box<Small>>::NAME,
            NoPool::NAME,
        ],
    );
    for &threads in thread_counts() {
        memory_row::<Pool<u64>>(&mut series, threads);
        memory_row::<RegexPool<u64>>(&mut series, threads);
        memory_row::<object_pool::Pool<u64>>(&mut series, threads);
        memory_row::<NoPool>(&mut series, threads);
    }
    series.write();
}

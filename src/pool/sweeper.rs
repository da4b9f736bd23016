//! A background thread that ages every registered pool at an interval.

use super::registry::cleanup_all;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// The thread name of every sweeper, shared and scoped.
const THREAD_NAME: &str = "victim-pool-sweeper";

/// Ages every registered pool every `interval`, for the rest of the process
/// (Go's pools age at every garbage collection; this is the Rust stand-in).
///
/// The first call starts the crate's sweeper thread, named
/// `victim-pool-sweeper`; the crate starts no other thread except one per
/// [`Sweeper`], and only when asked. Later calls change its interval;
/// the last call wins, and the next sweep comes `interval` after it. No
/// handle to keep: the thread lives as long as the process.
///
/// With interval `i`, a value nobody takes is dropped between `i` and `2i`
/// after it was put (it must live through two sweeps; a live thread's
/// private value only where [`cleanups_drain_idle_threads`](crate::cleanups_drain_idle_threads)
/// is true, and one sweep later if its owner was inside a pool operation
/// during the sweep). Pick `i` so that
/// `2i` is longer than the gaps between bursts you want the pool to bridge:
/// shorter gives memory back sooner, longer re-creates fewer values.
///
/// Only [registered](crate::Pool::register) pools are aged. Call this once,
/// from the application; a library should register its pools and leave the
/// interval to the application (see the service recipe in the crate docs).
///
/// A panic from a value's `Drop` during a sweep is caught, so sweeping goes
/// on; the panic hook still reports it.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use victim_pool::Pool;
///
/// static SCRATCH: Pool<Vec<u8>> = Pool::new(Vec::new);
///
/// SCRATCH.register();
/// victim_pool::sweep_every(Duration::from_secs(3600));
/// victim_pool::sweep_every(Duration::from_millis(10)); // retunes the one sweeper
///
/// // A buffer left by a thread that has exited is dropped two sweeps later.
/// std::thread::spawn(|| SCRATCH.put(vec![0; 64])).join().unwrap();
/// let start = Instant::now();
/// while SCRATCH.stats().dropped_by_cleanup == 0 {
///     assert!(start.elapsed() < Duration::from_secs(60), "swept hourly, not every 10 ms");
///     std::thread::sleep(Duration::from_millis(5));
/// }
/// ```
///
/// # Panics
///
/// Panics if `interval` is zero (a sweeper that never waits would spin a
/// core), or if the operating system cannot start the thread.
#[track_caller]
pub fn sweep_every(interval: Duration) {
    check_interval("victim_pool::sweep_every", interval);
    // A std mutex: the shared sweeper is a real thread, outside loom models.
    static SHARED: Mutex<Option<mpsc::Sender<Duration>>> = Mutex::new(None);
    let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(retune) = &*shared {
        // The receiver lives as long as the process (the thread never ends
        // while a sender exists, and this one is never dropped).
        if retune.send(interval).is_ok() {
            return;
        }
    }
    let (retune, retuned) = mpsc::channel::<Duration>();
    thread::Builder::new()
        .name(THREAD_NAME.into())
        .spawn(move || {
            let mut interval = interval;
            loop {
                match retuned.recv_timeout(interval) {
                    Err(RecvTimeoutError::Timeout) => sweep(),
                    Ok(next) => interval = next,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
        })
        .expect("victim-pool: failed to start the sweeper thread");
    *shared = Some(retune);
}

/// One sweep that survives panicking `Drop`s.
fn sweep() {
    // A panicking Drop must not end the sweeping; `cleanup_all` has
    // already aged every pool before it re-raises the first panic.
    let _ = catch_unwind(AssertUnwindSafe(cleanup_all));
}

/// Panics unless `interval` is positive, naming the caller.
#[track_caller]
fn check_interval(caller: &str, interval: Duration) {
    assert!(
        !interval.is_zero(),
        "{caller}: the interval must be longer than zero, got {interval:?}"
    );
}

/// Runs [`cleanup_all`] every `interval` on a thread of its own, until the
/// handle is dropped (which stops and joins the thread): sweeping scoped to
/// a handle, for tests or for a component that owns its pools' aging.
///
/// A process usually wants [`sweep_every`] instead: one sweeper for all
/// pools, with no handle. Every `Sweeper` sweeps every registered pool, so
/// two of them (or one and `sweep_every`) age pools twice as often.
///
/// Timing and panics are as for [`sweep_every`].
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use victim_pool::{Pool, Sweeper};
///
/// static SCRATCH: Pool<Vec<u8>> = Pool::new(Vec::new);
/// SCRATCH.register();
/// let sweeper = Sweeper::start(Duration::from_millis(10));
/// // ... serve requests using SCRATCH; here, one thread that leaves a buffer ...
/// std::thread::spawn(|| SCRATCH.put(vec![0; 64])).join().unwrap();
/// let start = Instant::now();
/// while SCRATCH.stats().dropped_by_cleanup == 0 {
///     assert!(start.elapsed() < Duration::from_secs(60), "the sweeper ages the pool");
///     std::thread::sleep(Duration::from_millis(5));
/// }
/// drop(sweeper); // stops and joins the thread
/// ```
#[must_use = "dropping a Sweeper stops it at once; keep it, or call `sweep_every`"]
pub struct Sweeper {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    interval: Duration,
}

impl Sweeper {
    /// Starts the sweeping thread.
    ///
    /// # Panics
    ///
    /// Panics if `interval` is zero, or if the operating system cannot
    /// start a thread.
    #[track_caller]
    pub fn start(interval: Duration) -> Sweeper {
        check_interval("Sweeper::start", interval);
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = thread::Builder::new()
            .name(THREAD_NAME.into())
            .spawn(move || {
                // Each timeout is a sweep; a message or a dropped handle stops.
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    sweep();
                }
            })
            .expect("victim-pool: failed to start the sweeper thread");
        Sweeper {
            stop: Some(stop),
            thread: Some(thread),
            interval,
        }
    }

    /// The interval between sweeps.
    pub fn interval(&self) -> Duration {
        self.interval
    }
}

impl Drop for Sweeper {
    fn drop(&mut self) {
        // Disconnecting the channel wakes the thread at once.
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // The loop catches panics, so the thread ends normally.
            let _ = thread.join();
        }
    }
}

impl fmt::Debug for Sweeper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sweeper")
            .field("interval", &self.interval)
            .finish()
    }
}

//! A background thread that ages every registered pool at an interval.

use super::registry::cleanup_all;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Runs [`cleanup_all`] every `interval` on a thread of its own, until the
/// handle is dropped (which stops and joins the thread).
///
/// Nothing in this crate starts a thread unless you create a `Sweeper`.
/// With interval `i`, a value nobody takes is dropped between `i` and `2i`
/// after it was put (it must live through two sweeps). Pick `i` so that
/// `2i` is longer than the gaps between bursts you want the pool to bridge:
/// shorter gives memory back sooner, longer re-creates fewer values.
///
/// A panic from a value's `Drop` during a sweep is caught, so the sweeper
/// keeps running; the panic hook still reports it.
///
/// # Examples
///
/// ```
/// use std::{pin::Pin, time::Duration};
/// use victim_pool::{Pool, Sweeper};
///
/// static SCRATCH: Pool<Vec<u8>> = Pool::new(Vec::new);
/// Pin::static_ref(&SCRATCH).register();
/// let sweeper = Sweeper::start(Duration::from_millis(500));
/// // ... serve requests using SCRATCH ...
/// drop(sweeper); // stops the thread
/// ```
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
    /// Panics if the operating system cannot start a thread.
    pub fn start(interval: Duration) -> Sweeper {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = thread::Builder::new()
            .name("victim-pool-sweeper".into())
            .spawn(move || {
                // Each timeout is a sweep; a message or a dropped handle stops.
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    // A panicking Drop must not end the sweeping.
                    let _ = catch_unwind(AssertUnwindSafe(cleanup_all));
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

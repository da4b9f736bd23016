//! The service-facing API (issue 12): a `static` pool with rules, the
//! registration forms, the process-wide sweeper, detaching, panicking rules
//! while unwinding, what the statistics and `Debug` report.

use super::*;
use crate::sync::{AtomicUsize as StdAtomicUsize, Ordering::SeqCst};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc as StdArc;
use std::time::{Duration, Instant};

/// Waits until `done` holds, failing after a minute (a hang guard, not a
/// timing assertion: the condition is what is tested).
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(60), "never: {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The message of a caught panic.
fn message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(text) => *text,
        Err(payload) => payload
            .downcast_ref::<&str>()
            .map(|text| text.to_string())
            .unwrap_or_default(),
    }
}

#[test]
fn the_acceptance_example_behaves_as_its_comments_say() {
    static BUFS: Pool<Vec<u8>> = Pool::builder(Vec::new)
        .reset(Vec::clear)
        .keep_if(|b| b.capacity() <= 1 << 16)
        .max_chain_per_thread(64)
        .build();

    BUFS.register(); // a static registers: no Pin
    assert!(BUFS.is_registered());
    crate::sweep_every(Duration::from_millis(20)); // the crate's one sweeper

    let limit = 100; // rules that capture still work (not const)
    let strings = Pool::builder(|| String::with_capacity(64))
        .reset(|s: &mut String| s.clear())
        .keep_if(move |s: &String| s.capacity() <= limit)
        .build();
    strings.get().push_str("dirty");
    assert_eq!(*strings.get(), "", "reset on return");
    strings.put(String::with_capacity(limit + 1));
    assert_eq!(
        strings.stats().discarded,
        1,
        "the captured limit refuses it"
    );

    let shared = StdArc::new(Pool::new(|| vec![0u64; 16]));
    shared.register_arc(); // an Arc pool registers...
    let owned = shared.get_owned(); // ...and still gives owned guards
    assert!(shared.is_registered());
    std::thread::spawn(move || drop(owned)).join().unwrap();

    let mut buffer = BUFS.get();
    buffer.extend_from_slice(b"kept, then cleared");
    drop(buffer);
    let v: Vec<u8> = PoolGuard::into_inner(BUFS.get()); // detach (std's name)
    assert!(v.is_empty(), "the reset rule ran when the buffer came back");
    let puts = BUFS.stats().puts;
    drop(v);
    assert_eq!(BUFS.stats().puts, puts, "a detached value is not put back");
    BUFS.put(Vec::with_capacity(1 << 17));
    assert_eq!(BUFS.stats().discarded, 1, "keep_if refuses a large buffer");

    // The sweeper ages both registered pools with nobody calling cleanup:
    // the value the other thread gave back, and one left on an exited thread.
    std::thread::spawn(|| BUFS.put(Vec::new())).join().unwrap();
    eventually("the sweeper drops the idle values", || {
        shared.stats().dropped_by_cleanup == 1 && BUFS.stats().dropped_by_cleanup >= 1
    });
}

#[test]
fn a_registered_arc_pool_is_not_kept_alive_by_the_registry() {
    let pool = StdArc::new(Pool::new(|| 0u8));
    pool.register_arc();
    pool.register_arc(); // once only
    assert_eq!(StdArc::strong_count(&pool), 1, "the registry holds no Arc");
    let enrollment = lock(&pool.state.enrollment).clone().expect("registered");
    let weak = StdArc::downgrade(&pool);
    drop(pool);
    assert!(weak.upgrade().is_none(), "the pool was freed");
    assert!(!registry::is_listed(&enrollment), "and left the registry");
    cleanup_all(); // never touches it
}

/// A rule's captures, counted when dropped.
struct DropCount(StdArc<StdAtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn counted_rules(drops: &StdArc<StdAtomicUsize>) -> PoolBuilder<u32> {
    let (reset, keep) = (
        DropCount(StdArc::clone(drops)),
        DropCount(StdArc::clone(drops)),
    );
    Pool::builder(|| 0)
        .reset(move |v: &mut u32| {
            let _ = &reset;
            *v = 0;
        })
        .keep_if(move |v: &u32| {
            let _ = &keep;
            *v < 100
        })
}

/// A capture whose drop panics.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("planted panic in a rule's capture");
    }
}

#[test]
fn a_rule_whose_captures_panic_on_drop_still_lets_the_other_drop() {
    let drops = StdArc::new(StdAtomicUsize::new(0));
    let (reset, keep) = (PanicsOnDrop, DropCount(StdArc::clone(&drops)));
    let pool = Pool::builder(|| 0u32)
        .reset(move |v: &mut u32| {
            let _ = &reset;
            *v = 0;
        })
        .keep_if(move |_: &u32| {
            let _ = &keep;
            true
        })
        .build();
    let dropped = catch_unwind(AssertUnwindSafe(|| drop(pool)));
    let panic = message(dropped.expect_err("the capture's panic propagates"));
    assert!(panic.contains("planted panic"), "{panic}");
    assert_eq!(drops.load(SeqCst), 1, "the keep rule was dropped too");
}

#[test]
fn every_rule_is_dropped_exactly_once_built_or_not() {
    let drops = StdArc::new(StdAtomicUsize::new(0));
    let pool = counted_rules(&drops).build();
    pool.put(7);
    pool.put(700);
    assert_eq!(pool.stats().discarded, 1);
    assert_eq!(pool.try_take(), Some(0), "reset ran");
    assert_eq!(drops.load(SeqCst), 0);
    drop(pool);
    assert_eq!(drops.load(SeqCst), 2, "the pool's drop drops both rules");

    let drops = StdArc::new(StdAtomicUsize::new(0));
    drop(counted_rules(&drops));
    assert_eq!(drops.load(SeqCst), 2, "an unbuilt builder drops both rules");

    let drops = StdArc::new(StdAtomicUsize::new(0));
    let second = DropCount(StdArc::clone(&drops));
    let twice = catch_unwind(AssertUnwindSafe(|| {
        counted_rules(&drops).reset(move |_: &mut u32| {
            let _ = &second;
        })
    }));
    let panic = message(twice.expect_err("a rule set twice panics"));
    assert!(panic.contains("reset called twice"), "{panic}");
    assert_eq!(drops.load(SeqCst), 3, "both resets and the keep rule");
}

#[test]
fn a_rule_panicking_while_the_thread_unwinds_discards_the_value_without_aborting() {
    let pool = Pool::builder(|| 0u32)
        .reset(|v: &mut u32| {
            if *v == 1 {
                panic!("reset refuses 1");
            }
        })
        .build();
    let unwound = catch_unwind(AssertUnwindSafe(|| {
        let mut guard = pool.get();
        *guard = 1;
        panic!("the request failed");
    }));
    assert_eq!(message(unwound.unwrap_err()), "the request failed");
    let stats = pool.stats();
    assert_eq!((stats.puts, stats.discarded, stats.retained), (1, 1, 0));

    // Not unwinding: the rule's panic propagates from the drop, also
    // discarding the value.
    let direct = catch_unwind(AssertUnwindSafe(|| {
        let mut guard = pool.get();
        *guard = 1;
    }));
    assert_eq!(message(direct.unwrap_err()), "reset refuses 1");
    assert_eq!(pool.stats().discarded, 2);
}

#[test]
fn a_pool_can_be_used_inside_catch_unwind() {
    static NUMBERS: Pool<Vec<u64>> = Pool::builder(Vec::new).reset(Vec::clear).build();
    let local: Pool<String> = Pool::new(String::new);
    let lengths = catch_unwind(|| (NUMBERS.get().len(), local.get().len()));
    assert_eq!(lengths.unwrap(), (0, 0));
    fn unwind_safe<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe>(_: &T) {}
    unwind_safe(&local);
    unwind_safe(&NUMBERS);
}

#[test]
fn created_counts_values_not_attempts() {
    let fail = StdAtomicUsize::new(1);
    let pool = PoolBuilder::new(|| {
        if fail.swap(0, SeqCst) == 1 {
            panic!("create fails once");
        }
        5u8
    })
    .build();
    assert!(catch_unwind(AssertUnwindSafe(|| pool.take())).is_err());
    assert_eq!(
        pool.stats().created,
        0,
        "the panicking create is not counted"
    );
    assert_eq!(pool.take(), 5);
    assert_eq!(pool.stats().created, 1);
}

#[test]
fn debug_shows_statistics_rules_and_registration() {
    static SHOWN: Pool<Vec<u8>> = Pool::builder(Vec::new)
        .keep_if(|b| b.capacity() < 1024)
        .max_chain_per_thread(8)
        .build();
    SHOWN.put(Vec::new());
    let unregistered = format!("{SHOWN:?}");
    for part in [
        "puts: 1",
        "keep_if: set",
        "reset: none",
        "max_chain_per_thread: 8",
    ] {
        assert!(
            unregistered.contains(part),
            "{part} missing in {unregistered}"
        );
    }
    assert!(unregistered.contains("registered: false"), "{unregistered}");
    SHOWN.register();
    assert!(format!("{SHOWN:?}").contains("registered: true"));
    let builder = format!("{:?}", Pool::builder(|| 0u8).reset(|_| {}));
    assert!(builder.contains("reset: set"), "{builder}");
}

#[test]
fn bad_sizes_and_intervals_panic_naming_the_value() {
    let capacity = catch_unwind(|| Pool::new(|| 0u8).with_first_capacity(3));
    let text = message(capacity.expect_err("3 is not a power of two"));
    assert!(text.ends_with("got 3"), "{text}");
    let capacity = catch_unwind(|| Pool::builder(|| 0u8).with_first_capacity(1 << 31));
    let text = message(capacity.expect_err("2^31 is too large"));
    assert!(text.ends_with("got 2147483648"), "{text}");
    // 2^30, the largest, is accepted and kept as given.
    let largest = format!("{:?}", Pool::builder(|| 0u8).with_first_capacity(1 << 30));
    assert!(
        largest.contains(&format!("first_capacity: {}", 1usize << 30)),
        "{largest}"
    );
    let zero = catch_unwind(|| crate::sweep_every(Duration::ZERO));
    let text = message(zero.unwrap_err());
    assert!(
        text.contains("sweep_every") && text.contains("got 0ns"),
        "{text}"
    );
    let zero = catch_unwind(|| Sweeper::start(Duration::ZERO));
    let text = message(zero.unwrap_err());
    assert!(
        text.contains("Sweeper::start") && text.contains("got 0ns"),
        "{text}"
    );
}

/// The threads of this process with the sweepers' name (Linux shows the
/// first 15 bytes of a thread's name).
#[cfg(target_os = "linux")]
fn sweeper_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim_end() == "victim-pool-swe")
        .count()
}

#[cfg(target_os = "linux")]
#[test]
fn sweep_every_starts_one_thread_and_later_calls_retune_it() {
    // Other tests of this binary call `sweep_every` too; none starts a
    // `Sweeper`. Each call here ends on a short interval, so a test that
    // waits for a sweep is not held up.
    crate::sweep_every(Duration::from_millis(50));
    crate::sweep_every(Duration::from_millis(10));
    crate::sweep_every(Duration::from_millis(20));
    // A new thread names itself once it runs.
    eventually("the sweeper thread has its name", || sweeper_threads() > 0);
    assert_eq!(sweeper_threads(), 1);
}

//! The cleanup-pause group: latency of another thread during a large cleanup.

use super::*;

/// Index `p` of the way through sorted values (Go's side uses the same rule).
pub(crate) fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[(p * (sorted.len() - 1) as f64) as usize] as f64
}

pub(crate) fn median(values: &mut [u64]) -> f64 {
    values.sort_unstable();
    percentile(values, 0.5)
}

/// Rounds of `cleanup-pause`, the first unmeasured.
pub(crate) fn pause_rounds() -> usize {
    match mode() {
        Mode::Test => 2,
        Mode::Quick => 6,
        Mode::Full => 30,
    }
}

/// Cleanups of a pool holding [`PAUSE_POOLED`] fresh values while another
/// thread times put + take pairs on the same pool.
pub(crate) fn cleanup_pause() {
    let id = "cleanup-pause/small/2t";
    if !selected(id) {
        return;
    }
    let rounds = pause_rounds();
    extra::describe_group(
        id,
        &format!(
            "Per round: the main thread puts 100,000 freshly allocated `small` values, then \
             runs one cleanup, while a second thread does put + take pairs on the same pool \
             and times each with `Instant::now()` (so a pair's time includes about one clock \
             read). Latencies are those of pairs that finished while a cleanup ran, over \
             {} rounds after one unmeasured round; in steady state each cleanup drops the \
             previous round's 100,000 values and demotes this round's to the victim cache. \
             `cleanup-wall-ns`: median wall time of one cleanup, the drops included (they \
             happen on the cleaning thread). victim-pool stops no thread, so it has no \
             pause; Go's time column is its mean stop-the-world pause (GC with 100,000 \
             pooled values), not comparable to a wall time.",
            rounds - 1
        ),
    );
    struct Rows<'a>(&'a str);
    impl Visit<Box<Small>> for Rows<'_> {
        fn visit<C: Contender<Payload = Box<Small>>>(&mut self) {
            match C::CANNOT_CLEAN {
                Some(reason) => extra::not_expressible(self.0, C::NAME, reason),
                None => measure_cleanup_pause(self.0, C::NAME),
            }
        }
    }
    extra::row_order(id, &contender_names::<Box<Small>>());
    let mut rows = Rows(id);
    each_contender::<Box<Small>>(&mut rows);
    println!("{id}: done");
}

pub(crate) fn measure_cleanup_pause(id: &str, name: &str) {
    let rounds = pause_rounds();
    let mut dropped_before = 0;
    let pool: Pool<Box<Small>> = Pool::new(counted::<Box<Small>>);
    let in_cleanup = AtomicBool::new(false);
    let stop = AtomicBool::new(false);
    let ready = Barrier::new(2);
    let (mut walls, latencies) = thread::scope(|s| {
        let other = s.spawn(|| {
            let mut latencies: Vec<u64> = Vec::with_capacity(1 << 22);
            let mut value = pool.take();
            ready.wait();
            // Relaxed [pause-stop]: only ends the loop; the scope's join orders the rest.
            while !stop.load(Ordering::Relaxed) {
                let start = Instant::now();
                pool.put(value);
                value = pool.take();
                value.touch();
                let took = start.elapsed();
                // Relaxed [pause-flag]: classifies a sample; a pair that
                // straddles the flag's change counts on either side, as in Go.
                if in_cleanup.load(Ordering::Relaxed) && latencies.len() < latencies.capacity() {
                    latencies.push(took.as_nanos() as u64);
                }
            }
            pool.put(value);
            latencies
        });
        ready.wait();
        let mut walls = Vec::with_capacity(rounds);
        for round in 0..rounds {
            for _ in 0..PAUSE_POOLED {
                pool.put(Box::default());
            }
            if round == 0 {
                pool.cleanup();
                dropped_before = pool.stats().dropped_by_cleanup;
                continue;
            }
            // Relaxed [pause-flag]: as above.
            in_cleanup.store(true, Ordering::Relaxed);
            let start = Instant::now();
            pool.cleanup();
            walls.push(start.elapsed().as_nanos() as u64);
            // Relaxed [pause-flag]: as above.
            in_cleanup.store(false, Ordering::Relaxed);
            // Let the other thread run outside cleanups too.
            thread::sleep(Duration::from_millis(1));
        }
        // Relaxed [pause-stop]: as above.
        stop.store(true, Ordering::Relaxed);
        (walls, other.join().expect("the timed thread panicked"))
    });
    let mut latencies = latencies;
    latencies.sort_unstable();
    let measured = walls.len().max(1) as f64;
    let dropped = (pool.stats().dropped_by_cleanup - dropped_before) as f64 / measured;
    extra::metrics(
        id,
        name,
        &[
            ("cleanup-wall-ns", median(&mut walls)),
            ("p50-op-ns", percentile(&latencies, 0.50)),
            ("p99-op-ns", percentile(&latencies, 0.99)),
            ("max-op-ns", percentile(&latencies, 1.0)),
            ("ops-during-cleanup", latencies.len() as f64 / measured),
            ("dropped/cleanup", dropped),
        ],
    );
    println!(
        "{id}/{name}: cleanup {:.0} ns (median of {}), other thread p50 {:.0} ns, p99 {:.0} ns, \
         max {:.0} ns over {} pairs",
        median(&mut walls),
        walls.len(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
        latencies.len()
    );
}

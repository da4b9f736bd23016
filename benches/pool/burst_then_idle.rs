//! The burst-then-idle group: what the pools retain after 0..3 cleanups.

use super::*;

pub(crate) struct Burst<'a>(&'a str);

impl Visit<Tracked> for Burst<'_> {
    fn visit<C: Contender<Payload = Tracked>>(&mut self) {
        let mut metrics: Vec<(String, f64)> = Vec::new();
        for cleanups in 0..=IDLE_CLEANUPS {
            // Relaxed [tracked-drops]: this thread made and dropped every value.
            let drops_before = TRACKED_DROPS.load(Ordering::Relaxed);
            let creates_before = created_here();
            let c = C::make();
            let mut handle = c.handle();
            let mut held = Vec::with_capacity(BURST_VALUES);
            for _ in 0..BURST_VALUES {
                let mut value = c.take(&mut handle);
                C::touch(&mut value);
                held.push(value);
            }
            for value in held {
                c.put(&mut handle, value);
            }
            for _ in 0..cleanups {
                c.cleanup();
            }
            let created = created_here() - creates_before;
            // Relaxed [tracked-drops]: as above.
            let dropped = TRACKED_DROPS.load(Ordering::Relaxed) - drops_before;
            let retained = created - dropped;
            if let Some(stats) = c.stats() {
                assert_eq!(
                    stats.retained,
                    retained,
                    "{}: statistics disagree with the drop count",
                    C::NAME
                );
            }
            drop(handle);
            drop(c);
            // Relaxed [tracked-drops]: as above.
            let leaked = created - (TRACKED_DROPS.load(Ordering::Relaxed) - drops_before);
            assert_eq!(leaked, 0, "{}: values outlived their pool", C::NAME);
            metrics.push((format!("retained@{cleanups}"), retained as f64));
            metrics.push((
                format!("retained-KiB@{cleanups}"),
                (retained as usize * Tracked::SIZE) as f64 / 1024.0,
            ));
        }
        let pairs: Vec<(&str, f64)> = metrics.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        extra::metrics(self.0, C::NAME, &pairs);
        println!("{}/{}: {:?}", self.0, C::NAME, pairs);
    }
}

pub(crate) fn burst_then_idle() {
    let id = "burst-then-idle/buf4k/1t";
    if !selected(id) {
        return;
    }
    extra::describe_group(
        id,
        "A fresh pool per cleanup count: one thread takes 10,000 `buf4k` values (all \
         created), writes to each, puts all back, then the pool gets 0..3 cleanups and no \
         other use. `retained@c`: values still alive, measured as created minus dropped \
         with a drop-counting payload (for victim-pool also checked against \
         `stats().retained`); `retained-KiB@c` is that times the 4 KiB each buffer holds. \
         Contenders without a cleanup get none: their rows show what they keep. \
         victim-pool's bound after two cleanups is one value per live thread that used \
         the pool and has been idle since (its private slot is aged by that thread's next \
         use, or when it exits): 1 here. opool keeps at most its capacity (1024); \
         LinearObjectPool creates values 32 at a time. Go's row: values a drain finds \
         after c `runtime.GC()` calls.",
    );
    extra::row_order(id, &contender_names::<Tracked>());
    each_contender::<Tracked>(&mut Burst(id));
}

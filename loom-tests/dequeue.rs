use loom::thread;
use victim_pool::PoolDequeue;

#[test]
fn pop_head_and_pop_tail_race_for_the_last_value() {
    loom::model(|| {
        let dequeue = PoolDequeue::new(2);
        let stealer = dequeue.stealer();
        dequeue.push_head(1).unwrap();
        let thief = thread::spawn(move || stealer.pop_tail());
        let mine = dequeue.pop_head();
        let stolen = thief.join().unwrap();
        assert!(mine.is_some() != stolen.is_some());
    });
}

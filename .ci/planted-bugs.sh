#!/usr/bin/env bash
# Proves the loom suite catches the bugs it is meant to catch.
#
# For each known bug class: copy the repository to a scratch directory under
# /tmp, edit src/ there (each edit must match its pattern exactly once, so a
# change to the source makes this script fail loudly instead of planting
# nothing), build the loom test binary, and run the models expected to catch
# it until one fails. Prints a results table and exits non-zero if any
# planted bug survives, or if the unmodified models do not all pass.
#
#   bash .ci/planted-bugs.sh             # every bug, ~20 minutes on 2 cores
#   bash .ci/planted-bugs.sh link-next   # only bugs whose name contains this
#   bash .ci/planted-bugs.sh --check-patterns   # only check that every edit applies (CI)
#
# CI runs only --check-patterns; the full run is too slow for it. The
# results are recorded in docs/testing.md.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
scratch="$(mktemp -d /tmp/victim-pool-planted.XXXXXX)"
trap 'rm -rf "$scratch"' EXIT

# Planted builds share one target directory, so only the crate itself is
# rebuilt for each bug.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target-planted}"
export RUSTFLAGS="--cfg loom --cfg crossbeam_loom -C debug-assertions"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}"
export LOOM_MAX_BRANCHES="${LOOM_MAX_BRANCHES:-10000}"

mkdir "$scratch/pristine"
(cd "$repo" && tar --exclude='./target*' --exclude='./.git' -cf - .) | tar -xf - -C "$scratch/pristine"
cp -r "$scratch/pristine" "$scratch/repo"

SCRATCH="$scratch" FILTER="${1:-}" MODEL_TIMEOUT="${MODEL_TIMEOUT:-900}" python3 - <<'PY'
import os, re, shutil, subprocess, sys, time

scratch = os.environ["SCRATCH"]
pristine = os.path.join(scratch, "pristine", "src")
work = os.path.join(scratch, "repo")
only = os.environ["FILTER"]
model_timeout = int(os.environ["MODEL_TIMEOUT"])

# Models, cheapest and most direct first: a bug's run stops at the first
# model that fails.
D = "dequeue::"
C = "chain::"
PUBLISHED = [D + "a_stealer_reads_only_values_published_to_it",
             D + "a_stealer_reads_only_values_published_to_it_roles_swapped",
             D + "two_stealers_and_the_producer_take_each_value_once"]
VACATED = [D + "push_into_a_full_ring_waits_for_the_slot_being_vacated",
           D + "push_into_a_full_ring_waits_for_the_slot_being_vacated_roles_swapped",
           D + "indices_wrap_past_u32_max_without_losing_or_duplicating_values",
           D + "two_stealers_and_the_producer_take_each_value_once"]
PAIRED = [D + "paired_moves_wait_for_both_slots_and_race_a_stealer_for_each_value_once",
          D + "paired_moves_wait_for_both_slots_and_race_a_stealer_roles_swapped"]
GROWTH = [C + "chain_grows_while_a_stealer_pops",
          C + "chain_grows_while_a_stealer_pops_roles_swapped",
          C + "a_stealer_never_unlinks_a_link_the_producer_is_still_filling",
          C + "len_walks_only_published_links"]
LEN = [C + "len_walks_only_published_links"]
WALK = [C + "a_drained_link_is_unlinked_while_the_producer_walks_prev",
        C + "a_link_the_producer_walks_into_survives_two_unlinks",
        C + "two_stealers_race_to_unlink_a_drained_link_the_producer_may_walk"]
CAS = [C + "a_link_installed_by_one_stealer_is_fully_visible_to_another"]
REFILL = [C + "a_stealer_never_unlinks_a_link_the_producer_is_still_filling",
          C + "a_stealer_never_unlinks_a_link_the_producer_is_still_filling_roles_swapped"]
LEAK = [C + "a_drained_link_is_unlinked_while_the_producer_walks_prev",
        C + "chain_grows_while_a_stealer_pops"]
P = "pool::"
# Not loom models: tests of the serial thread-exit target (`isolated`), built
# normally and run alone.
TEST = "isolated:"
BUCKET = [P + "threads_sharing_a_bucket_of_locals_each_put_into_a_built_local"]
STEAL = [P + "an_owner_and_a_stealer_take_each_value_at_most_once",
         P + "cleanup_racing_an_owner_and_a_stealer_ages_without_losing_values",
         P + "a_value_put_before_a_cleanup_can_be_taken_after_it"]
OWNED = [P + "cleanup_racing_an_owner_and_a_stealer_ages_without_losing_values",
         P + "an_owner_and_a_stealer_take_each_value_at_most_once",
         P + "an_exited_threads_index_local_and_private_value_pass_to_the_next_thread"]
POPPED = [D + "a_slot_popped_during_its_push_is_free_again_once_both_are_done",
          D + "a_slot_popped_during_its_push_is_free_again_roles_swapped"]
A = "pool_aging::"
DRAIN = [A + "a_cleanup_never_drops_a_value_put_while_it_runs",
         P + "cleanup_racing_an_owner_and_a_stealer_ages_without_losing_values"]
HINT = [A + "a_value_moved_to_the_victim_cache_after_a_miss_is_found_by_the_next_get"]
ADOPT = ["pool_handoff::an_exited_threads_private_value_is_adopted_or_inherited_never_both",
         P + "an_exited_threads_index_local_and_private_value_pass_to_the_next_thread"]
AGED_FREE = [P + "an_exited_threads_index_local_and_private_value_pass_to_the_next_thread",
             P + "cleanup_racing_an_owner_and_a_stealer_ages_without_losing_values"]
REGISTRY = ["pool_service::the_registry_races_a_pool_being_dropped"]
# Models run with VICTIM_POOL_NO_MEMBARRIER=1: the fallback that drains only
# exited threads' slots, under the thread registry's lock.
NOBARRIER = "nobarrier:"
# Run the model without its CI preemption cap (VICTIM_POOL_LOOM_HEAVY=1):
# for bugs that only a deeper search reaches.
HEAVY = "heavy:"
S = "pool_private_slot::"
DEKKER = [S + "a_draining_cleanup_and_the_owner_are_never_inside_the_slot_together",
          S + "an_idle_owners_expired_value_goes_to_one_of_the_owner_and_a_draining_cleanup",
          S + "a_get_held_up_by_a_draining_cleanup_is_settled_by_the_next_put",
          S + "paired_moves_race_two_cleanups_without_losing_or_doubling_a_value",
          S + "a_fill_racing_a_cleanup_that_unlists_the_slot_leaves_the_value_to_later_cleanups"]
SETTLE = [S + "a_get_held_up_by_a_draining_cleanup_is_settled_by_the_next_put",
          S + "an_idle_owners_expired_value_goes_to_one_of_the_owner_and_a_draining_cleanup"]
LOANED = [S + "a_value_detached_on_another_thread_leaves_the_slot_to_the_next_put",
          S + "a_value_lent_on_one_thread_can_be_given_back_on_another",
          S + "a_value_lent_when_its_owner_exits_is_given_back_to_the_slot_not_lost"]
LENT_SKIP = [S + "a_cleanup_never_drains_a_value_lent_in_place"]
LISTING = [S + "a_fill_racing_a_cleanup_that_unlists_the_slot_leaves_the_value_to_later_cleanups"]
# A fill into an empty slot is followed by its listing fence, which under
# loom also orders the value before later cleanups' fences: only the
# overflow put's fill (claim fence first, then the write) shows slot-fill.
FILL = [S + "a_put_that_displaces_an_aged_value_publishes_its_own_to_a_draining_cleanup"]
RINGS = [P + "an_exited_threads_ring_is_freed_once_empty_while_a_thief_may_read_it"]
SUMMARY = ["pool_summary::a_chain_value_is_never_hidden_from_every_thief",
           "pool_summary::a_value_pushed_while_a_thief_clears_the_bit_is_seen_by_its_second_look",
           "pool_summary::a_group_refilled_while_a_thief_clears_its_upper_bit_stays_named"]
PUBLISH_SUMMARY = [A + "a_cleanup_never_drops_a_value_put_while_it_runs",
                   P + "threads_sharing_a_bucket_of_locals_each_put_into_a_built_local",
                   P + "an_owner_and_a_stealer_take_each_value_at_most_once",
                   SUMMARY[0]]

# (name, [(file, old, new), ...], models). `old` must occur exactly once.
BUGS = [
    ("slot-publish: push's fetch_add Relaxed",
     [("dequeue.rs", "self.head_tail.fetch_add(ONE_HEAD, Ordering::Release);",
       "self.head_tail.fetch_add(ONE_HEAD, Ordering::Relaxed);")], PUBLISHED),
    ("slot-publish: pop_tail's CAS Relaxed",
     [("dequeue.rs", """                pack(head, tail.wrapping_add(1)),
                Ordering::Acquire,""", """                pack(head, tail.wrapping_add(1)),
                Ordering::Relaxed,""")], PUBLISHED),
    ("slot-release: pop_tail's flag store Relaxed",
     [("dequeue.rs", "slot.occupied.store(false, Ordering::Release);",
       "slot.occupied.store(false, Ordering::Relaxed);")], VACATED),
    ("slot-release: push's flag load Relaxed",
     [("dequeue.rs", "if slot.occupied.load(Ordering::Acquire) {",
       "if slot.occupied.load(Ordering::Relaxed) {")], VACATED),
    ("vacated check: push skips the occupied flag",
     [("dequeue.rs", """        if slot.occupied.load(Ordering::Acquire) {
            return Err(value);
        }
""", "")], VACATED),
    ("slot-release: pop_tail frees the slot before reading it",
     [("dequeue.rs", """        let value = slot.value.with(|p| unsafe { (*p).assume_init_read() });
        // Release [slot-release]: our read above happens-before the
        // producer's next write to this slot (its Acquire flag load).
        slot.occupied.store(false, Ordering::Release);""",
       """        slot.occupied.store(false, Ordering::Release);
        let value = slot.value.with(|p| unsafe { (*p).assume_init_read() });""")], VACATED),
    ("slot-publish: a pair push's fetch_add Relaxed",
     [("dequeue.rs", "head_tail.fetch_add(2 * ONE_HEAD, Ordering::Release);",
       "head_tail.fetch_add(2 * ONE_HEAD, Ordering::Relaxed);")], PAIRED),
    ("slot-release: a pair push's flag loads Relaxed",
     [("dequeue.rs", "if first.occupied.load(Ordering::Acquire) || second.occupied.load(Ordering::Acquire) {",
       "if first.occupied.load(Ordering::Relaxed) || second.occupied.load(Ordering::Relaxed) {")], PAIRED),
    ("vacated check: a pair push skips the second slot's flag",
     [("dequeue.rs", "if first.occupied.load(Ordering::Acquire) || second.occupied.load(Ordering::Acquire) {",
       "if first.occupied.load(Ordering::Acquire) {")], PAIRED),
    ("own-slot: a pair pop claims one slot and reads two",
     [("dequeue.rs", "let Some(head) = self.claim_newest(2) else {",
       "let Some(head) = self.claim_newest(1).map(|head| head.wrapping_sub(1)) else {")], PAIRED),
    ("link-publish: first link stored Relaxed",
     [("chain.rs", "self.tail.store(link, Ordering::Release);",
       "self.tail.store(link, Ordering::Relaxed);")], GROWTH),
    ("link-publish: pop_tail loads tail Relaxed",
     [("chain.rs", """        // fully constructed before we read it.
        let mut link = self.tail.load(Ordering::Acquire);""",
       """        // fully constructed before we read it.
        let mut link = self.tail.load(Ordering::Relaxed);""")], GROWTH),
    ("link-publish: len loads tail Relaxed",
     [("chain.rs", """        // Acquire [link-publish]: as in `pop_tail`.
        let mut link = self.tail.load(Ordering::Acquire);""",
       """        // Acquire [link-publish]: as in `pop_tail`.
        let mut link = self.tail.load(Ordering::Relaxed);""")], LEN),
    ("link-publish: unlinking CAS Relaxed",
     [("chain.rs", ".compare_exchange(link, next, Ordering::Release, Ordering::Relaxed)",
       ".compare_exchange(link, next, Ordering::Relaxed, Ordering::Relaxed)")], CAS),
    ("link-next: producer stores next Relaxed",
     [("chain.rs", "unsafe { deref(head) }.next.store(link, Ordering::Release);",
       "unsafe { deref(head) }.next.store(link, Ordering::Relaxed);")], GROWTH),
    ("link-next: pop_tail loads next Relaxed",
     [("chain.rs", "            let next = current.next.load(Ordering::Acquire);",
       "            let next = current.next.load(Ordering::Relaxed);")], GROWTH),
    ("link-next: len loads next Relaxed",
     [("chain.rs", "            link = current.next.load(Ordering::Acquire);",
       "            link = current.next.load(Ordering::Relaxed);")], LEN),
    ("link-next: next loaded after the pop",
     [("chain.rs", """            let next = current.next.load(Ordering::Acquire);
            let popped = current.ring.pop_tail();""", """            let popped = current.ring.pop_tail();
            let next = current.next.load(Ordering::Acquire);""")], REFILL),
    ("epoch: unlinked link freed at once (Box::from_raw)",
     [("chain.rs", "unsafe { epoch::defer_free(guard, link) };",
       "drop(unsafe { Box::from_raw(link) });")], WALK),
    ("epoch: defer_free frees at once",
     [("sync.rs", """        unsafe {
            guard.defer_unchecked(move || {
                let ptr = ptr;
                free(ptr.0);
            });
        }""", """        let _ = guard;
        unsafe { free(ptr.0) };""")], WALK),
    ("epoch: stealer does not pin (unprotected guard)",
     [("chain.rs", """        let guard = epoch::pin();
        self.chain.pop_tail(&guard)""", """        let guard = unsafe { crossbeam_epoch::unprotected() };
        self.chain.pop_tail(guard)""")], WALK),
    ("epoch: producer walks prev without pinning",
     [("chain.rs", """        let _guard = epoch::pin();
        // Relaxed [prev-walk]""", """        // Relaxed [prev-walk]""")], WALK),
    ("epoch: unlinked link never retired (leak)",
     [("chain.rs", "unsafe { epoch::defer_free(guard, link) };", "let _ = guard;")], LEAK),
    ("bucket-publish: the installing CAS Relaxed",
     [("pool/locals.rs", """            Ordering::Release,
            Ordering::Acquire,""", """            Ordering::Relaxed,
            Ordering::Acquire,""")],
     ["pool_service::statistics_read_while_a_thread_builds_its_local_see_only_built_counters"]
     + BUCKET),
    ("bucket-publish: the losing CAS's load Relaxed",
     [("pool/locals.rs", """            Ordering::Release,
            Ordering::Acquire,""", """            Ordering::Release,
            Ordering::Relaxed,""")], BUCKET),
    ("bucket-publish: get_or_create loads the bucket Relaxed",
     [("pool/locals.rs", "let mut locals = self.buckets[bucket].load(Ordering::Acquire);",
       "let mut locals = self.buckets[bucket].load(Ordering::Relaxed);")], BUCKET),
    ("bucket-publish: get_at (the fast paths) loads the bucket Relaxed",
     [("pool/locals.rs", "let found = self.buckets[bucket].load(Ordering::Acquire);",
       "let found = self.buckets[bucket].load(Ordering::Relaxed);")],
     [P + "a_thread_that_holds_its_index_puts_into_a_local_another_thread_built"]),
    ("bucket-publish: iter loads buckets Relaxed",
     [("pool/locals.rs", "let locals = self.buckets[bucket].load(Ordering::Acquire);",
       "let locals = self.buckets[bucket].load(Ordering::Relaxed);")],
     ["pool_service::statistics_read_while_a_thread_builds_its_local_see_only_built_counters"]
     + STEAL),
    ("index hand-off: cleanup ages live threads' private slots (no membarrier)",
     [("pool/mod.rs", "                if unowned(index) {",
       "                if unowned(index) || index < usize::MAX {")],
     [NOBARRIER + m for m in OWNED]),
    ("slot-dekker: the owner's side of the asymmetric fence removed",
     [("sync.rs", """            // fence where there is no process-wide barrier to stand in.
            fence(SeqCst);
        }""", """            // fence where there is no process-wide barrier to stand in.
        }""")], DEKKER),
    ("slot-dekker: the cleanup's side of the asymmetric fence removed",
     [("sync.rs", """            fence(SeqCst);
            true
""", """            true
""")], DEKKER),
    ("slot-dekker: a claim ignores the drain mark",
     [("pool/private_slot.rs", """        self.drain.load(Ordering::Relaxed) == IDLE
    }""", """        self.drain.load(Ordering::Relaxed) != usize::MAX
    }""")], DEKKER),
    ("slot-dekker: a paired push moves the slot's value out after its claim met a drainer",
     [("pool/private_slot.rs", "        if !unsafe { self.slot.claim_alone(claimed_at(stamp)) } {\n",
       "        if !unsafe { self.slot.claim_alone(claimed_at(stamp)) } && false {\n")],
     [S + "paired_moves_race_two_cleanups_without_losing_or_doubling_a_value"]),
    ("slot-dekker: a fill ignores the drain mark",
     [("pool/private_slot.rs", "        self.slot.drain.load(Ordering::Relaxed) == IDLE\n",
       "        self.slot.drain.load(Ordering::Relaxed) != usize::MAX\n")], SETTLE),
    ("slot-listing: a fill does not look at the drain mark after its store",
     [("pool/private_slot.rs", "        self.slot.drain.load(Ordering::Relaxed) != IDLE\n",
       "        false\n")], LISTING),
    ("slot-listing: the fill's side of the asymmetric fence removed",
     [("pool/private_slot.rs", """        unsafe { self.slot.write_full(value, stamp) };
        asymmetric_fence::light();""", """        unsafe { self.slot.write_full(value, stamp) };""")], LISTING),
    ("slot-listing: an unlisting ends its mark IDLE",
     [("pool/private_slot.rs", "it needs nothing from us.\n        self.drain.store(UNLISTED, Ordering::Relaxed);",
       "it needs nothing from us.\n        self.drain.store(IDLE, Ordering::Relaxed);")], LISTING),
    ("slot-listing: an unlisting does not look again after its clear",
     [("pool/private_slot.rs", "        if self.state.load(Ordering::Relaxed) != EMPTY {\n            remark();",
       "        if false {\n            remark();")], LISTING),
    ("slot-listing: a drainer marks only from IDLE, not from UNLISTED",
     [("pool/private_slot.rs", "(FULL, IDLE | UNLISTED) => Want::Drain,",
       "(FULL, IDLE) => Want::Drain,")], LISTING),
    ("slot-listing: the owner lists an unlisted slot without its bit",
     [("pool/local.rs", "            bit().mark(PRIVATE_SLOTS);\n",
       "            let _ = bit;\n")], LISTING),
    ("slot-drained: the drain's TOOK is a Relaxed store",
     [("pool/private_slot.rs", "self.drain.store(TOOK, Ordering::Release);",
       "self.drain.store(TOOK, Ordering::Relaxed);")], SETTLE),
    ("slot-drained: settle loads the drain mark Relaxed",
     [("pool/private_slot.rs", "let drain = self.drain.load(Ordering::Acquire);",
       "let drain = self.drain.load(Ordering::Relaxed);")], SETTLE),
    ("slot-drain-take: the drainer's swap does not acquire the value",
     [("pool/private_slot.rs", ".compare_exchange(word, EMPTY, Ordering::Acquire, Ordering::Relaxed)",
       ".compare_exchange(word, EMPTY, Ordering::Relaxed, Ordering::Relaxed)")], SETTLE + DEKKER),
    ("slot-fill: a fill makes the slot FULL with a Relaxed store",
     [("pool/private_slot.rs", "self.state.store(full_at(stamp), Ordering::Release);",
       "self.state.store(full_at(stamp), Ordering::Relaxed);")], FILL + SETTLE + DEKKER),
    ("settle: a claim whose value the drainer took is FULL again",
     [("pool/private_slot.rs", "            TOOK => {\n",
       "            TOOK if false => {\n"),
      ("pool/private_slot.rs", "            IDLE | UNLISTED => {\n",
       "            IDLE | UNLISTED | TOOK => {\n")], SETTLE),
    ("slot-return: a guard gives its value back with a Relaxed store",
     [("pool/private_slot.rs", "slot.state.store(full_at(stamp), Ordering::Release);",
       "slot.state.store(full_at(stamp), Ordering::Relaxed);")], LOANED),
    ("slot-return: the owner looks at the slot with a Relaxed load",
     [("pool/private_slot.rs", "        self.state.load(Ordering::Acquire)\n",
       "        self.state.load(Ordering::Relaxed)\n")], LOANED),
    ("ring release: a ring that still holds a value is freed",
     [("chain.rs", """        if link.ring.len() != 0 {
            return false;
        }""", "")], RINGS),
    ("ring release: the released ring is freed at once, not through the epoch",
     [("chain.rs", "unsafe { epoch::defer_free(guard, head) };",
       "unsafe { epoch::defer_free(crossbeam_epoch::unprotected(), head) };")],
     # The thief must stop inside the ring: two preemptions, past CI's cap.
     [HEAVY + m for m in RINGS]),
    ("ring release: a cleanup frees the rings of live threads too",
     [("pool/mod.rs", "for local in free.filter_map(",
       "for local in free.chain(0..4).filter_map(")], RINGS + STEAL),
    ("lent slot: a drain takes a lent value as if it were full",
     [("pool/private_slot.rs", "(FULL, IDLE | UNLISTED) => Want::Drain,",
       "(FULL | LENT, IDLE | UNLISTED) => Want::Drain,"),
      ("pool/private_slot.rs", "let full = word & STATE_MASK == FULL;",
       "let full = word & STATE_MASK != EMPTY;")], LENT_SKIP),
    ("index hand-off: a get adopts live threads' private values",
     [("pool/mod.rs", ".filter(|&(index, _)| unowned(index))",
       ".filter(|&(index, _)| unowned(index) || index < usize::MAX)")],
     [P + "a_miss_after_a_thread_exit_never_adopts_a_live_threads_private_value"] + OWNED),
    ("stale generation: a take reads the generation before its index; stamps wrap",
     [("pool/mod.rs", """        let place = thread_index::current();
        // Relaxed [generation]: it only selects chains and ages; values are""",
       """        let early = self.state.generation.load(Ordering::Relaxed);
        let place = thread_index::current();
        // Relaxed [generation]: it only selects chains and ages; values are"""),
      ("pool/mod.rs", """        let generation = self.state.generation.load(Ordering::Relaxed);
        let Some(place) = place else {""", """        let generation = early;
        let Some(place) = place else {"""),
      ("pool/local.rs", "isize::MIN..=0 => Age::Primary,", "0 => Age::Primary,")],
     [P + "a_value_inherited_with_an_index_is_never_older_than_the_takers_generation"]),
    ("thread index: the word keeps the index after it is given back (teardown)",
     [("pool/thread_index.rs", """        set_thread_word(GONE);
        let mut registry""", """        let mut registry""")],
     [TEST + "a_thread_in_teardown_never_uses_the_index_it_gave_back"]),
    ("releases-scanned: stored after a scan that adopted a value",
     [("pool/mod.rs", """            if found.is_none() {
                // Relaxed [releases-scanned]""", """            if true {
                // Relaxed [releases-scanned]""")],
     [TEST + "misses_adopt_every_exited_threads_private_value_not_only_the_first"]),
    ("slot-publish order: push sets occupied after the fetch_add",
     [("dequeue.rs", "        slot.occupied.store(true, Ordering::Relaxed);\n", ""),
      ("dequeue.rs", "self.head_tail.fetch_add(ONE_HEAD, Ordering::Release);",
       "self.head_tail.fetch_add(ONE_HEAD, Ordering::Release);\n"
       "        slot.occupied.store(true, Ordering::Relaxed);")], POPPED),
    ("aging order: cleanup publishes the generation before draining",
     [("pool/mod.rs", "        self.state.generation.store(next, Ordering::Relaxed);\n", ""),
      ("pool/mod.rs", "let next = generation.wrapping_add(1);",
       "let next = generation.wrapping_add(1);\n"
       "        self.state.generation.store(next, Ordering::Relaxed);")], DRAIN),
    ("victim-empty: a put moving a value to a victim chain never clears the hint",
     [("pool/mod.rs", ".store(generation.wrapping_sub(1), Ordering::Relaxed);",
       ".store(generation, Ordering::Relaxed);")], HINT),
    ("index hand-off: adoption snapshots the unowned indices, then unlocks",
     [("pool/thread_index.rs", """    let registry = try_lock(&THREADS.registry)?;
    Some(f(&|index| {
        !registry.taken""", """    let registry = try_lock(&THREADS.registry)?.taken.clone();
    Some(f(&|index| {
        !registry""")], ADOPT),
    ("index hand-off: adoption snapshots the free list, then unlocks",
     [("pool/thread_index.rs", """    let registry = try_lock(&THREADS.registry)?;
    Some(f(&|index| {
        !registry.taken.get(index).copied().unwrap_or(false)
    }))""", """    let free = try_lock(&THREADS.registry)?.free.clone();
    Some(f(&|index| free.iter().any(|&Reverse(i)| i == index)))""")], ADOPT),
    ("index hand-off: cleanup snapshots the unowned indices, then unlocks",
     [("pool/thread_index.rs", """    let registry = lock(&THREADS.registry);
    f(&|index| !registry.taken""", """    let registry = lock(&THREADS.registry).taken.clone();
    f(&|index| !registry""")], [NOBARRIER + m for m in AGED_FREE]),
    ("index hand-off: cleanup snapshots the free list, then unlocks",
     [("pool/thread_index.rs", """    let registry = lock(&THREADS.registry);
    f(&|index| !registry.taken.get(index).copied().unwrap_or(false))""",
       """    let free = lock(&THREADS.registry).free.clone();
    f(&|index| free.iter().any(|&Reverse(i)| i == index))""")],
     [NOBARRIER + m for m in AGED_FREE]),
    ("enrollment: cleanup_all releases the pool's enrollment lock before aging it",
     [("pool/registry.rs", """            let pool = lock(&enrollment.pool);
            match &*pool {""", """            let pool = lock(&enrollment.pool).as_ref().map(|pool| PoolRef(pool.0));
            match &pool {""")], REGISTRY),
    ("summary recheck: a thief clears the bit without looking again",
     [("pool/local.rs", """        bit.clear(half);
        let value = chain.pop_tail(guard)?;""", """        bit.clear(half);
        let value = Option::<T>::None?;""")], SUMMARY),
    ("summary remark: a second look that finds a value leaves the bit clear",
     [("pool/local.rs", "        bit.remark(half);\n", "")], SUMMARY),
    ("summary-mark: the owner's mark Relaxed",
     [("pool/summary.rs", "self.word(set).fetch_or(self.mask, Ordering::Release)",
       "self.word(set).fetch_or(self.mask, Ordering::Relaxed)")], SUMMARY),
    ("summary-mark: the thief's clear Relaxed",
     [("pool/summary.rs", "self.word(set).fetch_and(!self.mask, Ordering::Acquire);",
       "self.word(set).fetch_and(!self.mask, Ordering::Relaxed);")], SUMMARY),
    ("summary order: the owner marks before it pushes",
     [("pool/local.rs", """        let into_empty = unsafe { self.chains[half].push_head(value, growth) };
        if into_empty {
            bit().mark(half);
        }""", """        bit().mark(half);
        let into_empty = unsafe { self.chains[half].push_head(value, growth) };""")], SUMMARY),
    ("summary-publish: the installing CAS Relaxed",
     [("pool/summary.rs", """            Ordering::Release,
            Ordering::Acquire,""", """            Ordering::Relaxed,
            Ordering::Acquire,""")], PUBLISH_SUMMARY),
    ("summary-group: the upper mark Relaxed",
     [("pool/summary.rs", ".fetch_or(self.top_mask, Ordering::Release);",
       ".fetch_or(self.top_mask, Ordering::Relaxed);")], SUMMARY),
    ("summary-group: the upper clear Relaxed",
     [("pool/summary.rs", ".fetch_and(!self.top_mask, Ordering::Acquire);",
       ".fetch_and(!self.top_mask, Ordering::Relaxed);")], SUMMARY),
    ("summary-group: the upper clear does not reread the group's word",
     [("pool/summary.rs", "if self.word(set).load(Ordering::Relaxed) != 0 {",
       "if false {")], SUMMARY),
    ("summary shortcut: a miss skips the scans whatever the upper word says",
     [("pool/summary.rs", "group.sets[set].load(Ordering::Relaxed) != 0",
       "group.sets[set].load(Ordering::Relaxed) != 0 && false")], SUMMARY),
    ("summary tail: a scan never reads its first group's bits below its start",
     [("pool/summary.rs", """                Some(group) if group == self.first => {
                    self.tail = true;""", """                Some(group) if group == self.first => {
                    self.tail = false;""")], SUMMARY),
    ("summary-publish: a scan loads a group's bucket Relaxed",
     [("pool/summary.rs", """        // Acquire [summary-publish]: as in `place`.
        self.buckets[bucket].load(Ordering::Acquire)""", """        // Acquire [summary-publish]: as in `place`.
        self.buckets[bucket].load(Ordering::Relaxed)""")], PUBLISH_SUMMARY),
]

# The control runs each model as CI does: a `heavy:` model's full search is
# far longer than the planted bug's time to fail (the unmodified ring model
# ran 14 minutes at bound 2 without failing before it was stopped).
ALL_MODELS = []
for _, _, models in BUGS:
    for m in models:
        m = m[len(HEAVY):] if m.startswith(HEAVY) else m
        if m not in ALL_MODELS:
            ALL_MODELS.append(m)

def reset_src():
    global tests_exe
    tests_exe = None
    dst = os.path.join(work, "src")
    shutil.rmtree(dst)
    shutil.copytree(pristine, dst)

def plant(edits):
    for name, old, new in edits:
        path = os.path.join(work, "src", name)
        text = open(path).read()
        count = text.count(old)
        if count != 1:
            sys.exit(f"planted-bugs: pattern for src/{name} matched {count} times "
                     f"(expected 1); update .ci/planted-bugs.sh:\n{old}")
        open(path, "w").write(text.replace(old, new))

def build(target="loom"):
    env = dict(os.environ)
    if target != "loom":
        # A normal build, in a target directory of its own.
        del env["RUSTFLAGS"]
        env["CARGO_TARGET_DIR"] = env["CARGO_TARGET_DIR"] + "-tests"
    out = subprocess.run(["cargo", "test", "--release", "--test", target, "--no-run"],
                         cwd=work, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.stderr.write(out.stderr[-4000:])
        sys.exit("planted-bugs: the planted source does not compile")
    exe = re.findall(r"Executable .*\((.*)\)", out.stderr)
    if not exe:
        sys.exit("planted-bugs: could not find the loom test binary in cargo's output")
    return exe[-1] if os.path.isabs(exe[-1]) else os.path.join(work, exe[-1])

PATTERNS = [
    r"Causality violation: [^\n]*",
    r"a block freed by the epoch was accessed again \(use after free\)",
    r"Arc leaked\.",
    r"every value must come out exactly once[^\n]*",
    r"every value must be dropped exactly once[^\n]*",
    r"value \d+ dropped twice",
    r"a push into the empty ring was refused[^\n]*",
    r"a cleanup dropped [^\n]*",
    r"one cleanup, yet [^\n]*",
    r"value \d+ was moved onto a victim chain[^\n]*",
    r"a value stayed in the owner's chain[^\n]*",
    r"assertion[^\n]*",
]

def run_model(exe, model):
    env = dict(os.environ)
    if model.startswith(NOBARRIER):
        env["VICTIM_POOL_NO_MEMBARRIER"] = "1"
        model = model[len(NOBARRIER):]
    if model.startswith(HEAVY):
        env["VICTIM_POOL_LOOM_HEAVY"] = "1"
        model = model[len(HEAVY):]
    if model.startswith(TEST):
        exe, model = exe_tests(), model[len(TEST):]
    start = time.time()
    try:
        out = subprocess.run([exe, "--exact", model, "--nocapture", "--test-threads=1"],
                             cwd=work, capture_output=True, text=True, timeout=model_timeout,
                             env=env)
    except subprocess.TimeoutExpired:
        return "timeout", time.time() - start, f"no verdict in {model_timeout} s"
    elapsed = time.time() - start
    text = out.stdout + out.stderr
    if out.returncode == 0:
        return "pass", elapsed, ""
    for pattern in PATTERNS:
        found = re.search(pattern, text)
        if found:
            return "fail", elapsed, found.group(0)
    panic = re.search(r"panicked at ([^\n]*)", text)
    detail = f"panicked at {panic.group(1)}" if panic else f"exit status {out.returncode}"
    # Registry paths differ between machines: keep the crate and file.
    detail = re.sub(r"/\S*/(loom-[0-9.]+/)", r"\1", detail).rstrip(":")
    return "fail", elapsed, detail

tests_exe = None

def exe_tests():
    """The thread-exit test binary for the source as planted now."""
    global tests_exe
    if tests_exe is None:
        tests_exe = build("isolated")
    return tests_exe

rows = []
ok = True
t0 = time.time()

if only == "--check-patterns":
    # Cheap, for CI: every planted edit still applies exactly once.
    for name, edits, _ in BUGS:
        reset_src()
        plant(edits)
    print(f"planted-bugs: all {len(BUGS)} planted edits apply to the current source")
    sys.exit(0)

if not only:
    print("== control: the unmodified models must all pass", flush=True)
    reset_src()
    exe = build()
    for model in ALL_MODELS:
        verdict, elapsed, detail = run_model(exe, model)
        print(f"   {model}: {verdict} ({elapsed:.1f} s) {detail}", flush=True)
        if verdict != "pass":
            ok = False
    rows.append(("(control: nothing planted)", "all pass" if ok else "FAILED", "", ""))

for name, edits, models in BUGS:
    if only and only not in name:
        continue
    print(f"== {name}", flush=True)
    reset_src()
    plant(edits)
    exe = build()
    caught = None
    for model in models:
        verdict, elapsed, detail = run_model(exe, model)
        print(f"   {model}: {verdict} ({elapsed:.1f} s) {detail}", flush=True)
        if verdict == "fail":
            caught = (model, f"{elapsed:.1f} s", detail)
            break
    if caught:
        rows.append((name, caught[0], caught[2], caught[1]))
    else:
        ok = False
        rows.append((name, "NOT CAUGHT", "", ""))

print()
print("| planted bug | caught by | what loom reported | time to fail |")
print("|---|---|---|---|")
for name, model, detail, elapsed in rows:
    detail = detail.replace("|", "\\|")
    print(f"| {name} | `{model}` | {detail} | {elapsed} |" if model not in ("all pass", "FAILED", "NOT CAUGHT")
          else f"| {name} | **{model}** | {detail} | {elapsed} |")
print()
print(f"planted-bugs: LOOM_MAX_PREEMPTIONS={os.environ['LOOM_MAX_PREEMPTIONS']}, "
      f"total {time.time() - t0:.0f} s")
sys.exit(0 if ok else 1)
PY

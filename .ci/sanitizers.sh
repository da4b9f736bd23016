#!/usr/bin/env bash
# Sanitizer and Miri passes over the whole pool (nightly only):
#   thread   ThreadSanitizer: data races, e.g. a slot read that no
#            Release/Acquire pair orders after the producer's write;
#   address  AddressSanitizer with LeakSanitizer: use after free of chain
#            links retired through the epoch, and leaks;
#   miri     Miri on a smoke set of unit tests: undefined behaviour, aliasing,
#            data races on a few threads.
#
# thread and address run the unit tests (--lib), the proptests (--test
# proptests, every test) and the thread-exit tests (--test isolated, serial)
# against a std rebuilt with the same sanitizer (-Zbuild-std), so that std's
# own synchronization (Arc, channels, Barrier, thread::scope, the test
# harness) is visible to the sanitizer. TSan runs the debug profile (debug
# assertions on, stress counts scaled down; see proptests/support.rs): it
# reports an unordered pair of accesses whenever both happen. ASan runs the
# release profile with the full counts: it sees a use after free only when a
# free and a late access really overlap in time, and more rounds make that
# likely (docs/testing.md has the numbers).
#
# Usage: .ci/sanitizers.sh [thread|address|miri]...   (default: all three)
#   PROPTEST_CASES=N   proptest reads it: every property test runs N cases
#                      (it replaces each test's own count, in both directions).
#
# A pass whose tools are missing (no nightly, no rust-src, no sanitizer
# runtime, no miri component, a host other than x86_64 Linux) is skipped with
# a message and does not fail the script: CI's stable toolchain has none of
# them. Any sanitizer or Miri report fails its pass; the script then exits 1.
#
# Builds go to ${CARGO_TARGET_DIR:-target}/sanitizers/{thread,address} (each
# sanitizer rebuilds std and every dependency with its own flags) and to
# Miri's own ${CARGO_TARGET_DIR:-target}/miri.
set -euo pipefail
cd "$(dirname "$0")/.."

# Probing for nightly must never install it (rustup versions that
# auto-install a missing toolchain honour this).
export RUSTUP_AUTO_INSTALL=0
target_root="${CARGO_TARGET_DIR:-$PWD/target}"
triple=x86_64-unknown-linux-gnu

note() { echo "sanitizers: $*"; }

# Why the nightly toolchain cannot run anything here, or nothing.
nightly_missing() {
    if ! command -v rustup >/dev/null 2>&1; then
        echo "no rustup, so no nightly toolchain"
    elif ! rustup toolchain list | grep -qE '^nightly-[a-z]' ||
        ! cargo +nightly --version >/dev/null 2>&1; then
        echo "no nightly toolchain (rustup toolchain install nightly)"
    elif [ ! -f "$(rustc +nightly --print sysroot)/lib/rustlib/src/rust/library/Cargo.lock" ]; then
        echo "nightly has no rust-src (rustup +nightly component add rust-src)"
    fi
}

# Why this sanitizer cannot run here, or nothing.
sanitizer_missing() {
    local short=$1 host
    host=$(rustc +nightly -vV | sed -n 's/^host: //p')
    if [ "$host" != "$triple" ]; then
        echo "host $host is not $triple"
    elif [ ! -f "$(rustc +nightly --print sysroot)/lib/rustlib/$triple/lib/librustc-nightly_rt.$short.a" ]; then
        echo "nightly has no $short runtime (librustc-nightly_rt.$short.a)"
    fi
}

# run_logged LOG CMD...: runs CMD with its output on the terminal and in LOG.
run_logged() {
    local log=$1
    shift
    "$@" 2>&1 | tee "$log"
}

# sanitize NAME SHORT [CARGO-ARG]...: builds the three test targets with
# -Zsanitizer=NAME and an instrumented std, then runs them. The caller sets
# RUSTFLAGS and the runtime's options.
sanitize() {
    local name=$1 short=$2
    shift 2
    local cargo=(cargo +nightly test -Zbuild-std --target "$triple" "$@")
    export CARGO_TARGET_DIR="$target_root/sanitizers/$name"
    local start=$SECONDS
    "${cargo[@]}" --lib --test proptests --test isolated --no-run
    note "$name: built in $((SECONDS - start)) s"
    local run=$SECONDS
    "${cargo[@]}" --lib
    "${cargo[@]}" --test proptests
    "${cargo[@]}" --test isolated -- --test-threads=1
    note "$name: tests ran in $((SECONDS - run)) s ($short)"
}

thread_pass() {
    # crossbeam-epoch and crossbeam-utils see -Zsanitizer=thread in
    # CARGO_CFG_SANITIZE and set cfg(crossbeam_sanitize_thread) themselves:
    # the epoch then replaces its fences, which TSan does not model, by
    # equivalent acquire loads. cfg(crossbeam_sanitize) (what crossbeam's own
    # sanitizer CI sets) shrinks the epoch's garbage bags from 64 to 4 and
    # collects all expired bags at once, so retired links are freed soon
    # after they are unlinked, inside the sanitizer's view.
    RUSTFLAGS="-Zsanitizer=thread --cfg crossbeam_sanitize" \
    TSAN_OPTIONS="halt_on_error=1 ${TSAN_OPTIONS:-}" \
        sanitize thread tsan
}

address_pass() {
    # LeakSanitizer runs at exit of each test binary (detect_leaks is on by
    # default on x86-64 Linux; said here so nobody turns it off by accident).
    # .ci/lsan.supp names the one deliberate leak. Frame pointers let LSan's
    # fast unwinder record the allocating frames that the suppression names.
    RUSTFLAGS="-Zsanitizer=address -Cforce-frame-pointers=yes --cfg crossbeam_sanitize" \
    ASAN_OPTIONS="detect_leaks=1 ${ASAN_OPTIONS:-}" \
    LSAN_OPTIONS="suppressions=$PWD/.ci/lsan.supp print_suppressions=0 ${LSAN_OPTIONS:-}" \
        sanitize address asan --release
}

# The Miri smoke set: fast unit tests of the dequeue, the private slot, the
# locals, the thread index (two threads), the chain and the pool (put, take,
# cleanup, one spawned thread, a scope of threads). Each name must match one
# test exactly; the pass checks that all of them ran.
#
# Miri checks what touches crossbeam-epoch (the chain and the pool) under
# Tree Borrows, with the leak check off and integer-to-pointer casts allowed:
# crossbeam-epoch breaks Stacked Borrows (crossbeam issue #545) and keeps its
# global lists behind pointers cast to integers, so Miri sees every one of its
# bags and thread records as leaked (issue #579). LeakSanitizer covers leaks.
miri_plain=(
    dequeue::tests::capacity_one_holds_one_value
    dequeue::tests::zero_sized_values_are_counted_like_any_other
    dequeue::tests::zero_capacity_is_rejected_with_the_rule
    dequeue::tests::pairs_move_two_values_only_when_two_slots_or_two_values_are_there
    dequeue::tests::values_left_by_pairs_are_dropped_once_with_the_ring
    pool::paired_moves::tests::a_run_pairs_only_while_two_more_operations_are_expected
    pool::private_slot::tests::a_slot_fills_takes_lends_and_drops_what_it_holds_once
    pool::private_slot::tests::a_drainer_takes_an_expired_value_and_the_accessor_acknowledges_it
    pool::private_slot::tests::a_claim_that_met_a_drainer_learns_what_the_drainer_took
    pool::private_slot::tests::a_slot_dropped_while_claimed_drops_its_value_unless_a_drainer_took_it
    pool::private_slot::tests::filling_a_full_slot_panics
    pool::private_slot::tests::a_drainer_unlists_an_empty_slot_and_a_racing_fill_learns_of_it
    pool::locals::tests::iteration_visits_each_allocated_local_once_in_index_order
    pool::thread_index::tests::the_smallest_free_index_is_handed_out_first
    pool::thread_index::tests::a_live_threads_index_is_owned_and_an_exited_ones_is_not
    pool::tests_service::a_dropped_pool_leaves_the_registry_and_is_never_touched
    unwind::tests::every_item_is_visited_once_and_the_first_panic_propagates
    word_copy::tests::copies_move_the_value_with_its_pointers_and_padding
)
miri_epoch=(
    chain::tests::pop_head_walks_back_through_older_links
    chain::tests::pairs_cross_link_boundaries_one_value_at_a_time
    pool::tests::long_runs_of_puts_and_takes_move_two_values_per_chain_operation
    pool::tests::values_come_back_private_first_then_own_chain_newest_first
    pool::tests::wide_values_come_back_whole_by_every_path_of_take
    pool::tests::create_is_called_only_when_the_pool_is_empty
    pool::tests::a_value_survives_one_cleanup_and_is_gone_after_two
    pool::tests::two_idle_cleanups_drop_every_value_the_callers_private_one_included
    pool::tests::a_panicking_create_leaves_the_pool_usable
    pool::tests::a_panicking_drop_during_cleanup_propagates_and_drops_the_rest_once
    pool::tests::drop_and_create_may_use_the_pool_they_belong_to
    pool::tests::zero_sized_large_and_unsync_values_work
    pool::tests_service::reset_runs_on_every_kept_return_and_never_on_discarded_values
    pool::tests_service::the_per_thread_bound_caps_what_one_thread_retains
    pool::tests_service::statistics_count_every_tier_of_go_s_get_order
    pool::tests_lending::get_lends_the_private_value_in_place_and_its_drop_puts_it_back_unmoved
    pool::tests_lending::while_a_value_is_lent_the_threads_puts_and_gets_use_its_chain
    pool::tests_lending::a_guard_dropped_on_another_thread_gives_the_value_back_to_the_lenders_slot
    pool::tests_lending::detaching_a_lent_value_empties_the_slot
    pool::tests_lending::a_forgotten_lent_guard_leaks_nothing_once_the_pool_is_dropped
    pool::tests_lending::a_cleanup_skips_a_lent_value_and_ages_it_from_its_return
    pool::tests_lending::a_pool_with_rules_screens_a_lent_value_on_its_return
)

# miri_run FLAGS NAME...: runs the named unit tests under Miri with FLAGS and
# fails unless every one of them ran and passed.
miri_run() {
    local flags=$1
    shift
    local log="$target_root/miri-smoke.log"
    mkdir -p "$target_root"
    MIRIFLAGS="$flags ${MIRIFLAGS:-}" run_logged "$log" \
        cargo +nightly miri test --lib -- --exact "$@"
    if ! grep -q "^test result: ok\. $# passed" "$log"; then
        echo "sanitizers: miri: expected $# tests to pass; a name in .ci/sanitizers.sh no longer matches a test" >&2
        return 1
    fi
}

miri_pass() {
    local start=$SECONDS
    # The sysroot Miri interprets std from (built once, into ~/.cache/miri).
    cargo +nightly miri setup
    miri_run "-Zmiri-strict-provenance -Zmiri-symbolic-alignment-check" "${miri_plain[@]}"
    miri_run "-Zmiri-tree-borrows -Zmiri-ignore-leaks -Zmiri-permissive-provenance -Zmiri-symbolic-alignment-check" \
        "${miri_epoch[@]}"
    note "miri: ran in $((SECONDS - start)) s"
}

passes=("$@")
[ ${#passes[@]} -gt 0 ] || passes=(thread address miri)
for pass in "${passes[@]}"; do
    case "$pass" in
    thread | address | miri) ;;
    *)
        echo "sanitizers: unknown pass '$pass' (thread, address or miri)" >&2
        exit 2
        ;;
    esac
done

why_not=$(nightly_missing)
summary=()
failed=0
for pass in "${passes[@]}"; do
    missing=$why_not
    if [ -z "$missing" ]; then
        case "$pass" in
        thread) missing=$(sanitizer_missing tsan) ;;
        address) missing=$(sanitizer_missing asan) ;;
        miri) cargo +nightly miri --version >/dev/null 2>&1 ||
            missing="nightly has no miri (rustup +nightly component add miri)" ;;
        esac
    fi
    if [ -n "$missing" ]; then
        note "$pass: skipped: $missing"
        summary+=("$pass: skipped: $missing")
        continue
    fi
    note "$pass: starting${PROPTEST_CASES:+ (PROPTEST_CASES=$PROPTEST_CASES)}"
    start=$SECONDS
    # A subshell, so that a pass's exports stay in it and its first failing
    # command ends that pass only. Not an `if` condition: bash ignores
    # `set -e` inside one, and a failing step would go unnoticed.
    set +e
    (
        set -e
        "${pass}_pass"
    )
    status=$?
    set -e
    if [ "$status" = 0 ]; then
        summary+=("$pass: passed in $((SECONDS - start)) s")
    else
        summary+=("$pass: FAILED (exit $status) after $((SECONDS - start)) s")
        failed=1
    fi
done

echo
for line in "${summary[@]}"; do note "$line"; done
exit "$failed"

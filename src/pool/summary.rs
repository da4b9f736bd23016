//! Which locals may hold values: one bit per (thread index, chain) and one
//! per (thread index, private slot), so that a miss, a steal and a cleanup
//! visit only candidates instead of every local ever allocated.
//!
//! ```text
//!   lower level, group g: 64 thread indices (64g .. 64g + 63)
//!   upper level, group u: 64 lower groups (64u .. 64u + 63)
//!   each group: one word per set (chain half 0, chain half 1, private slots)
//!
//!   bucket:    0       1          2
//!   groups:  [ 0 ]   [ 1  2 ]   [ 3 .. 6 ]   ...   bucket b holds 2^b
//!
//!   lower sets[h] bit i set: chain h of local 64g + i may hold a value
//!   lower sets[PRIVATE_SLOTS] bit i set: local 64g + i's private slot is
//!     listed (docs/design.md, "Listing private slots")
//!   upper sets[s] bit k set: lower group 64u + k's word s may be non-zero
//! ```
//!
//! The protocol (the argument is in docs/design.md, "The summary of
//! non-empty chains"):
//!
//! - The owner sets its bit (Release) after a push that went into an empty
//!   ring: only such a push can make its chain non-empty. A push into a
//!   ring that already holds a value sets nothing, and the owner's own pops
//!   never touch the bit, so its private slot and the head of its chain
//!   stay free of extra read-modify-writes.
//! - A thief that finds a chain empty clears the bit (Acquire), then looks
//!   once more; if that look finds a value it sets the bit again. A value
//!   pushed before the clear is therefore seen by the second look, and one
//!   pushed after it sets the bit anew: a value the pool holds is never
//!   invisible to every thief.
//! - One level up, the same: whoever takes a lower word from zero to
//!   non-zero sets the group's upper bit; whoever takes it to zero clears
//!   the upper bit, reads the word again and sets the bit back if the word
//!   is non-zero.
//!
//! Groups are allocated with the locals that use them and never move or
//! shrink before the pool is dropped, so a local keeps plain pointers to
//! its two words.

use crate::sync::{const_fn_unless_loom, null_ptr_array, AtomicPtr, AtomicUsize, Ordering};
use std::fmt;
use std::ptr;

const BITS: usize = usize::BITS as usize;
const BUCKETS: usize = usize::BITS as usize;

/// Groups in bucket 0; bucket `b` holds `FIRST_GROUPS << b`. One group (64
/// thread indices, 16 bytes per level) keeps a pool used by a few threads
/// small; a scan of 512 indices crosses four buckets, one pointer each.
const FIRST_GROUPS: usize = 1;

/// The set of private slots, after the two chain halves: bit `i` is set
/// while local `i`'s private slot is listed, so a cleanup visits only
/// listed slots (the protocol is `private_slot`'s P7).
pub(crate) const PRIVATE_SLOTS: usize = 2;
const SETS: usize = 3;

/// The bucket that holds group `group`, and the group's offset in it.
fn locate(group: usize) -> (usize, usize) {
    let position = group / FIRST_GROUPS + 1;
    let bucket = (usize::BITS - 1 - position.leading_zeros()) as usize;
    (bucket, group - first_group(bucket))
}

/// The first group of bucket `bucket`.
fn first_group(bucket: usize) -> usize {
    ((1 << bucket) - 1) * FIRST_GROUPS
}

/// The number of groups in bucket `bucket`.
fn bucket_len(bucket: usize) -> usize {
    FIRST_GROUPS << bucket
}

/// 64 bits per set (the two chain halves, then the private slots): of 64
/// thread indices in the lower level, of 64 groups in the upper level.
struct Group {
    sets: [AtomicUsize; SETS],
}

impl Group {
    fn new() -> Self {
        Group {
            sets: [
                AtomicUsize::new(0),
                AtomicUsize::new(0),
                AtomicUsize::new(0),
            ],
        }
    }
}

/// One level of the summary: a bit per position (a thread index, or a
/// group of the level below), 64 to a group, in buckets that never move.
///
/// # Invariants
///
/// - S1: `buckets[b]` is null or points to `bucket_len(b)` groups; it goes
///   from null to non-null once (by CAS) and is freed only by `Drop`. The
///   group of position `p` is group `p / 64`, found through `locate`.
struct Level {
    buckets: [AtomicPtr<Group>; BUCKETS],
}

impl Level {
    const_fn_unless_loom! {
        const fn new() -> Self {
            Level {
                buckets: null_ptr_array(),
            }
        }
    }

    /// The group and mask of `position`, allocating its bucket on first
    /// use.
    #[inline]
    fn place(&self, position: usize) -> (*const Group, usize) {
        let (bucket, offset) = locate(position / BITS);
        // Acquire [summary-publish]: the groups' construction happens-before
        // the `mark`s and `clear`s made through the returned `Bit`. Every
        // caller has acquired it already, through its local's bucket (B3 of
        // `Locals`) or a scan's own load; this keeps `place` self-standing.
        let mut groups = self.buckets[bucket].load(Ordering::Acquire);
        if groups.is_null() {
            groups = self.allocate(bucket);
        }
        // SAFETY: S1: a non-null bucket holds `bucket_len(bucket)` groups
        // and `offset` is below that.
        (unsafe { groups.add(offset) }, 1 << (position % BITS))
    }

    #[cold]
    fn allocate(&self, bucket: usize) -> *mut Group {
        let fresh: Box<[Group]> = (0..bucket_len(bucket)).map(|_| Group::new()).collect();
        let fresh = Box::into_raw(fresh).cast::<Group>();
        // Release [summary-publish]: the groups built above happen-before
        // any thread that loads this pointer. Acquire on failure: the
        // winner's groups become visible to us in the same way.
        match self.buckets[bucket].compare_exchange(
            ptr::null_mut(),
            fresh,
            Ordering::Release,
            Ordering::Acquire,
        ) {
            Ok(_) => fresh,
            Err(winner) => {
                // SAFETY: `fresh` was never published; it came from a boxed
                // slice of exactly this length.
                drop(unsafe {
                    Box::from_raw(ptr::slice_from_raw_parts_mut(fresh, bucket_len(bucket)))
                });
                winner
            }
        }
    }

    /// The groups of bucket `bucket`, or null if it is not visible yet.
    #[inline]
    fn groups(&self, bucket: usize) -> *const Group {
        // Acquire [summary-publish]: as in `place`.
        self.buckets[bucket].load(Ordering::Acquire)
    }

    /// The positions below `limit` whose bit of `set` is set, starting at
    /// `start` and wrapping around. Each word is loaded when the scan
    /// reaches it.
    fn scan(&self, set: usize, start: usize, limit: usize) -> Scan<'_> {
        let groups = limit.div_ceil(BITS);
        let (first, below_start) = if start < groups * BITS {
            (start / BITS, (1 << (start % BITS)) - 1)
        } else {
            (0, 0)
        };
        Scan {
            level: self,
            set,
            limit,
            groups,
            first,
            below_start,
            step: 0,
            group: 0,
            bits: 0,
            window: Window::default(),
        }
    }
}

impl Drop for Level {
    fn drop(&mut self) {
        for (bucket, groups) in self.buckets.iter().enumerate() {
            // Relaxed [exclusive]: `&mut self`; no other thread is left.
            let groups = groups.load(Ordering::Relaxed);
            if !groups.is_null() {
                // SAFETY: S1: allocated in `allocate` as a boxed slice of
                // this length and freed only here, once.
                drop(unsafe {
                    Box::from_raw(ptr::slice_from_raw_parts_mut(groups, bucket_len(bucket)))
                });
            }
        }
    }
}

/// The groups of the bucket a scan read last (null if it was not visible),
/// so that a scan loads each bucket's pointer once, not each group's.
struct Window {
    range: std::ops::Range<usize>,
    groups: *const Group,
}

impl Default for Window {
    fn default() -> Self {
        Window {
            range: 0..0,
            groups: ptr::null(),
        }
    }
}

impl Window {
    /// Set `set` of group `group` of `level`, or 0 if the group is not
    /// visible yet.
    #[inline]
    fn word(&mut self, level: &Level, group: usize, set: usize) -> usize {
        if !self.range.contains(&group) {
            let (bucket, _) = locate(group);
            self.range = first_group(bucket)..first_group(bucket) + bucket_len(bucket);
            self.groups = level.groups(bucket);
        }
        if self.groups.is_null() {
            return 0;
        }
        // SAFETY: S1: the window holds a whole non-null bucket, `group` is
        // in it, and buckets live as long as their level.
        let group = unsafe { &*self.groups.add(group - self.range.start) };
        // Relaxed [summary-scan]: a hint of where to look; the pop that
        // follows and the `clear` acquire what the owner pushed. A stale
        // word only skips a chain whose push is racing this scan, or visits
        // one that is empty.
        group.sets[set].load(Ordering::Relaxed)
    }
}

/// The scan made by [`Level::scan`]: the first group from `start`'s bit
/// up, every later group, every earlier group, then the first group's bits
/// below `start`.
struct Scan<'a> {
    level: &'a Level,
    set: usize,
    /// Positions from here on are not scanned (the last word may hold some).
    limit: usize,
    groups: usize,
    first: usize,
    below_start: usize,
    /// Words loaded so far (`groups + 1` in all).
    step: usize,
    /// The group whose remaining positions are `bits`.
    group: usize,
    bits: usize,
    window: Window,
}

impl Iterator for Scan<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        loop {
            if self.bits != 0 {
                let position = self.group * BITS + self.bits.trailing_zeros() as usize;
                self.bits &= self.bits - 1;
                if position < self.limit {
                    return Some(position);
                }
                continue;
            }
            if self.step > self.groups || self.groups == 0 {
                return None;
            }
            let (group, mask) = match self.step {
                0 => (self.first, !self.below_start),
                step if step == self.groups => (self.first, self.below_start),
                step if self.first + step < self.groups => (self.first + step, !0),
                step => (self.first + step - self.groups, !0),
            };
            self.step += 1;
            if mask != 0 {
                self.group = group;
                self.bits = self.window.word(self.level, group, self.set) & mask;
            }
        }
    }
}

/// The summary of one pool: a lower level with a bit per (thread index,
/// set), and an upper level with a bit per (group of 64 indices, set)
/// meaning "this group's word may be non-zero", so that a scan reads
/// one upper word per 4096 thread indices plus the lower words it names.
///
/// # Invariants
///
/// - S2: bit `i` of half `h` in `chains` is set (by `fetch_or`) by the owner
///   of index `i` after a push into an empty ring of its chain `h`, and
///   cleared (by `fetch_and`) only by a thread that found that chain empty
///   and looks at it once more afterwards, setting it again if that look
///   found a value. Every write to a word is a read-modify-write, so no set
///   is lost to another index's clear.
/// - S3: bit `g` of half `h` in `groups` is set by every thread whose
///   `fetch_or` took word `g` of `chains` from zero to non-zero, after it,
///   and cleared only by a thread whose `fetch_and` took that word to zero,
///   which then reads the word again and sets the bit back if it is
///   non-zero. The same protocol as S2, one level up, with "the word is
///   non-zero" in place of "the chain holds a value".
/// - S4: while chain `h` of local `i` holds a value, bit `i` of half `h` is
///   set and so is its group's bit, or some thread is between a `fetch_or`
///   and the one that follows it, or between a clear and its second look.
/// - S5: the set `PRIVATE_SLOTS` follows the same rules, with "the private
///   slot is listed" in place of "the chain holds a value": the owner sets
///   bit `i` before it lists its slot, or after a fill that a cleanup's
///   unlisting may have raced, and a cleanup clears it after unlisting the
///   slot, then looks at the slot once more (`private_slot` P7).
pub(crate) struct Summary {
    chains: Level,
    groups: Level,
}

// SAFETY: the levels hold only atomics, and are freed only by `Drop`
// (`&mut self`).
unsafe impl Send for Summary {}
// SAFETY: as for `Send`.
unsafe impl Sync for Summary {}

impl Summary {
    const_fn_unless_loom! {
        pub(crate) const fn new() -> Self {
            Summary {
                chains: Level::new(),
                groups: Level::new(),
            }
        }
    }

    /// The bits of thread `index`, allocating their groups on first use.
    #[inline]
    pub(crate) fn bit(&self, index: usize) -> Bit {
        let (group, mask) = self.chains.place(index);
        let (top, top_mask) = self.groups.place(index / BITS);
        Bit {
            group,
            mask,
            top,
            top_mask,
        }
    }

    /// The thread indices below `limit` whose bit of `set` is set (chain
    /// `set` may hold values, or the private slot is listed),
    /// starting at `start` and wrapping around (Go's order, restricted to
    /// candidates): the upper level names the groups to read.
    pub(crate) fn candidates(&self, set: usize, start: usize, limit: usize) -> Candidates<'_> {
        let groups = limit.div_ceil(BITS);
        let (first, below_start) = if start < groups * BITS {
            (start / BITS, (1 << (start % BITS)) - 1)
        } else {
            (0, 0)
        };
        Candidates {
            chains: &self.chains,
            set,
            named: self.groups.scan(set, first, groups),
            first,
            below_start,
            tail: false,
            group: 0,
            bits: 0,
            window: Window::default(),
        }
    }

    /// Whether [`candidates`](Self::candidates) of `set` below `limit`
    /// may name anything: `false` when those indices fit in the upper
    /// level's first group (4096 indices) and its word of `set` is zero,
    /// which is the one word such a scan would read first. Lets a miss
    /// skip setting the scan up.
    #[inline]
    pub(crate) fn may_name_any(&self, set: usize, limit: usize) -> bool {
        if limit > BITS * BITS {
            return true;
        }
        let groups = self.groups.groups(0);
        if groups.is_null() {
            return false;
        }
        // SAFETY: S1: a non-null bucket lives as long as its level;
        // bucket 0 holds upper group 0.
        let group = unsafe { &*groups };
        // Relaxed [summary-scan]: as in `Window::word`, whose load this is.
        group.sets[set].load(Ordering::Relaxed) != 0
    }
}

impl fmt::Debug for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Summary").finish_non_exhaustive()
    }
}

/// The scan made by [`Summary::candidates`]: the groups the upper level
/// names, in order from the start's group and wrapping (in the start's
/// group only the bits from the start up), then the start's group's bits
/// below the start.
pub(crate) struct Candidates<'a> {
    chains: &'a Level,
    set: usize,
    named: Scan<'a>,
    first: usize,
    below_start: usize,
    /// Whether the first group's bits below the start are still to read:
    /// only if the upper level named the first group (a word that it did
    /// not name is skipped like every other unnamed word).
    tail: bool,
    /// The group whose remaining candidates are `bits`.
    group: usize,
    bits: usize,
    window: Window,
}

impl Iterator for Candidates<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        loop {
            if self.bits != 0 {
                let bit = self.bits.trailing_zeros() as usize;
                self.bits &= self.bits - 1;
                return Some(self.group * BITS + bit);
            }
            let (group, mask) = match self.named.next() {
                Some(group) if group == self.first => {
                    self.tail = true;
                    (group, !self.below_start)
                }
                Some(group) => (group, !0),
                None if self.tail && self.below_start != 0 => {
                    self.tail = false;
                    (self.first, self.below_start)
                }
                None => return None,
            };
            self.group = group;
            self.bits = self.window.word(self.chains, group, self.set) & mask;
        }
    }
}

/// One local's place in the summary: its bit in the lower level, and its
/// group's bit in the upper level.
///
/// Valid as long as the [`Summary`] that made it (S1): the pool's locals,
/// which hold it, are dropped no later than the summary.
pub(crate) struct Bit {
    group: *const Group,
    mask: usize,
    top: *const Group,
    top_mask: usize,
}

// SAFETY: the pointers are to atomics that live as long as the summary,
// which outlives every local holding a `Bit` (see the type's comment).
unsafe impl Send for Bit {}
// SAFETY: as for `Send`; every access is atomic.
unsafe impl Sync for Bit {}

impl Bit {
    fn word(&self, set: usize) -> &AtomicUsize {
        // SAFETY: see the type's comment: the group outlives `self`.
        unsafe { &(*self.group).sets[set] }
    }

    fn top_word(&self, set: usize) -> &AtomicUsize {
        // SAFETY: as in `word`.
        unsafe { &(*self.top).sets[set] }
    }

    /// The owner's side: chain `set` may have gone from empty to
    /// non-empty (called after the push, never before it), or its private
    /// slot is listed.
    #[inline]
    pub(crate) fn mark(&self, set: usize) {
        // Release [summary-mark]: the push just made (or, for a private
        // slot, the fill) happens-before the thief (the cleanup) whose
        // `clear` reads this write or a later one in its release sequence,
        // which holds only read-modify-writes (S2, S5), so its second look
        // sees the value.
        if self.word(set).fetch_or(self.mask, Ordering::Release) == 0 {
            self.mark_group(set);
        }
    }

    /// This thread's `fetch_or` took the group's word from zero to
    /// non-zero: the upper level must name the group (S3).
    #[cold]
    fn mark_group(&self, set: usize) {
        // Release [summary-group]: the `fetch_or` just made on the group's
        // word happens-before the thread whose group clear reads this
        // write (or a later read-modify-write), so its reread of the
        // group's word sees it non-zero.
        self.top_word(set)
            .fetch_or(self.top_mask, Ordering::Release);
    }

    /// A thief's side: chain `set` was found empty (or a cleanup's: it
    /// unlisted the private slot). The caller must look
    /// at the chain once more afterwards, and `remark` if it finds a value.
    #[inline]
    pub(crate) fn clear(&self, set: usize) {
        // Acquire [summary-mark]: pairs with `mark`; every push (or fill)
        // whose mark precedes this clear is visible to the second look
        // that follows.
        let before = self.word(set).fetch_and(!self.mask, Ordering::Acquire);
        if before == self.mask {
            self.clear_group(set);
        }
    }

    /// This thread's `fetch_and` took the group's word to zero: clear the
    /// group's upper bit, read the word again, and set the bit back if the
    /// word is non-zero by then (S3).
    #[cold]
    fn clear_group(&self, set: usize) {
        // Acquire [summary-group]: pairs with `mark_group`; every
        // zero-to-non-zero `fetch_or` on the word whose upper mark precedes
        // this clear is visible to the reread below.
        self.top_word(set)
            .fetch_and(!self.top_mask, Ordering::Acquire);
        // Relaxed [summary-group-reread]: what it must see was acquired by
        // the clear above; the chains' contents are not read through it.
        if self.word(set).load(Ordering::Relaxed) != 0 {
            self.mark_group(set);
        }
    }

    /// A thief's second look found a value after its `clear`: the chain may
    /// hold more, so the bit goes back.
    #[inline]
    pub(crate) fn remark(&self, set: usize) {
        // Relaxed [summary-remark]: publishes nothing of its own (the
        // values were pushed by the owner); as a read-modify-write it stays
        // in the release sequence of the marks before it, so a later
        // `clear` that reads it still acquires their pushes. The upper
        // mark that may follow is Release (summary-group): it must carry
        // this write.
        if self.word(set).fetch_or(self.mask, Ordering::Relaxed) == 0 {
            self.mark_group(set);
        }
    }
}

impl fmt::Debug for Bit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bit")
            .field("mask", &self.mask)
            .field("top_mask", &self.top_mask)
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn scan(summary: &Summary, set: usize, start: usize, limit: usize) -> Vec<usize> {
        summary.candidates(set, start, limit).collect()
    }

    #[test]
    fn a_scan_of_an_empty_set_is_skipped_only_when_it_would_name_nothing() {
        let summary = Summary::new();
        assert!(!summary.may_name_any(1, 64), "nothing marked yet");
        let bit = summary.bit(4000);
        bit.mark(1);
        assert!(summary.may_name_any(1, 4096));
        assert!(!summary.may_name_any(0, 4096), "only set 1 was marked");
        // Past the upper level's first group the answer is always yes.
        assert!(summary.may_name_any(0, 4097));
        bit.clear(1);
        assert!(
            !summary.may_name_any(1, 4096),
            "the clear emptied the group"
        );
        assert_eq!(scan(&summary, 1, 0, 4096), Vec::<usize>::new());
    }

    #[test]
    fn candidates_start_at_the_given_index_and_wrap_around() {
        let summary = Summary::new();
        let bits: Vec<Bit> = [0, 3, 63, 64, 130, 200].map(|i| summary.bit(i)).into();
        for bit in &bits {
            bit.mark(1);
        }
        assert_eq!(scan(&summary, 0, 0, 256), Vec::<usize>::new());
        assert_eq!(scan(&summary, 1, 0, 256), [0, 3, 63, 64, 130, 200]);
        assert_eq!(scan(&summary, 1, 4, 256), [63, 64, 130, 200, 0, 3]);
        assert_eq!(scan(&summary, 1, 64, 256), [64, 130, 200, 0, 3, 63]);
        assert_eq!(scan(&summary, 1, 131, 256), [200, 0, 3, 63, 64, 130]);
        // A start past the limit scans from 0; the limit cuts whole groups.
        assert_eq!(scan(&summary, 1, 1000, 129), [0, 3, 63, 64, 130]);
        bits[1].clear(1);
        bits[4].clear(1);
        assert_eq!(scan(&summary, 1, 3, 256), [63, 64, 200, 0]);
        bits[1].remark(1);
        assert_eq!(scan(&summary, 1, 3, 256), [3, 63, 64, 200, 0]);
    }

    #[test]
    fn groups_map_to_consecutive_bucket_slots() {
        assert_eq!(locate(0), (0, 0));
        assert_eq!(locate(1), (1, 0));
        assert_eq!(locate(2), (1, 1));
        assert_eq!(locate(3), (2, 0));
        assert_eq!(locate(6), (2, 3));
        assert_eq!(locate(7), (3, 0));
        assert_eq!(first_group(3) + bucket_len(3), first_group(4));
        let last = (usize::MAX - 1) / BITS;
        assert!(locate(last).0 < BUCKETS && locate(last).1 < bucket_len(locate(last).0));
    }

    #[test]
    fn a_scan_crosses_buckets_in_both_directions() {
        let summary = Summary::new();
        let bits: Vec<Bit> = [1, 600, 1600, 4000].map(|i| summary.bit(i)).into();
        for bit in &bits {
            bit.mark(0);
        }
        assert_eq!(scan(&summary, 0, 1601, 4096), [4000, 1, 600, 1600]);
        assert_eq!(scan(&summary, 0, 0, 1000), [1, 600]);
    }

    #[test]
    fn a_group_is_named_by_the_upper_level_while_any_of_its_bits_is_set() {
        let summary = Summary::new();
        let (five, six) = (summary.bit(5), summary.bit(6));
        five.mark(0);
        six.mark(0);
        five.clear(0);
        assert_eq!(scan(&summary, 0, 0, 64), [6]);
        six.clear(0);
        assert_eq!(scan(&summary, 0, 0, 64), Vec::<usize>::new());
        six.remark(0);
        assert_eq!(scan(&summary, 0, 7, 64), [6]);
        // Clearing a bit that is not set leaves the group named.
        five.clear(0);
        assert_eq!(scan(&summary, 0, 0, 64), [6]);
    }

    #[test]
    fn a_group_not_yet_allocated_has_no_candidates() {
        let summary = Summary::new();
        summary.bit(5).mark(0);
        assert_eq!(scan(&summary, 0, 0, 10_000), [5]);
    }
}

//! The instruction groups: instructions per pair under callgrind.
//!
//! `put-take-instructions/<payload>/1t` counts the pool groups' put + take
//! loop for every contender; `get-guard-instructions/<payload>/1t` the
//! get-guard groups' loop (issue 11). `benches/report/instructions-before.sh`
//! records the same groups for an older commit of the library, which the
//! report shows beside this run's counts.

use super::*;

/// The child side: `pairs` iterations of the pair loop of contender `index`
/// of roster `R` on payload `P`.
pub(crate) fn callgrind_child<P: Payload, R: Roster>(index: usize, pairs_to_run: u64) {
    struct Run {
        index: usize,
        pairs: u64,
        seen: usize,
    }
    impl<P: Payload> Visit<P> for Run {
        fn visit<C: Contender<Payload = P>>(&mut self) {
            if self.seen == self.index {
                let c = C::make();
                let mut handle = c.handle();
                pairs(&c, &mut handle, self.pairs);
            }
            self.seen += 1;
        }
    }
    R::each::<P>(&mut Run {
        index,
        pairs: pairs_to_run,
        seen: 0,
    });
}

/// Parses the child's `<roster>:<variant>:<contender index>:<pairs>` and
/// runs it.
pub(crate) fn callgrind_child_from(spec: &str) {
    let fields: Vec<&str> = spec.split(':').collect();
    let [roster, variant, index, n] = fields[..] else {
        panic!("{CALLGRIND_VAR} must be <roster>:<variant>:<index>:<pairs>, not {spec:?}");
    };
    let index = index.parse().expect("a contender index");
    let n = n.parse().expect("a pair count");
    fn run<R: Roster>(variant: &str, index: usize, n: u64) {
        match variant {
            v if v == <Box<Small>>::VARIANT => callgrind_child::<Box<Small>, R>(index, n),
            v if v == <Box<u64>>::VARIANT => callgrind_child::<Box<u64>, R>(index, n),
            v if v == <Vec<u8>>::VARIANT => callgrind_child::<Vec<u8>, R>(index, n),
            other => panic!("unknown payload variant {other:?}"),
        }
    }
    match roster {
        Everyone::NAME => run::<Everyone>(variant, index, n),
        GuardRows::NAME => run::<GuardRows>(variant, index, n),
        other => panic!("unknown roster {other:?}"),
    }
}

/// Instructions executed by a child doing `n` pairs of contender `index` on
/// roster `roster` on payload `variant`; the callgrind output is kept at `out`.
pub(crate) fn callgrind_run(
    roster: &str,
    variant: &str,
    index: usize,
    n: u64,
    out: &Path,
) -> Option<u64> {
    let exe = std::env::current_exe().ok()?;
    let output = Command::new("valgrind")
        .args(["--tool=callgrind", "--dump-instr=yes", "--dump-line=no"])
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(exe)
        .env(CALLGRIND_VAR, format!("{roster}:{variant}:{index}:{n}"))
        .output()
        .ok()?;
    if !output.status.success() {
        eprintln!(
            "callgrind failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        return None;
    }
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .find_map(|line| {
            line.split_once("Collected :")
                .map(|(_, n)| n.trim().to_string())
        })
        .and_then(|n| n.parse().ok())
}

/// Parses a number of a callgrind file (decimal, or hex after `0x`).
pub(crate) fn callgrind_number(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Self cost (instructions) per instruction address of object `exe`, from a
/// callgrind output written with `--dump-instr=yes --dump-line=no`; `None`
/// unless the self costs of all objects add up to the file's total.
pub(crate) fn callgrind_costs(out: &Path, exe: &str) -> Option<HashMap<u64, u64>> {
    let text = std::fs::read_to_string(out).ok()?;
    let mut objects: HashMap<String, String> = HashMap::new();
    let (mut in_exe, mut position, mut after_calls) = (false, 0_u64, false);
    let (mut costs, mut total, mut expected) = (HashMap::new(), 0_u64, None);
    for line in text.lines() {
        if let Some((key, object)) = line
            .strip_prefix("ob=")
            .map(|o| ("ob", o))
            .or(line.strip_prefix("cob=").map(|o| ("cob", o)))
        {
            // "(id) name" defines an id (in `ob=` or a call's `cob=`), "(id)"
            // refers to one.
            let (id, name) = match object.strip_prefix('(') {
                Some(rest) => rest
                    .split_once(')')
                    .map(|(id, n)| (id.to_string(), n.trim()))?,
                None => (object.to_string(), object),
            };
            if !name.is_empty() {
                objects.insert(id.clone(), name.to_string());
            }
            if key == "ob" {
                in_exe = objects.get(&id).is_some_and(|name| name == exe);
            }
        } else if let Some(sum) = line
            .strip_prefix("summary:")
            .or(line.strip_prefix("totals:"))
        {
            expected = sum.trim().parse::<u64>().ok();
        } else if line.starts_with("calls=") {
            // The next cost line is the call's inclusive cost, not self cost.
            after_calls = true;
        } else if line.starts_with(|c: char| c.is_ascii_digit() || "+-*".contains(c)) {
            let mut fields = line.split_whitespace();
            let at = fields.next()?;
            position = match at.as_bytes()[0] {
                b'*' => position,
                b'+' => position + callgrind_number(&at[1..])?,
                b'-' => position - callgrind_number(&at[1..])?,
                _ => callgrind_number(at)?,
            };
            let cost = fields.next().map_or(Some(0), callgrind_number)?;
            if !after_calls {
                total += cost;
                if in_exe {
                    *costs.entry(position).or_insert(0) += cost;
                }
            }
            after_calls = false;
        }
    }
    (Some(total) == expected).then_some(costs)
}

/// Instructions executed at addresses of `exe` whose inline chain (by
/// `addr2line -i -f -C`: functions and source lines) mentions one of `marks`.
pub(crate) fn instructions_inlined_from(out: &Path, exe: &Path, marks: &[&str]) -> Option<u64> {
    let costs = callgrind_costs(out, exe.to_str()?)?;
    let mut child = Command::new("addr2line")
        .args(["-a", "-i", "-f", "-C", "-e"])
        .arg(exe)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    let addresses: String = costs.keys().map(|a| format!("{a:#x}\n")).collect();
    let mut stdin = child.stdin.take()?;
    let writer = thread::spawn(move || stdin.write_all(addresses.as_bytes()));
    let output = child.wait_with_output().ok()?;
    writer.join().ok()?.ok()?;
    let mut total = 0;
    let mut current: Option<u64> = None;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        if let Some(address) = line.strip_prefix("0x") {
            current = u64::from_str_radix(address, 16).ok();
        } else if let Some(address) = current {
            if marks.iter().any(|mark| line.contains(mark)) {
                total += costs.get(&address).copied().unwrap_or(0);
                // Count each address once, however deep the chain.
                current = None;
            }
        }
    }
    Some(total)
}

pub(crate) fn instructions() {
    if mode() == Mode::Test {
        return;
    }
    let available = Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let put_take = |payload: &str| {
        format!("Instructions per put + take pair (one thread, the loop of `pool/{payload}/1t`)")
    };
    instructions_of::<Box<Small>, Everyone>("put-take", &put_take("small"), available);
    instructions_of::<Vec<u8>, Everyone>("put-take", &put_take("buf4k"), available);
    let guard = |payload: &str| {
        format!(
            "Instructions per iteration of `get-guard/{payload}/1t` (one thread: a get and a \
             write through the guard, then its drop; for `take() + put()`, a take, a write \
             and a put)"
        )
    };
    instructions_of::<Box<u64>, GuardRows>("get-guard", &guard("box-u64"), available);
    instructions_of::<Vec<u8>, GuardRows>("get-guard", &guard("buf4k"), available);
}

/// The group `<workload>-instructions/<payload>/1t`: roster `R`'s pair loop
/// under callgrind; `what` opens its description.
pub(crate) fn instructions_of<P: Payload, R: Roster>(workload: &str, what: &str, available: bool) {
    let id = format!("{workload}-instructions/{}/1t", P::VARIANT);
    if !selected(&id) {
        return;
    }
    let (n1, n2) = match mode() {
        Mode::Quick => (20_000, 40_000),
        _ => (100_000, 200_000),
    };
    if !available {
        extra::describe_group(
            &id,
            "Skipped: `valgrind` is not installed (apt-get install valgrind), so the \
             instruction counts are missing from this run.",
        );
        println!("{id}: valgrind not found, skipped");
        return;
    }
    extra::describe_group(
        &id,
        &format!(
            "{what}, counted by `valgrind --tool=callgrind` as the difference between runs \
             of {n2} and {n1} iterations, divided by {}: deterministic, unlike the timings. \
             For victim-pool rows, `stats-instr/pair` counts the executed instructions whose \
             inline chain (debug info, `addr2line -i`) passes through `src/pool/stats.rs` \
             or `Pool::count`: the owner-written counters an iteration bumps and the choice \
             of counter set. `stats-share-%` is their share of the iteration: the cost of \
             the statistics, which are always on (issue 4 asks for at most 10%). Not \
             measured: what the pair would cost if the compiler laid it out without them, \
             and time: atomics and cache misses cost more than their count says.",
            n2 - n1
        ),
    );
    let names = roster_names::<P, R>();
    extra::row_order(&id, &names);
    let dir = std::env::temp_dir().join(format!("victim-pool-callgrind-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    for (index, name) in names.into_iter().enumerate() {
        let (out1, out2) = (
            dir.join(format!("{index}-1")),
            dir.join(format!("{index}-2")),
        );
        let (Some(ir1), Some(ir2)) = (
            callgrind_run(R::NAME, P::VARIANT, index, n1, &out1),
            callgrind_run(R::NAME, P::VARIANT, index, n2, &out2),
        ) else {
            extra::not_expressible(&id, name, "callgrind failed for this contender");
            continue;
        };
        let per_pair = (ir2 as f64 - ir1 as f64) / (n2 - n1) as f64;
        let mut metrics = vec![("instr/pair", per_pair)];
        if name.starts_with("victim-pool") {
            let exe = std::env::current_exe().expect("this executable's path");
            let marks = ["src/pool/stats.rs", "victim_pool::pool::Pool<T,F>::count"];
            let stats = instructions_inlined_from(&out1, &exe, &marks)
                .zip(instructions_inlined_from(&out2, &exe, &marks))
                .map(|(s1, s2)| (s2 as f64 - s1 as f64) / (n2 - n1) as f64);
            if let Some(stats) = stats {
                metrics.push(("stats-instr/pair", stats));
                metrics.push(("stats-share-%", 100.0 * stats / per_pair));
            }
        }
        println!("{id}/{name}: {metrics:?}");
        extra::metrics(&id, name, &metrics);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// SPDX-License-Identifier: GPL-2.0

//! The lookup benchmark, in the style of `kernel/rcu/refscale.c`: what a lookup → unpin
//! costs in each mode, measured against floors in the same boot.
//!
//! `/sys/kernel/debug/drvreg/bench/run` takes `<mode> <threads> <loops> <name>...`. One kernel
//! thread per benchmark thread, bound to online CPU `i % online`, looks up
//! `names[i % names]`: a warm-up of `loops / 10` iterations, a start barrier, then the
//! timed loop of `loops` iterations with no shared counter and no `schedule()` inside
//! (a locked lookup may still sleep on the contended driver lock: that is its cost). The
//! result, in `bench/result`, is `ns_per_op = wall time / (threads × loops)` where the wall
//! time runs from the earliest thread's start to the latest one's end: the inverse of the
//! aggregate throughput.
//!
//! Modes ([`Kind`]; `bench/modes` lists them): `noop` (the empty loop), `unsafe` (the
//! index walk, no lock, no pin), `modref` (the index walk + `try_module_get`/`module_put`:
//! the floor of any lookup that takes a module reference), the kernel's designs `srcu` and
//! `percpu-ref` (see [`crate::designs`]; their names registered through `bench/designs`),
//! and the safe lookup modes `locked`, `rcu`, `twostage`.

use crate::api::compat::Stopwatch;
use crate::api::delay::{sleep_us, yield_now};
use crate::designs::{self, Design, Designs, Op, MAX_RECORDS};
use crate::lookup::{Lookups, Mode};
use crate::registry::Name;
use crate::sys::cpu;
use crate::sys::kthread::{Thread, ThreadCtx};
use core::fmt::Write;
use core::sync::atomic::{
    AtomicI64, AtomicU32, AtomicU64,
    Ordering::{Acquire, Relaxed, Release},
};
use kernel::{c_str, new_mutex, prelude::*, sync::Arc, sync::Mutex};

/// Most benchmark threads.
pub const MAX_THREADS: u32 = 64;
/// Most iterations per thread.
pub const MAX_LOOPS: u64 = 1_000_000_000;

/// What the timed loop does.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Nothing: the loop's own cost.
    Noop,
    /// The lockless index walk, no pin.
    Unsafe,
    /// The index walk + `try_module_get`/`module_put`.
    Modref,
    /// A lookup → unpin in one of the kernel's designs.
    Design(Design),
    /// A lookup → unpin in a safe mode.
    Lookup(Mode),
}

impl Kind {
    /// Every kind `bench/run` takes, in the order of the report's rows: the floors, the
    /// kernel's designs, the safe lookup modes (not racy).
    pub fn all() -> impl Iterator<Item = Kind> {
        let floors = [Self::Noop, Self::Unsafe, Self::Modref].into_iter();
        let designs = Design::ALL.into_iter().map(Self::Design);
        let modes = [Mode::Locked, Mode::Rcu, Mode::Twostage].map(Self::Lookup);
        Iterator::chain(Iterator::chain(floors, designs), modes)
    }

    fn from_name(name: &[u8]) -> Result<Self> {
        Self::all()
            .find(|k| k.as_str().as_bytes() == name)
            .ok_or(EINVAL)
    }

    /// The name `bench/run` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Noop => "noop",
            Self::Unsafe => "unsafe",
            Self::Modref => "modref",
            Self::Design(design) => design.as_str(),
            Self::Lookup(mode) => mode.as_str(),
        }
    }
}

/// A parsed `bench/run` request.
pub struct Request {
    kind: Kind,
    threads: u32,
    loops: u64,
    names: KVec<Name>,
}

impl Request {
    /// Parses `<mode> <threads> <loops> <name>...`: `EINVAL` for anything else (threads
    /// 1..=[`MAX_THREADS`], loops 1..=[`MAX_LOOPS`], 1..=[`MAX_THREADS`] valid names).
    pub fn parse(input: &[u8]) -> Result<Self> {
        let mut words = input
            .split(|c| c.is_ascii_whitespace())
            .filter(|w| !w.is_empty());
        let kind = Kind::from_name(words.next().ok_or(EINVAL)?)?;
        let threads = number(words.next().ok_or(EINVAL)?)?;
        let loops = number(words.next().ok_or(EINVAL)?)?;
        if !(1..=u64::from(MAX_THREADS)).contains(&threads) || !(1..=MAX_LOOPS).contains(&loops) {
            return Err(EINVAL);
        }
        let mut names = KVec::new();
        for w in words {
            if names.len() == MAX_THREADS as usize {
                return Err(EINVAL);
            }
            names.push(Name::new(w)?, GFP_KERNEL)?;
        }
        if names.is_empty() {
            return Err(EINVAL);
        }
        Ok(Self {
            kind,
            threads: threads as u32,
            loops,
            names,
        })
    }
}

/// Parses a `bench/designs` request: `<design> register <prefix> <n>`, `<design>
/// unregister` or `<design> unregister-batch`; `EINVAL` for anything else, for `n` outside
/// 1..=[`MAX_RECORDS`], or if a name `<prefix><n - 1>` would not be valid.
pub fn parse_designs(input: &[u8]) -> Result<(Design, Op)> {
    let mut words = input
        .split(|c| c.is_ascii_whitespace())
        .filter(|w| !w.is_empty());
    let design = Design::from_name(words.next().ok_or(EINVAL)?)?;
    let op = match words.next().ok_or(EINVAL)? {
        b"register" => {
            let prefix = Name::new(words.next().ok_or(EINVAL)?)?;
            let n = number(words.next().ok_or(EINVAL)?)?;
            if !(1..=u64::from(MAX_RECORDS)).contains(&n) {
                return Err(EINVAL);
            }
            // The longest name must be valid; then all are.
            designs::numbered(&prefix, n as u32 - 1)?;
            Op::Register(prefix, n as u32)
        }
        b"unregister" => Op::Unregister,
        b"unregister-batch" => Op::UnregisterBatch,
        _ => return Err(EINVAL),
    };
    if words.next().is_some() {
        return Err(EINVAL);
    }
    Ok((design, op))
}

/// A decimal number without sign or leading zeros, at most 10 digits.
fn number(word: &[u8]) -> Result<u64> {
    if word.is_empty() || word.len() > 10 || (word.len() > 1 && word[0] == b'0') {
        return Err(EINVAL);
    }
    word.iter().try_fold(0u64, |n, &c| match c {
        b'0'..=b'9' => Ok(n * 10 + u64::from(c - b'0')),
        _ => Err(EINVAL),
    })
}

/// The result of a run.
#[derive(Clone, Copy)]
pub struct Outcome {
    kind: Kind,
    threads: u32,
    loops: u64,
    wall_ns: u64,
    errors: u64,
}

impl Outcome {
    /// Writes the `bench/result` line.
    pub fn write(&self, out: &mut impl Write) -> core::fmt::Result {
        let ops = (u64::from(self.threads) * self.loops).max(1);
        // Hundredths of a nanosecond, rounded (a run lasts far less than 5 000 years).
        let centi = (self.wall_ns.saturating_mul(100) + ops / 2) / ops;
        writeln!(
            out,
            "mode={} threads={} loops={} wall_ns={} ops={} ns_per_op={}.{:02} errors={}",
            self.kind.as_str(),
            self.threads,
            self.loops,
            self.wall_ns,
            ops,
            centi / 100,
            centi % 100,
            self.errors
        )
    }
}

/// What the threads of one run share (read-only in the timed loop but for nothing).
struct Run {
    lookups: Arc<Lookups>,
    designs: Arc<Designs>,
    kind: Kind,
    threads: u32,
    loops: u64,
    /// Time zero of the run, for comparable start and end times.
    epoch: Stopwatch,
    ready: AtomicU32,
    done: AtomicU32,
    start_ns: AtomicI64,
    end_ns: AtomicI64,
    errors: AtomicU64,
}

struct Job {
    run: Arc<Run>,
    name: Name,
}

/// `n` iterations of the run's operation on `name`; returns how many failed.
#[inline(never)]
fn iterate(run: &Run, name: &Name, n: u64) -> u64 {
    let reg = run.lookups.registry();
    let mut failed = 0;
    match run.kind {
        Kind::Noop => {
            for i in 0..n {
                core::hint::black_box(i);
            }
        }
        Kind::Unsafe => {
            for _ in 0..n {
                failed += u64::from(!core::hint::black_box(reg.probe(name)));
            }
        }
        Kind::Modref => {
            for _ in 0..n {
                failed += u64::from(!core::hint::black_box(reg.probe_modref(name)));
            }
        }
        Kind::Design(design) => {
            for _ in 0..n {
                // Counted as a lookup mode's outcome is (`Lookups::lookup_in`): the same
                // per-lookup work. The pin drops at once: lookup → unpin.
                let res = run.designs.lookup(design, name);
                reg.count(&res);
                failed += u64::from(res.is_err());
            }
        }
        Kind::Lookup(mode) => {
            for _ in 0..n {
                // The pin drops at once: lookup → unpin.
                failed += u64::from(run.lookups.lookup_in(mode, name, None).is_err());
            }
        }
    }
    failed
}

fn thread_body(ctx: &ThreadCtx, job: &Job) {
    let run = &*job.run;
    iterate(run, &job.name, (run.loops / 10).max(1));
    // The start barrier. Yielding while waiting lets an oversubscribed CPU run the
    // threads that have not arrived yet; a run whose threads could not all be started
    // stops the others here.
    run.ready.fetch_add(1, Release);
    while run.ready.load(Acquire) < run.threads {
        if ctx.should_stop() {
            return;
        }
        yield_now();
    }
    let start = run.epoch.elapsed_ns();
    let failed = iterate(run, &job.name, run.loops);
    let end = run.epoch.elapsed_ns();
    run.start_ns.fetch_min(start, Relaxed);
    run.end_ns.fetch_max(end, Relaxed);
    run.errors.fetch_add(failed, Relaxed);
    run.done.fetch_add(1, Release);
}

/// The benchmark: one run at a time, and the last result.
#[pin_data]
pub struct Bench {
    #[pin]
    last: Mutex<Option<Outcome>>,
    /// The kernel's designs (`bench/designs`).
    pub designs: Arc<Designs>,
}

impl Bench {
    /// No run yet, no design record.
    pub fn new() -> Result<impl PinInit<Self>> {
        let designs = Arc::pin_init(Designs::new()?, GFP_KERNEL)?;
        Ok(pin_init!(Self {
            last <- new_mutex!(None, "drvreg::bench"),
            designs,
        }))
    }

    /// The last run's result, if any.
    pub fn last(&self) -> Option<Outcome> {
        *self.last.lock()
    }

    /// Runs `req` on `lookups` and waits for it; runs are serialised. `ENOENT` if a name is
    /// not registered (checked first, with the lockless index; for a design, in its own).
    pub fn run(&self, lookups: &Arc<Lookups>, req: Request) -> Result<Outcome> {
        let mut last = self.last.lock();
        for name in req.names.iter() {
            let there = match req.kind {
                Kind::Design(design) => self.designs.contains(design, name),
                _ => lookups.registry().probe(name),
            };
            if !there {
                return Err(ENOENT);
            }
        }
        let online = cpu::online().max(1);
        let run = Arc::new(
            Run {
                lookups: lookups.clone(),
                designs: self.designs.clone(),
                kind: req.kind,
                threads: req.threads,
                loops: req.loops,
                epoch: Stopwatch::start(),
                ready: AtomicU32::new(0),
                done: AtomicU32::new(0),
                start_ns: AtomicI64::new(i64::MAX),
                end_ns: AtomicI64::new(i64::MIN),
                errors: AtomicU64::new(0),
            },
            GFP_KERNEL,
        )?;
        let mut threads = KVec::with_capacity(req.threads as usize, GFP_KERNEL)?;
        for i in 0..req.threads {
            let job = Arc::new(
                Job {
                    run: run.clone(),
                    name: req.names[i as usize % req.names.len()],
                },
                GFP_KERNEL,
            )?;
            let cpu = cpu::nth_online(i % online);
            // On failure the threads started so far are stopped as `threads` drops: the
            // barrier never opens for them, and they leave it when asked to stop.
            threads.push(
                Thread::spawn_on(c_str!("bench"), i, cpu, job, thread_body)?,
                GFP_KERNEL,
            )?;
        }
        while run.done.load(Acquire) < req.threads {
            sleep_us(1000);
        }
        drop(threads);
        let wall = run.end_ns.load(Relaxed) - run.start_ns.load(Relaxed);
        let outcome = Outcome {
            kind: req.kind,
            threads: req.threads,
            loops: req.loops,
            wall_ns: u64::try_from(wall).unwrap_or(0).max(1),
            errors: run.errors.load(Relaxed),
        };
        *last = Some(outcome);
        Ok(outcome)
    }
}

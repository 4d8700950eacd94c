// SPDX-License-Identifier: GPL-2.0

//! Stress workers: kernel threads of the core that loop lookup → open → release → unpin.
//!
//! They run driver code only through a [`DriverPin`](crate::registry::DriverPin), like
//! every other caller. Counters are reset at each start (once every worker exists); once
//! the workers are stopped, `iterations == hits + misses + refused + errors` and
//! `opens <= hits`.
//!
//! Each worker owns a reference on the [`Lookups`] it uses, so nothing it touches can go
//! away under it; the workers themselves are owned by [`Stress`], whose drop (at the
//! latest, the core's exit) stops and joins them.

use crate::api::delay::{sleep_us, yield_now};
use crate::lookup::Lookups;
use crate::registry::Name;
use crate::sys::kthread::{Thread, ThreadCtx};
use core::sync::atomic::{
    AtomicBool, AtomicU64,
    Ordering::{Acquire, Relaxed, Release},
};
use kernel::{c_str, new_mutex, prelude::*, sync::Arc, sync::Mutex};

/// Most workers at once.
pub const MAX_THREADS: u32 = 16;

/// Worker counters.
#[derive(Default)]
pub struct Counters {
    /// Loop iterations (lookups).
    pub iterations: AtomicU64,
    /// Lookups that returned a pin.
    pub hits: AtomicU64,
    /// Lookups that found no driver.
    pub misses: AtomicU64,
    /// Lookups refused because the owner was not live.
    pub refused: AtomicU64,
    /// Successful `open` calls (each followed by `release`).
    pub opens: AtomicU64,
    /// Lookups that failed otherwise.
    pub errors: AtomicU64,
}

struct Worker {
    lookups: Arc<Lookups>,
    target: Name,
    counters: Arc<Counters>,
    /// Set once every worker of a start exists: until then none counts anything, so a
    /// start that fails half-way leaves the counters as they were.
    go: AtomicBool,
}

fn work(ctx: &ThreadCtx, w: &Worker) {
    while !w.go.load(Acquire) {
        if ctx.should_stop() {
            return;
        }
        sleep_us(1000);
    }
    let c = &*w.counters;
    while !ctx.should_stop() {
        c.iterations.fetch_add(1, Relaxed);
        match w.lookups.lookup(&w.target, None) {
            Ok(pin) => {
                c.hits.fetch_add(1, Relaxed);
                // An `open` that fails shows as `hits - opens`.
                if pin.open().is_ok() {
                    c.opens.fetch_add(1, Relaxed);
                    pin.release();
                }
                // `pin` drops here: unpin, then the module reference is put.
            }
            Err(e) if e == ENOENT => {
                c.misses.fetch_add(1, Relaxed);
                // The target is not loaded: let the loader in.
                sleep_us(50);
            }
            Err(e) if e == ENODEV => {
                c.refused.fetch_add(1, Relaxed);
            }
            Err(_) => {
                c.errors.fetch_add(1, Relaxed);
            }
        }
        yield_now();
    }
}

struct Ctl {
    threads: u32,
    target: Name,
    running: KVec<Thread<Worker>>,
}

/// The set of stress workers and their settings. Dropping it stops and joins the workers.
#[pin_data]
pub struct Stress {
    #[pin]
    ctl: Mutex<Ctl>,
    counters: Arc<Counters>,
}

impl Stress {
    /// Stopped; 2 workers; target `sample0`.
    pub fn new() -> Result<impl PinInit<Self>> {
        let ctl = Ctl {
            threads: 2,
            target: Name::new(b"sample0")?,
            running: KVec::new(),
        };
        let counters = Arc::new(Counters::default(), GFP_KERNEL)?;
        Ok(pin_init!(Self { ctl <- new_mutex!(ctl, "drvreg::stress"), counters }))
    }

    /// The counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Whether workers are running.
    pub fn running(&self) -> bool {
        !self.ctl.lock().running.is_empty()
    }

    /// Number of workers to start.
    pub fn threads(&self) -> u32 {
        self.ctl.lock().threads
    }

    /// Sets the number of workers: `EINVAL` outside 1..=[`MAX_THREADS`], `EBUSY` while
    /// running.
    pub fn set_threads(&self, n: u32) -> Result {
        if !(1..=MAX_THREADS).contains(&n) {
            return Err(EINVAL);
        }
        let mut ctl = self.ctl.lock();
        if !ctl.running.is_empty() {
            return Err(EBUSY);
        }
        ctl.threads = n;
        Ok(())
    }

    /// The driver name the workers look up.
    pub fn target(&self) -> Name {
        self.ctl.lock().target
    }

    /// Sets the target: `EBUSY` while running.
    pub fn set_target(&self, target: Name) -> Result {
        let mut ctl = self.ctl.lock();
        if !ctl.running.is_empty() {
            return Err(EBUSY);
        }
        ctl.target = target;
        Ok(())
    }

    /// Starts the workers on `lookups` with fresh counters (no-op if running). On failure
    /// nothing changed: no worker runs and the counters are as they were (the workers are
    /// all created, waiting, before the counters are reset and they are let go).
    pub fn start(&self, lookups: &Arc<Lookups>) -> Result {
        let mut ctl = self.ctl.lock();
        if !ctl.running.is_empty() {
            return Ok(());
        }
        let worker = Arc::new(
            Worker {
                lookups: lookups.clone(),
                target: ctl.target,
                counters: self.counters.clone(),
                go: AtomicBool::new(false),
            },
            GFP_KERNEL,
        )?;
        let mut running = KVec::with_capacity(ctl.threads as usize, GFP_KERNEL)?;
        for i in 0..ctl.threads {
            // On failure `running` drops: the workers made so far stop before counting.
            running.push(
                Thread::spawn(c_str!("stress"), i, worker.clone(), work)?,
                GFP_KERNEL,
            )?;
        }
        let c = &*self.counters;
        for counter in [
            &c.iterations,
            &c.hits,
            &c.misses,
            &c.refused,
            &c.opens,
            &c.errors,
        ] {
            counter.store(0, Relaxed);
        }
        worker.go.store(true, Release);
        ctl.running = running;
        Ok(())
    }

    /// Stops the workers and waits for each to exit (no-op if stopped).
    pub fn stop(&self) {
        let mut ctl = self.ctl.lock();
        // Dropping the handles stops and joins every worker; workers never take `ctl`, and
        // holding it keeps a concurrent start from overlapping with the old workers.
        ctl.running = KVec::new();
    }
}

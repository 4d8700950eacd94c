// SPDX-License-Identifier: GPL-2.0

//! Lookup modes: which lookup `/sys/kernel/debug/drvreg/lookup`, `status`, the stress workers
//! and `drvreg_get()` use.
//!
//! - `locked`: [`Registry::lookup_locked`], the fix (default);
//! - `rcu`: [`Registry::lookup_rcu`], lockless, with a module reference;
//! - `twostage`: [`Registry::lookup_twostage`], lockless, per-CPU pins, no module
//!   reference (the owner's exit waits for the pins instead);
//! - `racy`: `racy::lookup`, Mochel's 2002 pattern; selectable only when the core was
//!   loaded with `allow_racy=1`.
//!
//! Every lookup's outcome is counted once, here.

use crate::registry::{DriverPin, Name, Registry};
use crate::sys::module_ref::Owner;
use crate::sys::sysfs::{Dir, Group};
use crate::sys::trace;
use core::sync::atomic::{AtomicU32, AtomicU8, Ordering::Relaxed};
use kernel::prelude::*;

/// How lookups take the owner reference; see `/sys/kernel/drvreg/mode`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Scan and `try_module_get` under the driver lock: the fix.
    Locked = 0,
    /// Mochel's 2002 pattern: scan under the lock, take the reference after dropping it.
    /// Unsound; only selectable when the core was loaded with `allow_racy=1`.
    Racy = 1,
    /// RCU index walk, `try_module_get` on a live owner, pin counted unless dying.
    Rcu = 2,
    /// RCU index walk, per-CPU pin, no module reference: Rusty Russell's two-stage design.
    Twostage = 3,
}

impl Mode {
    /// Every mode, in the order of their numbers.
    const ALL: [Mode; 4] = [Mode::Locked, Mode::Racy, Mode::Rcu, Mode::Twostage];
}

impl Mode {
    /// The name used in sysfs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Locked => "locked",
            Self::Racy => "racy",
            Self::Rcu => "rcu",
            Self::Twostage => "twostage",
        }
    }

    /// The mode named `name` (as written to sysfs), or `EINVAL`.
    pub fn from_name(name: &[u8]) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str().as_bytes() == name)
            .ok_or(EINVAL)
    }
}

/// Largest accepted race window (one second).
pub const RACE_WINDOW_MAX_US: u32 = 1_000_000;

/// The registry and how it is looked up. Shared (in an `Arc`) by the core's entry points
/// and its stress workers.
#[pin_data]
pub struct Lookups {
    #[pin]
    registry: Registry,
    mode: AtomicU8,
    race_window_us: AtomicU32,
    /// Whether `Mode::Racy` may be selected (`allow_racy=1` at load).
    allow_racy: bool,
}

impl Lookups {
    /// A new, empty registry in locked mode.
    pub fn new(
        drivers_dir: Dir,
        driver_attrs: &'static Group,
        allow_racy: bool,
    ) -> Result<impl PinInit<Self>> {
        let registry = Registry::new(drivers_dir, driver_attrs)?;
        Ok(pin_init!(Self {
            registry <- registry,
            mode: AtomicU8::new(Mode::Locked as u8),
            race_window_us: AtomicU32::new(0),
            allow_racy,
        }))
    }

    /// The registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The current lookup mode.
    pub fn mode(&self) -> Mode {
        // A plain match: this runs on every lookup.
        match self.mode.load(Relaxed) {
            1 => Mode::Racy,
            2 => Mode::Rcu,
            3 => Mode::Twostage,
            _ => Mode::Locked,
        }
    }

    /// The modes that [`Lookups::set_mode`] accepts, in the order of their numbers: racy
    /// only when loaded with `allow_racy=1`.
    pub fn modes(&self) -> impl Iterator<Item = Mode> + '_ {
        Mode::ALL
            .into_iter()
            .filter(move |&m| m != Mode::Racy || self.allow_racy)
    }

    /// Selects the lookup mode: `EPERM` for racy unless loaded with `allow_racy=1`.
    pub fn set_mode(&self, mode: Mode) -> Result {
        if mode == Mode::Racy && !self.allow_racy {
            return Err(EPERM);
        }
        self.mode.store(mode as u8, Relaxed);
        Ok(())
    }

    /// The injected delay between finding a driver and pinning its owner.
    pub fn race_window_us(&self) -> u32 {
        self.race_window_us.load(Relaxed)
    }

    /// Sets the race window; `EINVAL` above [`RACE_WINDOW_MAX_US`].
    pub fn set_race_window_us(&self, us: u32) -> Result {
        if us > RACE_WINDOW_MAX_US {
            return Err(EINVAL);
        }
        self.race_window_us.store(us, Relaxed);
        Ok(())
    }

    /// Looks `name` up and pins it for `caller` in the current mode: see
    /// [`Registry::lookup_locked`] for the errors.
    pub fn lookup(&self, name: &Name, caller: Option<Owner>) -> Result<DriverPin<'_>> {
        self.lookup_in(self.mode(), name, caller)
    }

    /// Looks `name` up in `mode` (the benchmark runs each mode by name), counting the
    /// outcome. `EPERM` for racy mode unless loaded with `allow_racy=1`.
    pub fn lookup_in(
        &self,
        mode: Mode,
        name: &Name,
        caller: Option<Owner>,
    ) -> Result<DriverPin<'_>> {
        if mode == Mode::Racy && !self.allow_racy {
            return Err(EPERM);
        }
        let window = self.race_window_us();
        let reg = &self.registry;
        trace::lookup_start(mode.as_str(), name.as_bytes());
        let res = match mode {
            Mode::Locked => reg.lookup_locked(name, caller, window),
            Mode::Rcu => reg.lookup_rcu(name, caller, window),
            Mode::Twostage => reg.lookup_twostage(name, caller, window),
            // SAFETY: Not safe at all, on purpose: racy mode can only be used when the core
            // was loaded with `allow_racy=1` (checked above), to demonstrate the 2002 crash.
            Mode::Racy => unsafe { crate::racy::lookup(reg, name, caller, window) },
        };
        let err = res.as_ref().err().map_or(0, |e| e.to_errno());
        trace::lookup_end(mode.as_str(), name.as_bytes(), err);
        reg.count(&res);
        res
    }
}

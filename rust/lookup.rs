// SPDX-License-Identifier: GPL-2.0

//! Lookup modes: which lookup `/sys/kernel/drvreg/lookup`, `status`, the stress workers
//! and `drvreg_get()` use.
//!
//! - `locked`: [`Registry::lookup`], the fix (default);
//! - `racy`: `racy::lookup`, Mochel's 2002 pattern; selectable only when the core was
//!   loaded with `allow_racy=1`.

use crate::registry::{DriverPin, Name, Registry};
use crate::sys::module_ref::Owner;
use crate::sys::sysfs::{Dir, Group};
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
}

impl Mode {
    /// The name used in sysfs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Locked => "locked",
            Self::Racy => "racy",
        }
    }

    /// The mode named `name` (as written to sysfs), or `EINVAL`.
    pub fn from_name(name: &[u8]) -> Result<Self> {
        match name {
            b"locked" => Ok(Self::Locked),
            b"racy" => Ok(Self::Racy),
            _ => Err(EINVAL),
        }
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
    ) -> impl PinInit<Self> {
        pin_init!(Self {
            registry <- Registry::new(drivers_dir, driver_attrs),
            mode: AtomicU8::new(Mode::Locked as u8),
            race_window_us: AtomicU32::new(0),
            allow_racy,
        })
    }

    /// The registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The current lookup mode.
    pub fn mode(&self) -> Mode {
        if self.mode.load(Relaxed) == Mode::Racy as u8 {
            Mode::Racy
        } else {
            Mode::Locked
        }
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
    /// [`Registry::lookup`] for the errors.
    pub fn lookup(&self, name: &Name, caller: Option<Owner>) -> Result<DriverPin<'_>> {
        let window = self.race_window_us();
        match self.mode() {
            Mode::Locked => self.registry.lookup(name, caller, window),
            // SAFETY: Not safe at all, on purpose: racy mode can only be selected when the
            // core was loaded with `allow_racy=1`, to demonstrate the 2002 crash.
            Mode::Racy => unsafe { crate::racy::lookup(&self.registry, name, caller, window) },
        }
    }
}

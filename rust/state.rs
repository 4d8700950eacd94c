// SPDX-License-Identifier: GPL-2.0

//! The core's state, and how entry points without a context pointer reach it.

use crate::bench::Bench;
use crate::lookup::Lookups;
use crate::stress::Stress;
use crate::sys::global::Global;
use crate::sys::module_ref::{GoingNotifier, ModuleView};
use crate::sys::sysfs::{Dir, Group};
use kernel::{prelude::*, sync::Arc};

/// The core's state.
///
/// Fields drop in declaration order: the notifier first (unregistering waits for a running
/// callback), then the workers (joined), then the registry (waiting for its RCU callbacks).
/// No benchmark runs by then: runs are synchronous in a debugfs write, and the files are
/// removed before the core drops.
#[pin_data]
pub struct Core {
    /// Purges drivers of modules that go away without unregistering them.
    #[pin]
    notifier: GoingNotifier,
    /// The stress workers.
    #[pin]
    pub stress: Stress,
    /// The registry and its lookup modes; the workers hold references too.
    pub lookups: Arc<Lookups>,
    /// The lookup benchmark.
    #[pin]
    pub bench: Bench,
}

impl Core {
    /// The core's state, with `drivers/` as the parent of the per-driver directories, each
    /// holding the files of `driver_attrs`.
    pub fn new(
        drivers: Dir,
        driver_attrs: &'static Group,
        allow_racy: bool,
    ) -> Result<impl PinInit<Self, Error>> {
        let lookups = Arc::pin_init(Lookups::new(drivers, driver_attrs, allow_racy)?, GFP_KERNEL)?;
        Ok(try_pin_init!(Self {
            notifier <- GoingNotifier::new(module_going),
            stress <- Stress::new()?,
            lookups,
            bench <- Bench::new()?,
        }? Error))
    }
}

/// The published core state, for sysfs and debugfs callbacks, exported functions and the
/// notifier.
pub static CORE: Global<Core> = Global::new();

/// Calls `f` with the core state, or fails with `ENODEV` if it is not published (the core
/// is loading or unloading).
pub fn with_core<R>(f: impl FnOnce(&Core) -> Result<R>) -> Result<R> {
    CORE.with(f).unwrap_or(Err(ENODEV))
}

fn module_going(module: ModuleView<'_>) {
    CORE.with(|core| core.lookups.registry().purge(module));
}

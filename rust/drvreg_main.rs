// SPDX-License-Identifier: GPL-2.0

//! drvreg: a driver registry with owner-pinned lookups under a global driver lock.
//!
//! Driver modules register `struct drvreg_driver` descriptors (see `include/drvreg.h`,
//! or the Rust API in `api/`); lookups pin the owner module under the same lock that
//! unregistration takes. See `Documentation/drvreg.rst`.
//!
//! The core is laid out as:
//! - [`registry`]: the driver list, the global driver lock, the locked lookup (the fix) and
//!   the lockless ones (RCU, two-stage);
//! - [`racy`]: Mochel's 2002 lookup, unsound, for the demonstration only;
//! - [`lookup`]: the lookup modes and the choice between them;
//! - [`stress`]: kernel threads that look drivers up in a loop; [`bench`]: the benchmark,
//!   and [`designs`]: the kernel's SRCU and `percpu_ref` designs it compares with;
//! - [`name`]: driver names;
//! - [`state`]: the core's state and its publication; [`attrs`]: its sysfs and debugfs
//!   files;
//!   [`exports`]: its C ABI;
//! - [`sys`]: safe abstractions over the kernel C APIs the core uses;
//! - [`api`]: the driver-facing API, compiled into driver modules too.

use kernel::{c_str, prelude::*};

pub mod api;
pub mod attrs;
pub mod bench;
pub mod designs;
pub mod exports;
pub mod lookup;
pub mod name;
pub mod racy;
pub mod registry;
pub mod state;
pub mod stress;

/// Safe abstractions over the kernel C APIs the core uses.
pub mod sys {
    pub mod cpu;
    pub mod debugfs;
    pub mod global;
    pub mod kthread;
    pub mod module_ref;
    pub mod percpu;
    pub mod percpu_ref;
    pub mod rcu;
    pub mod rcu_hash;
    pub mod srcu;
    pub mod sysfs;
    pub mod trace;
}

use state::{Core, CORE};
use sys::debugfs::Tree;
use sys::sysfs::{Dir, ScopedGroup};

drvreg_module! {
    type: DrvregModule,
    name: "drvreg",
    description: "Driver registry with owner-pinned lookups under a global driver lock",
}

module_param!(ALLOW_RACY: bool = false, "allow_racy");

/// The module: fields drop in declaration order, after [`Drop::drop`] withdrew the state.
struct DrvregModule {
    /// `/sys/kernel/debug/drvreg/`: removed first, waiting for running callbacks.
    _debug: Tree,
    /// The files of `/sys/kernel/drvreg/`: removed next, waiting likewise.
    _attrs: ScopedGroup,
    /// The core's state, published in [`CORE`] while the module lives.
    _core: Pin<KBox<Core>>,
    /// `/sys/kernel/drvreg/`; removed last, after `drivers/` (owned by the registry).
    _root: Dir,
}

impl kernel::Module for DrvregModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let root = Dir::new(c_str!("drvreg"), None)?;
        let drivers = Dir::new(c_str!("drivers"), Some(&root))?;
        let core = Core::new(drivers, &attrs::DRIVER_GROUP, ALLOW_RACY.get())?;
        let core = KBox::pin_init(core, GFP_KERNEL)?;
        // Until the state is published below, the files' callbacks fail with `ENODEV`.
        let files = ScopedGroup::new(&root, &attrs::ROOT_GROUP)?;
        let debug = Tree::new(
            c_str!("drvreg"),
            &[
                &attrs::DEBUG_FILES,
                &attrs::STRESS_FILES,
                &attrs::BENCH_FILES,
            ],
        );
        // The box outlives every entry point that may see it: the files go first (waiting
        // for callbacks), then the notifier (waiting for a call) as the box drops; driver
        // modules, which call the exports, unload before the core's exit runs.
        // SAFETY: `core` is pinned in its box, kept by the module state until after `drop`.
        unsafe { CORE.publish(&core) };
        pr_info!("loaded (allow_racy={})\n", u8::from(ALLOW_RACY.get()));
        Ok(Self {
            _debug: debug,
            _attrs: files,
            _core: core,
            _root: root,
        })
    }
}

impl Drop for DrvregModule {
    fn drop(&mut self) {
        CORE.withdraw();
        pr_info!("unloaded\n");
    }
}

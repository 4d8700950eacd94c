// SPDX-License-Identifier: GPL-2.0

//! Patrick Mochel's 2002 `get_driver()`, kept to demonstrate the module-unload race.
//!
//! **This code is unsound.** It reads as the 2002 code did:
//!
//! ```text
//! drv = find_driver(name);               /* under the driver lock */
//! /* the lock is dropped here */
//! if (drv && !try_inc_mod_count(drv->owner))
//!         drv = NULL;
//! ```
//!
//! Between the scan and the reference, `rmmod` can run the owner's exit (which unregisters
//! the driver: the lock is free), and the loader frees the module's memory, where the
//! descriptor lives. The reads below then touch freed memory: an oops on an unmapped page,
//! or a KASAN use-after-free report.
//!
//! It runs only when `/sys/kernel/drvreg/mode` is `racy`, which the core refuses with
//! `EPERM` unless it was loaded with `allow_racy=1`. The fix is `Registry::lookup_locked`.

use crate::api::abi::DrvregDriver;
use crate::api::delay::sleep_us;
use crate::registry::{edeadlk, DriverPin, Name, Registry};
use crate::sys::module_ref::{ModuleView, Owner};
use kernel::prelude::*;

/// The racy lookup: `ENOENT`, `ENODEV` or `EDEADLK` like `Registry::lookup_locked`, or a
/// crash. The caller counts the outcome.
///
/// # Safety
///
/// None can be given: the owner module may be unloaded between the unlocked scan and the
/// reference, and then this reads freed memory. Only for the demonstration.
#[inline(never)]
pub(crate) unsafe fn lookup<'a>(
    reg: &'a Registry,
    name: &Name,
    caller: Option<Owner>,
    window_us: u32,
) -> Result<DriverPin<'a>> {
    // 1. Scan the list under the driver lock, and drop the lock.
    let drv: *mut DrvregDriver = reg.find_entry(name)?;

    // 2. The window Keith Owens pointed at: nothing keeps the owner from unloading now.
    sleep_us(window_us);

    // 3. Read `drv->owner`.
    // SAFETY: NOT upheld, on purpose (this is the 2002 bug). `drv` lives in the owner
    // module's memory, which `rmmod` may have freed during the window: this volatile read
    // is the first touch of freed memory after an unload.
    let owner = unsafe { core::ptr::addr_of!((*drv).owner).read_volatile() };
    let owner = Owner::from_ptr(owner.cast()).ok_or(ENODEV)?;
    if caller == Some(owner) {
        return Err(edeadlk());
    }

    // 4. try_inc_mod_count(drv->owner).
    // SAFETY: NOT upheld, on purpose: the module itself may be freed by now, and `try_get`
    // reads its state and reference count.
    let module = unsafe { ModuleView::new(owner) };
    let module = module.try_get().ok_or(ENODEV)?;

    // 5. Only now, with the reference held, is `drv` safe to use: pin it if it is still
    // registered.
    // SAFETY: `drv` is in the memory of the module we hold a reference on (if that module
    // was not freed and its address reused before step 4, which is the bug).
    unsafe { reg.pin_entry(drv, module) }
}

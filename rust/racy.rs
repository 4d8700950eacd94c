// SPDX-License-Identifier: GPL-2.0

//! Patrick Mochel's 2002 `get_driver()`, kept to demonstrate the module-unload race.
//!
//! **This code is unsound.** It finds the driver under the driver lock, drops the lock,
//! and only then reads `drv->owner` and takes the module reference. In between, `rmmod`
//! can run the owner's exit (which unregisters the driver: the lock is free), and the
//! loader frees the module's memory, where the descriptor lives. The reads below then
//! touch freed memory: an oops on an unmapped page, or a KASAN use-after-free report.
//!
//! It runs only when `/sys/kernel/drvreg/mode` is `racy`, which the core refuses with
//! `EPERM` unless it was loaded with `allow_racy=1`.

use crate::abi::DrvregDriver;
use crate::delay::sleep_us;
use crate::module_ref::Owner;
use crate::registry::{edeadlk, DriverPin, Name, Registry};
use kernel::prelude::*;

/// The racy lookup: `ENOENT`, `ENODEV` or `EDEADLK` like [`Registry::lookup`], or a crash.
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
) -> Result<DriverPin<'a>> {
    let entry: *mut DrvregDriver = reg.racy_find(name)?;
    // The lock is not held any more: this is the window Keith Owens pointed at.
    sleep_us(reg.race_window_us());
    // SAFETY: NOT upheld, on purpose (this is the 2002 bug). `entry` lives in the owner
    // module's memory, which `rmmod` may have freed during the window: this volatile read is
    // the first touch of freed memory after an unload.
    let owner = unsafe { core::ptr::addr_of!((*entry).owner).read_volatile() };
    // SAFETY: NOT upheld, on purpose: the module itself may be freed by now, and `try_pin`
    // below reads its state and reference count.
    let Some(owner) = (unsafe { Owner::from_raw(owner.cast()) }) else {
        reg.racy_count(|s| s.refused += 1);
        return Err(ENODEV);
    };
    if caller == Some(owner) {
        reg.racy_count(|s| s.self_pins += 1);
        return Err(edeadlk());
    }
    let Some(module) = owner.try_pin() else {
        reg.racy_count(|s| s.refused += 1);
        return Err(ENODEV);
    };
    reg.racy_finish(entry, module)
}

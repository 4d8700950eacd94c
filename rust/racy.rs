// SPDX-License-Identifier: GPL-2.0

//! Patrick Mochel's 2002 `get_driver()`, kept to demonstrate the module-unload race.
//!
//! **This code is unsound.** It reads as the 2002 code did:
//!
//! ```text
//! drv = find_driver(name);               /* under the driver lock */
//! /* the lock is dropped here */
//! owner = drv->owner;
//! if (owner && !try_inc_mod_count(owner))
//!         drv = NULL;
//! ```
//!
//! Between reading the owner and taking the reference, `rmmod` can run the owner's exit
//! (which unregisters the driver: the lock is free), and the loader frees the module's
//! memory, where its `struct module` and the descriptor live. `try_inc_mod_count` then
//! reads the freed `struct module`: an oops on an unmapped page, or a KASAN report. The
//! trace events `drvreg_racy_window_start` (the owner read) and `drvreg_racy_window_end`
//! bracket that window (`make demo` draws them against the loader's `module_free`).
//!
//! It runs only when `/sys/kernel/drvreg/mode` is `racy`, which the core refuses with
//! `EPERM` unless it was loaded with `allow_racy=1`. The fix is `Registry::lookup_locked`.

use crate::api::abi::DrvregDriver;
use crate::api::delay::sleep_us;
use crate::registry::{edeadlk, DriverPin, Name, Registry};
use crate::sys::module_ref::{ModuleView, Owner};
use crate::sys::trace;
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

    // 2. Read `drv->owner`, without the lock.
    // SAFETY: NOT upheld, on purpose (this is the 2002 bug). `drv` lives in the owner
    // module's memory, which `rmmod` may have freed since the lock was dropped.
    let owner = unsafe { core::ptr::addr_of!((*drv).owner).read_volatile() };
    trace::racy_window_start(name.as_bytes(), owner as usize);

    // 3. The window Keith Owens pointed at: nothing keeps the owner from unloading now.
    sleep_us(window_us);
    trace::racy_window_end(name.as_bytes(), owner as usize);

    let owner = Owner::from_ptr(owner.cast()).ok_or(ENODEV)?;
    if caller == Some(owner) {
        return Err(edeadlk());
    }

    // 4. try_inc_mod_count(owner).
    // SAFETY: NOT upheld, on purpose: the module itself may be freed by now, and `try_get`
    // reads its state and reference count: the first touch of freed memory after an
    // unload during the window.
    let module = unsafe { ModuleView::new(owner) };
    let module = module.try_get().ok_or(ENODEV)?;

    // 5. Only now, with the reference held, is `drv` safe to use: pin it if it is still
    // registered.
    // SAFETY: `drv` is in the memory of the module we hold a reference on (if that module
    // was not freed and its address reused before step 4, which is the bug).
    unsafe { reg.pin_entry(drv, module) }
}

// SPDX-License-Identifier: GPL-2.0

//! drvreg sample whose init fails after registering a driver.
//!
//! It registers driver `failing0`, waits `delay_ms` (default 0; a signal to the loading
//! task ends the wait early) so that lookups can be tried while the module is still
//! `COMING`, then fails with `ENODEV`. Returning the error
//! drops the registration, which unregisters the driver: nothing of the module remains,
//! and no lookup ever got the driver, because the core refuses owners that are not live.

use kernel::{c_str, prelude::*};

#[path = "../rust/api/mod.rs"]
pub mod api;

use api::driver::{Driver, DriverSlot, Registration};

drvreg_module! {
    type: FailingModule,
    name: "drvreg_failing",
    description: "drvreg sample whose init fails after registering",
}

module_param!(DELAY_MS: u32 = 0, "delay_ms");

static SLOT: DriverSlot = DriverSlot::new();

struct FailingDriver;

impl Driver for FailingDriver {
    fn open(&self) -> Result {
        pr_err!("open called on a driver whose module never became live\n");
        Ok(())
    }
}

struct FailingModule;

impl kernel::Module for FailingModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let _reg = Registration::new(&SLOT, c_str!("failing0"), module, FailingDriver)?;
        api::delay::sleep_us_interruptible(DELAY_MS.get().min(60_000).saturating_mul(1000));
        pr_info!("failing init on purpose; failing0 is unregistered on the way out\n");
        Err(ENODEV)
    }
}

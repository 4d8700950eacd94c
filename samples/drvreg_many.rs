// SPDX-License-Identifier: GPL-2.0

//! drvreg sample that registers many drivers, to measure how registration scales.
//!
//! Registers `drivers` drivers (default 1000, at most 10 000) named `<name><index>`
//! (default `many0`, `many1`, ...) and logs how long that took; unloading unregisters them
//! all and logs how long that took:
//!
//! ```text
//! drvreg_many: registered 10000 drivers in 812345 us
//! drvreg_many: unregistered 10000 drivers in 734567 us
//! ```

use kernel::{c_str, prelude::*, str::CString};

#[path = "../rust/api/mod.rs"]
pub mod api;

use api::compat::{cstr_bytes, cstr_str, fmt, Stopwatch};
use api::driver::{Driver, DriverSlot, Registration};

drvreg_module! {
    type: ManyModule,
    name: "drvreg_many",
    description: "drvreg sample registering many drivers",
}

/// Most drivers this module registers.
const MAX_DRIVERS: usize = 10_000;
/// Longest `name` prefix, leaving room for a four-digit index.
const MAX_PREFIX: usize = api::abi::NAME_MAX - 4;

module_param!(DRIVERS: u32 = 1000, "drivers");
module_param!(NAME: str = c_str!("many"), "name");

/// The descriptors, in this module's memory.
static SLOTS: [DriverSlot; MAX_DRIVERS] = [const { DriverSlot::new() }; MAX_DRIVERS];

/// A driver with no state: every callback succeeds.
struct Idle;

impl Driver for Idle {}

struct ManyModule {
    drivers: KVec<Registration<Idle>>,
}

impl kernel::Module for ManyModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let count = DRIVERS.get() as usize;
        let prefix = NAME.get();
        if count == 0 || count > MAX_DRIVERS {
            pr_err!("drivers={} is out of range 1..={}\n", count, MAX_DRIVERS);
            return Err(EINVAL);
        }
        if cstr_bytes(prefix).len() > MAX_PREFIX {
            pr_err!("name is longer than {} characters\n", MAX_PREFIX);
            return Err(EINVAL);
        }
        let mut drivers = KVec::with_capacity(count, GFP_KERNEL)?;
        let clock = Stopwatch::start();
        for (i, slot) in SLOTS.iter().take(count).enumerate() {
            let name = CString::try_from_fmt(fmt!("{}{}", cstr_str(prefix), i))?;
            // On error, `drivers` drops and unregisters what was registered so far.
            let reg = Registration::new(slot, &name, module, Idle).inspect_err(|e| {
                pr_err!("registering {} failed: {:?}\n", cstr_str(&name), e);
            })?;
            drivers.push(reg, GFP_KERNEL)?;
        }
        pr_info!(
            "registered {} drivers in {} us\n",
            count,
            clock.elapsed_us()
        );
        Ok(Self { drivers })
    }
}

impl Drop for ManyModule {
    fn drop(&mut self) {
        let count = self.drivers.len();
        let clock = Stopwatch::start();
        drop(core::mem::take(&mut self.drivers));
        pr_info!(
            "unregistered {} drivers in {} us\n",
            count,
            clock.elapsed_us()
        );
    }
}

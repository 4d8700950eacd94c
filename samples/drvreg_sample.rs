// SPDX-License-Identifier: GPL-2.0

//! drvreg sample driver in Rust, written against the safe API only.
//!
//! Registers `count` drivers (default 1) named `<name><index>` (default `sample0`).
//! Each counts the calls it gets; the first one sleeps `delay_us` in `open` to widen the
//! window during which it is pinned (from 20 ms on, a signal to the opening task ends the
//! sleep early: the tests hold a pin that way until they release it). With `selfpin=1` it also tries to pin its own first
//! driver, which the core must refuse with `EDEADLK` (a module cannot pin itself); if it
//! is not refused, loading fails.

use core::fmt::Write;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
use kernel::{c_str, prelude::*, str::CString};

#[path = "../rust/api/mod.rs"]
pub mod api;

use api::compat::{cstr_bytes, cstr_str, fmt};
use api::driver::{Driver, DriverSlot, Pinned, Registration, Status};

drvreg_module! {
    type: SampleModule,
    name: "drvreg_sample",
    description: "drvreg sample driver (Rust)",
}

/// Most drivers one module registers.
const MAX_DRIVERS: usize = 16;
/// Longest `name` prefix, leaving room for the index.
const MAX_PREFIX: usize = api::abi::NAME_MAX - 2;

module_param!(COUNT: u32 = 1, "count");
module_param!(NAME: str = c_str!("sample"), "name");
module_param!(DELAY_US: u32 = 0, "delay_us");
module_param!(SELFPIN: bool = false, "selfpin");

/// The descriptors, in this module's memory as in 2002's driver model.
static SLOTS: [DriverSlot; MAX_DRIVERS] = [const { DriverSlot::new() }; MAX_DRIVERS];

struct SampleDriver {
    delay_us: u32,
    opens: AtomicU64,
    releases: AtomicU64,
    shows: AtomicU64,
}

impl Driver for SampleDriver {
    fn open(&self) -> Result {
        self.opens.fetch_add(1, Relaxed);
        api::delay::sleep_us_interruptible(self.delay_us);
        Ok(())
    }

    fn release(&self) {
        self.releases.fetch_add(1, Relaxed);
    }

    fn show(&self, out: &mut Status<'_>) -> Result {
        let shows = self.shows.fetch_add(1, Relaxed) + 1;
        writeln!(
            out,
            "lang rust\nopens {}\nreleases {}\nshows {}\ndelay_us {}",
            self.opens.load(Relaxed),
            self.releases.load(Relaxed),
            shows,
            self.delay_us
        )
        .map_err(|_| EFBIG)
    }
}

struct SampleModule {
    _drivers: KVec<Registration<SampleDriver>>,
}

impl kernel::Module for SampleModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let count = COUNT.get();
        let prefix = NAME.get();
        if count == 0 || count as usize > MAX_DRIVERS {
            pr_err!("count={} is out of range 1..={}\n", count, MAX_DRIVERS);
            return Err(EINVAL);
        }
        if cstr_bytes(prefix).len() > MAX_PREFIX {
            pr_err!("name is longer than {} characters\n", MAX_PREFIX);
            return Err(EINVAL);
        }
        let mut drivers = KVec::with_capacity(count as usize, GFP_KERNEL)?;
        for (i, slot) in SLOTS.iter().take(count as usize).enumerate() {
            let name = CString::try_from_fmt(fmt!("{}{}", cstr_str(prefix), i))?;
            let data = SampleDriver {
                delay_us: if i == 0 { DELAY_US.get() } else { 0 },
                opens: AtomicU64::new(0),
                releases: AtomicU64::new(0),
                shows: AtomicU64::new(0),
            };
            // On error, `drivers` drops and unregisters what was registered so far.
            let reg = Registration::new(slot, &name, module, data).inspect_err(|e| {
                pr_err!("registering {} failed: {:?}\n", cstr_str(&name), e);
            })?;
            drivers.push(reg, GFP_KERNEL)?;
        }
        if SELFPIN.get() {
            let own = drivers[0].name();
            match Pinned::get(own, module) {
                Err(e) if e.to_errno() == -(kernel::bindings::EDEADLK as i32) => {
                    pr_info!(
                        "pinning my own {} was refused with EDEADLK\n",
                        cstr_str(own)
                    );
                }
                other => {
                    pr_err!(
                        "pinning my own {} was not refused: {:?}\n",
                        cstr_str(own),
                        other.map(|_| ())
                    );
                    return Err(EINVAL);
                }
            }
        }
        Ok(Self { _drivers: drivers })
    }
}

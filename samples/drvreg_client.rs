// SPDX-License-Identifier: GPL-2.0

//! drvreg client: pins another module's driver through the exported ABI, and holds it.
//!
//! At load it looks up `target=` (default `sample0`) with [`Pinned::get`], opens it and
//! logs its status; it keeps the pin, so the driver's module cannot be unloaded, until
//! this module is unloaded, when it releases the driver and drops the pin. Loading fails
//! with the lookup's error: `ENOENT` (no such driver) or `ENODEV` (not live).

use kernel::{c_str, prelude::*};

#[path = "../rust/api/mod.rs"]
pub mod api;

use api::compat::{cstr_str, Display};
use api::driver::Pinned;

drvreg_module! {
    type: ClientModule,
    name: "drvreg_client",
    description: "drvreg client: holds a pin on another module's driver",
}

module_param!(TARGET: str = c_str!("sample0"), "target");

struct ClientModule {
    pin: Pinned,
}

impl kernel::Module for ClientModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let target = TARGET.get();
        let mut pin = Pinned::get(target, module).inspect_err(|e| {
            pr_err!("cannot pin {}: {:?}\n", cstr_str(target), e);
        })?;
        pin.open()?;
        let mut buf = [0u8; 128];
        // Opened: a failing `show` must still release before the pin goes.
        let len = pin.show(&mut buf).inspect_err(|_| pin.release())?;
        let status = core::str::from_utf8(&buf[..len]).unwrap_or("?");
        pr_info!(
            "pinned and opened {}; its status: {}\n",
            cstr_str(target),
            status.replace_newlines()
        );
        Ok(Self { pin })
    }
}

impl Drop for ClientModule {
    fn drop(&mut self) {
        self.pin.release();
        pr_info!("released {}; dropping the pin\n", cstr_str(TARGET.get()));
        // `pin` drops after this: drvreg_put().
    }
}

/// Status text on one log line.
trait OneLine {
    fn replace_newlines(&self) -> OneLineStr<'_>;
}

impl OneLine for str {
    fn replace_newlines(&self) -> OneLineStr<'_> {
        OneLineStr(self)
    }
}

struct OneLineStr<'a>(&'a str);

impl Display for OneLineStr<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for (i, line) in self.0.lines().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(line)?;
        }
        Ok(())
    }
}

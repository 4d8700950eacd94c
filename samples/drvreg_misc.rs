// SPDX-License-Identifier: GPL-2.0

//! A misc device written with the kernel's own `kernel::miscdevice` API (Linux 7.x), as
//! upstream's `samples/rust/rust_misc_device.rs` uses it, registered one of two ways:
//!
//! - `owner=0` (default): `MiscDeviceRegistration::register`, upstream's registration. On
//!   7.2 its files do not pin this module (`fops.owner` is NULL, Rust-for-Linux #1182):
//!   `rmmod` succeeds while `/dev/drvreg-misc` is open, and the next read or close of that
//!   file runs freed code (`make demo`'s `misc-upstream` row). 7.3 sets `owner` upstream.
//! - `owner=1`: drvreg's `OwnedMiscRegistration::register`, the same device and the same
//!   `MiscDevice` impl, whose files pin this module on every 7.x kernel: `rmmod` fails "in
//!   use" until the last close (`misc-owner`).
//!
//! The device reads as one line of text. No `unsafe` here.

use kernel::{
    fs::{File, Kiocb},
    iov::IovIterDest,
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    prelude::*,
};

#[path = "../rust/api/mod.rs"]
pub mod api;

use api::misc::OwnedMiscRegistration;

drvreg_module! {
    type: MiscModule,
    name: "drvreg_misc",
    description: "drvreg misc device sample (kernel::miscdevice, upstream's or drvreg's registration)",
}

module_param!(OWNER: bool = false, "owner");

/// What a read of the device gives.
const TEXT: &[u8] = b"drvreg misc sample\n";

/// One open file of the device.
struct MiscFile;

#[vtable]
impl MiscDevice for MiscFile {
    type Ptr = KBox<Self>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
        Ok(KBox::new(MiscFile, GFP_KERNEL)?)
    }

    fn read_iter(mut kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterDest<'_>) -> Result<usize> {
        iov.simple_read_from_buffer(kiocb.ki_pos_mut(), TEXT)
    }
}

/// The module: one of the two registrations, as `owner=` chose; dropping it deregisters the
/// device.
struct MiscModule {
    _upstream: Option<Pin<KBox<MiscDeviceRegistration<MiscFile>>>>,
    _owned: Option<Pin<KBox<OwnedMiscRegistration<MiscFile>>>>,
}

impl kernel::Module for MiscModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let opts = MiscDeviceOptions {
            name: c"drvreg-misc",
        };
        let mut this = Self {
            _upstream: None,
            _owned: None,
        };
        if OWNER.get() {
            this._owned = Some(KBox::pin_init(
                OwnedMiscRegistration::register(opts),
                GFP_KERNEL,
            )?);
        } else {
            this._upstream = Some(KBox::pin_init(
                MiscDeviceRegistration::register(opts),
                GFP_KERNEL,
            )?);
        }
        pr_info!(
            "/dev/drvreg-misc registered with {}\n",
            if OWNER.get() {
                "drvreg's OwnedMiscRegistration (owner: this module)"
            } else {
                "the kernel's MiscDeviceRegistration"
            }
        );
        Ok(this)
    }
}

// SPDX-License-Identifier: GPL-2.0

//! The self-pin workaround, shown for what it is: a misc device (the kernel's
//! `kernel::miscdevice` API, upstream's registration) whose `open` takes a reference on its
//! own module with `try_module_get(THIS_MODULE)` and whose `release` drops it with
//! `module_put`, as some out-of-tree Rust drivers do to paper over a NULL `fops.owner`.
//!
//! It cannot work (Rusty Russell's rule: a module cannot pin or unpin itself). `release`
//! runs this module's code after `module_put` has dropped what may be the last reference:
//! `rmmod` can then free the module under it, and `release` returns into freed memory.
//! `race_window_us=N` sleeps that long after the `module_put` to widen the window, as the
//! core's `race_window_us` does for the registry (`make demo`'s `misc-selfpin` row). On 7.3
//! the kernel's own `owner` reference, dropped only after `release` returns, closes it.
//!
//! Deliberately unsound: the `unsafe` calls below are the demonstration.

use kernel::{
    fs::{File, Kiocb},
    iov::IovIterDest,
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    prelude::*,
};

#[path = "../rust/api/mod.rs"]
pub mod api;

drvreg_module! {
    type: SelfPinModule,
    name: "drvreg_misc_selfpin",
    description: "drvreg misc device sample: the self-pin workaround and its window",
}

module_param!(RACE_WINDOW_US: u32 = 0, "race_window_us");

/// One open file of the device; it holds the reference `open` took on this module.
struct SelfPinFile;

#[vtable]
impl MiscDevice for SelfPinFile {
    type Ptr = KBox<Self>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
        let file = KBox::new(SelfPinFile, GFP_KERNEL)?;
        // SAFETY: None: this is the workaround under demonstration. The VFS called this
        // `open` without a reference on this module (`fops.owner` is NULL on 7.2).
        if !unsafe { api::misc::try_pin_self() } {
            return Err(ENODEV);
        }
        Ok(file)
    }

    fn read_iter(mut kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterDest<'_>) -> Result<usize> {
        iov.simple_read_from_buffer(kiocb.ki_pos_mut(), b"drvreg misc selfpin sample\n")
    }

    fn release(device: Self::Ptr, _file: &File) {
        drop(device);
        // SAFETY: None: this is the workaround under demonstration. The reference `open`
        // took may be the module's last: after this call `rmmod` may free the module while
        // this function still runs (and sleeps, with race_window_us).
        unsafe { api::misc::unpin_self() };
        api::delay::sleep_us(RACE_WINDOW_US.get());
    }
}

struct SelfPinModule {
    _misc: Pin<KBox<MiscDeviceRegistration<SelfPinFile>>>,
}

impl kernel::Module for SelfPinModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let misc = KBox::pin_init(
            MiscDeviceRegistration::register(MiscDeviceOptions {
                name: c"drvreg-misc-selfpin",
            }),
            GFP_KERNEL,
        )?;
        Ok(Self { _misc: misc })
    }
}

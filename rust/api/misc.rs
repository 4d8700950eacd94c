// SPDX-License-Identifier: GPL-2.0

//! A misc device whose `file_operations.owner` is the module that registers it, by
//! construction: the owner-field fix of 2002, for the kernel's own Rust misc devices.
//!
//! The VFS pins a file's module through `fops->owner` before it calls `open`
//! (`misc_open()` → `fops_get()` → `try_module_get()`), and drops that reference only after
//! the last `release` (`__fput()` → `fops_put()`). Linux 7.2's
//! `kernel::miscdevice::MiscDeviceRegistration` registers a `file_operations` table whose
//! `owner` is NULL (Rust-for-Linux issue #1182): nothing is pinned, `rmmod` succeeds while
//! the device is open, and the next `read`, `ioctl` or `close` runs code of a freed module.
//! Linux 7.3 fixed it upstream ("rust: miscdevice: set fops.owner from driver module
//! pointer": `owner: this_module::<T::OwnerModule>().as_ptr()`).
//!
//! [`OwnedMiscRegistration`] is a drop-in for `MiscDeviceRegistration` on every 7.x kernel:
//! the driver keeps implementing the kernel's [`MiscDevice`] trait and keeps its
//! [`MiscDeviceOptions`]; only the registration line changes, and on a kernel with the fix
//! it can change back:
//!
//! ```ignore
//! _miscdev <- MiscDeviceRegistration::register(MiscDeviceOptions { name: c"x" }),   // 7.3+
//! _miscdev <- OwnedMiscRegistration::register(MiscDeviceOptions { name: c"x" }),    // 7.2
//! ```
//!
//! Its table is upstream's own table for `T` (`MiscDeviceOptions::into_raw::<T>()` names
//! it) with `owner` set to this module's `__this_module`, built at compile time like
//! upstream's: no parameter can name another module, and a module cannot pin itself
//! (a driver that calls `try_module_get(THIS_MODULE)` in its `open` leaves the window that
//! `samples/drvreg_misc_selfpin.rs` demonstrates).

use core::marker::PhantomData;
use kernel::{
    bindings,
    error::to_result,
    miscdevice::{MiscDevice, MiscDeviceOptions},
    prelude::*,
    types::Opaque,
};

/// This module's `struct module`, as the `module!` macro finds it: every module's own
/// `__this_module`, which the kernel fills in at load time. (This file is compiled into the
/// driver module itself: see `rust/api/mod.rs`.)
const THIS_MODULE_PTR: *mut bindings::module = {
    // `struct module` holds a lockdep key, an empty struct in Rust's eyes: only its address
    // is taken, never passed by value.
    #[allow(improper_ctypes)]
    extern "C" {
        static __this_module: Opaque<bindings::module>;
    }
    // SAFETY: Only the address is taken; `__this_module` lives as long as the module.
    unsafe { __this_module.get() }
};

/// Upstream's `file_operations` table for `T`, with `owner` set to this module.
struct OwnedVTable<T>(PhantomData<T>);

impl<T: MiscDevice> OwnedVTable<T> {
    const VTABLE: bindings::file_operations = {
        let upstream = MiscDeviceOptions { name: c"" }.into_raw::<T>().fops;
        // SAFETY: `into_raw` points `fops` at upstream's table for `T`, a constant promoted
        // to a `'static`: valid to read, at compile time too.
        let mut fops = unsafe { core::ptr::read(upstream) };
        fops.owner = THIS_MODULE_PTR;
        fops
    };

    /// The table, for as long as the module lives (a promoted constant in its memory, as
    /// upstream's is): open files still use it after the device is deregistered, and the
    /// `owner` reference they hold keeps the module, so the table, until their release.
    const fn get() -> &'static bindings::file_operations {
        &Self::VTABLE
    }
}

/// A registered misc device whose files pin this module: `rmmod` fails with `EAGAIN`
/// ("in use") while one is open.
///
/// # Invariants
///
/// `inner` is a registered `struct miscdevice`, made by upstream's
/// `MiscDeviceOptions::into_raw::<T>()` with only `fops` replaced by
/// [`OwnedVTable::<T>::get`]: upstream's file operations for `T`, whose `owner` is this
/// module. It stays registered until `drop`.
#[pin_data(PinnedDrop)]
pub struct OwnedMiscRegistration<T> {
    #[pin]
    inner: Opaque<bindings::miscdevice>,
    _t: PhantomData<T>,
}

// SAFETY: As for `MiscDeviceRegistration`: `misc_deregister` may be called on another thread
// than `misc_register`.
unsafe impl<T> Send for OwnedMiscRegistration<T> {}
// SAFETY: No `&self` method touches the device.
unsafe impl<T> Sync for OwnedMiscRegistration<T> {}

impl<T: MiscDevice> OwnedMiscRegistration<T> {
    /// Registers a misc device as `MiscDeviceRegistration::register` does, with this module
    /// as its files' owner.
    pub fn register(opts: MiscDeviceOptions) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            inner <- Opaque::try_ffi_init(move |slot: *mut bindings::miscdevice| {
                let mut raw = opts.into_raw::<T>();
                raw.fops = OwnedVTable::<T>::get();
                // SAFETY: The initializer may write to `slot`.
                unsafe { slot.write(raw) };
                // INVARIANT: On success `slot` holds a registered device with our table.
                // Upstream's file operations find their `MiscDeviceRegistration<T>` at the
                // `struct miscdevice` that `misc_open()` passes them, which this is:
                // `MiscDeviceRegistration<T>` is `#[repr(transparent)]` over
                // `Opaque<bindings::miscdevice>`.
                // SAFETY: `slot` holds a misc device made by upstream's `into_raw::<T>()`;
                // it is pinned and `drop` deregisters it before the memory goes.
                to_result(unsafe { bindings::misc_register(slot) })
            }),
            _t: PhantomData,
        })
    }
}

#[pinned_drop]
impl<T> PinnedDrop for OwnedMiscRegistration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: The device is registered (type invariant).
        unsafe { bindings::misc_deregister(self.inner.get()) };
    }
}

/// Takes a reference on this module from inside it: the self-pin workaround of drivers
/// whose files have no `owner` (`samples/drvreg_misc_selfpin.rs`). Returns whether the
/// module was still live.
///
/// # Safety
///
/// Someone other than the caller must already hold a reference on this module for the
/// whole call (else `rmmod` may free the module while this code runs) — which makes the
/// call pointless: a module cannot pin itself.
pub unsafe fn try_pin_self() -> bool {
    // SAFETY: `THIS_MODULE_PTR` is this module; the caller keeps it loaded.
    unsafe { bindings::try_module_get(THIS_MODULE_PTR) }
}

/// Drops a reference [`try_pin_self`] took.
///
/// # Safety
///
/// The caller must hold a reference it took with [`try_pin_self`], and this module must
/// stay loaded until the caller has left its code — which nothing ensures once the
/// reference is gone: the return from this call is into this module.
pub unsafe fn unpin_self() {
    // SAFETY: The caller holds a reference on this module (`THIS_MODULE_PTR`).
    unsafe { bindings::module_put(THIS_MODULE_PTR) }
}

// SPDX-License-Identifier: GPL-2.0

//! The exported C ABI of `include/drvreg.h`, implemented on the registry.
//!
//! `exports.c` applies `EXPORT_SYMBOL_GPL` to these functions, so modpost records every
//! driver module's dependency on `drvreg.ko`: `modprobe` of a driver loads the core first,
//! and the core cannot be unloaded while a driver module is loaded. That also means these
//! functions only run while the core is live and its state published.

use crate::abi::{DrvregDriver, DrvregPin};
use crate::module_ref::Owner;
use crate::registry::{DriverPin, Name, Record};
use crate::CORE;
use core::mem::ManuallyDrop;
use kernel::{
    bindings,
    ffi::{c_char, c_int},
    prelude::*,
    str::CStr,
};

/// `__drvreg_register`: registers `drv`, owned by `owner` (the caller's `THIS_MODULE`).
///
/// # Safety
///
/// `drv` must point to a descriptor in `owner`'s memory that the caller unregisters before
/// `owner` is freed; `owner` must be the calling module.
#[no_mangle]
pub unsafe extern "C" fn __drvreg_register(
    drv: *mut DrvregDriver,
    owner: *mut bindings::module,
) -> c_int {
    let Some(core) = CORE.get() else {
        return ENODEV.to_errno();
    };
    // SAFETY: The caller guarantees `owner` is its own module, alive while it runs and
    // until it has unregistered.
    let owner = unsafe { Owner::from_raw(owner) };
    let (Some(owner), false) = (owner, drv.is_null()) else {
        return EINVAL.to_errno();
    };
    // SAFETY: `drv` is a valid descriptor (caller's guarantee), not yet seen by the core.
    let (name, ops) = unsafe { ((*drv).name, (*drv).ops) };
    if name.is_null() || ops.is_null() {
        return EINVAL.to_errno();
    }
    // SAFETY: `name` is a NUL-terminated string per the ABI.
    let name = match Name::new(unsafe { CStr::from_char_ptr(name) }.as_bytes()) {
        Ok(name) => name,
        Err(e) => return e.to_errno(),
    };
    // SAFETY: Forwarding the caller's guarantees.
    match unsafe { core.registry.register(drv, owner, name) } {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `drvreg_unregister`: unregisters `drv`; returns once no callback of it can run.
///
/// # Safety
///
/// `drv` must be a descriptor registered by the caller (anything else is ignored with a
/// warning).
#[no_mangle]
pub unsafe extern "C" fn drvreg_unregister(drv: *mut DrvregDriver) {
    let Some(core) = CORE.get() else { return };
    if core.registry.unregister(drv).is_err() {
        pr_warn!(
            "drvreg_unregister: driver descriptor {:p} is not registered\n",
            drv
        );
    }
}

/// `drvreg_get`: looks `name` up and pins it for `caller` into `*pin`.
///
/// # Safety
///
/// `name` must be NUL-terminated, `caller` the calling module, `pin` writable.
#[no_mangle]
pub unsafe extern "C" fn drvreg_get(
    name: *const c_char,
    caller: *mut bindings::module,
    pin: *mut DrvregPin,
) -> c_int {
    let Some(core) = CORE.get() else {
        return ENODEV.to_errno();
    };
    if name.is_null() || pin.is_null() {
        return EINVAL.to_errno();
    }
    // SAFETY: NUL-terminated per the caller's guarantee.
    let name = unsafe { CStr::from_char_ptr(name) };
    // SAFETY: `caller` is the calling module, alive while it runs; it is only compared.
    let caller = unsafe { Owner::from_raw(caller) };
    let name = match Name::new(name.as_bytes()) {
        Ok(name) => name,
        Err(e) => return e.to_errno(),
    };
    match core.registry.lookup(&name, caller) {
        Ok(p) => {
            // SAFETY: `pin` is writable per the caller's guarantee.
            unsafe { (*pin).record = p.into_raw().cast_mut().cast() };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// Borrows the pin held in `pin` without giving it back.
///
/// # Safety
///
/// `pin` must hold a pin from `drvreg_get`, not yet put.
unsafe fn borrow(pin: *mut DrvregPin) -> Option<ManuallyDrop<DriverPin<'static>>> {
    let core = CORE.get()?;
    // SAFETY: The caller guarantees `pin` is a live pin from `drvreg_get`, which stored
    // `DriverPin::into_raw` of a pin of this registry.
    let rec = unsafe { (*pin).record }.cast::<Record>().cast_const();
    if rec.is_null() {
        return None;
    }
    // SAFETY: As above; `ManuallyDrop` keeps the pin owned by `*pin`.
    Some(ManuallyDrop::new(unsafe {
        DriverPin::from_raw(&core.registry, rec)
    }))
}

/// `drvreg_put`: drops the pin in `*pin`.
///
/// # Safety
///
/// `pin` must hold a pin from `drvreg_get`, not yet put.
#[no_mangle]
pub unsafe extern "C" fn drvreg_put(pin: *mut DrvregPin) {
    // SAFETY: Forwarding the caller's guarantee.
    if let Some(p) = unsafe { borrow(pin) } {
        // SAFETY: `pin` gives up its pin: cleared, then dropped once.
        unsafe { (*pin).record = core::ptr::null_mut() };
        drop(ManuallyDrop::into_inner(p));
    }
}

/// `drvreg_pin_open`: calls the pinned driver's `open`.
///
/// # Safety
///
/// `pin` must hold a pin from `drvreg_get`, not yet put.
#[no_mangle]
pub unsafe extern "C" fn drvreg_pin_open(pin: *mut DrvregPin) -> c_int {
    // SAFETY: Forwarding the caller's guarantee.
    match unsafe { borrow(pin) }.map(|p| p.open()) {
        Some(Ok(())) => 0,
        Some(Err(e)) => e.to_errno(),
        None => EINVAL.to_errno(),
    }
}

/// `drvreg_pin_release`: calls the pinned driver's `release`.
///
/// # Safety
///
/// `pin` must hold a pin from `drvreg_get`, not yet put.
#[no_mangle]
pub unsafe extern "C" fn drvreg_pin_release(pin: *mut DrvregPin) {
    // SAFETY: Forwarding the caller's guarantee.
    if let Some(p) = unsafe { borrow(pin) } {
        p.release();
    }
}

/// `drvreg_pin_show`: calls the pinned driver's `show` into `buf` (`size` bytes).
///
/// # Safety
///
/// `pin` must hold a pin from `drvreg_get`, not yet put; `buf` must be writable for `size`
/// bytes.
#[no_mangle]
pub unsafe extern "C" fn drvreg_pin_show(
    pin: *mut DrvregPin,
    buf: *mut c_char,
    size: usize,
) -> c_int {
    if buf.is_null() {
        return EINVAL.to_errno();
    }
    // SAFETY: Forwarding the caller's guarantees.
    let (p, buf) = unsafe {
        (
            borrow(pin),
            core::slice::from_raw_parts_mut(buf.cast::<u8>(), size),
        )
    };
    match p.map(|p| p.show(buf)) {
        Some(Ok(len)) => c_int::try_from(len).unwrap_or(c_int::MAX),
        Some(Err(e)) => e.to_errno(),
        None => EINVAL.to_errno(),
    }
}

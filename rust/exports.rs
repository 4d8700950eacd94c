// SPDX-License-Identifier: GPL-2.0

//! The exported C ABI of `include/drvreg.h`, implemented on the registry.
//!
//! `export_symbols.c` applies `EXPORT_SYMBOL_GPL` to these functions, so modpost records every
//! driver module's dependency on `drvreg.ko`: `modprobe` of a driver loads the core first,
//! and the core cannot be unloaded while a driver module is loaded. That also means these
//! functions only run while the core is live and its state published.
//!
//! Each definition is checked against the one declaration of the ABI in Rust
//! ([`drvreg_abi!`](crate::drvreg_abi)), which driver modules use.

use crate::api::abi::{DrvregDriver, DrvregPin, Module, ABI_VERSION};
use crate::api::compat::{cstr_bytes, cstr_from_ptr};
use crate::registry::{DriverPin, Name};
use crate::state::{with_core, CORE};
use crate::sys::module_ref::Owner;
use kernel::{
    ffi::{c_char, c_int, c_uint, c_void},
    prelude::*,
};

// `__drvreg_register` and `__drvreg_get` are C wrappers (`export_symbols.c`) that check the
// module argument and call these two with the same signature (the ABI version included,
// checked here): check those against the ABI.
use drvreg_core_get as __drvreg_get;
use drvreg_core_register as __drvreg_register;
crate::drvreg_abi!(check);

/// `ENOEXEC` unless `abi` is this core's [`ABI_VERSION`]: a driver module built against
/// another `include/drvreg.h` (or `rust/api/abi.rs`) may lay out its structures otherwise.
fn check_abi(abi: c_uint, function: &str) -> Result {
    if abi == ABI_VERSION {
        return Ok(());
    }
    pr_err!(
        "{}: the caller was built for drvreg C ABI version {}, this core has {}: -ENOEXEC\n",
        function,
        abi,
        ABI_VERSION
    );
    Err(ENOEXEC)
}

/// The errno of a result, as the C ABI returns it.
fn errno(res: Result) -> c_int {
    match res {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Validates a name passed by a C caller.
///
/// # Safety
///
/// `name` must be null or point to a NUL-terminated string.
unsafe fn c_name(name: *const c_char) -> Result<Name> {
    if name.is_null() {
        return Err(EINVAL);
    }
    // SAFETY: Not null, and NUL-terminated per the caller's guarantee; the string is only
    // read during this call.
    let name = unsafe { cstr_from_ptr(name) };
    Name::new(cstr_bytes(name))
}

/// `__drvreg_register`, once `export_symbols.c` has checked that `owner` is the calling
/// module: registers `drv`, owned by `owner`, if `abi` is this core's.
///
/// # Safety
///
/// `drv` must point to a descriptor in `owner`'s memory, with a null `core`, that the
/// caller unregisters before `owner` is freed; `owner` must be the calling module. The
/// descriptor is not read unless `abi` is this core's version.
#[no_mangle]
pub unsafe extern "C" fn drvreg_core_register(
    drv: *mut DrvregDriver,
    owner: *mut Module,
    abi: c_uint,
) -> c_int {
    if let Err(e) = check_abi(abi, "drvreg_register") {
        return e.to_errno();
    }
    let (Some(owner), false) = (Owner::from_ptr(owner.cast()), drv.is_null()) else {
        return EINVAL.to_errno();
    };
    // SAFETY: `drv` is a valid descriptor (caller's guarantee), not yet seen by the core.
    let ops = unsafe { (*drv).ops };
    // SAFETY: `drv` is a valid descriptor (caller's guarantee); the core does not write it
    // before it is registered.
    let name = unsafe { (*drv).name };
    if ops.is_null() {
        return EINVAL.to_errno();
    }
    // SAFETY: The ABI makes `name` null or a NUL-terminated string.
    let name = match unsafe { c_name(name) } {
        Ok(name) => name,
        Err(e) => return e.to_errno(),
    };
    errno(with_core(|core| {
        // SAFETY: The caller guarantees that `drv` is valid with a null `core` until it is
        // unregistered, and that `owner` is the module that unregisters it.
        unsafe { core.lookups.registry().register(drv, owner, name) }
    }))
}

/// `drvreg_unregister`: unregisters `drv`; returns once no callback of it can run.
///
/// # Safety
///
/// `drv` must be a descriptor registered by the caller, or one with a null `core` (then
/// this warns and does nothing).
#[no_mangle]
pub unsafe extern "C" fn drvreg_unregister(drv: *mut DrvregDriver) {
    if drv.is_null() {
        return;
    }
    let res = with_core(|core| {
        // SAFETY: The caller guarantees `drv` is registered here or has a null `core`.
        unsafe { core.lookups.registry().unregister(drv) }
    });
    if res.is_err() {
        pr_warn!(
            "drvreg_unregister: driver descriptor {:p} is not registered\n",
            drv
        );
    }
}

/// `__drvreg_get`, once `export_symbols.c` has checked that `caller` is the calling module:
/// looks `name` up and pins it for `caller` into `*pin`, if `abi` is this core's.
///
/// # Safety
///
/// `name` must be null or NUL-terminated, `caller` the calling module (not null), `pin`
/// null or writable.
#[no_mangle]
pub unsafe extern "C" fn drvreg_core_get(
    name: *const c_char,
    caller: *mut Module,
    abi: c_uint,
    pin: *mut DrvregPin,
) -> c_int {
    if let Err(e) = check_abi(abi, "drvreg_get") {
        return e.to_errno();
    }
    if pin.is_null() {
        return EINVAL.to_errno();
    }
    // SAFETY: The caller passes a null or NUL-terminated `name`.
    let name = match unsafe { c_name(name) } {
        Ok(name) => name,
        Err(e) => return e.to_errno(),
    };
    let caller = Owner::from_ptr(caller.cast());
    errno(with_core(|core| {
        let record = core.lookups.lookup(&name, caller)?.into_raw()?;
        // SAFETY: `pin` is not null and writable per the caller's guarantee.
        unsafe { (*pin).record = record.cast() };
        Ok(())
    }))
}

/// Calls `f` with the pin held in `*pin`, which stays held; `EINVAL` for an empty pin.
///
/// # Safety
///
/// `pin` must be null or hold a pin from `drvreg_get`, not yet put.
unsafe fn with_pin<R>(pin: *mut DrvregPin, f: impl FnOnce(&DriverPin<'_>) -> R) -> Result<R> {
    if pin.is_null() {
        return Err(EINVAL);
    }
    // SAFETY: `pin` is not null, and readable per the caller's guarantee.
    let rec = unsafe { (*pin).record }.cast::<c_void>();
    if rec.is_null() {
        return Err(EINVAL);
    }
    with_core(|core| {
        // SAFETY: The caller guarantees `rec` is a pin from `drvreg_get`, stored there by
        // `DriverPin::into_raw` on a pin of this registry; it stays owned by `*pin`.
        Ok(unsafe { DriverPin::with_raw(core.lookups.registry(), rec, f) })
    })
}

/// `drvreg_put`: drops the pin in `*pin` and empties it.
///
/// # Safety
///
/// `pin` must be null or hold a pin from `drvreg_get`, not yet put.
#[no_mangle]
pub unsafe extern "C" fn drvreg_put(pin: *mut DrvregPin) {
    if pin.is_null() {
        return;
    }
    // SAFETY: `pin` is not null, and writable per the caller's guarantee.
    let rec = unsafe { core::ptr::replace(&raw mut (*pin).record, core::ptr::null_mut()) };
    let rec = rec.cast::<c_void>();
    if rec.is_null() {
        return;
    }
    CORE.with(|core| {
        // SAFETY: The caller guarantees `rec` is a pin from `drvreg_get`, not yet put; it
        // was taken out of `*pin` above, so it is taken back and dropped exactly once.
        drop(unsafe { DriverPin::from_raw(core.lookups.registry(), rec) });
    });
}

/// `drvreg_pin_open`: calls the pinned driver's `open`.
///
/// # Safety
///
/// `pin` must be null or hold a pin from `drvreg_get`, not yet put.
#[no_mangle]
pub unsafe extern "C" fn drvreg_pin_open(pin: *mut DrvregPin) -> c_int {
    // SAFETY: The caller passes a null pin or a live one.
    errno(unsafe { with_pin(pin, |p| p.open()) }.and_then(|r| r))
}

/// `drvreg_pin_release`: calls the pinned driver's `release`.
///
/// # Safety
///
/// `pin` must be null or hold a pin from `drvreg_get`, not yet put.
#[no_mangle]
pub unsafe extern "C" fn drvreg_pin_release(pin: *mut DrvregPin) {
    // SAFETY: The caller passes a null pin or a live one.
    let _ = unsafe { with_pin(pin, |p| p.release()) };
}

/// `drvreg_pin_show`: calls the pinned driver's `show` into `buf` (`size` bytes).
///
/// # Safety
///
/// `pin` must be null or hold a pin from `drvreg_get`, not yet put; `buf` must be null or
/// writable for `size` bytes.
#[no_mangle]
pub unsafe extern "C" fn drvreg_pin_show(
    pin: *mut DrvregPin,
    buf: *mut c_char,
    size: usize,
) -> c_int {
    if buf.is_null() {
        return EINVAL.to_errno();
    }
    // SAFETY: `buf` is not null and writable for `size` bytes per the caller's guarantee,
    // and nothing else uses it during the call.
    let buf = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), size) };
    // SAFETY: The caller passes a null pin or a live one.
    match unsafe { with_pin(pin, |p| p.show(buf)) }.and_then(|r| r) {
        Ok(len) => c_int::try_from(len).unwrap_or(c_int::MAX),
        Err(e) => e.to_errno(),
    }
}

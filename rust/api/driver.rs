// SPDX-License-Identifier: GPL-2.0

//! The safe Rust API for drvreg driver modules, shared with them as source.
//!
//! A driver module:
//! - implements [`Driver`] for its per-driver data;
//! - declares one static [`DriverSlot`] per driver it may register: the slot is the
//!   `struct drvreg_driver` the core links, and it lives in the module's own memory;
//! - keeps each [`Registration`] in its module state. Dropping it (at exit, or when init
//!   fails) unregisters the driver and waits until no callback of it is running.
//!
//! There is no way here for a driver to take or drop a reference on its own module: the
//! core takes the owner's reference when someone looks a driver up, and drops it after
//! the callback returned. To call another module's driver, take a [`Pinned`].
//!
//! Include it with `#[path = "../rust/api/mod.rs"] pub mod api;` at the crate root.

use super::abi::{DrvregDriver, DrvregOps, DrvregPin, ABI_VERSION};
use core::marker::PhantomData;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::{
    error::{to_result, Error},
    ffi::{c_char, c_int},
    prelude::*,
    str::{CStr, CString},
    types::Opaque,
    ThisModule,
};

/// The core's exported functions, from the one declaration of the ABI.
mod ffi {
    crate::drvreg_abi!(declare);
}

use ffi::{
    __drvreg_get, __drvreg_register, drvreg_pin_open, drvreg_pin_release, drvreg_pin_show,
    drvreg_put, drvreg_unregister,
};

/// A driver's callbacks. The core calls them only through a pin, so the driver's module
/// stays loaded and the registration alive for the whole call (by a module reference in
/// locked and rcu mode; in twostage mode the module's unregister waits for the pin).
pub trait Driver: Send + Sync + 'static {
    /// Starts using the driver.
    fn open(&self) -> Result {
        Ok(())
    }

    /// Stops using the driver; called once for each successful [`Driver::open`].
    fn release(&self) {}

    /// Writes the driver's status text.
    fn show(&self, _out: &mut Status<'_>) -> Result {
        Ok(())
    }
}

/// Status text being written by [`Driver::show`]; truncated at the buffer's end.
pub struct Status<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl core::fmt::Write for Status<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        // Keep one byte for the terminating NUL.
        let room = self.buf.len().saturating_sub(self.len + 1);
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        if n < s.len() {
            Err(core::fmt::Error)
        } else {
            Ok(())
        }
    }
}

/// Storage for one driver descriptor, declared as a `static` of the driver module:
/// `static SLOTS: [DriverSlot; 4] = [const { DriverSlot::new() }; 4];`
///
/// # Invariants
///
/// `raw` is written only by [`Registration::new`] while `used` is false and it sets `used`,
/// so at most one registration owns the slot, and only when not registered.
pub struct DriverSlot {
    raw: Opaque<DrvregDriver>,
    used: AtomicBool,
}

// SAFETY: By the type invariants the descriptor is written by one registration at a time
// before the core sees it; afterwards the core reads it under its own synchronisation.
unsafe impl Sync for DriverSlot {}

impl DriverSlot {
    /// An unused slot.
    pub const fn new() -> Self {
        Self {
            raw: Opaque::uninit(),
            used: AtomicBool::new(false),
        }
    }
}

impl Default for DriverSlot {
    fn default() -> Self {
        Self::new()
    }
}

struct Adapter<T>(PhantomData<T>);

impl<T: Driver> Adapter<T> {
    const OPS: DrvregOps = DrvregOps {
        open: Some(Self::open),
        release: Some(Self::release),
        show: Some(Self::show),
    };

    /// # Safety
    ///
    /// `drv` must be the descriptor of a live [`Registration<T>`].
    unsafe fn data<'a>(drv: *mut DrvregDriver) -> &'a T {
        // SAFETY: The caller guarantees the descriptor of a live registration.
        let data = unsafe { (*drv).data };
        // SAFETY: A live registration's `data` points to its boxed `T`, freed only after it
        // is unregistered.
        unsafe { &*data.cast::<T>() }
    }

    /// `open` for drivers of type `T`.
    ///
    /// # Safety
    ///
    /// Called by the core only, through a pin, with the descriptor of a live registration.
    unsafe extern "C" fn open(drv: *mut DrvregDriver) -> c_int {
        // SAFETY: The core calls ops only through a pin, while the registration is live.
        match unsafe { Self::data(drv) }.open() {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    /// `release` for drivers of type `T`.
    ///
    /// # Safety
    ///
    /// As for `open`.
    unsafe extern "C" fn release(drv: *mut DrvregDriver) {
        // SAFETY: The core calls ops only through a pin, while the registration is live.
        unsafe { Self::data(drv) }.release();
    }

    /// `show` for drivers of type `T`.
    ///
    /// # Safety
    ///
    /// As for `open`; `buf` must be writable for `size` bytes.
    unsafe extern "C" fn show(drv: *mut DrvregDriver, buf: *mut c_char, size: usize) -> c_int {
        if buf.is_null() || size == 0 {
            return EINVAL.to_errno();
        }
        // SAFETY: The ABI passes `size` writable bytes at `buf`, used by nobody else.
        let buf = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), size) };
        let mut out = Status { buf, len: 0 };
        // SAFETY: The core calls ops only through a pin, while the registration is live.
        let res = unsafe { Self::data(drv) }.show(&mut out);
        let len = out.len;
        out.buf[len] = 0;
        match res {
            Ok(()) => c_int::try_from(len).unwrap_or(c_int::MAX),
            Err(e) => e.to_errno(),
        }
    }
}

/// A registered driver; unregisters when dropped.
///
/// # Invariants
///
/// `slot` holds this registration's descriptor, registered with the core, pointing to
/// `name` and `data`.
pub struct Registration<T: Driver> {
    slot: &'static DriverSlot,
    name: CString,
    data: Pin<KBox<T>>,
}

impl<T: Driver> Registration<T> {
    /// Registers `data` as driver `name` of `module` (your `THIS_MODULE`) in `slot`.
    ///
    /// `EBUSY` if `slot` is in use, `EINVAL` for a bad name or if `module` is not the
    /// calling module, `EBUSY` if the name is taken, `ENOMEM`. Lookups refuse the driver
    /// until `module`'s init has returned. Process context; may sleep.
    pub fn new(
        slot: &'static DriverSlot,
        name: &CStr,
        module: &'static ThisModule,
        data: T,
    ) -> Result<Self> {
        if slot.used.swap(true, Ordering::Acquire) {
            return Err(EBUSY);
        }
        let setup = || -> Result<(CString, Pin<KBox<T>>)> {
            let name = CString::try_from(name)?;
            let data = KBox::pin(data, GFP_KERNEL)?;
            let raw = DrvregDriver {
                name: name.as_char_ptr(),
                ops: &Self::OPS_REF,
                data: core::ptr::from_ref::<T>(&data).cast_mut().cast(),
                owner: core::ptr::null_mut(),
                core: core::ptr::null_mut(),
            };
            // SAFETY: We own the slot (`used` was false) and it is not registered.
            unsafe { slot.raw.get().write(raw) };
            // SAFETY: The descriptor lives in `slot` (static) and points to `name` and `data`,
            // which `Self` keeps until `drop` unregisters; `module` is the caller's own.
            to_result(unsafe {
                __drvreg_register(slot.raw.get(), module.as_ptr().cast(), ABI_VERSION)
            })?;
            Ok((name, data))
        };
        match setup() {
            // INVARIANT: Registered just above, with this name and data.
            Ok((name, data)) => Ok(Self { slot, name, data }),
            Err(e) => {
                slot.used.store(false, Ordering::Release);
                Err(e)
            }
        }
    }

    const OPS_REF: DrvregOps = Adapter::<T>::OPS;

    /// The driver's data.
    pub fn data(&self) -> &T {
        &self.data
    }

    /// The driver's name.
    pub fn name(&self) -> &CStr {
        &self.name
    }
}

impl<T: Driver> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: By the type invariants the descriptor is registered. When this returns,
        // no pin on it is held and no callback runs, so `data` and `name` may go.
        unsafe { drvreg_unregister(self.slot.raw.get()) };
        self.slot.used.store(false, Ordering::Release);
    }
}

/// A pinned driver of another module: keeps its owner module loaded until dropped (a
/// module reference in locked and rcu mode; in twostage mode the owner's unregister waits
/// for it). Dropping it may sleep: see [`Pinned`]'s `Drop`.
///
/// # Invariants
///
/// `raw` holds a pin returned by `__drvreg_get`, not yet put.
#[must_use = "dropping a pin unpins the driver at once"]
pub struct Pinned {
    raw: DrvregPin,
}

// SAFETY: A pin is a reference count; the core's calls through it are thread-safe.
unsafe impl Send for Pinned {}
// SAFETY: `&Pinned` offers no methods: every call through the pin needs `&mut Pinned`.
unsafe impl Sync for Pinned {}

impl Pinned {
    /// Looks `name` up and pins it on behalf of `module` (your `THIS_MODULE`).
    ///
    /// `ENOENT` if absent, `ENODEV` if its module is not live, `EDEADLK` if `module` owns
    /// it (a module cannot pin itself), `EINVAL` for a bad name or if `module` is not the
    /// calling module, `EBUSY` if 2^31 - 1 counted pins are held on it, `ENOMEM` in twostage
    /// mode (see `drvreg_get` in `include/drvreg.h`). Process context; may sleep.
    pub fn get(name: &CStr, module: &'static ThisModule) -> Result<Self> {
        let mut raw = DrvregPin {
            record: core::ptr::null_mut(),
        };
        // SAFETY: `name` is NUL-terminated, `module` is the caller's, `raw` is writable.
        to_result(unsafe {
            __drvreg_get(
                name.as_char_ptr(),
                module.as_ptr().cast(),
                ABI_VERSION,
                &mut raw,
            )
        })?;
        // INVARIANT: `__drvreg_get` succeeded.
        Ok(Self { raw })
    }

    /// Calls the driver's `open`.
    pub fn open(&mut self) -> Result {
        // SAFETY: By the type invariants `raw` is a live pin.
        to_result(unsafe { drvreg_pin_open(&mut self.raw) })
    }

    /// Calls the driver's `release`.
    pub fn release(&mut self) {
        // SAFETY: By the type invariants `raw` is a live pin.
        unsafe { drvreg_pin_release(&mut self.raw) };
    }

    /// Calls the driver's `show` into `buf`; returns the length written.
    pub fn show(&mut self, buf: &mut [u8]) -> Result<usize> {
        // SAFETY: By the type invariants `raw` is a live pin; `buf` is writable.
        let ret = unsafe { drvreg_pin_show(&mut self.raw, buf.as_mut_ptr().cast(), buf.len()) };
        usize::try_from(ret).map_err(|_| Error::from_errno(ret))
    }
}

/// Drops the pin: process context only, and it may sleep (dropping the last pin of a
/// driver being unregistered takes the core's lock; debug kernels check every drop).
impl Drop for Pinned {
    fn drop(&mut self) {
        // SAFETY: By the type invariants `raw` is a live pin, put exactly once here.
        unsafe { drvreg_put(&mut self.raw) };
    }
}

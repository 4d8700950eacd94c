// SPDX-License-Identifier: GPL-2.0

//! The C ABI shared by the core and driver modules: Rust mirrors of `include/drvreg.h`.
//!
//! The layouts here must match the header exactly; they are `#[repr(C)]` and contain only
//! raw pointers, so both C and Rust driver modules can be linked against the same core.

use kernel::{ffi::c_char, ffi::c_int, ffi::c_void};

/// Longest driver name, without the terminating NUL (`DRVREG_NAME_MAX`).
pub const NAME_MAX: usize = 31;

/// `struct module`, opaque at the ABI: drivers pass `THIS_MODULE` through and the core
/// casts it to `bindings::module`.
#[repr(C)]
pub struct ModuleOpaque {
    _private: [u8; 0],
}

/// `struct drvreg_ops`: a driver's callbacks, each optional.
#[repr(C)]
pub struct DrvregOps {
    /// Start using the driver; 0 or a negative errno.
    pub open: Option<unsafe extern "C" fn(drv: *mut DrvregDriver) -> c_int>,
    /// Stop using the driver; called once per successful `open`.
    pub release: Option<unsafe extern "C" fn(drv: *mut DrvregDriver)>,
    /// Format status text into `buf` (`size` bytes, NUL-terminated); length or -errno.
    pub show: Option<
        unsafe extern "C" fn(drv: *mut DrvregDriver, buf: *mut c_char, size: usize) -> c_int,
    >,
}

/// `struct drvreg_driver`: a driver, living in its owner module's memory.
#[repr(C)]
pub struct DrvregDriver {
    /// NUL-terminated name, copied by the core at registration.
    pub name: *const c_char,
    /// The driver's callbacks.
    pub ops: *const DrvregOps,
    /// The driver's private data.
    pub data: *mut c_void,
    /// The owner module, written by the core at registration.
    pub owner: *mut ModuleOpaque,
    /// Private to the core.
    pub core: *mut c_void,
}

/// `struct drvreg_pin`: an opaque pinned driver handed to C callers of `drvreg_get`.
#[repr(C)]
pub struct DrvregPin {
    /// Private to the core.
    pub record: *mut c_void,
}

// SPDX-License-Identifier: GPL-2.0

//! The C ABI shared by the core and driver modules: Rust mirrors of `include/drvreg.h`.
//!
//! The structures are `#[repr(C)]` and hold only pointers. Their layout is asserted here
//! (`offset_of!`) and in `include/drvreg.h` (`static_assert`) against the same numbers, so
//! neither side can drift without its own build failing.
//!
//! The exported functions are declared once, in [`drvreg_abi!`](crate::drvreg_abi): driver
//! modules expand it into their `extern "C"` declarations, and the core checks each of its
//! definitions against the same list.

use kernel::{ffi::c_char, ffi::c_uint, ffi::c_void};

/// Longest driver name, without the terminating NUL (`DRVREG_NAME_MAX`).
pub const NAME_MAX: usize = 31;

/// The version of this C ABI (`DRVREG_ABI_VERSION`): what a driver module passes to
/// `__drvreg_register` and `__drvreg_get`, and what the core accepts (`ENOEXEC` otherwise).
pub const ABI_VERSION: c_uint = 1;

/// `struct module`, opaque at the ABI: drivers pass their `THIS_MODULE` through, and the
/// core casts it to `kernel::bindings::module`.
#[repr(C)]
pub struct Module {
    _private: [u8; 0],
}

/// `struct drvreg_ops`: a driver's callbacks, each optional.
#[repr(C)]
pub struct DrvregOps {
    /// Start using the driver; 0 or a negative errno.
    pub open: Option<unsafe extern "C" fn(drv: *mut DrvregDriver) -> kernel::ffi::c_int>,
    /// Stop using the driver; called once per successful `open`.
    pub release: Option<unsafe extern "C" fn(drv: *mut DrvregDriver)>,
    /// Format status text into `buf` (`size` bytes, NUL-terminated); length or -errno.
    pub show: Option<
        unsafe extern "C" fn(
            drv: *mut DrvregDriver,
            buf: *mut c_char,
            size: usize,
        ) -> kernel::ffi::c_int,
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
    pub owner: *mut Module,
    /// Private to the core: its record of the registration, `NULL` while unregistered
    /// (as `drivers/base` keeps `drv->p`). Must be `NULL` when the descriptor is registered.
    pub core: *mut c_void,
}

/// `struct drvreg_pin`: an opaque pinned driver handed to C callers of `drvreg_get`.
#[repr(C)]
pub struct DrvregPin {
    /// Private to the core.
    pub record: *mut c_void,
}

// The layout `include/drvreg.h` asserts with `static_assert`, in the same units.
const _: () = {
    use core::mem::{offset_of, size_of};
    // Size of a pointer: the unit of every offset, as in `include/drvreg.h`.
    const P: usize = size_of::<*const c_void>();
    assert!(offset_of!(DrvregOps, open) == 0);
    assert!(offset_of!(DrvregOps, release) == P);
    assert!(offset_of!(DrvregOps, show) == 2 * P);
    assert!(size_of::<DrvregOps>() == 3 * P);
    assert!(offset_of!(DrvregDriver, name) == 0);
    assert!(offset_of!(DrvregDriver, ops) == P);
    assert!(offset_of!(DrvregDriver, data) == 2 * P);
    assert!(offset_of!(DrvregDriver, owner) == 3 * P);
    assert!(offset_of!(DrvregDriver, core) == 4 * P);
    assert!(size_of::<DrvregDriver>() == 5 * P);
    assert!(offset_of!(DrvregPin, record) == 0);
    assert!(size_of::<DrvregPin>() == P);
    assert!(NAME_MAX == 31);
    assert!(ABI_VERSION == 1);
};

/// The functions the core exports (`include/drvreg.h`), declared once.
///
/// `drvreg_abi!(declare)` expands to their `extern "C"` declarations (driver modules);
/// `drvreg_abi!(check)` asserts that the core's definitions in scope have exactly these
/// signatures (`__drvreg_register` and `__drvreg_get` are C wrappers in `export_symbols.c`
/// that check the module argument; the core brings its Rust implementations into scope
/// under those names for the check).
#[macro_export]
macro_rules! drvreg_abi {
    ($how:ident) => {
        $crate::drvreg_abi!(@$how
            fn __drvreg_register(drv: *mut DrvregDriver, owner: *mut Module, abi: c_uint) -> c_int;
            fn drvreg_unregister(drv: *mut DrvregDriver) -> ();
            fn __drvreg_get(
                name: *const c_char,
                caller: *mut Module,
                abi: c_uint,
                pin: *mut DrvregPin
            ) -> c_int;
            fn drvreg_put(pin: *mut DrvregPin) -> ();
            fn drvreg_pin_open(pin: *mut DrvregPin) -> c_int;
            fn drvreg_pin_release(pin: *mut DrvregPin) -> ();
            fn drvreg_pin_show(pin: *mut DrvregPin, buf: *mut c_char, size: usize) -> c_int;
        );
    };
    (@declare $(fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty;)*) => {
        #[allow(unused_imports)]
        use $crate::api::abi::{DrvregDriver, DrvregPin, Module};
        #[allow(unused_imports)]
        use ::kernel::ffi::{c_char, c_int, c_uint};
        extern "C" {
            $(
                #[doc = concat!("`", stringify!($name), "` of `include/drvreg.h`.")]
                pub(crate) fn $name($($arg: $ty),*) -> $ret;
            )*
        }
    };
    (@check $(fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty;)*) => {
        const _: () = {
            use $crate::api::abi::{DrvregDriver, DrvregPin, Module};
            use ::kernel::ffi::{c_char, c_int, c_uint};
            $(let _: unsafe extern "C" fn($($ty),*) -> $ret = $name;)*
        };
    };
}

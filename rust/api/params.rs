// SPDX-License-Identifier: GPL-2.0

//! Read-only module parameters for Rust modules on 6.12, whose `module!` has no `params`.
//!
//! [`module_param!`](crate::module_param) emits what C's `module_param()` does: a
//! `struct kernel_param` in the `__param` section pointing at static storage and at the
//! kernel's own parser (`param_ops_uint`, `param_ops_bool`, `param_ops_charp`), plus the
//! `parmtype` modinfo entry. The loader parses `name=value` before init runs and rejects
//! malformed values: the module then fails to load, with `EINVAL` (or `ERANGE` for a number
//! that does not fit, `ENOSPC` for a string over 1024 bytes; an unknown parameter name is
//! only warned about, see `Documentation/errors.rst`). Parameters are mode
//! 0444, visible in `/sys/module/<module>/parameters/`, and never written after load.

use super::compat::{const_char_ptr, cstr_from_ptr};
use core::cell::UnsafeCell;
use kernel::{bindings, ffi::c_char, ffi::c_void, str::CStr};

/// Storage of a `uint` or `bool` parameter.
pub struct Param<T: Copy>(UnsafeCell<T>);

/// Storage of a `uint` parameter.
pub type ParamU32 = Param<u32>;

/// Storage of a `bool` parameter.
pub type ParamBool = Param<bool>;

/// Storage of a `charp` (string) parameter.
pub struct ParamStr(UnsafeCell<*mut c_char>);

// SAFETY: The loader writes the storage before the module's init runs, which orders the
// write before every read; with mode 0444 nothing writes it afterwards.
unsafe impl<T: Copy> Sync for Param<T> {}
// SAFETY: The loader writes the pointer before init runs and nothing writes it after
// (mode 0444); the string itself is owned by the parameter code until the
// module is unloaded.
unsafe impl Sync for ParamStr {}

impl<T: Copy> Param<T> {
    /// Storage holding `default` until the loader parses a value.
    pub const fn new(default: T) -> Self {
        Self(UnsafeCell::new(default))
    }

    /// The value.
    pub fn get(&self) -> T {
        // SAFETY: See the `Sync` impl: no write can happen concurrently.
        unsafe { *self.0.get() }
    }

    /// The raw storage, for the parameter descriptor.
    pub const fn as_arg(&'static self) -> *mut c_void {
        self.0.get().cast()
    }
}

impl ParamStr {
    /// Storage holding `default` until the loader parses a value.
    pub const fn new(default: &'static CStr) -> Self {
        Self(UnsafeCell::new(const_char_ptr(default).cast_mut()))
    }

    /// The value.
    pub fn get(&self) -> &CStr {
        // SAFETY: See the `Sync` impl. The pointer is the static default or a string the
        // parameter code allocated at load and frees only after the module's exit.
        unsafe { cstr_from_ptr(*self.0.get()) }
    }

    /// The raw storage, for the parameter descriptor.
    pub const fn as_arg(&'static self) -> *mut c_void {
        self.0.get().cast()
    }
}

/// A `struct kernel_param` descriptor, placed in the `__param` section by
/// [`module_param!`](crate::module_param).
#[repr(transparent)]
pub struct KernelParam(bindings::kernel_param);

// SAFETY: The loader reads the descriptor; nothing writes it after compilation.
unsafe impl Sync for KernelParam {}

impl KernelParam {
    /// Describes parameter `name` parsed by `ops` into `arg`, mode 0444.
    pub const fn new(
        name: &'static CStr,
        ops: *const bindings::kernel_param_ops,
        arg: *mut c_void,
    ) -> Self {
        Self(bindings::kernel_param {
            name: const_char_ptr(name),
            mod_: core::ptr::null_mut(),
            ops,
            perm: 0o444,
            level: -1,
            flags: 0,
            __bindgen_anon_1: bindings::kernel_param__bindgen_ty_1 { arg },
        })
    }
}

/// Copies `s` into an array of exactly its length (for `.modinfo` entries).
pub const fn modinfo<const N: usize>(s: &str) -> [u8; N] {
    let bytes = s.as_bytes();
    assert!(bytes.len() == N);
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = bytes[i];
        i += 1;
    }
    out
}

/// Declares a read-only module parameter:
///
/// `module_param!(COUNT: u32 = 1, "count");`, `bool`, or `str = c_str!("x")`.
/// Read it with `COUNT.get()` from init on.
#[macro_export]
macro_rules! module_param {
    (@ops u32) => {
        $crate::api::params::ParamU32
    };
    (@ops bool) => {
        $crate::api::params::ParamBool
    };
    (@ops str) => {
        $crate::api::params::ParamStr
    };
    (@kops u32) => {
        ::kernel::bindings::param_ops_uint
    };
    (@kops bool) => {
        ::kernel::bindings::param_ops_bool
    };
    (@kops str) => {
        ::kernel::bindings::param_ops_charp
    };
    (@type u32) => {
        "uint"
    };
    (@type bool) => {
        "bool"
    };
    (@type str) => {
        "charp"
    };
    ($store:ident : $ty:ident = $default:expr, $name:literal) => {
static $store: $crate::module_param!(@ops $ty) =
    <$crate::module_param!(@ops $ty)>::new($default);
        const _: () = {
            #[link_section = "__param"]
            #[used(compiler)]
            static PARAM: $crate::api::params::KernelParam = $crate::api::params::KernelParam::new(
                ::kernel::c_str!($name),
        &raw const $crate::module_param!(@kops $ty),
                $store.as_arg(),
            );
            const TYPE: &str = concat!(
                "parmtype=",
                $name,
                ":",
        $crate::module_param!(@type $ty),
                "\0"
            );
            #[link_section = ".modinfo"]
            #[used(compiler)]
            static MODINFO: [u8; TYPE.len()] = $crate::api::params::modinfo(TYPE);
        };
    };
}

// SPDX-License-Identifier: GPL-2.0

//! The differences between the kernel's Rust API in 6.12 and in 7.x, in one place.
//!
//! `Kbuild` passes `--cfg drvreg_kernel_7` when the kernel's version is 7 or more; every
//! other file uses the names here and stays the same for both. Tested on 6.12 (LTS) and
//! 7.2 (Debian sid); the versions in between are not.
//!
//! | 6.12                              | 7.x                                          |
//! |-----------------------------------|----------------------------------------------|
//! | `module!` key `author:`           | `authors: [..]`                              |
//! | `kernel::str::CStr` (own type)    | `core::ffi::CStr` + `CStrExt`; `to_bytes()`  |
//! | `CStr` is `Display`               | not `Display`; `pr_*!` need `kernel::fmt::Display` |
//! | `kernel::fmt!`                    | `kernel::prelude::fmt!`                      |
//! | `CStr::as_char_ptr` is `const`    | `kernel::str::as_char_ptr_in_const_context`  |
//! | `attribute_group.attrs`           | in an anonymous union                        |
//! | `kernel::init::pin_init_from_closure` | `Opaque::try_ffi_init` (pin-init crate)  |
//! | `kernel::time::Ktime`             | `kernel::time::Instant<Monotonic>`, `Delta`  |
//! | `kobj_attribute.show`, `.store`   | 7.3: in anonymous unions (`drvreg_kernel_7_3`) |

use kernel::{bindings, error::Error, ffi::c_char, prelude::*, str::CStr, types::Opaque};

/// `format_args!` for the kernel's formatting functions (`CString::try_from_fmt`).
#[cfg(not(drvreg_kernel_7))]
pub use kernel::fmt;
/// `format_args!` for the kernel's formatting functions (`CString::try_from_fmt`).
#[cfg(drvreg_kernel_7)]
pub use kernel::prelude::fmt;

/// The trait a type implements to be printed with `{}` by `pr_*!`.
#[cfg(not(drvreg_kernel_7))]
pub use core::fmt::Display;
/// The trait a type implements to be printed with `{}` by `pr_*!`.
#[cfg(drvreg_kernel_7)]
pub use kernel::fmt::Display;

/// The C string at `ptr`.
///
/// # Safety
///
/// `ptr` must point to a NUL-terminated string that stays valid and unchanged for `'a`.
pub unsafe fn cstr_from_ptr<'a>(ptr: *const c_char) -> &'a CStr {
    // SAFETY: The caller guarantees a NUL-terminated string valid for `'a`.
    unsafe { CStr::from_char_ptr(ptr) }
}

/// The bytes of a C string, without its NUL.
pub fn cstr_bytes(s: &CStr) -> &[u8] {
    #[cfg(not(drvreg_kernel_7))]
    return s.as_bytes();
    #[cfg(drvreg_kernel_7)]
    return s.to_bytes();
}

/// A C string as text for `{}` (every name drvreg handles is ASCII); `"?"` if it is not
/// UTF-8.
pub fn cstr_str(s: &CStr) -> &str {
    core::str::from_utf8(cstr_bytes(s)).unwrap_or("?")
}

/// A C string's pointer, in a `const fn`.
pub const fn const_char_ptr(s: &CStr) -> *const c_char {
    #[cfg(not(drvreg_kernel_7))]
    return s.as_char_ptr();
    #[cfg(drvreg_kernel_7)]
    return kernel::str::as_char_ptr_in_const_context(s);
}

/// Sets an attribute's `show` and `store` callbacks (in anonymous unions from 7.3).
pub const fn set_kobj_attr_ops(
    attr: &mut bindings::kobj_attribute,
    show: KobjShow,
    store: KobjStore,
) {
    #[cfg(not(drvreg_kernel_7_3))]
    {
        attr.show = show;
        attr.store = store;
    }
    #[cfg(drvreg_kernel_7_3)]
    {
        attr.__bindgen_anon_1.show = show;
        attr.__bindgen_anon_2.store = store;
    }
}

/// A `kobj_attribute`'s `show` callback.
pub type KobjShow = Option<
    unsafe extern "C" fn(
        *mut bindings::kobject,
        *mut bindings::kobj_attribute,
        *mut c_char,
    ) -> isize,
>;

/// A `kobj_attribute`'s `store` callback.
pub type KobjStore = Option<
    unsafe extern "C" fn(
        *mut bindings::kobject,
        *mut bindings::kobj_attribute,
        *const c_char,
        usize,
    ) -> isize,
>;

/// Points `group` at its null-terminated attribute list.
pub const fn set_group_attrs(
    group: &mut bindings::attribute_group,
    attrs: *mut *mut bindings::attribute,
) {
    #[cfg(not(drvreg_kernel_7))]
    {
        group.attrs = attrs;
    }
    #[cfg(drvreg_kernel_7)]
    {
        group.__bindgen_anon_2.attrs = attrs;
    }
}

/// An initializer of an `Opaque<T>` by `init` (given the slot), which fails with `init`'s
/// error. The slot may be left in any state on failure: an `Opaque` needs no cleanup.
#[cfg(drvreg_kernel_7)]
pub fn opaque_try_ffi_init<T>(
    init: impl FnOnce(*mut T) -> Result<(), Error>,
) -> impl PinInit<Opaque<T>, Error> {
    Opaque::try_ffi_init(init)
}

/// An initializer of an `Opaque<T>` by `init` (given the slot), which fails with `init`'s
/// error. The slot may be left in any state on failure: an `Opaque` needs no cleanup.
#[cfg(not(drvreg_kernel_7))]
pub fn opaque_try_ffi_init<T>(
    init: impl FnOnce(*mut T) -> Result<(), Error>,
) -> impl PinInit<Opaque<T>, Error> {
    let init = move |slot: *mut Opaque<T>| init(Opaque::raw_get(slot));
    // SAFETY: An `Opaque<T>` may hold anything, so the slot is valid and needs no drop
    // whatever `init` did; the slot is pinned, so `init` may rely on its address.
    unsafe { kernel::init::pin_init_from_closure(init) }
}

/// Measures elapsed time on the monotonic clock.
pub struct Stopwatch {
    #[cfg(not(drvreg_kernel_7))]
    start: kernel::time::Ktime,
    #[cfg(drvreg_kernel_7)]
    start: kernel::time::Instant<kernel::time::Monotonic>,
}

impl Stopwatch {
    /// Starts measuring now.
    pub fn start() -> Self {
        Self {
            #[cfg(not(drvreg_kernel_7))]
            start: kernel::time::Ktime::ktime_get(),
            #[cfg(drvreg_kernel_7)]
            start: kernel::time::Instant::now(),
        }
    }

    /// Nanoseconds since [`Stopwatch::start`].
    pub fn elapsed_ns(&self) -> i64 {
        #[cfg(not(drvreg_kernel_7))]
        return (kernel::time::Ktime::ktime_get() - self.start).to_ns();
        #[cfg(drvreg_kernel_7)]
        return self.start.elapsed().as_nanos();
    }

    /// Microseconds since [`Stopwatch::start`].
    pub fn elapsed_us(&self) -> i64 {
        #[cfg(not(drvreg_kernel_7))]
        return (kernel::time::Ktime::ktime_get() - self.start).to_ns() / 1000;
        #[cfg(drvreg_kernel_7)]
        return self.start.elapsed().as_nanos() / 1000;
    }
}

/// `module!` with drvreg's author and licence, in the form the kernel's version takes:
/// `drvreg_module! { type: MyModule, name: "my_module", description: "...", }`.
#[macro_export]
macro_rules! drvreg_module {
    (type: $type:tt, name: $name:tt, description: $desc:tt $(,)?) => {
        #[cfg(not(drvreg_kernel_7))]
        ::kernel::prelude::module! {
            type: $type,
            name: $name,
            author: "drvreg developers <drvreg@example.org>",
            description: $desc,
            license: "GPL",
        }
        #[cfg(drvreg_kernel_7)]
        ::kernel::prelude::module! {
            type: $type,
            name: $name,
            authors: ["drvreg developers <drvreg@example.org>"],
            description: $desc,
            license: "GPL",
        }
    };
}

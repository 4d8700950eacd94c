// SPDX-License-Identifier: GPL-2.0

//! sysfs directories and attributes.
//!
//! A [`Dir`] is a kobject made with `kobject_create_and_add`; dropping it removes the
//! directory and everything in it, waiting for readers and writers that are inside a
//! callback. Attributes are described by types implementing [`AttrOps`] and collected in
//! a static [`Group`] with the [`attribute_group!`](crate::attribute_group) macro.
//!
//! Every `store` is refused with `EPERM` for callers without `CAP_SYS_ADMIN`, whatever
//! the file mode says; writable attributes should also be mode 0200 or 0644.

use crate::api::compat::{
    const_char_ptr, cstr_from_ptr, set_group_attrs, set_kobj_attr_ops, KobjShow, KobjStore,
};
use core::ptr::NonNull;
use kernel::{bindings, ffi::c_char, prelude::*, str::CStr, types::Opaque};

/// A sysfs directory backed by a dynamically allocated kobject.
///
/// # Invariants
///
/// `kobj` came from `kobject_create_and_add` and we own its only long-term reference.
pub struct Dir {
    kobj: NonNull<bindings::kobject>,
}

// SAFETY: kobject reference counting and sysfs creation/removal are thread-safe.
unsafe impl Send for Dir {}
// SAFETY: `&Dir` only allows adding attribute groups, which sysfs serialises.
unsafe impl Sync for Dir {}

impl Dir {
    /// Creates directory `name` under `parent`, or under `/sys/kernel` when `parent` is
    /// `None`. Fails with `ENOMEM` (`kobject_create_and_add` reports every failure, a
    /// name that exists included, as a null pointer).
    pub fn new(name: &CStr, parent: Option<&Dir>) -> Result<Self> {
        let parent = match parent {
            Some(dir) => dir.kobj.as_ptr(),
            // SAFETY: `kernel_kobj` is set up during boot and never changes afterwards.
            None => unsafe { bindings::kernel_kobj },
        };
        // SAFETY: `name` is NUL-terminated and `parent` is a live kobject (ours, which
        // outlives its children because children hold a reference on it, or the kernel's).
        let kobj = unsafe { bindings::kobject_create_and_add(name.as_char_ptr(), parent) };
        // INVARIANT: A non-null result carries one reference, now ours.
        NonNull::new(kobj).map(|kobj| Self { kobj }).ok_or(ENOMEM)
    }

    /// Adds the attributes of `group` to this directory; they go away with it. On failure
    /// none of them is added.
    pub fn add_group(&self, group: &'static Group) -> Result {
        // SAFETY: `kobj` is live by the type invariants; `group` is static.
        kernel::error::to_result(unsafe {
            bindings::sysfs_create_group(self.kobj.as_ptr(), group.0.get())
        })
    }
}

/// The attributes of a [`Group`] in a [`Dir`], removed when dropped (waiting for their
/// callbacks to return) even while the directory stays.
///
/// # Invariants
///
/// `group` is added to `kobj`, on which we own a reference.
pub struct ScopedGroup {
    kobj: NonNull<bindings::kobject>,
    group: &'static Group,
}

// SAFETY: Removing a group and putting a kobject are thread-safe.
unsafe impl Send for ScopedGroup {}
// SAFETY: `&ScopedGroup` offers nothing.
unsafe impl Sync for ScopedGroup {}

impl ScopedGroup {
    /// Adds the attributes of `group` to `dir`; a `ScopedGroup` exists only once they are.
    pub fn new(dir: &Dir, group: &'static Group) -> Result<Self> {
        // SAFETY: `dir.kobj` is live by the type invariants of `Dir`; this takes a new
        // reference, which the guard owns from here on.
        let kobj = unsafe { bindings::kobject_get(dir.kobj.as_ptr()) };
        let kobj = NonNull::new(kobj).ok_or(EINVAL)?;
        if let Err(e) = dir.add_group(group) {
            // SAFETY: Puts the reference taken above; no group was added.
            unsafe { bindings::kobject_put(kobj.as_ptr()) };
            return Err(e);
        }
        // INVARIANT: The group was added and `kobj` is our reference.
        Ok(Self { kobj, group })
    }
}

impl Drop for ScopedGroup {
    fn drop(&mut self) {
        // SAFETY: By the type invariants the group is present on a kobject we reference.
        // Removal waits for running callbacks of its files.
        unsafe { bindings::sysfs_remove_group(self.kobj.as_ptr(), self.group.0.get()) };
        // SAFETY: By the type invariants we own this reference; it is put once, here.
        unsafe { bindings::kobject_put(self.kobj.as_ptr()) };
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        // SAFETY: By the type invariants we own a reference, so the kobject is live.
        // `kobject_del` removes the directory and waits until no attribute callback runs
        // in it.
        unsafe { bindings::kobject_del(self.kobj.as_ptr()) };
        // SAFETY: By the type invariants we own this reference; it is put once, here,
        // which frees the kobject.
        unsafe { bindings::kobject_put(self.kobj.as_ptr()) };
    }
}

/// The text an attribute's `show` produces: a bounded writer over the sysfs page.
pub struct Page<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl core::fmt::Write for Page<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(core::fmt::Error)?;
        // Keep the last byte for sysfs' terminating NUL.
        if end >= self.buf.len() {
            return Err(core::fmt::Error);
        }
        let dst = &mut self.buf[self.len..end];
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl<'a> Page<'a> {
    /// A writer over `buf`, empty; the last byte stays free for a terminating NUL.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    /// The number of bytes written.
    pub fn written(&self) -> usize {
        self.len
    }

    /// The unused part of the page, for callbacks that format into a byte buffer.
    pub fn spare(&mut self) -> &mut [u8] {
        let len = self.len;
        &mut self.buf[len..]
    }

    /// Marks `n` more bytes of [`Page::spare`] as written.
    pub fn advance(&mut self, n: usize) {
        self.len = (self.len + n).min(self.buf.len().saturating_sub(1));
    }
}

/// The callbacks of one sysfs attribute.
///
/// `dir` is the name of the directory the attribute sits in, which identifies the object
/// for per-object directories. Errors are returned to user space as negative errnos.
pub trait AttrOps {
    /// File name.
    const NAME: &'static CStr;
    /// File mode: 0444 read-only, 0200 write-only, 0644 read-write.
    const MODE: u16;

    /// Formats the value for a read.
    fn show(_dir: &CStr, _out: &mut Page<'_>) -> Result {
        Err(EIO)
    }

    /// Parses and applies a write; must change nothing when it fails.
    fn store(_dir: &CStr, _input: &[u8]) -> Result {
        Err(EIO)
    }
}

/// One attribute, built from an [`AttrOps`] type. Use it through [`attribute_group!`].
///
/// [`attribute_group!`]: crate::attribute_group
#[repr(transparent)]
pub struct Attr(Opaque<bindings::kobj_attribute>);

// SAFETY: sysfs only reads the attribute description; it is never changed after
// construction.
unsafe impl Sync for Attr {}

const PAGE_SIZE: usize = 1 << 12;

impl Attr {
    /// Describes the attribute `A`.
    pub const fn new<A: AttrOps>() -> Self {
        // SAFETY: All-zero is a valid `kobj_attribute` (null pointers, `None` callbacks,
        // and a zeroed lockdep key where lockdep is enabled, as for any static attribute).
        let mut raw: bindings::kobj_attribute = unsafe { core::mem::zeroed() };
        raw.attr.name = const_char_ptr(A::NAME);
        raw.attr.mode = A::MODE;
        let show: KobjShow = if A::MODE & 0o444 != 0 {
            Some(Self::show::<A>)
        } else {
            None
        };
        let store: KobjStore = if A::MODE & 0o222 != 0 {
            Some(Self::store::<A>)
        } else {
            None
        };
        set_kobj_attr_ops(&mut raw, show, store);
        Self(Opaque::new(raw))
    }

    /// # Safety
    ///
    /// `kobj` must be a live kobject.
    unsafe fn dir_name<'a>(kobj: *mut bindings::kobject) -> &'a CStr {
        // SAFETY: The caller passes a live kobject; its name is set at creation and only
        // renamed by `kobject_rename`, which we never call.
        unsafe { cstr_from_ptr((*kobj).name) }
    }

    /// The `show` callback of attribute `A`.
    ///
    /// # Safety
    ///
    /// Called by sysfs only: `kobj` is live and `buf` is a page of `PAGE_SIZE` bytes.
    unsafe extern "C" fn show<A: AttrOps>(
        kobj: *mut bindings::kobject,
        _attr: *mut bindings::kobj_attribute,
        buf: *mut c_char,
    ) -> isize {
        // SAFETY: sysfs calls `show` with a live kobject.
        let dir = unsafe { Self::dir_name(kobj) };
        // SAFETY: sysfs passes a zeroed page of PAGE_SIZE bytes that nothing else uses
        // during the call.
        let buf = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), PAGE_SIZE) };
        let mut page = Page::new(buf);
        match A::show(dir, &mut page) {
            Ok(()) => page.written() as isize,
            Err(e) => e.to_errno() as isize,
        }
    }

    /// The `store` callback of attribute `A`.
    ///
    /// # Safety
    ///
    /// Called by sysfs only: `kobj` is live and `buf` holds `count` readable bytes.
    unsafe extern "C" fn store<A: AttrOps>(
        kobj: *mut bindings::kobject,
        _attr: *mut bindings::kobj_attribute,
        buf: *const c_char,
        count: usize,
    ) -> isize {
        // SAFETY: Plain capability check of the current task.
        if !unsafe { bindings::capable(bindings::CAP_SYS_ADMIN as i32) } {
            return EPERM.to_errno() as isize;
        }
        // SAFETY: sysfs calls `store` with a live kobject.
        let dir = unsafe { Self::dir_name(kobj) };
        // SAFETY: sysfs passes `count` readable bytes at `buf`, unchanged during the call.
        let input = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), count) };
        match A::store(dir, input) {
            Ok(()) => count as isize,
            Err(e) => e.to_errno() as isize,
        }
    }
}

/// The null-terminated pointer array of a [`Group`]; `M` is the number of attributes + 1.
#[repr(transparent)]
pub struct AttrList<const M: usize>(Opaque<[*mut bindings::attribute; M]>);

// SAFETY: Never changed after construction; the pointers are to static `Attr`s.
unsafe impl<const M: usize> Sync for AttrList<M> {}

impl<const M: usize> AttrList<M> {
    /// Points at each of `attrs`, then a terminating null.
    pub const fn new<const N: usize>(attrs: &'static [Attr; N]) -> Self {
        assert!(M == N + 1, "AttrList needs one more slot than attributes");
        let mut ptrs = [core::ptr::null_mut(); M];
        let mut i = 0;
        while i < N {
            // `attr` is the first field of the `repr(C)` `kobj_attribute`.
            ptrs[i] = attrs[i].0.get().cast::<bindings::attribute>();
            i += 1;
        }
        Self(Opaque::new(ptrs))
    }
}

/// A static group of attributes, made with [`attribute_group!`](crate::attribute_group).
#[repr(transparent)]
pub struct Group(Opaque<bindings::attribute_group>);

// SAFETY: Never changed after construction; everything it points to is static.
unsafe impl Sync for Group {}

impl Group {
    /// The group made of `list`, in the directory itself (`name` None) or in a
    /// subdirectory `name`.
    pub const fn new<const M: usize>(
        name: Option<&'static CStr>,
        list: &'static AttrList<M>,
    ) -> Self {
        // SAFETY: All-zero is a valid, empty `attribute_group`.
        let mut raw: bindings::attribute_group = unsafe { core::mem::zeroed() };
        if let Some(name) = name {
            raw.name = const_char_ptr(name);
        }
        set_group_attrs(&mut raw, list.0.get().cast::<*mut bindings::attribute>());
        Self(Opaque::new(raw))
    }
}

/// Defines a static [`Group`] from [`AttrOps`] types:
/// `attribute_group!(static NAME(subdir or None) = [A, B]);`
#[macro_export]
macro_rules! attribute_group {
    ($(#[$meta:meta])* $vis:vis static $group:ident ($name:expr) = [$($attr:ty),+ $(,)?];) => {
        $(#[$meta])*
        $vis static $group: $crate::sys::sysfs::Group = {
            const N: usize = [$(stringify!($attr)),+].len();
            static ATTRS: [$crate::sys::sysfs::Attr; N] = [$($crate::sys::sysfs::Attr::new::<$attr>()),+];
            static LIST: $crate::sys::sysfs::AttrList<{ N + 1 }> = $crate::sys::sysfs::AttrList::new(&ATTRS);
            $crate::sys::sysfs::Group::new($name, &LIST)
        };
    };
}

/// Strips the one trailing newline `echo` adds; rejects empty input with `EINVAL`.
pub fn trim_input(input: &[u8]) -> Result<&[u8]> {
    let input = input.strip_suffix(b"\n").unwrap_or(input);
    if input.is_empty() {
        return Err(EINVAL);
    }
    Ok(input)
}

/// Parses a decimal `u32` written to an attribute (`EINVAL` on anything else).
pub fn parse_u32(input: &[u8]) -> Result<u32> {
    let input = trim_input(input)?;
    let mut value: u32 = 0;
    for &c in input {
        if !c.is_ascii_digit() {
            return Err(EINVAL);
        }
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u32::from(c - b'0')))
            .ok_or(EINVAL)?;
    }
    Ok(value)
}

/// KUnit (7.x kernels built with `CONFIG_KUNIT`): what a number written to an attribute may
/// be.
#[cfg(drvreg_kernel_7)]
#[kunit_tests(drvreg_parse)]
mod tests {
    use super::{parse_u32, trim_input};
    use kernel::prelude::*;

    #[test]
    fn parses_decimal_u32() {
        assert!(parse_u32(b"0") == Ok(0));
        assert!(parse_u32(b"42\n") == Ok(42));
        assert!(parse_u32(b"007") == Ok(7));
        assert!(parse_u32(b"4294967295") == Ok(u32::MAX));
        assert!(parse_u32(b"4294967295\n") == Ok(u32::MAX));
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            &b""[..],
            b"\n",
            b"4294967296",
            b"99999999999999999999",
            b"-1",
            b"+1",
            b" 1",
            b"1 ",
            b"1\n\n",
            b"0x10",
            b"1e3",
            b"1\0",
        ] {
            assert!(parse_u32(bad) == Err(EINVAL));
        }
    }

    #[test]
    fn trims_one_newline() {
        assert!(trim_input(b"abc\n") == Ok(&b"abc"[..]));
        assert!(trim_input(b"abc") == Ok(&b"abc"[..]));
        assert!(trim_input(b"abc\n\n") == Ok(&b"abc\n"[..]));
        assert!(trim_input(b"\n") == Err(EINVAL));
    }
}

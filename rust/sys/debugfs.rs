// SPDX-License-Identifier: GPL-2.0

//! debugfs files (6.12's kernel crate has no debugfs binding): the core's test, stress and
//! benchmark controls, under `/sys/kernel/debug/drvreg/`.
//!
//! A file is described by the same [`AttrOps`] callbacks as a sysfs attribute (with an
//! empty directory name) and collected in a static [`Files`] with the
//! [`debugfs_files!`](crate::debugfs_files) macro; a [`Tree`] makes the directory and its
//! files, and removes them all when dropped. The C side (`rust/debugfs.c`) gives each file
//! sysfs' rules: a read shows one snapshot; a write(2) is one whole value (its first page);
//! opening a file for what it cannot do fails with `EACCES`, root's opens included; only
//! `CAP_SYS_ADMIN` may write (`EPERM`).
//!
//! debugfs is a debugging interface, not ABI: if it is unavailable (a kernel without
//! `CONFIG_DEBUG_FS`, or booted with `debugfs=off`) the core still loads, without these
//! files, and says so once in the log.

use crate::api::compat::const_char_ptr;
use crate::sys::sysfs::{AttrOps, Page};
use kernel::{
    c_str,
    ffi::{c_char, c_void},
    prelude::*,
    str::CStr,
};

type ShowFn = unsafe extern "C" fn(buf: *mut c_char, size: usize) -> isize;
type StoreFn = unsafe extern "C" fn(buf: *const c_char, count: usize) -> isize;

/// One file: `struct drvreg_debugfs_file` of `rust/debugfs.h`. Use it through
/// [`debugfs_files!`](crate::debugfs_files).
#[repr(C)]
pub struct File {
    name: *const c_char,
    mode: u16,
    show: Option<ShowFn>,
    store: Option<StoreFn>,
}

// SAFETY: Never changed after construction; `name` points to a static string.
unsafe impl Sync for File {}

extern "C" {
    fn drvreg_debugfs_dir(name: *const c_char, parent: *mut c_void) -> *mut c_void;
    fn drvreg_debugfs_file(parent: *mut c_void, f: *const File) -> *mut c_void;
    fn drvreg_debugfs_remove(dentry: *mut c_void);
}

/// `IS_ERR()`: the kernel's error pointers are the last 4095 addresses.
fn is_err(p: *mut c_void) -> bool {
    p.is_null() || (p as usize) >= (-4095isize) as usize
}

impl File {
    /// Describes the file `A`.
    pub const fn new<A: AttrOps>() -> Self {
        Self {
            name: const_char_ptr(A::NAME),
            mode: A::MODE,
            show: if A::MODE & 0o444 != 0 {
                Some(Self::show::<A>)
            } else {
                None
            },
            store: if A::MODE & 0o222 != 0 {
                Some(Self::store::<A>)
            } else {
                None
            },
        }
    }

    /// The `show` callback of file `A`.
    ///
    /// # Safety
    ///
    /// Called by `rust/debugfs.c` only: `buf` is a zeroed buffer of `size` bytes that
    /// nothing else uses during the call.
    unsafe extern "C" fn show<A: AttrOps>(buf: *mut c_char, size: usize) -> isize {
        // SAFETY: By this function's contract, `size` writable bytes at `buf`, ours for
        // the call.
        let buf = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), size) };
        let mut page = Page::new(buf);
        match A::show(c_str!(""), &mut page) {
            Ok(()) => page.written() as isize,
            Err(e) => e.to_errno() as isize,
        }
    }

    /// The `store` callback of file `A`.
    ///
    /// # Safety
    ///
    /// Called by `rust/debugfs.c` only, for a caller with `CAP_SYS_ADMIN`: `buf` holds
    /// `count` readable bytes, unchanged during the call.
    unsafe extern "C" fn store<A: AttrOps>(buf: *const c_char, count: usize) -> isize {
        // SAFETY: By this function's contract, `count` readable bytes at `buf`.
        let input = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), count) };
        match A::store(c_str!(""), input) {
            Ok(()) => 0,
            Err(e) => e.to_errno() as isize,
        }
    }
}

/// A static set of files, in the tree's root (`dir` None) or in its subdirectory `dir`.
/// Made with [`debugfs_files!`](crate::debugfs_files).
pub struct Files {
    /// The subdirectory, if any.
    pub dir: Option<&'static CStr>,
    /// The files.
    pub files: &'static [File],
}

/// `/sys/kernel/debug/<name>/` and the files in it, removed when dropped.
///
/// # Invariants
///
/// `root` is what `debugfs_create_dir` returned: a directory we own, or an error pointer
/// (debugfs unavailable), which `debugfs_remove` ignores.
pub struct Tree {
    root: *mut c_void,
}

// SAFETY: debugfs creation and removal are thread-safe; `&Tree` offers nothing.
unsafe impl Send for Tree {}
// SAFETY: As above.
unsafe impl Sync for Tree {}

impl Tree {
    /// Creates `/sys/kernel/debug/<name>/` holding every set of `sets`. A file that
    /// cannot be made is left out (debugfs failures never stop a driver, by kernel
    /// convention): the log says how many.
    pub fn new(name: &CStr, sets: &[&'static Files]) -> Self {
        // SAFETY: `name` is NUL-terminated; a null parent is the debugfs root.
        let root = unsafe { drvreg_debugfs_dir(name.as_char_ptr(), core::ptr::null_mut()) };
        let mut missing = 0usize;
        for set in sets {
            let dir = match set.dir {
                // SAFETY: `dir` is NUL-terminated; `root` is ours or an error pointer,
                // which debugfs takes as a parent and fails.
                Some(dir) => unsafe { drvreg_debugfs_dir(dir.as_char_ptr(), root) },
                None => root,
            };
            for file in set.files {
                // SAFETY: `dir` is a directory under `root` or an error pointer; `file`
                // is static, so it outlives the file, which `Drop` removes.
                if is_err(unsafe { drvreg_debugfs_file(dir, file) }) {
                    missing += 1;
                }
            }
        }
        if missing > 0 {
            pr_warn!("debugfs: {missing} control files not created (is debugfs enabled?)\n");
        }
        // INVARIANT: `root` is `debugfs_create_dir`'s result.
        Self { root }
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        // Removal waits until no read or write of a file under it runs; later ones fail
        // with EIO, and `release` runs in a module that open files pin (`rust/debugfs.c`).
        // SAFETY: By the type invariants `root` is ours or an error pointer.
        unsafe { drvreg_debugfs_remove(self.root) };
    }
}

/// Defines a static [`Files`] from [`AttrOps`] types:
/// `debugfs_files!(static NAME(subdir or None) = [A, B]);`
#[macro_export]
macro_rules! debugfs_files {
    ($(#[$meta:meta])* $vis:vis static $set:ident ($dir:expr) = [$($file:ty),+ $(,)?];) => {
        $(#[$meta])*
        $vis static $set: $crate::sys::debugfs::Files = {
            const N: usize = [$(stringify!($file)),+].len();
            static FILES: [$crate::sys::debugfs::File; N] =
                [$($crate::sys::debugfs::File::new::<$file>()),+];
            $crate::sys::debugfs::Files { dir: $dir, files: &FILES }
        };
    };
}

// SPDX-License-Identifier: GPL-2.0

//! SRCU (sleepable RCU), as much as the benchmark's SRCU design needs (6.12's kernel crate
//! has no SRCU binding): an `srcu_struct` of its own, read-side sections that may sleep,
//! and `synchronize_srcu()`.
//!
//! A [`SrcuGuard`] is a read-side critical section of one [`Srcu`]: what a writer unlinked
//! and then waited for with [`Srcu::synchronize`] before freeing stays valid while a guard
//! taken before the unlink is held. Unlike an RCU guard, the holder may sleep.

use core::marker::PhantomData;
use core::ptr::NonNull;
use kernel::{bindings, ffi::c_int, ffi::c_void, prelude::*};

// `struct srcu_struct *` as an opaque pointer: its bindgen type holds a `lockdep_map`,
// which is not FFI-safe on kernels without lockdep.
extern "C" {
    fn drvreg_srcu_new() -> *mut c_void;
    fn drvreg_srcu_free(ssp: *mut c_void);
    fn drvreg_srcu_read_lock(ssp: *mut c_void) -> c_int;
    fn drvreg_srcu_read_unlock(ssp: *mut c_void, idx: c_int);
}

/// An SRCU domain: an `srcu_struct` of its own, so that its grace periods wait only for its
/// own readers.
///
/// # Invariants
///
/// `ssp` is an `srcu_struct` allocated and initialised by `drvreg_srcu_new`, cleaned up and
/// freed only by `drop`.
pub struct Srcu {
    ssp: NonNull<c_void>,
}

// SAFETY: An `srcu_struct` may be used from any task: readers and updaters synchronise
// through it, and it is freed only when no guard borrows it (`drop` takes `self` by value).
unsafe impl Send for Srcu {}
// SAFETY: See `Send`.
unsafe impl Sync for Srcu {}

impl Srcu {
    /// A new domain. May sleep.
    pub fn new() -> Result<Self> {
        // SAFETY: Allocates and initialises; process context (callers may sleep).
        let ssp = unsafe { drvreg_srcu_new() };
        // INVARIANT: Checked not null: allocated and initialised.
        Ok(Self {
            ssp: NonNull::new(ssp).ok_or(ENOMEM)?,
        })
    }

    /// Enters a read-side critical section, which lasts until the guard drops. The holder
    /// may sleep (that is SRCU's point), but must not call [`Srcu::synchronize`] on the
    /// same domain: that would wait for itself.
    #[inline]
    pub fn read_lock(&self) -> SrcuGuard<'_> {
        // SAFETY: By the type invariants `ssp` is initialised and stays so while `self`
        // is borrowed, which the guard does.
        let idx = unsafe { drvreg_srcu_read_lock(self.ssp.as_ptr()) };
        // INVARIANT: Locked just above, on this task, with index `idx`.
        SrcuGuard {
            srcu: self,
            idx,
            _not_send: PhantomData,
        }
    }

    /// Waits until every read-side section of this domain that began before the call has
    /// ended. Sleeps (process context).
    pub fn synchronize(&self) {
        // SAFETY: By the type invariants `ssp` is initialised; process context, as this
        // function's contract says.
        unsafe { bindings::synchronize_srcu(self.ssp.as_ptr().cast()) };
    }
}

impl Drop for Srcu {
    fn drop(&mut self) {
        // SAFETY: By the type invariants `ssp` is initialised and freed only here; no guard
        // exists (each borrows `self`), and no `synchronize` runs (it borrows `self` too).
        unsafe { drvreg_srcu_free(self.ssp.as_ptr()) };
    }
}

/// A read-side critical section of a [`Srcu`], from [`Srcu::read_lock`] to its drop.
///
/// # Invariants
///
/// `srcu_read_lock()` on `srcu` returned `idx` on this task when the guard was made; the
/// drop's `srcu_read_unlock()` passes it back on the same task (the guard is neither
/// `Send` nor `Sync`).
pub struct SrcuGuard<'a> {
    srcu: &'a Srcu,
    idx: c_int,
    _not_send: PhantomData<*mut ()>,
}

impl Drop for SrcuGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: By the type invariants this task entered the section with `idx`, and the
        // domain is initialised while borrowed.
        unsafe { drvreg_srcu_read_unlock(self.srcu.ssp.as_ptr(), self.idx) };
    }
}

/// KUnit (7.x kernels built with `CONFIG_KUNIT`): sections, nested and not, and grace
/// periods between them.
#[cfg(drvreg_kernel_7)]
#[kunit_tests(drvreg_srcu)]
mod tests {
    use super::Srcu;
    use kernel::prelude::*;

    #[test]
    fn sections_and_grace_periods() -> Result {
        let s = Srcu::new()?;
        s.synchronize();
        {
            let _outer = s.read_lock();
            let _inner = s.read_lock();
        }
        s.synchronize();
        drop(s.read_lock());
        s.synchronize();
        Ok(())
    }
}

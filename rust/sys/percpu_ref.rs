// SPDX-License-Identifier: GPL-2.0

//! `percpu_ref` (6.12's kernel crate has no binding): a reference count that is a per-CPU
//! counter while live and an atomic one once killed, as block and cgroup code use it to
//! keep an object against removal.
//!
//! [`PercpuRef::tryget_live`] takes a reference unless the ref was killed; the
//! [`PercpuRefPin`] it returns puts it when dropped. [`PercpuRef::kill`] refuses new
//! references; [`PercpuRef::wait_released`] then waits until the last one is put (the
//! switch to atomic mode takes an RCU grace period, so that is at least one). Dropping a
//! [`PercpuRef`] kills it and waits, so a pin never outlives the object it counts on.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, Ordering::Relaxed};
use kernel::{ffi::c_void, prelude::*};

extern "C" {
    fn drvreg_pref_new() -> *mut c_void;
    fn drvreg_pref_tryget_live(p: *mut c_void) -> bool;
    fn drvreg_pref_put(p: *mut c_void);
    fn drvreg_pref_kill(p: *mut c_void);
    fn drvreg_pref_released(p: *mut c_void) -> bool;
    fn drvreg_pref_wait(p: *mut c_void);
    fn drvreg_pref_free(p: *mut c_void);
}

/// A `percpu_ref` with the completion its release callback completes.
///
/// # Invariants
///
/// - `ptr` is a `struct drvreg_pref` from `drvreg_pref_new`, freed only by `drop`, once its
///   release callback has run (every reference put) or if it was never killed and no pin
///   exists (a pin borrows nothing, so `drop` kills and waits first).
/// - `killed` is set by the one call of `drvreg_pref_kill`, made only through it.
pub struct PercpuRef {
    ptr: NonNull<c_void>,
    killed: AtomicBool,
}

// SAFETY: A `percpu_ref` may be taken, put, killed and waited for from any task; the
// allocation is freed only by `drop`.
unsafe impl Send for PercpuRef {}
// SAFETY: See `Send`.
unsafe impl Sync for PercpuRef {}

impl PercpuRef {
    /// A live ref holding its initial reference (dropped by the kill). May sleep.
    pub fn new() -> Result<Self> {
        // SAFETY: Allocates and initialises; process context (callers may sleep).
        let ptr = unsafe { drvreg_pref_new() };
        // INVARIANT: Checked not null: initialised, not killed.
        Ok(Self {
            ptr: NonNull::new(ptr).ok_or(ENOMEM)?,
            killed: AtomicBool::new(false),
        })
    }

    /// Takes a reference unless the ref was killed (`percpu_ref_tryget_live()`): a per-CPU
    /// increment inside an RCU read-side section while live.
    #[inline]
    pub fn tryget_live(&self) -> Option<PercpuRefPin> {
        // SAFETY: By the type invariants `ptr` is initialised while `self` is borrowed.
        if unsafe { drvreg_pref_tryget_live(self.ptr.as_ptr()) } {
            // INVARIANT: One reference, taken just above.
            Some(PercpuRefPin { ptr: self.ptr })
        } else {
            None
        }
    }

    /// Refuses new references from now on and drops the initial one
    /// (`percpu_ref_kill()`); a second call does nothing. Does not wait.
    pub fn kill(&self) {
        if !self.killed.swap(true, Relaxed) {
            // SAFETY: By the type invariants `ptr` is initialised; killed once, here.
            unsafe { drvreg_pref_kill(self.ptr.as_ptr()) };
        }
    }

    /// Kills the ref if needed, then waits until every reference has been put. Sleeps
    /// (process context); at least one RCU grace period after the kill.
    pub fn wait_released(&self) {
        self.kill();
        // SAFETY: By the type invariants `ptr` is initialised; killed above, so the release
        // callback runs once the references are put.
        unsafe { drvreg_pref_wait(self.ptr.as_ptr()) };
    }
}

impl Drop for PercpuRef {
    fn drop(&mut self) {
        // SAFETY: By the type invariants `ptr` is initialised.
        if !unsafe { drvreg_pref_released(self.ptr.as_ptr()) } {
            // Not waited for yet: this may sleep. Owners that drop from atomic context
            // (an RCU callback) call `wait_released` first.
            self.wait_released();
        }
        // SAFETY: Released (every reference, so every pin, is put), and freed only here.
        unsafe { drvreg_pref_free(self.ptr.as_ptr()) };
    }
}

/// One reference taken by [`PercpuRef::tryget_live`], put when dropped.
///
/// # Invariants
///
/// Holds one reference on the `drvreg_pref` at `ptr`, which is therefore not released, and
/// so not freed (see [`PercpuRef`]'s invariants), until the drop puts it.
pub struct PercpuRefPin {
    ptr: NonNull<c_void>,
}

// SAFETY: A reference may be put from any task (`percpu_ref_put()` on whichever CPU).
unsafe impl Send for PercpuRefPin {}

impl Drop for PercpuRefPin {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: By the type invariants the ref is allocated and this pin holds one of its
        // references, put once, here.
        unsafe { drvreg_pref_put(self.ptr.as_ptr()) };
    }
}

/// KUnit (7.x kernels built with `CONFIG_KUNIT`): references until the kill, none after.
#[cfg(drvreg_kernel_7)]
#[kunit_tests(drvreg_percpu_ref)]
mod tests {
    use super::PercpuRef;
    use kernel::prelude::*;

    #[test]
    fn refuses_after_kill_and_releases_after_the_last_put() -> Result {
        let r = PercpuRef::new()?;
        let a = r.tryget_live();
        let b = r.tryget_live();
        assert!(a.is_some() && b.is_some());
        r.kill();
        r.kill();
        assert!(r.tryget_live().is_none());
        drop(a);
        drop(b);
        r.wait_released();
        r.wait_released();
        Ok(())
    }

    #[test]
    fn drops_unkilled() -> Result {
        let r = PercpuRef::new()?;
        drop(r.tryget_live());
        drop(r);
        Ok(())
    }
}

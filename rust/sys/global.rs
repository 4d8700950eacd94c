// SPDX-License-Identifier: GPL-2.0

//! A value published for the lifetime of the module that owns it.
//!
//! Entry points that have no context pointer (exported functions called by other modules,
//! sysfs callbacks, notifier callbacks) reach the core's state through a [`Global`]. The
//! owner publishes it at the end of init and withdraws it at exit once those entry points
//! can no longer run (sysfs files removed, notifier unregistered, dependent modules gone).
//!
//! Access is scoped: [`Global::with`] lends the value to a closure, and the borrow checker
//! keeps the reference from escaping the call. Code that runs for longer (the stress
//! workers) holds an owned, refcounted handle instead.

use core::ptr::null_mut;
use core::sync::atomic::{AtomicPtr, Ordering};

/// A pointer to module-lifetime state; see the module documentation.
///
/// # Invariants
///
/// A non-null pointer points to a value that stays valid until [`Global::withdraw`] has
/// been called and every [`Global::with`] call that loaded the pointer has returned.
pub struct Global<T>(AtomicPtr<T>);

impl<T: Sync> Default for Global<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Sync> Global<T> {
    /// Nothing published.
    pub const fn new() -> Self {
        Self(AtomicPtr::new(null_mut()))
    }

    /// Publishes `value`.
    ///
    /// # Safety
    ///
    /// `value` must stay valid (not moved, not dropped) until [`Global::withdraw`] has been
    /// called and every [`Global::with`] call that may have seen it has returned.
    pub unsafe fn publish(&self, value: &T) {
        // INVARIANT: The caller keeps `value` valid as the invariant requires.
        self.0
            .store(core::ptr::from_ref(value).cast_mut(), Ordering::Release);
    }

    /// Withdraws the published value: [`Global::with`] finds nothing from now on.
    pub fn withdraw(&self) {
        self.0.store(null_mut(), Ordering::Release);
    }

    /// Calls `f` with the published value, or returns `None` if there is none. The
    /// reference cannot outlive the call.
    pub fn with<R>(&self, f: impl FnOnce(&T) -> R) -> Option<R> {
        let ptr = self.0.load(Ordering::Acquire);
        // SAFETY: By the type invariants a non-null pointer stays valid until this call
        // returns; the reference given to `f` cannot escape it.
        unsafe { ptr.as_ref() }.map(f)
    }
}

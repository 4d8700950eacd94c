// SPDX-License-Identifier: GPL-2.0

//! A value published for the lifetime of the module that owns it.
//!
//! Entry points that have no context pointer (exported functions called by other modules,
//! sysfs callbacks, notifier callbacks) reach the core's state through a [`Global`]. The
//! owner publishes it at the end of init and withdraws it at exit once those entry points
//! can no longer run (sysfs files removed, notifier unregistered, dependent modules gone).

use core::ptr::null_mut;
use core::sync::atomic::{AtomicPtr, Ordering};

/// A pointer to module-lifetime state; see the module documentation.
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
    /// called and every caller of [`Global::get`] that may have seen it has returned.
    pub unsafe fn publish(&self, value: &T) {
        self.0
            .store((value as *const T).cast_mut(), Ordering::Release);
    }

    /// Withdraws the published value: [`Global::get`] returns `None` from now on.
    pub fn withdraw(&self) {
        self.0.store(null_mut(), Ordering::Release);
    }

    /// The published value, if any.
    ///
    /// The `'static` lifetime stands for "until the owner withdraws it", as for
    /// `&'static ThisModule`: callers must not keep the reference past their own call.
    pub fn get(&self) -> Option<&'static T> {
        let ptr = self.0.load(Ordering::Acquire);
        // SAFETY: A non-null pointer was published by `publish`, whose caller keeps the value
        // valid until after `withdraw` and until every caller of `get` has returned.
        unsafe { ptr.as_ref() }
    }
}

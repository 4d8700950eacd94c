// SPDX-License-Identifier: GPL-2.0

//! RCU: read-side critical sections and grace periods, as much as drvreg needs (6.12's
//! kernel crate has no RCU binding).
//!
//! A [`Guard`] is an RCU read-side critical section: memory that a writer unlinked and
//! freed only after a grace period stays valid while it is held. Code holding a guard
//! must not sleep (no mutex, no allocation that may sleep, no `schedule()`): the core only
//! holds one around index walks, atomic operations and `try_module_get`, and its waits
//! inside one are busy-waits.

use core::marker::PhantomData;
use kernel::{bindings, ffi::c_ulong};

extern "C" {
    fn drvreg_rcu_read_lock();
    fn drvreg_rcu_read_unlock();
}

/// An RCU read-side critical section, from [`Guard::new`] to the guard's drop.
///
/// # Invariants
///
/// `rcu_read_lock()` was called on this task when the guard was made, and is matched by
/// the `rcu_read_unlock()` of its drop on the same task: the guard is neither `Send` nor
/// `Sync`.
pub struct Guard {
    _not_send: PhantomData<*mut ()>,
}

impl Guard {
    /// Enters a read-side critical section.
    ///
    /// # Safety
    ///
    /// Until the guard is dropped, the caller must not sleep, nor call anything that may
    /// (`api::delay::sleep_us` or `yield_now`, a mutex, an allocation that may sleep): on
    /// a kernel whose RCU is not preemptible that ends the section early, and what was
    /// found under the guard could be freed while still borrowed from it. (Sleeping is
    /// safe Rust, so the rule is this function's, not theirs.)
    #[inline]
    pub unsafe fn new() -> Self {
        // SAFETY: Always callable; matched by the unlock in `drop`, on this task.
        unsafe { drvreg_rcu_read_lock() };
        // INVARIANT: Locked just above, on this task.
        Self {
            _not_send: PhantomData,
        }
    }
}

impl Drop for Guard {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: By the type invariants this task entered the section in `new`.
        unsafe { drvreg_rcu_read_unlock() };
    }
}

/// A point in RCU time: "a grace period that starts after now".
#[derive(Clone, Copy)]
pub struct GpState(c_ulong);

impl GpState {
    /// The state now: a later [`GpState::wait`] returns once every read-side critical
    /// section that had begun by now has ended.
    pub fn now() -> Self {
        // SAFETY: Reads RCU's grace-period counter; callable in any context.
        Self(unsafe { bindings::get_state_synchronize_rcu() })
    }

    /// Waits, if needed, for a full grace period after `self` was taken; returns at once
    /// if one has elapsed already. May sleep.
    pub fn wait(self) {
        // SAFETY: Process context (callers may sleep, as this function's contract says);
        // any value from `get_state_synchronize_rcu` is valid.
        unsafe { bindings::cond_synchronize_rcu(self.0) };
    }
}

/// Waits for every pending `call_rcu` callback to have run (before the module whose code
/// they are unloads). May sleep.
pub fn barrier() {
    // SAFETY: Process context, as this function's contract says.
    unsafe { bindings::rcu_barrier() };
}

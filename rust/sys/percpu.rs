// SPDX-License-Identifier: GPL-2.0

//! Per-CPU counters (6.12's kernel crate has no per-CPU binding): one `atomic_long_t` per
//! possible CPU, allocated with `alloc_percpu`.
//!
//! Two types, because the two uses must not mix on one counter:
//! - [`PerCpuStat`]: statistics, added to with one non-atomic per-CPU instruction
//!   (`this_cpu_add`); no other CPU ever writes them, so nothing shared is written.
//! - [`PerCpuPins`]: pin counts. A pin increments a counter with an atomic operation and
//!   remembers it; the unpin decrements that same counter, from whatever CPU
//!   it runs on. Each counter is then "increments minus decrements on it", and a decrement
//!   is never visible without its increment, so a sum read while nothing new is pinned
//!   never undercounts the pins still held (see `Registry`'s two-stage unregister).

use core::ptr::NonNull;
use kernel::{ffi::c_long, ffi::c_void, prelude::*};

extern "C" {
    fn drvreg_pcpu_alloc() -> *mut c_void;
    fn drvreg_pcpu_free(p: *mut c_void);
    fn drvreg_pcpu_pin(p: *mut c_void) -> *mut c_void;
    fn drvreg_pcpu_unpin(c: *mut c_void);
    fn drvreg_pcpu_add_local(p: *mut c_void, v: c_long);
    fn drvreg_pcpu_sum(p: *mut c_void) -> c_long;
}

/// An owned per-CPU allocation of one `atomic_long_t` per possible CPU.
///
/// # Invariants
///
/// `ptr` is a live `alloc_percpu(atomic_long_t)` allocation, freed only by `drop`.
struct Raw {
    ptr: NonNull<c_void>,
}

// SAFETY: The allocation is plain per-CPU memory, written only through atomic or per-CPU
// operations (see the two wrappers); any thread may use or free it.
unsafe impl Send for Raw {}
// SAFETY: See `Send`.
unsafe impl Sync for Raw {}

impl Raw {
    fn new() -> Result<Self> {
        // SAFETY: Allocates zeroed per-CPU memory; may sleep (process context, as the
        // constructors of the wrappers are only called when registering or loading).
        let ptr = unsafe { drvreg_pcpu_alloc() };
        // INVARIANT: Checked not null: a live allocation.
        Ok(Self {
            ptr: NonNull::new(ptr).ok_or(ENOMEM)?,
        })
    }

    fn sum(&self) -> isize {
        // SAFETY: By the type invariants `ptr` is live; the helper only reads it.
        unsafe { drvreg_pcpu_sum(self.ptr.as_ptr()) as isize }
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        // SAFETY: By the type invariants `ptr` is live and freed only here; `free_percpu`
        // may run in atomic context (an RCU callback drops records).
        unsafe { drvreg_pcpu_free(self.ptr.as_ptr()) };
    }
}

/// A statistics counter, written only by the CPU it belongs to.
pub struct PerCpuStat(Raw);

impl PerCpuStat {
    /// A counter at zero.
    pub fn new() -> Result<Self> {
        Ok(Self(Raw::new()?))
    }

    /// Adds `v` to this CPU's counter: one per-CPU instruction, atomic against interrupts
    /// on this CPU, not shared with any other CPU.
    #[inline]
    pub fn add(&self, v: isize) {
        // SAFETY: The allocation is live (`Raw`'s invariants); no other CPU writes this
        // CPU's counter of a `PerCpuStat`.
        unsafe { drvreg_pcpu_add_local(self.0.ptr.as_ptr(), v as c_long) };
    }

    /// The total over all CPUs (not a snapshot: counts added meanwhile may or may not be in).
    pub fn sum(&self) -> isize {
        self.0.sum()
    }
}

/// Pin counters: see the module documentation.
pub struct PerCpuPins(Raw);

/// The counter one two-stage pin incremented: what [`PerCpuPins::unpin`] decrements.
///
/// # Invariants
///
/// Points to one `atomic_long_t` of a [`PerCpuPins`] allocation, incremented by
/// [`PerCpuPins::pin`] for one pin.
#[derive(Clone, Copy)]
pub struct PinCounter(NonNull<c_void>);

impl PerCpuPins {
    /// Counters at zero.
    pub fn new() -> Result<Self> {
        Ok(Self(Raw::new()?))
    }

    /// Counts a pin on this CPU's counter (the task may migrate afterwards; the counter is
    /// atomic) and returns that counter, for [`PerCpuPins::unpin`]. The increment is a
    /// kernel atomic followed by `smp_mb__after_atomic()`: a full barrier in the LKMM's
    /// terms, which the store-buffering argument against the unregister needs
    /// (`selftests/litmus/twostage-pin.litmus`).
    #[inline]
    pub fn pin(&self) -> PinCounter {
        // SAFETY: The allocation is live (`Raw`'s invariants) while `self` is borrowed; the
        // helper increments this CPU's element of it and returns it.
        let c = unsafe { drvreg_pcpu_pin(self.0.ptr.as_ptr()) };
        // INVARIANT: The counter the helper just incremented for this pin.
        // SAFETY: An element of a live per-CPU allocation (`raw_cpu_ptr`) is never null.
        PinCounter(unsafe { NonNull::new_unchecked(c) })
    }

    /// Uncounts the pin that [`PerCpuPins::pin`] counted on `counter`, with full barriers
    /// before and after the decrement (`twostage-teardown.litmus`, `twostage-wake.litmus`).
    ///
    /// # Safety
    ///
    /// `counter` must come from [`PerCpuPins::pin`] on counters that are still allocated,
    /// and be uncounted only once.
    #[inline]
    pub unsafe fn unpin(counter: PinCounter) {
        // SAFETY: The caller guarantees the counter is allocated and still counts the pin.
        unsafe { drvreg_pcpu_unpin(counter.0.as_ptr()) };
    }

    /// The pins held now, summed over all CPUs, after a full barrier: see the module
    /// documentation for when this cannot undercount.
    pub fn sum(&self) -> isize {
        self.0.sum()
    }
}

/// KUnit (7.x kernels built with `CONFIG_KUNIT`): the sums of the per-CPU counters.
#[cfg(drvreg_kernel_7)]
#[kunit_tests(drvreg_percpu)]
mod tests {
    use super::{PerCpuPins, PerCpuStat};
    use kernel::prelude::*;

    #[test]
    fn stat_sums_what_was_added() -> Result {
        let s = PerCpuStat::new()?;
        assert_eq!(s.sum(), 0);
        s.add(5);
        s.add(-2);
        s.add(1000);
        assert_eq!(s.sum(), 1003);
        s.add(-1003);
        assert_eq!(s.sum(), 0);
        Ok(())
    }

    #[test]
    fn pins_count_until_unpinned() -> Result {
        let p = PerCpuPins::new()?;
        let other = PerCpuPins::new()?;
        let a = p.pin();
        let b = p.pin();
        assert_eq!(p.sum(), 2);
        assert_eq!(other.sum(), 0);
        // SAFETY: `a` came from `p.pin()` and `p` is still allocated; uncounted once.
        unsafe { PerCpuPins::unpin(a) };
        assert_eq!(p.sum(), 1);
        // SAFETY: As above, for `b`.
        unsafe { PerCpuPins::unpin(b) };
        assert_eq!(p.sum(), 0);
        Ok(())
    }
}

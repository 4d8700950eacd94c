// SPDX-License-Identifier: GPL-2.0

//! Online CPUs, for binding benchmark threads (6.12's kernel crate has no CPU binding),
//! and the calling context's check, [`might_sleep`].

extern "C" {
    #[cfg(CONFIG_DEBUG_ATOMIC_SLEEP)]
    fn drvreg_might_sleep();
    fn drvreg_online_cpus() -> u32;
    fn drvreg_online_cpu(n: u32) -> i32;
    fn drvreg_cpu_possible(cpu: u32) -> bool;
}

/// How many CPUs are online now.
pub fn online() -> u32 {
    // SAFETY: Reads the online mask's weight; callable in any context.
    unsafe { drvreg_online_cpus() }
}

/// The id of the `n`-th online CPU (from 0), if there are that many.
pub fn nth_online(n: u32) -> Option<u32> {
    // SAFETY: Searches the online mask; callable in any context.
    u32::try_from(unsafe { drvreg_online_cpu(n) }).ok()
}

/// Whether `cpu` is a possible CPU of this system.
pub fn exists(cpu: u32) -> bool {
    // SAFETY: Reads the possible mask; callable in any context.
    unsafe { drvreg_cpu_possible(cpu) }
}

/// States that the caller may sleep: `might_sleep()`. A debug kernel
/// (`CONFIG_DEBUG_ATOMIC_SLEEP`) reports a call from atomic context (a spinlock held, an
/// RCU read-side section, interrupts off) every time, so a path that sleeps only now and
/// then (dropping the last pin of a driver being unregistered) is caught on every call.
/// Elsewhere it compiles to nothing: it sits on the lookup and unpin paths, where an
/// out-of-line call to a C helper that checks nothing would only cost.
#[inline]
pub fn might_sleep() {
    // SAFETY: Only checks; callable anywhere, reporting misuse rather than causing it.
    #[cfg(CONFIG_DEBUG_ATOMIC_SLEEP)]
    unsafe {
        drvreg_might_sleep()
    }
}

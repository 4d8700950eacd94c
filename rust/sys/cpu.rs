// SPDX-License-Identifier: GPL-2.0

//! Online CPUs, for binding benchmark threads (6.12's kernel crate has no CPU binding).

extern "C" {
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

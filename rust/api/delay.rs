// SPDX-License-Identifier: GPL-2.0

//! Sleeping and yielding, for process context; busy-waiting, for any context.

use kernel::bindings;

/// Sleeps (below 10 µs: spins) for about `us` microseconds, like `fsleep()`. May sleep:
/// call it only from process context with no spinlock held.
pub fn sleep_us(us: u32) {
    match us {
        0 => {}
        // SAFETY: `__udelay` busy-waits; it is safe in any context.
        1..=9 => unsafe { bindings::__udelay(us as usize) },
        10..=19_999 => {
            let min = us as usize;
            // SAFETY: Sleeping in process context, as this function requires of callers.
            unsafe {
                bindings::usleep_range_state(min, min + min / 4, bindings::TASK_UNINTERRUPTIBLE)
            };
        }
        // SAFETY: Sleeping in process context, as this function requires of callers.
        _ => unsafe { bindings::msleep(us.div_ceil(1000)) },
    }
}

/// Sleeps like [`sleep_us`], but a signal to the calling task ends the sleep early: a test
/// holds a pin for as long as it needs and releases it with `kill`, instead of racing a
/// fixed delay. Returns whether the whole time was slept. May sleep: call it only from
/// process context with no spinlock held.
pub fn sleep_us_interruptible(us: u32) -> bool {
    if us < 20_000 {
        sleep_us(us);
        return true;
    }
    // SAFETY: Sleeping in process context, as this function requires of callers.
    unsafe { bindings::msleep_interruptible(us.div_ceil(1000)) == 0 }
}

/// Busy-waits for about `us` microseconds without sleeping: for code that must not sleep
/// (an RCU read-side critical section). Safe in any context.
pub fn spin_us(us: u32) {
    let mut left = us;
    while left > 0 {
        let step = left.min(1000);
        // SAFETY: `__udelay` busy-waits; it is safe in any context.
        unsafe { bindings::__udelay(step as usize) };
        left -= step;
    }
}

/// Lets the scheduler run something else if it wants to (`schedule()` while runnable), so
/// a busy kernel thread is fair on kernels without full preemption too.
pub fn yield_now() {
    // SAFETY: Scheduling from process context with no lock held, as callers must ensure;
    // the task stays runnable, so it simply gets the CPU back later.
    unsafe { bindings::schedule() };
}

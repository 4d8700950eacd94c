// SPDX-License-Identifier: GPL-2.0

//! Sleeping and yielding, for process context; busy-waiting, for any context.
//!
//! Sleeping is safe: called in atomic context the kernel reports it ("sleeping function
//! called from invalid context"), a bug but not memory unsafety. The one way a sleep
//! could free memory still borrowed is inside an RCU read-side section on a kernel whose
//! RCU is not preemptible: opening one (`sys::rcu::Guard::new`, core code only) is
//! `unsafe`, with the promise not to sleep until it ends.

use kernel::bindings;

/// Sleeps (below 10 µs: spins) for about `us` microseconds, like `fsleep()`: for process
/// context (see the module documentation).
pub fn sleep_us(us: u32) {
    match us {
        0 => {}
        // SAFETY: `__udelay` busy-waits; it is safe in any context.
        1..=9 => unsafe { bindings::__udelay(us as usize) },
        10..=19_999 => {
            let min = us as usize;
            // SAFETY: A sleep; see the module documentation for its context.
            unsafe {
                bindings::usleep_range_state(min, min + min / 4, bindings::TASK_UNINTERRUPTIBLE)
            };
        }
        // SAFETY: A sleep; see the module documentation for its context.
        _ => unsafe { bindings::msleep(us.div_ceil(1000)) },
    }
}

/// Sleeps like [`sleep_us`], but a signal to the calling task ends the sleep early: a test
/// holds a pin for as long as it needs and releases it with `kill`, instead of racing a
/// fixed delay. Returns whether the whole time was slept. For process context (see the
/// module documentation).
pub fn sleep_us_interruptible(us: u32) -> bool {
    if us < 20_000 {
        sleep_us(us);
        return true;
    }
    // SAFETY: A sleep; see the module documentation for its context.
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
    // SAFETY: A call to the scheduler, as a sleep is (see the module documentation);
    // the task stays runnable, so it simply gets the CPU back later.
    unsafe { bindings::schedule() };
}

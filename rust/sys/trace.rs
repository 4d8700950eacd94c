// SPDX-License-Identifier: GPL-2.0

//! drvreg's trace events (`rust/drvreg_trace.h`, system `drvreg`): one function per event,
//! callable anywhere (the events copy their strings; nothing here sleeps or locks).
//!
//! 6.12's Rust has no tracepoint support and no static keys, and a `TRACE_EVENT` is C
//! macros, so each event is a C helper (`rust/trace.c`). While none of drvreg's events is
//! enabled, a function here costs one relaxed load and a branch not taken: it reads the
//! count of enabled events that the events' registration functions keep, and does not call
//! into C. The call and its arguments are in a cold function of their own, so the hot
//! paths that trace stay as small as without tracing (and as inlinable). Without
//! `CONFIG_TRACEPOINTS` it compiles to nothing.

#[cfg(CONFIG_TRACEPOINTS)]
use crate::api::compat::const_char_ptr;
#[cfg(CONFIG_TRACEPOINTS)]
use core::sync::atomic::{AtomicI32, Ordering::Relaxed};
use kernel::str::CStr;

#[cfg(CONFIG_TRACEPOINTS)]
extern "C" {
    /// `atomic_t` in C: an `int` changed only by atomic operations (trace.c).
    static drvreg_trace_users: AtomicI32;
    fn drvreg_trace_lookup_start(mode: *const u8, mode_len: usize, name: *const u8, len: usize);
    fn drvreg_trace_lookup_end(
        mode: *const u8,
        mode_len: usize,
        name: *const u8,
        len: usize,
        err: i32,
    );
    fn drvreg_trace_racy_window_start(name: *const u8, len: usize, owner: usize);
    fn drvreg_trace_racy_window_end(name: *const u8, len: usize, owner: usize);
    fn drvreg_trace_pin(name: *const u8, len: usize, percpu: bool);
    fn drvreg_trace_unpin(name: *const u8, len: usize, percpu: bool);
    fn drvreg_trace_unregister_begin(name: *const u8, len: usize, module: *const u8);
    fn drvreg_trace_unregister_wait(name: *const u8, len: usize, module: *const u8);
    fn drvreg_trace_unregister_end(name: *const u8, len: usize, module: *const u8);
    fn drvreg_trace_purge(name: *const u8, len: usize, module: *const u8);
}

/// Whether any of drvreg's events is enabled (then each helper tests its own).
#[cfg(CONFIG_TRACEPOINTS)]
#[inline(always)]
fn on() -> bool {
    // SAFETY: The C side defines the counter for the module's lifetime and changes it only
    // with atomic operations; `AtomicI32` has the layout of its `int`.
    unsafe { &drvreg_trace_users }.load(Relaxed) != 0
}

/// Defines `pub fn $name($args)`: calls `$helper($cargs)` if an event is enabled.
macro_rules! event {
    ($(#[$doc:meta])* $name:ident($($arg:ident: $ty:ty),*) => $helper:ident($($carg:expr),*)) => {
        $(#[$doc])*
        #[inline(always)]
        pub fn $name($($arg: $ty),*) {
            #[cfg(CONFIG_TRACEPOINTS)]
            {
                #[cold]
                #[inline(never)]
                fn emit($($arg: $ty),*) {
                    // SAFETY: The helpers take byte strings as a pointer and the length of
                    // a slice, and NUL-terminated ones from a `CStr`, all valid for the
                    // call, which copies them.
                    unsafe { $helper($($carg),*) };
                }
                if on() {
                    emit($($arg),*);
                }
            }
            #[cfg(not(CONFIG_TRACEPOINTS))]
            let _ = ($($arg),*);
        }
    };
}

event!(
    /// `drvreg_lookup_start`: a lookup of `name` in `mode` begins.
    lookup_start(mode: &str, name: &[u8]) =>
        drvreg_trace_lookup_start(mode.as_ptr(), mode.len(), name.as_ptr(), name.len())
);

event!(
    /// `drvreg_lookup_end`: the lookup ends, pinned (`err` 0) or failed (a negative errno).
    lookup_end(mode: &str, name: &[u8], err: i32) =>
        drvreg_trace_lookup_end(mode.as_ptr(), mode.len(), name.as_ptr(), name.len(), err)
);

event!(
    /// `drvreg_racy_window_start`: the racy lookup read `owner` (the address of a `struct
    /// module`) without the driver lock.
    racy_window_start(name: &[u8], owner: usize) =>
        drvreg_trace_racy_window_start(name.as_ptr(), name.len(), owner)
);

event!(
    /// `drvreg_racy_window_end`: the racy lookup's window closes; `try_module_get` is next.
    racy_window_end(name: &[u8], owner: usize) =>
        drvreg_trace_racy_window_end(name.as_ptr(), name.len(), owner)
);

event!(
    /// `drvreg_pin`: a driver is pinned, by a module reference or a per-CPU count.
    pin(name: &[u8], percpu: bool) => drvreg_trace_pin(name.as_ptr(), name.len(), percpu)
);

event!(
    /// `drvreg_unpin`: the pin is being dropped, its callbacks returned.
    unpin(name: &[u8], percpu: bool) => drvreg_trace_unpin(name.as_ptr(), name.len(), percpu)
);

event!(
    /// `drvreg_unregister_begin`: lookups no longer find driver `name` of `module`.
    unregister_begin(name: &[u8], module: &CStr) =>
        drvreg_trace_unregister_begin(name.as_ptr(), name.len(), const_char_ptr(module).cast())
);

event!(
    /// `drvreg_unregister_wait`: the unregistration sleeps until the pins in flight drop.
    unregister_wait(name: &[u8], module: &CStr) =>
        drvreg_trace_unregister_wait(name.as_ptr(), name.len(), const_char_ptr(module).cast())
);

event!(
    /// `drvreg_unregister_end`: the driver is gone, no pin held.
    unregister_end(name: &[u8], module: &CStr) =>
        drvreg_trace_unregister_end(name.as_ptr(), name.len(), const_char_ptr(module).cast())
);

event!(
    /// `drvreg_purge`: going `module` left `name` registered; the core unregisters it.
    purge(name: &[u8], module: &CStr) =>
        drvreg_trace_purge(name.as_ptr(), name.len(), const_char_ptr(module).cast())
);

// SPDX-License-Identifier: GPL-2.0

//! Kernel threads owned by the core.
//!
//! A [`Thread`] runs `body(&ctx, &data)`; dropping the handle stops the thread and waits for
//! it to exit. Only the thread itself can ask whether it should stop: the question is a
//! method of [`ThreadCtx`], a token that only the thread's trampoline creates and that
//! cannot leave the thread.

use crate::api::delay::sleep_us;
use core::marker::PhantomData;
use core::ptr::NonNull;
use kernel::{bindings, c_str, ffi::c_int, ffi::c_void, prelude::*, sync::Arc};

/// Proof that the code holding it runs in a kthread made by [`Thread::spawn`].
///
/// # Invariants
///
/// Created only by the trampoline of a [`Thread`], on that thread; it is neither `Send`
/// nor `Sync`, and lent to the body by reference, so it never leaves that thread.
pub struct ThreadCtx {
    _not_send: PhantomData<*mut ()>,
}

impl ThreadCtx {
    /// Whether the thread has been asked to stop (its [`Thread`] handle was dropped).
    pub fn should_stop(&self) -> bool {
        // SAFETY: By the type invariants the current task is a kthread.
        unsafe { bindings::kthread_should_stop() }
    }
}

struct Job<T> {
    body: fn(&ThreadCtx, &T),
    data: Arc<T>,
}

/// A kernel thread running `body(&ctx, &data)` until it is stopped; dropping the handle
/// stops the thread and waits for it to exit.
///
/// `body` is expected to loop until [`ThreadCtx::should_stop`] returns true. If it returns
/// earlier, the thread parks until it is stopped, so the handle can always join it.
///
/// # Invariants
///
/// `task` is a kthread created by [`Thread::spawn`] that has not been stopped yet. It does
/// not exit before `kthread_stop` is called on it, so `task` stays valid. `_job` outlives it.
pub struct Thread<T: Send + Sync + 'static> {
    task: NonNull<bindings::task_struct>,
    /// Owned only to outlive the thread: freed after `kthread_stop` in `drop`.
    _job: Pin<KBox<Job<T>>>,
}

// SAFETY: The handle only calls `kthread_stop`, which any thread may call once.
unsafe impl<T: Send + Sync + 'static> Send for Thread<T> {}
// SAFETY: `&Thread` offers nothing.
unsafe impl<T: Send + Sync + 'static> Sync for Thread<T> {}

impl<T: Send + Sync + 'static> Thread<T> {
    /// Starts a kernel thread named `drvreg/<prefix><index>` running `body(&ctx, &data)`.
    pub fn spawn(
        prefix: &'static kernel::str::CStr,
        index: u32,
        data: Arc<T>,
        body: fn(&ThreadCtx, &T),
    ) -> Result<Self> {
        Self::spawn_on(prefix, index, None, data, body)
    }

    /// As [`Thread::spawn`], bound to `cpu` if given (an online CPU: see
    /// [`crate::sys::cpu::nth_online`]); `EINVAL` for a CPU that does not exist.
    pub fn spawn_on(
        prefix: &'static kernel::str::CStr,
        index: u32,
        cpu: Option<u32>,
        data: Arc<T>,
        body: fn(&ThreadCtx, &T),
    ) -> Result<Self> {
        if cpu.is_some_and(|cpu| !crate::sys::cpu::exists(cpu)) {
            return Err(EINVAL);
        }
        let job = KBox::pin(Job { body, data }, GFP_KERNEL)?;
        let arg = core::ptr::from_ref::<Job<T>>(&job)
            .cast_mut()
            .cast::<c_void>();
        // SAFETY: `run::<T>` matches the thread function signature and is given a pointer
        // to a pinned `Job<T>` that outlives the thread (see `Drop`). The format string
        // is NUL-terminated and consumes exactly the two variadic arguments.
        let task = unsafe {
            bindings::kthread_create_on_node(
                Some(Self::run),
                arg,
                bindings::NUMA_NO_NODE,
                c_str!("drvreg/%s%u").as_char_ptr(),
                prefix.as_char_ptr(),
                index,
            )
        };
        let task = kernel::error::from_err_ptr(task)?;
        let task = NonNull::new(task).ok_or(ENOMEM)?;
        if let Some(cpu) = cpu {
            // SAFETY: `task` is a freshly created kthread that has not been woken yet, as
            // `kthread_bind` requires; `cpu` exists (checked above).
            unsafe { bindings::kthread_bind(task.as_ptr(), cpu) };
        }
        // SAFETY: `task` is a freshly created kthread that has not been woken yet.
        unsafe { bindings::wake_up_process(task.as_ptr()) };
        // INVARIANT: `run` never returns before `kthread_should_stop()` is true.
        Ok(Self { task, _job: job })
    }

    /// The thread function.
    ///
    /// # Safety
    ///
    /// `arg` must point to a `Job<T>` that outlives the thread, and this must run as the
    /// thread function of a kthread.
    unsafe extern "C" fn run(arg: *mut c_void) -> c_int {
        // SAFETY: `arg` is the pinned `Job<T>` passed by `spawn`, alive until after the
        // thread has exited (`Drop` frees it only once `kthread_stop` returned).
        let job = unsafe { &*arg.cast::<Job<T>>() };
        // INVARIANT: We are the kthread's function, on its own thread; `ctx` is lent to
        // the body and dropped here.
        let ctx = ThreadCtx {
            _not_send: PhantomData,
        };
        (job.body)(&ctx, &job.data);
        // Park until stopped, so the thread never exits before `kthread_stop`.
        while !ctx.should_stop() {
            sleep_us(10_000);
        }
        0
    }
}

impl<T: Send + Sync + 'static> Drop for Thread<T> {
    fn drop(&mut self) {
        // SAFETY: By the type invariants `task` is a kthread that has not exited and has
        // not been stopped; `kthread_stop` waits for it to exit. `_job` is freed afterwards.
        unsafe { bindings::kthread_stop(self.task.as_ptr()) };
    }
}

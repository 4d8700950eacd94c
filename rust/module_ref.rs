// SPDX-License-Identifier: GPL-2.0

//! Module ownership: the owner of a driver, counted references on it, and a notifier for
//! modules that go away.
//!
//! Two facts of Linux 6.12 shape this file. `try_module_get` succeeds on a module that is
//! still `COMING` (its init is running), and a module whose init fails is freed whatever
//! references were taken on it. So a reference alone does not make a driver safe to hand
//! out: [`Owner::try_pin`] takes one only while the module is `LIVE`.

use core::ptr::NonNull;
use kernel::{bindings, ffi::c_int, ffi::c_ulong, ffi::c_void, prelude::*, str::CStr, ThisModule};

/// Life-cycle state of a module, as `enum module_state`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ModuleState {
    /// Init has returned 0; the module may be used.
    Live,
    /// Init is running.
    Coming,
    /// Init failed, or the module is being unloaded.
    Going,
    /// Not yet set up by the loader.
    Unformed,
}

impl ModuleState {
    fn from_raw(state: bindings::module_state) -> Self {
        match state {
            bindings::module_state_MODULE_STATE_LIVE => Self::Live,
            bindings::module_state_MODULE_STATE_COMING => Self::Coming,
            bindings::module_state_MODULE_STATE_GOING => Self::Going,
            _ => Self::Unformed,
        }
    }

    /// The name shown in sysfs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Coming => "coming",
            Self::Going => "going",
            Self::Unformed => "unformed",
        }
    }
}

/// The module that owns a registered driver.
///
/// # Invariants
///
/// `ptr` points to a `struct module` that stays allocated for as long as this value is
/// used. The registry upholds this: it keeps an `Owner` only in a record linked into its
/// list, touches it only under the driver lock or while holding a [`ModuleRef`] on it,
/// and every module unregisters its drivers (or has them purged by [`GoingNotifier`])
/// before the loader frees it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Owner(NonNull<bindings::module>);

// SAFETY: `Owner` is an identity plus read-only accesses to fields the module loader
// updates atomically (`state`) or never after load (`name`); any thread may use it.
unsafe impl Send for Owner {}
// SAFETY: See `Send`; `&Owner` offers no mutation.
unsafe impl Sync for Owner {}

impl Owner {
    /// Wraps a raw module pointer, or `None` for a null pointer (built-in code).
    ///
    /// # Safety
    ///
    /// `ptr` must point to a module that stays allocated while the returned value is used
    /// (see the type invariants).
    pub unsafe fn from_raw(ptr: *mut bindings::module) -> Option<Self> {
        NonNull::new(ptr).map(Self)
    }

    /// The owner for `module`, the calling module itself.
    pub fn of(module: &'static ThisModule) -> Option<Self> {
        // SAFETY: A `&'static ThisModule` is the caller's own module, allocated for as long
        // as the caller's code can run.
        unsafe { Self::from_raw(module.as_ptr()) }
    }

    /// The raw pointer, for the C ABI.
    pub fn as_ptr(self) -> *mut bindings::module {
        self.0.as_ptr()
    }

    /// The module's current state, read once.
    pub fn state(self) -> ModuleState {
        // SAFETY: By the type invariants the module is allocated. The loader writes
        // `state` concurrently, so read it once with a volatile load, as `READ_ONCE` does.
        let raw = unsafe { core::ptr::addr_of!((*self.0.as_ptr()).state).read_volatile() };
        ModuleState::from_raw(raw)
    }

    /// The module's name.
    pub fn name(&self) -> &CStr {
        // SAFETY: By the type invariants the module is allocated; `name` is a NUL-terminated
        // array written before the module became visible and never changed afterwards.
        unsafe { CStr::from_char_ptr((*self.0.as_ptr()).name.as_ptr()) }
    }

    /// Takes a reference on the module if, and only if, it is `LIVE`.
    ///
    /// Refuses a `COMING` module (its init may still fail, and then it is freed whatever
    /// references exist) and a `GOING` one (it is being unloaded).
    pub fn try_pin(self) -> Option<ModuleRef> {
        if self.state() != ModuleState::Live {
            return None;
        }
        // SAFETY: By the type invariants the module is allocated.
        if unsafe { bindings::try_module_get(self.0.as_ptr()) } {
            // INVARIANT: `try_module_get` succeeded, so we own one reference.
            Some(ModuleRef(self))
        } else {
            None
        }
    }
}

/// One counted reference on a module, taken by [`Owner::try_pin`]; dropping it puts it.
///
/// While it exists the module cannot finish unloading: `delete_module` fails with
/// `EAGAIN`/`EWOULDBLOCK` instead of running the module's exit.
///
/// # Invariants
///
/// Owns exactly one reference on `self.0`, taken with `try_module_get`.
pub struct ModuleRef(Owner);

impl ModuleRef {
    /// The referenced module.
    pub fn owner(&self) -> Owner {
        self.0
    }

    /// Gives up ownership of the reference without putting it (for the C ABI).
    pub fn into_raw(self) -> Owner {
        let owner = self.0;
        core::mem::forget(self);
        owner
    }

    /// Takes back a reference given up by [`ModuleRef::into_raw`].
    ///
    /// # Safety
    ///
    /// `owner` must come from `into_raw` and the reference not have been reclaimed yet.
    pub unsafe fn from_raw(owner: Owner) -> Self {
        // INVARIANT: The caller hands back the reference `into_raw` gave up.
        Self(owner)
    }
}

impl Drop for ModuleRef {
    fn drop(&mut self) {
        // SAFETY: By the type invariants we own one reference, so the module is allocated
        // and this put balances our `try_module_get`.
        unsafe { bindings::module_put(self.0.as_ptr()) };
    }
}

/// Calls a function when any module starts going away (`MODULE_STATE_GOING`): after its
/// exit function ran, or after its init failed, and before its memory is freed.
///
/// # Invariants
///
/// `nb` is registered on the module notifier chain from `new` until `drop`, and its
/// address does not change (it is pinned in a box).
#[pin_data(PinnedDrop)]
pub struct GoingNotifier {
    #[pin]
    nb: kernel::types::Opaque<bindings::notifier_block>,
    going: fn(Owner),
}

// SAFETY: The notifier block is only touched by the notifier chain, which serialises
// registration, calls and removal with its own lock.
unsafe impl Send for GoingNotifier {}
// SAFETY: See `Send`; shared references only reach `going`, a plain function pointer.
unsafe impl Sync for GoingNotifier {}

impl GoingNotifier {
    /// Registers `going` to be called with every module that starts going away.
    pub fn new(going: fn(Owner)) -> Result<Pin<KBox<Self>>> {
        let this = KBox::pin_init(
            pin_init!(Self {
                nb <- kernel::types::Opaque::ffi_init(|slot: *mut bindings::notifier_block| {
                    let nb = bindings::notifier_block {
                        notifier_call: Some(Self::call),
                        next: core::ptr::null_mut(),
                        priority: 0,
                    };
                    // SAFETY: `slot` is valid for writes of a notifier block.
                    unsafe { slot.write(nb) };
                }),
                going,
            }),
            GFP_KERNEL,
        )?;
        // SAFETY: The block is initialised and pinned in its box; `drop` unregisters it
        // before the box is freed.
        kernel::error::to_result(unsafe { bindings::register_module_notifier(this.nb.get()) })?;
        Ok(this)
    }

    /// The notifier callback.
    ///
    /// # Safety
    ///
    /// `nb` must be the `nb` field of a live `GoingNotifier`, and `data` a module.
    unsafe extern "C" fn call(
        nb: *mut bindings::notifier_block,
        action: c_ulong,
        data: *mut c_void,
    ) -> c_int {
        if action == bindings::module_state_MODULE_STATE_GOING as c_ulong {
            // SAFETY: The chain calls us with the `nb` we registered, which is the `nb`
            // field of a live, pinned `GoingNotifier`; `Opaque` is `repr(transparent)`.
            let this = unsafe { &*kernel::container_of!(nb, Self, nb) };
            // SAFETY: The module notifier chain passes the module that changes state; the
            // loader frees it only after the GOING notifiers returned.
            if let Some(owner) = unsafe { Owner::from_raw(data.cast()) } {
                (this.going)(owner);
            }
        }
        bindings::NOTIFY_DONE as c_int
    }
}

#[pinned_drop]
impl PinnedDrop for GoingNotifier {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: By the type invariants `nb` is registered; once this returns the chain
        // no longer calls it.
        unsafe { bindings::unregister_module_notifier(self.nb.get()) };
    }
}

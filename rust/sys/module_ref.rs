// SPDX-License-Identifier: GPL-2.0

//! Module ownership: who owns a driver ([`Owner`], an identity), a module whose memory is
//! known to be allocated ([`ModuleView`]), a counted reference on it ([`ModuleRef`]), and a
//! notifier for modules that go away ([`GoingNotifier`]).
//!
//! Nothing here reads a module's memory unless something proves it is allocated: an
//! [`Owner`] only compares; a [`ModuleView`] borrows that proof for a lifetime (from a lock
//! guard of a list the module's records are linked in, or from a notifier call); a
//! [`ModuleRef`] holds a reference.
//!
//! Two facts of Linux 6.12 shape this file. `try_module_get` succeeds on a module that is
//! still `COMING` (its init is running), and a module whose init fails is freed whatever
//! references were taken on it. So a reference alone does not make a driver safe to hand
//! out: [`ModuleView::try_get`] takes one only while the module is `LIVE`.

use crate::api::compat::{cstr_from_ptr, opaque_try_ffi_init};
use core::marker::PhantomData;
use core::ptr::NonNull;
use kernel::{
    bindings,
    ffi::{c_int, c_ulong, c_void},
    prelude::*,
    str::CStr,
    types::Opaque,
    ThisModule,
};

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

/// The identity of a module: its address. It only compares; it never reads the module,
/// so it may outlive it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Owner(NonNull<bindings::module>);

// SAFETY: An `Owner` is an address that is never dereferenced through this type.
unsafe impl Send for Owner {}
// SAFETY: See `Send`.
unsafe impl Sync for Owner {}

impl Owner {
    /// The identity of the module at `ptr`, or `None` for a null pointer (built-in code).
    pub fn from_ptr(ptr: *mut bindings::module) -> Option<Self> {
        NonNull::new(ptr).map(Self)
    }

    /// The owner for `module`, the calling module itself.
    pub fn of(module: &'static ThisModule) -> Option<Self> {
        Self::from_ptr(module.as_ptr())
    }

    /// The raw pointer, for the C ABI.
    pub fn as_ptr(self) -> *mut bindings::module {
        self.0.as_ptr()
    }

    /// The address as a number, for ordering in indexes.
    pub fn addr(self) -> usize {
        self.0.as_ptr() as usize
    }
}

/// A module that is allocated for at least `'a`: its state and name may be read.
///
/// # Invariants
///
/// `owner` points to a `struct module` that stays allocated for `'a`.
#[derive(Clone, Copy)]
pub struct ModuleView<'a> {
    owner: Owner,
    _alive: PhantomData<&'a bindings::module>,
}

impl<'a> ModuleView<'a> {
    /// A view of `owner`.
    ///
    /// # Safety
    ///
    /// The module `owner` must stay allocated for `'a`.
    pub unsafe fn new(owner: Owner) -> Self {
        // INVARIANT: The caller guarantees the module is allocated for `'a`.
        Self {
            owner,
            _alive: PhantomData,
        }
    }

    /// Which module this is.
    pub fn owner(self) -> Owner {
        self.owner
    }

    /// The module's current state, read once.
    pub fn state(self) -> ModuleState {
        let field = self.owner.as_ptr();
        // SAFETY: By the type invariants the module is allocated. The loader writes `state`
        // concurrently, so it is read once with a volatile load, as `READ_ONCE` does.
        let raw = unsafe { core::ptr::addr_of!((*field).state).read_volatile() };
        ModuleState::from_raw(raw)
    }

    /// The module's name.
    pub fn name(self) -> &'a CStr {
        let module = self.owner.as_ptr();
        // SAFETY: By the type invariants the module is allocated for `'a`; `name` is a
        // NUL-terminated array written before the module became visible, never changed.
        unsafe { cstr_from_ptr((*module).name.as_ptr()) }
    }

    /// Takes a reference on the module if, and only if, it is `LIVE`.
    ///
    /// Refuses a `COMING` module (its init may still fail, and then it is freed whatever
    /// references exist) and a `GOING` one (it is being unloaded).
    pub fn try_get(self) -> Option<ModuleRef> {
        if self.state() != ModuleState::Live {
            return None;
        }
        // SAFETY: By the type invariants the module is allocated.
        if unsafe { bindings::try_module_get(self.owner.as_ptr()) } {
            // INVARIANT: `try_module_get` succeeded, so we own one reference.
            Some(ModuleRef(self.owner))
        } else {
            None
        }
    }
}

/// One counted reference on a module, taken by [`ModuleView::try_get`]; dropping it puts
/// it.
///
/// While it exists the module cannot finish unloading: `delete_module` fails with
/// `EAGAIN`/`EWOULDBLOCK` instead of running the module's exit.
///
/// # Invariants
///
/// Owns exactly one reference on the module `self.0`, taken with `try_module_get`.
pub struct ModuleRef(Owner);

impl ModuleRef {
    /// Which module is referenced.
    pub fn owner(&self) -> Owner {
        self.0
    }

    /// The referenced module, allocated as long as the reference is held.
    pub fn view(&self) -> ModuleView<'_> {
        // SAFETY: By the type invariants we hold a reference, so the module stays allocated
        // while `self` is borrowed.
        unsafe { ModuleView::new(self.0) }
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
/// Registered by its initializer ([`GoingNotifier::new`]): a `GoingNotifier` that exists is
/// registered, and dropping it unregisters it.
///
/// # Invariants
///
/// `nb` is registered on the module notifier chain from the end of initialisation until
/// `drop`, at a pinned address; `going` is written before `nb` is registered.
#[pin_data(PinnedDrop)]
pub struct GoingNotifier {
    going: fn(ModuleView<'_>),
    #[pin]
    nb: Opaque<bindings::notifier_block>,
}

// SAFETY: The notifier block is only touched by the notifier chain, which serialises
// registration, calls and removal with its own lock.
unsafe impl Send for GoingNotifier {}
// SAFETY: See `Send`; shared references only reach `going`, a plain function pointer.
unsafe impl Sync for GoingNotifier {}

impl GoingNotifier {
    /// Registers `going` to be called with every module that starts going away.
    pub fn new(going: fn(ModuleView<'_>)) -> impl PinInit<Self, Error> {
        let register = |nb: *mut bindings::notifier_block| {
            // SAFETY: `nb` is valid for writes of a notifier block (it is our slot).
            unsafe {
                nb.write(bindings::notifier_block {
                    notifier_call: Some(Self::call),
                    next: core::ptr::null_mut(),
                    priority: 0,
                })
            };
            // SAFETY: The block is initialised and pinned (the slot does not move); `drop`
            // unregisters it before it is freed.
            kernel::error::to_result(unsafe { bindings::register_module_notifier(nb) })
        };
        // On failure nothing is registered, and the slot may be freed as it is.
        let nb = opaque_try_ffi_init(register);
        // `going` is declared before `nb`, so it is written before `nb` is registered.
        try_pin_init!(Self { going, nb <- nb }? Error)
    }

    /// The notifier callback.
    ///
    /// # Safety
    ///
    /// `nb` must be the `nb` field of a registered `GoingNotifier`, and `data` a module
    /// that stays allocated during the call.
    unsafe extern "C" fn call(
        nb: *mut bindings::notifier_block,
        action: c_ulong,
        data: *mut c_void,
    ) -> c_int {
        if action != bindings::module_state_MODULE_STATE_GOING as c_ulong {
            return bindings::NOTIFY_DONE as c_int;
        }
        // SAFETY: The chain calls us with the `nb` we registered, the `nb` field of a
        // `GoingNotifier` (`Opaque` is `repr(transparent)`), so stepping back by the field's
        // offset stays inside that `GoingNotifier`.
        let this = unsafe { nb.byte_sub(core::mem::offset_of!(Self, nb)) }.cast::<Self>();
        // SAFETY: By the type invariants `going` was written before `nb` was registered and
        // is never changed; it is read through a raw pointer, without a reference to the
        // whole (possibly still initialising) value.
        let going = unsafe { core::ptr::addr_of!((*this).going).read() };
        if let Some(owner) = Owner::from_ptr(data.cast()) {
            // SAFETY: The module notifier chain passes the module that changes state; the
            // loader frees it only after the GOING notifiers returned, so it is allocated
            // for this call.
            going(unsafe { ModuleView::new(owner) });
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

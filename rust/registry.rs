// SPDX-License-Identifier: GPL-2.0

//! The driver registry: a list of drivers guarded by one global driver lock, and the
//! locked lookup that is Keith Owens' fix.
//!
//! The fix for Patrick Mochel's 2002 `get_driver()`: the list scan *and* the reference on
//! the owner module are taken under the same lock that [`Registry::unregister`] (called
//! from the owner's exit) takes. Either the reference is taken while the owner is live,
//! and then `rmmod` fails with `EAGAIN` until the pin is dropped; or the owner is already
//! going, and the lookup finds nothing. (The unsound 2002 lookup is in `racy.rs`; the
//! choice between them in `lookup.rs`.)
//!
//! Two references protect two different things:
//! - the owner **module reference** ([`ModuleRef`]) keeps the driver's code and its
//!   `struct drvreg_driver` (module memory) from being unloaded;
//! - the per-record **pin count** keeps the registration itself: [`Registry::unregister`]
//!   waits for it to drop to zero, so a driver unregistered at run time (not from its
//!   module's exit) is never called after `unregister` returned.
//!
//! Bookkeeping does not grow with the registry: names are kept in an rbtree; a descriptor
//! leads to its record through its `core` field (as `drivers/base` keeps `drv->p`); the
//! records of one owner are found through a second rbtree ordered by owner, so the
//! module-going purge costs O(log n) for a module with no drivers left.

use crate::api::abi::{self, DrvregDriver};
use crate::api::compat::cstr_str;
use crate::api::delay::sleep_us;
use crate::sys::module_ref::{ModuleRef, ModuleView, Owner};
use crate::sys::sysfs::{Dir, Group};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use kernel::{
    c_str, new_condvar, new_mutex,
    prelude::*,
    rbtree::{RBTree, RBTreeNodeReservation},
    str::CStr,
    sync::{lock::mutex::MutexBackend, lock::Guard, Arc, CondVar, Mutex},
};

/// `EDEADLK`: a module tried to pin its own driver.
pub fn edeadlk() -> Error {
    Error::from_errno(-(kernel::bindings::EDEADLK as i32))
}

/// A validated driver name: 1 to [`abi::NAME_MAX`] printable ASCII characters, no `/`
/// (it names a sysfs directory) and no space.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Name {
    buf: [u8; abi::NAME_MAX + 1],
    len: usize,
}

impl Name {
    /// Sorts before every valid name (for range searches); not a valid name itself.
    const MIN: Self = Self {
        buf: [0; abi::NAME_MAX + 1],
        len: 0,
    };

    /// Validates `bytes`, failing with `EINVAL`.
    pub fn new(bytes: &[u8]) -> Result<Self> {
        if bytes.is_empty() || bytes.len() > abi::NAME_MAX {
            return Err(EINVAL);
        }
        if !bytes.iter().all(|&c| c.is_ascii_graphic() && c != b'/') {
            return Err(EINVAL);
        }
        let mut buf = [0u8; abi::NAME_MAX + 1];
        buf[..bytes.len()].copy_from_slice(bytes);
        Ok(Self {
            buf,
            len: bytes.len(),
        })
    }

    /// The name without NUL.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The name as a C string.
    pub fn as_cstr(&self) -> &CStr {
        // The buffer is zero-filled past `len` and `len <= NAME_MAX`, and `new` rejects
        // NUL bytes, so exactly one NUL ends the name.
        CStr::from_bytes_with_nul(&self.buf[..=self.len]).unwrap_or(c_str!(""))
    }
}

/// Registry counters, all updated under the driver lock so that a snapshot is consistent:
/// `lookups == hits + misses + refused + self_pins` at any time in locked mode.
#[derive(Clone, Copy, Default)]
pub struct Stats {
    /// Lookups attempted.
    pub lookups: u64,
    /// Lookups that returned a pin.
    pub hits: u64,
    /// Lookups that found no (registered, not unregistering) driver of that name.
    pub misses: u64,
    /// Lookups that found the driver but its owner was not live (coming or going).
    pub refused: u64,
    /// Lookups refused because the caller owns the driver (a module cannot pin itself).
    pub self_pins: u64,
    /// Pins outstanding now.
    pub pins: u64,
    /// Drivers registered now.
    pub drivers: u64,
    /// Successful registrations, ever.
    pub registered: u64,
    /// Unregistrations, ever (including purges).
    pub unregistered: u64,
    /// Drivers removed because their module went away without unregistering them.
    pub purged: u64,
}

impl Stats {
    /// Counts a lookup that failed with `e`: `ENOENT` a miss, `ENODEV` a refusal,
    /// `EDEADLK` a self-pin.
    pub(crate) fn count_failure(&mut self, e: Error) {
        if e == ENOENT {
            self.misses += 1;
        } else if e == ENODEV {
            self.refused += 1;
        } else {
            self.self_pins += 1;
        }
    }
}

/// A registered driver as the core sees it.
pub struct Record {
    name: Name,
    /// The driver's descriptor, in its owner module's memory.
    entry: *mut DrvregDriver,
    owner: Owner,
    /// Pins held on this record; changed only under the driver lock.
    pins: AtomicU32,
    /// Callbacks called through pins.
    calls: AtomicU64,
}

// SAFETY: `entry` is only dereferenced while the owner module is pinned, or under the
// driver lock while the record is linked (see the `Registry` invariants); the rest is plain
// data or atomics.
unsafe impl Send for Record {}
// SAFETY: See `Send`.
unsafe impl Sync for Record {}

impl Record {
    /// Pins held on the driver now.
    pub fn pins(&self) -> u32 {
        self.pins.load(Relaxed)
    }

    /// Callbacks called through pins so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Relaxed)
    }
}

/// A linked registration. Slots exist only in [`Inner::slots`]: each is built and inserted
/// in one step by [`Registry::register`] and dropped when removed, so a `&Slot` always
/// borrows the driver lock's guard.
struct Slot {
    rec: Arc<Record>,
    /// `/sys/kernel/drvreg/drivers/<name>/`, taken out when unregistering.
    dir: Option<Dir>,
    /// Unregistration has started: lookups skip it, the name stays taken.
    dying: bool,
}

impl Slot {
    /// The record's owner module, readable while the slot (and so the lock) is borrowed.
    fn owner(&self) -> ModuleView<'_> {
        // SAFETY: A `&Slot` borrows the guard of the driver lock with the slot linked (see
        // `Slot`); by the `Registry` invariants the owner of a linked record is allocated
        // until it is unlinked, which needs the lock.
        unsafe { ModuleView::new(self.rec.owner) }
    }
}

/// Key of the owner index: the records of one module sort together.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct OwnerKey {
    owner: Owner,
    name: Name,
}

/// What the driver lock guards.
struct Inner {
    slots: RBTree<Name, Slot>,
    /// One entry per linked slot that is not dying.
    by_owner: RBTree<OwnerKey, ()>,
    stats: Stats,
}

impl Inner {
    /// The live (not unregistering) slot named `name`.
    fn find(&self, name: &Name) -> Option<&Slot> {
        self.slots.get(name).filter(|s| !s.dying)
    }

    /// The name of a live slot owned by `owner`, if any: O(log n).
    fn first_of(&mut self, owner: Owner) -> Option<Name> {
        let key = OwnerKey {
            owner,
            name: Name::MIN,
        };
        let cursor = self.by_owner.cursor_lower_bound(&key)?;
        let (found, ()) = cursor.current();
        (found.owner == owner).then_some(found.name)
    }
}

type InnerGuard<'a> = Guard<'a, Inner, MutexBackend>;

/// The registry.
///
/// # Invariants
///
/// - Every linked record's owner module is allocated: modules unregister their drivers
///   before they are freed ([`Registry::unregister`], or [`Registry::purge`] from the
///   module-going notifier), and both unlink under `inner`'s lock.
/// - A descriptor's `core` field is written only under `inner`'s lock: it points to the
///   record (the `Arc`'s contents) while the record is linked, and is null otherwise.
/// - `by_owner` has one entry for each linked slot that is not dying.
/// - A record's `pins` counts the [`DriverPin`]s on it; each pin also holds a module
///   reference on the record's owner.
#[pin_data]
pub struct Registry {
    /// The global driver lock.
    #[pin]
    inner: Mutex<Inner>,
    /// Signalled when a record's pin count drops to zero.
    #[pin]
    unpinned: CondVar,
    /// `/sys/kernel/drvreg/drivers/`, parent of the per-driver directories.
    drivers_dir: Dir,
    /// The attributes of each per-driver directory.
    driver_attrs: &'static Group,
}

impl Registry {
    /// A new, empty registry.
    pub fn new(drivers_dir: Dir, driver_attrs: &'static Group) -> impl PinInit<Self> {
        let inner = Inner {
            slots: RBTree::new(),
            by_owner: RBTree::new(),
            stats: Stats::default(),
        };
        pin_init!(Self {
            inner <- new_mutex!(inner, "drvreg::driver_lock"),
            unpinned <- new_condvar!("drvreg::unpinned"),
            drivers_dir,
            driver_attrs,
        })
    }

    /// A consistent snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.inner.lock().stats
    }

    /// Updates the counters under the lock (for the racy lookup, which counts outside the
    /// locked path).
    pub(crate) fn count(&self, f: impl FnOnce(&mut Stats)) {
        f(&mut self.inner.lock().stats);
    }

    /// Registers `entry`, owned by `owner`, under `name`.
    ///
    /// `EBUSY` if the name is taken (also while a driver of that name is still being
    /// unregistered), as `driver_register()` answers, or if `entry` is registered already
    /// (its `core` is set). Not `EEXIST`: a module's init returns this, and `modprobe`
    /// takes `EEXIST` from init for "already loaded" and reports success.
    ///
    /// # Safety
    ///
    /// `entry` must point to a descriptor that stays valid until it is unregistered, whose
    /// `core` field is null or this registry's; `owner` must be the module that will
    /// unregister it before being freed.
    pub unsafe fn register(&self, entry: *mut DrvregDriver, owner: Owner, name: Name) -> Result {
        // Allocate before taking the lock: nothing that can fail once the directory exists
        // may leave it to be dropped under the lock (removal waits for its readers, which
        // take the lock).
        let slot_node = RBTreeNodeReservation::new(GFP_KERNEL)?;
        let owner_node = RBTreeNodeReservation::new(GFP_KERNEL)?;
        let rec = Arc::new(
            Record {
                name,
                entry,
                owner,
                pins: AtomicU32::new(0),
                calls: AtomicU64::new(0),
            },
            GFP_KERNEL,
        )?;
        let mut inner = self.inner.lock();
        // SAFETY: The caller guarantees `entry` is valid; `core` is written only under the
        // lock, which we hold.
        if !unsafe { (*entry).core }.is_null() {
            return Err(EBUSY);
        }
        // Also taken while a driver of that name is still unregistering.
        if inner.slots.get(&name).is_some() {
            return Err(EBUSY);
        }
        // Creating the directory under the lock keeps its name unique: no other registration
        // of the name can start until the record is linked.
        let dir = Dir::new(name.as_cstr(), Some(&self.drivers_dir))?;
        if let Err(e) = dir.add_group(self.driver_attrs) {
            // The directory is removed outside the lock: removal waits for its readers.
            drop(inner);
            drop(dir);
            return Err(e);
        }
        // SAFETY: The caller guarantees `entry` is valid; the core owns `owner` (see the ABI).
        unsafe { (*entry).owner = owner.as_ptr().cast() };
        // INVARIANT: Linked below, under the lock: `core` points to the record.
        // SAFETY: The caller guarantees `entry` is valid; `core` is written under the lock.
        unsafe { (*entry).core = core::ptr::from_ref::<Record>(&rec).cast_mut().cast() };
        inner.slots.insert(slot_node.into_node(
            name,
            Slot {
                rec,
                dir: Some(dir),
                dying: false,
            },
        ));
        inner
            .by_owner
            .insert(owner_node.into_node(OwnerKey { owner, name }, ()));
        inner.stats.registered += 1;
        inner.stats.drivers += 1;
        Ok(())
    }

    /// Unregisters `entry`: no lookup finds it from now on, and when this returns no pin
    /// on it is held, so none of its callbacks runs or will run. `ENOENT` if it is not
    /// registered (or already being unregistered).
    ///
    /// # Safety
    ///
    /// `entry` must point to a valid descriptor: one registered here, or one whose `core`
    /// field is null.
    pub unsafe fn unregister(&self, entry: *mut DrvregDriver) -> Result {
        let inner = self.inner.lock();
        // SAFETY: The caller guarantees `entry` is valid; `core` is written under the lock.
        let rec = unsafe { (*entry).core }.cast::<Record>().cast_const();
        if rec.is_null() {
            return Err(ENOENT);
        }
        // SAFETY: By the type invariants a non-null `core` points to a linked record, which
        // its slot keeps alive while we hold the lock.
        let name = unsafe { (*rec).name };
        match inner.slots.get(&name) {
            Some(slot) if !slot.dying && core::ptr::eq(&*slot.rec, rec) => {}
            _ => return Err(ENOENT),
        }
        self.unlink(inner, name);
        Ok(())
    }

    /// Unregisters every driver still registered by `module`, which is going away.
    ///
    /// Called from the module-going notifier for every module that unloads: a correct
    /// module has unregistered everything already, and then this costs one O(log n)
    /// search. Anything found is a driver bug, warned about and counted as `purged`.
    pub fn purge(&self, module: ModuleView<'_>) {
        loop {
            let mut inner = self.inner.lock();
            let Some(name) = inner.first_of(module.owner()) else {
                break;
            };
            pr_warn!(
                "module {} is going with driver {} still registered: removing it\n",
                cstr_str(module.name()),
                cstr_str(name.as_cstr())
            );
            inner.stats.purged += 1;
            self.unlink(inner, name);
        }
    }

    /// Unlinks the live slot `name`: marks it dying, waits for its pins to drop, removes
    /// its directory (outside the lock, whose takers are its readers), then removes it.
    fn unlink(&self, mut inner: InnerGuard<'_>, name: Name) {
        let Some(slot) = inner.slots.get_mut(&name).filter(|s| !s.dying) else {
            return;
        };
        slot.dying = true;
        let rec = slot.rec.clone();
        // INVARIANT: `by_owner` lists only slots that are not dying.
        inner.by_owner.remove(&OwnerKey {
            owner: rec.owner,
            name,
        });
        while rec.pins.load(Relaxed) != 0 {
            self.unpinned.wait(&mut inner);
        }
        // Only this function removes a dying slot, so it is still there.
        let dir = inner.slots.get_mut(&name).and_then(|s| s.dir.take());
        drop(inner);
        // Removes the sysfs directory, waiting for its readers.
        drop(dir);
        let mut inner = self.inner.lock();
        // SAFETY: The record is linked, so its descriptor is valid (the unregistering caller
        // or the going module keeps it so); `core` is written under the lock.
        // INVARIANT: Cleared as the record is unlinked, under the lock.
        unsafe { (*rec.entry).core = core::ptr::null_mut() };
        if inner.slots.remove(&name).is_some() {
            inner.stats.unregistered += 1;
            inner.stats.drivers -= 1;
        }
    }

    /// Looks `name` up and pins it: the fix. Scans the list, checks that the owner is
    /// live and takes its module reference, all under the driver lock. `window_us` is the
    /// injected delay between finding and pinning (inside the lock here: unregister waits).
    ///
    /// `caller` is the module asking, if any: a module cannot pin its own drivers
    /// (`EDEADLK`). `ENOENT` if there is no such driver, `ENODEV` if its owner is not live.
    pub fn lookup(
        &self,
        name: &Name,
        caller: Option<Owner>,
        window_us: u32,
    ) -> Result<DriverPin<'_>> {
        let mut inner = self.inner.lock();
        inner.stats.lookups += 1;
        let found = match inner.find(name) {
            None => Err(ENOENT),
            Some(slot) if caller == Some(slot.rec.owner) => Err(edeadlk()),
            Some(slot) => {
                sleep_us(window_us);
                match slot.owner().try_get() {
                    Some(module) => Ok((slot.rec.clone(), module)),
                    None => Err(ENODEV),
                }
            }
        };
        match found {
            Ok((rec, module)) => Ok(self.pin_locked(&mut inner, rec, module)),
            Err(e) => {
                inner.stats.count_failure(e);
                Err(e)
            }
        }
    }

    /// Counts a new pin on `rec`, under the lock.
    fn count_pin(inner: &mut Inner, rec: &Record) {
        rec.pins.fetch_add(1, Relaxed);
        inner.stats.pins += 1;
    }

    fn pin_locked(&self, inner: &mut Inner, rec: Arc<Record>, module: ModuleRef) -> DriverPin<'_> {
        Self::count_pin(inner, &rec);
        inner.stats.hits += 1;
        // INVARIANT: `module` is a reference on `rec.owner`, and `pins` counts this pin.
        DriverPin {
            reg: self,
            rec,
            _module: module,
        }
    }

    /// The descriptor of the live driver `name`, counting the lookup (and a miss). The
    /// pointer is valid only while the lock is held: for the racy lookup, which uses it
    /// after dropping the lock.
    pub(crate) fn find_entry(&self, name: &Name) -> Result<*mut DrvregDriver> {
        let mut inner = self.inner.lock();
        inner.stats.lookups += 1;
        match inner.find(name).map(|s| s.rec.entry) {
            Some(entry) => Ok(entry),
            None => {
                inner.stats.misses += 1;
                Err(ENOENT)
            }
        }
    }

    /// Pins the driver of `entry` with `module`, a reference on its owner, if it is still
    /// registered (else counts a miss; `module` is put on the way out).
    ///
    /// # Safety
    ///
    /// `entry` must point to a valid descriptor (for example: in the memory of `module`,
    /// which the reference keeps).
    pub(crate) unsafe fn pin_entry(
        &self,
        entry: *mut DrvregDriver,
        module: ModuleRef,
    ) -> Result<DriverPin<'_>> {
        let mut inner = self.inner.lock();
        // SAFETY: The caller guarantees `entry` is valid; `core` is written under the lock.
        let rec = unsafe { (*entry).core }.cast::<Record>().cast_const();
        let found = if rec.is_null() {
            None
        } else {
            // SAFETY: By the type invariants a non-null `core` points to a linked record,
            // kept alive by its slot while we hold the lock.
            let name = unsafe { (*rec).name };
            inner
                .find(&name)
                .filter(|s| s.rec.owner == module.owner())
                .map(|s| s.rec.clone())
        };
        let Some(rec) = found else {
            inner.stats.misses += 1;
            return Err(ENOENT);
        };
        Ok(self.pin_locked(&mut inner, rec, module))
    }

    fn unpin(&self, rec: &Record) {
        let mut inner = self.inner.lock();
        inner.stats.pins -= 1;
        if rec.pins.fetch_sub(1, Relaxed) == 1 {
            self.unpinned.notify_all();
        }
    }

    /// Pins every live driver, then calls `f` on each pin with the lock dropped ("call
    /// every driver"). Drivers that are not live are skipped, not counted as lookups.
    pub fn for_each(&self, mut f: impl FnMut(&DriverPin<'_>)) -> Result {
        // Module references are taken under the lock, but no `DriverPin` exists until it
        // is released: dropping one takes the lock, so an error path that dropped pins
        // while holding it would deadlock. Dropping a bare `ModuleRef` is fine anywhere.
        let mut refs = KVec::new();
        {
            let mut inner = self.inner.lock();
            refs.reserve(inner.stats.drivers as usize, GFP_KERNEL)?;
            for s in inner.slots.values().filter(|s| !s.dying) {
                if let Some(module) = s.owner().try_get() {
                    refs.push((s.rec.clone(), module), GFP_KERNEL)?;
                }
            }
            for (rec, _) in refs.iter() {
                Self::count_pin(&mut inner, rec);
            }
        }
        for (rec, module) in refs {
            // INVARIANT: `module` is a reference on `rec.owner`, and `count_pin` counted this
            // pin above.
            let pin = DriverPin {
                reg: self,
                rec,
                _module: module,
            };
            f(&pin);
        }
        Ok(())
    }

    /// Calls `f` with the live record named `name` and a view of its owner module, under
    /// the lock (for sysfs attributes that read the core's own view of a driver). The view
    /// cannot outlive the call, and so the lock.
    pub fn with_record<R>(
        &self,
        name: &Name,
        f: impl FnOnce(&Record, ModuleView<'_>) -> R,
    ) -> Result<R> {
        let inner = self.inner.lock();
        let slot = inner.find(name).ok_or(ENOENT)?;
        Ok(f(&slot.rec, slot.owner()))
    }
}

/// A pinned driver: the only way to call into a driver.
///
/// Holds a reference on the driver's owner module, so the module cannot finish unloading,
/// and one pin on the registration, so it cannot finish unregistering. Dropping it
/// unpins, then puts the module reference: after the callbacks have returned, and by the
/// core, never by the driver.
///
/// # Invariants
///
/// `_module` is a reference on `rec.owner` and `rec.pins` counts this pin.
pub struct DriverPin<'a> {
    reg: &'a Registry,
    rec: Arc<Record>,
    _module: ModuleRef,
}

impl DriverPin<'_> {
    fn ops(&self) -> &abi::DrvregOps {
        self.rec.calls.fetch_add(1, Relaxed);
        // SAFETY: By the type invariants the owner module is referenced, so its memory,
        // where the descriptor lives, is not freed; the pin keeps the registration.
        let ops = unsafe { (*self.rec.entry).ops };
        // SAFETY: A registered descriptor's `ops` points to an ops table that stays valid
        // while it is registered (the ABI's rule; registration refused a null one), in the
        // memory of the module we reference.
        unsafe { &*ops }
    }

    /// Calls the driver's `open`.
    pub fn open(&self) -> Result {
        match self.ops().open {
            // SAFETY: The driver is registered and its module referenced (see `ops`);
            // the callback gets its own descriptor, as the ABI says.
            Some(open) => kernel::error::to_result(unsafe { open(self.rec.entry) }),
            None => Ok(()),
        }
    }

    /// Calls the driver's `release`.
    pub fn release(&self) {
        if let Some(release) = self.ops().release {
            // SAFETY: The driver is registered and its module referenced (see `ops`); the
            // callback gets its own descriptor, as the ABI says.
            unsafe { release(self.rec.entry) };
        }
    }

    /// Calls the driver's `show` into `buf`; returns the length written.
    pub fn show(&self, buf: &mut [u8]) -> Result<usize> {
        let Some(show) = self.ops().show else {
            return Ok(0);
        };
        if buf.is_empty() {
            return Ok(0);
        }
        // SAFETY: The driver is registered and its module referenced (see `ops`); the
        // callback gets its own descriptor and `buf`, valid for `buf.len()` bytes of writes.
        let ret = unsafe { show(self.rec.entry, buf.as_mut_ptr().cast(), buf.len()) };
        let len = usize::try_from(ret).map_err(|_| Error::from_errno(ret))?;
        Ok(len.min(buf.len() - 1))
    }

    /// Gives the pin up for the C ABI: returns the record, whose owner's reference the pin
    /// held; [`DriverPin::from_raw`] takes it back.
    pub fn into_raw(self) -> *const Record {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again; the field is moved out once.
        let module = unsafe { core::ptr::read(&this._module) };
        let _ = module.into_raw();
        // SAFETY: `this` is never used or dropped again; this field too is moved out once.
        let rec = unsafe { core::ptr::read(&this.rec) };
        Arc::into_raw(rec)
    }

    /// Takes back a pin given up by [`DriverPin::into_raw`].
    ///
    /// # Safety
    ///
    /// `rec` must come from `into_raw` on a pin of `reg`, not taken back yet.
    pub unsafe fn from_raw(reg: &Registry, rec: *const Record) -> DriverPin<'_> {
        // SAFETY: The caller guarantees `rec` came from `Arc::into_raw` in `into_raw`.
        let rec = unsafe { Arc::from_raw(rec) };
        // SAFETY: `into_raw` gave up the reference on `rec.owner` without putting it.
        let module = unsafe { ModuleRef::from_raw(rec.owner) };
        // INVARIANT: Restores the pin `into_raw` gave up.
        DriverPin {
            reg,
            rec,
            _module: module,
        }
    }
}

impl Drop for DriverPin<'_> {
    fn drop(&mut self) {
        self.reg.unpin(&self.rec);
        // `_module` is put after this: the module reference is the last thing dropped.
    }
}

// SPDX-License-Identifier: GPL-2.0

//! The driver registry: a list of drivers guarded by one global driver lock.
//!
//! The lock is the fix Keith Owens gave for Patrick Mochel's 2002 `get_driver()`: the list
//! scan *and* the reference on the owner module are taken under the same lock that
//! [`Registry::unregister`] (called from the owner's exit) takes. Either the reference is
//! taken while the owner is live, and then `rmmod` fails with `EAGAIN` until the pin is
//! dropped; or the owner is already going, and the lookup finds nothing.
//!
//! Two references protect two different things:
//! - the owner **module reference** ([`ModuleRef`]) keeps the driver's code and its
//!   `struct drvreg_driver` (module memory) from being unloaded;
//! - the per-record **pin count** keeps the registration itself: [`Registry::unregister`]
//!   waits for it to drop to zero, so a driver unregistered at run time (not from its
//!   module's exit) is never called after `unregister` returned.

use crate::abi::{self, DrvregDriver};
use crate::delay::sleep_us;
use crate::module_ref::{ModuleRef, ModuleState, Owner};
use crate::sysfs::{Dir, Group};
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering::Relaxed};
use kernel::{
    c_str, new_condvar, new_mutex,
    prelude::*,
    rbtree::{RBTree, RBTreeNodeReservation},
    str::CStr,
    sync::{Arc, CondVar, Mutex},
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

/// How lookups take the owner reference; see `/sys/kernel/drvreg/mode`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Scan and `try_module_get` under the driver lock: the fix.
    Locked = 0,
    /// Mochel's 2002 pattern: scan under the lock, take the reference after dropping it.
    /// Unsound; only selectable when the core was loaded with `allow_racy=1`.
    Racy = 1,
}

impl Mode {
    /// The name used in sysfs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Locked => "locked",
            Self::Racy => "racy",
        }
    }
}

/// Registry counters, all updated under the driver lock so that a snapshot is consistent:
/// `lookups == hits + misses + refused + self_pins` at any time.
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

// SAFETY: `entry` is only dereferenced while the owner module is pinned or under the
// driver lock while the record is linked (see `Registry` invariants); the rest is plain
// data or atomics.
unsafe impl Send for Record {}
// SAFETY: See `Send`.
unsafe impl Sync for Record {}

struct Slot {
    rec: Arc<Record>,
    /// `/sys/kernel/drvreg/drivers/<name>/`, taken out when unregistering.
    dir: Option<Dir>,
    /// Unregistration has started: lookups skip it, the name stays taken.
    dying: bool,
}

struct Inner {
    slots: RBTree<Name, Slot>,
    stats: Stats,
}

impl Inner {
    /// The live (not unregistering) slot named `name`.
    fn find(&self, name: &Name) -> Option<&Slot> {
        self.slots.get(name).filter(|s| !s.dying)
    }

    /// The name of the slot holding `entry`, unregistering or not.
    fn key_of(&self, entry: *mut DrvregDriver) -> Option<Name> {
        self.slots
            .iter()
            .find(|(_, s)| s.rec.entry == entry)
            .map(|(name, _)| *name)
    }
}

/// The registry.
///
/// # Invariants
///
/// - Every linked record's owner module is allocated: modules unregister their drivers
///   before they are freed ([`Registry::unregister`], or [`Registry::purge`] from the
///   module-going notifier), and both unlink under `inner`'s lock.
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
    mode: AtomicU8,
    race_window_us: AtomicU32,
    /// Whether `Mode::Racy` may be selected (`allow_racy=1` at load).
    pub allow_racy: bool,
}

/// Largest accepted race window (one second).
pub const RACE_WINDOW_MAX_US: u32 = 1_000_000;

impl Registry {
    /// A new, empty registry in locked mode.
    pub fn new(
        drivers_dir: Dir,
        driver_attrs: &'static Group,
        allow_racy: bool,
    ) -> impl PinInit<Self> {
        pin_init!(Self {
            inner <- new_mutex!(Inner { slots: RBTree::new(), stats: Stats::default() }, "drvreg::driver_lock"),
            unpinned <- new_condvar!("drvreg::unpinned"),
            drivers_dir,
            driver_attrs,
            mode: AtomicU8::new(Mode::Locked as u8),
            race_window_us: AtomicU32::new(0),
            allow_racy,
        })
    }

    /// The current lookup mode.
    pub fn mode(&self) -> Mode {
        if self.mode.load(Relaxed) == Mode::Racy as u8 {
            Mode::Racy
        } else {
            Mode::Locked
        }
    }

    /// Selects the lookup mode: `EPERM` for racy unless loaded with `allow_racy=1`.
    pub fn set_mode(&self, mode: Mode) -> Result {
        if mode == Mode::Racy && !self.allow_racy {
            return Err(EPERM);
        }
        self.mode.store(mode as u8, Relaxed);
        Ok(())
    }

    /// The injected delay between finding a driver and pinning its owner.
    pub fn race_window_us(&self) -> u32 {
        self.race_window_us.load(Relaxed)
    }

    /// Sets the race window; `EINVAL` above [`RACE_WINDOW_MAX_US`].
    pub fn set_race_window_us(&self, us: u32) -> Result {
        if us > RACE_WINDOW_MAX_US {
            return Err(EINVAL);
        }
        self.race_window_us.store(us, Relaxed);
        Ok(())
    }

    /// A consistent snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.inner.lock().stats
    }

    /// Registers `entry`, owned by `owner`, under `name`.
    ///
    /// `EEXIST` if the name is taken (also while a driver of that name is still being
    /// unregistered), `EBUSY` if `entry` is registered already.
    ///
    /// # Safety
    ///
    /// `entry` must point to a descriptor that stays valid until it is unregistered, and
    /// `owner` must be the module that will unregister it before being freed.
    pub unsafe fn register(&self, entry: *mut DrvregDriver, owner: Owner, name: Name) -> Result {
        // Allocate before taking the lock: nothing that can fail once the directory exists
        // may leave it to be dropped under the lock (removal waits for its readers, which
        // take the lock).
        let reservation = RBTreeNodeReservation::new(GFP_KERNEL)?;
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
        if inner.key_of(entry).is_some() {
            return Err(EBUSY);
        }
        // Also taken while a driver of that name is still unregistering.
        if inner.slots.get(&name).is_some() {
            return Err(EEXIST);
        }
        // Creating the directory under the lock keeps its name unique: no other registration
        // of the name can start until the record is linked.
        let dir = Dir::new(name.as_cstr(), Some(&self.drivers_dir))?;
        if let Err(e) = dir.add_group(self.driver_attrs) {
            drop(inner);
            drop(dir);
            return Err(e);
        }
        // SAFETY: The caller guarantees `entry` is valid; the core owns `owner` (see the ABI).
        unsafe { (*entry).owner = owner.as_ptr().cast() };
        let slot = Slot {
            rec,
            dir: Some(dir),
            dying: false,
        };
        inner.slots.insert(reservation.into_node(name, slot));
        inner.stats.registered += 1;
        inner.stats.drivers += 1;
        Ok(())
    }

    /// Unregisters `entry`: no lookup finds it from now on, and when this returns no pin
    /// on it is held, so none of its callbacks runs or will run. Returns `ENOENT` if it is
    /// not registered.
    pub fn unregister(&self, entry: *mut DrvregDriver) -> Result {
        let mut inner = self.inner.lock();
        let name = inner.key_of(entry).ok_or(ENOENT)?;
        let slot = inner
            .slots
            .get_mut(&name)
            .filter(|s| !s.dying)
            .ok_or(ENOENT)?;
        slot.dying = true;
        let rec = slot.rec.clone();
        while rec.pins.load(Relaxed) != 0 {
            self.unpinned.wait(&mut inner);
        }
        // Only this function removes a dying slot, so it is still there.
        let dir = inner.slots.get_mut(&name).and_then(|s| s.dir.take());
        drop(inner);
        // Removes the sysfs directory, waiting for its readers; outside the lock, which
        // they take.
        drop(dir);
        let mut inner = self.inner.lock();
        if inner.slots.remove(&name).is_some() {
            inner.stats.unregistered += 1;
            inner.stats.drivers -= 1;
        }
        Ok(())
    }

    /// Unregisters every driver still registered by `owner`, which is going away. Called from the module-going notifier: a correct module has
    /// unregistered everything already, so anything found here is a driver bug.
    pub fn purge(&self, owner: Owner) {
        loop {
            let found = {
                let inner = self.inner.lock();
                let found = inner
                    .slots
                    .values()
                    .find(|s| s.rec.owner == owner && !s.dying)
                    .map(|s| (s.rec.entry, s.rec.name));
                found
            };
            let Some((entry, name)) = found else { break };
            pr_warn!(
                "module {} is going with driver {} still registered: removing it\n",
                owner.name(),
                name.as_cstr()
            );
            if self.unregister(entry).is_ok() {
                self.inner.lock().stats.purged += 1;
            }
        }
    }

    /// Looks `name` up and pins it: the fix. Scans the list, checks that the owner is
    /// live and takes its module reference, all under the driver lock.
    ///
    /// `caller` is the module asking, if any: a module cannot pin its own drivers
    /// (`EDEADLK`). `ENOENT` if there is no such driver, `ENODEV` if its owner is not live.
    /// In racy mode this delegates to the unsound 2002 lookup.
    pub fn lookup(&self, name: &Name, caller: Option<Owner>) -> Result<DriverPin<'_>> {
        if self.mode() == Mode::Racy {
            // SAFETY: Not safe at all, on purpose: racy mode can only be selected when the
            // core was loaded with `allow_racy=1`, to demonstrate the 2002 crash.
            return unsafe { crate::racy::lookup(self, name, caller) };
        }
        let window = self.race_window_us();
        let mut inner = self.inner.lock();
        inner.stats.lookups += 1;
        let Some(slot) = inner.find(name) else {
            inner.stats.misses += 1;
            return Err(ENOENT);
        };
        let rec = slot.rec.clone();
        if caller == Some(rec.owner) {
            inner.stats.self_pins += 1;
            return Err(edeadlk());
        }
        // The same window the racy mode has, but inside the lock: unregister waits for it.
        sleep_us(window);
        // By the type invariants the owner of a linked record is allocated.
        let Some(module) = rec.owner.try_pin() else {
            inner.stats.refused += 1;
            return Err(ENODEV);
        };
        Ok(Self::pin_locked(&mut inner, self, rec, module))
    }

    /// Counts a new pin on `rec`, under the lock.
    fn count_pin(inner: &mut Inner, rec: &Record) {
        rec.pins.fetch_add(1, Relaxed);
        inner.stats.pins += 1;
    }

    fn pin_locked<'a>(
        inner: &mut Inner,
        reg: &'a Self,
        rec: Arc<Record>,
        module: ModuleRef,
    ) -> DriverPin<'a> {
        Self::count_pin(inner, &rec);
        inner.stats.hits += 1;
        // INVARIANT: `module` is a reference on `rec.owner`, and `pins` counts this pin.
        DriverPin {
            reg,
            rec,
            _module: module,
        }
    }

    /// For the racy lookup: under the lock, counts the lookup and returns the descriptor
    /// of the live record named `name`, or counts a miss.
    pub(crate) fn racy_find(&self, name: &Name) -> Result<*mut DrvregDriver> {
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

    /// For the racy lookup: updates the counters under the lock.
    pub(crate) fn racy_count(&self, f: impl FnOnce(&mut Stats)) {
        f(&mut self.inner.lock().stats);
    }

    /// For the racy lookup, once it holds `module`: pins the record of `entry` if it is
    /// still registered (else counts a miss and drops the reference).
    pub(crate) fn racy_finish(
        &self,
        entry: *mut DrvregDriver,
        module: ModuleRef,
    ) -> Result<DriverPin<'_>> {
        let mut inner = self.inner.lock();
        let Some(rec) = inner
            .key_of(entry)
            .and_then(|name| inner.find(&name))
            .map(|s| s.rec.clone())
        else {
            inner.stats.misses += 1;
            return Err(ENOENT);
        };
        if rec.owner != module.owner() {
            inner.stats.misses += 1;
            return Err(ENOENT);
        }
        Ok(Self::pin_locked(&mut inner, self, rec, module))
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
                if let Some(module) = s.rec.owner.try_pin() {
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

    /// Calls `f` with the record named `name` and its owner's state, under the lock
    /// (for sysfs attributes that read the core's own view of a driver).
    pub fn with_record<R>(
        &self,
        name: &Name,
        f: impl FnOnce(&Record, ModuleState, &CStr) -> R,
    ) -> Result<R> {
        let inner = self.inner.lock();
        let slot = inner.find(name).ok_or(ENOENT)?;
        // By the type invariants the owner of a linked record is allocated.
        let owner = slot.rec.owner;
        Ok(f(&slot.rec, owner.state(), owner.name()))
    }
}

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
        // where the descriptor and its ops table live, is not freed; the registration
        // (which requires a valid `ops`) is kept by our pin.
        unsafe { &*(*self.rec.entry).ops }
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
            // SAFETY: As in `open`.
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
        // SAFETY: As in `open`; `buf` is valid for `buf.len()` bytes of writes.
        let ret = unsafe { show(self.rec.entry, buf.as_mut_ptr().cast(), buf.len()) };
        let len = usize::try_from(ret).map_err(|_| Error::from_errno(ret))?;
        Ok(len.min(buf.len() - 1))
    }

    /// Gives the pin up for the C ABI: returns the record and the owner whose reference
    /// the pin held; [`DriverPin::from_raw`] takes them back.
    pub fn into_raw(self) -> *const Record {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again; each field is moved out once.
        let (rec, module) = unsafe { (core::ptr::read(&this.rec), core::ptr::read(&this._module)) };
        let _ = module.into_raw();
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

// SPDX-License-Identifier: GPL-2.0

//! The driver registry: a list of drivers guarded by one global driver lock, the locked
//! lookup that is Keith Owens' fix, and the two lookups that scale: RCU and two-stage.
//!
//! The fix for Patrick Mochel's 2002 `get_driver()`: the list scan *and* the reference on
//! the owner module are taken under the same lock that [`Registry::unregister`] (called
//! from the owner's exit) takes. Either the reference is taken while the owner is live,
//! and then `rmmod` fails with `EAGAIN` until the pin is dropped; or the owner is already
//! going, and the lookup finds nothing. (The unsound 2002 lookup is in `racy.rs`; the
//! choice between lookups in `lookup.rs`.)
//!
//! Three lookups keep that guarantee (a pin never outlives its driver's module memory):
//! - [`Registry::lookup_locked`]: scan + `try_module_get` under the driver lock (Owens).
//! - [`Registry::lookup_rcu`]: no lock. The reader walks a hash index under an RCU
//!   read-side section, takes a module reference on a `LIVE` owner, then counts its pin in
//!   the record's state word unless that word says "dying" (one atomic word: either
//!   unregister sees the pin, or the reader sees "dying"). Today's kernel does this in
//!   `__sock_create()` and `tcp_ca_find_autoload()`-style lookups.
//! - [`Registry::lookup_twostage`]: the two-stage design (Owens and Rusty Russell, 2002),
//!   no module reference. The reader counts its pin on a per-CPU counter of the record,
//!   then checks "dying"; the
//!   unregister sets "dying" (stage one: no new pins), then waits until the per-CPU pins
//!   sum to zero (stage two). `rmmod` of a pinned module waits in the module's exit
//!   instead of failing with `EAGAIN`. Like `percpu_ref` and SRCU.
//!
//! Two counts protect two different things:
//! - the owner **module reference** ([`ModuleRef`], locked and RCU pins) keeps the driver's
//!   code and its `struct drvreg_driver` (module memory) from being unloaded;
//! - the record's **pin counts** keep the registration itself: [`Registry::unregister`]
//!   waits for them to drop to zero, so a driver unregistered at run time (not from its
//!   module's exit) is never called after `unregister` returned; for two-stage pins, which
//!   hold no module reference, that wait is also what keeps the module.
//!
//! Bookkeeping does not grow with the registry: names are kept in an rbtree (the locked
//! scan) and in the hash index (lockless lookups); a descriptor leads to its record
//! through its `core` field (as `drivers/base` keeps `drv->p`); the records of one owner
//! are found through a second rbtree ordered by owner, so the module-going purge costs
//! O(log n) for a module with no drivers left.

use crate::api::abi::{self, DrvregDriver};
use crate::api::compat::cstr_str;
use crate::api::delay::{sleep_us, spin_us};
pub use crate::name::Name;
use crate::sys::cpu::might_sleep;
use crate::sys::module_ref::{ModuleRef, ModuleState, ModuleView, Owner};
use crate::sys::percpu::{PerCpuPins, PerCpuStat, PinCounter};
use crate::sys::rcu::{GpState, Guard};
use crate::sys::rcu_hash::{RcuHash, Writer};
use crate::sys::sysfs::{Dir, Group};
use crate::sys::trace;
use core::ptr::NonNull;
use core::sync::atomic::{
    AtomicU32, AtomicU64,
    Ordering::{Acquire, Relaxed, Release},
};
use kernel::{
    new_condvar, new_mutex,
    prelude::*,
    rbtree::{RBTree, RBTreeNodeReservation},
    sync::{lock::mutex::MutexBackend, lock::Guard as LockGuard, Arc, CondVar, Mutex},
};

/// `EDEADLK`: a module tried to pin its own driver.
pub fn edeadlk() -> Error {
    Error::from_errno(-(kernel::bindings::EDEADLK as i32))
}

/// Buckets of the lockless index, as a power of two: 16 384, so that chains stay short up
/// to the 10 000 drivers `drvreg_many` registers (128 KiB of bucket heads).
pub const INDEX_BITS: u32 = 14;

/// A snapshot of the registry counters. `lookups` is the sum of the four outcomes, so
/// `lookups == hits + misses + refused + self_pins` holds in every snapshot, in every mode.
/// The outcome counters are per CPU and summed when read: a snapshot taken while lookups
/// run may miss the newest ones (it is not atomic), but each lookup is counted exactly
/// once, when its outcome is known.
#[derive(Clone, Copy, Default)]
pub struct Stats {
    /// Lookups completed (the sum of the next four).
    pub lookups: u64,
    /// Lookups that returned a pin.
    pub hits: u64,
    /// Lookups that found no (registered, not unregistering) driver of that name.
    pub misses: u64,
    /// Lookups that found the driver but its owner was not live (coming or going).
    pub refused: u64,
    /// Lookups refused because the caller owns the driver (a module cannot pin itself).
    pub self_pins: u64,
    /// Pins outstanding now, summed over the drivers (O(n): for reading, not for hot paths).
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

/// The lookup outcome counters: per CPU, so that counting writes nothing shared.
struct Counters {
    hits: PerCpuStat,
    misses: PerCpuStat,
    refused: PerCpuStat,
    self_pins: PerCpuStat,
}

impl Counters {
    fn new() -> Result<Self> {
        Ok(Self {
            hits: PerCpuStat::new()?,
            misses: PerCpuStat::new()?,
            refused: PerCpuStat::new()?,
            self_pins: PerCpuStat::new()?,
        })
    }
}

fn count(c: &PerCpuStat) -> u64 {
    u64::try_from(c.sum()).unwrap_or(0)
}

/// Set in [`Record::state`] once unregistration has started: no new pin of any kind.
const DYING: u32 = 1 << 31;
/// Most pins [`Record::state`] counts: one below [`DYING`], so that counting a pin can
/// never set it (2^31 pins would otherwise read as "dying", and the unregister that then
/// found no live record would leave it linked forever).
const PIN_MAX: u32 = DYING - 1;

/// Counts one pin in a [`Record::state`] word: `ENOENT` once [`DYING`] is set, `EBUSY` at
/// [`PIN_MAX`] pins (the word is then left as it is: a count never reaches [`DYING`]).
/// Acquire on success: what the unregister did before it could have set [`DYING`] is seen.
fn count_pin(state: &AtomicU32) -> Result {
    let mut s = state.load(Relaxed);
    loop {
        if s & DYING != 0 {
            return Err(ENOENT);
        }
        if s == PIN_MAX {
            return Err(EBUSY);
        }
        match state.compare_exchange_weak(s, s + 1, Acquire, Relaxed) {
            Ok(_) => return Ok(()),
            Err(now) => s = now,
        }
    }
}

/// A registered driver as the core sees it.
pub struct Record {
    name: Name,
    /// The driver's descriptor, in its owner module's memory.
    entry: *mut DrvregDriver,
    owner: Owner,
    /// [`DYING`], and the pins that hold a module reference (locked, RCU and racy
    /// lookups, `call_all`) in the low bits: one word, so that a reader's
    /// compare-and-swap either counts its pin before unregister sets [`DYING`] or sees it.
    state: AtomicU32,
    /// Two-stage pins, per CPU (no module reference).
    pcpu: PerCpuPins,
    /// Callbacks called through pins.
    calls: AtomicU64,
}

// SAFETY: `entry` is only dereferenced while the owner module is pinned, or under the
// driver lock while the record is linked (see the `Registry` invariants); the rest is plain
// data, atomics or per-CPU counters.
unsafe impl Send for Record {}
// SAFETY: See `Send`.
unsafe impl Sync for Record {}

impl Record {
    /// Pins held on the driver now, of every kind.
    pub fn pins(&self) -> u64 {
        let counted = u64::from(self.state.load(Relaxed) & !DYING);
        counted + u64::try_from(self.pcpu.sum()).unwrap_or(0)
    }

    /// Callbacks called through pins so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Relaxed)
    }

    fn dying(&self) -> bool {
        self.state.load(Relaxed) & DYING != 0
    }

    /// Counts a pin that holds a module reference, unless unregistration has started
    /// (`ENOENT`) or [`PIN_MAX`] such pins are held (`EBUSY`).
    fn try_count(&self) -> Result {
        count_pin(&self.state)
    }

    /// Whether any pin is held; called by the unregister after it set [`DYING`].
    fn pinned(&self) -> bool {
        // `pcpu.sum()` begins with a full barrier: the two-stage reader increments, then
        // checks `DYING`; we set `DYING`, then read the counters. One of the two sees the
        // other's write (the store-buffering pattern: twostage-pin.litmus). The sum ends
        // with one too, and the acquire load pairs with the counted pins' release
        // decrement: what the unpinners did to the driver comes before the teardown that
        // follows a false result (twostage-teardown.litmus, locked-teardown.litmus).
        self.state.load(Acquire) & !DYING != 0 || self.pcpu.sum() != 0
    }
}

/// A linked registration. Slots exist only in [`Inner::slots`]: each is built and inserted
/// in one step by [`Registry::register`] and dropped when removed, so a `&Slot` always
/// borrows the driver lock's guard.
struct Slot {
    rec: Arc<Record>,
    /// `/sys/kernel/drvreg/drivers/<name>/`, taken out when unregistering.
    dir: Option<Dir>,
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
    /// One entry per linked slot, dying or not.
    by_owner: RBTree<OwnerKey, ()>,
    /// The right to change the lockless index: only with the lock held.
    writer: Writer,
    /// When the last record left the index (see [`Registry::purge`]).
    last_unlink: Option<GpState>,
    drivers: u64,
    registered: u64,
    unregistered: u64,
    purged: u64,
}

impl Inner {
    /// The live (not unregistering) slot named `name`.
    fn find(&self, name: &Name) -> Option<&Slot> {
        self.slots.get(name).filter(|s| !s.rec.dying())
    }

    /// The name of a linked slot owned by `owner`, if any, and whether it is dying (being
    /// unlinked by another caller): O(log n).
    fn first_of(&mut self, owner: Owner) -> Option<(Name, bool)> {
        let key = OwnerKey {
            owner,
            name: Name::MIN,
        };
        let cursor = self.by_owner.cursor_lower_bound(&key)?;
        let (found, ()) = cursor.current();
        if found.owner != owner {
            return None;
        }
        let dying = self.slots.get(&found.name).is_some_and(|s| s.rec.dying());
        Some((found.name, dying))
    }
}

type InnerGuard<'a> = LockGuard<'a, Inner, MutexBackend>;

/// The registry.
///
/// # Invariants
///
/// - Every linked record's owner module is allocated: modules unregister their drivers
///   before they are freed ([`Registry::unregister`], or [`Registry::purge`] from the
///   module-going notifier), and both unlink under `inner`'s lock.
/// - A record in `index` is also linked in `inner.slots`, or was, less than a grace period
///   ago. Its owner module stays allocated for a grace period after the record left the
///   index: the going notifier, which runs before the loader frees a module, waits for one
///   ([`Registry::purge`]). So a record and its owner found in the index stay allocated
///   while the finder holds its RCU read-side section.
/// - A record is freed only after it is unlinked, its pin counts have dropped to zero and
///   a grace period has elapsed (its last `Arc` is in its index node, freed by RCU).
/// - A record's `state` counts the pins that hold a module reference on its owner, and
///   its `pcpu` counters the two-stage pins; [`DYING`] is set under `inner`'s lock.
/// - A descriptor's `core` field is written only under `inner`'s lock: it points to the
///   record (the `Arc`'s contents) while the record is linked, and is null otherwise.
/// - `by_owner` has one entry for each linked slot, dying or not: a module is not gone from
///   the registry until every unlink of its records has finished.
#[pin_data]
pub struct Registry {
    /// The global driver lock.
    #[pin]
    inner: Mutex<Inner>,
    /// Signalled when a dying record's pins drop to zero, and when an unlink ends.
    #[pin]
    unpinned: CondVar,
    /// The lockless name index (RCU and two-stage lookups). Its drop waits for the RCU
    /// callbacks that free records (this module's code).
    index: RcuHash<Name, Record>,
    counters: Counters,
    /// `/sys/kernel/drvreg/drivers/`, parent of the per-driver directories.
    drivers_dir: Dir,
    /// The attributes of each per-driver directory.
    driver_attrs: &'static Group,
}

impl Registry {
    /// A new, empty registry.
    pub fn new(drivers_dir: Dir, driver_attrs: &'static Group) -> Result<impl PinInit<Self>> {
        let (index, writer) = RcuHash::new(INDEX_BITS)?;
        let inner = Inner {
            slots: RBTree::new(),
            by_owner: RBTree::new(),
            writer,
            last_unlink: None,
            drivers: 0,
            registered: 0,
            unregistered: 0,
            purged: 0,
        };
        let counters = Counters::new()?;
        Ok(pin_init!(Self {
            inner <- new_mutex!(inner, "drvreg::driver_lock"),
            unpinned <- new_condvar!("drvreg::unpinned"),
            index,
            counters,
            drivers_dir,
            driver_attrs,
        }))
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        let c = &self.counters;
        let (hits, misses, refused, self_pins) = (
            count(&c.hits),
            count(&c.misses),
            count(&c.refused),
            count(&c.self_pins),
        );
        let inner = self.inner.lock();
        // Every pin is on a record still in `slots` (unregistering waits for them there).
        let pins = inner.slots.values().map(|s| s.rec.pins()).sum();
        Stats {
            lookups: hits + misses + refused + self_pins,
            hits,
            misses,
            refused,
            self_pins,
            pins,
            drivers: inner.drivers,
            registered: inner.registered,
            unregistered: inner.unregistered,
            purged: inner.purged,
        }
    }

    /// Counts the outcome of one lookup: a pin is a hit; `ENOENT` a miss, `ENODEV` a
    /// refusal, `EDEADLK` a self-pin.
    pub fn count<T>(&self, res: &Result<T>) {
        let c = &self.counters;
        match res {
            Ok(_) => c.hits.add(1),
            Err(e) if *e == ENOENT => c.misses.add(1),
            Err(e) if *e == ENODEV => c.refused.add(1),
            Err(_) => c.self_pins.add(1),
        }
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
                state: AtomicU32::new(0),
                pcpu: PerCpuPins::new()?,
                calls: AtomicU64::new(0),
            },
            GFP_KERNEL,
        )?;
        let index_node = RcuHash::reserve(name.hash(), name, rec.clone())?;
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
        // The descriptor's fields first, then the index: a lockless reader that finds the
        // record (the index's release store, its acquire load) sees `owner` and `core` set.
        // SAFETY: The caller guarantees `entry` is valid; the core owns `owner` (see the ABI).
        unsafe { (*entry).owner = owner.as_ptr().cast() };
        // INVARIANT: Linked below, under the lock: `core` points to the record, which goes
        // into the index and the slots under the same lock (or `core` is cleared again).
        // SAFETY: The caller guarantees `entry` is valid; `core` is written under the lock.
        unsafe { (*entry).core = core::ptr::from_ref::<Record>(&rec).cast_mut().cast() };
        if let Err(e) = self.index.insert(&mut inner.writer, index_node) {
            // SAFETY: As above; nothing found the record, which is in no index.
            unsafe {
                (*entry).core = core::ptr::null_mut();
                (*entry).owner = core::ptr::null_mut();
            }
            drop(inner);
            drop(dir);
            return Err(e);
        }
        inner.slots.insert(slot_node.into_node(
            name,
            Slot {
                rec,
                dir: Some(dir),
            },
        ));
        inner
            .by_owner
            .insert(owner_node.into_node(OwnerKey { owner, name }, ()));
        inner.registered += 1;
        inner.drivers += 1;
        Ok(())
    }

    /// Unregisters `entry`: no lookup finds it from now on, and when this returns no pin
    /// on it is held, so none of its callbacks runs or will run. `ENOENT` if it is not
    /// registered. If another call is already unregistering it, waits until that call has
    /// finished, then returns `Ok`: the promise holds for every caller (a second call that
    /// returned at once let its module's exit free the descriptor, and then the module,
    /// under a pin the first call was still waiting for).
    ///
    /// # Safety
    ///
    /// `entry` must point to a valid descriptor: one registered here, or one whose `core`
    /// field is null.
    pub unsafe fn unregister(&self, entry: *mut DrvregDriver) -> Result {
        might_sleep();
        let mut inner = self.inner.lock();
        // SAFETY: The caller guarantees `entry` is valid; `core` is written under the lock.
        let rec = unsafe { (*entry).core }.cast::<Record>().cast_const();
        if rec.is_null() {
            return Err(ENOENT);
        }
        // SAFETY: By the type invariants a non-null `core` points to a linked record, which
        // its slot keeps alive while we hold the lock.
        let name = unsafe { (*rec).name };
        let held = match inner.slots.get(&name) {
            Some(slot) if core::ptr::eq(&*slot.rec, rec) => slot.rec.clone(),
            _ => return Err(ENOENT),
        };
        if !held.dying() {
            drop(held);
            self.unlink(inner, name);
            return Ok(());
        }
        // Another unregister (or the going module's purge) is unlinking it: wait until it
        // has, i.e. until the slot no longer holds this record. `held` keeps the record
        // allocated, so its address cannot be reused by a new registration meanwhile.
        while inner
            .slots
            .get(&name)
            .is_some_and(|s| Arc::ptr_eq(&s.rec, &held))
        {
            self.unpinned.wait(&mut inner);
        }
        Ok(())
    }

    /// Unregisters every driver still registered by `module`, which is going away, then
    /// waits until a grace period has passed since the last record left the index, so
    /// that no lockless reader still reads the module when the loader frees it.
    ///
    /// Called from the module-going notifier for every module that unloads: a correct
    /// module has unregistered everything already, and then this costs one O(log n)
    /// search (and a wait only if a driver was unregistered less than a grace period ago).
    /// Anything found is a driver bug, warned about and counted as `purged`.
    pub fn purge(&self, module: ModuleView<'_>) {
        loop {
            let mut inner = self.inner.lock();
            let Some((name, dying)) = inner.first_of(module.owner()) else {
                break;
            };
            if dying {
                // Being unlinked by an unregister that waits for pins: the module must
                // not be freed before that ends (its descriptor and callbacks are still
                // in use). The unlink signals `unpinned` when it is done.
                self.unpinned.wait(&mut inner);
                continue;
            }
            pr_warn!(
                "module {} is going with driver {} still registered: removing it\n",
                cstr_str(module.name()),
                cstr_str(name.as_cstr())
            );
            trace::purge(name.as_bytes(), module.name());
            inner.purged += 1;
            self.unlink(inner, name);
        }
        let last = self.inner.lock().last_unlink;
        if let Some(gp) = last {
            gp.wait();
        }
    }

    /// Unlinks the live slot `name` in two stages: sets [`DYING`] and removes it from the
    /// index (no new pin of any kind), then waits for the pins in flight; then removes its
    /// directory (outside the lock, whose takers are its readers) and the slot. The record
    /// itself is freed a grace period later, with its index node.
    fn unlink(&self, mut inner: InnerGuard<'_>, name: Name) {
        let Some(rec) = inner.find(&name).map(|s| s.rec.clone()) else {
            return;
        };
        // SAFETY: By the type invariants the owner of a linked record stays allocated until
        // the record is unlinked, which this function does: the view does not leave it.
        let owner = unsafe { ModuleView::new(rec.owner) };
        trace::unregister_begin(name.as_bytes(), owner.name());
        // Stage one. The full barrier between this and the per-CPU counters' reads is the
        // sum's own smp_mb() (`pinned`; twostage-pin.litmus); against the counted pins,
        // which change the same word, the atomic RMW alone decides (rcu-cas.litmus).
        rec.state.fetch_or(DYING, Relaxed);
        let node = self.index.remove(&mut inner.writer, name.hash(), &name);
        // Stage two.
        while rec.pinned() {
            trace::unregister_wait(name.as_bytes(), owner.name());
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
        trace::unregister_end(name.as_bytes(), owner.name());
        if inner.slots.remove(&name).is_some() {
            inner.unregistered += 1;
            inner.drivers -= 1;
        }
        // INVARIANT: The slot and its `by_owner` entry go together, under the lock.
        inner.by_owner.remove(&OwnerKey {
            owner: rec.owner,
            name,
        });
        inner.last_unlink = Some(GpState::now());
        // A second unregister of this descriptor, or the owner's purge, may be waiting
        // for this unlink to end.
        self.unpinned.notify_all();
        drop(inner);
        drop(rec);
        // INVARIANT: The last reference to the record goes with its index node, freed after
        // a grace period that starts now, after its pins have drained.
        drop(node);
    }

    /// Wakes the unregister waiting for a dying record's pins. Takes the lock, so the
    /// waiter is either waiting or has not checked the pins yet.
    fn wake(&self) {
        let _inner = self.inner.lock();
        self.unpinned.notify_all();
    }

    /// Looks `name` up and pins it: the fix. Scans the list, checks that the owner is
    /// live and takes its module reference, all under the driver lock. `window_us` is the
    /// injected delay between finding and pinning (inside the lock here: unregister waits).
    ///
    /// `caller` is the module asking, if any: a module cannot pin its own drivers
    /// (`EDEADLK`). `ENOENT` if there is no such driver, `ENODEV` if its owner is not live.
    pub fn lookup_locked(
        &self,
        name: &Name,
        caller: Option<Owner>,
        window_us: u32,
    ) -> Result<DriverPin<'_>> {
        let inner = self.inner.lock();
        let slot = inner.find(name).ok_or(ENOENT)?;
        if caller == Some(slot.rec.owner) {
            return Err(edeadlk());
        }
        sleep_us(window_us);
        let module = slot.owner().try_get().ok_or(ENODEV)?;
        // `DYING` is only set under the lock we hold: only a full count refuses the pin
        // (then `module` is put on the way out).
        slot.rec.try_count()?;
        // SAFETY: `module` is a reference on the record's owner, and `state` counts this
        // pin (`try_count` above).
        Ok(unsafe { DriverPin::new(self, &slot.rec, Hold::Module(module)) })
    }

    /// The lockless part every index lookup shares: finds `name` under `guard`, refuses a
    /// driver of `caller` (`EDEADLK`), busy-waits `window_us` (nothing may sleep in the
    /// read-side section), and returns the record with a view of its owner, both valid
    /// while `guard` is held.
    fn find_rcu<'g>(
        &'g self,
        guard: &'g Guard,
        name: &Name,
        caller: Option<Owner>,
        window_us: u32,
    ) -> Result<(&'g Record, ModuleView<'g>)> {
        let rec = self.index.find(guard, name.hash(), name).ok_or(ENOENT)?;
        if caller == Some(rec.owner) {
            return Err(edeadlk());
        }
        spin_us(window_us);
        // SAFETY: `rec` was found in the index under `guard`: by the type invariants its
        // owner stays allocated while `guard` is held, and the view borrows `guard`.
        let owner = unsafe { ModuleView::new(rec.owner) };
        Ok((rec, owner))
    }

    /// Looks `name` up and pins it without a lock: an RCU walk of the index, a module
    /// reference on a `LIVE` owner, then the pin counted unless the record is dying.
    /// `window_us` is busy-waited between finding and pinning (nothing may sleep in the
    /// read-side section). Errors as [`Registry::lookup_locked`].
    pub fn lookup_rcu(
        &self,
        name: &Name,
        caller: Option<Owner>,
        window_us: u32,
    ) -> Result<DriverPin<'_>> {
        // SAFETY: Nothing sleeps until `guard` drops: an index walk, a busy-wait, atomics
        // and `try_module_get`.
        let guard = unsafe { Guard::new() };
        let (rec, owner) = self.find_rcu(&guard, name, caller, window_us)?;
        let module = owner.try_get().ok_or(ENODEV)?;
        // Unregistering (or a full count): `module` is put on the way out.
        rec.try_count()?;
        // SAFETY: `module` is a reference on the record's owner, and `state` counts this
        // pin (`try_count` above).
        Ok(unsafe { DriverPin::new(self, rec, Hold::Module(module)) })
    }

    /// Looks `name` up and pins it, two-stage style: an RCU walk of the index, a `LIVE`
    /// owner, then a per-CPU pin count, kept unless the record is dying. No module
    /// reference: the owner's exit waits in [`Registry::unregister`] for the pin instead.
    /// `window_us` as in [`Registry::lookup_rcu`]. Errors as [`Registry::lookup_locked`].
    pub fn lookup_twostage(
        &self,
        name: &Name,
        caller: Option<Owner>,
        window_us: u32,
    ) -> Result<DriverPin<'_>> {
        // A lookup that loses the race with an unregister takes the driver lock (`wake`).
        might_sleep();
        let mut wake = false;
        let res = (|| {
            // SAFETY: Nothing sleeps until `guard` drops: an index walk, a busy-wait and
            // atomics (a failed pin wakes the unregister after the section).
            let guard = unsafe { Guard::new() };
            let (rec, owner) = self.find_rcu(&guard, name, caller, window_us)?;
            if owner.state() != ModuleState::Live {
                return Err(ENODEV);
            }
            // Increment, full barrier, then check: the store-buffering pattern against
            // `unlink` (set DYING, full barrier, sum): selftests/litmus/twostage-pin.litmus.
            let counter = rec.pcpu.pin();
            if rec.state.load(Relaxed) & DYING != 0 {
                // SAFETY: The counter `pin` just counted, of a record `guard` keeps.
                unsafe { PerCpuPins::unpin(counter) };
                // The unregister may have seen our count: it must look again.
                wake = true;
                return Err(ENOENT);
            }
            // SAFETY: `counter` is the record's counter that `pin` counted this pin on.
            Ok(unsafe { DriverPin::new(self, rec, Hold::PerCpu(counter)) })
        })();
        // Outside the read-side section: waking takes the lock.
        if wake {
            self.wake();
        }
        res
    }

    /// Benchmark floor: the index walk alone, no lock and no pin. Whether `name` is there.
    pub fn probe(&self, name: &Name) -> bool {
        // SAFETY: Nothing sleeps until `guard` drops: an index walk.
        let guard = unsafe { Guard::new() };
        self.index.find(&guard, name.hash(), name).is_some()
    }

    /// Benchmark floor of any lookup that takes a module reference: the index walk plus
    /// `try_module_get` / `module_put` on the owner. Whether both succeeded.
    pub fn probe_modref(&self, name: &Name) -> bool {
        // SAFETY: Nothing sleeps until `guard` drops: an index walk, `try_module_get` and
        // `module_put`.
        let guard = unsafe { Guard::new() };
        self.find_rcu(&guard, name, None, 0)
            .is_ok_and(|(_, owner)| owner.try_get().is_some())
    }

    /// The descriptor of the live driver `name`. The pointer is valid only while the lock
    /// is held: for the racy lookup, which uses it after dropping the lock.
    pub(crate) fn find_entry(&self, name: &Name) -> Result<*mut DrvregDriver> {
        let inner = self.inner.lock();
        inner.find(name).map(|s| s.rec.entry).ok_or(ENOENT)
    }

    /// Pins the driver of `entry` with `module`, a reference on its owner, if it is still
    /// registered (else `ENOENT`; `module` is put on the way out).
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
        let inner = self.inner.lock();
        // SAFETY: The caller guarantees `entry` is valid; `core` is written under the lock.
        let rec = unsafe { (*entry).core }.cast::<Record>().cast_const();
        if rec.is_null() {
            return Err(ENOENT);
        }
        // SAFETY: By the type invariants a non-null `core` points to a linked record,
        // kept alive by its slot while we hold the lock.
        let name = unsafe { (*rec).name };
        let slot = inner
            .find(&name)
            .filter(|s| s.rec.owner == module.owner())
            .ok_or(ENOENT)?;
        // `DYING` is only set under the lock we hold: only a full count refuses the pin.
        slot.rec.try_count()?;
        // SAFETY: `module` is a reference on the record's owner, and `state` counts this
        // pin (`try_count` above).
        Ok(unsafe { DriverPin::new(self, &slot.rec, Hold::Module(module)) })
    }

    /// Pins every live driver under the lock, then calls `f` on each pin with the lock
    /// dropped ("call every driver"). Drivers that are not live are skipped, not counted
    /// as lookups. `f` is called on every pin even when it fails on some; the result is
    /// the first failure, if any.
    pub fn for_each(&self, mut f: impl FnMut(&DriverPin<'_>) -> Result) -> Result {
        let mut pins = KVec::new();
        {
            let inner = self.inner.lock();
            pins.reserve(inner.drivers as usize, GFP_KERNEL)?;
            for s in inner.slots.values().filter(|s| !s.rec.dying()) {
                if let Some(module) = s.owner().try_get() {
                    // A full count skips the driver (`module` is put).
                    if s.rec.try_count().is_err() {
                        continue;
                    }
                    // SAFETY: `module` is a reference on the record's owner, and `state`
                    // counts this pin (`try_count` above).
                    let pin = unsafe { DriverPin::new(self, &s.rec, Hold::Module(module)) };
                    // Dropping it here (if the push failed) cannot deadlock: an unpin takes
                    // the lock only for a dying record, and `DYING` is only set under the
                    // lock we hold.
                    pins.push(pin, GFP_KERNEL)?;
                }
            }
        }
        let mut first = Ok(());
        for pin in pins.iter() {
            let res = f(pin);
            if first.is_ok() {
                first = res;
            }
        }
        first
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

/// What a pin holds besides its count.
enum Hold {
    /// A module reference on the owner; the count is in the record's `state`.
    Module(ModuleRef),
    /// The per-CPU counter of the record that counts this two-stage pin.
    PerCpu(PinCounter),
}

/// A pinned driver: the only way to call into a driver.
///
/// Holds a reference on the driver's owner module (locked and RCU pins) or a two-stage
/// pin that the owner's exit waits for, so the module cannot finish unloading; and a pin
/// count on the registration, so it cannot finish unregistering. Dropping it unpins, then
/// puts the module reference: after the callbacks have returned, and by the core, never
/// by the driver.
///
/// # Invariants
///
/// `rec` points to a record that one of its pin counts counts for this pin (its `state`
/// for [`Hold::Module`], with a reference on its owner; the counter in [`Hold::PerCpu`],
/// one of the record's `pcpu` counters, otherwise), so it stays allocated until the drop.
#[must_use = "dropping a pin unpins the driver at once"]
pub struct DriverPin<'a> {
    reg: &'a Registry,
    rec: NonNull<Record>,
    hold: Hold,
}

impl<'a> DriverPin<'a> {
    /// A pin on `rec`, whose count for this pin the caller has taken as `hold` says.
    ///
    /// # Safety
    ///
    /// `rec` must be a record of `reg` whose pin count counts this pin: its `state` for
    /// [`Hold::Module`] (whose reference is on `rec`'s owner), the counter for
    /// [`Hold::PerCpu`] (one of `rec`'s). The pin uncounts it when dropped.
    #[inline]
    unsafe fn new(reg: &'a Registry, rec: &Record, hold: Hold) -> Self {
        trace::pin(rec.name.as_bytes(), matches!(hold, Hold::PerCpu(_)));
        Self {
            reg,
            rec: NonNull::from(rec),
            hold,
        }
    }

    fn rec(&self) -> &Record {
        // SAFETY: By the type invariants the record is allocated while the pin exists.
        unsafe { self.rec.as_ref() }
    }

    fn entry(&self) -> *mut DrvregDriver {
        self.rec().entry
    }

    /// Counts a call of one of the driver's callbacks (`drivers/<name>/calls`).
    fn called(&self) {
        self.rec().calls.fetch_add(1, Relaxed);
    }

    fn ops(&self) -> &abi::DrvregOps {
        let rec = self.rec();
        // SAFETY: By the type invariants the owner module cannot finish unloading (a module
        // reference, or a pin its exit waits for), so its memory, where the descriptor
        // lives, is not freed; the pin keeps the registration.
        let ops = unsafe { (*rec.entry).ops };
        // SAFETY: A registered descriptor's `ops` points to an ops table that stays valid
        // while it is registered (the ABI's rule; registration refused a null one), in the
        // memory of the module the pin keeps.
        unsafe { &*ops }
    }

    /// Calls the driver's `open`.
    pub fn open(&self) -> Result {
        match self.ops().open {
            Some(open) => {
                self.called();
                // SAFETY: The driver is registered and its module kept (see `ops`); the
                // callback gets its own descriptor, as the ABI says.
                kernel::error::to_result(unsafe { open(self.entry()) })
            }
            None => Ok(()),
        }
    }

    /// Calls the driver's `release`.
    pub fn release(&self) {
        if let Some(release) = self.ops().release {
            self.called();
            // SAFETY: The driver is registered and its module kept (see `ops`); the
            // callback gets its own descriptor, as the ABI says.
            unsafe { release(self.entry()) };
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
        self.called();
        // SAFETY: The driver is registered and its module kept (see `ops`); the callback
        // gets its own descriptor and `buf`, valid for `buf.len()` bytes of writes.
        let ret = unsafe { show(self.entry(), buf.as_mut_ptr().cast(), buf.len()) };
        let len = usize::try_from(ret).map_err(|_| Error::from_errno(ret))?;
        Ok(len.min(buf.len() - 1))
    }

    /// Gives the pin up for the C ABI, as one pointer: the record for a pin that holds a
    /// module reference; for a two-stage pin, a small allocation (the record and its
    /// counter) tagged with the low bit. [`DriverPin::from_raw`] takes it back. `ENOMEM`
    /// (and the pin dropped) if that allocation fails.
    pub fn into_raw(self) -> Result<*mut core::ffi::c_void> {
        let raw = match &self.hold {
            Hold::Module(_) => self.rec.as_ptr().cast::<core::ffi::c_void>(),
            Hold::PerCpu(counter) => {
                let b: KBox<RawTwoStage> = KBox::new((self.rec, *counter), GFP_KERNEL)?;
                KBox::into_raw(b).cast::<u8>().wrapping_add(1).cast()
            }
        };
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again; the field is moved out once.
        let hold = unsafe { core::ptr::read(&this.hold) };
        if let Hold::Module(module) = hold {
            let _ = module.into_raw();
        }
        Ok(raw)
    }

    /// Takes back a pin given up by [`DriverPin::into_raw`].
    ///
    /// # Safety
    ///
    /// `raw` must come from `into_raw` on a pin of `reg`, not taken back yet.
    pub unsafe fn from_raw(reg: &Registry, raw: *mut core::ffi::c_void) -> DriverPin<'_> {
        // SAFETY: The caller's guarantee.
        let pin = unsafe { Self::peek_raw(reg, raw) };
        if raw as usize & 1 == 1 {
            let b = raw.cast::<u8>().wrapping_sub(1).cast::<RawTwoStage>();
            // SAFETY: A tagged pointer from `into_raw` is, untagged, a leaked box; it is
            // taken back once, here (the caller's guarantee); `pin` copied its contents.
            drop(unsafe { KBox::from_raw(b) });
        }
        pin
    }

    /// Calls `f` with a pin given up by [`DriverPin::into_raw`], which stays given up.
    ///
    /// # Safety
    ///
    /// `raw` must come from `into_raw` on a pin of `reg`, not taken back yet.
    pub unsafe fn with_raw<R>(
        reg: &Registry,
        raw: *mut core::ffi::c_void,
        f: impl FnOnce(&DriverPin<'_>) -> R,
    ) -> R {
        // SAFETY: The caller's guarantee; `ManuallyDrop` leaves the pin given up.
        let pin = core::mem::ManuallyDrop::new(unsafe { Self::peek_raw(reg, raw) });
        f(&pin)
    }

    /// The pin behind `raw`, without taking it back: the result must not be dropped unless
    /// `raw` is forgotten (and its box, if tagged, freed).
    ///
    /// # Safety
    ///
    /// `raw` must come from `into_raw` on a pin of `reg`, not taken back yet.
    unsafe fn peek_raw(reg: &Registry, raw: *mut core::ffi::c_void) -> DriverPin<'_> {
        if raw as usize & 1 == 0 {
            let rec = raw.cast::<Record>();
            // SAFETY: An untagged pointer from `into_raw` is the record of a pin that holds
            // a module reference, still counted (the caller's guarantee).
            let owner = unsafe { (*rec).owner };
            // SAFETY: `into_raw` gave up the reference on the record's owner.
            let module = unsafe { ModuleRef::from_raw(owner) };
            // INVARIANT: The pin `into_raw` gave up.
            DriverPin {
                reg,
                // SAFETY: Not null: it came from a `NonNull` in `into_raw`.
                rec: unsafe { NonNull::new_unchecked(rec) },
                hold: Hold::Module(module),
            }
        } else {
            let b = raw.cast::<u8>().wrapping_sub(1).cast::<RawTwoStage>();
            // SAFETY: A tagged pointer from `into_raw` is, untagged, a live leaked box (the
            // caller's guarantee); its contents are copied, the box is left as it is.
            let (rec, counter) = unsafe { *b };
            // INVARIANT: The pin `into_raw` gave up.
            DriverPin {
                reg,
                rec,
                hold: Hold::PerCpu(counter),
            }
        }
    }
}

/// A two-stage pin given up to the C ABI: the record and the counter that counts it.
type RawTwoStage = (NonNull<Record>, PinCounter);

impl Drop for DriverPin<'_> {
    fn drop(&mut self) {
        // Dropping the last pin of a dying record takes the driver lock (`wake`): rarely,
        // so say it every time (process context only).
        might_sleep();
        let rec = self.rec.as_ptr();
        trace::unpin(
            self.rec().name.as_bytes(),
            matches!(self.hold, Hold::PerCpu(_)),
        );
        let wake = match &self.hold {
            Hold::Module(_) => {
                // Release: our calls into the driver come before an unregister that sees
                // the count drop tears it down (locked-teardown.litmus). One RMW on the word
                // that holds DYING: either we see DYING and wake, or the unregister's
                // check sees the count without us (locked-wake.litmus).
                // SAFETY: By the type invariants the record is allocated until this pin is
                // uncounted, which this does; it is not touched afterwards.
                let old = unsafe { (*rec).state.fetch_sub(1, Release) };
                old == DYING | 1
            }
            Hold::PerCpu(counter) => {
                // The record may be freed once the unregister saw the counters at zero, but
                // only a grace period later: the read-side section covers the check below.
                // SAFETY: Nothing sleeps until `_guard` drops: atomics and a load (the wake
                // comes after the section).
                let _guard = unsafe { Guard::new() };
                // Full barriers before the decrement (our calls into the driver come before
                // its teardown: twostage-teardown.litmus) and after it (either we see DYING
                // and wake the unregister, or it sees the decrement: twostage-wake.litmus).
                // SAFETY: By the type invariants the counter belongs to the record, still
                // allocated (we have not uncounted the pin yet), and counts this pin.
                unsafe { PerCpuPins::unpin(*counter) };
                // SAFETY: The record is freed no sooner than a grace period after the
                // unregister saw the decrement above, and `_guard` began before it.
                let state = unsafe { (*rec).state.load(Relaxed) };
                state & DYING != 0
            }
        };
        if wake {
            self.reg.wake();
        }
        // `hold` drops after this: the module reference is the last thing put.
    }
}

/// KUnit (7.x kernels built with `CONFIG_KUNIT`): the pin count's saturation and its
/// refusal once unregistration has started.
#[cfg(drvreg_kernel_7)]
#[kunit_tests(drvreg_pin_count)]
mod tests {
    use super::{count_pin, DYING, PIN_MAX};
    use core::sync::atomic::{AtomicU32, Ordering::Relaxed};
    use kernel::prelude::*;

    #[test]
    fn counts_from_zero() {
        let s = AtomicU32::new(0);
        assert!(count_pin(&s).is_ok());
        assert!(count_pin(&s).is_ok());
        assert_eq!(s.load(Relaxed), 2);
    }

    #[test]
    fn saturates_below_dying() {
        let s = AtomicU32::new(PIN_MAX - 1);
        assert!(count_pin(&s).is_ok());
        assert_eq!(s.load(Relaxed), PIN_MAX);
        assert!(count_pin(&s) == Err(EBUSY));
        assert!(count_pin(&s) == Err(EBUSY));
        assert_eq!(s.load(Relaxed), PIN_MAX);
        assert_eq!(s.load(Relaxed) & DYING, 0);
    }

    #[test]
    fn refused_once_dying() {
        for start in [DYING, DYING | 1, DYING | (PIN_MAX - 1), DYING | PIN_MAX] {
            let s = AtomicU32::new(start);
            assert!(count_pin(&s) == Err(ENOENT));
            assert_eq!(s.load(Relaxed), start);
        }
    }
}

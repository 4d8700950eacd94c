// SPDX-License-Identifier: GPL-2.0

//! The kernel's own answers to "pin an object against removal, cheaply, on many CPUs", as
//! benchmark-only designs beside drvreg's lookups: an SRCU-protected lookup and a
//! `percpu_ref` per record. Each keeps its records in a hash index of the same type, size
//! and hash as the registry's ([`RcuHash`] of [`Name`]s, [`INDEX_BITS`]), filled with the
//! same names (`bench/designs`), so that a benchmark lookup does the same walk as the
//! registry's modes; only the pin differs.
//!
//! - [`Design::Srcu`]: the lookup and the pin's holder run inside `srcu_read_lock()` of
//!   one `srcu_struct`: the pin is the read-side section itself, nothing is written to the
//!   record. Unregistering unlinks, then `synchronize_srcu()`: an SRCU grace period per
//!   driver, or one for a batch unlinked together.
//! - [`Design::PercpuRef`]: the walk runs under RCU (as block and cgroup lookups do),
//!   then `percpu_ref_tryget_live()` on the record's ref; the pin is that reference, put
//!   when dropped, and holds no read-side section. Unregistering unlinks, kills the ref
//!   and waits for its release (the switch to atomic mode takes an RCU grace period):
//!   one per driver, or about one for a batch killed together.
//!
//! The index walk of both runs inside an RCU read-side section, as every mode's does: the
//! index frees unlinked nodes after an RCU grace period ([`RcuHash`]), and that is what
//! keeps the walk's memory, whatever the pin.
//!
//! Neither design is a lookup mode: their records have no driver and no owner (nothing
//! to call, no module to check for `LIVE`), so a pin costs what the design costs and no
//! more. What each would need to become one, and why neither is, is in
//! `Documentation/drvreg.rst` ("The kernel's own answers").

use crate::api::compat::Stopwatch;
use crate::registry::Name;
use crate::registry::INDEX_BITS;
use crate::sys::percpu_ref::{PercpuRef, PercpuRefPin};
use crate::sys::rcu::Guard;
use crate::sys::rcu_hash::{RcuHash, Writer};
use crate::sys::srcu::{Srcu, SrcuGuard};
use core::fmt::Write;
use kernel::{new_mutex, prelude::*, sync::Arc, sync::Mutex};

/// Most records a design takes (as many as `drvreg_many` registers).
pub const MAX_RECORDS: u32 = 10_000;

/// A competitor design.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Design {
    /// An SRCU-protected lookup.
    Srcu,
    /// A `percpu_ref` per record.
    PercpuRef,
}

impl Design {
    /// Every design, in the order the benchmark lists them.
    pub const ALL: [Design; 2] = [Design::Srcu, Design::PercpuRef];

    /// The name used in `bench/run` and `bench/designs`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Srcu => "srcu",
            Self::PercpuRef => "percpu-ref",
        }
    }

    /// The design named `name`, or `EINVAL`.
    pub fn from_name(name: &[u8]) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|d| d.as_str().as_bytes() == name)
            .ok_or(EINVAL)
    }
}

/// A record of the SRCU design: nothing to count, the read-side section is the pin.
pub struct SrcuRecord;

/// A record of the `percpu_ref` design.
pub struct RefRecord {
    live: PercpuRef,
}

/// A pinned record of one of the designs: unpinned when dropped.
#[must_use = "dropping a pin unpins the record at once"]
pub enum DesignPin<'a> {
    /// Inside the SRCU read-side section of the lookup.
    Srcu(SrcuGuard<'a>),
    /// A reference on the record's `percpu_ref`.
    PercpuRef(PercpuRefPin),
}

/// A `bench/designs` request.
pub enum Op {
    /// Registers `<prefix>0` .. `<prefix><n - 1>`, one record at a time.
    Register(Name, u32),
    /// Unregisters every record, one at a time: a grace period each.
    Unregister,
    /// Unlinks every record, then waits once for all of them.
    UnregisterBatch,
}

impl Op {
    /// The request's name in `bench/designs`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Register(..) => "register",
            Self::Unregister => "unregister",
            Self::UnregisterBatch => "unregister-batch",
        }
    }
}

/// `<prefix><i>`, or `EINVAL` if that is not a valid name.
pub fn numbered(prefix: &Name, i: u32) -> Result<Name> {
    let mut buf = [0u8; 64];
    let mut w = Buf {
        buf: &mut buf,
        len: 0,
    };
    let p = prefix.as_bytes();
    w.buf.get_mut(..p.len()).ok_or(EINVAL)?.copy_from_slice(p);
    w.len = p.len();
    write!(w, "{i}").map_err(|_| EINVAL)?;
    let len = w.len;
    Name::new(&buf[..len])
}

struct Buf<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Write for Buf<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len + s.len();
        self.buf
            .get_mut(self.len..end)
            .ok_or(core::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// The result of a design's last `bench/designs` request.
#[derive(Clone, Copy)]
pub struct OpOutcome {
    op: &'static str,
    records: u32,
    us: i64,
}

/// What the writers' lock guards.
struct Tables {
    srcu_writer: Writer,
    ref_writer: Writer,
    /// The names in the SRCU index.
    srcu_names: KVec<Name>,
    /// The records in the `percpu_ref` index, with their names.
    refs: KVec<(Name, Arc<RefRecord>)>,
    /// Each design's last request, in [`Design::ALL`]'s order.
    last: [Option<OpOutcome>; 2],
}

impl Tables {
    fn records(&self, design: Design) -> usize {
        match design {
            Design::Srcu => self.srcu_names.len(),
            Design::PercpuRef => self.refs.len(),
        }
    }
}

/// The two designs' indexes.
///
/// # Invariants
///
/// - A node unlinked from `srcu_index` is dropped (its free queued) only after a
///   `srcu.synchronize()` that began after the unlink: a [`DesignPin::Srcu`] taken before
///   the unlink ends before the node is freed.
/// - A record unlinked from `ref_index` is dropped only after its ref was released: no
///   [`DesignPin::PercpuRef`] on it is left.
#[pin_data]
pub struct Designs {
    /// Serialises the writers of both indexes, and `bench/designs` requests.
    #[pin]
    tables: Mutex<Tables>,
    srcu: Srcu,
    srcu_index: RcuHash<Name, SrcuRecord>,
    ref_index: RcuHash<Name, RefRecord>,
}

impl Designs {
    /// Both designs, empty.
    pub fn new() -> Result<impl PinInit<Self>> {
        let (srcu_index, srcu_writer) = RcuHash::new(INDEX_BITS)?;
        let (ref_index, ref_writer) = RcuHash::new(INDEX_BITS)?;
        let tables = Tables {
            srcu_writer,
            ref_writer,
            srcu_names: KVec::new(),
            refs: KVec::new(),
            last: [None; 2],
        };
        let srcu = Srcu::new()?;
        Ok(pin_init!(Self {
            tables <- new_mutex!(tables, "drvreg::designs"),
            srcu,
            srcu_index,
            ref_index,
        }))
    }

    /// Looks `name` up in `design` and pins it: `ENOENT` if it is not there (or, for the
    /// `percpu_ref` design, its ref is killed).
    #[inline]
    pub fn lookup(&self, design: Design, name: &Name) -> Result<DesignPin<'_>> {
        match design {
            Design::Srcu => {
                let srcu = self.srcu.read_lock();
                // SAFETY: Nothing sleeps until `guard` drops: an index walk.
                let guard = unsafe { Guard::new() };
                self.srcu_index
                    .find(&guard, name.hash(), name)
                    .ok_or(ENOENT)?;
                // The record stays linked, or unlinked but not freed, until `srcu` drops
                // (the type invariants); nothing of it is read here.
                Ok(DesignPin::Srcu(srcu))
            }
            Design::PercpuRef => {
                // SAFETY: Nothing sleeps until `guard` drops: an index walk and the
                // tryget (atomics).
                let guard = unsafe { Guard::new() };
                let rec = self
                    .ref_index
                    .find(&guard, name.hash(), name)
                    .ok_or(ENOENT)?;
                // The pin keeps the record's ref unreleased, so the record unfreed (the
                // type invariants), after `guard` drops.
                Ok(DesignPin::PercpuRef(rec.live.tryget_live().ok_or(ENOENT)?))
            }
        }
    }

    /// Whether `name` is in `design`'s index.
    pub fn contains(&self, design: Design, name: &Name) -> bool {
        // SAFETY: Nothing sleeps until `guard` drops: an index walk.
        let guard = unsafe { Guard::new() };
        match design {
            Design::Srcu => self.srcu_index.find(&guard, name.hash(), name).is_some(),
            Design::PercpuRef => self.ref_index.find(&guard, name.hash(), name).is_some(),
        }
    }

    /// Writes `bench/designs`: one line per design, its records now and its last request,
    /// `design=srcu records=1000 op=register op_records=1000 us=2358` (`op=none` before
    /// the first).
    pub fn write(&self, out: &mut impl Write) -> core::fmt::Result {
        let t = self.tables.lock();
        for (design, last) in Design::ALL.into_iter().zip(t.last) {
            let last = last.unwrap_or(OpOutcome {
                op: "none",
                records: 0,
                us: 0,
            });
            writeln!(
                out,
                "design={} records={} op={} op_records={} us={}",
                design.as_str(),
                t.records(design),
                last.op,
                last.records,
                last.us
            )?;
        }
        Ok(())
    }

    /// Runs a `bench/designs` request and times it. `EBUSY` to register into a design
    /// that has records, `ENOENT` to unregister from one that has none; either changes
    /// nothing. A registration that fails midway (`ENOMEM`) unregisters what it did.
    pub fn apply(&self, design: Design, op: Op) -> Result<OpOutcome> {
        let mut t = self.tables.lock();
        let had = t.records(design);
        let clock = Stopwatch::start();
        let records = match op {
            Op::Register(prefix, n) => {
                if had != 0 {
                    return Err(EBUSY);
                }
                if let Err(e) = self.register(&mut t, design, &prefix, n) {
                    self.unregister(&mut t, design, true);
                    return Err(e);
                }
                n
            }
            Op::Unregister | Op::UnregisterBatch => {
                if had == 0 {
                    return Err(ENOENT);
                }
                self.unregister(&mut t, design, matches!(op, Op::UnregisterBatch));
                had as u32
            }
        };
        let outcome = OpOutcome {
            op: op.as_str(),
            records,
            us: clock.elapsed_us(),
        };
        t.last[design as usize] = Some(outcome);
        Ok(outcome)
    }

    fn register(&self, t: &mut Tables, design: Design, prefix: &Name, n: u32) -> Result {
        match design {
            Design::Srcu => t.srcu_names.reserve(n as usize, GFP_KERNEL)?,
            Design::PercpuRef => t.refs.reserve(n as usize, GFP_KERNEL)?,
        }
        for i in 0..n {
            let name = numbered(prefix, i)?;
            match design {
                Design::Srcu => {
                    let rec = Arc::new(SrcuRecord, GFP_KERNEL)?;
                    let node = RcuHash::reserve(name.hash(), name, rec)?;
                    self.srcu_index.insert(&mut t.srcu_writer, node)?;
                    t.srcu_names.push(name, GFP_KERNEL)?;
                }
                Design::PercpuRef => {
                    let rec = Arc::new(
                        RefRecord {
                            live: PercpuRef::new()?,
                        },
                        GFP_KERNEL,
                    )?;
                    let node = RcuHash::reserve(name.hash(), name, rec.clone())?;
                    self.ref_index.insert(&mut t.ref_writer, node)?;
                    t.refs.push((name, rec), GFP_KERNEL)?;
                }
            }
        }
        Ok(())
    }

    /// Unregisters every record of `design`: one at a time, each waited for, or (`batch`)
    /// all unlinked, then waited for together (one at a time if there is no memory to
    /// keep the unlinked nodes).
    fn unregister(&self, t: &mut Tables, design: Design, batch: bool) {
        match design {
            Design::Srcu => {
                let names = core::mem::take(&mut t.srcu_names);
                let mut gone = KVec::new();
                let batch = batch && gone.reserve(names.len(), GFP_KERNEL).is_ok();
                for name in names.iter() {
                    let node = self
                        .srcu_index
                        .remove(&mut t.srcu_writer, name.hash(), name);
                    if batch {
                        // Room for every node was reserved above: this does not allocate,
                        // so it cannot fail (and drop the node early).
                        let _ = gone.push(node, GFP_KERNEL);
                    } else {
                        self.srcu.synchronize();
                        // INVARIANT: A grace period of `srcu` began after the unlink.
                        drop(node);
                    }
                }
                if batch {
                    self.srcu.synchronize();
                }
                // INVARIANT: A grace period of `srcu` began after every unlink.
                drop(gone);
            }
            Design::PercpuRef => {
                let refs = core::mem::take(&mut t.refs);
                let mut gone = KVec::new();
                let batch = batch && gone.reserve(refs.len(), GFP_KERNEL).is_ok();
                for (name, rec) in refs.iter() {
                    let node = self.ref_index.remove(&mut t.ref_writer, name.hash(), name);
                    rec.live.kill();
                    if batch {
                        // Reserved above, as for SRCU.
                        let _ = gone.push(node, GFP_KERNEL);
                    } else {
                        rec.live.wait_released();
                        // INVARIANT: Released: no pin is left.
                        drop(node);
                    }
                }
                for (_, rec) in refs.iter() {
                    rec.live.wait_released();
                }
                // INVARIANT: Every ref is released: no pin is left.
                drop(gone);
            }
        }
    }
}

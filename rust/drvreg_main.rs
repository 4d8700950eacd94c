// SPDX-License-Identifier: GPL-2.0

//! drvreg: a driver registry with owner-pinned lookups under a global driver lock.
//!
//! Driver modules register `struct drvreg_driver` descriptors (see `include/drvreg.h`,
//! or the Rust API in `driver.rs`); lookups pin the owner module under the same lock
//! that unregistration takes. See `Documentation/drvreg.rst`.
//!
//! sysfs, under `/sys/kernel/drvreg/`:
//! - `mode`, `race_window_us`, `stats`, `lookup`, `call_all`;
//! - `drivers/<name>/{owner,state,pins,calls,status}`;
//! - `stress/{threads,target,running,iterations,hits,misses,refused,opens,errors}`.

use core::fmt::Write;
use kernel::{c_str, prelude::*, str::CStr};

pub mod abi;
pub mod delay;
pub mod exports;
pub mod global;
pub mod kthread;
pub mod module_ref;
pub mod params;
pub mod racy;
pub mod registry;
pub mod stress;
pub mod sysfs;

use global::Global;
use module_ref::{GoingNotifier, Owner};
use registry::{Mode, Name, Registry};
use stress::Stress;
use sysfs::{parse_u32, trim_input, AttrOps, Dir, Page, ScopedGroup};

module! {
    type: DrvregModule,
    name: "drvreg",
    author: "drvreg developers",
    description: "Driver registry with owner-pinned lookups under a global driver lock",
    license: "GPL",
}

module_param!(ALLOW_RACY: bool = false, "allow_racy");

/// The core's state, reachable from exported functions and sysfs through [`CORE`].
#[pin_data]
pub struct Core {
    /// The registry and its global driver lock.
    #[pin]
    pub registry: Registry,
    /// The stress workers.
    #[pin]
    pub stress: Stress,
}

/// The published core state; see [`Global`].
pub static CORE: Global<Core> = Global::new();

fn core_state() -> Result<&'static Core> {
    CORE.get().ok_or(ENODEV)
}

fn emit(out: &mut Page<'_>, args: core::fmt::Arguments<'_>) -> Result {
    out.write_fmt(args).map_err(|_| EFBIG)
}

// /sys/kernel/drvreg/{mode,race_window_us,stats,lookup}

struct ModeAttr;
impl AttrOps for ModeAttr {
    const NAME: &'static CStr = c_str!("mode");
    const MODE: u16 = 0o644;

    fn show(_dir: &CStr, out: &mut Page<'_>) -> Result {
        emit(
            out,
            format_args!("{}\n", core_state()?.registry.mode().as_str()),
        )
    }

    fn store(_dir: &CStr, input: &[u8]) -> Result {
        let mode = match trim_input(input)? {
            b"locked" => Mode::Locked,
            b"racy" => Mode::Racy,
            _ => return Err(EINVAL),
        };
        core_state()?.registry.set_mode(mode)
    }
}

struct RaceWindowAttr;
impl AttrOps for RaceWindowAttr {
    const NAME: &'static CStr = c_str!("race_window_us");
    const MODE: u16 = 0o644;

    fn show(_dir: &CStr, out: &mut Page<'_>) -> Result {
        emit(
            out,
            format_args!("{}\n", core_state()?.registry.race_window_us()),
        )
    }

    fn store(_dir: &CStr, input: &[u8]) -> Result {
        core_state()?.registry.set_race_window_us(parse_u32(input)?)
    }
}

struct StatsAttr;
impl AttrOps for StatsAttr {
    const NAME: &'static CStr = c_str!("stats");
    const MODE: u16 = 0o444;

    fn show(_dir: &CStr, out: &mut Page<'_>) -> Result {
        let s = core_state()?.registry.stats();
        emit(
            out,
            format_args!(
                "lookups {}\nhits {}\nmisses {}\nrefused {}\nself_pins {}\npins {}\ndrivers {}\n\
                 registered {}\nunregistered {}\npurged {}\n",
                s.lookups,
                s.hits,
                s.misses,
                s.refused,
                s.self_pins,
                s.pins,
                s.drivers,
                s.registered,
                s.unregistered,
                s.purged
            ),
        )
    }
}

struct LookupAttr;
impl AttrOps for LookupAttr {
    const NAME: &'static CStr = c_str!("lookup");
    const MODE: u16 = 0o200;

    fn store(_dir: &CStr, input: &[u8]) -> Result {
        let name = Name::new(trim_input(input)?)?;
        let pin = core_state()?.registry.lookup(&name, None)?;
        pin.open()?;
        pin.release();
        Ok(())
    }
}

/// "Call every driver": pins every live driver, then opens and releases each.
struct CallAllAttr;
impl AttrOps for CallAllAttr {
    const NAME: &'static CStr = c_str!("call_all");
    const MODE: u16 = 0o200;

    fn store(_dir: &CStr, input: &[u8]) -> Result {
        if trim_input(input)? != b"1" {
            return Err(EINVAL);
        }
        core_state()?.registry.for_each(|pin| {
            if pin.open().is_ok() {
                pin.release();
            }
        })
    }
}

attribute_group!(static ROOT_GROUP(None) = [ModeAttr, RaceWindowAttr, StatsAttr, LookupAttr, CallAllAttr];);

// /sys/kernel/drvreg/stress/

struct ThreadsAttr;
impl AttrOps for ThreadsAttr {
    const NAME: &'static CStr = c_str!("threads");
    const MODE: u16 = 0o644;

    fn show(_dir: &CStr, out: &mut Page<'_>) -> Result {
        emit(out, format_args!("{}\n", core_state()?.stress.threads()))
    }

    fn store(_dir: &CStr, input: &[u8]) -> Result {
        core_state()?.stress.set_threads(parse_u32(input)?)
    }
}

struct TargetAttr;
impl AttrOps for TargetAttr {
    const NAME: &'static CStr = c_str!("target");
    const MODE: u16 = 0o644;

    fn show(_dir: &CStr, out: &mut Page<'_>) -> Result {
        emit(
            out,
            format_args!("{}\n", core_state()?.stress.target().as_cstr()),
        )
    }

    fn store(_dir: &CStr, input: &[u8]) -> Result {
        core_state()?
            .stress
            .set_target(Name::new(trim_input(input)?)?)
    }
}

struct RunningAttr;
impl AttrOps for RunningAttr {
    const NAME: &'static CStr = c_str!("running");
    const MODE: u16 = 0o644;

    fn show(_dir: &CStr, out: &mut Page<'_>) -> Result {
        emit(
            out,
            format_args!("{}\n", u8::from(core_state()?.stress.running())),
        )
    }

    fn store(_dir: &CStr, input: &[u8]) -> Result {
        let core = core_state()?;
        match trim_input(input)? {
            b"1" => core.stress.start(&core.registry),
            b"0" => {
                core.stress.stop();
                Ok(())
            }
            _ => Err(EINVAL),
        }
    }
}

macro_rules! counter_attr {
    ($attr:ident, $name:literal, $field:ident) => {
        struct $attr;
        impl AttrOps for $attr {
            const NAME: &'static CStr = c_str!($name);
            const MODE: u16 = 0o444;

            fn show(_dir: &CStr, out: &mut Page<'_>) -> Result {
                let c = core_state()?.stress.counters();
                emit(
                    out,
                    format_args!("{}\n", c.$field.load(core::sync::atomic::Ordering::Relaxed)),
                )
            }
        }
    };
}

counter_attr!(IterationsAttr, "iterations", iterations);
counter_attr!(HitsAttr, "hits", hits);
counter_attr!(MissesAttr, "misses", misses);
counter_attr!(RefusedAttr, "refused", refused);
counter_attr!(OpensAttr, "opens", opens);
counter_attr!(ErrorsAttr, "errors", errors);

attribute_group!(static STRESS_GROUP(Some(c_str!("stress"))) = [
    ThreadsAttr, TargetAttr, RunningAttr,
    IterationsAttr, HitsAttr, MissesAttr, RefusedAttr, OpensAttr, ErrorsAttr,
];);

// /sys/kernel/drvreg/drivers/<name>/: `dir` is the driver's name.

/// A read-only attribute of `drivers/<name>/` showing `$value`, computed under the driver
/// lock from the driver's record, its owner's state and its owner's name.
macro_rules! record_attr {
    ($attr:ident, $name:literal, |$rec:pat_param, $state:pat_param, $owner:pat_param| $value:expr) => {
        struct $attr;
        impl AttrOps for $attr {
            const NAME: &'static CStr = c_str!($name);
            const MODE: u16 = 0o444;

            fn show(dir: &CStr, out: &mut Page<'_>) -> Result {
                let name = Name::new(dir.as_bytes())?;
                core_state()?
                    .registry
                    .with_record(&name, |$rec, $state, $owner| {
                        emit(out, format_args!("{}\n", $value))
                    })?
            }
        }
    };
}

record_attr!(OwnerAttr, "owner", |_, _, owner| owner);
record_attr!(StateAttr, "state", |_, state, _| state.as_str());
record_attr!(PinsAttr, "pins", |rec, _, _| rec.pins());
record_attr!(CallsAttr, "calls", |rec, _, _| rec.calls());

/// Mochel's driverfs case: reading a driver's file calls into the driver module, so it
/// goes through a pin like every other call.
struct StatusAttr;
impl AttrOps for StatusAttr {
    const NAME: &'static CStr = c_str!("status");
    const MODE: u16 = 0o444;

    fn show(dir: &CStr, out: &mut Page<'_>) -> Result {
        let pin = core_state()?
            .registry
            .lookup(&Name::new(dir.as_bytes())?, None)?;
        let len = pin.show(out.spare())?;
        out.advance(len);
        Ok(())
    }
}

attribute_group!(static DRIVER_GROUP(None) = [OwnerAttr, StateAttr, PinsAttr, CallsAttr, StatusAttr];);

fn module_going(owner: Owner) {
    if let Ok(core) = core_state() {
        core.registry.purge(owner);
    }
}

struct DrvregModule {
    /// The root and stress attribute files.
    attrs: Option<(ScopedGroup, ScopedGroup)>,
    notifier: Option<Pin<KBox<GoingNotifier>>>,
    core: Pin<KBox<Core>>,
    /// `/sys/kernel/drvreg/`; dropped last, after `drivers/` (owned by the registry).
    _root: Dir,
}

impl kernel::Module for DrvregModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let root = Dir::new(c_str!("drvreg"), None)?;
        let drivers = Dir::new(c_str!("drivers"), Some(&root))?;
        let core = KBox::pin_init(
            try_pin_init!(Core {
                registry <- Registry::new(drivers, &DRIVER_GROUP, ALLOW_RACY.get()),
                stress <- Stress::new()?,
            }),
            GFP_KERNEL,
        )?;
        // SAFETY: `core` is pinned in its box, which the module state keeps until `drop`
        // has removed every entry point (sysfs files, notifier) and withdrawn it. Driver
        // modules, the other callers, are gone before the core's exit can run.
        unsafe { CORE.publish(&core) };
        let mut this = Self {
            attrs: None,
            notifier: None,
            core,
            _root: root,
        };
        this.attrs = Some((
            this._root.add_group_scoped(&ROOT_GROUP)?,
            this._root.add_group_scoped(&STRESS_GROUP)?,
        ));
        this.notifier = Some(GoingNotifier::new(module_going)?);
        pr_info!("loaded (allow_racy={})\n", u8::from(ALLOW_RACY.get()));
        Ok(this)
    }
}

impl Drop for DrvregModule {
    fn drop(&mut self) {
        // No new sysfs calls (and none running) from here on: no stress restart.
        self.attrs = None;
        self.core.stress.stop();
        self.notifier = None;
        CORE.withdraw();
        pr_info!("unloaded\n");
    }
}

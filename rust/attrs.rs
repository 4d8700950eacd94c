// SPDX-License-Identifier: GPL-2.0

//! The core's files. In sysfs, under `/sys/kernel/drvreg/`, what a user of the registry
//! reads, one value per file (the ABI: `Documentation/ABI/testing/sysfs-kernel-drvreg`):
//! - `mode` ([`ROOT_GROUP`]);
//! - `drivers/<name>/{owner,state,pins,calls,status}` ([`DRIVER_GROUP`]).
//!
//! In debugfs, under `/sys/kernel/debug/drvreg/`, the test, stress and benchmark controls
//! and the counters (not ABI: `Documentation/drvreg.rst`, "debugfs"):
//! - `race_window_us`, `stats`, `lookup`, `call_all` ([`DEBUG_FILES`]);
//! - `stress/{threads,target,running,iterations,hits,misses,refused,opens,errors}`
//!   ([`STRESS_FILES`]);
//! - `bench/{run,result,modes,designs}` ([`BENCH_FILES`]).
//!
//! Every callback reaches the core through [`with_core`] and fails with `ENODEV` while the
//! core is not published.

use crate::api::compat::{cstr_bytes, cstr_str};
use crate::bench::{parse_designs, Kind, Request};
use crate::lookup::Mode;
use crate::registry::Name;
use crate::state::with_core;
use crate::sys::sysfs::{parse_u32, trim_input, AttrOps, Page};
use crate::{attribute_group, debugfs_files};
use core::fmt::Write;
use kernel::{c_str, prelude::*, str::CStr};

fn emit(out: &mut Page<'_>, args: core::fmt::Arguments<'_>) -> Result {
    out.write_fmt(args).map_err(|_| EFBIG)
}

// /sys/kernel/drvreg/mode

struct ModeAttr;
impl AttrOps for ModeAttr {
    const NAME: &'static CStr = c_str!("mode");
    const MODE: u16 = 0o644;

    /// Every selectable mode, the current one in brackets, as the block layer's
    /// `queue/scheduler` lists its schedulers: `[locked] rcu twostage`.
    fn show(_dir: &CStr, out: &mut Page<'_>) -> Result {
        with_core(|core| {
            let now = core.lookups.mode();
            for (i, m) in core.lookups.modes().enumerate() {
                let sep = if i == 0 { "" } else { " " };
                if m == now {
                    emit(out, format_args!("{sep}[{}]", m.as_str()))?;
                } else {
                    emit(out, format_args!("{sep}{}", m.as_str()))?;
                }
            }
            emit(out, format_args!("\n"))
        })
    }

    fn store(_dir: &CStr, input: &[u8]) -> Result {
        let mode = Mode::from_name(trim_input(input)?)?;
        with_core(|core| core.lookups.set_mode(mode))
    }
}

struct RaceWindowAttr;
impl AttrOps for RaceWindowAttr {
    const NAME: &'static CStr = c_str!("race_window_us");
    const MODE: u16 = 0o644;

    fn show(_dir: &CStr, out: &mut Page<'_>) -> Result {
        with_core(|core| emit(out, format_args!("{}\n", core.lookups.race_window_us())))
    }

    fn store(_dir: &CStr, input: &[u8]) -> Result {
        let us = parse_u32(input)?;
        with_core(|core| core.lookups.set_race_window_us(us))
    }
}

struct StatsAttr;
impl AttrOps for StatsAttr {
    const NAME: &'static CStr = c_str!("stats");
    const MODE: u16 = 0o444;

    fn show(_dir: &CStr, out: &mut Page<'_>) -> Result {
        let s = with_core(|core| Ok(core.lookups.registry().stats()))?;
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
        with_core(|core| {
            let pin = core.lookups.lookup(&name, None)?;
            pin.open()?;
            pin.release();
            Ok(())
        })
    }
}

/// "Call every driver": pins every live driver, then opens and releases each. Every
/// driver is called; if an `open` failed, the write fails with the first such error.
struct CallAllAttr;
impl AttrOps for CallAllAttr {
    const NAME: &'static CStr = c_str!("call_all");
    const MODE: u16 = 0o200;

    fn store(_dir: &CStr, input: &[u8]) -> Result {
        if trim_input(input)? != b"1" {
            return Err(EINVAL);
        }
        with_core(|core| {
            core.lookups.registry().for_each(|pin| {
                pin.open()?;
                pin.release();
                Ok(())
            })
        })
    }
}

attribute_group!(
    /// The files of `/sys/kernel/drvreg/`.
    pub static ROOT_GROUP(None) = [ModeAttr];);

debugfs_files!(
    /// The files of `/sys/kernel/debug/drvreg/`.
    pub static DEBUG_FILES(None) = [RaceWindowAttr, StatsAttr, LookupAttr, CallAllAttr];);

// /sys/kernel/debug/drvreg/stress/

struct ThreadsAttr;
impl AttrOps for ThreadsAttr {
    const NAME: &'static CStr = c_str!("threads");
    const MODE: u16 = 0o644;

    fn show(_dir: &CStr, out: &mut Page<'_>) -> Result {
        with_core(|core| emit(out, format_args!("{}\n", core.stress.threads())))
    }

    fn store(_dir: &CStr, input: &[u8]) -> Result {
        let n = parse_u32(input)?;
        with_core(|core| core.stress.set_threads(n))
    }
}

struct TargetAttr;
impl AttrOps for TargetAttr {
    const NAME: &'static CStr = c_str!("target");
    const MODE: u16 = 0o644;

    fn show(_dir: &CStr, out: &mut Page<'_>) -> Result {
        with_core(|core| {
            emit(
                out,
                format_args!("{}\n", cstr_str(core.stress.target().as_cstr())),
            )
        })
    }

    fn store(_dir: &CStr, input: &[u8]) -> Result {
        let target = Name::new(trim_input(input)?)?;
        with_core(|core| core.stress.set_target(target))
    }
}

struct RunningAttr;
impl AttrOps for RunningAttr {
    const NAME: &'static CStr = c_str!("running");
    const MODE: u16 = 0o644;

    fn show(_dir: &CStr, out: &mut Page<'_>) -> Result {
        with_core(|core| emit(out, format_args!("{}\n", u8::from(core.stress.running()))))
    }

    fn store(_dir: &CStr, input: &[u8]) -> Result {
        let run = match trim_input(input)? {
            b"1" => true,
            b"0" => false,
            _ => return Err(EINVAL),
        };
        with_core(|core| match run {
            true => core.stress.start(&core.lookups),
            false => {
                core.stress.stop();
                Ok(())
            }
        })
    }
}

macro_rules! counter_attr {
    ($attr:ident, $name:literal, $field:ident) => {
        struct $attr;
        impl AttrOps for $attr {
            const NAME: &'static CStr = c_str!($name);
            const MODE: u16 = 0o444;

            fn show(_dir: &CStr, out: &mut Page<'_>) -> Result {
                with_core(|core| {
                    let c = core.stress.counters();
                    emit(
                        out,
                        format_args!("{}\n", c.$field.load(core::sync::atomic::Ordering::Relaxed)),
                    )
                })
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

debugfs_files!(
    /// The files of `/sys/kernel/debug/drvreg/stress/`.
    pub static STRESS_FILES(Some(c_str!("stress"))) = [
    ThreadsAttr, TargetAttr, RunningAttr,
    IterationsAttr, HitsAttr, MissesAttr, RefusedAttr, OpensAttr, ErrorsAttr,
];);

// /sys/kernel/debug/drvreg/bench/

struct BenchRunAttr;
impl AttrOps for BenchRunAttr {
    const NAME: &'static CStr = c_str!("run");
    const MODE: u16 = 0o200;

    fn store(_dir: &CStr, input: &[u8]) -> Result {
        let req = Request::parse(input)?;
        with_core(|core| core.bench.run(&core.lookups, req).map(|_| ()))
    }
}

struct BenchResultAttr;
impl AttrOps for BenchResultAttr {
    const NAME: &'static CStr = c_str!("result");
    const MODE: u16 = 0o444;

    fn show(_dir: &CStr, out: &mut Page<'_>) -> Result {
        with_core(|core| match core.bench.last() {
            Some(outcome) => outcome.write(out).map_err(|_| EFBIG),
            None => Ok(()),
        })
    }
}

struct BenchModesAttr;
impl AttrOps for BenchModesAttr {
    const NAME: &'static CStr = c_str!("modes");
    const MODE: u16 = 0o444;

    /// Every mode `run` takes, in the report's order: `noop unsafe modref srcu ...`.
    fn show(_dir: &CStr, out: &mut Page<'_>) -> Result {
        for (i, k) in Kind::all().enumerate() {
            let sep = if i == 0 { "" } else { " " };
            emit(out, format_args!("{sep}{}", k.as_str()))?;
        }
        emit(out, format_args!("\n"))
    }
}

/// `<design> register <prefix> <n>`, `<design> unregister`, `<design> unregister-batch`:
/// fills or empties a design's index, timed; reading gives each design's records and last
/// request.
struct BenchDesignsAttr;
impl AttrOps for BenchDesignsAttr {
    const NAME: &'static CStr = c_str!("designs");
    const MODE: u16 = 0o600;

    fn show(_dir: &CStr, out: &mut Page<'_>) -> Result {
        with_core(|core| core.bench.designs.write(out).map_err(|_| EFBIG))
    }

    fn store(_dir: &CStr, input: &[u8]) -> Result {
        let (design, op) = parse_designs(input)?;
        with_core(|core| core.bench.designs.apply(design, op).map(|_| ()))
    }
}

debugfs_files!(
    /// The files of `/sys/kernel/debug/drvreg/bench/`.
    pub static BENCH_FILES(Some(c_str!("bench"))) = [
    BenchRunAttr, BenchResultAttr, BenchModesAttr, BenchDesignsAttr,
];);

// /sys/kernel/drvreg/drivers/<name>/: `dir` is the driver's name.

/// A read-only attribute of `drivers/<name>/` showing `$value`, computed under the driver
/// lock from the driver's record and a view of its owner module.
macro_rules! record_attr {
    ($attr:ident, $name:literal, |$rec:pat_param, $owner:pat_param| $value:expr) => {
        struct $attr;
        impl AttrOps for $attr {
            const NAME: &'static CStr = c_str!($name);
            const MODE: u16 = 0o444;

            fn show(dir: &CStr, out: &mut Page<'_>) -> Result {
                let name = Name::new(cstr_bytes(dir))?;
                with_core(|core| {
                    core.lookups.registry().with_record(&name, |$rec, $owner| {
                        emit(out, format_args!("{}\n", $value))
                    })?
                })
            }
        }
    };
}

record_attr!(OwnerAttr, "owner", |_, owner| cstr_str(owner.name()));
record_attr!(StateAttr, "state", |_, owner| owner.state().as_str());
record_attr!(PinsAttr, "pins", |rec, _| rec.pins());
record_attr!(CallsAttr, "calls", |rec, _| rec.calls());

/// Mochel's driverfs case: reading a driver's file calls into the driver module, so it
/// goes through a pin like every other call.
struct StatusAttr;
impl AttrOps for StatusAttr {
    const NAME: &'static CStr = c_str!("status");
    const MODE: u16 = 0o444;

    fn show(dir: &CStr, out: &mut Page<'_>) -> Result {
        let name = Name::new(cstr_bytes(dir))?;
        with_core(|core| {
            let pin = core.lookups.lookup(&name, None)?;
            let len = pin.show(out.spare())?;
            out.advance(len);
            Ok(())
        })
    }
}

attribute_group!(
    /// The files of each `/sys/kernel/drvreg/drivers/<name>/`.
    pub static DRIVER_GROUP(None) = [OwnerAttr, StateAttr, PinsAttr, CallsAttr, StatusAttr];);

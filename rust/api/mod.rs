// SPDX-License-Identifier: GPL-2.0

//! The driver-facing API of drvreg, compiled into every Rust driver module as source.
//!
//! A driver module includes it with one line at its crate root:
//!
//! ```ignore
//! #[path = "../rust/api/mod.rs"]
//! pub mod api;
//! ```
//!
//! - [`abi`]: the C ABI of `include/drvreg.h` (layouts and the exported functions);
//! - [`driver`]: [`driver::Driver`], [`driver::Registration`], [`driver::Pinned`];
//! - [`params`]: read-only module parameters ([`module_param!`](crate::module_param));
//! - [`delay`]: sleeping in process context;
//! - `misc` (7.x only, so not linked here): `misc::OwnedMiscRegistration`, a misc device
//!   whose files pin the module that registers it;
//! - [`compat`]: the differences between the kernel versions drvreg supports.
//!
//! Nothing here needs `unsafe` from the driver: the unsafe code that calls the core is in
//! this folder, each block justified.

pub mod abi;
pub mod compat;
pub mod delay;
pub mod driver;
#[cfg(drvreg_kernel_7)]
pub mod misc;
pub mod params;

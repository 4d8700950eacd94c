/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The core's Rust side, as its C export table (export_symbols.c) sees it.
 */
#ifndef DRVREG_EXPORTS_H
#define DRVREG_EXPORTS_H

#include <linux/export.h>
#include "../include/drvreg.h"

/*
 * The Rust implementations of __drvreg_register() and __drvreg_get() (exports.rs),
 * called once export_symbols.c has checked the module argument; they check the ABI
 * version.
 */
int drvreg_core_register(struct drvreg_driver *drv, struct module *owner, unsigned int abi);
int drvreg_core_get(const char *name, struct module *caller, unsigned int abi,
		    struct drvreg_pin *pin);

/*
 * Exports a function written in Rust and declared by drvreg.h, as the kernel's
 * rust/exports.c does for its own crates: the definition is in another object.
 */
#define DRVREG_EXPORT_RUST(sym) EXPORT_SYMBOL_GPL(sym)

#endif /* DRVREG_EXPORTS_H */

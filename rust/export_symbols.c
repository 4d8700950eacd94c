// SPDX-License-Identifier: GPL-2.0
/*
 * Exports of the drvreg core's C ABI. Most functions are written in Rust (exports.rs);
 * this file applies EXPORT_SYMBOL_GPL to them, as rust/exports.c does for the kernel
 * crate, so that modpost records each driver module's dependency on drvreg.ko.
 *
 * The two entry points that take a module, __drvreg_register() (the owner) and
 * __drvreg_get() (the caller), are C wrappers here: they check that the module passed is
 * the one whose code made the call, by the return address, before the Rust code trusts
 * it. The header's macros pass THIS_MODULE, so a driver never names a module itself; a
 * caller that bypasses the macro (NULL, or another module) gets -EINVAL, and so cannot
 * register a driver for another module or skip the self-pin check. Every caller of an
 * out-of-tree module's exports is itself a module, so NULL is never a correct caller.
 */
#include <linux/export.h>
#include <linux/module.h>
#include <linux/printk.h>
#include "../include/drvreg.h"
#include "exports.h"

/*
 * Whether @ip, the return address of a call into the core, lies in @mod. @mod is live
 * while its own code runs, so within_module() may read its memory layout.
 */
static bool drvreg_called_from(struct module *mod, unsigned long ip, const char *fn)
{
	if (mod && within_module(ip, mod))
		return true;
	pr_warn_ratelimited("drvreg: %s: module %s is not the caller (%pS): -EINVAL\n", fn,
			    mod ? mod->name : "(null)", (void *)ip);
	return false;
}

int __drvreg_register(struct drvreg_driver *drv, struct module *owner, unsigned int abi)
{
	if (!drvreg_called_from(owner, _RET_IP_, __func__))
		return -EINVAL;
	return drvreg_core_register(drv, owner, abi);
}
EXPORT_SYMBOL_GPL(__drvreg_register);

int __drvreg_get(const char *name, struct module *caller, unsigned int abi,
		 struct drvreg_pin *pin)
{
	if (!drvreg_called_from(caller, _RET_IP_, __func__))
		return -EINVAL;
	return drvreg_core_get(name, caller, abi, pin);
}
EXPORT_SYMBOL_GPL(__drvreg_get);

/* The functions written in Rust (exports.rs), declared by drvreg.h. */
DRVREG_EXPORT_RUST(drvreg_unregister);
DRVREG_EXPORT_RUST(drvreg_put);
DRVREG_EXPORT_RUST(drvreg_pin_open);
DRVREG_EXPORT_RUST(drvreg_pin_release);
DRVREG_EXPORT_RUST(drvreg_pin_show);

/* The module's version, for modinfo (the Rust module! macro has no version key). */
MODULE_VERSION(DRVREG_VERSION);

// SPDX-License-Identifier: GPL-2.0
/*
 * Exports of the drvreg core's C ABI. The functions are written in Rust (exports.rs);
 * this file only applies EXPORT_SYMBOL_GPL, as rust/exports.c does for the kernel crate,
 * so that modpost records each driver module's dependency on drvreg.ko.
 */
#include <linux/export.h>
#include "../include/drvreg.h"

EXPORT_SYMBOL_GPL(__drvreg_register);
EXPORT_SYMBOL_GPL(drvreg_unregister);
EXPORT_SYMBOL_GPL(drvreg_get);
EXPORT_SYMBOL_GPL(drvreg_put);
EXPORT_SYMBOL_GPL(drvreg_pin_open);
EXPORT_SYMBOL_GPL(drvreg_pin_release);
EXPORT_SYMBOL_GPL(drvreg_pin_show);

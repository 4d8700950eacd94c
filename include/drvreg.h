/* SPDX-License-Identifier: GPL-2.0 */
/*
 * drvreg: a driver registry with owner-pinned lookups.
 *
 * A driver module describes each driver with a struct drvreg_driver that lives in the
 * module's own memory (typically a static) and registers it from its init function. The
 * core records the registering module as the driver's owner. Anyone who wants to call
 * into a driver looks it up by name and gets a pin. In locked mode (the default) the core
 * scans its list and takes a reference on the owner module (try_module_get) under the
 * global driver lock, the same lock that drvreg_unregister() takes; in rcu mode it takes
 * the reference without the lock; in twostage mode it takes none, and the owner's
 * drvreg_unregister() waits for the pin instead. The driver's callbacks are only ever
 * called through a pin, and the core drops it (and any module reference) after the
 * callback has returned.
 *
 * Rules for drivers:
 *  - register with drvreg_register() (it passes THIS_MODULE as the owner) and unregister
 *    every registered driver before your module's exit function returns;
 *  - never take or drop references on your own module: the core pins on your behalf;
 *  - your drivers are not handed out before your init function has returned 0.
 */
#ifndef _DRVREG_H
#define _DRVREG_H

#include <linux/build_bug.h>
#include <linux/compiler.h>
#include <linux/module.h>
#include <linux/stddef.h>
#include <linux/types.h>

/* Longest driver name, without the terminating NUL. */
#define DRVREG_NAME_MAX 31

struct drvreg_driver;

/**
 * struct drvreg_ops - driver callbacks, called only through a pin
 * @open:    start using the driver; return 0 or a negative errno.
 * @release: stop using the driver (called once for every successful @open).
 * @show:    format the driver's status text into @buf (@size bytes, NUL-terminated);
 *           return the length written (without NUL) or a negative errno.
 *
 * Every callback is optional. The ops table must stay valid while the driver is
 * registered (make it static const).
 */
struct drvreg_ops {
	int (*open)(struct drvreg_driver *drv);
	void (*release)(struct drvreg_driver *drv);
	int (*show)(struct drvreg_driver *drv, char *buf, size_t size);
};

/**
 * struct drvreg_driver - a driver, owned by the module that registers it
 * @name:  unique name: 1 to DRVREG_NAME_MAX printable ASCII characters other than space
 *         and '/', and not "." or "..";
 *         copied by the core at registration.
 * @ops:   the driver's callbacks.
 * @data:  the driver's private data, for its callbacks.
 * @owner: set by drvreg_register() to the registering module; read-only for drivers.
 * @__core: private to the core (its record of the registration, as drivers/base keeps
 *          drv->p); must be NULL when the driver is registered, which a static or
 *          zeroed descriptor is. The core clears it again when it unregisters the driver.
 */
struct drvreg_driver {
	const char *name;
	const struct drvreg_ops *ops;
	void *data;
	struct module *owner;
	void *__core;
};

/**
 * struct drvreg_pin - a pinned driver (opaque): keeps the driver registered, and its
 * owner module loaded, until drvreg_put(). In locked and rcu mode it holds a reference on
 * the owner module (rmmod fails); in twostage mode it holds none (rmmod waits in the
 * owner's drvreg_unregister()).
 */
struct drvreg_pin {
	void *__record;
};

/*
 * The layout the Rust side (rust/api/abi.rs) asserts with offset_of!, in the same units:
 * a change to either side that is not made to both fails that side's build.
 */
#define __DRVREG_P sizeof(void *)
static_assert(offsetof(struct drvreg_ops, open) == 0);
static_assert(offsetof(struct drvreg_ops, release) == __DRVREG_P);
static_assert(offsetof(struct drvreg_ops, show) == 2 * __DRVREG_P);
static_assert(sizeof(struct drvreg_ops) == 3 * __DRVREG_P);
static_assert(offsetof(struct drvreg_driver, name) == 0);
static_assert(offsetof(struct drvreg_driver, ops) == __DRVREG_P);
static_assert(offsetof(struct drvreg_driver, data) == 2 * __DRVREG_P);
static_assert(offsetof(struct drvreg_driver, owner) == 3 * __DRVREG_P);
static_assert(offsetof(struct drvreg_driver, __core) == 4 * __DRVREG_P);
static_assert(sizeof(struct drvreg_driver) == 5 * __DRVREG_P);
static_assert(offsetof(struct drvreg_pin, __record) == 0);
static_assert(sizeof(struct drvreg_pin) == __DRVREG_P);
static_assert(DRVREG_NAME_MAX == 31);

/*
 * The core checks the module passed to __drvreg_register() and __drvreg_get() against the
 * call's return address, which must lie in that module. A tail call ("return
 * drvreg_register(&drv);" compiled to a jump) would return into the caller's caller
 * instead: the barrier after the call keeps it a real call, made from the caller's code.
 */
#define __drvreg_call_here(call) ({ int __drvreg_ret = (call); barrier(); __drvreg_ret; })

int __drvreg_register(struct drvreg_driver *drv, struct module *owner);
/*
 * drvreg_register - register @drv, owned by the calling module.
 * Returns 0, -EINVAL (bad name, no ops, or @owner is not the calling module), -EBUSY
 * (name taken, as driver_register() answers; or @drv already registered: its __core is
 * not NULL) or -ENOMEM. Never -EEXIST: modprobe takes -EEXIST from a module's init for
 * "already loaded".
 * Context: process context; may sleep (allocates, takes the driver lock).
 */
#define drvreg_register(drv) __drvreg_call_here(__drvreg_register(drv, THIS_MODULE))
/*
 * drvreg_unregister - remove @drv. Waits until no pin on @drv is held, so when it
 * returns no callback of @drv is running and none will be called again. If another
 * drvreg_unregister() of @drv is in progress (a work item's, say), waits until that one
 * has finished too. @drv must be registered by the caller, or have a NULL __core (then it
 * warns and does nothing).
 * Constant time to find the registration (through @drv->__core), O(log n) to unlink it.
 * Context: process context; sleeps while it waits.
 */
void drvreg_unregister(struct drvreg_driver *drv);

int __drvreg_get(const char *name, struct module *caller, struct drvreg_pin *pin);
/*
 * drvreg_get - look @name up and pin it, on behalf of the calling module, in the core's
 * lookup mode (/sys/kernel/drvreg/mode). Returns 0, -ENOENT (no such driver, or it is
 * being unregistered), -ENODEV (its owner is not live: still in init, or unloading),
 * -EDEADLK (the caller owns the driver: a module cannot pin itself), -EINVAL (bad name,
 * NULL @pin), -EBUSY (2^31 - 1 pins that hold a module reference are already held on the
 * driver: the count never overflows), or in twostage mode -ENOMEM (a two-stage pin handed
 * to C needs a small allocation). In locked and rcu mode the pin holds a reference on the
 * driver's module (its rmmod fails while it is held); in twostage mode it does not, and
 * the module's exit waits for the pin instead.
 *
 * Like drvreg_register(), it passes THIS_MODULE, so the self-pin check cannot be skipped:
 * the core also checks that the module passed to __drvreg_register()/__drvreg_get() is
 * the one whose code called it (-EINVAL otherwise, NULL included).
 * Context: process context; may sleep (the driver lock in locked mode, and in every mode
 * when the lookup races an unregister; debug kernels check it on every call).
 */
#define drvreg_get(name, pin) __drvreg_call_here(__drvreg_get(name, THIS_MODULE, pin))
/*
 * drvreg_put - drop a pin taken by drvreg_get().
 * Context: process context; may sleep (dropping the last pin of a driver that is being
 * unregistered takes the driver lock; debug kernels check it on every call).
 */
void drvreg_put(struct drvreg_pin *pin);
/*
 * Call the pinned driver's open/release/show callbacks.
 * Context: process context (the callbacks may sleep).
 */
int drvreg_pin_open(struct drvreg_pin *pin);
void drvreg_pin_release(struct drvreg_pin *pin);
int drvreg_pin_show(struct drvreg_pin *pin, char *buf, size_t size);

#endif /* _DRVREG_H */

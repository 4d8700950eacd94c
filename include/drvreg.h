/* SPDX-License-Identifier: GPL-2.0 */
/**
 * DOC: drvreg's C interface
 *
 * A driver module describes each driver with a &struct drvreg_driver that lives in the
 * module's own memory (typically a static) and registers it from its init function. The
 * core records the registering module as the driver's owner. Anyone who wants to call
 * into a driver looks it up by name and gets a pin. In locked mode (the default) the core
 * scans its list and takes a reference on the owner module (try_module_get()) under the
 * global driver lock, the same lock that drvreg_unregister() takes; in rcu mode it takes
 * the reference without the lock; in twostage mode it takes none, and the owner's
 * drvreg_unregister() waits for the pin instead. The driver's callbacks are only ever
 * called through a pin, and the core drops it (and any module reference) after the
 * callback has returned.
 *
 * Rules for drivers:
 *
 *  - register with drvreg_register() (it passes THIS_MODULE as the owner) and unregister
 *    every registered driver before your module's exit function returns;
 *  - never take or drop references on your own module: the core pins on your behalf;
 *  - your drivers are not handed out before your init function has returned 0.
 *
 * Every errno of these functions, and what the module tools print for it, is in
 * Documentation/errors.rst.
 */
#ifndef _DRVREG_H
#define _DRVREG_H

#include <linux/build_bug.h>
#include <linux/compiler.h>
#include <linux/module.h>
#include <linux/stddef.h>
#include <linux/types.h>

/**
 * DRVREG_NAME_MAX - longest driver name, without the terminating NUL
 */
#define DRVREG_NAME_MAX 31

/**
 * DRVREG_ABI_VERSION - version of the C interface of this header
 *
 * drvreg_register() and drvreg_get() pass it to the core, which refuses a driver module
 * built against another version with -ENOEXEC. It changes whenever a structure's layout or
 * a function's meaning changes. The Rust side's ``ABI_VERSION`` (rust/api/abi.rs) is the
 * same number, asserted on both sides as the layouts are.
 */
#define DRVREG_ABI_VERSION 1

/**
 * DRVREG_VERSION - drvreg's version (MODULE_VERSION of drvreg.ko; CHANGELOG.md)
 */
#define DRVREG_VERSION "0.1.0"

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
 * struct drvreg_pin - a pinned driver (opaque)
 * @__record: private to the core.
 *
 * Keeps the driver registered, and its owner module loaded, until drvreg_put(). In locked
 * and rcu mode it holds a reference on the owner module (rmmod fails); in twostage mode it
 * holds none (rmmod waits in the owner's drvreg_unregister()).
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
static_assert(DRVREG_ABI_VERSION == 1);

/**
 * __drvreg_call_here() - make a call into the core a real call
 * @call: the call.
 *
 * The core checks the module passed to __drvreg_register() and __drvreg_get() against the
 * call's return address, which must lie in that module. A tail call ("return
 * drvreg_register(&drv);" compiled to a jump) would return into the caller's caller
 * instead: the barrier after the call keeps it a real call, made from the caller's code.
 *
 * Return: the call's result.
 */
#define __drvreg_call_here(call) ({ int __drvreg_ret = (call); barrier(); __drvreg_ret; })

/**
 * __drvreg_register() - register a driver for a module: use drvreg_register()
 * @drv: the driver.
 * @owner: the calling module, which the core checks.
 * @abi: the C ABI version the caller was built for, which the core checks.
 *
 * Return: as drvreg_register().
 */
int __drvreg_register(struct drvreg_driver *drv, struct module *owner, unsigned int abi);

/**
 * drvreg_register() - register a driver, owned by the calling module
 * @drv: the driver: its name, ops and data set, @drv->__core NULL.
 *
 * Passes THIS_MODULE as the owner and %DRVREG_ABI_VERSION.
 *
 * Context: Process context; may sleep (allocates, takes the driver lock).
 * Return: 0; -EINVAL (bad name, no ops, or the owner is not the calling module); -EBUSY
 * (name taken, as driver_register() answers; or @drv already registered: its __core is
 * not NULL); -ENOEXEC (the module was built for another %DRVREG_ABI_VERSION); -ENOMEM.
 * Never -EEXIST: modprobe takes -EEXIST from a module's init for "already loaded".
 */
#define drvreg_register(drv) \
	__drvreg_call_here(__drvreg_register(drv, THIS_MODULE, DRVREG_ABI_VERSION))

/**
 * drvreg_unregister() - remove a driver
 * @drv: a driver the caller registered, or one whose __core is NULL (then it warns and
 *       does nothing).
 *
 * Waits until no pin on @drv is held, so when it returns no callback of @drv is running
 * and none will be called again. If another drvreg_unregister() of @drv is in progress (a
 * work item's, say), waits until that one has finished too. Constant time to find the
 * registration (through @drv->__core), O(log n) to unlink it.
 *
 * Context: Process context; sleeps while it waits.
 */
void drvreg_unregister(struct drvreg_driver *drv);

/**
 * __drvreg_get() - look a driver up and pin it for a module: use drvreg_get()
 * @name: the driver's name.
 * @caller: the calling module, which the core checks.
 * @abi: the C ABI version the caller was built for, which the core checks.
 * @pin: where the pin goes.
 *
 * Return: as drvreg_get().
 */
int __drvreg_get(const char *name, struct module *caller, unsigned int abi,
		 struct drvreg_pin *pin);

/**
 * drvreg_get() - look a driver up and pin it, on behalf of the calling module
 * @name: the driver's name.
 * @pin: where the pin goes; drop it with drvreg_put().
 *
 * Looks up in the core's lookup mode (/sys/kernel/drvreg/mode). In locked and rcu mode the
 * pin holds a reference on the driver's module (its rmmod fails while it is held); in
 * twostage mode it does not, and the module's exit waits for the pin instead. Like
 * drvreg_register(), it passes THIS_MODULE and %DRVREG_ABI_VERSION, so the self-pin check
 * cannot be skipped: the core also checks that the module passed to
 * __drvreg_register()/__drvreg_get() is the one whose code called it (-EINVAL otherwise,
 * NULL included).
 *
 * Context: Process context; may sleep (the driver lock in locked mode, and in every mode
 * when the lookup races an unregister; debug kernels check it on every call).
 * Return: 0; -ENOENT (no such driver, or it is being unregistered); -ENODEV (its owner is
 * not live: still in init, or unloading); -EDEADLK (the caller owns the driver: a module
 * cannot pin itself); -EINVAL (bad name, NULL @pin); -EBUSY (2^31 - 1 pins that hold a
 * module reference are already held on the driver: the count never overflows); -ENOEXEC
 * (the caller was built for another %DRVREG_ABI_VERSION); in twostage mode -ENOMEM (a
 * two-stage pin handed to C needs a small allocation).
 */
#define drvreg_get(name, pin) \
	__drvreg_call_here(__drvreg_get(name, THIS_MODULE, DRVREG_ABI_VERSION, pin))

/**
 * drvreg_put() - drop a pin taken by drvreg_get()
 * @pin: the pin.
 *
 * Context: Process context; may sleep (dropping the last pin of a driver that is being
 * unregistered takes the driver lock; debug kernels check it on every call).
 */
void drvreg_put(struct drvreg_pin *pin);

/**
 * drvreg_pin_open() - call the pinned driver's open callback
 * @pin: a pin taken by drvreg_get().
 *
 * Context: Process context (the callback may sleep).
 * Return: the callback's result (0 if the driver has no open); -EINVAL for a NULL or empty
 * @pin (never taken, or put already).
 */
int drvreg_pin_open(struct drvreg_pin *pin);

/**
 * drvreg_pin_release() - call the pinned driver's release callback
 * @pin: a pin taken by drvreg_get(), on which drvreg_pin_open() succeeded.
 *
 * A NULL or empty @pin is ignored.
 *
 * Context: Process context (the callback may sleep).
 */
void drvreg_pin_release(struct drvreg_pin *pin);

/**
 * drvreg_pin_show() - format the pinned driver's status text
 * @pin: a pin taken by drvreg_get().
 * @buf: the buffer.
 * @size: its size in bytes; the text is NUL-terminated.
 *
 * Context: Process context (the callback may sleep).
 * Return: the length written (without the NUL; 0 if @size is 0 or the driver has no
 * show), or the callback's negative errno; -EINVAL for a NULL @buf or a NULL or empty
 * @pin.
 */
int drvreg_pin_show(struct drvreg_pin *pin, char *buf, size_t size);

#endif /* _DRVREG_H */

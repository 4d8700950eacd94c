// SPDX-License-Identifier: GPL-2.0
/*
 * drvreg sample driver in C, the same as drvreg_sample (Rust) against include/drvreg.h.
 *
 * Registers count= drivers (default 1) named <name><index> (default sample_c0); each
 * counts the calls it gets; the first one sleeps delay_us= in open (from 20 ms on, a
 * signal to the opening task ends the sleep early). While the parameter
 * fail_open is Y (root may change it at run time), every open fails with -EIO, for
 * testing how callers report a driver's error.
 *
 * With selfpin=1 the module checks at load that it cannot pin its own driver: the lookup
 * through drvreg_get() gets -EDEADLK, and one that bypasses the macro with a NULL module
 * (__drvreg_get(name, NULL, abi, pin)) gets -EINVAL. If either is not refused, the load
 * fails with -EPROTO.
 *
 * With abi_version= other than DRVREG_ABI_VERSION (the version it is built for, the
 * default) the module stands for a driver built against another drvreg.h: it registers a
 * driver claiming that version, which the core must refuse with -ENOEXEC, and the load
 * fails with the core's answer (-EPROTO if the core accepted it).
 *
 * Writing an index to /sys/module/drvreg_sample_c/parameters/unregister (root only)
 * unregisters that driver at run time: the write returns when drvreg_unregister() does,
 * that is once no pin on the driver is held. A callback that runs after that is a core
 * bug: it is logged and counted in the read-only parameter late_calls.
 *
 * Writing an index to unregister_async (root only) unregisters that driver from a work
 * item instead, and the write returns at once. The module's exit unregisters every live
 * driver without waiting for that work item first, so a driver the work item is still
 * unregistering is unregistered a second time, concurrently: the core must make the
 * second drvreg_unregister() wait for the first (a second call that returned early would
 * let the exit go on while a pin is held).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/capability.h>
#include <linux/delay.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/string.h>
#include <linux/workqueue.h>
#include <linux/sysfs.h>
#include "../include/drvreg.h"

#define MAX_DRIVERS 16
#define MAX_PREFIX (DRVREG_NAME_MAX - 2)

static unsigned int count = 1;
module_param(count, uint, 0444);
MODULE_PARM_DESC(count, "number of drivers to register (1..16)");
static char *name = "sample_c";
module_param(name, charp, 0444);
MODULE_PARM_DESC(name, "driver name prefix; drivers are <name><index>");
static unsigned int delay_us;
module_param(delay_us, uint, 0444);
MODULE_PARM_DESC(delay_us, "microseconds the first driver sleeps in open");
static bool fail_open;

/* Root only, as every drvreg knob: a task without CAP_SYS_ADMIN gets EPERM. */
static int fail_open_set(const char *val, const struct kernel_param *kp)
{
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	return param_set_bool(val, kp);
}

static const struct kernel_param_ops fail_open_ops = {
	.set = fail_open_set,
	.get = param_get_bool,
};
module_param_cb(fail_open, &fail_open_ops, &fail_open, 0644);
MODULE_PARM_DESC(fail_open, "while Y, every open fails with -EIO (root only)");
static bool selfpin;
module_param(selfpin, bool, 0444);
MODULE_PARM_DESC(selfpin, "at load, check that pinning our own driver is refused");

static uint abi_version = DRVREG_ABI_VERSION;
module_param(abi_version, uint, 0444);
MODULE_PARM_DESC(abi_version, "C ABI version claimed at registration (the built one)");

struct sample {
	char name[DRVREG_NAME_MAX + 1];
	unsigned int delay_us;
	atomic64_t opens, releases, shows;
	/* Registered now; changed under sample_lock. */
	bool live;
	/* Unregistered at run time: drvreg_unregister() has returned. */
	bool gone;
};

/* The descriptors live in this module's memory, as in 2002's driver model. */
static struct drvreg_driver drivers[MAX_DRIVERS];
static struct sample samples[MAX_DRIVERS];
/* Serialises registration state between init/exit and the unregister parameter. */
static DEFINE_MUTEX(sample_lock);
/* Callbacks that ran after their driver's drvreg_unregister() returned (must stay 0). */
static atomic_t late_calls = ATOMIC_INIT(0);

/* Every callback first checks that its driver was not unregistered already. */
static void sample_check_late(struct sample *s, const char *what)
{
	if (READ_ONCE(s->gone)) {
		atomic_inc(&late_calls);
		pr_err("%s: %s called after drvreg_unregister() returned\n", s->name, what);
	}
}

static int sample_open(struct drvreg_driver *drv)
{
	struct sample *s = drv->data;

	sample_check_late(s, "open");
	if (READ_ONCE(fail_open))
		return -EIO;
	atomic64_inc(&s->opens);
	/* From 20 ms on, a signal ends the sleep early (how the tests release a pin). */
	if (s->delay_us >= 20000)
		msleep_interruptible(DIV_ROUND_UP(s->delay_us, 1000));
	else if (s->delay_us)
		fsleep(s->delay_us);
	return 0;
}

static void sample_release(struct drvreg_driver *drv)
{
	struct sample *s = drv->data;

	sample_check_late(s, "release");
	atomic64_inc(&s->releases);
}

static int sample_show(struct drvreg_driver *drv, char *buf, size_t size)
{
	struct sample *s = drv->data;
	long long shows;

	sample_check_late(s, "show");
	shows = atomic64_inc_return(&s->shows);

	return scnprintf(buf, size,
			 "lang c\nopens %lld\nreleases %lld\nshows %lld\ndelay_us %u\n",
			 (long long)atomic64_read(&s->opens),
			 (long long)atomic64_read(&s->releases), shows, s->delay_us);
}

static const struct drvreg_ops sample_ops = {
	.open = sample_open,
	.release = sample_release,
	.show = sample_show,
};

/* Unregisters driver @i; the caller holds sample_lock and @i is live. */
static void sample_unregister(unsigned int i)
{
	drvreg_unregister(&drivers[i]);
	samples[i].live = false;
	/* From here on no callback of driver i may run: the core guarantees it. */
	WRITE_ONCE(samples[i].gone, true);
}

static void sample_unregister_all(void)
{
	unsigned int i;

	mutex_lock(&sample_lock);
	for (i = 0; i < MAX_DRIVERS; i++)
		if (samples[i].live)
			sample_unregister(i);
	mutex_unlock(&sample_lock);
}

/*
 * Writing N to the unregister parameter unregisters driver N at run time. Root only:
 * the file's mode is 0200, and a task without CAP_SYS_ADMIN writing through a file
 * descriptor root opened gets EPERM. Malformed input gets EINVAL, also for numbers out
 * of range (kstrtouint's ERANGE), as every drvreg knob answers.
 */
static int unregister_set(const char *val, const struct kernel_param *kp)
{
	struct sample *s;
	long long opens, releases;
	unsigned int i;
	int ret;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	ret = kstrtouint(val, 10, &i);
	if (ret)
		return -EINVAL;
	if (i >= MAX_DRIVERS)
		return -ENOENT;
	s = &samples[i];
	mutex_lock(&sample_lock);
	if (!s->live) {
		mutex_unlock(&sample_lock);
		return -ENOENT;
	}
	sample_unregister(i);
	opens = atomic64_read(&s->opens);
	releases = atomic64_read(&s->releases);
	mutex_unlock(&sample_lock);
	if (opens != releases) {
		atomic_inc(&late_calls);
		pr_err("%s: unregistered with %lld opens but %lld releases\n", s->name, opens,
		       releases);
	}
	pr_info("%s: unregistered at run time (opens %lld, releases %lld)\n", s->name, opens,
		releases);
	return 0;
}

static const struct kernel_param_ops unregister_ops = {
	.set = unregister_set,
};
module_param_cb(unregister, &unregister_ops, NULL, 0200);
MODULE_PARM_DESC(unregister, "write N: unregister driver N now (waits for its pins)");

/* The driver unregister_async unregisters from async_work (the work item reads it). */
static unsigned int async_index;

/*
 * Unregisters driver async_index, as a driver's own work item would: without sample_lock,
 * so an exit that runs meanwhile unregisters it once more; then marks it unregistered.
 */
static void sample_async_unregister(struct work_struct *work)
{
	unsigned int i = READ_ONCE(async_index);

	drvreg_unregister(&drivers[i]);
	mutex_lock(&sample_lock);
	samples[i].live = false;
	WRITE_ONCE(samples[i].gone, true);
	mutex_unlock(&sample_lock);
	pr_info("%s: unregistered from a work item\n", samples[i].name);
}

static DECLARE_WORK(async_work, sample_async_unregister);

/*
 * Writing N to unregister_async queues the work item that unregisters driver N and
 * returns: EBUSY while the work item is pending or running, ENOENT for a driver that is
 * not live, EINVAL for malformed input; root only, as the unregister parameter.
 */
static int unregister_async_set(const char *val, const struct kernel_param *kp)
{
	unsigned int i;
	int ret = 0;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (kstrtouint(val, 10, &i))
		return -EINVAL;
	if (i >= MAX_DRIVERS)
		return -ENOENT;
	mutex_lock(&sample_lock);
	if (!samples[i].live) {
		ret = -ENOENT;
	} else if (work_busy(&async_work)) {
		ret = -EBUSY;
	} else {
		WRITE_ONCE(async_index, i);
		queue_work(system_unbound_wq, &async_work);
	}
	mutex_unlock(&sample_lock);
	return ret;
}

static const struct kernel_param_ops unregister_async_ops = {
	.set = unregister_async_set,
};
module_param_cb(unregister_async, &unregister_async_ops, NULL, 0200);
MODULE_PARM_DESC(unregister_async, "write N: unregister driver N from a work item (returns at once)");

static int late_calls_get(char *buffer, const struct kernel_param *kp)
{
	return sysfs_emit(buffer, "%d\n", atomic_read(&late_calls));
}

static const struct kernel_param_ops late_calls_ops = {
	.get = late_calls_get,
};
module_param_cb(late_calls, &late_calls_ops, NULL, 0444);
MODULE_PARM_DESC(late_calls, "callbacks run after their driver was unregistered (0)");

/*
 * selfpin=1: a module must not pin its own driver, through the macro or around it. Returns
 * 0 if both lookups were refused as documented, -EPROTO otherwise (dropping any pin).
 */
static int sample_check_selfpin(const char *own)
{
	struct drvreg_pin pin = {};
	int via_macro, bypass;

	via_macro = drvreg_get(own, &pin);
	if (!via_macro)
		drvreg_put(&pin);
	bypass = __drvreg_get(own, NULL, DRVREG_ABI_VERSION, &pin);
	if (!bypass)
		drvreg_put(&pin);
	pr_info("selfpin: drvreg_get(%s) = %d, __drvreg_get(%s, NULL) = %d\n", own, via_macro,
		own, bypass);
	return via_macro == -EDEADLK && bypass == -EINVAL ? 0 : -EPROTO;
}

/*
 * abi_version=: register a driver as a module built for that C ABI version would. Returns
 * the core's answer, -EPROTO if it accepted the driver (unregistered again at once).
 */
static int sample_register_other_abi(void)
{
	static struct drvreg_driver other_abi = { .name = "sample_c_abi", .ops = &sample_ops };
	int ret;

	ret = __drvreg_call_here(__drvreg_register(&other_abi, THIS_MODULE, abi_version));
	pr_info("abi: registering with C ABI version %u (built for %u) = %d\n", abi_version,
		DRVREG_ABI_VERSION, ret);
	if (!ret) {
		drvreg_unregister(&other_abi);
		return -EPROTO;
	}
	return ret;
}

static int __init sample_init(void)
{
	unsigned int i;
	int ret;

	if (count == 0 || count > MAX_DRIVERS) {
		pr_err("count=%u is out of range 1..=%d\n", count, MAX_DRIVERS);
		return -EINVAL;
	}
	if (!name || strlen(name) > MAX_PREFIX) {
		pr_err("name is longer than %d characters\n", MAX_PREFIX);
		return -EINVAL;
	}
	if (abi_version != DRVREG_ABI_VERSION)
		return sample_register_other_abi();
	for (i = 0; i < count; i++) {
		struct sample *s = &samples[i];

		snprintf(s->name, sizeof(s->name), "%s%u", name, i);
		s->delay_us = i == 0 ? delay_us : 0;
		drivers[i].name = s->name;
		drivers[i].ops = &sample_ops;
		drivers[i].data = s;
		mutex_lock(&sample_lock);
		ret = drvreg_register(&drivers[i]);
		s->live = !ret;
		mutex_unlock(&sample_lock);
		if (ret) {
			pr_err("registering %s failed: %d\n", s->name, ret);
			sample_unregister_all();
			return ret;
		}
	}
	if (selfpin) {
		ret = sample_check_selfpin(samples[0].name);
		if (ret) {
			sample_unregister_all();
			return ret;
		}
	}
	return 0;
}

static void __exit sample_exit(void)
{
	/*
	 * A work item may be unregistering a driver still marked live: this unregisters it
	 * a second time, which returns only once the first has finished. Then the work item,
	 * whose code is this module's, is waited for.
	 */
	sample_unregister_all();
	flush_work(&async_work);
}

module_init(sample_init);
module_exit(sample_exit);
MODULE_AUTHOR("drvreg developers <drvreg@example.org>");
MODULE_DESCRIPTION("drvreg sample driver (C)");
MODULE_LICENSE("GPL");

// SPDX-License-Identifier: GPL-2.0
/*
 * drvreg sample driver in C, the same as drvreg_sample (Rust) against include/drvreg.h.
 *
 * Registers count= drivers (default 1) named <name><index> (default sample_c0); each
 * counts the calls it gets; the first one sleeps delay_us= in open.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/delay.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/string.h>
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

struct sample {
	char name[DRVREG_NAME_MAX + 1];
	unsigned int delay_us;
	atomic64_t opens, releases, shows;
};

/* The descriptors live in this module's memory, as in 2002's driver model. */
static struct drvreg_driver drivers[MAX_DRIVERS];
static struct sample samples[MAX_DRIVERS];
static unsigned int registered;

static int sample_open(struct drvreg_driver *drv)
{
	struct sample *s = drv->data;

	atomic64_inc(&s->opens);
	if (s->delay_us)
		fsleep(s->delay_us);
	return 0;
}

static void sample_release(struct drvreg_driver *drv)
{
	struct sample *s = drv->data;

	atomic64_inc(&s->releases);
}

static int sample_show(struct drvreg_driver *drv, char *buf, size_t size)
{
	struct sample *s = drv->data;
	long long shows = atomic64_inc_return(&s->shows);

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

static void sample_unregister_all(void)
{
	while (registered)
		drvreg_unregister(&drivers[--registered]);
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
	for (i = 0; i < count; i++) {
		struct sample *s = &samples[i];

		snprintf(s->name, sizeof(s->name), "%s%u", name, i);
		s->delay_us = i == 0 ? delay_us : 0;
		drivers[i].name = s->name;
		drivers[i].ops = &sample_ops;
		drivers[i].data = s;
		ret = drvreg_register(&drivers[i]);
		if (ret) {
			pr_err("registering %s failed: %d\n", s->name, ret);
			sample_unregister_all();
			return ret;
		}
		registered++;
	}
	return 0;
}

static void __exit sample_exit(void)
{
	sample_unregister_all();
}

module_init(sample_init);
module_exit(sample_exit);
MODULE_AUTHOR("drvreg developers");
MODULE_DESCRIPTION("drvreg sample driver (C)");
MODULE_LICENSE("GPL");

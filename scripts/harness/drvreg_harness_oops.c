// SPDX-License-Identifier: GPL-2.0
/*
 * drvreg harness self-test: a module that makes the guest kernel splat on purpose, so
 * that scripts/harness/selftest.sh can check that scripts/vm.sh notices.
 *
 *   modprobe drvreg_harness_oops            NULL pointer dereference in init (oops)
 *   modprobe drvreg_harness_oops mode=warn  WARN() in init, module loads fine
 *   modprobe drvreg_harness_oops mode=none  loads quietly
 *
 * Never part of a normal guest image.
 */
#include <linux/bug.h>
#include <linux/compiler.h>
#include <linux/module.h>
#include <linux/string.h>

static char *mode = "oops";
module_param(mode, charp, 0444);
MODULE_PARM_DESC(mode, "oops (NULL dereference, default), warn (WARN) or none");

static int __init drvreg_harness_oops_init(void)
{
	int *p = NULL;

	if (!strcmp(mode, "none"))
		return 0;
	if (!strcmp(mode, "warn")) {
		WARN(1, "drvreg_harness_oops: deliberate WARN for the harness self-test\n");
		return 0;
	}
	pr_info("drvreg_harness_oops: dereferencing NULL on purpose\n");
	/* The compiler must not see that the pointer is NULL (lkdtm's idiom). */
	OPTIMIZER_HIDE_VAR(p);
	return *p;
}

static void __exit drvreg_harness_oops_exit(void)
{
}

module_init(drvreg_harness_oops_init);
module_exit(drvreg_harness_oops_exit);

MODULE_DESCRIPTION("drvreg harness self-test: deliberate oops or WARN");
MODULE_AUTHOR("drvreg developers <drvreg@example.org>");
MODULE_LICENSE("GPL");

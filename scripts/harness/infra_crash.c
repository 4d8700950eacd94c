// SPDX-License-Identifier: GPL-2.0
/*
 * drvreg harness self-test: a kernel fault that is not drvreg's. Named without "drvreg"
 * on purpose: its trace has no drvreg frame, as a fault of the emulator or of the kernel
 * outside drvreg (the int3 in live-patched text that QEMU 7.2's multi-threaded TCG
 * caused) would not. scripts/vm.sh must report it as an infrastructure failure and boot
 * once more, never read it as a verdict (VM_INFRA_CRASH=1 loads it in the first boot).
 *
 *   modprobe infra_crash      NULL pointer dereference in init (oops)
 */
#include <linux/compiler.h>
#include <linux/module.h>

static int __init infra_crash_init(void)
{
	int *p = NULL;

	pr_info("infra_crash: a fault outside drvreg, on purpose\n");
	/* The compiler must not see that the pointer is NULL (lkdtm's idiom). */
	OPTIMIZER_HIDE_VAR(p);
	return *p;
}
module_init(infra_crash_init);

MODULE_DESCRIPTION("drvreg harness self-test: a deliberate fault outside drvreg");
MODULE_AUTHOR("drvreg developers <drvreg@example.org>");
MODULE_LICENSE("GPL");

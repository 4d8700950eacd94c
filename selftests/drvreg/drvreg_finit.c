// SPDX-License-Identifier: GPL-2.0
/*
 * drvreg_finit MODULE.ko [PARAMS]: load a module with one finit_module() call and print
 * the errno name on failure. busybox's insmod and modprobe retry a failed finit_module()
 * with init_module(), which runs a failing init a second time; the failslab test needs
 * exactly one attempt.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int fd;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s MODULE.ko [PARAMS]\n", argv[0]);
		return 2;
	}
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "%s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	if (syscall(SYS_finit_module, fd, argc == 3 ? argv[2] : "", 0) != 0) {
		fprintf(stderr, "finit_module %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	return 0;
}

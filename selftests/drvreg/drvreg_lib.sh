#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Shared helpers of the drvreg kselftests (sourced, busybox sh compatible).
# Each test is a shell function returning 0 (pass), 1 (fail) or $KSFT_SKIP; it
# explains a failure with ktap_print_msg ("# ..." lines).

DRVREG_TEST_DIR=$(dirname "$(readlink -f "$0")")
# ktap_helpers.sh sits in ../kselftest/ both in the kernel tree and in an installed
# kselftest tree.
. "$DRVREG_TEST_DIR/../kselftest/ktap_helpers.sh"

D=/sys/kernel/drvreg
KTAP_TESTNO=1

# Skip everything (exit 4) unless we are root and the modules are installed.
drvreg_require_modules() {
	if [ "$(id -u)" != 0 ]; then
		ktap_skip_all "must be run as root"
		exit "$KSFT_SKIP"
	fi
	for m in drvreg drvreg_sample drvreg_sample_c drvreg_failing drvreg_client drvreg_many; do
		if ! modinfo "$m" >/dev/null 2>&1; then
			ktap_skip_all "module $m is not installed"
			exit "$KSFT_SKIP"
		fi
	done
}

msg() { ktap_print_msg "$@"; }

# Fails the current test with a message.
fail() {
	msg "$@"
	return 1
}

# The errno name of a failed write, from the shell's error message.
errno_of() {
	case "$1" in
	*"Invalid argument"*) echo EINVAL ;;
	*"No such file or directory"*) echo ENOENT ;;
	*"No such device"*) echo ENODEV ;;
	*"Operation not permitted"*) echo EPERM ;;
	*"Permission denied"*) echo EACCES ;;
	*"Device or resource busy"*) echo EBUSY ;;
	*"File exists"*) echo EEXIST ;;
	*"Resource temporarily unavailable"*) echo EAGAIN ;;
	*"Resource deadlock"*) echo EDEADLK ;;
	*) echo "unknown($1)" ;;
	esac
}

# attr_write FILE VALUE: writes VALUE and a newline, prints OK or the errno name.
# (echo, not printf: busybox's printf builtin does not report write errors.)
attr_write() {
	if out=$( { echo "$2" >"$1"; } 2>&1); then
		echo OK
	else
		errno_of "$out"
	fi
}

# attr_write_raw FILE VALUE: as attr_write, without the newline, with echo -e escapes.
attr_write_raw() {
	if out=$( { echo -ne "$2" >"$1"; } 2>&1); then
		echo OK
	else
		errno_of "$out"
	fi
}

# expect_write FILE VALUE ERRNO: the write must end with ERRNO (or OK).
expect_write() {
	got=$(attr_write "$1" "$2")
	[ "$got" = "$3" ] || fail "writing '$2' to $1: got $got, expected $3"
}

# dstat NAME: a counter from /sys/kernel/drvreg/stats.
dstat() { sed -n "s/^$1 //p" "$D/stats"; }

# The stats identity: every lookup ends as exactly one of hit, miss, refused, self-pin.
stats_add_up() {
	l=$(dstat lookups) h=$(dstat hits) m=$(dstat misses) r=$(dstat refused) s=$(dstat self_pins)
	[ "$l" -eq $((h + m + r + s)) ] ||
		fail "stats do not add up: lookups=$l hits=$h misses=$m refused=$r self_pins=$s"
}

# A value of a driver's status text: status_value DRIVER KEY.
status_value() { sed -n "s/^$2 //p" "$D/drivers/$1/status"; }

# Runs a command as an unprivileged user, if the system has one.
have_nobody() { id nobody >/dev/null 2>&1; }
as_nobody() { su -s /bin/sh nobody -c "$1"; }

# Unloads every drvreg module (stopping stress workers first), ignoring errors.
drvreg_cleanup() {
	[ -w "$D/stress/running" ] && echo 0 >"$D/stress/running" 2>/dev/null
	for m in drvreg_client drvreg_sample drvreg_sample_c drvreg_failing drvreg_many drvreg; do
		if [ -d "/sys/module/$m" ]; then
			i=0
			while ! rmmod "$m" 2>/dev/null && [ $i -lt 50 ]; do
				i=$((i + 1))
				sleep 0.1
			done
		fi
	done
}

# wait_for CONDITION-COMMAND [TENTHS]: polls until the command succeeds (default 10 s).
wait_for() {
	i=0
	while ! eval "$1"; do
		i=$((i + 1))
		[ $i -ge "${2:-100}" ] && return 1
		sleep 0.1
	done
}

# run_test DESCRIPTION FUNCTION [ARGS]: one KTAP result line.
run_test() {
	desc=$1
	shift
	"$@"
	rc=$?
	if [ $rc -eq 0 ]; then
		ktap_test_pass "$desc"
	elif [ $rc -eq "$KSFT_SKIP" ]; then
		ktap_test_skip "$desc"
	else
		ktap_test_fail "$desc"
	fi
}

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# rmmod while a misc device is open: the owner-field race of 2002 in the kernel's own
# Rust abstractions (Linux 7.x's kernel::miscdevice; 6.12 has none: skipped there).
#
# drvreg_misc registers /dev/drvreg-misc with the kernel's MiscDeviceRegistration
# (owner=0), whose file_operations.owner is NULL on 7.2 (Rust-for-Linux #1182) and this
# module from 7.3, or with drvreg's OwnedMiscRegistration (owner=1), whose owner is this
# module on every 7.x. drvreg_misc_selfpin pins itself in open (the workaround). An open
# file must keep its module: /sys/module/<m>/refcnt 1, rmmod refused "in use" by every
# module tool at hand (busybox's and kmod's in drvreg's guests, the host's otherwise), and
# rmmod succeeds after the close. A kernel where the upstream registration does not pin
# is only checked for that (refcnt 0): rmmod there would free the module under the open
# file, which 'make demo' shows in a guest of its own. Prints KTAP; exits 0, 1 or 4.

. "$(dirname "$(readlink -f "$0")")/drvreg_lib.sh"

if [ "$(id -u)" != 0 ]; then
	ktap_skip_all "must be run as root"
	exit "$KSFT_SKIP"
fi
for m in drvreg_misc drvreg_misc_selfpin; do
	if ! drvreg_installed "$m"; then
		ktap_skip_all "module $m is not installed (the misc samples need the kernel's Rust miscdevice: Linux 7.x)"
		exit "$KSFT_SKIP"
	fi
done

# Whether this kernel's MiscDeviceRegistration sets fops.owner: 7.3 and later.
kver=$(uname -r)
major=${kver%%.*}
minor=${kver#*.}
minor=${minor%%[!0-9]*}
upstream_pins=0
[ $((major * 100 + minor)) -lt 703 ] || upstream_pins=1

# The rmmod commands to try: the default one, and kmod's too where the guest has it.
rmmods="rmmod"
[ ! -x "$DRVREG_KMOD_BIN/rmmod" ] || [ "$DRVREG_TOOLS" = kmod ] || rmmods="rmmod $DRVREG_KMOD_BIN/rmmod"

refcnt() { cat "/sys/module/$1/refcnt"; }

# open_held MODULE DEVICE [REFS]: with DEVICE open on fd 3, the module has REFS (default 1)
# references more,
# every rmmod at hand is refused "in use" and the module stays; a read through the open
# file works. Closes fd 3 at the end.
open_held() {
	r0=$(refcnt "$1")
	exec 3<"/dev/$2" || fail "cannot open /dev/$2" || return
	r1=$(refcnt "$1")
	[ "$r1" = $((r0 + ${3:-1})) ] ||
		{ exec 3<&-; fail "refcnt $r0 -> $r1 with /dev/$2 open, expected $((r0 + ${3:-1}))"; return; }
	for r in $rmmods; do
		if out=$($r "$1" 2>&1); then
			# The module is gone under an open file: closing it (at the latest when this
			# program exits) runs freed code, and the guest harness reports the oops.
			fail "$r $1 succeeded with /dev/$2 open"
			return
		fi
		e=$(errno_of "$out")
		[ "$e" = EAGAIN ] || [ "$e" = EBUSY ] || { exec 3<&-; fail "$r $1: '$out', expected EAGAIN/EBUSY (in use)"; return; }
		msg "$r $1 with /dev/$2 open: $out"
	done
	line=$(head -n 1 <&3)
	exec 3<&-
	case "$line" in drvreg*) ;; *) fail "read '$line' from /dev/$2" || return ;; esac
	[ "$(refcnt "$1")" = "$r0" ] || fail "refcnt $(refcnt "$1") after the close, expected $r0"
}

# unload MODULE: rmmod succeeds now that nothing is open.
unload() {
	out=$(rmmod "$1" 2>&1) || fail "rmmod $1 after the close: $out" || return
	[ ! -d "/sys/module/$1" ] || fail "$1 still loaded"
}

test_upstream() {
	modprobe drvreg_misc || fail "modprobe drvreg_misc" || return
	if [ "$upstream_pins" = 0 ]; then
		r0=$(refcnt drvreg_misc)
		exec 3</dev/drvreg-misc || fail "cannot open /dev/drvreg-misc" || return
		r1=$(refcnt drvreg_misc)
		exec 3<&-
		[ "$r1" = "$r0" ] || fail "refcnt $r0 -> $r1: $kver's miscdevice pins its module after all" || return
		msg "$kver: an open /dev/drvreg-misc holds no reference on drvreg_misc (fops.owner NULL, #1182)"
	else
		open_held drvreg_misc drvreg-misc || return
	fi
	unload drvreg_misc
}

test_owner() {
	modprobe drvreg_misc owner=1 || fail "modprobe drvreg_misc owner=1" || return
	open_held drvreg_misc drvreg-misc || return
	unload drvreg_misc
}

test_selfpin() {
	modprobe drvreg_misc_selfpin || fail "modprobe drvreg_misc_selfpin" || return
	# Its own reference, and from 7.3 the kernel's (fops.owner) too.
	open_held drvreg_misc_selfpin drvreg-misc-selfpin $((1 + upstream_pins)) || return
	unload drvreg_misc_selfpin
}

ktap_print_header
ktap_set_plan 3
if [ "$upstream_pins" = 1 ]; then
	what="from 7.3: rmmod refused while open, unloads after the close"
else
	what="$major.$minor: an open file does not pin the module (#1182)"
fi
run_test "upstream MiscDeviceRegistration: $what" test_upstream
run_test "drvreg's OwnedMiscRegistration: rmmod refused while open, unloads after the close" test_owner
run_test "self-pin in open: rmmod refused while open, unloads after the close" test_selfpin
rmmod drvreg_misc drvreg_misc_selfpin 2>/dev/null
ktap_finished

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Which module tools the drvreg kselftests run (sourced by drvreg_lib.sh and
# unload_storm.sh, busybox sh compatible).
#
# By default: whatever insmod/rmmod/modprobe/modinfo/lsmod the shell finds (busybox's in
# the drvreg guest, kmod's on a real host). With DRVREG_TOOLS=kmod: kmod's, from
# DRVREG_KMOD_BIN (default /opt/kmod/bin, where the guest image carries them). They are
# shell functions, not a PATH entry, because busybox's sh runs its own applets before
# searching PATH. The two sets differ in what they print: kmod's rmmod checks the
# reference count itself and prints "Module X is in use" instead of calling
# delete_module(); kmod's insmod prints "Invalid parameters" for EINVAL and "Unknown symbol
# in module" for ENOENT. drvreg_lib.sh's errno_of reads both.
DRVREG_TOOLS=${DRVREG_TOOLS:-}
DRVREG_KMOD_BIN=${DRVREG_KMOD_BIN:-/opt/kmod/bin}
if [ "$DRVREG_TOOLS" = kmod ]; then
	insmod() { "$DRVREG_KMOD_BIN/insmod" "$@"; }
	rmmod() { "$DRVREG_KMOD_BIN/rmmod" "$@"; }
	modprobe() { "$DRVREG_KMOD_BIN/modprobe" "$@"; }
	modinfo() { "$DRVREG_KMOD_BIN/modinfo" "$@"; }
	lsmod() { "$DRVREG_KMOD_BIN/lsmod" "$@"; }
fi
# The modprobe a test starts in the background and then signals: a command, not the
# function above (a function in the background runs in a subshell, which the signal
# would reach instead of the tool).
MODPROBE=modprobe
[ "$DRVREG_TOOLS" != kmod ] || MODPROBE=$DRVREG_KMOD_BIN/modprobe

# drvreg_tools_check: prints why the tools are not the ones DRVREG_TOOLS names (nothing if
# they are, or if DRVREG_TOOLS is empty).
drvreg_tools_check() {
	v=$(modprobe --version 2>&1 | head -n 1)
	case "$DRVREG_TOOLS" in
	'') ;;
	kmod) case "$v" in kmod*) ;; *) echo "DRVREG_TOOLS=kmod but modprobe says '$v'" ;; esac ;;
	busybox) case "$v" in kmod*) echo "DRVREG_TOOLS=busybox but modprobe is kmod's" ;; esac ;;
	*) echo "DRVREG_TOOLS='$DRVREG_TOOLS': expected kmod or busybox" ;;
	esac
}

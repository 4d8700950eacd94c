#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A Debian sid chroot, cached outside the work tree: the exact compilers Debian built its
# newest kernel with (sid's rustc, bindgen, gcc), that kernel's headers, image and source.
# The 'latest' lane takes its kernel source from here, the 'distro' lane builds in it.
#
#   scripts/sid.sh root            make sure the chroot exists and print its path
#   scripts/sid.sh krel            the kernel release it was set up for (7.2.13+deb14-amd64)
#   scripts/sid.sh run [-b DIR]... CMD [ARGS...]
#                                  run CMD in the chroot as root, with each DIR (and the
#                                  drvreg cache) bind-mounted at the same path as on the host
#
# The chroot is made once with debootstrap (--variant=minbase) from the Debian mirror,
# then the packages below are installed for the newest linux-image-*-amd64 of sid. It is
# rebuilt only when missing or incomplete, or with DRVREG_SID_REFRESH=1 (sid moves: a
# refresh picks up its newer kernel). Mounts live in a private mount namespace: nothing
# stays mounted on the host. Progress goes to stderr.
#
# Environment: DRVREG_CACHE (default ~/.cache/drvreg), DEBIAN_MIRROR
# (default http://deb.debian.org/debian).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

CACHE=${DRVREG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/drvreg}
SID=$CACHE/sid
ROOT=$SID/root
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
LOGS=$CACHE/logs
# What the distro lane builds with: Debian's compilers for its kernel, and kbuild's tools.
PKGS="rustc rust-src bindgen libclang-dev make flex bison bc libelf-dev libssl-dev python3
kmod cpio xz-utils dwarves openssl ca-certificates"

# run_in [-b DIR]... CMD...: CMD in the chroot, in a private mount namespace.
run_in() {
	local binds=()
	while [ "${1:-}" = -b ]; do
		binds+=("$(realpath -m "$2")")
		shift 2
	done
	binds+=("$CACHE")
	# shellcheck disable=SC2016
	unshare -m --propagation private bash -c '
		set -e
		root=$1 nb=$2
		shift 2
		mount -t proc proc "$root/proc"
		mount --rbind /dev "$root/dev"
		mount -t sysfs sysfs "$root/sys"
		[ ! -f /etc/resolv.conf ] || cp -L /etc/resolv.conf "$root/etc/resolv.conf"
		for ((i = 0; i < nb; i++)); do
			mkdir -p "$root$1"
			mount --bind "$1" "$root$1"
			shift
		done
		exec chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 \
			PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"
	' - "$ROOT" "${#binds[@]}" "${binds[@]}" "$@"
}

# The newest amd64 kernel release in the chroot's package lists.
newest_krel() {
	run_in apt-cache depends linux-headers-amd64 2>/dev/null |
		sed -n 's/^ *Depends: linux-headers-\([0-9].*-amd64\)$/\1/p' | head -n 1
}

make_chroot() {
	command -v debootstrap >/dev/null || die "debootstrap is missing (run 'make setup')"
	rm -rf "$SID"
	mkdir -p "$SID" "$LOGS"
	trap 'say "setting up the sid chroot failed or was interrupted; removing $SID"; rm -rf "$SID"' EXIT
	drvreg_step "sid chroot: debootstrap --variant=minbase sid from $MIRROR (~1-2 min)" \
		"$LOGS/sid-debootstrap.log" \
		debootstrap --variant=minbase --include=apt-utils sid "$ROOT" "$MIRROR" ||
		die "debootstrap of sid failed (log: $LOGS/sid-debootstrap.log)"
	echo "deb $MIRROR sid main" >"$ROOT/etc/apt/sources.list"
	# A mirror may serve a sid whose Release file is past its Valid-Until date.
	echo 'Acquire::Check-Valid-Until "false";' >"$ROOT/etc/apt/apt.conf.d/99drvreg"
	# A cache rebuilt on any failure needs no crash-safe writes: unpacking without fsync
	# takes a fraction of the time.
	echo force-unsafe-io >"$ROOT/etc/dpkg/dpkg.cfg.d/drvreg-unsafe-io"
	drvreg_step "sid chroot: apt-get update" "$LOGS/sid-apt.log" run_in apt-get update ||
		die "apt-get update in the sid chroot failed"
	local krel
	krel=$(newest_krel)
	[ -n "$krel" ] || die "no linux-headers-*-amd64 in sid's package lists"
	local series=${krel%%-*}
	series=${series%.*}
	series=${series%%+*}
	# shellcheck disable=SC2086
	drvreg_step "sid chroot: installing sid's compilers and the $krel headers and source (~1 min)" \
		"$LOGS/sid-install.log" run_in apt-get install -y --no-install-recommends \
		$PKGS "linux-headers-$krel" "linux-source-$series" ||
		die "installing packages in the sid chroot failed"
	# The C compiler the kernel was built with, by the name its .config gives.
	local cc
	cc=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="\([^ ]*\) .*/\1/p' \
		"$ROOT/usr/src/linux-headers-$krel/.config")
	cc=${cc#x86_64-linux-gnu-}
	[ -n "$cc" ] || die "no CONFIG_CC_VERSION_TEXT in the $krel headers' .config"
	if [ ! -x "$ROOT/usr/bin/x86_64-linux-gnu-$cc" ]; then
		drvreg_step "sid chroot: installing $cc, the kernel's C compiler" "$LOGS/sid-cc.log" \
			run_in apt-get install -y --no-install-recommends "$cc" ||
			die "installing $cc in the sid chroot failed"
	fi
	# Debian's kernel image, for the guest; not installed (no boot loader, no initramfs).
	drvreg_step "sid chroot: downloading Debian's $krel kernel image" "$LOGS/sid-image.log" \
		run_in sh -c "mkdir -p /var/cache/drvreg && cd /var/cache/drvreg && \
			apt-get download linux-binary-$krel || apt-get download linux-image-$krel" ||
		die "could not download Debian's $krel kernel image"
	echo "$krel" >"$SID/krel"
	echo "linux-source-$series" >"$SID/source-package"
	touch "$SID/.drvreg-complete"
	trap - EXIT
}

ensure() {
	mkdir -p "$CACHE"
	exec 7>"$CACHE/sid.lock"
	if ! flock -n 7; then
		say "waiting for another setup of the sid chroot"
		flock 7
	fi
	if [ -n "${DRVREG_SID_REFRESH:-}" ] || [ ! -f "$SID/.drvreg-complete" ]; then
		make_chroot
	fi
	exec 7>&-
}

case "${1:-}" in
root)
	ensure
	echo "$ROOT"
	;;
krel)
	ensure
	cat "$SID/krel"
	;;
run)
	shift
	ensure
	run_in "$@"
	;;
*) die "usage: scripts/sid.sh root|krel|run [-b DIR]... CMD..." ;;
esac

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A Debian chroot per suite, cached outside the work tree: the exact compilers Debian built
# that suite's Rust-enabled kernel with (its rustc, bindgen, gcc), and that kernel's
# headers, image and source. The lanes whose kernel column is deb:<suite> build in it
# (scripts/distro.sh); the src:sid lane takes its kernel source from the sid one.
#
#   scripts/debian.sh SUITE root     make sure the chroot exists and print its path
#   scripts/debian.sh SUITE krel     the kernel release it was set up for
#   scripts/debian.sh SUITE run [-b DIR]... CMD [ARGS...]
#                                    run CMD in the chroot as root, with each DIR (and the
#                                    drvreg cache) bind-mounted at the same path as on the host
#
# SUITE: sid, or <release>-backports (e.g. trixie-backports: a trixie chroot whose kernel
# packages come from trixie-backports, and everything else, the compilers included, from
# trixie itself, as a Debian 13 user gets them). The chroot is made once with debootstrap
# (--variant=minbase) from the Debian mirror, then the packages below are installed for
# the newest linux-image-*-amd64 of the suite. It is rebuilt only when missing or
# incomplete, or with DRVREG_SID_REFRESH=1 (suites move: a refresh picks up a newer
# kernel). Mounts live in a private mount namespace: nothing stays mounted on the host.
# Progress goes to stderr.
#
# Environment: DRVREG_CACHE (default ~/.cache/drvreg), DEBIAN_MIRROR
# (default http://deb.debian.org/debian).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

CACHE=${DRVREG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/drvreg}
SUITE=${1:-}
shift || true
case "$SUITE" in
sid) BASE=sid ;;
*-backports) BASE=${SUITE%-backports} ;;
*) die "usage: scripts/debian.sh sid|<release>-backports root|krel|run [-b DIR]... CMD..." ;;
esac
SID=$CACHE/debian/$SUITE
ROOT=$SID/root
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
LOGS=$CACHE/logs
# What a deb: lane builds with (from the base suite): Debian's compilers for its kernel, and kbuild's tools.
PKGS="rustc rust-src rust-clippy bindgen libclang-dev make flex bison bc libelf-dev libssl-dev python3
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
	run_in apt-cache -o APT::Default-Release="$SUITE" depends linux-headers-amd64 2>/dev/null |
		sed -n 's/^ *Depends: linux-headers-\([0-9].*-amd64\)$/\1/p' | head -n 1
}

make_chroot() {
	command -v debootstrap >/dev/null || die "debootstrap is missing (run 'make setup')"
	rm -rf "$SID"
	mkdir -p "$SID" "$LOGS"
	trap 'say "setting up the $SUITE chroot failed or was interrupted; removing $SID"; rm -rf "$SID"' EXIT
	drvreg_step "$SUITE chroot: debootstrap --variant=minbase $BASE from $MIRROR (~1-2 min)" \
		"$LOGS/$SUITE-debootstrap.log" \
		debootstrap --variant=minbase --include=apt-utils "$BASE" "$ROOT" "$MIRROR" ||
		die "debootstrap of $BASE failed (log: $LOGS/$SUITE-debootstrap.log)"
	echo "deb $MIRROR $BASE main" >"$ROOT/etc/apt/sources.list"
	[ "$SUITE" = "$BASE" ] || echo "deb $MIRROR $SUITE main" >>"$ROOT/etc/apt/sources.list"
	# A mirror may serve a sid whose Release file is past its Valid-Until date.
	echo 'Acquire::Check-Valid-Until "false";' >"$ROOT/etc/apt/apt.conf.d/99drvreg"
	# A cache rebuilt on any failure needs no crash-safe writes: unpacking without fsync
	# takes a fraction of the time.
	echo force-unsafe-io >"$ROOT/etc/dpkg/dpkg.cfg.d/drvreg-unsafe-io"
	drvreg_step "$SUITE chroot: apt-get update" "$LOGS/$SUITE-apt.log" run_in apt-get update ||
		die "apt-get update in the $SUITE chroot failed"
	local krel
	krel=$(newest_krel)
	[ -n "$krel" ] || die "no linux-headers-*-amd64 in $SUITE's package lists"
	local series=${krel%%-*}
	series=${series%.*}
	series=${series%%+*}
	# The kernel's packages from SUITE first (the headers bring the kernel's gcc), so that
	# its source unpacks (for scripts/distro.sh: $SID/source/) while the compilers from
	# the base suite install (trixie's rustc is the one its backported kernel was built
	# with; trixie-backports has a newer one).
	# Each named package from SUITE, its dependencies from the base suite where they can
	# be: '-t SUITE' would take every dependency from SUITE, and a library taken from
	# trixie-backports (libelf1t64 0.196 there) leaves trixie's -dev package of it
	# (libelf-dev 0.192, wanted by the compilers below) uninstallable.
	drvreg_step "$SUITE chroot: installing the $krel headers and source from $SUITE" \
		"$LOGS/$SUITE-install-kernel.log" run_in apt-get install -y --no-install-recommends \
		"linux-headers-$krel/$SUITE" "linux-source-$series/$SUITE" ||
		die "installing the kernel's packages in the $SUITE chroot failed"
	mkdir -p "$SID/source.tmp"
	tar -xf "$ROOT/usr/src/linux-source-$series.tar.xz" -C "$SID/source.tmp" \
		>"$LOGS/$SUITE-extract.log" 2>&1 &
	local xpid=$!
	# shellcheck disable=SC2086
	drvreg_step "$SUITE chroot: installing $BASE's compilers (~1 min; the kernel source unpacks meanwhile)" \
		"$LOGS/$SUITE-install.log" run_in apt-get install -y --no-install-recommends $PKGS || {
		# (the unpacking stops before the chroot is removed)
		kill "$xpid" 2>/dev/null
		wait "$xpid"
		die "installing packages in the $SUITE chroot failed"
	}
	wait "$xpid" || die "could not unpack linux-source-$series.tar.xz (log: $LOGS/$SUITE-extract.log)"
	mv "$SID/source.tmp" "$SID/source"
	# The C compiler the kernel was built with, by the name its .config gives.
	local cc
	cc=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="\([^ ]*\) .*/\1/p' \
		"$ROOT/usr/src/linux-headers-$krel/.config")
	cc=${cc#x86_64-linux-gnu-}
	[ -n "$cc" ] || die "no CONFIG_CC_VERSION_TEXT in the $krel headers' .config"
	if [ ! -x "$ROOT/usr/bin/x86_64-linux-gnu-$cc" ]; then
		drvreg_step "$SUITE chroot: installing $cc, the kernel's C compiler" "$LOGS/$SUITE-cc.log" \
			run_in apt-get install -y --no-install-recommends "$cc" ||
			die "installing $cc in the $SUITE chroot failed"
	fi
	# Debian's kernel image, for the guest; not installed (no boot loader, no initramfs).
	drvreg_step "$SUITE chroot: downloading Debian's $krel kernel image" "$LOGS/$SUITE-image.log" \
		run_in sh -c "mkdir -p /var/cache/drvreg && cd /var/cache/drvreg && \
			{ apt-get download linux-binary-$krel/$SUITE || apt-get download linux-image-$krel/$SUITE; }" ||
		die "could not download Debian's $krel kernel image"
	echo "$krel" >"$SID/krel"
	echo "linux-source-$series" >"$SID/source-package"
	touch "$SID/.drvreg-complete"
	trap - EXIT
}

ensure() {
	mkdir -p "$CACHE"
	exec 7>"$CACHE/debian-$SUITE.lock"
	if ! flock -n 7; then
		say "waiting for another setup of the $SUITE chroot"
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
*) die "usage: scripts/debian.sh sid|<release>-backports root|krel|run [-b DIR]... CMD..." ;;
esac

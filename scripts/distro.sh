#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A lane of Debian's own prebuilt kernel (kernel column deb:<suite> in scripts/lanes.conf:
# that suite's linux-image-*-amd64, Rust enabled) and a module build tree for it made from
# Debian's own headers.
#
#   scripts/distro.sh SUITE          make sure the tree exists; print its path (stdout)
#   scripts/distro.sh SUITE check    exit 0 if the lane is usable, else say why in one line
#
# Debian's linux-headers package has the kernel's .config and Module.symvers but none of
# the Rust build metadata (rust/*.rmeta, libmacros.so, scripts/target.json). This script
# regenerates it from the kernel's own source (linux-source-<series>) with the exact
# compilers Debian used (the suite's rustc and gcc, in its chroot of scripts/debian.sh):
# olddefconfig on the headers' .config, then modules_prepare, then the headers'
# Module.symvers. That only works while the chroot's rustc is the one the kernel was built
# with (crate hashes are part of Rust symbol names): 'check' compares that rustc with the
# kernel's CONFIG_RUSTC_VERSION_TEXT. Debian's vmlinuz is copied to arch/x86/boot/bzImage
# for the guest. Modules built here load into Debian's kernel unsigned (it taints, O|E).
#
# The tree is cached under $DRVREG_CACHE/distro/<release>; the marker files
# .drvreg-chroot (the suite) and .drvreg-kmake tell lib.sh to build modules in the chroot
# with Debian's compiler (drvreg_kmake).
#
# DRVREG_PRETEND_RUSTC='rustc X' makes 'check' compare against that instead of sid's
# rustc (to see the fallback of 'make demo').
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

CACHE=${DRVREG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/drvreg}
JOBS=${JOBS:-$(($(nproc) + 1))}
LOGS=$CACHE/logs

suite=${1:-}
shift || true
[ -n "$suite" ] || die "usage: scripts/distro.sh SUITE [check]"
deb() { "$here/debian.sh" "$suite" "$@"; }
root=$(deb root)
krel=$(deb krel)
headers=$root/usr/src/linux-headers-$krel

# usable: prints nothing and returns 0, or prints the one-line reason and returns 1.
usable() {
	local want have
	[ -f "$headers/.config" ] || { echo "no $krel headers in the $suite chroot"; return 1; }
	grep -qx 'CONFIG_RUST=y' "$headers/.config" ||
		{ echo "Debian's $krel kernel has no CONFIG_RUST=y"; return 1; }
	want=$(sed -n 's/^CONFIG_RUSTC_VERSION_TEXT="\(.*\)"$/\1/p' "$headers/.config")
	have=${DRVREG_PRETEND_RUSTC:-$(deb run rustc --version)}
	if [ "$want" != "$have" ]; then
		echo "Debian's $krel was built with $want but $suite's rustc is $have: its crate" \
			"hashes would not match the kernel's (DRVREG_SID_REFRESH=1 picks up a newer $suite)"
		return 1
	fi
}

if [ "${1:-}" = check ]; then
	why=$(usable) || { echo "the deb:$suite lane is unusable: $why"; exit 1; }
	exit 0
fi
why=$(usable) || die "the deb:$suite lane is unusable: $why"

series=$(cat "$CACHE/debian/$suite/source-package")
srcver=$(deb run dpkg-query -W -f='${Version}' "$series")
src=$CACHE/distro/src/$series-$srcver
out=$CACHE/distro/$krel-$(sha256sum "$headers/.config" | cut -c1-12)

drvreg_cached "$out" "the distro tree for Debian's $krel"

# The chroot's setup unpacked its installed source (srcver) already (scripts/debian.sh:
# $SID/source/<series>): take that tree.
unpacked=$CACHE/debian/$suite/source/$series
if [ ! -f "$src/Makefile" ] && [ -f "$unpacked/Makefile" ]; then
	mkdir -p "$(dirname "$src")"
	rm -rf "$src"
	mv "$unpacked" "$src"
fi
if [ ! -f "$src/Makefile" ]; then
	tmp=$(mktemp -d "$CACHE/distro/.extract.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	drvreg_step "distro: extracting $series $srcver (once per source version)" \
		"$LOGS/distro-extract-$suite.log" tar -xf "$root/usr/src/$series.tar.xz" -C "$tmp" ||
		die "could not extract $root/usr/src/$series.tar.xz"
	mkdir -p "$(dirname "$src")"
	rm -rf "$src"
	mv "$tmp/$series" "$src"
	rm -rf "$tmp"
	trap - EXIT
fi

rm -rf "$out"
trap 'say "preparing the distro tree failed or was interrupted; removing $out"; rm -rf "$out"' EXIT
# The same script a user of that suite runs on the host (README.md), here in the chroot.
DRVREG_STEP_FIGURE=drvreg_kbuild_figure \
	drvreg_step "distro: regenerating the Rust metadata with $suite's rustc (scripts/rust-metadata.sh: olddefconfig, modules_prepare, ~2-5 min)" \
	"$LOGS/distro-prepare-$suite.log" deb run -b "$DRVREG_ROOT" env SRC="$src" \
	"$DRVREG_ROOT/scripts/rust-metadata.sh" "$krel" "$out" || die "scripts/rust-metadata.sh failed in the $suite chroot"

# Debian's kernel image.
deb=$(find "$root/var/cache/drvreg" -name "linux-*-${krel}_*.deb" | head -n 1)
[ -n "$deb" ] || die "Debian's $krel image package was not downloaded"
tmp=$(mktemp -d)
dpkg-deb -x "$deb" "$tmp"
mkdir -p "$out/arch/x86/boot"
vmlinuz=$(find "$tmp/boot/vmlinuz-$krel" "$tmp/usr/lib/modules/$krel/vmlinuz" 2>/dev/null | head -n 1 || true)
[ -n "$vmlinuz" ] || die "no vmlinuz in $deb (looked in /boot and /usr/lib/modules/$krel)"
cp "$vmlinuz" "$out/arch/x86/boot/bzImage"
rm -rf "$tmp"

echo "$suite" >"$out/.drvreg-chroot"
touch "$out/.drvreg-complete"
trap - EXIT
say "distro tree ready: $out (Debian's $krel, $(basename "$deb"))"
echo "$out"

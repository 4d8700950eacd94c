#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A module build tree for a Debian kernel with CONFIG_RUST=y, on the machine that runs it:
# Debian's linux-headers package has the kernel's .config and Module.symvers but none of
# the Rust build metadata (rust/*.rmeta, libmacros.so, scripts/target.json). This
# regenerates it from the kernel's own source package with the compilers Debian built the
# kernel with, and prints the tree: build drvreg with make KDIR=<it>.
#
#   scripts/rust-metadata.sh [KREL [OUT]]
#
# KREL: the kernel release (default: the running kernel, uname -r); OUT: the tree (default
# ${XDG_CACHE_HOME:-~/.cache}/drvreg/kdir-KREL). SRC=<dir> takes an unpacked source tree
# instead of extracting /usr/src/linux-source-<series>.tar.xz into OUT.src.
#
# It needs, from the kernel's own suite (Debian 13: the headers and source from
# trixie-backports, everything else from trixie itself):
#   linux-headers-KREL linux-source-<series>
#   rustc rust-src bindgen libclang-dev       (the rustc of CONFIG_RUSTC_VERSION_TEXT)
#   gcc-N                                      (the gcc of CONFIG_CC_VERSION_TEXT)
#   make flex bison bc libelf-dev libssl-dev python3 dwarves xz-utils
# The rustc must be the one the kernel was built with: crate hashes are part of Rust
# symbol names, and another rustc's metadata would not match the kernel's Module.symvers.
# scripts/distro.sh runs this very script in a chroot of the suite for the deb: lanes.
set -euo pipefail

krel=${1:-$(uname -r)}
out=${2:-${XDG_CACHE_HOME:-$HOME/.cache}/drvreg/kdir-$krel}
headers=/usr/src/linux-headers-$krel
say() { echo "rust-metadata: $*" >&2; }
die() {
	say "error: $*"
	exit 1
}

[ -f "$headers/.config" ] || die "no $headers/.config: install linux-headers-$krel"
grep -qx 'CONFIG_RUST=y' "$headers/.config" || die "the $krel kernel has no CONFIG_RUST=y"
want=$(sed -n 's/^CONFIG_RUSTC_VERSION_TEXT="\(.*\)"$/\1/p' "$headers/.config")
have=$(rustc --version 2>/dev/null || echo "no rustc")
[ "$want" = "$have" ] || die "the $krel kernel was built with $want, but rustc is $have"
cc=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="\([^ ]*\) .*/\1/p' "$headers/.config")
command -v "$cc" >/dev/null || die "no $cc, the kernel's C compiler: install ${cc#x86_64-linux-gnu-}"

src=${SRC:-}
if [ -z "$src" ]; then
	# linux-headers-7.3.4+deb13-amd64 -> linux-source-7.3
	series=${krel%%-*}
	series=${series%%+*}
	series=${series%.*}
	tarball=/usr/src/linux-source-$series.tar.xz
	[ -f "$tarball" ] || die "no $tarball: install linux-source-$series"
	src=$out.src/linux-source-$series
	if [ ! -f "$src/Makefile" ]; then
		say "extracting $tarball into $out.src"
		mkdir -p "$out.src"
		tar -xf "$tarball" -C "$out.src"
	fi
fi
[ -f "$src/Makefile" ] || die "SRC=$src is not a kernel source tree"

build=$out
kmake_args=(ARCH=x86 CROSS_COMPILE=x86_64-linux-gnu- "CC=$cc" "HOSTCC=${cc#x86_64-linux-gnu-}")
kmake() { make -C "$src" O="$build" "${kmake_args[@]}" KERNELRELEASE="$krel" "$@"; }
rm -rf "$build"
mkdir -p "$build"
cp "$headers/.config" "$build/.config"
kmake -s olddefconfig
cmp -s "$headers/.config" "$build/.config" ||
	say "note: olddefconfig changed Debian's .config ($(diff "$headers/.config" "$build/.config" | grep -c '^[<>]') lines)"
say "regenerating the Rust metadata with $have (modules_prepare)"
# Without building objtool and resolve_btfids (with libbpf): the headers package has
# Debian's own objtool, built from this source, which module builds run; resolve_btfids
# only serves BTF for modules, which needs a vmlinux that this tree does not have. The two
# options off on the command line only skip those tools (and objtool's pass over
# modules_prepare's own objects, which no module uses); the .config, and the cfgs rustc
# sees (include/generated/rustc_cfg), are Debian's. Measured on sid's 7.2: make took 148 s, now 111 s.
kmake -j"$(($(nproc) + 1))" CONFIG_OBJTOOL= CONFIG_DEBUG_INFO_BTF= modules_prepare
if grep -qx 'CONFIG_OBJTOOL=y' "$build/.config"; then
	[ -x "$headers/tools/objtool/objtool" ] || die "no $headers/tools/objtool/objtool (linux-headers-$krel)"
	mkdir -p "$build/tools/objtool"
	cp -a "$headers/tools/objtool/." "$build/tools/objtool/"
fi
for f in rust/libkernel.rmeta rust/libmacros.so scripts/target.json scripts/module.lds; do
	[ -e "$build/$f" ] || die "modules_prepare made no $f"
done
cp "$headers/Module.symvers" "$build/Module.symvers"
# How modules must be built here (scripts/lib.sh's drvreg_kmake reads it).
echo "${kmake_args[*]}" >"$build/.drvreg-kmake"
echo "$build"

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (or find in the cache) a drvreg guest kernel and print its build directory.
#
#   scripts/kernel.sh base|debug
#
# The kernel is Debian's linux-source-6.12 built with LLVM=1 and CONFIG_RUST=y from
# tinyconfig plus the fragments in scripts/configs/. Builds are cached outside the work
# tree under $DRVREG_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/drvreg), keyed by the
# source package version, the fragments' content and the toolchain versions, so a warm
# run never rebuilds and editing one fragment rebuilds only the kernels that use it.
# A build that fails or is interrupted is removed: the cache only holds finished kernels.
# Progress goes to stderr; the only line on stdout is the build directory.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
say() { echo "drvreg kernel: $*" >&2; }
die() { say "error: $*"; exit 1; }

name=${1:-}
case "$name" in
base) frags="$here/configs/base.config" ;;
debug) frags="$here/configs/base.config $here/configs/debug.config" ;;
*) die "unknown kernel '${name}': expected KERNEL=base or KERNEL=debug" ;;
esac

TARBALL=${DRVREG_KSRC_TARBALL:-/usr/src/linux-source-6.12.tar.xz}
CACHE=${DRVREG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/drvreg}
RUSTC=${RUSTC:-/usr/bin/rustc}
JOBS=${JOBS:-$(($(nproc) + 1))}
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

[ -f "$TARBALL" ] || die "$TARBALL not found (run 'make setup')"
kver=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || stat -c %s "$TARBALL")

# Extract the source once per package version (atomically: extract aside, then rename).
src="$CACHE/src/linux-source-6.12-$kver"
if [ ! -f "$src/Makefile" ]; then
	say "extracting $TARBALL (once per source version)"
	mkdir -p "$CACHE/src"
	tmp=$(mktemp -d "$CACHE/src/.extract.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	tar -xf "$TARBALL" -C "$tmp"
	rm -rf "$src"
	mv "$tmp/linux-source-6.12" "$src"
	rm -rf "$tmp"
	trap - EXIT
fi

key=$({
	echo "$kver"
	cat $frags
	"$RUSTC" --version
	clang --version | head -1
	bindgen --version
} | sha256sum | cut -c1-16)
out="$CACHE/build/$name-$key"

# One build of a kernel at a time: a second caller waits for the first, then finds it
# cached (two 'make vm' at once must not build into, or remove, each other's tree).
mkdir -p "$CACHE/build"
exec 8>"$out.lock"
if ! flock -n 8; then
	say "waiting for another build of the $name kernel to finish"
	flock 8
fi

if [ -f "$out/.drvreg-complete" ]; then
	say "$name kernel is cached: $out"
	echo "$out"
	exit 0
fi

kmake() {
	make -s -C "$src" O="$out" LLVM=1 RUSTC="$RUSTC" RUSTDOC="${RUSTDOC:-/usr/bin/rustdoc}" "$@"
}

rm -rf "$out"
mkdir -p "$out"
trap 'say "build of the $name kernel failed or was interrupted; removing $out"; rm -rf "$out"' EXIT

kmake rustavailable >&2 || die "the Rust toolchain does not satisfy this kernel (see 'make rustavailable' above)"
say "configuring the $name kernel (tinyconfig + $(basename -a $frags | tr '\n' ' '))"
kmake tinyconfig >/dev/null
"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" $frags >/dev/null
kmake olddefconfig >/dev/null

# Every option a fragment asks for must have landed: Kconfig drops unmet ones silently.
missing=""
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*) grep -qx "$line" "$out/.config" || missing="$missing $line" ;;
	"# CONFIG_"*" is not set")
		opt=${line#\# }
		opt=${opt%% *}
		! grep -q "^$opt=" "$out/.config" || missing="$missing $opt=n" ;;
	esac
done < <(cat $frags)
[ -z "$missing" ] || die "Kconfig did not accept:$missing"

say "building the $name kernel in $out with -j$JOBS (base ~5 min, debug ~8 min on 2 cores)"
start=$(date +%s)
kmake -j"$JOBS" all >&2
touch "$out/.drvreg-complete"
trap - EXIT
say "built the $name kernel in $(($(date +%s) - start)) s"
echo "$out"

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what drvreg needs on a Debian bookworm machine, idempotently.
# Quick when everything is present: one dpkg query and one version check.
#
#   scripts/setup.sh [full|vm|docs|chroot]
#
# vm: what booting a guest on Debian's own kernel needs (the deb: lanes: QEMU, busybox,
#     debootstrap for the sid chroot that has the compilers, gcc and libc6-dev for the
#     kselftests' static helper drvreg_finit): no Rust toolchain, no
#     cargo, no bindgen, no kernel source. 'make demo' on Debian's kernel uses only this.
# chroot: debootstrap and xz-utils only, so that make demo can start Debian's chroot
#     (scripts/debian.sh) while the rest of the vm profile installs.
# docs: what the docs check (scripts/docs-check.sh) needs: Sphinx, and perl and the 6.12
#     kernel source for the kernel's own ABI tool (scripts/get_abi.pl).
# full (default): everything, for the lanes that build kernels (base, debug, latest),
#     for make check and make bench.
set -euo pipefail

profile=${1:-full}
VM_PKGS="make python3 kmod rsync util-linux coreutils cpio xz-utils gzip file binutils
busybox-static bash-static qemu-system-x86 debootstrap gcc libc6-dev"
# The 6.12 lanes (base, kcsan) build with bookworm's clang 14; the 7.x lanes (debug, latest)
# need clang/lld/llvm-19 and libclang 19 for bindgen. gnuplot-nox draws make bench's
# plots (SVG; the build without X11 terminals).
FULL_PKGS="linux-source-6.12 rustc-web rust-web-src rust-web-clippy rustfmt-web clang lld llvm
clang-19 lld-19 llvm-19 libclang-19-dev libelf-dev flex bison bc libssl-dev gnuplot-nox"
# The docs check (scripts/docs-check.sh) renders Documentation/ with Sphinx, warnings as
# errors, and the ABI files through linux-source-6.12's scripts/get_abi.pl (perl).
DOCS_PKGS="perl python3-sphinx python3-docutils"
FULL_PKGS="$FULL_PKGS $DOCS_PKGS"
# chroot: what scripts/debian.sh needs to start a Debian chroot (make demo starts one while
# the rest of the vm profile installs).
CHROOT_PKGS="debootstrap xz-utils"
case "$profile" in
chroot) PKGS=$CHROOT_PKGS ;;
vm) PKGS=$VM_PKGS ;;
docs) PKGS="python3 xz-utils linux-source-6.12 $DOCS_PKGS" ;;
full) PKGS="$VM_PKGS $FULL_PKGS" ;;
*) echo "drvreg setup: unknown profile '$profile': expected full, vm, docs or chroot" >&2 && exit 2 ;;
esac

# drvreg_step: progress every 30 s for the long steps.
. "$(dirname "$0")/lib.sh"
say() { echo "drvreg setup: $*" >&2; }

missing=""
# bindgen-cli is built with cargo: a fresh Debian machine has none, and bookworm's own
# cargo is too old for it, so take cargo-web (the cargo that goes with rustc-web).
BINDGEN_DIR="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$BINDGEN_DIR:$PATH"
[ "$profile" != full ] || command -v bindgen >/dev/null 2>&1 || command -v cargo >/dev/null 2>&1 ||
	PKGS="$PKGS cargo-web"

# QEMU 8.1 or newer: multi-threaded TCG in bookworm's QEMU 7.2 races translating guest
# code against the kernel's own text patching (fixed in 8.1, "accel/tcg: Always lock pages
# before translation"): about one boot in ten of Debian's 7.2 kernel died in boot with an
# 'Oops: int3' in live-patched text (make boots measures it). bookworm-backports has
# QEMU 10.0: on bookworm, add that suite (for QEMU only: -t picks it for these packages).
QEMU_MIN=1:8.1
QEMU_PKGS="qemu-system-x86 qemu-system-data qemu-system-common"
backports=""
qemu_new() {
	local v
	v=$(dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null) &&
		dpkg --compare-versions "$v" ge "$QEMU_MIN"
}
codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
if [[ " $PKGS " == *" qemu-system-x86 "* ]] && ! qemu_new && [ "$codename" = bookworm ]; then
	backports=bookworm-backports
	PKGS=$(echo " $PKGS " | tr '\n' ' ' | sed 's/ qemu-system-x86 / /')
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || {
		say "installing packages needs root: run as root, or install sudo"
		exit 1
	}
	SUDO=sudo
fi

for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
		missing="$missing $p"
done

if [ -n "$missing" ]; then
	say "installing Debian packages ($profile):$missing"
	export DEBIAN_FRONTEND=noninteractive
	log=${TMPDIR:-/tmp}/drvreg-apt.log
	# shellcheck disable=SC2086
	drvreg_step "apt-get update and install ($(echo $missing | wc -w) packages)" "$log" \
		sh -c "$SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends $missing" ||
		{ say "installing packages failed (log: $log)"; exit 1; }
fi
if [ -n "$backports" ] && ! qemu_new; then
	list=/etc/apt/sources.list.d/drvreg-$backports.list
	mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
	export DEBIAN_FRONTEND=noninteractive
	[ -f "$list" ] || echo "deb $mirror $backports main" | $SUDO tee "$list" >/dev/null
	# shellcheck disable=SC2086
	drvreg_step "installing QEMU from $backports (>= ${QEMU_MIN#1:}: see scripts/setup.sh)" \
		"${TMPDIR:-/tmp}/drvreg-apt-qemu.log" sh -c "$SUDO apt-get update &&
		$SUDO apt-get install -y --no-install-recommends -t $backports $QEMU_PKGS" ||
		{ say "installing QEMU from $backports failed"; exit 1; }
	qemu_new || { say "QEMU is still older than ${QEMU_MIN#1:} after the install"; exit 1; }
fi
[ "$profile" = full ] || exit 0

# bindgen: the kernel wants a bindgen binary on PATH; Debian's is too old for 6.12's rust/.
if ! command -v bindgen >/dev/null 2>&1; then
	command -v cargo >/dev/null 2>&1 || {
		say "no cargo to install bindgen-cli with (cargo-web did not install?)"
		exit 1
	}
	crates() { echo "$(grep -c 'Compiling' "$1") crates compiled"; }
	DRVREG_STEP_FIGURE=crates drvreg_step "installing bindgen-cli from crates.io (cargo install --locked, ~2 min)" \
		"${TMPDIR:-/tmp}/drvreg-bindgen.log" cargo install --locked bindgen-cli ||
		{ say "cargo install bindgen-cli failed"; exit 1; }
fi

[ -f /usr/src/linux-source-6.12.tar.xz ] || {
	say "/usr/src/linux-source-6.12.tar.xz missing after installing linux-source-6.12"
	exit 1
}
[ -x /usr/bin/rustc ] || { say "/usr/bin/rustc missing (rustc-web)"; exit 1; }
[ -x /usr/bin/clippy-driver ] || { say "/usr/bin/clippy-driver missing (rust-web-clippy)"; exit 1; }
[ -x /usr/bin/rustfmt ] || { say "/usr/bin/rustfmt missing (rustfmt-web)"; exit 1; }
exit 0

# SPDX-License-Identifier: GPL-2.0
#
# Helpers shared by drvreg's scripts (source it from bash): finding the kernel build
# tree, staging the module sources per kernel, and building and installing modules.
#
# Environment:
#   KERNEL=base|debug   which cached kernel (scripts/kernel.sh) to use; default base
#   KDIR=/path          use this built Rust-enabled kernel tree instead (no kernel build)
#   RUSTC, RUSTDOC      default /usr/bin/rustc, /usr/bin/rustdoc (they have rust-src)
#   DRVREG_PROJECT      project tree to take module sources and selftests from (default:
#                       this repository; the harness self-test points it elsewhere)
#   DRVREG_KMAKE_FLAGS  extra kbuild arguments for module builds (make check uses
#                       'RUSTFLAGS_MODULE=-Dwarnings W=1 KCFLAGS=-Werror')

DRVREG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DRVREG_PROJECT=${DRVREG_PROJECT:-$DRVREG_ROOT}
DRVREG_OUT=${DRVREG_OUT:-$DRVREG_ROOT/out}
RUSTC=${RUSTC:-/usr/bin/rustc}
RUSTDOC=${RUSTDOC:-/usr/bin/rustdoc}
# bindgen is installed by cargo; depmod lives in /sbin.
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH:/usr/sbin:/sbin"
# When called from make, its command-line variables (KERNEL=, CMD=, ...) would leak into
# the kernel's own makes through MAKEFLAGS: the scripts start kernel makes afresh.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES GNUMAKEFLAGS

# What the module sources are: copied per kernel into out/<kernel>/src by drvreg_stage.
DRVREG_MODULE_PATHS="Kbuild rust samples include"
# Build products never copied from the work tree into a staged tree.
DRVREG_PRODUCTS="*.o *.ko *.mod *.mod.c *.cmd *.rmeta *.d *.ll *.rsi *.symtypes
modules.order Module.symvers .tmp_versions"

say() { echo "drvreg: $*" >&2; }
die() {
	echo "drvreg: $*" >&2
	exit 2
}

# Install the host packages once per process tree (quick when all are present).
drvreg_setup() {
	[ -z "${DRVREG_SETUP_DONE:-}" ] || return 0
	[ -z "${DRVREG_NO_SETUP:-}" ] || return 0
	"$DRVREG_ROOT/scripts/setup.sh" >&2 || die "setup failed (scripts/setup.sh)"
	export DRVREG_SETUP_DONE=1
}

# drvreg_check_kdir DIR: a built, Rust-enabled kernel tree, or one clear line and exit.
drvreg_check_kdir() {
	local d=$1 what="KDIR=$1 is not a built Rust-enabled kernel tree"
	[ -d "$d" ] || die "$what (no such directory)"
	[ -f "$d/.config" ] || die "$what (no $d/.config)"
	grep -qx 'CONFIG_RUST=y' "$d/.config" || die "$what (no CONFIG_RUST=y in $d/.config)"
	grep -qx 'CONFIG_MODULES=y' "$d/.config" || die "$what (no CONFIG_MODULES=y in $d/.config)"
	[ -f "$d/include/config/auto.conf" ] || die "$what (no $d/include/config/auto.conf: configure and build it first)"
	[ -f "$d/rust/libkernel.rmeta" ] || die "$what (no $d/rust/libkernel.rmeta: build it first)"
	[ -f "$d/Module.symvers" ] || die "$what (no $d/Module.symvers: build it first)"
}

# Print the kernel build directory: $KDIR if given (validated), else the cached kernel
# $KERNEL (built on first use). Progress goes to stderr.
drvreg_kdir() {
	if [ -n "${KDIR:-}" ]; then
		drvreg_check_kdir "$KDIR"
		(cd "$KDIR" && pwd)
		return
	fi
	case "${KERNEL:=base}" in
	base | debug) ;;
	*) die "unknown KERNEL='$KERNEL': expected KERNEL=base or KERNEL=debug" ;;
	esac
	drvreg_setup
	local k
	k=$("$DRVREG_ROOT/scripts/kernel.sh" "$KERNEL") || die "could not build the $KERNEL kernel (see above)"
	drvreg_check_kdir "$k"
	echo "$k"
}

# Name of the per-kernel output folder out/<name>: the kernel name, or kdir-<hash> for
# a KDIR given by the user.
drvreg_kname() {
	if [ -n "${KDIR:-}" ]; then
		echo "kdir-$(cd "$KDIR" && pwd -P | sha256sum | cut -c1-8)"
	else
		echo "${KERNEL:-base}"
	fi
}

# kbuild arguments for a kernel tree: LLVM=1 when it was built with clang.
drvreg_kmake() {
	local kdir=$1
	shift
	local llvm=()
	grep -qx 'CONFIG_CC_IS_CLANG=y' "$kdir/.config" && llvm=(LLVM=1)
	make -C "$kdir" "${llvm[@]}" RUSTC="$RUSTC" RUSTDOC="$RUSTDOC" "$@"
}

drvreg_release() {
	cat "$1/include/config/kernel.release"
}

# drvreg_stage SRC DEST [PATHS]: copy module sources (default: Kbuild rust/ samples/
# include/) to DEST, without build products; DEST's own build products are kept, so
# rebuilding there is incremental.
drvreg_stage() {
	local src=$1 dest=$2 paths=${3:-$DRVREG_MODULE_PATHS} p
	local filter=()
	for p in $DRVREG_PRODUCTS; do filter+=(--exclude="$p"); done
	if [ "$paths" = "*" ]; then
		filter+=(--include='*')
	else
		for p in $paths; do filter+=(--include="/$p" --include="/$p/***"); done
	fi
	filter+=(--exclude='*')
	mkdir -p "$dest"
	rsync -a --delete "${filter[@]}" "$src/" "$dest/" || die "could not stage $src into $dest"
}

# drvreg_build KDIR DIR [kbuild args...]: build the out-of-tree modules in DIR.
drvreg_build() {
	local kdir=$1 dir=$2
	shift 2
	# shellcheck disable=SC2086
	drvreg_kmake "$kdir" M="$dir" -j"$(nproc)" ${DRVREG_KMAKE_FLAGS:-} "$@" modules
}

# drvreg_install KDIR ROOT DIR...: install the modules built in each DIR under
# ROOT/lib/modules/<release>/updates, debug info stripped, then run depmod so that
# modprobe resolves dependencies in the guest.
drvreg_install() {
	local kdir=$1 root=$2 rel d
	shift 2
	rel=$(drvreg_release "$kdir")
	mkdir -p "$root/lib/modules/$rel"
	for f in modules.builtin modules.builtin.modinfo modules.order; do
		[ ! -f "$kdir/$f" ] || cp "$kdir/$f" "$root/lib/modules/$rel/"
	done
	for d in "$@"; do
		drvreg_kmake "$kdir" -s M="$d" INSTALL_MOD_PATH="$root" INSTALL_MOD_DIR=updates \
			INSTALL_MOD_STRIP=1 DEPMOD=true modules_install >&2 ||
			die "could not install the modules built in $d"
	done
	depmod -b "$root" "$rel" || die "depmod -b $root $rel failed"
}

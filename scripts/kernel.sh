#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (or find in the cache) a drvreg guest kernel and print its build directory.
#
#   scripts/kernel.sh LANE          (a lane of scripts/lanes.conf with kernel src:...)
#
# The lane's row says which source (src:6.12: Debian's linux-source-6.12, the LTS;
# src:<suite>: the newest kernel source of a Debian suite, linux-source-<series> from its
# chroot of scripts/debian.sh), which fragments of scripts/configs/ go on tinyconfig
# (CONFIG_RUST=y in base.config) and which clang builds it (llvm:1: bookworm's clang 14;
# llvm:-19: clang/lld/llvm-19, whose libclang 7.x's bindgen needs).
#
# Builds are cached outside the work tree under $DRVREG_CACHE (default
# ${XDG_CACHE_HOME:-$HOME/.cache}/drvreg), keyed by the source package version, the
# fragments' settings (their lines without comments and blank lines: "# CONFIG_X is not
# set" counts, a comment does not) and the toolchain versions, so a warm run never
# rebuilds, editing one fragment's settings rebuilds only the kernels that use it, and
# editing a comment rebuilds none. A build that fails or is
# interrupted is removed: the cache only holds finished kernels. The kbuild arguments
# modules must be built with are saved in <dir>/.drvreg-kmake.
# Progress goes to stderr (every 30 s, with the build's progress); the only line on
# stdout is the build directory. Full logs: $DRVREG_CACHE/logs/kernel-<name>.log.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
say() { echo "drvreg kernel: $*" >&2; }
die() { say "error: $*"; exit 1; }

name=${1:-}
# Build steps of a whole build, for the progress figure before the first build here.
declare -A DRVREG_DEFAULT_STEPS=([base]=1670 [debug]=1730 [kcsan]=1700 [latest]=1750)
CACHE=${DRVREG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/drvreg}
# The lane's row in scripts/lanes.conf: which source, which fragments, which clang.
drvreg_check_kernel "$name"
ksrc=$(drvreg_lane "$name" kernel) cfg=$(drvreg_lane "$name" config) cc=$(drvreg_lane "$name" cc)
case "$ksrc" in src:*) ;; *) die "the $name lane is not built here (kernel $ksrc in scripts/lanes.conf)" ;; esac
case "$cc" in llvm:*) llvm=${cc#llvm:} ;; *) die "the $name lane's compiler '$cc' is not clang (scripts/lanes.conf)" ;; esac
frags=""
for f in ${cfg//,/ }; do frags+=" $here/configs/$f.config"; done
frags=${frags# }
if [ "$ksrc" != src:6.12 ]; then
	# src:<suite>: the newest kernel source of that Debian suite, from its chroot.
	suite=${ksrc#src:}
	"$here/debian.sh" "$suite" root >/dev/null || die "could not set up the $suite chroot for its kernel source"
	pkg=$(cat "$CACHE/debian/$suite/source-package")
	DRVREG_KSRC_TARBALL=${DRVREG_KSRC_TARBALL:-$CACHE/debian/$suite/root/usr/src/$pkg.tar.xz}
	DRVREG_KSRC_PACKAGE=$pkg
	DRVREG_KSRC_VERSION=$("$here/debian.sh" "$suite" run dpkg-query -W -f='${Version}' "$pkg")
fi

# bindgen loads libclang at run time and takes the newest it finds: point it at the one
# of the clang that builds this kernel (libclang 19 rejects clang 14's flags).
clang_major=$("clang${llvm#1}" --version 2>/dev/null | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -n 1)
[ -n "$clang_major" ] || die "clang${llvm#1} is missing (run 'make setup')"
export LIBCLANG_PATH=${LIBCLANG_PATH:-/usr/lib/llvm-$clang_major/lib}
TARBALL=${DRVREG_KSRC_TARBALL:-/usr/src/linux-source-6.12.tar.xz}
PKG=${DRVREG_KSRC_PACKAGE:-linux-source-6.12}
RUSTC=${RUSTC:-/usr/bin/rustc}
JOBS=${JOBS:-$(($(nproc) + 1))}
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

[ -f "$TARBALL" ] || die "$TARBALL not found (run 'make setup')"
kver=${DRVREG_KSRC_VERSION:-$(dpkg-query -W -f='${Version}' "$PKG" 2>/dev/null || stat -c %s "$TARBALL")}

# The source, extracted once per package version (scripts/lib.sh).
src=$(drvreg_ksrc "$TARBALL" "$PKG" "$kver") || exit 2

key=$({
	echo "$kver"
	# shellcheck disable=SC2086
	sed -e '/^# CONFIG_[A-Z0-9_]* is not set$/b' -e '/^[[:space:]]*#/d' -e '/^[[:space:]]*$/d' $frags
	"$RUSTC" --version
	"clang${llvm#1}" --version | head -1 # (LIBCLANG_PATH follows from it)
	bindgen --version
} | sha256sum | cut -c1-16)
out="$CACHE/build/$name-$key"

drvreg_cached "$out" "the $name kernel"

kmake_args="LLVM=$llvm RUSTC=$RUSTC RUSTDOC=${RUSTDOC:-/usr/bin/rustdoc}"
kmake() {
	# shellcheck disable=SC2086
	make -C "$src" O="$out" $kmake_args "$@"
}

rm -rf "$out"
mkdir -p "$out"
trap 'say "build of the $name kernel failed or was interrupted; removing $out"; rm -rf "$out"' EXIT

kmake -s rustavailable >&2 || die "the Rust toolchain does not satisfy this kernel (see 'make rustavailable' above)"
say "configuring the $name kernel (tinyconfig + $(basename -a $frags | tr '\n' ' '))"
kmake -s tinyconfig >/dev/null
"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" $frags >/dev/null
kmake -s olddefconfig >/dev/null

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

log="$CACHE/logs/kernel-$name.log"
steps="$CACHE/build/$name.steps"
export DRVREG_KBUILD_EXPECT
DRVREG_KBUILD_EXPECT=$(cat "$steps" 2>/dev/null || echo "${DRVREG_DEFAULT_STEPS[$name]:-0}")
start=$(date +%s)
# How long the last build of this kernel took here (recorded below; README.md quotes the
# measured times through scripts/doc-numbers.py): no fixed estimate to go stale.
seconds="$CACHE/logs/kernel-$name.seconds"
last="the first build of it here"
[ ! -s "$seconds" ] || last="the last build of it here took $(cat "$seconds") s"
DRVREG_STEP_FIGURE=drvreg_kbuild_figure \
	drvreg_step "building the $name kernel ($kver) in $out with -j$JOBS ($last)" \
	"$log" kmake -j"$JOBS" all || die "building the $name kernel failed"
echo "$(($(date +%s) - start))" >"$seconds"
grep -cE '^  [A-Z][A-Z0-9_]* ' "$log" >"$steps" || true
echo "$kmake_args" >"$out/.drvreg-kmake"
echo "LIBCLANG_PATH=$LIBCLANG_PATH" >"$out/.drvreg-env"
touch "$out/.drvreg-complete"
trap - EXIT
say "built the $name kernel in $(($(date +%s) - start)) s"
echo "$out"

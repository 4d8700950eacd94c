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

# The one kernel-splat classifier (host scripts and the kselftests in guests).
DRVREG_SPLAT=$DRVREG_ROOT/selftests/drvreg/splat.awk

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

# drvreg_setup [full|vm|docs]: install the host packages once per process tree (quick
# when all are present); vm is the subset the deb: lanes need, docs the subset of
# scripts/docs-check.sh (see scripts/setup.sh).
drvreg_setup() {
	local profile=${1:-full}
	case " ${DRVREG_SETUP_DONE:-} " in *" $profile "* | *" full "*) return 0 ;; esac
	[ -z "${DRVREG_NO_SETUP:-}" ] || return 0
	"$DRVREG_ROOT/scripts/setup.sh" "$profile" >&2 || die "setup failed (scripts/setup.sh $profile)"
	export DRVREG_SETUP_DONE="${DRVREG_SETUP_DONE:-} $profile"
}

# drvreg_ksrc [TARBALL PACKAGE VERSION]: print the unpacked tree of a Debian kernel source
# package, by default linux-source-6.12 (the base and debug lanes' kernel; the docs check
# takes the kernel's documentation tools from it). The tarball is extracted once per
# package version into $DRVREG_CACHE/src/PACKAGE-VERSION, the directory scripts/kernel.sh
# builds from, atomically (aside, then renamed). Progress goes to stderr.
drvreg_ksrc() {
	local tarball=${1:-/usr/src/linux-source-6.12.tar.xz} pkg=${2:-linux-source-6.12} kver=${3:-}
	local cache=${DRVREG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/drvreg} src
	[ -f "$tarball" ] || die "$tarball not found (install $pkg: run 'make setup')"
	[ -n "$kver" ] || kver=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || stat -c %s "$tarball")
	src=$cache/src/$pkg-$kver
	if [ ! -f "$src/Makefile" ]; then
		mkdir -p "$cache/src"
		(
			# One extraction at a time (two lanes may build kernels of one source at
			# once): the second waits, then finds the tree.
			exec 7>"$src.lock"
			flock 7
			[ ! -f "$src/Makefile" ] || exit 0
			tmp=$(mktemp -d "$cache/src/.extract.XXXXXX")
			trap 'rm -rf "$tmp"' EXIT
			drvreg_step "extracting $tarball (once per source version)" "$cache/logs/extract-$pkg.log" \
				tar -xf "$tarball" -C "$tmp" || die "could not extract $tarball"
			rm -rf "$src" && mv -T "$tmp/$pkg" "$src"
		) >&2 || exit
	fi
	echo "$src"
}

# The lanes: one row each in scripts/lanes.conf (its header says what the columns mean).
DRVREG_LANES_FILE=$DRVREG_ROOT/scripts/lanes.conf

# drvreg_lanes [check]: the lane names in table order; with 'check', those make check runs.
drvreg_lanes() {
	awk -v c="${1:-}" '/^[^#]/ && NF >= 8 { if (c == "" || $8 != "-") printf "%s%s", sep, $1; sep = " " }
		END { print "" }' "$DRVREG_LANES_FILE"
}

# drvreg_lane LANE FIELD: one field of LANE's row (kernel config cc slow modes demo check
# proves), or nothing for an unknown lane.
drvreg_lane() {
	awk -v l="$1" -v f="$2" '
		/^#lane/ { for (i = 1; i <= NF; i++) col[substr($i, 1 + (i == 1))] = i; next }
		/^[^#]/ && $1 == l {
			i = col[f]
			if (f == "proves") { for (j = i + 1; j <= NF; j++) $i = $i " " $j }
			print $i
			exit
		}' "$DRVREG_LANES_FILE"
}

# drvreg_lane_has LANE STEP: whether make check runs STEP (a 'check' entry) on LANE.
drvreg_lane_has() {
	case ",$(drvreg_lane "$1" check)," in *",$2,"*) return 0 ;; esac
	return 1
}

# drvreg_check_kernel NAME: a known lane, or one clear line and exit.
drvreg_check_kernel() {
	case " $(drvreg_lanes) " in
	*" $1 "*) ;;
	*) die "unknown KERNEL='$1': expected one of: $(drvreg_lanes | sed 's/ /, /g')" ;;
	esac
}

# drvreg_check_kdir DIR: a built, Rust-enabled kernel tree whose Rust metadata this host
# can use, or one clear line (what is missing, which rustc is needed) and exit.
drvreg_check_kdir() {
	local d=$1 what="KDIR=$1 is not a built Rust-enabled kernel tree" want have
	[ -d "$d" ] || die "$what (no such directory)"
	[ -f "$d/.config" ] || die "$what (no $d/.config)"
	grep -qx 'CONFIG_RUST=y' "$d/.config" || die "$what (no CONFIG_RUST=y in $d/.config: this kernel has no Rust support)"
	grep -qx 'CONFIG_MODULES=y' "$d/.config" || die "$what (no CONFIG_MODULES=y in $d/.config)"
	[ -f "$d/include/config/auto.conf" ] || die "$what (no $d/include/config/auto.conf: configure and build it first)"
	[ -f "$d/rust/libkernel.rmeta" ] && [ -e "$d/rust/libmacros.so" ] ||
		die "KDIR=$d has no Rust build metadata (rust/libkernel.rmeta, rust/libmacros.so): distribution headers packages often leave it out; regenerate it as README.md says (Debian: scripts/distro.sh does it) or build the kernel yourself"
	[ -f "$d/scripts/target.json" ] ||
		die "KDIR=$d has no scripts/target.json (the Rust target of the kernel, made by its build): regenerate the Rust build metadata as README.md says, or build the kernel yourself"
	[ -f "$d/Module.symvers" ] || die "$what (no $d/Module.symvers: build it first)"
	# A tree prepared in a Debian chroot is built with the chroot's own rustc; installing
	# (DRVREG_NO_RUSTC_CHECK=1) compiles nothing.
	[ ! -f "$d/.drvreg-chroot" ] || return 0
	[ -z "${DRVREG_NO_RUSTC_CHECK:-}" ] || return 0
	want=$(sed -n 's/^CONFIG_RUSTC_VERSION_TEXT="\(.*\)"$/\1/p' "$d/.config")
	have=$("$RUSTC" --version 2>/dev/null || echo "not a runnable rustc")
	[ -z "$want" ] || [ "$want" = "$have" ] ||
		die "KDIR=$d was built with $want, but RUSTC=$RUSTC is $have: Rust modules must be built by the same rustc (crate hashes are in symbol names); pass RUSTC=/path/to/that rustc"
}

# Print the kernel build directory: $KDIR if given (validated), else the lane $KERNEL
# (built or prepared on first use). Progress goes to stderr.
drvreg_kdir() {
	if [ -n "${KDIR:-}" ]; then
		drvreg_check_kdir "$KDIR"
		(cd "$KDIR" && pwd)
		return
	fi
	drvreg_check_kernel "${KERNEL:=base}"
	local k src
	src=$(drvreg_lane "$KERNEL" kernel)
	case "$src" in
	deb:*)
		drvreg_setup vm
		k=$("$DRVREG_ROOT/scripts/distro.sh" "${src#deb:}") || die "could not prepare the $KERNEL kernel tree (see above)"
		;;
	*)
		drvreg_setup full
		k=$("$DRVREG_ROOT/scripts/kernel.sh" "$KERNEL") || die "could not build the $KERNEL kernel (see above)"
		;;
	esac
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

# drvreg_kmake KDIR ARGS...: make in the kernel tree KDIR with the arguments it was built
# with (.drvreg-kmake, written by kernel.sh and distro.sh; else LLVM=1 for a clang-built
# tree). A tree prepared in a Debian chroot (.drvreg-chroot: its suite, scripts/debian.sh)
# is used there, with the
# project, its out/ and every M= folder mounted at the same paths.
drvreg_kmake() {
	local kdir=$1 a binds=() args=()
	shift
	if [ -f "$kdir/.drvreg-kmake" ]; then
		read -r -a args <"$kdir/.drvreg-kmake"
	elif grep -qx 'CONFIG_CC_IS_CLANG=y' "$kdir/.config"; then
		args=(LLVM=1)
	fi
	if [ -f "$kdir/.drvreg-chroot" ]; then
		binds=(-b "$DRVREG_ROOT" -b "$DRVREG_OUT")
		for a in "$@"; do
			case "$a" in M=* | INSTALL_MOD_PATH=*) binds+=(-b "${a#*=}") ;; esac
		done
		mkdir -p "$DRVREG_OUT"
		"$DRVREG_ROOT/scripts/debian.sh" "$(cat "$kdir/.drvreg-chroot")" run "${binds[@]}" \
			make -C "$kdir" "${args[@]}" "$@"
		return
	fi
	(
		[ ! -f "$kdir/.drvreg-env" ] || export "$(cat "$kdir/.drvreg-env")"
		make -C "$kdir" RUSTC="$RUSTC" RUSTDOC="$RUSTDOC" "${args[@]}" "$@"
	)
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
		# (A prepared Debian tree has none: depmod only needs them to exist.)
		if [ -f "$kdir/$f" ]; then cp "$kdir/$f" "$root/lib/modules/$rel/"; else : >"$root/lib/modules/$rel/$f"; fi
	done
	for d in "$@"; do
		if [ -f "$kdir/.drvreg-chroot" ]; then
			# Debian's tree may sign in modules_install, with keys nobody has: copy instead.
			local ko dest=$root/lib/modules/$rel/updates
			mkdir -p "$dest"
			while IFS= read -r ko; do
				strip --strip-debug -o "$dest/$(basename "$ko")" "$ko" ||
					die "could not install $ko"
			done < <(find "$d" -name '*.ko')
		else
			drvreg_kmake "$kdir" -s M="$d" INSTALL_MOD_PATH="$root" INSTALL_MOD_DIR=updates \
				INSTALL_MOD_STRIP=1 DEPMOD=true modules_install >&2 ||
				die "could not install the modules built in $d"
		fi
	done
	depmod -b "$root" "$rel" || die "depmod -b $root $rel failed"
}

# drvreg_cached OUT WHAT: takes OUT's build lock (fd 8, held until the caller exits; a
# second caller waits for the first) and, if OUT is complete (.drvreg-complete), says so,
# prints OUT and exits 0. One build of a tree at a time: two 'make vm' at once must not
# build into, or remove, each other's tree.
drvreg_cached() {
	local out=$1 what=$2
	mkdir -p "$(dirname "$out")"
	exec 8>"$out.lock"
	if ! flock -n 8; then
		say "waiting for another preparation of $what"
		flock 8
	fi
	if [ -f "$out/.drvreg-complete" ]; then
		say "$what is cached: $out"
		echo "$out"
		exit 0
	fi
}

# drvreg_step WHAT LOG CMD...: runs CMD with its output in LOG, after saying what it does
# and where the log is; every 30 s (DRVREG_STEP_EVERY) says how long it has run, with the
# figure DRVREG_STEP_FIGURE prints if that names a command (e.g. a build's progress). On
# failure shows the end of LOG. Returns CMD's status.
drvreg_step() {
	local what=$1 log=$2 pid rc t0=$SECONDS next every=${DRVREG_STEP_EVERY:-30} fig
	shift 2
	mkdir -p "$(dirname "$log")"
	say "$what (log: $log)"
	"$@" >"$log" 2>&1 &
	pid=$!
	next=$((t0 + every))
	while kill -0 "$pid" 2>/dev/null; do
		sleep 1
		if [ "$SECONDS" -ge "$next" ] && kill -0 "$pid" 2>/dev/null; then
			fig=""
			[ -z "${DRVREG_STEP_FIGURE:-}" ] || fig=", $($DRVREG_STEP_FIGURE "$log" 2>/dev/null)"
			say "  ... $what: $((SECONDS - t0)) s$fig"
			next=$((next + every))
		fi
	done
	rc=0
	wait "$pid" || rc=$?
	if [ "$rc" = 0 ]; then
		say "  done in $((SECONDS - t0)) s: $what"
	else
		say "  FAILED after $((SECONDS - t0)) s (exit $rc): $what; the end of $log:"
		tail -n 25 "$log" | sed 's/^/    /' >&2
	fi
	return "$rc"
}

# drvreg_kbuild_figure LOG: how far a kbuild run is, from its "  CC ..."-style lines: the
# count, and a percentage of DRVREG_KBUILD_EXPECT (the previous build's count) if set.
drvreg_kbuild_figure() {
	local n
	n=$(grep -cE '^  [A-Z][A-Z0-9_]* ' "$1")
	if [ -n "${DRVREG_KBUILD_EXPECT:-}" ] && [ "$DRVREG_KBUILD_EXPECT" -gt 0 ]; then
		echo "$n of ~$DRVREG_KBUILD_EXPECT build steps ($((n * 100 / DRVREG_KBUILD_EXPECT))%)"
	else
		echo "$n build steps"
	fi
}

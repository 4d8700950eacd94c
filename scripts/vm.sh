#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a drvreg guest under QEMU (TCG) with this project's modules and kselftests, run
# a command in it as root and exit with that command's status.
#
#   CMD='modprobe drvreg && cat /sys/kernel/debug/...' scripts/vm.sh
#   VM_SHELL=1 scripts/vm.sh              interactive shell on the console (make vm-shell)
#
# Environment (all optional but CMD):
#   CMD              shell commands run by 'sh /cmd.sh' in the guest (may span lines)
#   KERNEL           base (default: 6.12 LTS), debug (6.12 with KASAN, lockdep, fault
#                    injection), latest (Debian's newest kernel source, self-built) or
#                    distro (Debian's own prebuilt kernel, modules built in a sid chroot)
#   KDIR             a built Rust-enabled kernel tree to use instead of the cached kernels
#   VM_CPUS          vCPUs, default 4;  VM_MEM  MiB of guest memory, default 1024
#   VM_TIMEOUT       seconds before a guest is declared hung and killed, default 900
#   VM_SPLAT_IDLE    seconds without console output after a kernel splat before the guest
#                    is declared stuck and killed, default 300
#   VM_EXPECT_SPLAT  1: a kernel splat is the expected outcome: exit 0 if one is seen,
#                    non-zero if none is
#   VM_APPEND        extra kernel command line
#   VM_LOG           console log path (default out/logs/vm-<kernel>-<timestamp>.log)
#   VM_ENV           'A=1 B=2': exported in the guest before CMD runs
#   SHARE            host folder copied into the image, read-only at /mnt/share
#   VM_PROJECT       0: leave out the project's modules and kselftests
#   VM_EXTRA_M       more module source folders (each with a Kbuild) to build and install
#                    (the harness self-test's oops module)
#
# In the guest: modules in /lib/modules/$(uname -r)/updates (modprobe NAME), kselftests in
# /kselftest (run_kselftest.sh), debugfs on /sys/kernel/debug, a tmpfs on /tmp,
# DRVREG_KERNEL=<kernel name>, and the CMD runs from /root.
#
# The console is streamed to stdout and saved in the log; drvreg's own messages go to
# stderr. /init prints 'DRVREG-VM-START: <release> cpus=<n>' before CMD and
# 'DRVREG-VM-EXIT: <status>' after it.
# Exit status: CMD's status; when something went wrong instead:
#   kernel splat (Oops, BUG:, WARNING:, KASAN, lockdep, UBSAN, panic, Call Trace, ...):
#       CMD's status if non-zero, else 1 (with VM_EXPECT_SPLAT=1: 0, and 1 if none seen)
#   guest hung past VM_TIMEOUT, or silent for VM_SPLAT_IDLE after a splat: 124
#       (0 with VM_EXPECT_SPLAT=1 if it splatted first);  guest died before CMD finished: 125;
#   bad input or build failure: 2
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# --- inputs ------------------------------------------------------------------------------
shell=${VM_SHELL:-}
[ -n "$shell" ] || [ -n "${CMD:-}" ] ||
	die "no command: use make vm CMD='...' (or make vm-shell for an interactive guest)"
[ -n "${KDIR:-}" ] || drvreg_check_kernel "${KERNEL:=base}"
isnum() { case "$2" in '' | *[!0-9]*) die "$1='$2' is not a positive number" ;; esac; [ "$2" -gt 0 ] || die "$1 must be at least 1"; }
VM_CPUS=${VM_CPUS:-4} VM_MEM=${VM_MEM:-1024} VM_TIMEOUT=${VM_TIMEOUT:-900}
VM_SPLAT_IDLE=${VM_SPLAT_IDLE:-300}
isnum VM_SPLAT_IDLE "$VM_SPLAT_IDLE"
isnum VM_CPUS "$VM_CPUS"
isnum VM_MEM "$VM_MEM"
isnum VM_TIMEOUT "$VM_TIMEOUT"
if [ -n "${SHARE:-}" ]; then
	[ -d "$SHARE" ] || die "SHARE=$SHARE is not a folder"
fi
envlines=""
for kv in ${VM_ENV:-}; do
	[[ "$kv" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "VM_ENV entry '$kv' is not NAME=value"
	v=${kv#*=}
	envlines+="export ${kv%%=*}='${v//\'/\'\\\'\'}'"$'\n'
done
for d in ${VM_EXTRA_M:-}; do
	[ -f "$d/Kbuild" ] || [ -f "$d/Makefile" ] || die "VM_EXTRA_M=$d has no Kbuild"
done
qemu=${QEMU:-qemu-system-x86_64}

# --- kernel and modules ------------------------------------------------------------------
kdir=$(drvreg_kdir)
kname=$(drvreg_kname)
bz="$kdir/arch/x86/boot/bzImage"
[ -f "$bz" ] || die "KDIR=$kdir has no arch/x86/boot/bzImage (an x86_64 kernel is needed)"
work="$DRVREG_OUT/$kname"
mkdir -p "$work" "$DRVREG_OUT/logs"
# One build at a time per kernel: staged trees are shared between runs.
exec 9>"$work/.lock"
flock 9

moddirs=()
selftests=""
if [ "${VM_PROJECT:-1}" != 0 ]; then
	if [ -f "$DRVREG_PROJECT/Kbuild" ]; then
		say "building the modules for the $kname kernel in $work/src..."
		drvreg_stage "$DRVREG_PROJECT" "$work/src"
		drvreg_build "$kdir" "$work/src" >&2 || die "module build failed for the $kname kernel (see above)"
		moddirs+=("$work/src")
	else
		say "no $DRVREG_PROJECT/Kbuild: no project modules in the guest"
	fi
	[ ! -f "$DRVREG_PROJECT/selftests/Makefile" ] || selftests="$DRVREG_PROJECT/selftests"
fi
for d in ${VM_EXTRA_M:-}; do
	x="$work/extra/$(basename "$(realpath "$d")")"
	say "building the extra modules from $d for the $kname kernel in $x..."
	drvreg_stage "$d" "$x" '*'
	drvreg_build "$kdir" "$x" >&2 || die "module build failed for $d (see above)"
	moddirs+=("$x")
done

# --- image -------------------------------------------------------------------------------
img=$(mktemp -d "$work/vm.XXXXXX")
trap 'rm -rf "$img"' EXIT
args=(-o "$img/initramfs.cpio.gz" -k "$kdir")
for d in "${moddirs[@]}"; do args+=(-m "$d"); done
[ -z "$selftests" ] || args+=(-t "$selftests")
[ -z "${SHARE:-}" ] || args+=(-s "$SHARE")
printf 'export DRVREG_KERNEL=%s\n%s' "$kname" "$envlines" >"$img/env"
args+=(-e "$img/env")
if [ -n "$shell" ]; then
	args+=(-i)
else
	printf '%s\n' "$CMD" >"$img/cmd.sh"
	args+=(-c "$img/cmd.sh")
fi
"$DRVREG_ROOT/scripts/initramfs.sh" "${args[@]}"
flock -u 9
[ -z "${SHARE:-}" ] ||
	say "SHARE=$SHARE is copied into the image: read-only at /mnt/share, a snapshot taken now"

log=${VM_LOG:-$DRVREG_OUT/logs/vm-$kname-$(date +%Y%m%d-%H%M%S).log}
[ -z "${VM_LOG:-}" ] && [ -e "$log" ] && log="${log%.log}-$$.log"
mkdir -p "$(dirname "$log")"
append="console=ttyS0 panic=-1 oops=panic kasan_multi_shot loglevel=7 printk.time=1 ${VM_APPEND:-}"
# la57=off: with 5-level paging, a KASAN kernel can report a bogus 'wild-memory-access'
# when an interrupt lands while identify_boot_cpu() has cleared the LA57 feature bit
# (seen once on a loaded host); 4-level paging has no such window.
qargs=(-nodefaults -no-reboot -cpu max,la57=off -smp "$VM_CPUS" -m "$VM_MEM" -kernel "$bz"
	-initrd "$img/initramfs.cpio.gz" -append "$append")

# --- boot --------------------------------------------------------------------------------
if [ -n "$shell" ]; then
	say "booting an interactive $kname guest ($VM_CPUS CPUs, TCG: slow); Ctrl-A X quits QEMU"
	set +e
	"$qemu" "${qargs[@]}" -display none -serial mon:stdio | tee "$log"
	set -e
	say "console log: $log"
	exit 0
fi

say "booting the $kname guest ($VM_CPUS CPUs, TCG, timeout ${VM_TIMEOUT}s) to run CMD..."
# Kernel lines carry a printk timestamp (printk.time=1); the command's own output does
# not, so a test printing 'WARNING:' is not taken for a kernel splat.
splat_re='^\[ *[0-9]+\.[0-9]+\] .*(Oops|BUG:|WARNING:|general protection fault|Kernel panic|kernel BUG at|possible circular locking|possible recursive locking|INFO: |UBSAN:|Call Trace:)'

# A guest that splatted and then printed nothing for VM_SPLAT_IDLE seconds is stuck (say
# a deadlock after a lockdep report, or a report loop): stop it instead of waiting for
# VM_TIMEOUT.
watch_stuck() {
	local last=-1 idle=0 size
	while sleep 5; do
		grep -aqE "$splat_re" "$log" 2>/dev/null || continue
		! grep -aq 'DRVREG-VM-EXIT: ' "$log" || continue
		size=$(stat -c %s "$log")
		if [ "$size" = "$last" ]; then idle=$((idle + 5)); else idle=0 last=$size; fi
		if [ "$idle" -ge "$VM_SPLAT_IDLE" ]; then
			: >"$img/stuck"
			kill "$(cat "$img/qemu.pid")"
			return
		fi
	done
}
: >"$log"
watch_stuck </dev/null >/dev/null 2>&1 &
watcher=$!
start=$(date +%s)
interrupted=""
trap 'interrupted=1' INT TERM
set +e
timeout --foreground -k 10 "$VM_TIMEOUT" "$qemu" "${qargs[@]}" -pidfile "$img/qemu.pid" -display none \
	-serial stdio -monitor none </dev/null 2>&1 | sed -u 's/\r$//' | tee "$log"
qrc=${PIPESTATUS[0]}
set -e
secs=$(($(date +%s) - start))
kill "$watcher" 2>/dev/null || true
wait "$watcher" 2>/dev/null || true
trap - INT TERM
if [ -n "$interrupted" ]; then
	say "interrupted: QEMU stopped after ${secs} s"
	say "console log: $log"
	exit 130
fi

# --- verdict -----------------------------------------------------------------------------
splat=$(grep -aE -m1 "$splat_re" "$log" || true)
kind=""
case "$splat" in
"") ;;
*"BUG: KASAN"*) kind="KASAN report" ;;
*"UBSAN:"*) kind="UBSAN report" ;;
*"circular locking"* | *"recursive locking"* | *"lock held"* | *"inconsistent lock"* | *"lockdep"*) kind="lockdep report" ;;
*"general protection fault"* | *"Oops"* | *"unable to handle"* | *"NULL pointer dereference"*) kind="kernel oops" ;;
*"kernel BUG at"* | *"BUG:"*) kind="kernel BUG" ;;
*"WARNING:"*) kind="kernel WARNING" ;;
*"Kernel panic"*) kind="kernel panic" ;;
*"INFO: "*) kind="kernel INFO report (stall, hung task or lockdep)" ;;
*) kind="kernel stack dump" ;;
esac
marker=$(grep -aoE 'DRVREG-VM-EXIT: [0-9]+' "$log" | tail -1 || true)
cmdrc=${marker#DRVREG-VM-EXIT: }
hung=""
[ "$qrc" -ne 124 ] && [ "$qrc" -ne 137 ] || hung="guest hung: killed after ${VM_TIMEOUT} s (VM_TIMEOUT)"
[ ! -e "$img/stuck" ] || hung="guest stuck after a $kind: no console output for ${VM_SPLAT_IDLE} s, killed (VM_SPLAT_IDLE)"

rc=0
if [ -n "$hung" ]; then
	if [ "${VM_EXPECT_SPLAT:-}" = 1 ] && [ -n "$splat" ]; then
		say "expected splat seen ($kind): $splat"
		say "(then the $hung)"
		rc=0
	else
		say "FAIL: $hung"
		[ -z "$splat" ] || say "      the $kind: $splat"
		rc=124
	fi
elif [ "${VM_EXPECT_SPLAT:-}" = 1 ]; then
	if [ -n "$splat" ]; then
		say "expected splat seen ($kind): $splat"
		rc=0
	elif [ -z "$marker" ]; then
		say "FAIL: guest died before CMD finished, and no splat was seen (VM_EXPECT_SPLAT=1; QEMU status $qrc)"
		rc=125
	else
		say "FAIL: no kernel splat seen, but VM_EXPECT_SPLAT=1 expected one (CMD exited $cmdrc)"
		rc=1
	fi
elif [ -n "$splat" ]; then
	say "FAIL: $kind in the guest: $splat"
	rc=1
	[ -z "$marker" ] || [ "$cmdrc" -eq 0 ] || rc=$cmdrc
elif [ -z "$marker" ]; then
	killed=$(grep -a -m1 'terminating on signal' "$log" || true)
	if [ -n "$killed" ]; then
		say "FAIL: QEMU was killed from outside before CMD finished: $killed"
	elif grep -aq 'DRVREG-VM-START' "$log"; then
		say "FAIL: guest died before CMD finished (QEMU status $qrc)"
	else
		say "FAIL: guest died before CMD started (QEMU status $qrc; did it boot? see the log)"
	fi
	rc=125
else
	rc=$cmdrc
	say "CMD exited with status $cmdrc (guest ran ${secs} s)"
fi
say "console log: $log"
exit "$rc"

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a drvreg guest under QEMU (TCG) with this project's modules and kselftests, run
# a command in it as root and exit with that command's status.
#
#   CMD='modprobe drvreg && cat /sys/kernel/debug/drvreg/stats' scripts/vm.sh
#   VM_SHELL=1 scripts/vm.sh              interactive shell on the console (make vm-shell)
#
# Environment (all optional but CMD):
#   CMD              shell commands run by 'sh /cmd.sh' in the guest (may span lines)
#   KERNEL           a lane of scripts/lanes.conf (default base: 6.12 LTS)
#   KDIR             a built Rust-enabled kernel tree to use instead of the cached kernels
#   VM_CPUS          vCPUs, default 4;  VM_MEM  MiB of guest memory, default 1024
#   VM_TIMEOUT       seconds before a guest is declared hung and killed, default 900
#   VM_SPLAT_IDLE    seconds without console output after a kernel splat before the guest
#                    is declared stuck and killed, default 300
#   VM_BOOT_TIMEOUT  seconds until CMD must have started, else the boot hung (an
#                    infrastructure failure), default 240 times the lane's time factor
#   VM_EXPECT_SPLAT  1: a kernel splat is the expected outcome: exit 0 if one is seen,
#                    non-zero if none is
#   VM_APPEND        extra kernel command line
#   VM_LOG           console log path (default out/logs/vm-<kernel>-<timestamp>.log)
#   VM_ENV           'A=1 B=2': exported in the guest before CMD runs
#   SHARE            host folder copied into the image, read-only at /mnt/share
#   VM_PROJECT       0: leave out the project's modules and kselftests
#   VM_EXTRA_M       more module source folders (each with a Kbuild) to build and install
#                    (the harness self-test's oops module)
#   VM_RETRY         boots after an infrastructure failure, default 1 (0: count them, as
#                    make boots does)
#   VM_TSC           1: leave the TSC to the kernel (default 0: tsc=unstable, see below)
#   VM_INFRA_CRASH   1: the first boot loads scripts/harness/infra_crash.ko before CMD (a
#                    fault outside drvreg), to see it reported and retried
#
# In the guest: modules in /lib/modules/$(uname -r)/updates (modprobe NAME), kselftests in
# /kselftest (run_kselftest.sh), debugfs on /sys/kernel/debug, a tmpfs on /tmp,
# DRVREG_KERNEL=<kernel name>, and the CMD runs from /root.
#
# The console is streamed to stdout and saved in the log; drvreg's own messages go to
# stderr. /init prints 'DRVREG-VM-START: <release> cpus=<n>' before CMD and
# 'DRVREG-VM-EXIT: <status>' after it.
# Every kernel report in the console is classified by selftests/drvreg/splat.awk. A boot
# whose reports are all outside drvreg (no drvreg frame, no address in a freed drvreg
# module, or before CMD started), or that died or hung before CMD started, is an
# infrastructure failure: one 'drvreg: INFRA: ...' line with the first lines of the trace
# and the log, then one more boot (VM_RETRY); it never gives a verdict. Such a boot's log
# is kept as <log>-infra<n>.log: the log is always the boot that gave the verdict.
# Exit status: CMD's status; when something went wrong instead:
#   drvreg's kernel splat (oops, BUG:, WARNING:, KASAN, lockdep, UBSAN, panic, ...):
#       CMD's status if non-zero, else 1 (with VM_EXPECT_SPLAT=1: 0, and 1 if none seen)
#   guest hung past VM_TIMEOUT, or silent for VM_SPLAT_IDLE after a splat: 124
#       (0 with VM_EXPECT_SPLAT=1 if it splatted first);  guest died while CMD ran: 125;
#   infrastructure failure in every boot: 126;  bad input or build failure: 2
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# --- inputs ------------------------------------------------------------------------------
shell=${VM_SHELL:-}
[ -n "$shell" ] || [ -n "${CMD:-}" ] ||
	die "no command: use make vm CMD='...' (or make vm-shell for an interactive guest)"
[ -n "${KDIR:-}" ] || drvreg_check_kernel "${KERNEL:=base}"
isnum() { case "$2" in '' | *[!0-9]*) die "$1='$2' is not a positive number" ;; esac; [ "$2" -gt 0 ] || die "$1 must be at least 1"; }
VM_CPUS=${VM_CPUS:-4} VM_MEM=${VM_MEM:-1024} VM_TIMEOUT=${VM_TIMEOUT:-900}
# (A slow lane, KASAN's, boots slowly too: scripts/lanes.conf's time factor.)
boot_slow=1
[ -n "${KDIR:-}" ] || boot_slow=$(drvreg_lane "$KERNEL" slow)
VM_SPLAT_IDLE=${VM_SPLAT_IDLE:-300} VM_BOOT_TIMEOUT=${VM_BOOT_TIMEOUT:-$((240 * boot_slow))}
isnum VM_SPLAT_IDLE "$VM_SPLAT_IDLE"
isnum VM_BOOT_TIMEOUT "$VM_BOOT_TIMEOUT"
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
case "${VM_RETRY:-1}" in '' | *[!0-9]*) die "VM_RETRY='${VM_RETRY}' is not a number" ;; esac
case "${VM_INFRA_CRASH:-0}" in
0) ;;
1)
	# A fault outside drvreg in the first boot, before CMD: it must be retried, not judged.
	VM_EXTRA_M="${VM_EXTRA_M:-} $DRVREG_ROOT/scripts/harness"
	CMD='[ "${DRVREG_VM_BOOT:-1}" != 1 ] || modprobe infra_crash'$'\n'"${CMD:-}"
	;;
*) die "VM_INFRA_CRASH='$VM_INFRA_CRASH': expected 0 or 1" ;;
esac
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
# tsc=unstable: under TCG the clocksource watchdog sees the emulated TSC skew against the
# HPET and marks it unstable at a random moment ("sched_clock: Marking unstable"); that
# flips the __sched_clock_stable static key, whose int3-based live patching races other
# vCPUs' translated code (multi-threaded TCG, QEMU 7.2 and 10.0 alike): 'Oops: int3' in
# sched_clock_cpu, enqueue_task_fair, ktime_get_update_offsets_now. Marked unstable from
# the start, the key is never enabled (sched_clock_init_late) nor disabled. VM_TSC=1 keeps
# the kernel's default (to measure the difference: make boots).
case "${VM_TSC:-0}" in
0) clock="tsc=unstable" ;;
1) clock="" ;;
*) die "VM_TSC='$VM_TSC': expected 0 (tsc=unstable, the default) or 1" ;;
esac
append="console=ttyS0 panic=-1 oops=panic kasan_multi_shot loglevel=7 printk.time=1 $clock ${VM_APPEND:-}"
# la57=off: with 5-level paging, a KASAN kernel can report a bogus 'wild-memory-access'
# when an interrupt lands while identify_boot_cpu() has cleared the LA57 feature bit
# (seen once on a loaded host); 4-level paging has no such window.
qargs=(-nodefaults -no-reboot -cpu max,la57=off -smp "$VM_CPUS" -m "$VM_MEM" -kernel "$bz"
	-initrd "$img/initramfs.cpio.gz")

# --- boot --------------------------------------------------------------------------------
if [ -n "$shell" ]; then
	say "booting an interactive $kname guest ($VM_CPUS CPUs, TCG: slow); Ctrl-A X quits QEMU"
	set +e
	"$qemu" "${qargs[@]}" -append "$append" -display none -serial mon:stdio | tee "$log"
	set -e
	say "console log: $log"
	exit 0
fi

# The guest's command line also carries DRVREG_VM_BOOT=<n> (the kernel hands unknown
# NAME=value parameters to /init as environment): which boot of this run it is.
splat_kinds() {
	case "$1" in
	oops) echo "kernel oops" ;;
	kasan) echo "KASAN report" ;;
	kcsan) echo "KCSAN report" ;;
	ubsan) echo "UBSAN report" ;;
	lockdep) echo "lockdep report" ;;
	bug) echo "kernel BUG" ;;
	warning) echo "kernel WARNING" ;;
	panic) echo "kernel panic" ;;
	*) echo "kernel INFO report (stall, hung task or lockdep)" ;;
	esac
}
# Reports in the console log (selftests/drvreg/splat.awk); KCSAN reports not drvreg's are
# left out: 6.12's KCSAN sees the C side (kernfs, module refcounts, kthreads) and they
# neither crash the guest nor say anything about drvreg.
reports() { awk -v console=1 -f "$DRVREG_SPLAT" "$1" | awk -F'\t' '!($2 == "kcsan" && $3 == "infra")'; }

# A guest that splatted and then printed nothing for VM_SPLAT_IDLE seconds is stuck (say
# a deadlock after a lockdep report, or a report loop), and one that has not started CMD
# after VM_BOOT_TIMEOUT seconds hangs in boot: stop it instead of waiting for VM_TIMEOUT.
watch_stuck() {
	local last=-1 idle=0 size t=0
	while sleep 5; do
		t=$((t + 5))
		if [ "$t" -ge "$VM_BOOT_TIMEOUT" ] && ! grep -aq 'DRVREG-VM-START' "$log"; then
			: >"$img/bootstuck"
			kill "$(cat "$img/qemu.pid")"
			return
		fi
		[ -n "$(reports "$log" 2>/dev/null)" ] || continue
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

# boot_once: one boot, console in $log; sets qrc (QEMU's status), secs, interrupted.
boot_once() {
	local watcher
	rm -f "$img/stuck" "$img/bootstuck"
	: >"$log"
	watch_stuck </dev/null >/dev/null 2>&1 &
	watcher=$!
	start=$(date +%s)
	interrupted=""
	trap 'interrupted=1' INT TERM
	set +e
	timeout --foreground -k 10 "$VM_TIMEOUT" "$qemu" "${qargs[@]}" -append "$append DRVREG_VM_BOOT=$boot" \
		-pidfile "$img/qemu.pid" -display none -serial stdio -monitor none </dev/null 2>&1 |
		sed -u 's/\r$//' | tee "$log"
	qrc=${PIPESTATUS[0]}
	set -e
	secs=$(($(date +%s) - start))
	kill "$watcher" 2>/dev/null || true
	wait "$watcher" 2>/dev/null || true
	trap - INT TERM
}

# infra: prints why this boot's failure is the infrastructure's (a kernel fault outside
# drvreg, or a guest that died or hung before its command started), or nothing.
infra() {
	local first
	if [ -n "$rep" ]; then
		grep -q "$(printf '\tdrvreg\t')" <<<"$rep" && return
		first=$(head -n 1 <<<"$rep")
		IFS=$'\t' read -r _ k _ w h <<<"$first"
		if [ "$w" = boot ]; then
			echo "$(splat_kinds "$k") in boot, before CMD started: ${h#\[*\] }"
		else
			echo "$(splat_kinds "$k") with no drvreg frame: ${h#\[*\] }"
		fi
	elif ! grep -aq 'DRVREG-VM-START' "$log"; then
		if [ -e "$img/bootstuck" ]; then
			echo "guest hung in boot: CMD not started after ${VM_BOOT_TIMEOUT} s (VM_BOOT_TIMEOUT)"
		elif [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
			echo "guest hung in boot, before CMD started (killed after ${VM_TIMEOUT} s)"
		elif ! grep -aq 'terminating on signal' "$log"; then
			echo "guest died in boot, before CMD started (QEMU status $qrc)"
		fi
	fi
}

boots=$((1 + ${VM_RETRY:-1}))
boot=1
while :; do
	say "booting the $kname guest ($VM_CPUS CPUs, TCG, timeout ${VM_TIMEOUT}s) to run CMD$([ "$boot" = 1 ] || echo ", boot $boot of $boots")..."
	boot_once
	if [ -n "$interrupted" ]; then
		say "interrupted: QEMU stopped after ${secs} s"
		say "console log: $log"
		exit 130
	fi
	rep=$(reports "$log")
	why=$(infra)
	[ -n "$why" ] || break
	# One line, then the first lines of the trace: never a verdict. The boot's log moves
	# aside, so that VM_LOG is always the log of the boot that gave the verdict.
	mv "$log" "${log%.log}-infra$boot.log"
	say "INFRA: boot $boot of $boots failed outside drvreg: $why; console log: ${log%.log}-infra$boot.log"
	n=$(head -n 1 <<<"$rep" | cut -f1)
	[ -z "$n" ] || tail -n +"$n" "${log%.log}-infra$boot.log" | grep -a '^\[ *[0-9]*\.[0-9]*\] ' |
		grep -avE '\] (#PF|PGD|Code:|RSP|RAX|RDX|RBP|R1[0-5]|R[089]|FS|CS|CR2|DR[0-7]|Hardware name)' |
		head -n 6 | sed 's/^/drvreg:   | /' >&2
	if [ "$boot" -ge "$boots" ]; then
		say "FAIL: infrastructure failure in all $boots boot(s) (VM_RETRY=${VM_RETRY:-1}): no verdict"
		exit 126
	fi
	boot=$((boot + 1))
done

# --- verdict -----------------------------------------------------------------------------
# The first report of drvreg's names the run (an infrastructure-only log never gets here).
first=$(grep -m1 "$(printf '\tdrvreg\t')" <<<"$rep" || true)
splat="" kind="" where=""
if [ -n "$first" ]; then
	IFS=$'\t' read -r _ k _ where splat <<<"$first"
	kind=$(splat_kinds "$k")
fi
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
	else
		say "FAIL: guest died before CMD finished (QEMU status $qrc)"
	fi
	rc=125
else
	rc=$cmdrc
	say "CMD exited with status $cmdrc (guest ran ${secs} s)"
fi
[ -z "$splat" ] || say "the $kind is drvreg's: $where"
say "console log: $log"
exit "$rc"

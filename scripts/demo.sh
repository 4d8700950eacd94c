#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: the 2002 module-unload race and its fix, side by side, on an SMP guest.
#
# Two boots of the same kernel (4 vCPUs), the same load and the same race window:
#   racy   - Patrick Mochel's 2002 get_driver(): find the driver under the lock, drop it,
#            then read drv->owner and take the module reference. Expected: a fault in
#            freed module memory (oops, or KASAN on the debug kernel).
#   locked - the fix: list scan and try_module_get under the global driver lock.
#            Expected: no fault, and proof that the window was exercised: lookups refused
#            because the module was going, and rmmod refused because it was pinned.
# In both, the core runs stress workers looking up sample0 (lookup -> open -> release ->
# unpin) while an unload storm loads and unloads drvreg_sample.
#
# Environment:
#   DEMO_KERNEL     the kernel lane (or KERNEL=): distro (Debian's own kernel, the
#                   default when usable), base (6.12 LTS, self-built; the fallback), debug
#                   (KASAN + lockdep), latest (Debian's newest source, self-built)
#   DEMO_CYCLES     storm cycles per mode, default 2000, 1000 on distro (racy stops at
#                   the fault)
#   DEMO_SECONDS    also stop each storm after this many seconds (default: no limit)
#   DEMO_WINDOW_US  race window, default 2000 (base, latest), 10000 (distro: Debian's
#                   kernel frees a module more slowly than the small self-built ones;
#                   with 2000 the racy run took up to 90 s to fault) or 30000 (debug:
#                   KASAN and lockdep make rmmod's unregister-to-free path ten times longer)
#   DEMO_THREADS    stress workers, default 2
#   VM_CPUS         vCPUs, default 4
# The guests boot with rcupdate.rcu_expedited=1 (both modes): module unload waits for
# RCU grace periods, which take many milliseconds under TCG; expedited, rmmod finishes
# within a 2 ms window, so the racy run faults in seconds and the locked run is quick.
#
# Exits 0 only when racy faulted (RACE REPRODUCED) and locked stayed SAFE.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# By default the demo runs on Debian's own kernel, which needs no kernel build (a sid
# chroot has the compilers Debian used); if that lane is not usable, say why in one line
# and fall back to the self-built 6.12 kernel.
kernel=${DEMO_KERNEL:-${KERNEL:-}}
if [ -z "$kernel" ]; then
	say "the demo runs on Debian's own kernel when it can (sid chroot and Debian's headers: ~3 min the first time)"
	drvreg_setup vm
	if why=$("$DRVREG_ROOT/scripts/distro.sh" check); then
		kernel=distro
	else
		[ -n "$why" ] || why="distro lane unusable: the sid chroot or Debian's kernel tree could not be set up (see above)"
		say "$why; falling back to the self-built base kernel"
		kernel=base
	fi
fi
drvreg_check_kernel "$kernel"
# Build or prepare the kernel now, with its progress shown (the runs below filter the
# harness's output down to the demo's own lines).
KERNEL=$kernel drvreg_kdir >/dev/null
seconds=${DEMO_SECONDS:-0}
case "$kernel" in
debug) window=${DEMO_WINDOW_US:-30000} cycles=${DEMO_CYCLES:-2000} ;;
distro) window=${DEMO_WINDOW_US:-10000} cycles=${DEMO_CYCLES:-1000} ;;
*) window=${DEMO_WINDOW_US:-2000} cycles=${DEMO_CYCLES:-2000} ;;
esac
threads=${DEMO_THREADS:-2}
for v in "DEMO_CYCLES=$cycles" "DEMO_SECONDS=$seconds" "DEMO_WINDOW_US=$window" "DEMO_THREADS=$threads"; do
	case "${v#*=}" in '' | *[!0-9]*) die "$v is not a number" ;; esac
done
[ "$cycles" -gt 0 ] || die "DEMO_CYCLES must be at least 1"
[ "$window" -le 1000000 ] || die "DEMO_WINDOW_US must be at most 1000000"
[ "$threads" -ge 1 ] && [ "$threads" -le 16 ] || die "DEMO_THREADS must be 1..16"

outdir="$DRVREG_OUT/demo"
mkdir -p "$outdir"
if [ "$kernel" = debug ]; then timeout_s=3600; else timeout_s=900; fi

# The guest side: identical for both modes but for MODE.
guest_cmd() {
	cat <<GUEST
D=/sys/kernel/drvreg
modprobe drvreg allow_racy=1
echo $window > \$D/race_window_us
echo $threads > \$D/stress/threads
echo sample0 > \$D/stress/target
echo $1 > \$D/mode
echo "demo: mode=\$(cat \$D/mode) window_us=\$(cat \$D/race_window_us) threads=\$(cat \$D/stress/threads) cpus=\$(grep -c ^processor /proc/cpuinfo)"
echo 1 > \$D/stress/running
/kselftest/drvreg/unload_storm.sh -c $cycles -s $seconds -e $2 -S
rc=\$?
echo 0 > \$D/stress/running
sed 's/^/demo: stat /' \$D/stats
sed -n 's/^/demo: stress /p' \$D/stress/iterations
exit \$rc
GUEST
}

# run MODE EVERY EXPECT_SPLAT: boots the guest, prints the interesting lines live.
run() {
	local mode=$1 log="$outdir/$1-$kernel.log" rc
	say "booting the $kernel kernel for the $mode run ($cycles cycles max, window ${window} us, $threads workers)"
	set +e
	CMD="$(guest_cmd "$mode" "$2")" KERNEL=$kernel VM_LOG="$log" VM_TIMEOUT=$timeout_s \
		VM_APPEND="rcupdate.rcu_expedited=1 ${VM_APPEND:-}" VM_EXPECT_SPLAT=$3 \
		"$DRVREG_ROOT/scripts/vm.sh" 2>&1 | grep --line-buffered -E \
		"^(drvreg: |demo: mode)|storm: (start|done)|storm: .*cycle=[0-9]*(000|500) |BUG:|Oops:|RIP:" |
		sed -u "s/^/  $mode| /"
	rc=${PIPESTATUS[0]}
	set -e
	return "$rc"
}

# field LINE KEY: the value of KEY=VALUE in LINE.
field() { sed -n "s/.*[ :]$2=\([0-9.]*\).*/\1/p" <<<"$1"; }
# Kernel fault reports in a log.
faults() { grep -acE "BUG: (unable to handle|KASAN)|general protection fault" "$1" || true; }

racy_rc=0
run racy 1 1 || racy_rc=$?
locked_rc=0
run locked 250 0 || locked_rc=$?

rlog="$outdir/racy-$kernel.log" llog="$outdir/locked-$kernel.log"

# Racy: the last progress line before the fault tells how far it got.
# (the last complete one: a line cut short by the oops on the console is skipped)
rlast=$(grep -aE "storm: t=[0-9]+ cycle=[0-9]+ .* refused=[0-9]+$" "$rlog" | tail -n 1 || true)
rstart=$(grep -a "storm: start t=" "$rlog" | head -n 1 || true)
rfault=$(grep -anE "BUG: (unable to handle|KASAN)|general protection fault" "$rlog" | head -n 1 || true)
rfaults=$(faults "$rlog")
ttf=-
if [ -n "$rfault" ] && [ -n "$rstart" ]; then
	fault_t=$(sed -n 's/^[0-9]*:\[ *\([0-9]*\)\.\([0-9][0-9]\).*/\1\2/p' <<<"$rfault")
	start_t=$(field "$rstart" t)
	[ -n "$fault_t" ] && ttf=$(awk -v a="$fault_t" -v b="$start_t" 'BEGIN { printf "%.2f s", (a - b) / 100 }')
fi
rcycles=$(field "$rlast" cycle)
if [ -n "$rfault" ] && grep -aq "4racy6lookup" "$rlog"; then
	rverdict="RACE REPRODUCED"
elif [ -n "$rfault" ]; then
	rverdict="FAULT (not in the racy lookup)"
else
	rverdict="NOT REPRODUCED"
fi

# Locked: the final lines.
ldone=$(grep -a "storm: done" "$llog" | tail -n 1 || true)
lfaults=$(faults "$llog")
lstat() { sed -n "s/^demo: stat $1 //p" "$llog" | tail -n 1; }
lrefused=$(lstat refused)
lbusy=$(field "$ldone" busy)
if [ "$locked_rc" -eq 0 ] && [ "$lfaults" -eq 0 ] && [ -n "$ldone" ] &&
	[ "${lrefused:-0}" -gt 0 ] && [ "${lbusy:-0}" -gt 0 ]; then
	lverdict=SAFE
elif [ "$lfaults" -gt 0 ] || [ "$locked_rc" -ne 0 ]; then
	lverdict="UNSAFE (see $llog)"
else
	lverdict="NOT EXERCISED (no refusals)"
fi

echo
echo "drvreg demo on the $kernel kernel: $(grep -a -m1 'DRVREG-VM-START' "$llog" | sed 's/.*START: //'), window ${window} us, $threads stress workers"
printf '%-7s %7s %9s %9s %8s %7s %7s %14s  %s\n' mode cycles lookups hits refused busy faults time-to-fault verdict
printf '%-7s %7s %9s %9s %8s %7s %7s %14s  %s\n' racy "${rcycles:-0}" "$(field "$rlast" lookups)" \
	"$(field "$rlast" hits)" "$(field "$rlast" refused)" "$(field "$rlast" busy)" "$rfaults" "$ttf" "$rverdict"
printf '%-7s %7s %9s %9s %8s %7s %7s %14s  %s\n' locked "$(field "$ldone" cycles)" "$(lstat lookups)" \
	"$(lstat hits)" "${lrefused:--}" "${lbusy:--}" "$lfaults" - "$lverdict"
echo "(cycles: load-if-needed + one rmmod attempt; busy: rmmod refused with EAGAIN because a"
echo " lookup had the module pinned; refused: lookups refused because the module was going)"
if [ -n "$rfault" ]; then
	echo
	echo "racy fault report (first lines, full log: $rlog):"
	grep -aA14 -m1 -E "BUG: (unable to handle|KASAN)|general protection fault" "$rlog" |
		grep -aE "BUG|#PF|Oops|CPU:|RIP:|Read of|Write of|Call Trace|racy|lookup|stress" |
		grep -av "\]  ? " | head -n 10 | sed 's/^/  /'
fi
echo
if [ "$rverdict" = "RACE REPRODUCED" ] && [ "$lverdict" = SAFE ]; then
	echo "demo: RACE REPRODUCED with the 2002 lookup; SAFE with the driver lock"
	exit 0
fi
echo "demo: FAILED: racy: $rverdict; locked: $lverdict"
exit 1

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: the 2002 module-unload race and its fixes, side by side, on an SMP guest.
#
# Four lookup modes under the same load and the same race window, in two boots of the
# same kernel (4 vCPUs): racy alone first (it crashes the guest), then the three safe
# modes in one boot, one storm each, in sequence (the core reloaded between them, so each
# row's figures are its own storm's):
#   racy     - Patrick Mochel's 2002 get_driver(): find the driver under the lock, drop
#              it, then read drv->owner and take the module reference. Expected: a fault
#              in freed module memory (oops, or KASAN on the debug kernel).
#   locked   - Keith Owens' fix: list scan and try_module_get under the global driver
#              lock. Expected: no fault, and proof that the window was exercised: lookups
#              refused because the module was going, and rmmod refused because it was
#              pinned (busy).
#   rcu      - lockless RCU hash lookup, try_module_get on a live owner. Expected: as
#              locked.
#   twostage - the two-stage unload Keith Owens proposed in July 2002, with per-CPU counts
#              as Rusty Russell's module work made them: RCU lookup, per-CPU pins, no module
#              reference per lookup; unregister stops new lookups, then waits for the pins
#              in flight. Expected: no fault and lookups refused; rmmod is never refused
#              (busy 0 by design): it waits for the pins instead.
# In each, the core runs stress workers looking up sample0 (lookup -> open -> release ->
# unpin) while an unload storm loads and unloads drvreg_sample, whose sample0 sleeps
# DEMO_OPEN_US in open: a pin then lasts long enough for rmmod to meet it (unpinning
# takes no lock: without the sleep a pin lasts microseconds and busy stays near 0).
#
# Environment:
#   DEMO_KERNEL     the kernel lane (or KERNEL=; scripts/lanes.conf): debian-sid (Debian's
#                   own kernel) when usable, else base (6.12 LTS, self-built)
#   DEMO_CYCLES     storm cycles per mode (racy stops at the fault); default: the lane's
#                   'demo' column (racy and safe cycles: debian-sid's three safe storms in
#                   one boot take 10-15 s each)
#   DEMO_OPEN_US    sample0's sleep in open, microseconds, default a tenth of the window
#   DEMO_SECONDS    also stop each storm after this many seconds (default: no limit)
#   DEMO_WINDOW_US  race window; default: the lane's 'demo' column (2000 us on the small
#                   self-built kernels; 10000 on Debian's, whose kernel frees a module more
#                   slowly: with 2000 the racy run took up to 90 s to fault; 30000 on
#                   debug, where KASAN and lockdep make rmmod ten times longer)
#   DEMO_THREADS    stress workers, default 2
#   DEMO_TRACE_KB   trace buffer per CPU, KiB, default 16; 0: no tracing, no timelines
#   VM_CPUS         vCPUs, default 4
# The guests boot with rcupdate.rcu_expedited=1 (both boots): module unload waits for
# RCU grace periods, which take many milliseconds under TCG; expedited, rmmod finishes
# within a 2 ms window, so the racy run faults in seconds and the safe runs are quick.
#
# A kernel fault outside drvreg (the emulator's, or the kernel's before drvreg loads) is
# never a verdict: scripts/vm.sh names it as an infrastructure failure and boots again.
# RACE REPRODUCED needs the fault in the racy path: a frame of the racy lookup, or an
# address in the freed driver module's memory; the summary says which.
# Exits 0 only when racy faulted (RACE REPRODUCED) and every safe mode the core lists
# stayed SAFE.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# By default the demo runs on Debian's own kernel, which needs no kernel build (a sid
# chroot has the compilers Debian used); if that lane is not usable, say why in one line
# and fall back to the self-built 6.12 kernel.
kernel=${DEMO_KERNEL:-${KERNEL:-}}
if [ -z "$kernel" ]; then
	say "the demo runs on Debian's own kernel when it can (sid chroot and Debian's headers: ~3 min the first time)"
	kernel=debian-sid
	src=$(drvreg_lane "$kernel" kernel)
	# The lane's chroot (debootstrap and Debian's compilers, the longest part of a first
	# run) is made while the host's packages install: debootstrap first. A failure here
	# shows again in the check below, which then says why.
	drvreg_setup chroot
	"$DRVREG_ROOT/scripts/debian.sh" "${src#deb:}" root >/dev/null &
	chroot_pid=$!
	drvreg_setup vm
	wait "$chroot_pid" || true
	if ! why=$("$DRVREG_ROOT/scripts/distro.sh" "${src#deb:}" check); then
		[ -n "$why" ] || why="$kernel lane unusable: its chroot or Debian's kernel tree could not be set up (see above)"
		say "$why; falling back to the self-built base kernel"
		kernel=base
	fi
fi
drvreg_check_kernel "$kernel"
# Build or prepare the kernel now, with its progress shown (the runs below filter the
# harness's output down to the demo's own lines).
KERNEL=$kernel drvreg_kdir >/dev/null
seconds=${DEMO_SECONDS:-0}
# The lane's defaults: its 'demo' column in scripts/lanes.conf (window:racy:safe cycles).
IFS=: read -r dwindow dcycles dsafe <<<"$(drvreg_lane "$kernel" demo)"
window=${DEMO_WINDOW_US:-$dwindow} cycles=${DEMO_CYCLES:-$dcycles} safe_cycles=${DEMO_CYCLES:-$dsafe}
threads=${DEMO_THREADS:-2}
open_us=${DEMO_OPEN_US-}
for v in "DEMO_CYCLES=$cycles" "DEMO_SECONDS=$seconds" "DEMO_WINDOW_US=$window" "DEMO_THREADS=$threads" \
	${open_us:+"DEMO_OPEN_US=$open_us"}; do
	case "${v#*=}" in '' | *[!0-9]*) die "$v is not a number" ;; esac
done
[ -n "$open_us" ] || open_us=$((window / 10))
[ "$cycles" -gt 0 ] || die "DEMO_CYCLES must be at least 1"
[ "$window" -le 1000000 ] || die "DEMO_WINDOW_US must be at most 1000000"
[ "$open_us" -le 1000000 ] || die "DEMO_OPEN_US must be at most 1000000"
[ "$threads" -ge 1 ] && [ "$threads" -le 16 ] || die "DEMO_THREADS must be 1..16"

outdir="$DRVREG_OUT/demo"
mkdir -p "$outdir"
rm -f "$outdir"/timeline-*-"$kernel".svg
timeout_s=$((900 * $(drvreg_lane "$kernel" slow) ** 2))

# Tracing in the guests (scripts/timeline.py draws it): drvreg's trace events but
# drvreg_lookup_start, and drvreg_lookup_end only for lookups that found a driver (the
# workers' lookups of an unloaded module are fast and would flood the buffer); the module
# loader's module_load and module_free; the kernel page faults on kernel addresses
# (exceptions:page_fault_kernel: the racy lookup's fault itself); the storm's rmmod marks
# (unload_storm.sh -T); the global trace clock (ordered across CPUs). The ring buffer keeps
# the last DEMO_TRACE_KB KiB per CPU (0: no tracing): the events just before the racy
# run's fault (ftrace_dump_on_oops prints them on the console as the oops panics the
# guest), and those up to a safe storm's last unload, printed after it, each line prefixed
# 'DRVREG-TRACE <mode>: '.
trace_kb=${DEMO_TRACE_KB:-16}
case "$trace_kb" in '' | *[!0-9]*) die "DEMO_TRACE_KB=$trace_kb is not a number" ;; esac
trace_cmd() {
	cat <<GUEST
T=/sys/kernel/tracing
trace_kb=$trace_kb
GUEST
	cat <<'GUEST'
trace_on() {
	[ "$trace_kb" -gt 0 ] || return 1
	[ -d $T/events/drvreg ] || { echo "demo: no trace events here (tracefs or drvreg's events missing)"; return 1; }
	echo 0 >$T/tracing_on && echo >$T/trace && echo global >$T/trace_clock &&
		echo "$trace_kb" >$T/buffer_size_kb && echo 1 >$T/events/drvreg/enable &&
		echo 0 >$T/events/drvreg/drvreg_lookup_start/enable &&
		echo 'err != -2' >$T/events/drvreg/drvreg_lookup_end/filter &&
		echo 1 >$T/events/module/module_load/enable && echo 1 >$T/events/module/module_free/enable ||
		return 1
	f=$T/events/exceptions/page_fault_kernel
	[ ! -d $f ] || { echo 'address >= 0xffffffff80000000' >$f/filter && echo 1 >$f/enable; }
	echo 1 >$T/tracing_on
}
# trace_dump MODE: the trace, each line prefixed 'DRVREG-TRACE MODE: '; tracing stopped.
trace_dump() {
	[ "$trace_kb" -gt 0 ] && [ -d $T/events/drvreg ] || return 0
	echo 0 >$T/tracing_on
	grep -v '^#' $T/trace | sed "s/^/DRVREG-TRACE $1: /"
	echo 0 >$T/events/drvreg/enable
}
GUEST
}

# The racy guest: the core with allow_racy=1, racy mode, one storm with a progress line
# every cycle (the last one before the fault tells how far it got). A fault that does not
# panic the guest (a KASAN report) leaves the storm running: its trace is printed after.
racy_cmd() {
	trace_cmd
	cat <<GUEST
D=/sys/kernel/drvreg
DBG=/sys/kernel/debug/drvreg
modprobe drvreg allow_racy=1
trace_on && echo 1 >/proc/sys/kernel/ftrace_dump_on_oops
echo $window > \$DBG/race_window_us
echo $threads > \$DBG/stress/threads
echo sample0 > \$DBG/stress/target
echo racy > \$D/mode
echo "demo: mode=\$(sed -n 's/.*\[\(.*\)\].*/\1/p' \$D/mode) window_us=\$(cat \$DBG/race_window_us) threads=\$(cat \$DBG/stress/threads) cpus=\$(grep -c ^processor /proc/cpuinfo)"
echo 1 > \$DBG/stress/running
/kselftest/drvreg/unload_storm.sh -c $cycles -s $seconds -e 1 -S -T -p delay_us=$open_us
rc=\$?
echo 0 > \$DBG/stress/running
trace_dump racy
exit \$rc
GUEST
}

# The safe guest: for each safe mode, a fresh core (no allow_racy) in that mode, one
# storm, the stats after it ('demo: <mode> stat <key> <value>'), then the core unloaded.
# 'demo: run <mode>' starts a mode's part of the log.
safe_cmd() {
	trace_cmd
	cat <<GUEST
D=/sys/kernel/drvreg
DBG=/sys/kernel/debug/drvreg
rc=0
# The safe modes, as the core lists them when loaded without allow_racy=1.
modes=\$(modprobe drvreg && tr -d '[]' <\$D/mode && rmmod drvreg) || exit 1
echo "demo: modes \$modes"
for m in \$modes; do
	echo "demo: run \$m"
	modprobe drvreg || rc=1
	echo $window > \$DBG/race_window_us
	echo $threads > \$DBG/stress/threads
	echo sample0 > \$DBG/stress/target
	echo \$m > \$D/mode || rc=1
	echo "demo: mode=\$(sed -n 's/.*\[\(.*\)\].*/\1/p' \$D/mode) window_us=\$(cat \$DBG/race_window_us) threads=\$(cat \$DBG/stress/threads) cpus=\$(grep -c ^processor /proc/cpuinfo)"
	trace_on
	echo 1 > \$DBG/stress/running
	/kselftest/drvreg/unload_storm.sh -c $safe_cycles -s $seconds -e 100 -S -T -p delay_us=$open_us || rc=1
	trace_dump \$m
	echo 0 > \$DBG/stress/running
	sed "s/^/demo: \$m stat /" \$DBG/stats
	sed -n "s/^/demo: \$m stress /p" \$DBG/stress/iterations
	rmmod drvreg_sample 2>/dev/null
	rmmod drvreg || { echo "demo: \$m: the core would not unload"; rc=1; }
done
GUEST
	[ -z "$misc_rows" ] || misc_cmd misc-owner
	echo 'exit $rc'
}

# The misc device rows (7.x: the kernel's kernel::miscdevice; samples/drvreg_misc*.rs).
# misc_cmd ROW: the guest command of one row. It logs the module's memory for the splat
# classifier (DRVREG-MODMAP: each section's address and the module's size), then:
#   misc-upstream, misc-owner: open /dev/drvreg-misc (upstream's registration, or drvreg's
#     with owner=1), rmmod with the file open; if rmmod succeeds, read the open file
#     (on a kernel whose registration leaves fops.owner NULL, that runs freed code);
#     else read, close, and rmmod again;
#   misc-selfpin: a process opens /dev/drvreg-misc-selfpin and closes it, while rmmod is
#     retried until it succeeds: the self-pin's release sleeps misc_window us after its
#     module_put, in code rmmod can then free: 200 ms, times the lane's time factor
#     squared (on the KASAN kernel rmmod took longer than 200 ms: the release returned
#     before the module was freed, and the row read SAFE on 7.2).
misc_window=${DEMO_MISC_WINDOW_US:-$((200000 * $(drvreg_lane "$kernel" slow) ** 2))}
case "$misc_window" in '' | *[!0-9]*) die "DEMO_MISC_WINDOW_US=$misc_window is not a number" ;; esac
[ "$misc_window" -le 1000000 ] || die "DEMO_MISC_WINDOW_US must be at most 1000000"
misc_cmd() {
	local m=drvreg_misc dev=drvreg-misc load="modprobe drvreg_misc"
	case "$1" in
	misc-owner) load="modprobe drvreg_misc owner=1" ;;
	misc-selfpin) m=drvreg_misc_selfpin dev=drvreg-misc-selfpin load="modprobe drvreg_misc_selfpin race_window_us=$misc_window" ;;
	esac
	cat <<GUEST
echo "demo: run $1"
$load || exit 1
size=\$(awk '\$1 == "$m" { print \$2 }' /proc/modules)
for s in /sys/module/$m/sections/.*; do
	[ -f "\$s" ] && echo "DRVREG-MODMAP: $m \$(cat "\$s") \$size"
done
GUEST
	if [ "$1" = misc-selfpin ]; then
		cat <<GUEST
( exec 3</dev/$dev && echo "demo: misc opened, refcnt \$(cat /sys/module/$m/refcnt)" && sleep 0.2 ) &
# Once the file is open (its own pin, and the kernel's on 7.3+), retry rmmod until it works.
n=0
while [ "\$(cat /sys/module/$m/refcnt)" = 0 ] && [ \$n -lt 500 ]; do sleep 0.01; n=\$((n + 1)); done
n=0
while ! rmmod $m 2>/dev/null; do
	n=\$((n + 1))
	[ \$n -lt 20000 ] || { echo "demo: misc rmmod still refused after \$n tries"; break; }
done
[ -d /sys/module/$m ] || echo "demo: misc rmmod succeeded after \$n refusals"
wait
sleep 1
echo "demo: misc done"
GUEST
	else
		cat <<GUEST
exec 3</dev/$dev
echo "demo: misc opened, refcnt \$(cat /sys/module/$m/refcnt)"
# (rmmod without fd 3: a child that inherited the file would flush it at its exit.)
if out=\$(rmmod $m 2>&1 3<&-); then
	echo "demo: misc rmmod succeeded with the file open; reading it"
	head -n 1 <&3
	echo "demo: misc read done"
else
	echo "demo: misc rmmod refused while open: \$out"
	echo "demo: misc read: \$(head -n 1 <&3)"
	exec 3<&-
	rmmod $m && echo "demo: misc unloaded after the close"
fi
echo "demo: misc done"
GUEST
	fi
}

# run NAME CMD LIVE EXPECT_SPLAT: boots the guest, prints the lines matching LIVE as they come.
run() {
	local name=$1 log="$outdir/$1-$kernel.log" rc
	say "booting the $kernel kernel for the $name run, window ${window} us, $threads workers"
	set +e
	CMD="$2" KERNEL=$kernel VM_LOG="$log" VM_TIMEOUT=$timeout_s \
		VM_APPEND="rcupdate.rcu_expedited=1 ${VM_APPEND:-}" VM_EXPECT_SPLAT=$4 \
		"$DRVREG_ROOT/scripts/vm.sh" 2>&1 | grep --line-buffered -aE "$3|^selftests/" | sed -u "s/^/  $name| /"
	rc=${PIPESTATUS[0]}
	set -e
	return "$rc"
}

# field LINE KEY: the value of KEY=VALUE in LINE.
field() { sed -n "s/.*[ :]$2=\([0-9.]*\).*/\1/p" <<<"$1"; }
# drvreg's kernel reports in a console log, one per line (selftests/drvreg/splat.awk); an
# infrastructure failure was retried by vm.sh and never reaches this.
drvreg_reports() { awk -v console=1 -f "$DRVREG_SPLAT" "$1" | grep "$(printf '\tdrvreg\t')" || true; }

# The misc rows need the kernel's Rust miscdevice (7.x); its registration sets fops.owner
# from 7.3 on ("rust: miscdevice: set fops.owner from driver module pointer").
release=$(drvreg_release "$(KERNEL=$kernel drvreg_kdir 2>/dev/null)")
kv=${release%%[!0-9.]*}
kmajor=${kv%%.*} kminor=${kv#*.}
kminor=${kminor%%.*}
misc_rows="" misc_note="no misc rows: $release has no Rust miscdevice (7.x has)"
if [ "$kmajor" -ge 7 ]; then
	misc_rows="misc-upstream misc-selfpin misc-owner"
	if [ $((kmajor * 100 + kminor)) -ge 703 ]; then
		misc_expect=SAFE misc_note="$release: the kernel's MiscDeviceRegistration sets fops.owner (the 7.3 fix)"
	else
		misc_expect="RACE REPRODUCED" misc_note="$release: the kernel's MiscDeviceRegistration leaves fops.owner NULL (Rust-for-Linux #1182)"
	fi
fi

say "racy: up to $cycles cycles; then the safe modes: $safe_cycles cycles each, in one boot${misc_rows:+; then $misc_rows}"
racy_rc=0
run racy "$(racy_cmd)" "^(drvreg: |demo: mode)|storm: (start|done)|storm: .*cycle=[0-9]*(000|500) |BUG:|Oops:|RIP:" 1 ||
	racy_rc=$?
# vm.sh's status 2: no guest at all (bad input, a build or image failure): nothing to judge.
[ "$racy_rc" != 2 ] || die "the racy run could not start a guest (see the lines above; the full output: KERNEL=$kernel make vm CMD=true)"
# The two rows that may free a module under running code: a boot each, beside the safe
# run (their guests idle but for a few commands, and their fault needs no race: only the
# racy run wants the host to itself), judged from its log (vm.sh's own verdict is not the
# row's: a fault is what 7.2 should show).
mpids=()
for r in $misc_rows; do
	[ "$r" != misc-owner ] || continue
	run "$r" "$(misc_cmd "$r")" "^(drvreg: (INFRA|console)|demo: misc)|BUG:|Oops:|RIP:" 0 &
	mpids+=($!)
done
safe_rc=0
run safe "$(safe_cmd)" "^(drvreg: |demo: mode|demo: misc)|storm: (start|done)|storm: .*cycle=[0-9]*00 |BUG:|Oops:|RIP:|WARNING:|demo: .*would not" 0 ||
	safe_rc=$?
for p in "${mpids[@]}"; do wait "$p" || true; done

rlog="$outdir/racy-$kernel.log" slog="$outdir/safe-$kernel.log"

# Racy: the last progress line before the fault tells how far it got.
# (the last complete one: a line cut short by the oops on the console is skipped)
rlast=$(grep -aE "storm: t=[0-9]+ cycle=[0-9]+ .* refused=[0-9]+$" "$rlog" | tail -n 1 || true)
rstart=$(grep -a "storm: start t=" "$rlog" | head -n 1 || true)
rreports=$(drvreg_reports "$rlog")
rfaults=$(grep -c . <<<"$rreports" || true)
IFS=$'\t' read -r rline _ _ rwhere rfault <<<"$(head -n 1 <<<"$rreports")"
ttf=-
if [ -n "$rfault" ] && [ -n "$rstart" ]; then
	fault_t=$(sed -n 's/^\[ *\([0-9]*\)\.\([0-9][0-9]\).*/\1\2/p' <<<"$rfault")
	start_t=$(field "$rstart" t)
	[ -n "$fault_t" ] && ttf=$(awk -v a="$fault_t" -v b="$start_t" 'BEGIN { printf "%.2f s", (a - b) / 100 }')
fi
rcycles=$(field "$rlast" cycle)
# The fault must be in the racy path: a frame of the racy lookup, or an address in the
# memory of the driver module it read after that module was freed.
case "$rwhere" in
"") ;;
*racy6lookup* | *racy::lookup* | "freed drvreg_sample memory") rverdict="RACE REPRODUCED" ;;
*) rverdict="FAULT (not in the racy lookup: $rwhere)" ;;
esac
if [ -z "$rfault" ]; then
	rverdict="NOT REPRODUCED"
fi

# The safe modes: each one's part of the safe log, from its 'demo: run' line to the next.
segment() { awk -v m="$1" '/demo: run / { on = ($0 ~ ("demo: run " m "$")) } on' "$slog" 2>/dev/null | tr -d '\r'; }
# Splats: every kernel report (selftests/drvreg/splat.awk), from standard input.
splats() { awk -f "$DRVREG_SPLAT" | grep -c . || true; }
safe_modes=$(sed -n 's/^demo: modes //p' "$slog" 2>/dev/null | tr -d '\r' | head -n 1)
[ -n "$safe_modes" ] || safe_modes="none-listed"
declare -A row verdict
for m in $safe_modes; do
	seg=$(segment "$m")
	done_line=$(grep -a "storm: done" <<<"$seg" | tail -n 1 || true)
	st() { sed -n "s/^demo: $m stat $1 //p" <<<"$seg" | tail -n 1; }
	actual=$(sed -n 's/^demo: mode=\([a-z]*\) .*/\1/p' <<<"$seg" | head -n 1)
	refused=$(st refused) busy=$(field "$done_line" busy)
	errors=$(field "$done_line" errors) nsplat=$(splats <<<"$seg")
	row[$m]=$(printf '%-8s %7s %9s %9s %8s %7s %7s %14s' "$m" "$(field "$done_line" cycles)" \
		"$(st lookups)" "$(st hits)" "${refused:--}" "${busy:--}" "$nsplat" -)
	if [ -z "$seg" ]; then
		v="NOT RUN (see $slog)"
	elif [ "$nsplat" -gt 0 ]; then
		v="UNSAFE (kernel fault or warning, see $slog)"
	elif [ "$actual" != "$m" ]; then
		v="NOT RUN (the mode is '$actual', not $m)"
	elif [ -z "$done_line" ]; then
		v="STORM NOT DONE (see $slog)"
	elif [ "${errors:-1}" != 0 ]; then
		v="STORM ERRORS ($errors, see $slog)"
	elif [ "${refused:-0}" -eq 0 ]; then
		v="NOT EXERCISED (no lookup refused)"
	elif [ "$m" = twostage ] && [ "${busy:-0}" -ne 0 ]; then
		v="UNEXPECTED (rmmod refused $busy times: a pin held a module reference)"
	elif [ "$m" != twostage ] && [ "${busy:-0}" -eq 0 ]; then
		v="NOT EXERCISED (rmmod never refused)"
	else
		v=SAFE
	fi
	verdict[$m]=$v
done
# A guest that failed otherwise (a hang, the core not unloading, ...) fails the safe rows
# that look fine.
if [ "$safe_rc" -ne 0 ]; then
	for m in $safe_modes; do
		[ "${verdict[$m]}" != SAFE ] || verdict[$m]="FAILED (guest exit $safe_rc, see $slog)"
	done
fi

# misc_verdict ROW LOG: the row's verdict from its part of LOG ('demo: run ROW' onwards).
declare -A mverdict mrmmod mfaults
misc_verdict() {
	local r=$1 seg rep m=drvreg_misc
	[ "$r" != misc-selfpin ] || m=drvreg_misc_selfpin
	seg=$(awk -v r="$r" '/demo: run / { on = ($0 ~ ("demo: run " r "$")) } on' "$2" 2>/dev/null | tr -d '\r')
	rep=$(awk -f "$DRVREG_SPLAT" <<<"$seg" | grep "$(printf '\tdrvreg\t')" || true)
	mfaults[$r]=$(grep -c . <<<"$rep" || true)
	IFS=$'\t' read -r _ _ _ where _ <<<"$(head -n 1 <<<"$rep")"
	mrmmod[$r]=-
	if grep -q 'demo: misc rmmod refused while open' <<<"$seg"; then
		mrmmod[$r]="refused (in use)"
	elif grep -q 'demo: misc rmmod succeeded with the file open' <<<"$seg"; then
		mrmmod[$r]="succeeded"
	elif grep -q 'demo: misc rmmod succeeded after' <<<"$seg"; then
		mrmmod[$r]="succeeded after $(sed -n 's/.*succeeded after \([0-9]*\) refusals.*/\1/p' <<<"$seg") refusals"
	fi
	if [ -z "$seg" ]; then
		mverdict[$r]="NOT RUN (see $2)"
	elif [ -n "$rep" ]; then
		case "$where" in
		*"freed $m memory"* | *"[$m]"*) mverdict[$r]="RACE REPRODUCED ($where)" ;;
		*) mverdict[$r]="FAULT (not in $m: $where)" ;;
		esac
	elif grep -qE 'demo: misc (unloaded after the close|rmmod succeeded after)' <<<"$seg" &&
		grep -q 'demo: misc done' <<<"$seg"; then
		mverdict[$r]=SAFE
	else
		mverdict[$r]="NOT FINISHED (see $2)"
	fi
}
for r in $misc_rows; do
	if [ "$r" = misc-owner ]; then misc_verdict "$r" "$slog"; else misc_verdict "$r" "$outdir/$r-$kernel.log"; fi
done

# The timelines (scripts/timeline.py): each row's trace as an SVG, the racy row's last
# events before the fault as text, and one METRIC line per row (its events in the order
# the mode promises). Informational: the rows' verdicts above do not depend on them.
timelines=$(
	python3 "$DRVREG_ROOT/scripts/timeline.py" --log "$rlog" --mode racy --kernel "$kernel" \
		--svg "$outdir/timeline-racy-$kernel.svg" || true
	for m in $safe_modes; do
		python3 "$DRVREG_ROOT/scripts/timeline.py" --log "$slog" --mode "$m" --kernel "$kernel" \
			--svg "$outdir/timeline-$m-$kernel.svg" | grep -a '^# METRIC' || true
	done
)

ok=1
[ "$rverdict" = "RACE REPRODUCED" ] || ok=""
for r in $misc_rows; do
	want=$misc_expect
	[ "$r" != misc-owner ] || want=SAFE
	[[ "${mverdict[$r]}" == "$want"* ]] || ok=""
done
for m in $safe_modes; do [ "${verdict[$m]}" = SAFE ] || ok=""; done
# The summary, also kept in out/demo/summary-<kernel>.txt (with the demo's wall time) for
# scripts/doc-numbers.py, which quotes it in README.md and Documentation/drvreg.rst.
{
	echo
	echo "drvreg demo on the $kernel kernel: $(cat "$slog" "$rlog" 2>/dev/null | grep -a -m1 'DRVREG-VM-START' | sed 's/.*START: //'), window ${window} us, open ${open_us} us, $threads stress workers"
	printf '%-8s %7s %9s %9s %8s %7s %7s %14s  %s\n' mode cycles lookups hits refused busy faults time-to-fault verdict
	printf '%-8s %7s %9s %9s %8s %7s %7s %14s  %s\n' racy "${rcycles:-0}" "$(field "$rlast" lookups)" \
		"$(field "$rlast" hits)" "$(field "$rlast" refused)" "$(field "$rlast" busy)" "$rfaults" "$ttf" "$rverdict"
	for m in $safe_modes; do
		printf '%s  %s\n' "${row[$m]}" "${verdict[$m]}"
	done
	echo "(cycles: load-if-needed + one rmmod attempt; refused: lookups refused because the module"
	echo " was going; busy: rmmod refused with EAGAIN because a lookup had the module pinned, 0 in"
	echo " twostage, whose rmmod waits for the pins instead; faults: kernel faults and warnings)"
	echo
	echo "misc device rows: $misc_note"
	if [ -n "$misc_rows" ]; then
		printf '%-14s %-28s %6s  %s\n' row "rmmod with the file open" faults verdict
		for r in $misc_rows; do
			printf '%-14s %-28s %6s  %s\n' "$r" "${mrmmod[$r]}" "${mfaults[$r]}" "${mverdict[$r]}"
		done
		echo "(misc-upstream: the kernel's MiscDeviceRegistration; misc-selfpin: the same with"
		echo " try_module_get(THIS_MODULE) in open, module_put in release; misc-owner: drvreg's"
		echo " OwnedMiscRegistration. Expected here: misc-upstream and misc-selfpin $misc_expect,"
		echo " misc-owner SAFE.)"
		inuse=$(sed -n 's/.*demo: misc rmmod refused while open: //p' "$slog" | tr -d '\r' | head -n 1)
		[ -z "$inuse" ] || echo "rmmod of the module with drvreg's registration, its file open: $inuse"
		for r in misc-upstream misc-selfpin; do
			case "${mverdict[$r]}" in
			"RACE REPRODUCED"*)
				l="$outdir/$r-$kernel.log"
				n=$(awk -v console=1 -f "$DRVREG_SPLAT" "$l" | grep "$(printf '\tdrvreg\t')" | head -n 1 | cut -f1)
				echo "$r fault (first lines, full log: ${l#"$DRVREG_ROOT"/}):"
				sed -n "$n,\$p" "$l" | grep -a -m 4 -E 'BUG|Oops|RIP:|Comm:' | sed 's/^/  /'
				;;
			esac
		done
	fi
	echo
	echo "$timelines"
	pics=""
	for m in racy $safe_modes; do
		[ ! -f "$outdir/timeline-$m-$kernel.svg" ] || pics+=" ${outdir#"$DRVREG_ROOT"/}/timeline-$m-$kernel.svg"
	done
	[ -z "$pics" ] || echo "timelines:$pics"
	if [ -n "$rfault" ]; then
		echo
		echo "racy fault report: in $rwhere (first lines, full log: $rlog):"
		sed -n "${rline},$((rline + 14))p" "$rlog" |
			grep -aE "BUG|#PF|Oops|CPU:|RIP:|Read of|Write of|Call Trace|racy|lookup|stress" |
			grep -av "\]  ? " | head -n 10 | sed 's/^/  /'
	fi
	echo
	if [ -n "$ok" ]; then
		echo "demo: RACE REPRODUCED with the 2002 lookup; SAFE with the driver lock, RCU and two-stage${misc_rows:+; misc device: upstream and self-pin $misc_expect, drvreg registration SAFE}"
	else
		echo "demo: FAILED: racy: $rverdict$(for m in $safe_modes; do printf '; %s: %s' "$m" "${verdict[$m]:-NOT RUN}"; done)$(for r in $misc_rows; do printf '; %s: %s' "$r" "${mverdict[$r]}"; done)"
	fi
	echo "demo: took $SECONDS s"
} | tee "$outdir/summary-$kernel.txt"
[ -n "$ok" ]

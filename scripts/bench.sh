#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: how much a lookup costs in each lookup mode, and how it scales with threads
# and with the number of registered drivers; then the report (scripts/bench-report.py).
#
#   scripts/bench.sh [--short]
#
# Boots one guest (scripts/vm.sh) that runs scripts/bench-guest.sh: BENCH_RUNS runs, each
# over every cell (mode x threads x drivers 1, 100, 10000 x target same/spread; modes
# interleaved, the kernel's designs srcu and percpu-ref among them), through
# /sys/kernel/debug/drvreg/bench; drvreg_many provides the drivers and its load/unload
# times the registration figures, bench/designs the designs' ones. Saves the console log as
# out/bench/console-<kernel>.log, then prints the report and writes out/bench/report.txt
# and the plots (out/bench/*.svg, with gnuplot).
#
# Environment:
#   KERNEL         base (default) for timings; debug: a short correctness run (KASAN and
#                  lockdep make its timings meaningless); KDIR= a kernel of your own
#   BENCH_RUNS     runs, default 5 (each cell's figure is the median over runs)
#   BENCH_THREADS  thread counts, default "1 2"; counts above VM_CPUS are labelled
#                  oversubscribed in the report ("1 2 4")
#   VM_CPUS        vCPUs, default 2 (the host has 2 cores: more would oversubscribe it)
#   VM_TIMEOUT     seconds, default from the number of cells
#   LOOPS          a fixed loop count for every cell instead of the calibrated ones
#   BENCH_CELL_MS  target time of one cell, default 300 (short run: 30)
# --short (or KERNEL=debug): 1 run, drivers 1 and 100, 30 ms cells.
#
# Exit status: 0 when the guest ran every cell without error and the report is complete;
# the goals and the validity check are reported, not enforced. 2 on bad input; otherwise
# vm.sh's failure status (a splat, a guest that died or hung) or the report's (1: a cell
# missing or counting lookup errors).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

short=""
case "${1:-}" in
"") ;;
--short) short=1 ;;
*) die "usage: scripts/bench.sh [--short]" ;;
esac
if [ -n "${KDIR:-}" ]; then
	kernel=$(drvreg_kname)
else
	kernel=${KERNEL:-base}
	drvreg_check_kernel "$kernel"
	# Timings mean something on base only; a slow lane (KASAN: debug) gives a short
	# correctness run (scripts/lanes.conf).
	if [ "$(drvreg_lane "$kernel" slow)" != 1 ]; then
		short=1
	elif [ "$kernel" != base ]; then
		die "make bench times the base kernel (KERNEL=debug: a short correctness run), not KERNEL=$kernel"
	fi
fi
runs=${BENCH_RUNS:-5}
threads=${BENCH_THREADS:-1 2}
export VM_CPUS=${VM_CPUS:-2}
isnum() { [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "$1='$2' is not a positive number"; }
isnum BENCH_RUNS "$runs"
isnum VM_CPUS "$VM_CPUS"
[ -z "${LOOPS:-}" ] || isnum LOOPS "$LOOPS"
[ -z "${BENCH_CELL_MS:-}" ] || isnum BENCH_CELL_MS "$BENCH_CELL_MS"
nthreads=0
for t in $threads; do
	isnum "a thread count in BENCH_THREADS" "$t"
	[ "$t" -le 64 ] || die "BENCH_THREADS: $t threads: the bench runs 64 at most"
	nthreads=$((nthreads + 1))
done
[ "$nthreads" -gt 0 ] || die "BENCH_THREADS is empty"
over=""
for t in $threads; do [ "$t" -le "$VM_CPUS" ] || over+=" $t"; done

# Build or find the kernel now, with its progress shown (the guest's output below is
# filtered down to the bench's own lines).
KERNEL=${KERNEL:-base} drvreg_kdir >/dev/null

outdir="$DRVREG_OUT/bench"
share="$outdir/share"
log="$outdir/console-$kernel.log"
# vm.sh's whole output (module build included): shown filtered, kept for a failure.
vmout="$outdir/vm-$kernel.out"
rm -rf "$share"
mkdir -p "$share"
rm -f "$outdir"/*.svg "$outdir"/*.dat "$outdir"/*.gp "$outdir/report.txt"
cp "$DRVREG_ROOT/scripts/bench-guest.sh" "$share/"

args=""
if [ -n "$short" ]; then
	args="--short --threads '$threads'"
	runs=1
	drivers=2
else
	args="--runs $runs --threads '$threads'"
	drivers=3
fi
# Modes: the guest reads them from bench/modes (rust/bench.rs, Kind::all); their number
# here only sizes the timeout and the progress line.
nmodes=8
cells=$((drivers * nthreads * 2 * nmodes))
# A cell takes ~0.5 s with its overheads, its calibration as much again; a slow lane's
# (KASAN: debug) are ten times slower, its module loads too; the designs' one-by-one
# unregistrations take a grace period per record (some 3 min in run 1, 20 s in the
# others). Generous: a hang is the only thing this catches.
if [ -z "${KDIR:-}" ] && [ "$(drvreg_lane "$kernel" slow)" != 1 ]; then
	timeout_s=$((1800 + cells * 20))
else
	timeout_s=$((600 + (runs + 1) * cells * 2))
fi
envs=""
for v in LOOPS BENCH_CELL_MS; do
	[ -z "${!v:-}" ] || envs+=" $v=${!v}"
done

mode="$runs run(s) of $cells cells, threads '$threads'"
[ -z "$short" ] || mode="a short correctness run ($cells cells, threads '$threads')"
say "bench on the $kernel kernel, $VM_CPUS vCPUs: $mode${over:+ (oversubscribed:$over)}"
say "console log: $log"
# The guest's vCPUs are host threads: anything else running on the host takes CPU time
# from them and spoils the timings (most of all the 2-thread ones). Measure how much the
# rest of the host used while the bench ran: host busy time minus this script's children.
host_cpu() { # busy and steal seconds of the whole host (/proc/stat, clock ticks)
	awk -v hz="$(getconf CLK_TCK)" '/^cpu / { printf "%.2f %.2f\n", ($2 + $3 + $4 + $7 + $8) / hz, $9 / hz }' /proc/stat
}
# own_cpu VAR: CPU seconds of this script's finished children (vm.sh, QEMU, the build)
# into VAR ('times' in this shell: a $(...) subshell has no children of its own).
own_cpu() {
	times >"$outdir/.times"
	printf -v "$1" '%s' "$(awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] }; printf "%.2f\n", t }' "$outdir/.times")"
}
own0=0 own1=0
read -r busy0 steal0 < <(host_cpu)
own_cpu own0
t0=$(date +%s.%N)

rc=0
set +e
SHARE="$share" CMD="sh /mnt/share/bench-guest.sh $args" VM_ENV="${envs# }" VM_LOG="$log" \
	VM_TIMEOUT="${VM_TIMEOUT:-$timeout_s}" VM_EXPECT_SPLAT="" "$DRVREG_ROOT/scripts/vm.sh" 2>&1 |
	tee "$vmout" | grep -a --line-buffered -E \
	"^(drvreg: |bench: )|BUG:|Oops|WARNING:|RIP:|Kernel panic|Call Trace:|error(\[|:)" |
	grep -av "^drvreg: console log:"
rc=${PIPESTATUS[0]}
set -e
read -r busy1 steal1 < <(host_cpu)
own_cpu own1
rm -f "$outdir/.times"
# Others' share of the host's CPUs, in %, over the guest's run.
others=$(awk -v b="$busy1" -v b0="$busy0" -v o="$own1" -v o0="$own0" -v s="$steal1" -v s0="$steal0" \
	-v t="$(date +%s.%N)" -v t0="$t0" -v n="$(nproc)" 'BEGIN {
	x = ((b - b0) - (o - o0)) / ((t - t0) * n) * 100; if (x < 0) x = 0
	printf "%.0f %.0f\n", x, (s - s0) / ((t - t0) * n) * 100 }')
read -r others steal <<<"$others"
hostnote="other processes used ${others}% of the host's $(nproc) CPUs during the bench (hypervisor steal: ${steal}%)"
say "$hostnote"
[ "$rc" = 0 ] || say "the bench guest failed (vm.sh exit status $rc; its whole output: $vmout): the report below may be incomplete"

report_rc=0
if [ -s "$log" ]; then
	echo
	python3 "$DRVREG_ROOT/scripts/bench-report.py" --out "$outdir" --note "$hostnote" "$log" ||
		report_rc=$?
else
	report_rc=2
fi
say "console log: $log"
[ "$rc" = 0 ] || exit "$rc"
exit "$report_rc"

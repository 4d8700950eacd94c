#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# drvreg lookup benchmark, guest side (busybox sh; started by scripts/bench.sh, make bench).
#
#   sh bench-guest.sh [--short] [--runs N] [--threads "1 2"] [--drivers "1 100 10000"]
#
# For each run r in 1..RUNS and each driver count N: loads drvreg_many drivers=N; then for
# each thread count t, each target (same: every thread looks up many0; spread: thread i
# looks up many<i*(N/t)>, distinct drivers when N >= t, the same one when N = 1) and each
# lookup mode (interleaved, so that a slow patch of the host hits every mode alike) writes
# '<mode> <t> <loops> <names...>' to /sys/kernel/debug/drvreg/bench/run and prints the result.
# Unloading drvreg_many gives its registration and unregistration times (from dmesg);
# 1000 drivers are also registered and unregistered once per run, for the scaling goal.
# The kernel's designs (srcu, percpu-ref: bench/designs) get the same names in their own
# indexes while drvreg_many is loaded; emptying them gives their times: one record and
# one grace period at a time (above ONE_BY_ONE records in run 1 only: a grace period
# each, some 15 ms per percpu_ref under TCG), then again as one batch (all unlinked, one
# wait).
#
# Loop counts: each cell's first run calibrates it (pilot runs until one lasts 30 ms, one
# more, then the faster scaled to BENCH_CELL_MS); later runs reuse that count, so runs are
# comparable. Cells
# differ by orders of magnitude under TCG (noop vs the locked list scan over 10000
# drivers), so one count for all would be either too short or far too long.
#
# Environment (options win): RUNS (default 5), THREADS ("1 2"), DRIVERS ("1 100 10000"),
#   LOOPS          a fixed loop count for every cell (no calibration)
#   BENCH_CELL_MS  target time of one cell, default 300 (--short: 30)
# --short: a correctness run (make check, debug kernel): 1 run, drivers "1 100", 30 ms cells,
#   no 1000-driver registration.
#
# Output, one line each (scripts/bench-report.py reads them):
#   bench-config runs=R threads=1,2 drivers=1,100,10000 modes=... designs=srcu,percpu-ref
#                targets=same,spread cpus=C register=1000 short=0|1
#   bench-raw run=R mode=M threads=T drivers=N target=same|spread <bench/result's line>
#   bench-raw-register run=R drivers=N register_us=X unregister_us=Y
#   bench-raw-design run=R design=D drivers=N register_us=X unregister_us=Y|-
#                    unregister_batch_us=Z
#   bench: ...      progress (at least every 20 s), errors as 'bench: ERROR: ...'
# and at the end, printed again with the console quiet (kernel messages can tear a line
# printed while they are logged), everything between 'bench-raw-begin' and
# 'bench-raw-end lines=N'. Exits 0 when every cell ran, 1 otherwise.

# BENCH_ROOT: a prefix for the /sys and /proc files this script writes or tests
# (scripts/harness/bench-selftest.sh runs it on the host against a fake bench interface).
root=${BENCH_ROOT:-}
B=$root/sys/kernel/debug/drvreg/bench
# The modes (bench/modes: the floors, the kernel's designs, the lookup modes) and the
# designs (bench/designs) are read from the core once it is loaded, below.
TARGETS="same spread"
# drvreg_many's drivers are <PREFIX><i>; the designs' records get the same names.
PREFIX=many
REGISTER_ONLY=1000
# Above this many records, the designs are emptied one at a time in run 1 only.
ONE_BY_ONE=100
# bench/run refuses more.
MAX_THREADS=64
# Loops of one cell at most (bench/run refuses more: MAX_LOOPS in rust/bench.rs).
MAX_LOOPS=1000000000

runs=${RUNS:-5} threads=${THREADS:-1 2} drivers=${DRIVERS:-1 100 10000}
loops_fixed=${LOOPS:-} cell_ms=${BENCH_CELL_MS:-}
short=0
while [ $# -gt 0 ]; do
	case $1 in
	--short) short=1 ;;
	--runs) runs=$2 && shift ;;
	--threads) threads=$2 && shift ;;
	--drivers) drivers=$2 && shift ;;
	*)
		echo "usage: $0 [--short] [--runs N] [--threads 'T...'] [--drivers 'N...']" >&2
		exit 2
		;;
	esac
	shift
done
if [ "$short" = 1 ]; then
	runs=1 drivers="1 100" cell_ms=${cell_ms:-30}
	register_only=""
	pilot=100
else
	register_only=$REGISTER_ONLY
	pilot=1000
fi
cell_ms=${cell_ms:-300}

die() {
	echo "bench: ERROR: $*"
	exit 1
}
isnum() { case $1 in '' | *[!0-9]* | 0*) return 1 ;; esac; }
isnum "$runs" || die "runs '$runs' is not a positive number"
isnum "$cell_ms" || die "BENCH_CELL_MS '$cell_ms' is not a positive number"
[ -z "$loops_fixed" ] || isnum "$loops_fixed" || die "LOOPS '$loops_fixed' is not a positive number"
for t in $threads; do
	isnum "$t" && [ "$t" -le $MAX_THREADS ] || die "thread count '$t' is not in 1..$MAX_THREADS"
done
for n in $drivers; do
	isnum "$n" && [ "$n" -le 10000 ] || die "driver count '$n' is not in 1..10000"
done
[ $((1 << 40)) -gt 0 ] || die "this shell's arithmetic is not 64-bit"

raw=${TMPDIR:-/tmp}/bench.raw
err=${TMPDIR:-/tmp}/bench.err
: >"$raw"
failures=0
cpus=$(grep -c ^processor /proc/cpuinfo)

# Tenths of a second since boot.
now() {
	read -r up _ </proc/uptime
	frac=${up#*.}
	echo $((${up%.*} * 10 + ${frac%"${frac#?}"}))
}
t_start=$(now)
t_said=$t_start
# progress MESSAGE: says where the run is, with the time since the start.
progress() {
	t_said=$(now)
	echo "bench: [$(((t_said - t_start) / 10)) s] $*"
}
# Output that the report reads: printed now and kept for the quiet copy at the end.
emit() {
	echo "$*"
	echo "$*" >>"$raw"
}
# fail MESSAGE: one failed step; the run goes on with the next cell.
fail() {
	echo "bench: ERROR: $*"
	failures=$((failures + 1))
}
# field LINE KEY: the value of KEY=VALUE in LINE (a whole key: 'ops' is not 'loops').
field() {
	v=" $1"
	case $v in
	*" $2="*)
		v=${v#*" $2="}
		echo "${v%% *}"
		;;
	esac
}
# dmesg_us WHAT N: the microseconds of drvreg_many's last '<WHAT> N drivers in X us'.
dmesg_us() {
	dmesg | sed -n "s/.*drvreg_many: $1 \([0-9]*\) drivers in \([0-9]*\) us.*/\1 \2/p" | tail -n 1 | {
		read -r n us
		[ "$n" = "$2" ] && echo "$us"
	}
}

# bench_run MODE THREADS LOOPS NAMES...: one run of bench/run; sets $result (its result
# line) and $wall (wall_ns). Fails, saying why, if the write or the result is wrong.
bench_run() {
	_m=$1 _t=$2 _l=$3
	shift 3
	if ! echo "$_m $_t $_l $*" >"$B/run" 2>"$err"; then
		fail "bench/run '$_m $_t $_l $*': $(cat "$err")"
		return 1
	fi
	result=$(cat "$B/result")
	wall=$(field "$result" wall_ns)
	if [ "$(field "$result" mode)" != "$_m" ] || [ "$(field "$result" threads)" != "$_t" ] ||
		[ "$(field "$result" loops)" != "$_l" ] || ! isnum "$wall"; then
		fail "bench/result does not match '$_m $_t $_l': '$result'"
		return 1
	fi
	if [ "$(field "$result" errors)" != 0 ]; then
		fail "lookups failed in '$_m $_t $_l $*': $result"
	fi
	return 0
}

# calibrate MODE THREADS NAMES...: sets $loops so that the cell lasts about cell_ms.
calibrate() {
	_m=$1 _t=$2
	shift 2
	loops=$pilot
	while :; do
		bench_run "$_m" "$_t" "$loops" "$@" || return 1
		[ "$wall" -gt 0 ] || wall=1
		[ "$wall" -lt 30000000 ] && [ "$loops" -lt $MAX_LOOPS ] || break
		# Under 1 ms the fixed costs dominate: grow by 100 at most per step.
		if [ "$wall" -lt 1000000 ]; then
			loops=$((loops * 100))
		else
			loops=$((loops * 40000000 / wall))
		fi
		[ "$loops" -le $MAX_LOOPS ] || loops=$MAX_LOOPS
	done
	# Once more: a host that takes a vCPU away for a moment makes a pilot slow, and the
	# cell would then run far longer than planned; the faster of two is the one to trust.
	_w=$wall
	bench_run "$_m" "$_t" "$loops" "$@" || return 1
	[ "$wall" -le "$_w" ] || wall=$_w
	[ "$wall" -gt 0 ] || wall=1
	loops=$((loops * cell_ms * 1000000 / wall))
	[ "$loops" -ge 10 ] || loops=10
	[ "$loops" -le $MAX_LOOPS ] || loops=$MAX_LOOPS
}

# names N T TARGET: the name each thread looks up (thread i takes the i-th, modulo).
names() {
	if [ "$3" = same ]; then
		echo ${PREFIX}0
		return
	fi
	_i=0 _s=$(($1 / $2)) _out=""
	while [ $_i -lt "$2" ]; do
		_out="$_out $PREFIX$((_i * _s))"
		_i=$((_i + 1))
	done
	echo "${_out# }"
}

# load N: drvreg_many with N drivers; unload N: remove it and print its timings.
load() {
	[ ! -d "$root/sys/module/drvreg_many" ] || rmmod drvreg_many || fail "could not remove a leftover drvreg_many"
	modprobe drvreg_many drivers="$1" || {
		fail "modprobe drvreg_many drivers=$1 failed"
		return 1
	}
}
unload() {
	rmmod drvreg_many || {
		fail "rmmod drvreg_many (drivers=$1) failed"
		return 1
	}
	_reg=$(dmesg_us registered "$1")
	_unreg=$(dmesg_us unregistered "$1")
	if [ -z "$_reg" ] || [ -z "$_unreg" ]; then
		fail "no 'drvreg_many: (un)registered $1 drivers in X us' in dmesg"
		return 1
	fi
	emit "bench-raw-register run=$r drivers=$1 register_us=$_reg unregister_us=$_unreg"
}

# design_op DESIGN OP [ARGS...]: one bench/designs request; sets $dus (its time, us).
design_op() {
	if ! echo "$*" >"$B/designs" 2>"$err"; then
		fail "bench/designs '$*': $(cat "$err")"
		return 1
	fi
	_l=$(grep "^design=$1 " "$B/designs")
	dus=$(field "$_l" us)
	case $dus in '' | *[!0-9]*) dus="" ;; esac
	if [ "$(field "$_l" op)" != "$2" ] || [ -z "$dus" ]; then
		fail "bench/designs does not match '$*': '$_l'"
		return 1
	fi
}
# vname WORD: WORD as a shell variable name part (percpu-ref: percpu_ref).
vname() { echo "$1" | tr -c 'a-zA-Z0-9\n' _; }
# designs_load N: every design's index gets the names of drvreg_many's N drivers.
designs_load() {
	for _d in $DESIGNS; do
		design_op "$_d" register "$PREFIX" "$1" || return 1
		eval "dreg_$(vname "$_d")=$dus"
	done
}
# designs_unload N: empties every design's index, one record at a time (if N is at most
# ONE_BY_ONE, or in run 1), then fills it again and empties it as a batch; prints the
# times.
designs_unload() {
	for _d in $DESIGNS; do
		eval "_dreg=\${dreg_$(vname "$_d"):-}"
		_one=-
		if [ "$1" -le $ONE_BY_ONE ] || [ "$r" = 1 ]; then
			design_op "$_d" unregister || continue
			_one=$dus
			design_op "$_d" register "$PREFIX" "$1" || continue
		fi
		design_op "$_d" unregister-batch || continue
		emit "bench-raw-design run=$r design=$_d drivers=$1 register_us=$_dreg unregister_us=$_one unregister_batch_us=$dus"
	done
}

# --- start ---------------------------------------------------------------------------------
modprobe drvreg || die "modprobe drvreg failed"
[ -e "$B/run" ] && [ -e "$B/result" ] && [ -e "$B/modes" ] && [ -e "$B/designs" ] ||
	die "this drvreg has no $B/{run,result,modes,designs} (the bench interface)"
MODES=$(cat "$B/modes")
DESIGNS=$(sed -n 's/^design=\([^ ]*\) .*/\1/p' "$B/designs")
[ -n "$MODES" ] && [ -n "$DESIGNS" ] || die "$B/modes or $B/designs lists nothing"
# list 'A B C': A,B,C
list() {
	_o=""
	for _x in $1; do _o="$_o,$_x"; done
	echo "${_o#,}"
}
emit "bench-config runs=$runs threads=$(list "$threads") drivers=$(list "$drivers") modes=$(list "$MODES") designs=$(list "$DESIGNS") targets=$(list "$TARGETS") cpus=$cpus register=${register_only:-none} short=$short"
ncells=0
for n in $drivers; do for t in $threads; do for g in $TARGETS; do for m in $MODES; do
	ncells=$((ncells + 1))
done; done; done; done
how="calibrated to ~$cell_ms ms each"
[ -z "$loops_fixed" ] || how="$loops_fixed loops each"
progress "$runs run(s) of $ncells cells ($how), $cpus CPUs, threads '$threads', drivers '$drivers'"

r=1
while [ $r -le "$runs" ]; do
	cell=0
	progress "run $r of $runs"
	for n in $drivers; do
		load "$n" || continue
		designs_load "$n" || {
			unload "$n" || true
			continue
		}
		for t in $threads; do
			for g in $TARGETS; do
				targets=$(names "$n" "$t" "$g")
				for m in $MODES; do
					cell=$((cell + 1))
					# The loop count of this cell: fixed, calibrated once, or reused.
					key="loops_${n}_${t}_${g}_$(vname "$m")"
					if [ -n "$loops_fixed" ]; then
						loops=$loops_fixed
					else
						eval "loops=\${$key:-}"
						if [ -z "$loops" ]; then
							# shellcheck disable=SC2086 # one name per word
							calibrate "$m" "$t" $targets || continue
							eval "$key=$loops"
						fi
					fi
					# shellcheck disable=SC2086
					bench_run "$m" "$t" "$loops" $targets || continue
					emit "bench-raw run=$r mode=$m threads=$t drivers=$n target=$g $result"
					[ $(($(now) - t_said)) -lt 200 ] ||
						progress "run $r of $runs: cell $cell of $ncells (drivers=$n threads=$t target=$g mode=$m)"
				done
			done
		done
		designs_unload "$n"
		unload "$n" || true
	done
	if [ -n "$register_only" ] && load "$register_only"; then
		designs_load "$register_only" && designs_unload "$register_only"
		unload "$register_only" || true
	fi
	r=$((r + 1))
done
progress "done: $failures error(s)"

# The raw lines again, with kernel messages held back, so that none is torn.
read -r level _ <"$root/proc/sys/kernel/printk"
echo 1 >"$root/proc/sys/kernel/printk"
echo bench-raw-begin
cat "$raw"
echo "bench-raw-end lines=$(wc -l <"$raw")"
echo "$level" >"$root/proc/sys/kernel/printk"
[ "$failures" = 0 ]

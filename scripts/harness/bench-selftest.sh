#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Self-test of make bench's scripts, on the host, without a guest:
#   - scripts/bench-report.py --self-test (synthetic logs: complete, invalid, missing cell,
#     guest died, lookup errors, failed goal, short run, oversubscribed, no benchmark);
#   - scripts/bench-guest.sh run by busybox sh against a fake bench interface (FIFOs for
#     bench/run, bench/result and bench/designs, answered by fake kernel loops; bench/modes
#     a file; modprobe, rmmod and dmesg
#     stand-ins that keep drvreg_many's state and log), its output read by
#     bench-report.py: a complete run, a --short run, and a run whose kernel answers one
#     cell with another cell's result (the guest must fail and the report name the cell).
#
#   scripts/harness/bench-selftest.sh
#
# Prints KTAP-style 'ok N ...' / 'not ok N ...' lines, then 'N passed, N failed'; exits
# non-zero on failure. Needs busybox (busybox-static) and python3.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

BUSYBOX=${BUSYBOX:-/bin/busybox}
[ -x "$BUSYBOX" ] || die "$BUSYBOX missing (make setup: busybox-static)"
guest="$DRVREG_ROOT/scripts/bench-guest.sh"
report="$DRVREG_ROOT/scripts/bench-report.py"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-selftest.XXXXXX")
fake_pid="" designs_pid=""
cleanup() {
	[ -z "$fake_pid" ] || kill "$fake_pid" 2>/dev/null
	[ -z "$designs_pid" ] || kill "$designs_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

n=0 passed=0 failed=0
# result OK DESCRIPTION [FILE]: one KTAP line; on failure the end of FILE.
result() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n $2"
		passed=$((passed + 1))
	else
		echo "not ok $n $2"
		failed=$((failed + 1))
		[ -z "${3:-}" ] || tail -n 30 "$3" | sed 's/^/#   /'
	fi
}

# --- bench-report.py's own self-test --------------------------------------------------------
python3 "$report" --self-test >"$tmp/report-selftest.out" 2>&1
rc=$?
result "$rc" "bench-report.py --self-test ($(tail -n 1 "$tmp/report-selftest.out"))" "$tmp/report-selftest.out"

# --- the guest script against a fake kernel ---------------------------------------------------
# fake_setup DIR: the fake /sys, /proc and tools under DIR.
fake_setup() {
	local d=$1
	mkdir -p "$d/sys/kernel/drvreg" "$d/sys/kernel/debug/drvreg/bench" "$d/sys/module" "$d/proc/sys/kernel" "$d/tmp"
	mkfifo "$d/sys/kernel/debug/drvreg/bench/run" "$d/sys/kernel/debug/drvreg/bench/result" \
		"$d/sys/kernel/debug/drvreg/bench/designs"
	echo "7 4 1 7" >"$d/proc/sys/kernel/printk"
	echo "[locked] rcu twostage" >"$d/sys/kernel/drvreg/mode"
	echo "noop unsafe modref srcu percpu-ref locked rcu twostage" >"$d/sys/kernel/debug/drvreg/bench/modes"
	: >"$d/dmesg"
	# The guest's modprobe, rmmod and dmesg, acting on the fake state: shell functions
	# (busybox sh runs its own applets before anything on PATH).
	cat >"$d/fakes.sh" <<EOF
modprobe() {
	[ "\$1" = drvreg_many ] || return 0
	_n=\${2#drivers=}
	mkdir "$d/sys/module/drvreg_many" || return 1
	echo "\$_n" >"$d/drivers"
	echo "[    1.000000] drvreg_many: registered \$_n drivers in \$((_n * 5 + 3)) us" >>"$d/dmesg"
}
rmmod() {
	rmdir "$d/sys/module/\$1" || return 1
	_n=\$(cat "$d/drivers")
	echo "[    2.000000] drvreg_many: unregistered \$_n drivers in \$((_n * 4 + 2)) us" >>"$d/dmesg"
}
dmesg() { cat "$d/dmesg"; }
EOF
}

# fake_kernel DIR [BREAK]: answers bench/run writes until 'quit'. ns per op by mode, the
# 2-thread throughput gain by mode, locked slower with more drivers. BREAK='MODE T': that
# cell is answered with noop's result (a stale or wrong result line).
fake_kernel() {
	local d=$1 brk=${2:-} b="$1/sys/kernel/debug/drvreg/bench" line mode t loops ns gain ops wall m
	while :; do
		read -r line <"$b/run" || continue
		[ "$line" != quit ] || break
		echo "$line" >>"$d/runs"
		# shellcheck disable=SC2086 # the words of the line
		set -- $line
		mode=$1 t=$2 loops=$3
		case $mode in
		noop) ns=200 gain=197 ;;
		unsafe) ns=2000 gain=190 ;;
		modref) ns=4000 gain=110 ;;
		locked) ns=$((9000 + $(cat "$d/drivers") / 10)) gain=80 ;;
		rcu) ns=5000 gain=140 ;;
		twostage) ns=3000 gain=190 ;;
		srcu) ns=3200 gain=195 ;;
		percpu-ref) ns=3100 gain=193 ;;
		*) ns=1 gain=100 ;;
		esac
		# ns is in hundredths; with t threads (up to 2 CPUs) the aggregate gain applies.
		[ "$t" -lt 2 ] || ns=$((ns * 100 / gain))
		ops=$((t * loops))
		wall=$((ops * ns / 100))
		m=$mode
		[ "$mode $t" != "$brk" ] || m=noop
		echo "mode=$m threads=$t loops=$loops wall_ns=$wall ops=$ops ns_per_op=$((ns / 100)).$((ns % 100 / 10))$((ns % 10)) errors=0" >"$b/result"
	done
}

# fake_designs DIR: answers bench/designs (one FIFO both ways: the state is written first,
# then each request read is answered with the new state) until 'quit'. Records per design
# in DIR/design-<d>; times: register 3 us per record, unregister 700 (a grace period each),
# unregister-batch 5 + 1 per record. A request it does not know is answered unchanged.
fake_designs() {
	local d=$1 f="$1/sys/kernel/debug/drvreg/bench/designs" line x
	for x in srcu percpu-ref; do echo "design=$x records=0 op=none op_records=0 us=0" >"$d/design-$x"; done
	while :; do
		cat "$d/design-srcu" "$d/design-percpu-ref" >"$f"
		read -r line <"$f" || continue
		[ "$line" != quit ] || break
		echo "$line" >>"$d/designs-requests"
		# shellcheck disable=SC2086 # the words of the line
		set -- $line
		case $2 in
		register) echo "design=$1 records=$4 op=register op_records=$4 us=$(($4 * 3))" ;;
		unregister) x=$(sed 's/.* records=\([0-9]*\) .*/\1/' "$d/design-$1") &&
			echo "design=$1 records=0 op=unregister op_records=$x us=$((x * 700))" ;;
		unregister-batch) x=$(sed 's/.* records=\([0-9]*\) .*/\1/' "$d/design-$1") &&
			echo "design=$1 records=0 op=unregister-batch op_records=$x us=$((x + 5))" ;;
		*) cat "$d/design-$1" ;;
		esac >"$d/design-$1.new" && mv "$d/design-$1.new" "$d/design-$1"
	done
}

# guest_run NAME [BREAK] [ARGS...]: runs bench-guest.sh (busybox sh) against a fresh fake;
# sets $rc and $log.
guest_run() {
	local brk=$2 d="$tmp/$1"
	shift 2
	fake_setup "$d"
	fake_kernel "$d" "$brk" &
	fake_pid=$!
	fake_designs "$d" &
	designs_pid=$!
	log="$d/console.log"
	echo "DRVREG-VM-START: 6.12.0-fake cpus=2" >"$log"
	# shellcheck disable=SC2016 # expanded by the inner shell: fakes first, then the script
	BENCH_ROOT="$d" TMPDIR="$d/tmp" RUNS=2 timeout 300 "$BUSYBOX" sh -c \
		'. "$1"; shift; . "$0"' "$guest" "$d/fakes.sh" "$@" >>"$log" 2>&1
	rc=$?
	echo "DRVREG-VM-EXIT: $rc" >>"$log"
	echo quit >"$d/sys/kernel/debug/drvreg/bench/run" &
	wait "$fake_pid" 2>/dev/null
	fake_pid=""
	# The designs fake waits in an open of its FIFO, to write or to read: opening it both
	# ways (which does not block) lets that open through; then it is stopped.
	exec 9<>"$d/sys/kernel/debug/drvreg/bench/designs"
	kill "$designs_pid" 2>/dev/null
	wait "$designs_pid" 2>/dev/null
	exec 9<&-
	designs_pid=""
}

guest_run full ""
result "$rc" "bench-guest.sh on a fake kernel: 2 runs complete (exit $rc)" "$log"
cells=$(grep -c '^bench-raw run=' "$log")
# Every raw line twice (live and in the end-of-run copy): 2 runs x 96 cells (8 modes).
[ "$cells" = 384 ]
result $? "bench-guest.sh: 192 raw cell lines, printed live and again at the end (got $cells)" "$log"
regs=$(sed -n '/^bench-raw-begin/,$s/^bench-raw-register run=\([0-9]*\) drivers=\([0-9]*\) register_us=\([0-9]*\) unregister_us=\([0-9]*\)$/\1:\2:\3:\4/p' "$log" | tr '\n' ' ')
[ "$regs" = "1:1:8:6 1:100:503:402 1:10000:50003:40002 1:1000:5003:4002 2:1:8:6 2:100:503:402 2:10000:50003:40002 2:1000:5003:4002 " ]
result $? "bench-guest.sh: registration times of 1, 100, 10000 and 1000 drivers from dmesg, per run" "$log"
grep -q '^bench-raw run=1 mode=rcu threads=2 drivers=100 target=spread mode=rcu threads=2 loops=[0-9]* ' "$log" &&
	grep -q '^bench-config runs=2 threads=1,2 drivers=1,100,10000 modes=noop,unsafe,modref,srcu,percpu-ref,locked,rcu,twostage designs=srcu,percpu-ref targets=same,spread cpus=[0-9]* register=1000 short=0$' "$log"
result $? "bench-guest.sh: the config line and the raw line form" "$log"
# Calibration: a noop cell of ~300 ms at 2 ns per op is ~1.5e8 loops; reused in run 2.
l1=$(sed -n 's/^bench-raw run=1 mode=noop threads=1 drivers=1 target=same .* loops=\([0-9]*\) .*/\1/p' "$log" | head -n 1)
l2=$(sed -n 's/^bench-raw run=2 mode=noop threads=1 drivers=1 target=same .* loops=\([0-9]*\) .*/\1/p' "$log" | head -n 1)
[ -n "$l1" ] && [ "$l1" = "$l2" ] && [ "$l1" -gt 100000000 ] && [ "$l1" -lt 200000000 ]
result $? "bench-guest.sh: loops calibrated to ~300 ms per cell and reused in run 2 ($l1, $l2)" "$log"
python3 "$report" --out "$tmp/full/out" "$log" >"$tmp/full/report.out" 2>&1
rc=$?
[ "$rc" = 0 ] && grep -q '^bench: run valid: noop scales 1.98' "$tmp/full/report.out" &&
	[ "$(grep -c '^bench mode=' "$tmp/full/report.out")" = 96 ] &&
	grep -q '^# METRIC bench_goal name=locked_vs_modref_t1_d1_same value=2.25 goal=<=3 verdict=PASS$' "$tmp/full/report.out"
result $? "bench-report.py on the fake run: complete, valid, 96 cells, locked/modref 2.25" "$tmp/full/report.out"
# The designs: filled with drvreg_many's names while it is loaded, emptied one at a time
# (at 10000 records in run 1 only), filled again, emptied as a batch.
designs=$(sed -n '/^bench-raw-begin/,$s/^bench-raw-design run=\([0-9]*\) design=\([a-z-]*\) drivers=\([0-9]*\) register_us=\([0-9]*\) unregister_us=\([0-9-]*\) unregister_batch_us=\([0-9]*\)$/\1:\2:\3:\4:\5:\6/p' "$log" | grep -E ':(1000|10000):' | tr '\n' ' ')
[ "$designs" = "1:srcu:10000:30000:7000000:10005 1:percpu-ref:10000:30000:7000000:10005 1:srcu:1000:3000:700000:1005 1:percpu-ref:1000:3000:700000:1005 2:srcu:10000:30000:-:10005 2:percpu-ref:10000:30000:-:10005 2:srcu:1000:3000:-:1005 2:percpu-ref:1000:3000:-:1005 " ]
result $? "bench-guest.sh: each design's times at 1000 and 10000 records, one by one there in run 1 only ($designs)" "$log"
reqs=$(grep -c . "$tmp/full/designs-requests")
# Per run and size (1, 100, 10000, 1000) and design: register, unregister, register,
# unregister-batch; at 1000 and 10000 in run 2: register, unregister-batch.
[ "$reqs" = $((2 * 4 * 2 * 4 - 2 * 2 * 2)) ] && grep -q '^percpu-ref register many 10000$' "$tmp/full/designs-requests"
result $? "bench-guest.sh: the bench/designs requests ($reqs)" "$tmp/full/designs-requests"
grep -q '^bench register design=srcu drivers=10000 register_ms=30.000 unregister_ms=7000.000 unregister_batch_ms=10.005$' "$tmp/full/report.out"
result $? "bench-report.py: the designs' times from the fake run" "$tmp/full/report.out"
# The spread target: thread i looks up many<i*(N/t)>; same: all many0.
runs="$tmp/full/runs"
grep -q '^rcu 2 [0-9]* many0 many50$' "$runs" && grep -q '^rcu 2 [0-9]* many0 many5000$' "$runs" &&
	grep -q '^rcu 2 [0-9]* many0 many0$' "$runs" && grep -q '^rcu 1 [0-9]* many0$' "$runs" &&
	! grep -qv ' many0\( many\(0\|50\|5000\)\)\{0,1\}$' "$runs"
result $? "bench-guest.sh: names written: same many0; spread many0 many<N/2> with 2 threads" "$runs"

guest_run short "" --short
n_short=$(sed -n '/^bench-raw-begin/,$p' "$log" | grep -c '^bench-raw run=')
[ "$rc" = 0 ] && [ "$n_short" = 64 ] && ! grep -q 'drivers=1000 ' "$log"
result $? "bench-guest.sh --short: 1 run, drivers 1 and 100: 64 cells, no 1000-driver registration (exit $rc)" "$log"
python3 "$report" --out "$tmp/short/out" "$log" >"$tmp/short/report.out" 2>&1
result $? "bench-report.py on the --short run: complete" "$tmp/short/report.out"

guest_run broken "rcu 2"
[ "$rc" = 1 ] && grep -q '^bench: ERROR: bench/result does not match .rcu 2 ' "$log"
result $? "bench-guest.sh: a result line of another cell is an error (exit $rc)" "$log"
python3 "$report" --out "$tmp/broken/out" "$log" >"$tmp/broken/report.out" 2>&1
rc=$?
[ "$rc" = 1 ] && grep -q '^bench: ERROR: missing cell mode=rcu threads=2 drivers=1 target=same in run(s) 1,2$' "$tmp/broken/report.out"
result $? "bench-report.py: the cells missing from that run are named (exit $rc)" "$tmp/broken/report.out"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

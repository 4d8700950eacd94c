#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# drvreg allocation-failure tests (failslab): every allocation made with drvreg's code on
# the stack is failed in turn (fail-nth, with failslab's stack filter on the core's text),
# along each path: registering a Rust and a C driver (loading the samples), starting the
# stress workers, call_all, lookup and a status read. Each injected failure must end in a
# clean ENOMEM with nothing left behind: no module, record, directory, pin or worker, and
# the counters as they were. One line per path:
#   # METRIC failslab path=<p> sites=<n> enomem=<n> dirty=<n> verdict=<PASS|FAIL>
# sites: allocations on the path; enomem: injections that ended in ENOMEM; dirty:
# injections that left something behind or ended otherwise. Skipped without failslab's
# stack filter (the debug kernel has it).
. "$(dirname "$(readlink -f "$0")")/drvreg_lib.sh"

drvreg_require_modules
F=/sys/kernel/debug/failslab
if [ ! -w "$F/require-start" ] || [ ! -w /proc/self/fail-nth ]; then
	ktap_skip_all "no failslab stack filter or fail-nth (CONFIG_FAULT_INJECTION_STACKTRACE_FILTER)"
	exit "$KSFT_SKIP"
fi
MAX_SITES=200
bad=0

# Aim failslab at the core's text: from its lowest text symbol to 4 KiB past its highest
# (addresses as hex strings of one length sort as numbers; debugfs takes 0x...).
aim() {
	syms=$(awk '$4 == "[drvreg]" && ($2 == "t" || $2 == "T") { print $1 }' /proc/kallsyms | sort)
	lo=$(echo "$syms" | head -n 1) hi=$(echo "$syms" | tail -n 1)
	case "$lo" in "" | 0000000000000000) return 1 ;; esac
	end=$(printf '%x' $((0x$hi + 4096)))
	echo "0x$lo" >"$F/require-start" && echo "0x$end" >"$F/require-end" &&
		echo N >"$F/ignore-gfp-wait" && echo 0 >"$F/verbose" && echo 1 >"$F/task-filter" &&
		echo 0 >"$F/probability" || return 1
	# Only the kmalloc caches: not kmemleak's own metadata cache, whose allocations follow
	# ours with our code on the stack too, and whose failure kmemleak absorbs (by turning
	# itself off).
	echo Y >"$F/cache-filter" || return 1
	for c in /sys/kernel/slab/kmalloc-*/failslab; do
		echo 1 >"$c" 2>/dev/null
	done
	return 0
}

# The state that must not change, in $st: modules, driver directories, counters, workers.
# Shell built-ins only: a fork costs tens of milliseconds in a KASAN guest under TCG, and
# every injection takes the state twice.
state() {
	st="" st_workers=0
	while read -r st_m _; do
		case "$st_m" in drvreg*) st="$st $st_m" ;; esac
	done </proc/modules
	st="$st |"
	for st_d in "$D"/drivers/*; do st="$st ${st_d##*/}"; done
	st="$st |"
	while read -r st_k st_v; do
		case "$st_k" in pins | drivers | registered | unregistered | purged) st="$st $st_k=$st_v" ;; esac
	done <"$DBG/stats"
	read -r st_r <"$DBG/stress/running"
	read -r st_i <"$DBG/stress/iterations"
	for st_c in /proc/[0-9]*/comm; do
		read -r st_n 2>/dev/null <"$st_c" || continue
		case "$st_n" in drvreg/stress*) st_workers=$((st_workers + 1)) ;; esac
	done
	st="$st | running=$st_r iterations=$st_i workers=$st_workers"
}

# report PATH SITES ENOMEM DIRTY
report() {
	v=PASS
	[ "$4" = 0 ] && [ "$3" = "$2" ] && [ "$2" -lt "$MAX_SITES" ] || v=FAIL
	echo "# METRIC failslab path=$1 sites=$2 enomem=$3 dirty=$4 verdict=$v"
	[ $v = PASS ] || bad=$((bad + 1))
	[ $v = PASS ]
}

# inject_load PATH MODULE: insmod MODULE with the n-th filtered allocation failing, for
# n = 1, 2, ... until it loads; it is unloaded again after the successful load.
inject_load() {
	ko=$(find /lib/modules/"$(uname -r)" -name "$2.ko" | head -n 1)
	n=1 enomem=0 dirty=0
	while [ $n -lt "$MAX_SITES" ]; do
		state
		before=$st
		# fail-nth is per task: the shell sets it and execs the loader in the same task
		# (drvreg_finit: one finit_module() call; busybox's insmod would retry a failed
		# load with init_module()).
		out=$(sh -c "echo $n >/proc/self/fail-nth && exec '$DRVREG_TEST_DIR/drvreg_finit' '$ko'" 2>&1) && break
		case "$out" in
		*"Cannot allocate memory"* | *"Out of memory"*) enomem=$((enomem + 1)) ;;
		*) dirty=$((dirty + 1)); msg "$1: failing allocation $n: insmod said: $out" ;;
		esac
		state
		[ "$before" = "$st" ] || { dirty=$((dirty + 1)); msg "$1: failing allocation $n left: $st"; }
		n=$((n + 1))
	done
	rmmod "$2"
	report "$1" $((n - 1)) $enomem $dirty
}

# inject_op PATH 'COMMAND' [UNDO]: the same for a shell builtin COMMAND (a write with echo,
# a read with read): { } does not fork, so it runs in this task, and
# /proc/self/fail-nth reads 0 once a failure was injected. UNDO runs after the success.
inject_op() {
	n=1 enomem=0 dirty=0
	while [ $n -lt "$MAX_SITES" ]; do
		state
		before=$st
		echo $n >/proc/self/fail-nth
		{ eval "$2"; } 2>/tmp/failslab.err
		rc=$?
		read -r left </proc/self/fail-nth
		echo 0 >/proc/self/fail-nth
		if [ "$left" != 0 ]; then
			# Nothing was injected: every allocation on the path has been failed once.
			[ $rc = 0 ] || { dirty=$((dirty + 1)); msg "$1: failed with no failure injected: $(cat /tmp/failslab.err)"; }
			break
		fi
		if [ $rc = 0 ]; then
			dirty=$((dirty + 1))
			msg "$1: failing allocation $n: the operation succeeded anyway"
			break
		fi
		out=$(cat /tmp/failslab.err)
		case "$out" in
		*"allocate memory"*) enomem=$((enomem + 1)) ;;
		*) dirty=$((dirty + 1)); msg "$1: failing allocation $n: $out" ;;
		esac
		state
		[ "$before" = "$st" ] || { dirty=$((dirty + 1)); msg "$1: failing allocation $n left: $st"; }
		n=$((n + 1))
	done
	[ -z "${3:-}" ] || eval "$3"
	report "$1" $((n - 1)) $enomem $dirty
}

test_setup() {
	drvreg_cleanup
	modprobe drvreg || fail "cannot load drvreg" || return
	aim || fail "cannot aim failslab at drvreg's text" || return
}

test_register_rust() { inject_load register-rust drvreg_sample; }
test_register_c() { inject_load register-c drvreg_sample_c; }
test_workers() {
	modprobe drvreg_sample || fail "cannot load drvreg_sample" || return
	echo 4 >"$DBG/stress/threads"
	inject_op workers 'echo 1 >"$DBG/stress/running"' 'echo 0 >"$DBG/stress/running"'
}
test_call_all() {
	modprobe drvreg_sample_c || fail "cannot load drvreg_sample_c" || return
	inject_op call_all 'echo 1 >"$DBG/call_all"'
}
test_lookup() { inject_op lookup 'echo sample0 >"$DBG/lookup"'; }
test_status() { inject_op status 'read -r line <"$D/drivers/sample_c0/status"'; }

ktap_print_header
ktap_set_plan 7
run_test "failslab aimed at drvreg's text" test_setup
run_test "failslab: registering a Rust driver" test_register_rust
run_test "failslab: registering a C driver" test_register_c
run_test "failslab: starting the stress workers" test_workers
run_test "failslab: call_all" test_call_all
run_test "failslab: lookup" test_lookup
run_test "failslab: status read" test_status
echo 0 >"$F/require-end" 2>/dev/null
drvreg_cleanup
ktap_finished

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# drvreg lookup modes, stress workers and unload storm: mode switching (EPERM without
# allow_racy=1), workers that start, stop and join with counters that add up, core unload
# while workers run, and a short locked-mode unload storm that must refuse lookups of a
# going module and rmmod of a pinned one. The racy mode's crash is shown by 'make demo'
# only. Prints KTAP; exits 0, 1 or 4 (skipped).

. "$(dirname "$(readlink -f "$0")")/drvreg_lib.sh"

STORM="$DRVREG_TEST_DIR/unload_storm.sh"
# Short by default; the demo runs the long storm. STORM_CYCLES overrides.
STORM_CYCLES=${STORM_CYCLES:-150}

# Number of stress worker threads (their comm is drvreg/stress<N>).
workers() { cat /proc/[0-9]*/comm 2>/dev/null | grep -c '^drvreg/stress'; }
counter() { cat "$D/stress/$1"; }

test_mode_needs_allow_racy() {
	modprobe drvreg || fail "modprobe drvreg" || return
	[ "$(cat /sys/module/drvreg/parameters/allow_racy)" = N ] || fail "allow_racy is not N by default" || return
	expect_write "$D/mode" racy EPERM || return
	[ "$(cat "$D/mode")" = locked ] || fail "mode changed after EPERM" || return
	expect_write "$D/mode" locked OK
}

test_mode_switching() {
	drvreg_cleanup
	modprobe drvreg allow_racy=1 || fail "modprobe drvreg allow_racy=1" || return
	expect_write "$D/mode" junk EINVAL || return
	expect_write "$D/mode" racy OK || return
	[ "$(cat "$D/mode")" = racy ] || fail "mode is not racy" || return
	expect_write "$D/mode" RACY EINVAL || return
	[ "$(cat "$D/mode")" = racy ] || fail "junk changed the mode" || return
	expect_write "$D/mode" locked OK || return
	[ "$(cat "$D/mode")" = locked ] || fail "mode is not locked"
}

test_bad_allow_racy() {
	drvreg_cleanup
	out=$(modprobe drvreg allow_racy=maybe 2>&1) && fail "allow_racy=maybe accepted" && return 1
	[ ! -d /sys/module/drvreg ] || fail "drvreg loaded with a bad parameter"
}

# Workers start, run driver code only through pins, stop and are joined; the counters
# add up once they are stopped.
test_stress_start_stop() {
	drvreg_cleanup
	modprobe drvreg_sample || fail "modprobe drvreg_sample" || return
	expect_write "$D/stress/threads" 3 OK || return
	expect_write "$D/stress/target" sample0 OK || return
	expect_write "$D/stress/running" 1 OK || return
	[ "$(cat "$D/stress/running")" = 1 ] || fail "not running" || return
	[ "$(workers)" = 3 ] || fail "$(workers) worker threads, expected 3" || return
	expect_write "$D/stress/threads" 2 EBUSY || return
	expect_write "$D/stress/target" other EBUSY || return
	sleep 1
	expect_write "$D/stress/running" 0 OK || return
	[ "$(workers)" = 0 ] || fail "workers left after stop: $(workers)" || return
	i=$(counter iterations) h=$(counter hits) m=$(counter misses) r=$(counter refused)
	o=$(counter opens) e=$(counter errors)
	[ "$i" -gt 0 ] && [ "$h" -gt 0 ] || fail "no work done: iterations=$i hits=$h" || return
	[ "$i" -eq $((h + m + r + e)) ] || fail "iterations=$i != hits $h + misses $m + refused $r + errors $e" || return
	[ "$o" -eq "$h" ] && [ "$e" = 0 ] || fail "opens=$o hits=$h errors=$e" || return
	[ "$(status_value sample0 opens)" -eq "$o" ] || fail "driver saw $(status_value sample0 opens) opens, workers $o" || return
	[ "$(status_value sample0 releases)" -eq "$o" ] || fail "releases do not match opens" || return
	[ "$(dstat pins)" = 0 ] || fail "pins left: $(dstat pins)" || return
	stats_add_up
}

# A restart resets the counters: afterwards the workers' opens are exactly the opens the
# driver saw since the restart (without a reset they would include the first run's).
test_stress_restart_resets() {
	before=$(status_value sample0 opens)
	[ "$(counter opens)" -gt 0 ] || fail "the first run made no opens" || return
	expect_write "$D/stress/running" 1 OK || return
	expect_write "$D/stress/running" 1 OK || return
	[ "$(workers)" = 3 ] || fail "second start changed the workers: $(workers)" || return
	expect_write "$D/stress/running" 0 OK || return
	expect_write "$D/stress/running" 0 OK || return
	i=$(counter iterations) h=$(counter hits) m=$(counter misses) r=$(counter refused) e=$(counter errors)
	[ "$i" -eq $((h + m + r + e)) ] || fail "counters do not add up after restart" || return
	o=$(counter opens) since=$(($(status_value sample0 opens) - before))
	[ "$o" -eq "$since" ] || fail "workers count $o opens, the driver saw $since since the restart"
}

# With the target absent, workers miss; the core can then be unloaded while they run:
# its exit stops them first.
test_core_unload_with_workers() {
	rmmod drvreg_sample || fail "rmmod drvreg_sample" || return
	expect_write "$D/stress/running" 1 OK || return
	sleep 0.5
	[ "$(counter misses)" -gt 0 ] || fail "workers did not miss the absent target" || return
	[ "$(workers)" = 3 ] || fail "workers not running" || return
	rmmod drvreg || fail "rmmod drvreg with workers running failed" || return
	[ ! -e "$D" ] || fail "$D left" || return
	[ "$(workers)" = 0 ] || fail "workers survived the core: $(workers)"
}

# A short unload storm in locked mode with workers and a race window: no error, and the
# window was really exercised: lookups refused because the module was going, and rmmod
# refused because a lookup had it pinned. (A splat fails the run in the harness.)
test_locked_storm() {
	drvreg_cleanup
	modprobe drvreg || fail "modprobe drvreg" || return
	expect_write "$D/race_window_us" 2000 OK || return
	expect_write "$D/stress/threads" 2 OK || return
	expect_write "$D/stress/running" 1 OK || return
	out=$("$STORM" -c "$STORM_CYCLES" -e "$STORM_CYCLES")
	rc=$?
	expect_write "$D/stress/running" 0 OK || return
	msg "$(echo "$out" | tail -n 1)"
	msg "stress: iterations=$(counter iterations) hits=$(counter hits) misses=$(counter misses) refused=$(counter refused)"
	[ $rc -eq 0 ] || fail "the storm had errors" || return
	busy=$(echo "$out" | sed -n 's/.*done .* busy=\([0-9]*\).*/\1/p')
	unloads=$(echo "$out" | sed -n 's/.*done .* unloads=\([0-9]*\).*/\1/p')
	[ "$unloads" -gt 0 ] || fail "the module was never unloaded" || return
	[ "$(dstat refused)" -gt 0 ] || fail "no lookup was refused: the window was not exercised" || return
	[ "$busy" -gt 0 ] || fail "rmmod was never refused: the module was never pinned" || return
	# The storm's last rmmod may meet a worker's pin (EAGAIN, as it should); with the
	# workers stopped, nothing pins it any more and it must unload.
	[ ! -d /sys/module/drvreg_sample ] || rmmod drvreg_sample ||
		fail "rmmod drvreg_sample failed with the workers stopped" || return
	[ "$(dstat pins)" = 0 ] || fail "pins left: $(dstat pins)" || return
	stats_add_up
}

drvreg_require_modules
drvreg_cleanup
ktap_print_header
ktap_set_plan 7
run_test "racy mode is refused (EPERM) without allow_racy=1" test_mode_needs_allow_racy
run_test "mode switching with allow_racy=1; junk is EINVAL" test_mode_switching
run_test "a malformed module parameter is refused" test_bad_allow_racy
run_test "stress workers start, stop and join; counters add up" test_stress_start_stop
run_test "stress restart is idempotent and resets counters" test_stress_restart_resets
run_test "core unload stops running workers first" test_core_unload_with_workers
run_test "locked unload storm: refusals on both sides, no error" test_locked_storm
drvreg_cleanup
ktap_finished

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# drvreg registry tests: module loading and dependencies, owner pinning against rmmod,
# failed init, drivers that are not live yet, C and Rust drivers alike, sysfs, stats and
# bad input. Runs in the lookup mode DRVREG_MODE (locked, the default, rcu or twostage;
# see drvreg_lib.sh): in twostage a pin holds no module reference, so rmmod of a pinned
# driver's module waits for the pin instead of being refused. Prints KTAP; exits 0 (all
# passed), 1 (a failure) or 4 (skipped).

. "$(dirname "$(readlink -f "$0")")/drvreg_lib.sh"

test_load_core() {
	v=$(modprobe --version 2>&1 | head -n 1)
	case "$v" in kmod*) ;; *) v="not kmod's (busybox's in drvreg's guests: no --version)" ;; esac
	msg "module tools: $v"
	modprobe drvreg || fail "modprobe drvreg failed" || return
	[ -d "$D/drivers" ] && [ -d "$DBG/stress" ] || fail "$D is incomplete" || return
	[ "$(drvreg_mode_now)" = locked ] || fail "mode is not 'locked' by default" || return
	[ "$(dstat lookups)" = 0 ] && [ "$(dstat drivers)" = 0 ] || fail "fresh core has non-zero stats" || return
	drvreg_set_mode
}

# modprobe of a driver module loads the core first (modpost recorded the dependency).
test_modprobe_loads_core() {
	drvreg_cleanup
	modprobe drvreg_sample || fail "modprobe drvreg_sample failed" || return
	[ -d /sys/module/drvreg ] || fail "drvreg was not loaded as a dependency" || return
	grep -q "^drvreg_sample .* drvreg" /proc/modules ||
		grep -q "^drvreg .*drvreg_sample" /proc/modules || fail "no dependency in /proc/modules" || return
	drvreg_set_mode
}

test_rmmod_core_refused() {
	out=$(rmmod drvreg 2>&1) && fail "rmmod drvreg succeeded with drvreg_sample loaded" && return 1
	[ -d /sys/module/drvreg ] || fail "drvreg is gone" || return
	e=$(errno_of "$out")
	[ "$e" = EAGAIN ] || [ "$e" = EBUSY ] || fail "rmmod drvreg: '$out', expected EAGAIN/EBUSY"
}

# check_driver MODULE DRIVER: sysfs view of a freshly loaded driver.
check_driver() {
	dir="$D/drivers/$2"
	[ -d "$dir" ] || fail "$dir missing" || return
	[ "$(cat "$dir/owner")" = "$1" ] || fail "$2 owner is '$(cat "$dir/owner")', expected $1" || return
	[ "$(cat "$dir/state")" = live ] || fail "$2 state is '$(cat "$dir/state")'" || return
	[ "$(cat "$dir/pins")" = 0 ] || fail "$2 has pins with nobody using it"
}

test_load_samples() {
	rmmod drvreg_sample
	modprobe drvreg_sample count=2 || fail "modprobe drvreg_sample count=2" || return
	modprobe drvreg_sample_c count=2 || fail "modprobe drvreg_sample_c count=2" || return
	for d in sample0 sample1; do check_driver drvreg_sample $d || return; done
	for d in sample_c0 sample_c1; do check_driver drvreg_sample_c $d || return; done
	[ "$(dstat drivers)" = 4 ] || fail "stats say $(dstat drivers) drivers, expected 4"
}

# status is the driver's own text, produced through a pin: the driver counts the call
# and so does the core.
test_status_through_driver() {
	drv=$1
	calls=$(cat "$D/drivers/$drv/calls")
	lookups=$(dstat lookups)
	s1=$(status_value "$drv" shows)
	s2=$(status_value "$drv" shows)
	[ "$s2" -eq $((s1 + 1)) ] || fail "$drv shows went $s1 -> $s2" || return
	[ "$(cat "$D/drivers/$drv/calls")" -eq $((calls + 2)) ] || fail "$drv calls not counted" || return
	[ "$(dstat lookups)" -eq $((lookups + 2)) ] || fail "status reads did not look $drv up" || return
	[ "$(cat "$D/drivers/$drv/pins")" = 0 ] || fail "$drv still pinned after reads"
}

test_lookup_opens_and_releases() {
	drv=$1
	o=$(status_value "$drv" opens)
	r=$(status_value "$drv" releases)
	expect_write "$DBG/lookup" "$drv" OK || return
	[ "$(status_value "$drv" opens)" -eq $((o + 1)) ] || fail "$drv was not opened" || return
	[ "$(status_value "$drv" releases)" -eq $((r + 1)) ] || fail "$drv was not released" || return
	[ "$(dstat pins)" = 0 ] || fail "a pin leaked: pins=$(dstat pins)"
}

# The C and the Rust sample print the same status keys in the same order.
test_c_and_rust_alike() {
	a=$(sed 's/ .*//' "$D/drivers/sample0/status" | tr '\n' ' ')
	b=$(sed 's/ .*//' "$D/drivers/sample_c0/status" | tr '\n' ' ')
	[ "$a" = "$b" ] || fail "status keys differ: rust '$a', c '$b'" || return
	[ "$(status_value sample0 lang)" = rust ] && [ "$(status_value sample_c0 lang)" = c ] ||
		fail "lang lines wrong"
}

# test_duplicate_name MODULE PARAMS: with MODULE unloaded, loading it with PARAMS that
# make one of its names collide must fail with EBUSY, with insmod and with modprobe (which
# would take EEXIST for "already loaded" and exit 0), and change nothing; MODULE is
# reloaded with count=2 afterwards.
test_duplicate_name() {
	rmmod "$1" || fail "rmmod $1" || return
	drivers=$(dstat drivers) reg=$(dstat registered) unreg=$(dstat unregistered)
	ko=$(find /lib/modules/"$(uname -r)" -name "$1.ko" | head -n 1)
	out=$(insmod "$ko" $2 2>&1) && fail "insmod $1 $2 succeeded with a duplicate name" && return 1
	[ "$(errno_of "$out")" = EBUSY ] || fail "insmod $1 $2: '$out', expected EBUSY" || return
	[ ! -d "/sys/module/$1" ] || fail "$1 stayed loaded after insmod" || return
	# shellcheck disable=SC2086
	out=$(modprobe "$1" $2 2>&1) && fail "modprobe $1 $2 reported success with a duplicate name" && return 1
	[ ! -d "/sys/module/$1" ] || fail "$1 stayed loaded after modprobe" || return
	[ "$(dstat drivers)" = "$drivers" ] || fail "driver count changed" || return
	[ $(($(dstat registered) - reg)) -eq $(($(dstat unregistered) - unreg)) ] ||
		fail "a registration was left behind" || return
	modprobe "$1" count=2 || fail "reloading $1"
}

# test_other_abi: the C sample as a module built against another drvreg.h
# (abi_version=: the version it claims at registration, one more than it was built for)
# fails to load with ENOEXEC, the core says why, and nothing is registered.
test_other_abi() {
	mod=drvreg_sample_c
	built=$(cat /sys/module/$mod/parameters/abi_version) count=$(cat /sys/module/$mod/parameters/count)
	rmmod $mod || fail "rmmod $mod" || return
	drivers=$(dstat drivers) reg=$(dstat registered)
	ko=$(find /lib/modules/"$(uname -r)" -name "$mod.ko" | head -n 1)
	out=$(insmod "$ko" abi_version=$((built + 1)) 2>&1) &&
		fail "insmod $mod abi_version=$((built + 1)) succeeded" && return 1
	[ "$(errno_of "$out")" = ENOEXEC ] || fail "insmod $mod abi_version=$((built + 1)): '$out', expected ENOEXEC" || return
	[ ! -d /sys/module/$mod ] || fail "$mod stayed loaded" || return
	[ "$(dstat drivers)" = "$drivers" ] && [ "$(dstat registered)" = "$reg" ] ||
		fail "a driver of another ABI version was registered" || return
	[ "$(dmesg_count "built for drvreg C ABI version $((built + 1)), this core has $built: -ENOEXEC")" -ge 1 ] ||
		fail "the core did not log the version mismatch" || return
	modprobe $mod count="$count" || fail "reloading $mod"
}

# test_rmmod_while_pinned MODULE DRIVER: a pin held by a lookup inside DRIVER's open
# (hold_lookup). locked, rcu: the pin holds a module reference and rmmod fails with
# EAGAIN/EBUSY; once it is dropped rmmod succeeds. twostage: the pin holds no module
# reference and rmmod waits for it (rmmod_waits_for_pin), then succeeds.
test_rmmod_while_pinned() {
	mod=$1 drv=$2
	rmmod "$mod" 2>/dev/null
	modprobe "$mod" delay_us=$HOLD_US || fail "modprobe $mod delay_us=$HOLD_US" || return
	hold_lookup "$drv"
	wait_for "[ \"\$(cat $D/drivers/$drv/pins)\" = 1 ]" || fail "$drv never got pinned" || return
	if twostage; then
		rmmod_waits_for_pin "$mod" "$drv" release_lookup || return
		[ "$(dstat pins)" = 0 ] || fail "pins left: $(dstat pins)"
		return
	fi
	out=$(rmmod "$mod" 2>&1)
	rc=$?
	release_lookup || fail "the held lookup of $drv failed" || return
	[ $rc -ne 0 ] || fail "rmmod $mod succeeded while $drv was pinned" || return
	e=$(errno_of "$out")
	[ "$e" = EAGAIN ] || [ "$e" = EBUSY ] || fail "rmmod: '$out', expected EAGAIN/EBUSY" || return
	[ "$(cat "$D/drivers/$drv/pins")" = 0 ] || fail "pin not dropped after the lookup" || return
	rmmod "$mod" || fail "rmmod $mod failed after the pin was dropped" || return
	[ ! -d "$D/drivers/$drv" ] || fail "$D/drivers/$drv survived rmmod"
}

test_failed_init_leaves_no_trace() {
	reg=$(dstat registered) unreg=$(dstat unregistered) drivers=$(dstat drivers)
	out=$(modprobe drvreg_failing 2>&1) && fail "drvreg_failing loaded" && return 1
	[ "$(errno_of "$out")" = ENODEV ] || fail "modprobe drvreg_failing: '$out', expected ENODEV" || return
	[ ! -d /sys/module/drvreg_failing ] || fail "drvreg_failing is still loaded" || return
	[ ! -e "$D/drivers/failing0" ] || fail "failing0 is still in sysfs" || return
	[ "$(dstat drivers)" = "$drivers" ] || fail "driver count changed" || return
	r=$(($(dstat registered) - reg)) u=$(($(dstat unregistered) - unreg))
	[ $r -ge 1 ] && [ $r -eq $u ] || fail "registered +$r, unregistered +$u: expected equal, >= 1"
}

# Rusty Russell: a module's drivers are isolated until its init succeeds.
test_coming_driver_refused() {
	refused=$(dstat refused)
	# (its init sleeps up to 60 s, until modprobe gets a signal: the checks need no timing)
	$MODPROBE drvreg_failing delay_ms=60000 2>/dev/null &
	pid=$!
	wait_for "[ -d $D/drivers/failing0 ]" || fail "failing0 never appeared" || return
	state=$(cat "$D/drivers/failing0/state" 2>/dev/null)
	got=$(attr_write "$DBG/lookup" failing0)
	kill -USR1 $pid
	wait $pid
	[ "$state" = coming ] || fail "failing0 state was '$state', expected coming" || return
	[ "$got" = ENODEV ] || fail "lookup of a coming driver: $got, expected ENODEV" || return
	[ "$(dstat refused)" -gt "$refused" ] || fail "refusal not counted" || return
	[ ! -e "$D/drivers/failing0" ] || fail "failing0 survived the failed init"
}

# "Call every driver": each live driver is opened and released once.
test_call_all() {
	for d in sample0 sample1 sample_c0 sample_c1; do eval "o_$d=$(status_value $d opens)"; done
	expect_write "$DBG/call_all" 1 OK || return
	for d in sample0 sample1 sample_c0 sample_c1; do
		eval "o=\$o_$d"
		[ "$(status_value $d opens)" -eq $((o + 1)) ] || fail "$d was not opened once" || return
		[ "$(status_value $d releases)" -eq "$(status_value $d opens)" ] || fail "$d not released" || return
	done
	[ "$(dstat pins)" = 0 ] || fail "pins left: $(dstat pins)" || return
	expect_write "$DBG/call_all" 2 EINVAL
}

# call_all calls every live driver even when some fail to open, and reports the first
# failure: the C sample's fail_open makes its opens fail with EIO.
test_call_all_reports_failure() {
	p=/sys/module/drvreg_sample_c/parameters/fail_open
	for d in sample0 sample1 sample_c0 sample_c1; do eval "c_$d=$(cat "$D/drivers/$d/calls")"; done
	o=$(status_value sample1 opens)
	echo Y >"$p" || fail "cannot set $p" || return
	got=$(attr_write "$DBG/call_all" 1)
	echo N >"$p"
	[ "$got" = EIO ] || fail "call_all with failing opens: $got, expected EIO" || return
	for d in sample0 sample1 sample_c0 sample_c1; do
		eval "c=\$c_$d"
		[ "$(cat "$D/drivers/$d/calls")" -gt "$c" ] || fail "$d was not called" || return
	done
	[ "$(status_value sample1 opens)" -eq $((o + 1)) ] || fail "sample1 was not opened" || return
	[ "$(status_value sample1 releases)" -eq "$(status_value sample1 opens)" ] || fail "sample1 not released" || return
	[ "$(dstat pins)" = 0 ] || fail "pins left: $(dstat pins)" || return
	expect_write "$DBG/call_all" 1 OK
}

# Another module pins a driver through the exported ABI (drvreg_get and friends): the
# driver's module cannot be unloaded until the client lets go. locked, rcu: rmmod is
# refused; twostage: rmmod waits until the client unloads (drvreg_sample is loaded again
# afterwards, with count=2, for the tests that follow).
test_client_pins() {
	o=$(status_value sample1 opens) r=$(status_value sample1 releases)
	modprobe drvreg_client target=sample1 || fail "modprobe drvreg_client target=sample1" || return
	[ "$(cat "$D/drivers/sample1/pins")" = 1 ] || fail "sample1 is not pinned by the client" || return
	[ "$(status_value sample1 opens)" -eq $((o + 1)) ] || fail "the client did not open sample1" || return
	if twostage; then
		rel=$(dmesg_count "released sample1; dropping the pin")
		rmmod_waits_for_pin drvreg_sample sample1 "rmmod drvreg_client" || return
		[ "$(dstat pins)" = 0 ] || fail "pin not dropped by the client: pins=$(dstat pins)" || return
		[ "$(dmesg_count "released sample1; dropping the pin")" -eq $((rel + 1)) ] ||
			fail "the client did not release sample1" || return
		modprobe drvreg_sample count=2 || fail "reloading drvreg_sample count=2"
		return
	fi
	out=$(rmmod drvreg_sample 2>&1) && fail "rmmod drvreg_sample succeeded while the client pins it" && return 1
	e=$(errno_of "$out")
	[ "$e" = EAGAIN ] || [ "$e" = EBUSY ] || fail "rmmod drvreg_sample: '$out'" || return
	rmmod drvreg_client || fail "rmmod drvreg_client" || return
	[ "$(cat "$D/drivers/sample1/pins")" = 0 ] || fail "pin not dropped by the client" || return
	[ "$(status_value sample1 releases)" -eq $((r + 1)) ] || fail "the client did not release sample1"
}

test_client_absent_target() {
	ko=$(find /lib/modules/"$(uname -r)" -name drvreg_client.ko | head -n 1)
	n=$(dmesg_count "cannot pin no_such_driver")
	insmod "$ko" target=no_such_driver 2>/dev/null && fail "client loaded without its target" && return 1
	[ ! -d /sys/module/drvreg_client ] || fail "drvreg_client is loaded" || return
	[ "$(dmesg_count "cannot pin no_such_driver")" -gt "$n" ] || fail "no 'cannot pin' message"
}

# Rusty Russell: a module cannot pin itself. self_pin_refused MODULE DRIVER MESSAGE
# reloads MODULE with selfpin=1: it tries to pin its own DRIVER and fails to load unless
# the core refuses (Rust: EDEADLK; C: EDEADLK through drvreg_get(), and EINVAL for
# __drvreg_get(name, NULL, pin), which must not skip the check). The refusal is counted
# once in self_pins, DRIVER is not pinned, and MESSAGE is in the kernel log.
self_pin_refused() {
	rmmod "$1" || fail "rmmod $1" || return
	sp=$(dstat self_pins) n=$(dmesg_count "$3")
	modprobe "$1" count=2 selfpin=1 || fail "$1: the self-pin was not refused (see dmesg)" || return
	[ "$(dstat self_pins)" -eq $((sp + 1)) ] || fail "self_pins did not count the refusal" || return
	[ "$(cat "$D/drivers/$2/pins")" = 0 ] || fail "$2 is pinned" || return
	[ "$(dmesg_count "$3")" -gt "$n" ] || fail "no '$3' in the kernel log"
}

test_stats_add_up() {
	stats_add_up || return
	[ "$(dstat pins)" = 0 ] || fail "pins outstanding: $(dstat pins)"
}

test_lookup_bad_input() {
	long=abcdefghijabcdefghijabcdefghijabcdefghij
	lookups=$(dstat lookups)
	expect_write "$DBG/lookup" "" EINVAL || return
	expect_write "$DBG/lookup" "$long" EINVAL || return
	expect_write "$DBG/lookup" "a/b" EINVAL || return
	[ "$(attr_write_raw "$DBG/lookup" 'sam\001ple0')" = EINVAL ] || fail "non-printable name accepted" || return
	[ "$(attr_write_raw "$DBG/lookup" 'sample0 x')" = EINVAL ] || fail "name with a space accepted" || return
	[ "$(dstat lookups)" = "$lookups" ] || fail "malformed input was looked up" || return
	expect_write "$DBG/lookup" no_such_driver ENOENT || return
	[ "$(dstat lookups)" = $((lookups + 1)) ] || fail "unknown name not counted as a lookup"
}

test_knobs_bad_input() {
	expect_write "$D/mode" "" EINVAL || return
	expect_write "$D/mode" lockedx EINVAL || return
	expect_write "$D/mode" racy EPERM || return
	[ "$(drvreg_mode_now)" = "$DRVREG_MODE" ] || fail "mode changed to $(drvreg_mode_now)" || return
	expect_write "$DBG/race_window_us" 17 OK || return
	for v in "" -1 abc 1000001 99999999999 "1 2"; do
		expect_write "$DBG/race_window_us" "$v" EINVAL || return
	done
	[ "$(cat "$DBG/race_window_us")" = 17 ] || fail "race_window_us changed on bad input" || return
	expect_write "$DBG/race_window_us" 0 OK || return
	for v in "" 0 17 x; do expect_write "$DBG/stress/threads" "$v" EINVAL || return; done
	expect_write "$DBG/stress/target" "" EINVAL || return
	expect_write "$DBG/stress/target" abcdefghijabcdefghijabcdefghijabcdefghij EINVAL || return
	for v in "" 2 yes; do expect_write "$DBG/stress/running" "$v" EINVAL || return; done
	[ "$(cat "$DBG/stress/running")" = 0 ] || fail "stress started on bad input" || return
	[ "$(cat "$DBG/stress/threads")" = 2 ] && [ "$(cat "$DBG/stress/target")" = sample0 ] ||
		fail "stress settings changed on bad input"
}

# Writable files are root's (mode 0644 or 0200); debugfs (/sys/kernel/debug, mode 0700)
# is root's altogether: another user cannot even read stats there, but reads mode.
test_non_root_refused() {
	have_nobody || return "$KSFT_SKIP"
	knobs="$D/mode $DBG/lookup $DBG/race_window_us $DBG/stress/threads $DBG/stress/target $DBG/stress/running"
	for a in $knobs; do
		[ -e "$a" ] || fail "$a is missing" || return
		out=$(as_nobody "echo 1 > $a" 2>&1) && fail "nobody could write $a" && return 1
		[ "$(errno_of "$out")" = EACCES ] || fail "nobody writing $a: '$out'" || return
	done
	as_nobody "cat $D/mode" >/dev/null || fail "nobody cannot read $D/mode" || return
	out=$(as_nobody "cat $DBG/stats" 2>&1) && fail "nobody could read $DBG/stats" && return 1
	[ "$(errno_of "$out")" = EACCES ] || fail "nobody reading $DBG/stats: '$out'" || return
	for a in $knobs; do
		m=$(stat -c %a "$a" 2>/dev/null || ls -l "$a" | cut -c1-10)
		case "$m" in 644 | 200 | -rw-r--r-- | --w-------) ;; *) fail "$a has mode $m" || return ;; esac
	done
}

# A driver unregistered at run time (not by its module's exit) while a pin on it is held:
# lookups stop finding it at once, drvreg_unregister() blocks until the pin is dropped, and
# no callback of the driver runs after it returned. The pin is the client module's, held
# until it unloads, so the wait does not depend on timing.
test_unregister_waits_for_pins() {
	P=/sys/module/drvreg_sample_c/parameters
	rmmod drvreg_sample_c 2>/dev/null
	modprobe drvreg_sample_c count=2 || fail "modprobe drvreg_sample_c count=2" || return
	modprobe drvreg_client target=sample_c0 || fail "modprobe drvreg_client target=sample_c0" || return
	[ "$(cat "$D/drivers/sample_c0/pins")" = 1 ] || fail "sample_c0 is not pinned by the client" || return
	unreg=$(dstat unregistered) nmsg=$(dmesg_count "sample_c0: unregistered at run time")
	echo 0 >"$P/unregister" &
	upid=$!
	# Unregistering has started once a lookup no longer finds the driver.
	wait_for "[ \"\$(attr_write $DBG/lookup sample_c0)\" = ENOENT ]" ||
		fail "sample_c0 is still found after unregistering started" || return
	for _ in 1 2 3 4 5; do
		kill -0 $upid 2>/dev/null || fail "drvreg_unregister() returned while sample_c0 was pinned" || return
		sleep 0.2
	done
	[ "$(dstat unregistered)" = "$unreg" ] || fail "counted as unregistered while pinned" || return
	[ -d "$D/drivers/sample_c0" ] || fail "sample_c0's directory went while it was pinned" || return
	# call_all skips a driver being unregistered (sample_c1 is still called).
	expect_write "$DBG/call_all" 1 OK || return
	rmmod drvreg_client || fail "rmmod drvreg_client" || return
	wait $upid || fail "writing 0 to $P/unregister failed" || return
	[ "$(dstat unregistered)" = $((unreg + 1)) ] || fail "unregistration not counted" || return
	[ ! -e "$D/drivers/sample_c0" ] || fail "sample_c0's directory survived" || return
	# Every open was released by the time drvreg_unregister() returned.
	[ "$(dmesg_count "sample_c0: unregistered at run time")" -eq $((nmsg + 1)) ] ||
		fail "no new 'sample_c0: unregistered at run time' message" || return
	line=$(dmesg | grep -o 'sample_c0: unregistered at run time (opens [0-9]*, releases [0-9]*)' | tail -n 1)
	o=$(echo "$line" | sed -n 's/.*opens \([0-9]*\),.*/\1/p')
	r=$(echo "$line" | sed -n 's/.*releases \([0-9]*\))/\1/p')
	[ -n "$o" ] && [ "$o" -ge 1 ] && [ "$o" = "$r" ] ||
		fail "at unregister: '$line' (expected opens = releases >= 1)" || return
	expect_write "$DBG/lookup" sample_c0 ENOENT || return
	expect_write "$DBG/call_all" 1 OK || return
	[ "$(cat "$P/late_calls")" = 0 ] || fail "$(cat "$P/late_calls") callbacks ran after unregister returned" || return
	[ "$(attr_write "$P/unregister" 0)" = ENOENT ] || fail "sample_c0 unregistered twice" || return
	[ "$(attr_write "$P/unregister" x)" = EINVAL ] || fail "unregister=x accepted" || return
	expect_write "$DBG/lookup" sample_c1 OK || return
	rmmod drvreg_sample_c || fail "rmmod drvreg_sample_c after a run-time unregister" || return
	[ ! -e "$D/drivers/sample_c1" ] || fail "sample_c1 survived rmmod"
}

# A second drvreg_unregister() of a driver that is still being unregistered waits for the
# first. The C sample's work item unregisters sample_c0 (unregister_async), waiting for
# the client's pin; then rmmod runs the sample's exit, which unregisters sample_c0 again.
# twostage: the pin holds no module reference, so rmmod runs the exit at once, and the
# exit's call must wait until the work item's has finished (once the client unloads): a
# call that returned early would let the exit go on, and the client's release would run
# after it (logged as a late call). locked, rcu: rmmod is refused while the client pins.
test_second_unregister_waits() {
	P=/sys/module/drvreg_sample_c/parameters
	rmmod drvreg_sample_c 2>/dev/null
	modprobe drvreg_sample_c count=2 || fail "modprobe drvreg_sample_c count=2" || return
	modprobe drvreg_client target=sample_c0 || fail "modprobe drvreg_client target=sample_c0" || return
	late=$(dmesg_count "called after drvreg_unregister() returned")
	works=$(dmesg_count "sample_c0: unregistered from a work item")
	expect_write "$P/unregister_async" 0 OK || return
	wait_for "[ \"\$(attr_write $DBG/lookup sample_c0)\" = ENOENT ]" ||
		fail "sample_c0 is still found after the work item started unregistering it" || return
	[ "$(attr_write "$P/unregister_async" 1)" = EBUSY ] ||
		fail "unregister_async while the work item waits: not EBUSY" || return
	if twostage; then
		rmmod_waits_for_pin drvreg_sample_c sample_c0 "rmmod drvreg_client" || return
	else
		out=$(rmmod drvreg_sample_c 2>&1) &&
			fail "rmmod drvreg_sample_c succeeded while the client pinned sample_c0" && return 1
		rmmod drvreg_client || fail "rmmod drvreg_client" || return
		wait_for "[ \$(dmesg_count 'sample_c0: unregistered from a work item') -gt $works ]" ||
			fail "the work item's unregister did not return after the client unloaded" || return
		rmmod drvreg_sample_c || fail "rmmod drvreg_sample_c after the client unloaded" || return
	fi
	[ "$(dmesg_count "sample_c0: unregistered from a work item")" -gt "$works" ] ||
		fail "the work item's unregister never returned" || return
	[ "$(dmesg_count "called after drvreg_unregister() returned")" = "$late" ] ||
		fail "a callback of sample_c0 ran after the exit's drvreg_unregister() returned" || return
	[ "$(dstat pins)" = 0 ] || fail "pins left: $(dstat pins)" || return
	modprobe drvreg_sample_c || fail "reloading drvreg_sample_c"
}

# Registration scales: DRVREG_MANY (default 10 000) drivers of one module register, are
# all visible and found, and all go at rmmod (the times are logged for information, not
# checked). make check asks for 1 000 on KASAN's lane, where one registration costs about
# 20 ms of the guest's time; the scale itself is shown on the others.
test_many_drivers() {
	n=${DRVREG_MANY:-10000} drivers=$(dstat drivers)
	case "$n" in '' | *[!0-9]*) fail "DRVREG_MANY='$n' is not a number" && return 1 ;; esac
	[ "$n" -ge 2 ] || fail "DRVREG_MANY=$n: at least 2" || return
	modprobe drvreg_many drivers=$n || fail "modprobe drvreg_many drivers=$n" || return
	[ "$(dstat drivers)" = $((drivers + n)) ] || fail "stats say $(dstat drivers) drivers" || return
	[ "$(ls "$D/drivers" | grep -c '^many')" = $n ] || fail "not $n many* directories" || return
	expect_write "$DBG/lookup" many0 OK || return
	expect_write "$DBG/lookup" many$((n - 1)) OK || return
	mid=many$((n / 2 - 1))
	[ "$(cat "$D/drivers/$mid/owner")" = drvreg_many ] || fail "$mid has the wrong owner" || return
	rmmod drvreg_many || fail "rmmod drvreg_many" || return
	[ "$(dstat drivers)" = "$drivers" ] || fail "drivers left: $(dstat drivers), expected $drivers" || return
	[ "$(ls "$D/drivers" | grep -c '^many')" = 0 ] || fail "many* directories left" || return
	msg "$(dmesg | grep -o 'drvreg_many: .*registered .*' | tail -n 2 | tr '\n' ' ')"
}

test_unload_all() {
	[ "$(drvreg_mode_now)" = "$DRVREG_MODE" ] || fail "the mode is $(drvreg_mode_now), not $DRVREG_MODE: the run was not in that mode" || return
	rmmod drvreg_sample drvreg_sample_c || fail "rmmod of the samples failed" || return
	[ "$(dstat drivers)" = 0 ] || fail "drivers left: $(dstat drivers)" || return
	[ -z "$(ls "$D/drivers")" ] || fail "driver directories left: $(ls "$D/drivers")" || return
	stats_add_up || return
	rmmod drvreg || fail "rmmod drvreg failed" || return
	[ ! -e "$D" ] && [ ! -e "$DBG" ] || fail "$D or $DBG left behind"
}

# The debugfs files' file_operations have an owner (rust/debugfs.c): an open file holds a
# reference on drvreg.ko, so rmmod drvreg is refused (EAGAIN) until it is closed, rather
# than debugfs calling the file's release() in freed module memory after the unload.
test_open_debugfs_file_pins_core() {
	modprobe drvreg || fail "modprobe drvreg failed" || return
	exec 3<"$DBG/stats"
	out=$(rmmod drvreg 2>&1)
	rc=$?
	exec 3<&-
	[ $rc != 0 ] || fail "rmmod drvreg succeeded while $DBG/stats was open" || return
	# (kmod's rmmod reads the reference count first and says "is in use": EBUSY here)
	e=$(errno_of "$out")
	[ "$e" = EAGAIN ] || [ "$e" = EBUSY ] || fail "rmmod drvreg with $DBG/stats open: '$out', expected EAGAIN" || return
	rmmod drvreg || fail "rmmod drvreg failed once the file was closed" || return
	[ ! -e "$DBG" ] || fail "$DBG left behind"
}

# The trace events (Documentation/drvreg.rst, "Trace events"), with drvreg_sample loaded:
# a lookup of sample0 and one of a missing name, then rmmod drvreg_sample, traced; then
# with the events disabled again, a lookup traces nothing.
test_trace_events() {
	t=/sys/kernel/tracing
	[ -d $t/events/drvreg ] || { msg "no tracefs or no drvreg events (CONFIG_TRACEPOINTS)"; return "$KSFT_SKIP"; }
	m=$DRVREG_MODE hold=module
	twostage && hold=percpu
	echo 0 >$t/tracing_on && echo >$t/trace && echo 1 >$t/events/drvreg/enable &&
		echo 1 >$t/tracing_on || fail "could not enable the drvreg events" || return
	expect_write "$DBG/lookup" sample0 OK &&
		expect_write "$DBG/lookup" nosuchdriver ENOENT &&
		rmmod drvreg_sample || { echo 0 >$t/events/drvreg/enable; fail "lookups or rmmod failed"; return; }
	echo 0 >$t/tracing_on
	grep -o 'drvreg_[a-z_]*: .*' $t/trace >/tmp/drvreg-trace.$$
	echo 0 >$t/events/drvreg/enable
	modprobe drvreg_sample || fail "modprobe drvreg_sample failed" || return
	# The events of the sample0 lookup, in this order, then the others.
	want="drvreg_lookup_start: mode=$m name=sample0 err=0
drvreg_pin: name=sample0 hold=$hold
drvreg_lookup_end: mode=$m name=sample0 err=0
drvreg_unpin: name=sample0 hold=$hold"
	got=$(grep 'name=sample0 ' /tmp/drvreg-trace.$$ | grep -v unregister)
	[ "$got" = "$want" ] || fail "sample0's lookup traced as '$got', expected '$want'" || return
	for e in "drvreg_lookup_end: mode=$m name=nosuchdriver err=-2" \
		"drvreg_unregister_begin: name=sample0 module=drvreg_sample" \
		"drvreg_unregister_end: name=sample0 module=drvreg_sample"; do
		grep -qx "$e" /tmp/drvreg-trace.$$ || fail "no '$e' in the trace" || return
	done
	grep -q 'drvreg_pin: name=nosuchdriver' /tmp/drvreg-trace.$$ && fail "a failed lookup traced a pin" && return
	# Disabled: nothing more is recorded.
	echo >$t/trace && echo 1 >$t/tracing_on
	expect_write "$DBG/lookup" sample0 OK || return
	echo 0 >$t/tracing_on
	n=$(grep -c 'drvreg_' $t/trace)
	rm -f /tmp/drvreg-trace.$$
	[ "$n" = 0 ] || fail "$n drvreg events recorded with the events disabled"
}

drvreg_require_modules
drvreg_check_mode
drvreg_cleanup
ktap_print_header
ktap_set_plan 35
run_test "load the core, set lookup mode $DRVREG_MODE" test_load_core
run_test "modprobe of a driver module loads the core" test_modprobe_loads_core
run_test "rmmod drvreg refused while a driver module is loaded" test_rmmod_core_refused
run_test "load the Rust and C samples" test_load_samples
run_test "rust: status is read through the driver" test_status_through_driver sample0
run_test "c: status is read through the driver" test_status_through_driver sample_c0
run_test "rust: lookup opens and releases once" test_lookup_opens_and_releases sample1
run_test "c: lookup opens and releases once" test_lookup_opens_and_releases sample_c1
run_test "C and Rust status texts have the same keys" test_c_and_rust_alike
run_test "call_all opens and releases every driver once" test_call_all
run_test "call_all calls every driver and reports a failed open (EIO)" test_call_all_reports_failure
if twostage; then
	run_test "twostage: a client module pins a driver; rmmod waits until it unloads" test_client_pins
else
	run_test "a client module pins a driver; rmmod refused until it unloads" test_client_pins
fi
run_test "a client cannot pin an absent driver" test_client_absent_target
run_test "rust: a module cannot pin its own driver (EDEADLK)" self_pin_refused drvreg_sample sample0 \
	"pinning my own sample0 was refused with EDEADLK"
run_test "c: no self-pin through the macro (EDEADLK) or around it (EINVAL)" self_pin_refused drvreg_sample_c sample_c0 \
	"selfpin: drvreg_get(sample_c0) = -35, __drvreg_get(sample_c0, NULL) = -22"
run_test "rust: duplicate name fails the load with EBUSY" test_duplicate_name drvreg_sample "name=sample_c"
run_test "c: duplicate name fails the load with EBUSY" test_duplicate_name drvreg_sample_c "name=sample"
run_test "c: a driver built for another C ABI version is refused (ENOEXEC)" test_other_abi
run_test "stats add up" test_stats_add_up
run_test "lookup rejects malformed and unknown names" test_lookup_bad_input
run_test "control knobs reject bad input and change nothing" test_knobs_bad_input
run_test "writable attributes are root-only" test_non_root_refused
if twostage; then
	run_test "rust: twostage: rmmod waits while pinned, completes after" test_rmmod_while_pinned drvreg_sample sample0
	run_test "c: twostage: rmmod waits while pinned, completes after" test_rmmod_while_pinned drvreg_sample_c sample_c0
else
	run_test "rust: rmmod refused while pinned, allowed after" test_rmmod_while_pinned drvreg_sample sample0
	run_test "c: rmmod refused while pinned, allowed after" test_rmmod_while_pinned drvreg_sample_c sample_c0
fi
run_test "failed init leaves no trace" test_failed_init_leaves_no_trace
run_test "drivers of a module still in init are refused" test_coming_driver_refused
run_test "stats add up after refusals" test_stats_add_up
run_test "run-time unregister waits for pins; no callback after it" test_unregister_waits_for_pins
run_test "a second unregister waits for the first; no callback after it" test_second_unregister_waits
run_test "${DRVREG_MANY:-10000} drivers register, are found and unregister" test_many_drivers
modprobe drvreg_sample && modprobe drvreg_sample_c
run_test "trace events: a lookup, a miss and an unregistration, in order; none once disabled" test_trace_events
run_test "rust: status after reload" test_status_through_driver sample0
run_test "c: status after reload" test_status_through_driver sample_c0
run_test "unload everything, nothing left" test_unload_all
run_test "an open debugfs file keeps drvreg loaded (rmmod: EAGAIN)" test_open_debugfs_file_pins_core
drvreg_cleanup
ktap_finished

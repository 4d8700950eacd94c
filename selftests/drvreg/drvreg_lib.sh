#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Shared helpers of the drvreg kselftests (sourced, busybox sh compatible).
# Each test is a shell function returning 0 (pass), 1 (fail) or $KSFT_SKIP; it
# explains a failure with ktap_print_msg ("# ..." lines).

DRVREG_TEST_DIR=$(dirname "$(readlink -f "$0")")
# ktap_helpers.sh sits in ../kselftest/ both in the kernel tree and in an installed
# kselftest tree.
. "$DRVREG_TEST_DIR/../kselftest/ktap_helpers.sh"

D=/sys/kernel/drvreg
DBG=/sys/kernel/debug/drvreg
KTAP_TESTNO=1

# The lookup mode the suites run in (/sys/kernel/drvreg/mode), from the environment: one
# of the safe modes the core lists, locked (the default), rcu or twostage. Every place that
# loads the core sets it (drvreg_set_mode); tests whose expectation differs by mode branch
# on it.
DRVREG_MODE=${DRVREG_MODE:-locked}

# The current lookup mode: the bracketed name in /sys/kernel/drvreg/mode, which lists
# every selectable mode as '[locked] rcu twostage' (racy too with allow_racy=1).
drvreg_mode_now() { sed -n 's/.*\[\([a-z]*\)\].*/\1/p' "$D/mode"; }

# The safe lookup modes, as the core lists them when loaded without allow_racy (loads it
# for a moment if it is not loaded).
drvreg_safe_modes() {
	if [ -e "$D/mode" ] && [ "$(cat /sys/module/drvreg/parameters/allow_racy)" = N ]; then
		tr -d '[]' <"$D/mode"
	elif [ -e "$D/mode" ]; then
		tr -d '[]' <"$D/mode" | tr ' ' '\n' | grep -vx racy | tr '\n' ' '
	else
		modprobe drvreg && tr -d '[]' <"$D/mode" && rmmod drvreg
	fi
}

# The module tools (busybox's, or kmod's with DRVREG_TOOLS=kmod): drvreg_tools.sh.
. "$DRVREG_TEST_DIR/drvreg_tools.sh"

# drvreg_installed MODULE: whether MODULE is installed for the running kernel (in
# modules.dep, not by modinfo: busybox's modinfo succeeds for a module it cannot find).
drvreg_installed() { grep -q "/$1\.ko" "/lib/modules/$(uname -r)/modules.dep" 2>/dev/null; }

# Skip everything (exit 4) unless we are root and the modules are installed; bail out (a
# failure) if DRVREG_TOOLS names tools that are not the ones the suites would run.
drvreg_require_modules() {
	if [ "$(id -u)" != 0 ]; then
		ktap_skip_all "must be run as root"
		exit "$KSFT_SKIP"
	fi
	why=$(drvreg_tools_check)
	[ -z "$why" ] || drvreg_bail_out "$why"
	for m in drvreg drvreg_sample drvreg_sample_c drvreg_failing drvreg_client drvreg_many; do
		if ! drvreg_installed "$m"; then
			ktap_skip_all "module $m is not installed"
			exit "$KSFT_SKIP"
		fi
	done
}

msg() { ktap_print_msg "$@"; }

# Ends the program before its first test: KTAP header, "Bail out!" with the reason, exit 1.
drvreg_bail_out() {
	ktap_print_header
	ktap_exit_fail_msg "$1"
}

# Bails out (a failure, not a skip) unless DRVREG_MODE is one of the safe modes: a run
# asked for in another mode must not pass in the default one.
drvreg_check_mode() {
	safe=$(drvreg_safe_modes) || drvreg_bail_out "could not load drvreg to read its lookup modes"
	case " $safe " in
	*" $DRVREG_MODE "*) ;;
	*) drvreg_bail_out "DRVREG_MODE='$DRVREG_MODE' is not a safe lookup mode (one of: $safe)" ;;
	esac
}

# Sets the lookup mode to DRVREG_MODE after the core was (re)loaded, and checks that it
# took; fails the current test otherwise.
drvreg_set_mode() {
	got=$(attr_write "$D/mode" "$DRVREG_MODE")
	[ "$got" = OK ] || fail "writing '$DRVREG_MODE' to $D/mode: $got" || return
	[ "$(drvreg_mode_now)" = "$DRVREG_MODE" ] || fail "mode is '$(drvreg_mode_now)' after writing '$DRVREG_MODE'"
}

# drvreg_load_core [PARAMS]: modprobe drvreg with PARAMS, then set DRVREG_MODE.
drvreg_load_core() {
	modprobe drvreg "$@" || fail "modprobe drvreg $*" || return
	drvreg_set_mode
}

# True in twostage mode: pins hold no module reference, so rmmod of a pinned driver's
# owner waits for the pin instead of failing.
twostage() { [ "$DRVREG_MODE" = twostage ]; }

# Fails the current test with a message.
fail() {
	msg "$@"
	return 1
}

# The errno name of a failed write or module command, from the error message (the
# shell's strerror, busybox's and kmod's module tools).
errno_of() {
	errno_name "$1"
	echo "$errno"
}

# errno_name MESSAGE: as errno_of, into $errno (no subshell: for the fuzz's hot loop).
errno_name() {
	case "$1" in
	*"Invalid argument"* | *"Invalid parameters"*) errno=EINVAL ;;
	*[Uu]"nknown symbol in module"*) errno=ENOENT ;;
	*" is in use"*) errno=EBUSY ;;
	*"Module already in kernel"*) errno=EEXIST ;;
	*"No such file or directory"*) errno=ENOENT ;;
	*"No such device"*) errno=ENODEV ;;
	*"Operation not permitted"*) errno=EPERM ;;
	*"Permission denied"*) errno=EACCES ;;
	*"Device or resource busy"*) errno=EBUSY ;;
	*"File exists"*) errno=EEXIST ;;
	*"Resource temporarily unavailable"*) errno=EAGAIN ;;
	*"Resource deadlock"*) errno=EDEADLK ;;
	*"Input/output error"*) errno=EIO ;;
	*[Ii]"nvalid module format"* | *"Exec format error"*) errno=ENOEXEC ;;
	*) errno="unknown($1)" ;;
	esac
}

# attr_write FILE VALUE: writes VALUE and a newline, prints OK or the errno name.
# (echo, not printf: busybox's printf builtin does not report write errors.)
attr_write() {
	if out=$( { echo "$2" >"$1"; } 2>&1); then
		echo OK
	else
		errno_of "$out"
	fi
}

# raw_write FILE VALUE ERRFILE: writes VALUE without a newline, with echo -e escapes, in
# one write(2), and sets $got to OK or the errno name, with no subshell (each fork costs
# milliseconds under TCG, and the fuzz writes thousands of times; only a value of more
# than one line forks, a dd); the shell's or dd's message goes through ERRFILE.
raw_write() {
	case "$2" in
	*'\n'?*)
		# More than one line: bash's echo writes its output line by line (its stdout is
		# line-buffered), which would be several writes; dd makes it one, in any shell.
		echo -ne "$2" >/tmp/raw_write.in
		if dd if=/tmp/raw_write.in of="$1" bs=4096 count=1 2>"$3"; then
			got=OK
			return 0
		fi
		IFS= read -r out <"$3" || :
		errno_name "$out"
		got=$errno
		return 1
		;;
	esac
	if { echo -ne "$2" >"$1"; } 2>"$3"; then
		got=OK
		return 0
	fi
	IFS= read -r out <"$3" || :
	errno_name "$out"
	got=$errno
}

# attr_write_raw FILE VALUE: raw_write's result, printed.
attr_write_raw() {
	raw_write "$1" "$2" "/tmp/drvreg-write.$$"
	rm -f "/tmp/drvreg-write.$$"
	echo "$got"
}

# expect_write FILE VALUE ERRNO: the write must end with ERRNO (or OK).
expect_write() {
	got=$(attr_write "$1" "$2")
	[ "$got" = "$3" ] || fail "writing '$2' to $1: got $got, expected $3"
}

# dstat NAME: a counter from /sys/kernel/debug/drvreg/stats.
dstat() { sed -n "s/^$1 //p" "$DBG/stats"; }

# The stats identity: every lookup ends as exactly one of hit, miss, refused, self-pin.
stats_add_up() {
	l=$(dstat lookups) h=$(dstat hits) m=$(dstat misses) r=$(dstat refused) s=$(dstat self_pins)
	[ "$l" -eq $((h + m + r + s)) ] ||
		fail "stats do not add up: lookups=$l hits=$h misses=$m refused=$r self_pins=$s"
}

# A value of a driver's status text: status_value DRIVER KEY.
status_value() { sed -n "s/^$2 //p" "$D/drivers/$1/status"; }

# dmesg_count TEXT: how many kernel log lines contain TEXT. Tests compare counts from
# before and after, since the log keeps the lines of earlier runs (make check runs the
# suites once per lookup mode in one boot).
dmesg_count() { dmesg | grep -cF -- "$1"; }

# Runs a command as an unprivileged user, if the system has one.
have_nobody() { id nobody >/dev/null 2>&1; }
as_nobody() { su -s /bin/sh nobody -c "$1"; }

# Unloads every drvreg module (stopping stress workers first), ignoring errors.
drvreg_cleanup() {
	[ -w "$DBG/stress/running" ] && echo 0 >"$DBG/stress/running" 2>/dev/null
	for m in drvreg_client drvreg_sample drvreg_sample_c drvreg_failing drvreg_many drvreg; do
		if [ -d "/sys/module/$m" ]; then
			i=0
			while ! rmmod "$m" 2>/dev/null && [ $i -lt 50 ]; do
				i=$((i + 1))
				sleep 0.1
			done
		fi
	done
}

# wait_for CONDITION-COMMAND [TENTHS]: polls until the command succeeds (at most 30 s: a
# bound for a dead guest, not a timing goal).
wait_for() {
	i=0
	while ! eval "$1"; do
		i=$((i + 1))
		[ $i -ge "${2:-300}" ] && return 1
		sleep 0.1
	done
}

# HOLD_US: the open delay of a driver a test holds pinned (the samples' delay_us=). The
# samples end a sleep of 20 ms or more early when the opening task gets a signal, so a
# pin lasts until the test releases it (release_lookup), not for a time that a loaded
# guest may outrun; HOLD_US only bounds it if the test dies.
HOLD_US=60000000

# hold_lookup DRIVER: a lookup of DRIVER in the background ($held_pid), held inside the
# driver's open (loaded with delay_us=$HOLD_US) until release_lookup.
hold_lookup() {
	(
		trap : USR1
		echo "$1" >"$DBG/lookup"
	) &
	held_pid=$!
}

# release_lookup: ends the held open (a signal its task catches) and returns the status
# of the lookup's write.
release_lookup() {
	kill -USR1 "$held_pid" 2>/dev/null
	wait "$held_pid"
}

# rmmod_waits_for_pin MODULE DRIVER DROP-COMMAND (twostage): DRIVER of MODULE is pinned;
# the pin holds no module reference, so 'rmmod MODULE' is not refused: it blocks in the
# module's exit (drvreg_unregister) until the pin is dropped. Starts rmmod in the
# background and checks, over about a second, that it keeps running, that MODULE is
# going, that DRIVER can no longer be looked up (ENODEV: owner going, or ENOENT:
# unregistering), that its directory stays (its attributes fail while it unregisters)
# and that the pin is still counted; then drops the pin with DROP-COMMAND (evaluated)
# and checks that rmmod exits 0 and that DRIVER's directory is gone. Nothing else may
# pin a driver meanwhile.
rmmod_waits_for_pin() {
	mod=$1 drv=$2 err=/tmp/drvreg-rmmod.$$
	rmmod "$mod" 2>"$err" &
	rpid=$!
	why=$(rmmod_still_waiting "$mod" "$drv" $rpid)
	eval "$3" || why="${why:-dropping the pin ($3) failed}"
	wait $rpid
	rc=$?
	out=$(cat "$err")
	rm -f "$err"
	[ -z "$why" ] || fail "$why" || return
	[ $rc -eq 0 ] || fail "rmmod $mod exited $rc ('$out') after the pin was dropped" || return
	[ ! -d "/sys/module/$mod" ] || fail "$mod is still loaded" || return
	[ ! -d "$D/drivers/$drv" ] || fail "$D/drivers/$drv survived rmmod"
}

# rmmod_still_waiting MODULE DRIVER PID: the checks of rmmod_waits_for_pin while the pin
# is held, five times over about a second; prints what went wrong, if anything.
rmmod_still_waiting() {
	i=0
	while [ $i -lt 5 ]; do
		sleep 0.2
		i=$((i + 1))
		kill -0 "$3" 2>/dev/null || {
			echo "rmmod $1 ended while $2 was pinned (it must wait for the pin)"
			return
		}
		st=$(cat "/sys/module/$1/initstate" 2>/dev/null)
		[ "$st" = going ] || {
			echo "$1 initstate is '$st' while rmmod waits, expected going"
			return
		}
		got=$(attr_write "$DBG/lookup" "$2")
		[ "$got" = ENODEV ] || [ "$got" = ENOENT ] || {
			echo "lookup of $2 while its module is going: $got, expected ENODEV or ENOENT"
			return
		}
		[ -d "$D/drivers/$2" ] || {
			echo "$D/drivers/$2 went while rmmod waits (it must stay until the pin is dropped)"
			return
		}
		p=$(dstat pins)
		[ "$p" = 1 ] || {
			echo "stats say pins=$p while rmmod waits for $2's pin, expected 1"
			return
		}
	done
}

# run_test DESCRIPTION FUNCTION [ARGS]: one KTAP result line.
run_test() {
	desc=$1
	shift
	read -r run_t0 _ </proc/uptime
	"$@"
	rc=$?
	read -r run_t1 _ </proc/uptime
	if [ $rc -eq 0 ]; then
		ktap_test_pass "$desc"
	elif [ $rc -eq "$KSFT_SKIP" ]; then
		ktap_test_skip "$desc"
	else
		ktap_test_fail "$desc"
	fi
	# Its time, for whoever makes the suites faster (uptime's centiseconds, in whole s).
	msg "took $(((${run_t1%.*}${run_t1#*.} - ${run_t0%.*}${run_t0#*.}) / 100)) s"
}

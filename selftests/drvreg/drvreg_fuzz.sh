#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# drvreg fuzz tests: every writable attribute of the core and the samples gets malformed
# and boundary input; every failed write must end with an errno the attribute documents
# and change nothing (every readable value is read back after each failed write); then 8
# concurrent writers make 2000 random writes each while an unload storm runs.
#
# Writable attributes are found by their mode bits (root-writable files under
# /sys/kernel/drvreg, /sys/kernel/debug/drvreg and drvreg's writable module parameters):
# each must be in the table below, which follows Documentation/ABI/testing/sysfs-kernel-drvreg
# and the debugfs section of Documentation/drvreg.rst. The last line is
#   # METRIC fuzz writes=<n> unexpected_errno=<n> changed_on_error=<n> splats=<n> verdict=<PASS|FAIL>
. "$(dirname "$(readlink -f "$0")")/drvreg_lib.sh"

drvreg_require_modules
# 19 000 writes: 224 s on the base kernel in make check, the debug lane's guest beside it
# (9.5 min on an idle machine while each write forked a few subshells: over CI's 15-min
# kselftest timeout once). make check runs it on the lanes whose 'check' column has
# 'fuzz' (scripts/lanes.conf) and sets DRVREG_FUZZ=skip on the others; any other host
# runs it.
if [ "${DRVREG_FUZZ:-}" = skip ]; then
	ktap_skip_all "make check runs the fuzz on another lane (DRVREG_FUZZ=skip)"
	exit "$KSFT_SKIP"
fi

# allowed_in ATTR: into $ok_errnos, the errnos a write to ATTR may end with (besides OK).
allowed_in() {
	case "$1" in
	*/mode) ok_errnos="EINVAL EPERM" ;;
	*/race_window_us | */call_all | */stress/running) ok_errnos=EINVAL ;;
	*/stress/threads | */stress/target) ok_errnos="EINVAL EBUSY" ;;
	*/lookup) ok_errnos="EINVAL ENOENT ENODEV" ;;
	*/bench/run) ok_errnos="EINVAL ENOENT" ;;
	*/bench/designs) ok_errnos="EINVAL EBUSY ENOENT" ;;
	*/drvreg_sample_c/parameters/unregister) ok_errnos="EINVAL ENOENT" ;;
	*/drvreg_sample_c/parameters/unregister_async) ok_errnos="EINVAL ENOENT EBUSY" ;;
	*/drvreg_sample_c/parameters/fail_open) ok_errnos=EINVAL ;;
	*) ok_errnos=UNKNOWN ;;
	esac
}
# allowed ATTR: the same, printed.
allowed() {
	allowed_in "$1"
	echo "$ok_errnos"
}

# snapshot: into $state, the state a failed write must leave as it was: every readable
# setting of the core, the last benchmark result, the owner and state of every driver,
# the C sample's late_calls and fail_open, and the registration counters (failed lookups
# count as misses, by design). Shell built-ins only, no subshell: it runs after every
# write of the fuzz.
# (Its loop variables are its own: shell variables are global, and callers loop over f.)
snapshot() {
	state=""
	for snap_f in "$D"/mode "$DBG"/race_window_us "$DBG"/stress/threads "$DBG"/stress/target \
		"$DBG"/stress/running "$DBG"/bench/result "$DBG"/bench/designs \
		/sys/module/drvreg_sample_c/parameters/late_calls \
		/sys/module/drvreg_sample_c/parameters/fail_open \
		"$D"/drivers/*/owner "$D"/drivers/*/state; do
		[ -r "$snap_f" ] || continue
		while IFS= read -r snap_l || [ -n "$snap_l" ]; do state="$state|$snap_l"; done <"$snap_f"
	done
	while IFS= read -r snap_l; do
		case "$snap_l" in
		drivers\ * | registered\ * | unregistered\ * | purged\ *) state="$state|$snap_l" ;;
		esac
	done <"$DBG/stats"
}

writes=0 unexpected=0 changed=0 snap=""
# fuzz_write ATTR VALUE(echo -ne escapes): one write, checked against the last snapshot.
fuzz_write() {
	[ -n "$snap" ] || { snapshot; snap=$state; }
	raw_write "$1" "$2" /tmp/fuzz.err
	writes=$((writes + 1))
	if [ "$got" = OK ]; then
		# (an unregister from a work item ends at the latest in the module's exit)
		[ "${1##*/}" != unregister_async ] || rmmod drvreg_sample_c
		restore
		snapshot
		snap=$state
		return 0
	fi
	allowed_in "$1"
	case " $ok_errnos " in
	*" $got "*) ;;
	*)
		unexpected=$((unexpected + 1))
		msg "writing '$2' to $1: $got, not one of: $ok_errnos"
		;;
	esac
	snapshot
	if [ "$snap" != "$state" ]; then
		changed=$((changed + 1))
		msg "a failed write of '$2' to $1 ($got) changed the state"
		snap=$state
	fi
}

# A successful fuzz write may have changed a setting: put the defaults back.
restore() {
	echo 0 >"$DBG/stress/running"
	echo locked >"$D/mode"
	echo 0 >"$DBG/race_window_us"
	echo 2 >"$DBG/stress/threads"
	echo sample0 >"$DBG/stress/target"
	[ -d /sys/module/drvreg_sample_c ] || modprobe drvreg_sample_c
	echo N >/sys/module/drvreg_sample_c/parameters/fail_open
	[ -d /sys/module/drvreg_sample ] || modprobe drvreg_sample
	[ -d "$D/drivers/sample_c1" ] || { rmmod drvreg_sample_c && modprobe drvreg_sample_c; }
}

# big_write ATTR BYTES: a write of BYTES bytes of 'a' (dd writes it in one call).
big_write() {
	head -c "$2" /dev/zero | tr '\0' a >/tmp/fuzz.big
	snapshot
	before=$state
	writes=$((writes + 1))
	if out=$(dd if=/tmp/fuzz.big of="$1" bs="$2" count=1 2>&1); then
		restore
		snapshot
		snap=$state
		return 0
	fi
	got=$(errno_of "$out")
	case " $(allowed "$1") " in
	*" $got "*) ;;
	*) unexpected=$((unexpected + 1)); msg "a $2-byte write to $1: $got" ;;
	esac
	snapshot
	[ "$before" = "$state" ] || { changed=$((changed + 1)); msg "a failed $2-byte write to $1 changed the state"; }
}

# Kernel reports in dmesg, by drvreg's one classifier (splat.awk): any report counts here.
splat_count() { dmesg | awk -f "$DRVREG_TEST_DIR/splat.awk" | wc -l; }

name31=abcdefghijklmnopqrstuvwxyz01234
name32=${name31}5
setup() {
	drvreg_cleanup
	modprobe drvreg || return 1
	modprobe drvreg_sample && modprobe drvreg_sample_c
}

test_writable_files_documented() {
	setup || fail "cannot load the modules" || return
	files=$( (find "$D" "$DBG" -type f -perm -200; find /sys/module/drvreg*/parameters -type f -perm -200) 2>/dev/null)
	[ -n "$files" ] || fail "no writable attribute found" || return
	for f in $files; do
		[ "$(allowed "$f")" != UNKNOWN ] || fail "$f is writable but not in the fuzz table (nor, then, documented?)" || return
	done
	echo "$files" >/tmp/fuzz.files
}

test_root_writing_readonly_gets_eacces() {
	for f in "$DBG/stats" "$DBG/stress/iterations" "$DBG/bench/result" "$D/drivers/sample0/pins"; do
		got=$(attr_write "$f" 1)
		[ "$got" = EACCES ] || fail "root writing $f: $got, expected EACCES" || return
	done
}

test_fuzz_each_attribute() {
	[ -s /tmp/fuzz.files ] || fail "no attribute list" || return
	s0=$(splat_count)
	# shellcheck disable=SC2013
	for f in $(cat /tmp/fuzz.files); do
		for v in '' '\n' ' ' ' 1' '1 ' '\t1' '1\t' ' 1\n' '1\n\n' '\n1' '+1' '01' '0x10' '-0' '-1' \
			'4294967295' '4294967296' '18446744073709551616' '1\0002' 'sample0\000x' \
			"$name31" "$name32" '.' '..' '.\n' 'sample 0' 'sample/0' 'locked racy' 'noop 1 1' \
			'noop 0 1 sample0' 'noop 65 1 sample0' 'noop 1 0 sample0' 'noop 1 1000000001 sample0' \
			'racy 1 1 sample0' 'rcu 1 1 nosuchdriver'; do
			fuzz_write "$f" "$v"
		done
		b=0
		while [ $b -lt 256 ]; do
			fuzz_write "$f" "\\0$(printf %o $b)"
			b=$((b + 1))
		done
		for n in 4095 4096 4097 65536; do
			big_write "$f" $n
		done
	done
	[ "$unexpected" = 0 ] && [ "$changed" = 0 ] || fail "$unexpected unexpected errnos, $changed changes on error" || return
	[ "$(splat_count)" = "$s0" ] || fail "the kernel reported a problem during the fuzz"
}

# An unprivileged user gets EACCES opening any writable attribute for writing; a file
# descriptor opened by root and handed to an unprivileged process gets EPERM from the
# store's capable(CAP_SYS_ADMIN) check. Nothing changes either way.
test_unprivileged_writers() {
	have_nobody || return "$KSFT_SKIP"
	restore
	snapshot
	snap=$state
	# shellcheck disable=SC2013
	for f in $(cat /tmp/fuzz.files); do
		out=$(as_nobody "echo 1 >$f" 2>&1) && fail "nobody wrote $f" && return 1
		[ "$(errno_of "$out")" = EACCES ] || fail "nobody opening $f: '$out', expected EACCES" || return
		out=$( { as_nobody "echo 1 >&3"; } 3>"$f" 2>&1) && fail "nobody wrote $f through root's fd" && return 1
		[ "$(errno_of "$out")" = EPERM ] || fail "nobody writing root's fd of $f: '$out', expected EPERM" || return
		snapshot
		[ "$snap" = "$state" ] || fail "an unprivileged write to $f changed the state" || return
	done
}

# 8 writers x 2000 random writes (from the list above) during an unload storm.
test_concurrent_writers() {
	restore
	s0=$(splat_count)
	echo 1 >"$DBG/stress/running"
	"$DRVREG_TEST_DIR/unload_storm.sh" -c 100000 -s 3600 -e 100000 >/tmp/fuzz.storm 2>&1 &
	storm=$!
	# shellcheck disable=SC2013
	# (Not the C sample's unregister, which would wait on pins, nor its fail_open, which
	# would make lookups and call_all fail with EIO on purpose.)
	files=$(grep -v -e parameters/unregister -e parameters/fail_open /tmp/fuzz.files)
	set -- '' '1' '0' '2' '16' '17' 'locked' 'rcu' 'twostage' 'racy' 'sample0' 'sample_c0' \
		'nosuch' '.' '4294967296' 'noop 1 1000 sample0' 'rcu 2 1000 sample0' 'x\000'
	nvals=$#
	pids=""
	w=0
	while [ $w -lt 8 ]; do
		(
			seed=$((w * 7919 + 1)) i=0 bad=0
			while [ $i -lt 2000 ]; do
				seed=$(((seed * 1103515245 + 12345) % 2147483648))
				k=$((seed % nvals + 1))
				eval "v=\${$k}"
				j=0
				for f in $files; do
					[ $((j % 11)) = $((seed % 11)) ] && break
					j=$((j + 1))
				done
				raw_write "$f" "$v" "/tmp/fuzz.err$w"
				allowed_in "$f"
				case " OK $ok_errnos " in
				*" $got "*) ;;
				*) bad=$((bad + 1)); echo "writer $w: '$v' to $f: $got" ;;
				esac
				i=$((i + 1))
			done
			echo "writer $w done bad=$bad"
		) >"/tmp/fuzz.writer$w" 2>&1 &
		pids="$pids $!"
		w=$((w + 1))
	done
	# shellcheck disable=SC2086
	wait $pids
	kill "$storm" 2>/dev/null
	wait "$storm" 2>/dev/null
	writes=$((writes + 16000))
	bad=0
	for w in 0 1 2 3 4 5 6 7; do
		n=$(sed -n 's/.* bad=//p' "/tmp/fuzz.writer$w")
		[ -n "$n" ] || { msg "writer $w did not finish"; n=1; }
		bad=$((bad + n))
		grep -v done "/tmp/fuzz.writer$w" | head -n 3 | while read -r l; do msg "$l"; done
	done
	unexpected=$((unexpected + bad))
	restore
	stats_add_up || return
	[ "$bad" = 0 ] || fail "$bad concurrent writes ended with an undocumented errno" || return
	[ "$(splat_count)" = "$s0" ] || fail "the kernel reported a problem during the concurrent writes"
}

ktap_print_header
ktap_set_plan 5
run_test "every writable attribute is in the fuzz table" test_writable_files_documented
run_test "root writing a read-only attribute gets EACCES" test_root_writing_readonly_gets_eacces
run_test "malformed and boundary writes: documented errnos, nothing changed" test_fuzz_each_attribute
run_test "unprivileged writers: EACCES at open, EPERM through root's fd" test_unprivileged_writers
run_test "8 writers x 2000 random writes during an unload storm" test_concurrent_writers
splats=$(splat_count)
verdict=PASS
[ "$unexpected" = 0 ] && [ "$changed" = 0 ] && [ "$splats" = 0 ] || verdict=FAIL
echo "# METRIC fuzz writes=$writes unexpected_errno=$unexpected changed_on_error=$changed splats=$splats verdict=$verdict"
drvreg_cleanup
ktap_finished

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# drvreg's whole test suite (make check): setup, then a loop over the lanes of
# scripts/lanes.conf that make check runs (their 'check' column), in table order. On each
# lane: find or build its kernel (cached), build the modules with warnings as errors
# (RUSTFLAGS_MODULE=-Dwarnings W=1 KCFLAGS=-Werror) in out/<lane>/src, then the lane's
# steps from its 'check' column, each a function below (step_<name>):
#   lint        (once, on the first lane that has it) rustfmt --check over rust/ and
#               samples/, checkpatch --strict over every C file, the import graph of
#               rust/ (scripts/imports.sh: no cycle), the docs check
#               (scripts/docs-check.sh: METRIC docs), the litmus tests
#               (scripts/litmus.sh: METRIC litmus), the quick harness
#               self-test (scripts/harness/selftest.sh: exit status, a drvreg oops, an
#               infrastructure crash retried), the bench scripts' and make numbers'
#               self-tests
#   clippy      CLIPPY=1 -Dwarnings, in out/<lane>/clippy
#   ksft        boot the guest running /kselftest/run_kselftest.sh and read its KTAP
#               results: every test program in the lane's first lookup mode, then the
#               mode-dependent suites (registry, stress) in each further one ('modes'
#               column; all: every safe mode the core lists; kmod: every program in
#               locked mode with kmod's module tools and bash, as a real host runs them)
#   fuzz, failslab  the kselftests' METRIC lines (a missing line fails)
#   kunit       the core's KUnit suites in a guest (the kselftest drvreg_kunit.sh alone:
#               each case a result, and its METRIC line)
#   own-driver  the own-driver guide's code built from the guide's text and loaded in a
#               guest (scripts/own-driver-test.sh)
#   soak        a short soak (scripts/soak.sh --check: its METRIC line)
#   bench       a short bench (every cell runs, no splat)
#
# Every result line is printed prefixed with the lane's name, and a kselftest result
# with its lookup mode too ('debug: ok 1 [rcu] selftests: drvreg: ...'). Counted: each build and
# lint step, each harness test, and each innermost kselftest result (a subtest line the
# suite printed; a test program that prints no subtests counts once, and one that fails
# with all its subtests passing counts one failure more), separately for each mode. 'ok' passes, 'not ok' fails,
# '# SKIP' skips. A kernel splat of drvreg's in a guest, a guest that dies or hangs, a
# program that never reports: failures (an infrastructure crash is booted again by
# vm.sh, and fails only if it happens again). Before the last line, one line per lane:
# 'lane <name>: N passed, N failed[, N skipped] (<wall time> s)'. The last line is
# 'N passed, N failed[, N skipped]'; the exit status is non-zero if anything failed.
#
# Lanes run two at a time (CHECK_JOBS): each lane's result lines come when it ends, its
# progress (stderr) as it goes.
#
# Environment: CHECK_KERNELS="<lanes>" (default: the lanes of scripts/lanes.conf that have
#   a 'check' column); CHECK_JOBS (lanes at a time, default 2); KDIR=/built/kernel checks that tree instead (lint, clippy, ksft in
#   every safe mode); CHECK_VM_TIMEOUT (s, default 1800) for the kselftest guest;
#   CHECK_TEST_TIMEOUT (s) overrides every test program's kselftest timeout (else the
#   suite's 'settings', or 45); CHECK_MODES="locked rcu twostage kmod" the lookup modes
#   of the kselftests on every lane (default: the lane's 'modes' column);
#   VM_CPUS as for vm.sh. Logs: out/check/<lane>-*.log, out/logs/check-<lane>-*.log.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

passed=0 failed=0 skipped=0
declare -A lp lf ls lt
t_start=$(date +%s)
clog="$DRVREG_OUT/check"

note() { echo "drvreg: $*" >&2; }
# res ok|fail|skip KERNEL DESCRIPTION
res() {
	count "$1" "$2" 1
	case "$1" in
	ok) echo "$2: ok - $3" ;;
	fail) echo "$2: not ok - $3" ;;
	skip) echo "$2: ok - $3 # SKIP" ;;
	esac
}
# count ok|fail|skip LANE N: adds N results to the totals and to the lane's.
count() {
	case "$1" in
	ok) passed=$((passed + $3)) lp[$2]=$((${lp[$2]:-0} + $3)) ;;
	fail) failed=$((failed + $3)) lf[$2]=$((${lf[$2]:-0} + $3)) ;;
	skip) skipped=$((skipped + $3)) ls[$2]=$((${ls[$2]:-0} + $3)) ;;
	esac
}
# metric KERNEL LINE NAME: one result for a METRIC line ('# METRIC <name> ... verdict=...'):
# ok on verdict=PASS, fail on FAIL or when the line is missing.
metric() {
	local line=${2#\# }
	if [ -z "$line" ]; then
		res fail "$1" "METRIC $3: missing"
	elif [[ "$line" == *" verdict=PASS"* ]]; then
		res ok "$1" "$line"
	else
		res fail "$1" "$line"
	fi
}

# Show the interesting part of a failed step's log.
show() {
	local n
	n=$(grep -acE '(^|[^a-z])(error|warning)(\[|:)' "$1")
	if [ "$n" -gt 0 ]; then
		grep -aE -A4 '(^|[^a-z])(error|warning)(\[|:)' "$1" | head -60 | sed 's/^/#   /'
	else
		tail -30 "$1" | sed 's/^/#   /'
	fi
	echo "#   (full log: $1)"
}
finish() {
	local k line
	for k in $kernels; do
		[ "$k" != kdir ] || k=$(drvreg_kname)
		[ -n "${lt[$k]:-}" ] || res fail "$k" "the lane did not run"
		line="lane $k: ${lp[$k]:-0} passed, ${lf[$k]:-0} failed"
		[ "${ls[$k]:-0}" = 0 ] || line+=", ${ls[$k]} skipped"
		echo "$line (${lt[$k]:-0} s)"
	done
	line="$passed passed, $failed failed"
	[ "$skipped" = 0 ] || line+=", $skipped skipped"
	note "check took $(($(date +%s) - t_start)) s"
	echo "$line"
	# For scripts/doc-numbers.py: the lanes, the totals and the wall time of this run.
	{
		echo "kernels: $kernels"
		echo "seconds: $(($(date +%s) - t_start))"
		echo "totals: $line"
	} >"$clog/summary.txt"
	[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
	exit
}

if [ -n "${KDIR:-}" ]; then
	kernels=kdir
else
	kernels=${CHECK_KERNELS:-$(drvreg_lanes check)}
	for k in $kernels; do
		case " $(drvreg_lanes check) " in
		*" $k "*) ;;
		*) die "unknown lane '$k' in CHECK_KERNELS: expected some of: $(drvreg_lanes check) (scripts/lanes.conf)" ;;
		esac
	done
fi
[ -n "$kernels" ] || die "CHECK_KERNELS is empty"
for m in ${CHECK_MODES:-}; do
	[[ "$m" =~ ^[a-z]+$ ]] || die "bad mode '$m' in CHECK_MODES: expected lookup mode names (or kmod)"
done
if [ -n "${CHECK_MODES+x}" ] && [ -z "${CHECK_MODES// /}" ]; then
	die "CHECK_MODES is empty"
fi
# lane_steps LANE: the lane's 'check' column as words (a KDIR tree: lint, clippy, ksft).
lane_steps() {
	if [ "$1" = kdir ]; then echo "lint clippy ksft"; else drvreg_lane "$1" check | tr , ' '; fi
}
# lane_modes LANE: the lookup modes the kselftests run in on that lane ('all': the safe
# modes the core lists, read in the guest).
lane_modes() {
	if [ -n "${CHECK_MODES:-}" ]; then
		echo "$CHECK_MODES"
	elif [ "$1" = kdir ]; then
		echo all
	else
		drvreg_lane "$1" modes | tr , ' '
	fi
}

mkdir -p "$DRVREG_OUT"
exec 8>"$DRVREG_OUT/.check.lock"
flock -n 8 || die "another make check is running in $DRVREG_ROOT (it holds out/.check.lock)"

note "setting up the host (scripts/setup.sh)..."
drvreg_setup
rm -rf "$clog"
mkdir -p "$clog"

# The guest command for the modes MODES ('all': the safe modes the core lists): run the
# kselftests live on the console, every program in the first mode, the mode-dependent
# suites (mode_tests) in each further one (DRVREG_MODE=<mode>), each mode announced as
# 'DRVREG-MODE: <mode>'. kmod is the pass a host would run: every program again, in locked
# mode (DRVREG_TOOLS=kmod: kmod's tools), with bash as /bin/sh; the fuzz, the longest
# program, runs in that pass only (DRVREG_FUZZ=skip in the others). Then print all the
# results once more, each line prefixed with 'DRVREG-KTAP[<mode>]: ', with the console
# quiet, so kernel messages cannot tear a result line.
ksft_args=""
[ -z "${CHECK_TEST_TIMEOUT:-}" ] || ksft_args="-o $CHECK_TEST_TIMEOUT"
mode_tests="drvreg:drvreg_registry.sh drvreg:drvreg_stress.sh"
# ksft_cmd MODES [PROGRAMS]: PROGRAMS (kselftest names, drvreg:<file>) instead of every
# program in the first mode.
ksft_cmd() {
	local t which="" first=""
	for t in $mode_tests; do which+=" -t $t"; done
	for t in ${2:-}; do first+=" -t $t"; done
	cat <<GUEST
[ -x /kselftest/run_kselftest.sh ] || { echo 'no /kselftest in the guest'; exit 1; }
modes=""
for m in $1; do
	if [ "\$m" = all ]; then
		m=\$(modprobe drvreg && tr -d '[]' </sys/kernel/drvreg/mode && rmmod drvreg) ||
			{ echo 'could not read the lookup modes from /sys/kernel/drvreg/mode'; exit 1; }
	fi
	modes="\$modes \$m"
done
which="$first"
case " \$modes " in *" kmod "*) once="DRVREG_FUZZ=skip" ;; *) once="" ;; esac
for m in \$modes; do
	env="DRVREG_MODE=\$m \$once"
	run="\$which"
	if [ "\$m" = kmod ]; then
		# As a host runs them: every program, kmod's tools, bash as /bin/sh.
		[ -x /bin/bash ] || { echo 'no /bin/bash in the guest for the kmod pass'; exit 1; }
		env="DRVREG_MODE=locked DRVREG_TOOLS=kmod"
		run="$first"
		ln -sf bash /bin/sh
	fi
	echo "DRVREG-MODE: \$m"
	env \$env /kselftest/run_kselftest.sh $ksft_args\$run 2>&1 | tee /tmp/ksft.\$m.out
	[ "\$m" != kmod ] || ln -sf busybox /bin/sh
	which="$which"
done
echo 1 >/proc/sys/kernel/printk
for m in \$modes; do sed "s/^/DRVREG-KTAP[\$m]: /" /tmp/ksft.\$m.out; done
echo 7 >/proc/sys/kernel/printk
GUEST
}

# --- the steps: one function each, named after the 'check' column's entries -----------
# Each runs on lane $kname with its kernel tree $kdir (source $ksrc) and work folder $work.

strict="RUSTFLAGS_MODULE=-Dwarnings W=1 KCFLAGS=-Werror"
step_build() {
	note "[$kname] building the modules with warnings as errors ($strict)..."
	built=""
	if [ ! -f "$DRVREG_PROJECT/Kbuild" ]; then
		res fail "$kname" "build: no Kbuild in $DRVREG_PROJECT"
		return
	fi
	mkdir -p "$work"
	local t0
	t0=$(date +%s)
	if (
		exec 9>"$work/.lock" && flock 9 &&
			drvreg_stage "$DRVREG_PROJECT" "$work/src" &&
			DRVREG_KMAKE_FLAGS=$strict drvreg_build "$kdir" "$work/src"
	) >"$clog/$kname-build.log" 2>&1; then
		res ok "$kname" "build: modules, warnings as errors ($(($(date +%s) - t0)) s)"
		built=1
	else
		res fail "$kname" "build: modules, warnings as errors"
		show "$clog/$kname-build.log"
	fi
}

step_clippy() {
	[ -f "$DRVREG_PROJECT/Kbuild" ] || return 0
	note "[$kname] clippy build (CLIPPY=1, -Dwarnings)..."
	local t0
	t0=$(date +%s)
	if (
		drvreg_stage "$DRVREG_PROJECT" "$work/clippy" &&
			DRVREG_KMAKE_FLAGS="CLIPPY=1 CLIPPY_DRIVER=/usr/bin/clippy-driver RUSTFLAGS_MODULE=-Dwarnings" \
				drvreg_build "$kdir" "$work/clippy"
	) >"$clog/$kname-clippy.log" 2>&1; then
		res ok "$kname" "clippy: no warnings ($(($(date +%s) - t0)) s)"
	else
		res fail "$kname" "clippy: warnings or errors"
		show "$clog/$kname-clippy.log"
	fi
}

linted=""
step_lint() {
	[ -z "$linted" ] || return 0
	linted=1
	local out rustfmt line
	# --- rustfmt ------------------------------------------------------------------------
	mapfile -t rsfiles < <(cd "$DRVREG_PROJECT" && find rust samples -name '*.rs' 2>/dev/null | sort)
	rustfmt=rustfmt
	[ ! -x /usr/bin/rustfmt ] || rustfmt=/usr/bin/rustfmt
	if [ ${#rsfiles[@]} = 0 ]; then
		res skip "$kname" "rustfmt: no *.rs files under rust/ or samples/"
	elif (cd "$DRVREG_PROJECT" && "$rustfmt" --check --color never --edition 2021 \
		--config-path "$ksrc/.rustfmt.toml" "${rsfiles[@]}") >"$clog/rustfmt.log" 2>&1; then
		res ok "$kname" "rustfmt --check: ${#rsfiles[@]} files formatted"
	else
		res fail "$kname" "rustfmt --check: files need formatting ($rustfmt; run it without --check)"
		head -60 "$clog/rustfmt.log" | sed 's/^/#   /'
	fi

	# --- checkpatch: every C file, as a kernel reviewer runs it -------------------------
	mapfile -t cfiles < <(cd "$DRVREG_PROJECT" && find include rust samples scripts/harness selftests \
		-name '*.[ch]' 2>/dev/null | sort)
	if (cd "$DRVREG_PROJECT" && perl "$ksrc/scripts/checkpatch.pl" --no-tree --strict --terse \
		--show-types -f "${cfiles[@]}") >"$clog/checkpatch.log" 2>&1 &&
		! grep -qE ': (WARNING|ERROR|CHECK):' "$clog/checkpatch.log"; then
		res ok "$kname" "checkpatch --strict: ${#cfiles[@]} C files, no error, warning or check"
	else
		res fail "$kname" "checkpatch --strict: problems in the C files ($ksrc/scripts/checkpatch.pl)"
		grep -E ': (WARNING|ERROR|CHECK):' "$clog/checkpatch.log" | head -40 | sed 's/^/#   /'
	fi

	# --- import graph -------------------------------------------------------------------
	if out=$("$DRVREG_ROOT/scripts/imports.sh" 2>&1); then
		res ok "$kname" "imports: ${out#rust/: }"
	else
		res fail "$kname" "imports: rust/ has an import cycle (scripts/imports.sh)"
		echo "$out" | sed 's/^/#   /'
	fi

	# --- docs: the ABI file and every Documentation/*.rst through the kernel's tools ----
	note "[$kname] docs check (scripts/docs-check.sh: ABI, kernel-doc, Sphinx -W, rustdoc, errors.rst)..."
	"$DRVREG_ROOT/scripts/docs-check.sh" >"$clog/docs.log" 2>&1
	metric "$kname" "$(grep -a '^# METRIC docs ' "$clog/docs.log" | tail -n 1)" docs
	grep -qa '^# METRIC docs .* verdict=PASS' "$clog/docs.log" ||
		grep -aE 'WARNING|ERROR|^Warning|abi-lint: warning|^failed:' "$clog/docs.log" | head -40 | sed 's/^/#   /'

	# --- litmus tests: the protocols under the LKMM (scripts/litmus.sh) -----------------
	note "[$kname] litmus tests (scripts/litmus.sh: herd7 in the sid chroot)..."
	"$DRVREG_ROOT/scripts/litmus.sh" >"$clog/litmus.log" 2>&1
	metric "$kname" "$(grep -a '^# METRIC litmus ' "$clog/litmus.log" | tail -n 1)" litmus
	grep -qa '^# METRIC litmus .* verdict=PASS' "$clog/litmus.log" ||
		grep -avE '^litmus: ok ' "$clog/litmus.log" | tail -20 | sed 's/^/#   /'

	# --- harness self-test --------------------------------------------------------------
	note "[$kname] harness self-test (quick)..."
	"$DRVREG_ROOT/scripts/harness/selftest.sh" --quick >"$clog/$kname-harness.log" 2>&1
	while IFS= read -r line; do
		case "$line" in
		"ok "*) count ok "$kname" 1 && echo "$kname: $line" ;;
		"not ok "*) count fail "$kname" 1 && echo "$kname: $line" ;;
		"#   "*) echo "$line" ;;
		esac
	done <"$clog/$kname-harness.log"
	grep -aqE '^(not )?ok ' "$clog/$kname-harness.log" || {
		res fail "$kname" "harness self-test did not run"
		show "$clog/$kname-harness.log"
	}

	# --- bench scripts self-test (host only: a fake kernel interface) -----------------
	if "$DRVREG_ROOT/scripts/harness/bench-selftest.sh" >"$clog/$kname-bench-selftest.log" 2>&1; then
		res ok "$kname" "bench scripts self-test: $(grep -ac '^ok ' "$clog/$kname-bench-selftest.log") passed"
	else
		res fail "$kname" "bench scripts self-test"
		show "$clog/$kname-bench-selftest.log"
	fi

	# --- make demo's timeline self-test (synthetic traces: verdicts and the picture) ----
	if python3 "$DRVREG_ROOT/scripts/timeline.py" --self-test >"$clog/timeline-selftest.log" 2>&1; then
		res ok "$kname" "timeline self-test: $(grep -ac '^ok: ' "$clog/timeline-selftest.log") passed"
	else
		res fail "$kname" "timeline self-test"
		grep -a '^FAIL' "$clog/timeline-selftest.log" | sed 's/^/#   /'
	fi

	# --- make numbers' self-test (synthetic logs in a temporary tree) -------------------
	if python3 "$DRVREG_ROOT/scripts/doc-numbers.py" --self-test >"$clog/doc-numbers-selftest.log" 2>&1; then
		res ok "$kname" "doc-numbers self-test: $(grep -ac '^ok ' "$clog/doc-numbers-selftest.log") passed"
	else
		res fail "$kname" "doc-numbers self-test"
		grep -a '^not ok' "$clog/doc-numbers-selftest.log" | sed 's/^/#   /'
	fi
}

# The kselftests in the guest; sets $vlog (the console log) for the METRIC steps.
step_ksft() { ksft_guest "$(lane_modes "$kname")"; }
# KUnit: the core's suites, read by the kselftest drvreg_kunit.sh (its METRIC line).
step_kunit() {
	ksft_guest locked drvreg:drvreg_kunit.sh
	ksft_metric kunit
}

# ksft_guest MODES [PROGRAMS]: the kselftests in a guest, in MODES (PROGRAMS only, if
# given, in the first mode: see ksft_cmd), their results counted.
ksft_guest() {
	local modes=$1 only=${2:-} flags t0 vrc msg out m p f s fsum=0 ran env what
	what="modes: $modes"
	[ -z "$only" ] || what="$only"
	vlog="$DRVREG_OUT/logs/check-$kname-$(date +%Y%m%d-%H%M%S).log"
	flags=""
	[ -z "$built" ] || flags=$strict
	t0=$(date +%s)
	ktap_figure() { echo "$(grep -acE '^(# )*(not )?ok [0-9]+ ' "$vlog" 2>/dev/null) results so far"; }
	# The fuzz suite runs only where the lane's check column asks for it.
	env=${VM_ENV:-}
	[ -n "${KDIR:-}" ] || drvreg_lane_has "$kname" fuzz ||
		env+=" DRVREG_FUZZ=skip"
	# On a slow lane (KASAN) the registry's scale test registers 1 000 drivers, not 10 000,
	# and the stress suite's unload storm runs 75 cycles, not 150 (measured under KASAN in
	# 150: rmmod refused 110 times in rcu, lookups refused 157-226 times; the suite needs one).
	[ -n "${KDIR:-}" ] || [ "$(drvreg_lane "$kname" slow)" -le 1 ] ||
		env+=" DRVREG_MANY=1000 STORM_CYCLES=75"
	DRVREG_STEP_FIGURE=ktap_figure DRVREG_KMAKE_FLAGS=$flags DRVREG_SETUP_DONE=full VM_ENV="$env" \
		VM_LOG="$vlog" VM_EXPECT_SPLAT= VM_TIMEOUT=${CHECK_VM_TIMEOUT:-1800} CMD="$(ksft_cmd "$modes" "$only")" \
		drvreg_step "[$kname] the kselftests in the guest ($what)" "$clog/$kname-vm.log" "$DRVREG_ROOT/scripts/vm.sh"
	vrc=$?
	grep -a '^drvreg: INFRA' "$clog/$kname-vm.log" | sed 's/^drvreg: /# /'
	if [ "$vrc" = 0 ]; then
		res ok "$kname" "guest: kselftests ran ($what), no kernel splat ($(($(date +%s) - t0)) s)"
	else
		msg=$(grep -a '^drvreg: FAIL' "$clog/$kname-vm.log" | head -1)
		res fail "$kname" "guest: ${msg#drvreg: FAIL: }"
		[ -n "$msg" ] || show "$clog/$kname-vm.log"
	fi
	[ -f "$vlog" ] || return 0

	# Count the innermost results of each mode the guest ran: a result line is a leaf unless
	# results one level deeper came right before it (KTAP prints subtests before their parent).
	ran=$(sed -n 's/\r$//; s/^DRVREG-MODE: //p' "$vlog")
	[ -n "$ran" ] || res fail "$kname" "the guest ran the kselftests in no mode ($what)"
	for m in $ran; do
		out=$(sed -n "s/\r\$//; s/^DRVREG-KTAP\[$m\]: //p" "$vlog" | awk -v k="$kname" -v m="[$m]" '
		function strip(s) { while (s ~ /^#( |$)/) { s = substr(s, 3); d++ } return s }
		function count(ok, rest) {
			if (!ok) { f++; bf++ } else if (tolower(rest) ~ /#[ \t]*skip/) s++; else p++
		}
		{
			d = 0; line = strip($0)
			sp = match(line, /^[ \t]*/); ind = RLENGTH; d += int(ind / 4); line = substr(line, ind + 1)
			if (d == 0 && line ~ /^1\.\.[0-9]+/) { plan = substr(line, 4) + 0; next }
			if (line !~ /^(not )?ok [0-9]+/) next
			ok = (line !~ /^not /)
			shown = $0
			if (match(shown, /(not )?ok [0-9]+ */)) shown = substr(shown, 1, RSTART + RLENGTH - 1) m " " substr(shown, RSTART + RLENGTH)
			print k ": " shown
			if (d == 0) {
				progs++
				if (leaves == 0) count(ok, line)
				else if (!ok && bf == 0) { f++; print "#   (program failed beyond its subtests: counted once more)" }
				leaves = 0; bf = 0; delete child
				next
			}
			if (!child[d + 1]) { count(ok, line); leaves++ }
			for (i in child) if (i + 0 > d) delete child[i]
			child[d]++
		}
		END {
			if (plan > progs) { f += plan - progs; print k ": not ok - " m " " plan - progs " of " plan " test programs never reported" }
			if (progs == 0 && plan == 0) { f++; print k ": not ok - " m " the kselftests printed no results" }
			printf "COUNTS %d %d %d\n", p, f, s
		}')
		printf '%s\n' "$out" | grep -v '^COUNTS '
		read -r _ p f s <<<"$(printf '%s\n' "$out" | grep '^COUNTS ')"
		count ok "$kname" "$p"
		count fail "$kname" "$f"
		count skip "$kname" "$s"
		echo "# $kname [$m]: $p passed, $f failed$([ "$s" = 0 ] || echo ", $s skipped")"
		fsum=$((fsum + f))
	done
	[ "$fsum" = 0 ] && [ "$vrc" = 0 ] || echo "#   console log: $vlog"
}

# ksft_metric NAME [PATH]: the kselftests' METRIC line NAME (with path=PATH) of this lane.
ksft_metric() {
	local line=""
	[ -f "${vlog:-}" ] && line=$(sed -n "s/\r\$//; s/^DRVREG-KTAP\[[a-z]*\]: //p" "$vlog" |
		grep -ao "METRIC $1 .*" | { if [ -n "${2:-}" ]; then grep -a " path=$2 "; else cat; fi; } | tail -n 1)
	metric "$kname" "$line" "$1${2:+:$2}"
}
step_fuzz() { ksft_metric fuzz; }
step_failslab() {
	local p
	for p in register-rust register-c workers call_all lookup status; do ksft_metric failslab "$p"; done
}

step_own_driver() {
	[ -n "$built" ] || return 0
	drvreg_step "[$kname] Documentation/own-driver.rst: its code built out of tree and loaded (scripts/own-driver-test.sh)" \
		"$clog/$kname-own-driver.log" env KERNEL="$kname" DRVREG_SETUP_DONE=full DRVREG_KMAKE_FLAGS="$strict" \
		"$DRVREG_ROOT/scripts/own-driver-test.sh" "$kdir" "$work/src"
	metric "$kname" "$(grep -a '^# METRIC own_driver ' "$clog/$kname-own-driver.log" | tail -n 1)" own_driver
}

step_soak() {
	drvreg_step "[$kname] short soak (scripts/soak.sh --check)" \
		"$clog/$kname-soak.log" env KERNEL="$kname" SOAK_FRESH=1 DRVREG_SETUP_DONE=full "$DRVREG_ROOT/scripts/soak.sh" --check
	metric "$kname" "$(grep -a '^# METRIC soak ' "$clog/$kname-soak.log" | tail -n 1)" soak
}

step_bench() {
	if drvreg_step "[$kname] short bench (a correctness run: every cell, no splat)" "$clog/$kname-bench.log" \
		env KERNEL="$kname" DRVREG_SETUP_DONE=full "$DRVREG_ROOT/scripts/bench.sh" --short; then
		res ok "$kname" "bench --short: $(grep -ac '^bench mode=' "$clog/$kname-bench.log") cells, no splat"
	else
		res fail "$kname" "bench --short"
		show "$clog/$kname-bench.log"
	fi
}

# --- the loop over the lanes --------------------------------------------------------------
for k in $kernels; do
	for step in $(lane_steps "$k"); do
		declare -F "step_${step//-/_}" >/dev/null ||
			die "lane $k: unknown step '$step' in its check column (scripts/lanes.conf)"
	done
done
# run_lane LANE: one lane, in a subshell of its own: its result lines on stdout, its
# tallies in $clog/<lane>.counts ('passed failed skipped seconds').
run_lane() {
	local k=$1 lane_t0 t0
	if [ "$k" = kdir ]; then
		kname=$(drvreg_kname)
	else
		export KERNEL=$k
		kname=$k
	fi
	work="$DRVREG_OUT/$kname"
	lane_t0=$(date +%s)
	vlog=""
	note "[$kname] finding the cached kernel, or building or preparing it (measured times: README.md; progress every 30 s)..."
	t0=$(date +%s)
	if kdir=$(drvreg_kdir 2> >(tee "$clog/$kname-kernel.log" >&2)); then
		res ok "$kname" "kernel ($kdir, $(($(date +%s) - t0)) s)"
		ksrc=$kdir
		[ ! -e "$kdir/source" ] || ksrc=$(cd "$kdir/source" && pwd -P)
		step_build
		for step in $(lane_steps "$k"); do
			"step_${step//-/_}"
		done
	else
		res fail "$kname" "kernel build"
		show "$clog/$kname-kernel.log"
	fi
	echo "${lp[$kname]:-0} ${lf[$kname]:-0} ${ls[$kname]:-0} $(($(date +%s) - lane_t0))" >"$clog/$kname.counts"
	note "[$kname] lane done in $(($(date +%s) - lane_t0)) s"
}

# The lanes run CHECK_JOBS at a time (default 2: a guest runs mostly one vCPU at a time,
# so two lanes share this 2-core machine's CPUs well), in table order; each lane's results
# are printed when it ends, its progress ('drvreg: [<lane>] ...', on stderr) as it goes.
njobs=${CHECK_JOBS:-2}
[[ "$njobs" =~ ^[1-9][0-9]*$ ]] || die "CHECK_JOBS='$njobs' is not a positive number"
declare -A pids=()
nrun=0
lane_name() { if [ "$1" = kdir ]; then drvreg_kname; else echo "$1"; fi; }
reap() {
	local k n p f s t
	for k in "${!pids[@]}"; do
		kill -0 "${pids[$k]}" 2>/dev/null && continue
		wait "${pids[$k]}" 2>/dev/null
		unset "pids[$k]"
		nrun=$((nrun - 1))
		n=$(lane_name "$k")
		cat "$clog/$n.out"
		read -r p f s t <"$clog/$n.counts" 2>/dev/null || { p=0 f=1 s=0 t=0; echo "$n: not ok - the lane ended without its tallies"; }
		count ok "$n" "$p"
		count fail "$n" "$f"
		count skip "$n" "$s"
		lt[$n]=$t
	done
}
for k in $kernels; do
	while [ "$nrun" -ge "$njobs" ]; do
		sleep 2
		reap
	done
	( run_lane "$k" ) >"$clog/$(lane_name "$k").out" &
	pids[$k]=$!
	nrun=$((nrun + 1))
done
while [ "$nrun" -gt 0 ]; do
	sleep 2
	reap
done
finish

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# drvreg's whole test suite (make check):
#   setup; then for each kernel lane in $CHECK_KERNELS (default "base debug latest distro"):
#     build the kernel (cached), build the modules with warnings as errors
#     (RUSTFLAGS_MODULE=-Dwarnings W=1 KCFLAGS=-Werror) in out/<kernel>/src,
#     once per kernel version (base, or debug without base; latest; a KDIR tree): clippy
#     (-Dwarnings, in out/<kernel>/clippy); on the first lane also rustfmt --check over
#     rust/ and samples/, the import graph of rust/ (scripts/imports.sh: no cycle), the
#     docs render check (scripts/docs-check.sh: METRIC docs) and the quick harness
#     self-test (scripts/harness/selftest.sh),
#     then boot the guest running /kselftest/run_kselftest.sh and read its KTAP results:
#     every test program in the first lookup mode (locked), then the registry and stress
#     suites again in each further safe mode (rcu, twostage: DRVREG_MODE in the guest, one
#     boot, the modes in sequence) on the base and debug lanes (and a KDIR tree); latest
#     and distro run in locked mode only. On base, those two suites run once more with
#     kmod's module tools instead of busybox's (the "mode" kmod: locked, DRVREG_TOOLS=kmod),
#     as a real host would run them.
#
# Then the figures scripts check, as results: the kselftests' METRIC lines (the fuzz on
# base, failslab's six paths on debug: a missing line fails), the own-driver guide's code
# built from the guide's text and loaded in a guest on base (scripts/own-driver-test.sh),
# a short soak on base and
# debug (scripts/soak.sh --check: its METRIC line), and a short bench on debug (every cell
# runs, no splat); on the first lane also the bench scripts' and make numbers' self-tests.
#
# Every result line is printed prefixed with the kernel's name, and a kselftest result
# with its lookup mode too ('base: ok 1 [rcu] selftests: drvreg: ...'). Counted: each build and
# lint step, each harness test, and each innermost kselftest result (a subtest line the
# suite printed; a test program that prints no subtests counts once, and one that fails
# with all its subtests passing counts one failure more), separately for each mode. 'ok' passes, 'not ok' fails,
# '# SKIP' skips. A kernel splat in a guest, a guest that dies or hangs, a program that
# never reports: failures. Before the last line, one line per lane:
# 'lane <name>: N passed, N failed[, N skipped]'. The last line is
# 'N passed, N failed[, N skipped]'; the exit status is non-zero if anything failed.
#
# Environment: CHECK_KERNELS="base debug latest distro"; KDIR=/built/kernel checks that tree instead;
#   CHECK_VM_TIMEOUT (s, default 1800) for the kselftest guest; CHECK_TEST_TIMEOUT (s)
#   overrides every test program's kselftest timeout (else the suite's 'settings', or 45);
#   CHECK_MODES="locked rcu twostage kmod" the lookup modes of the kselftests on every lane
#   (kmod: locked with kmod's tools; default: the four on base, the first three on debug
#   and KDIR, locked on latest and distro);
#   VM_CPUS as for vm.sh. Logs: out/check/<kernel>-*.log, out/logs/check-<kernel>-*.log.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

passed=0 failed=0 skipped=0
declare -A lp lf ls
t_start=$(date +%s)
clog="$DRVREG_OUT/check"

note() { echo "drvreg: $*"; }
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
		line="lane $k: ${lp[$k]:-0} passed, ${lf[$k]:-0} failed"
		[ "${ls[$k]:-0}" = 0 ] || line+=", ${ls[$k]} skipped"
		echo "$line"
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
	[ "$failed" = 0 ]
	exit
}

if [ -n "${KDIR:-}" ]; then
	kernels=kdir
else
	kernels=${CHECK_KERNELS:-$DRVREG_KERNELS}
	for k in $kernels; do
		case " $DRVREG_KERNELS " in
		*" $k "*) ;;
		*) die "unknown kernel '$k' in CHECK_KERNELS: expected some of: $DRVREG_KERNELS" ;;
		esac
	done
fi
[ -n "$kernels" ] || die "CHECK_KERNELS is empty"
safe_modes="locked rcu twostage"
for m in ${CHECK_MODES:-}; do
	case " $safe_modes kmod " in
	*" $m "*) ;;
	*) die "unknown mode '$m' in CHECK_MODES: expected some of: $safe_modes kmod" ;;
	esac
done
if [ -n "${CHECK_MODES+x}" ] && [ -z "${CHECK_MODES// /}" ]; then
	die "CHECK_MODES is empty"
fi
# lane_modes KERNEL: the lookup modes the kselftests run in on that lane.
lane_modes() {
	if [ -n "${CHECK_MODES:-}" ]; then
		echo "$CHECK_MODES"
	else
		case "$1" in
		latest | distro) echo locked ;;
		base) echo "$safe_modes kmod" ;;
		*) echo "$safe_modes" ;;
		esac
	fi
}

mkdir -p "$DRVREG_OUT"
exec 8>"$DRVREG_OUT/.check.lock"
flock -n 8 || die "another make check is running in $DRVREG_ROOT (it holds out/.check.lock)"

note "setting up the host (scripts/setup.sh)..."
drvreg_setup
rm -rf "$clog"
mkdir -p "$clog"
first=1

# The guest command for the modes MODES: run the kselftests live on the console, every
# program in the first mode, the mode-dependent suites (mode_tests) in each further one
# (DRVREG_MODE=<mode>; kmod: DRVREG_MODE=locked DRVREG_TOOLS=kmod), then print all the
# results once more, each line prefixed with
# 'DRVREG-KTAP[<mode>]: ', with the console quiet, so kernel messages cannot tear a
# result line.
ksft_args=""
[ -z "${CHECK_TEST_TIMEOUT:-}" ] || ksft_args="-o $CHECK_TEST_TIMEOUT"
mode_tests="drvreg:drvreg_registry.sh drvreg:drvreg_stress.sh"
ksft_cmd() {
	local m t env which=""
	echo "[ -x /kselftest/run_kselftest.sh ] || { echo 'no /kselftest in the guest'; exit 1; }"
	for m in $1; do
		env="DRVREG_MODE=$m"
		[ "$m" != kmod ] || env="DRVREG_MODE=locked DRVREG_TOOLS=kmod"
		echo "echo 'DRVREG-MODE: $m'"
		echo "$env /kselftest/run_kselftest.sh $ksft_args$which 2>&1 | tee /tmp/ksft.$m.out"
		if [ -z "$which" ]; then
			for t in $mode_tests; do which+=" -t $t"; done
		fi
	done
	echo "echo 1 >/proc/sys/kernel/printk"
	for m in $1; do
		echo "sed 's/^/DRVREG-KTAP[$m]: /' /tmp/ksft.$m.out"
	done
	echo "echo 7 >/proc/sys/kernel/printk"
}

for k in $kernels; do
	if [ "$k" = kdir ]; then
		kname=$(drvreg_kname)
	else
		export KERNEL=$k
		kname=$k
	fi
	work="$DRVREG_OUT/$kname"

	# --- kernel ----------------------------------------------------------------------
	note "[$kname] finding the cached kernel, or building or preparing it (measured times: README.md; progress every 30 s)..."
	t0=$(date +%s)
	if ! kdir=$(drvreg_kdir 2> >(tee "$clog/$kname-kernel.log" >&2)); then
		res fail "$kname" "kernel build"
		show "$clog/$kname-kernel.log"
		continue
	fi
	res ok "$kname" "kernel ($kdir, $(($(date +%s) - t0)) s)"
	ksrc=$kdir
	[ ! -e "$kdir/source" ] || ksrc=$(cd "$kdir/source" && pwd -P)

	# --- strict module build --------------------------------------------------------
	strict="RUSTFLAGS_MODULE=-Dwarnings W=1 KCFLAGS=-Werror"
	note "[$kname] building the modules with warnings as errors ($strict)..."
	built=""
	if [ ! -f "$DRVREG_PROJECT/Kbuild" ]; then
		res fail "$kname" "build: no Kbuild in $DRVREG_PROJECT"
	else
		mkdir -p "$work"
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
	fi

	# --- clippy, once per kernel version (base or debug: 6.12; latest: 7.x; distro builds
	# in the sid chroot, which has no clippy; a KDIR tree: the host's) --------------------
	clippy=""
	case "$kname" in
	base | latest) clippy=1 ;;
	debug) [[ " $kernels " == *" base "* ]] || clippy=1 ;;
	distro) ;;
	*) clippy=1 ;;
	esac
	if [ -n "$clippy" ]; then
		if [ -f "$DRVREG_PROJECT/Kbuild" ]; then
			note "[$kname] clippy build (CLIPPY=1, -Dwarnings)..."
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
		fi
	fi

	if [ -n "$first" ]; then
		first=""

		# --- rustfmt --------------------------------------------------------------------
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

		# --- import graph ---------------------------------------------------------------
		if out=$("$DRVREG_ROOT/scripts/imports.sh" 2>&1); then
			res ok "$kname" "imports: ${out#rust/: }"
		else
			res fail "$kname" "imports: rust/ has an import cycle (scripts/imports.sh)"
			echo "$out" | sed 's/^/#   /'
		fi

		# --- docs: the ABI file and every Documentation/*.rst through the kernel's tools --
		note "[$kname] docs render check (scripts/docs-check.sh: get_abi.pl, Sphinx -W)..."
		"$DRVREG_ROOT/scripts/docs-check.sh" >"$clog/docs.log" 2>&1
		metric "$kname" "$(grep -a '^# METRIC docs ' "$clog/docs.log" | tail -n 1)" docs
		grep -qa '^# METRIC docs .* verdict=PASS' "$clog/docs.log" ||
			grep -aE 'WARNING|ERROR|^Warning|abi-lint: warning|^failed:' "$clog/docs.log" | head -40 | sed 's/^/#   /'

		# --- harness self-test ----------------------------------------------------------
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

		# --- bench scripts self-test (host only: a fake kernel interface) -------------
		if "$DRVREG_ROOT/scripts/harness/bench-selftest.sh" >"$clog/$kname-bench-selftest.log" 2>&1; then
			res ok "$kname" "bench scripts self-test: $(grep -ac '^ok ' "$clog/$kname-bench-selftest.log") passed"
		else
			res fail "$kname" "bench scripts self-test"
			show "$clog/$kname-bench-selftest.log"
		fi

		# --- make numbers' self-test (synthetic logs in a temporary tree) ---------------
		if python3 "$DRVREG_ROOT/scripts/doc-numbers.py" --self-test >"$clog/doc-numbers-selftest.log" 2>&1; then
			res ok "$kname" "doc-numbers self-test: $(grep -ac '^ok ' "$clog/doc-numbers-selftest.log") passed"
		else
			res fail "$kname" "doc-numbers self-test"
			grep -a '^not ok' "$clog/doc-numbers-selftest.log" | sed 's/^/#   /'
		fi
	fi

	# --- kselftests in the guest, once per lookup mode --------------------------------
	modes=$(lane_modes "$kname")
	vlog="$DRVREG_OUT/logs/check-$kname-$(date +%Y%m%d-%H%M%S).log"
	flags=""
	[ -z "$built" ] || flags=$strict
	t0=$(date +%s)
	ktap_figure() { echo "$(grep -acE '^(# )*(not )?ok [0-9]+ ' "$vlog" 2>/dev/null) results so far"; }
	DRVREG_STEP_FIGURE=ktap_figure DRVREG_KMAKE_FLAGS=$flags DRVREG_SETUP_DONE=full \
		VM_LOG="$vlog" VM_EXPECT_SPLAT= VM_TIMEOUT=${CHECK_VM_TIMEOUT:-1800} CMD="$(ksft_cmd "$modes")" \
		drvreg_step "[$kname] the kselftests in the guest (modes: $modes)" "$clog/$kname-vm.log" "$DRVREG_ROOT/scripts/vm.sh"
	vrc=$?
	if [ "$vrc" = 0 ]; then
		res ok "$kname" "guest: kselftests ran (modes: $modes), no kernel splat ($(($(date +%s) - t0)) s)"
	else
		msg=$(grep -a '^drvreg: FAIL' "$clog/$kname-vm.log" | head -1)
		res fail "$kname" "guest: ${msg#drvreg: FAIL: }"
		[ -n "$msg" ] || show "$clog/$kname-vm.log"
	fi
	[ -f "$vlog" ] || continue

	# Count the innermost results of each mode: a result line is a leaf unless results one
	# level deeper came right before it (KTAP prints subtests before their parent).
	fsum=0
	for m in $modes; do
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
	f=$fsum
	[ "$f" = 0 ] && [ "$vrc" = 0 ] || echo "#   console log: $vlog"

	# --- METRIC lines of the kselftests: fuzz on base, failslab on debug ---------------
	want=""
	case "$kname" in
	base) want="fuzz" ;;
	debug) want="failslab:register-rust failslab:register-c failslab:workers failslab:call_all failslab:lookup failslab:status" ;;
	esac
	mlines=$(sed -n "s/\r\$//; s/^DRVREG-KTAP\[[a-z]*\]: //p" "$vlog" | grep -ao 'METRIC [a-z_]* .*')
	for w in $want; do
		name=${w%%:*} path=""
		[ "$name" = "$w" ] || path=${w#*:}
		line=$(grep -a "^METRIC $name " <<<"$mlines" | { if [ -n "$path" ]; then grep -a " path=$path "; else cat; fi; } | tail -n 1)
		metric "$kname" "$line" "$w"
	done

	# --- the own-driver guide (base): its code, built out of tree, loaded in a guest ---
	if [ "$kname" = base ] && [ -n "$built" ]; then
		drvreg_step "[base] Documentation/own-driver.rst: its code built out of tree and loaded (scripts/own-driver-test.sh)" \
			"$clog/base-own-driver.log" env KERNEL=base DRVREG_SETUP_DONE=full DRVREG_KMAKE_FLAGS="$flags" \
			"$DRVREG_ROOT/scripts/own-driver-test.sh" "$kdir" "$work/src"
		metric base "$(grep -a '^# METRIC own_driver ' "$clog/base-own-driver.log" | tail -n 1)" own_driver
	fi

	# --- the short soak (base, debug) and the short bench (debug) ---------------------
	case "$kname" in
	base | debug)
		drvreg_step "[$kname] short soak (scripts/soak.sh --check: 500 cycles x 4 workers, 20 core cycles)" \
			"$clog/$kname-soak.log" env KERNEL="$kname" SOAK_FRESH=1 DRVREG_SETUP_DONE=full "$DRVREG_ROOT/scripts/soak.sh" --check
		metric "$kname" "$(grep -a '^# METRIC soak ' "$clog/$kname-soak.log" | tail -n 1)" soak
		;;
	esac
	if [ "$kname" = debug ]; then
		if drvreg_step "[debug] short bench (a correctness run: every cell, no splat)" "$clog/debug-bench.log" \
			env KERNEL=debug DRVREG_SETUP_DONE=full "$DRVREG_ROOT/scripts/bench.sh" --short; then
			res ok debug "bench --short: $(grep -ac '^bench mode=' "$clog/debug-bench.log") cells, no splat"
		else
			res fail debug "bench --short"
			show "$clog/debug-bench.log"
		fi
	fi
done
finish

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# drvreg's KUnit suites: the #[kunit_tests] of rust/ (name validation, number parsing, the
# hash index, the per-CPU sums, the pin count's saturation), compiled into the core on 7.x
# kernels built with CONFIG_KUNIT=y. KUnit runs a module's suites when the module loads;
# this program loads the core and reports every case of every drvreg_* suite from
# /sys/kernel/debug/kunit/<suite>/results (CONFIG_KUNIT_DEBUGFS), as one KTAP test each
# ('<suite>: <case>'), with KUnit's own summary lines, and then one line:
#   # METRIC kunit suites=<n> cases=<n> pass=<n> fail=<n> skip=<n> verdict=<PASS|FAIL>
# PASS: at least one suite, every case run and passed. Skipped on a kernel without KUnit
# (Debian's kernels, 6.12: no #[kunit_tests]). Prints KTAP; exits 0, 1 or 4.
. "$(dirname "$(readlink -f "$0")")/drvreg_lib.sh"

K=/sys/kernel/debug/kunit
drvreg_require_modules
if [ ! -d "$K" ]; then
	ktap_skip_all "no KUnit in this kernel ($K: CONFIG_KUNIT=y and CONFIG_KUNIT_DEBUGFS)"
	exit "$KSFT_SKIP"
fi
drvreg_cleanup
modprobe drvreg || drvreg_bail_out "cannot load drvreg"
# KUnit runs the suites from the module notifier, before modprobe returns.
suites=$(ls -d "$K"/drvreg_* 2>/dev/null)
# A case line is indented once (4 spaces: a subtest of the suite), the suite's own verdict
# not at all.
cases() { sed -n 's/^    \(\(not \)\{0,1\}ok [0-9][0-9]* .*\)$/\1/p' "$1/results"; }
n=0
for s in $suites; do n=$((n + $(cases "$s" | grep -c .))); done

ktap_print_header
if [ "$n" = 0 ]; then
	ktap_set_plan 1
	ktap_test_fail "drvreg's KUnit suites ran (KUnit is here, but no drvreg_* suite has results: was the core built without them?)"
	echo "# METRIC kunit suites=0 cases=0 pass=0 fail=0 skip=0 verdict=FAIL"
	rmmod drvreg
	ktap_finished
fi
ktap_set_plan "$n"
nsuites=0 bad_suite=0
for s in $suites; do
	name=${s##*/}
	nsuites=$((nsuites + 1))
	cases "$s" >/tmp/drvreg_kunit.cases
	while read -r line; do
		case "$line" in
		"not ok "*) rest=${line#not ok } ok=0 ;;
		*) rest=${line#ok } ok=1 ;;
		esac
		rest=${rest#* }
		case "$rest" in
		*"# SKIP"* | *"# skip"*) ktap_test_skip "$name: ${rest%% #*}" ;;
		*) if [ $ok = 1 ]; then ktap_test_pass "$name: $rest"; else ktap_test_fail "$name: $rest"; fi ;;
		esac
	done </tmp/drvreg_kunit.cases
	# KUnit's summary of the suite ('# <suite>: pass:N fail:N skip:N total:N'), and the
	# suite's verdict, which must agree.
	grep "^# $name: " "$s/results"
	grep -q "^ok 1 $name\$" "$s/results" || {
		bad_suite=$((bad_suite + 1))
		msg "$name: KUnit's verdict on the suite: $(grep "^\(not \)\{0,1\}ok 1 $name" "$s/results")"
	}
done
rm -f /tmp/drvreg_kunit.cases
rmmod drvreg
v=PASS
[ "$KTAP_CNT_FAIL" = 0 ] && [ "$KTAP_CNT_SKIP" = 0 ] && [ "$bad_suite" = 0 ] || v=FAIL
echo "# METRIC kunit suites=$nsuites cases=$n pass=$KTAP_CNT_PASS fail=$KTAP_CNT_FAIL skip=$KTAP_CNT_SKIP verdict=$v"
ktap_finished

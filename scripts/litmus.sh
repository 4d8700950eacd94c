#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# drvreg's litmus tests under the Linux-kernel memory model (LKMM): herd7 from Debian's
# herdtools7 (installed in the sid chroot of scripts/debian.sh: bookworm has no package),
# with the model of the 6.12 source the base lane builds (tools/memory-model).
#
#   scripts/litmus.sh
#
# First a few of the kernel's own tests, whose documented 'Result:' checks the setup;
# then every selftests/litmus/*.litmus. Each file states its expected result in a
# 'Result:' line: Never for a protocol as the code implements it (NAME.litmus), Sometimes
# for its mutants (NAME+what.litmus), each without one barrier (or with the one word split
# in two), so that every barrier is shown to be needed and every test can fail. One line
# per test ('litmus: ok|FAIL <name> expected=<X> got=<Y>'), then
#   # METRIC litmus tests=<n> expected=<n> mutants=<m> kernel_tests=<k> verdict=PASS|FAIL
# (expected: the tests, mutants included, whose result was the stated one).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dir=$DRVREG_ROOT/selftests/litmus
model=$(drvreg_ksrc)/tools/memory-model
[ -f "$model/linux-kernel.cfg" ] || die "no LKMM in $model"
root=$("$DRVREG_ROOT/scripts/debian.sh" sid root)
if [ ! -x "$root/usr/bin/herd7" ]; then
	say "installing herdtools7 (herd7) in the sid chroot..."
	"$DRVREG_ROOT/scripts/debian.sh" sid run apt-get install -y -qq herdtools7 >&2 ||
		die "could not install herdtools7 in the sid chroot"
fi
# The kernel's own tests that the setup must reproduce (their files state the results).
kernel_tests="SB+fencembonceonces SB+poonceonces MP+polocks LB+poonceonces
LB+fencembonceonce+ctrlonceonce MP+pooncerelease+poacquireonce"
files=()
for t in $kernel_tests; do files+=("$model/litmus-tests/$t.litmus"); done
files+=("$dir"/*.litmus)
# herd7 prints 'Observation <name> Never|Sometimes|Always <n> <m>' per test.
out=$("$DRVREG_ROOT/scripts/debian.sh" sid run -b "$dir" bash -c \
	'cd "$1" && shift && for f in "$@"; do herd7 -conf linux-kernel.cfg "$f" 2>&1 | grep -a "^Observation" || echo "Observation $(basename "$f" .litmus) ERROR"; done' \
	_ "$model" "${files[@]}")
n=0 good=0 mutants=0 kt=0 kgood=0
for f in "${files[@]}"; do
	name=$(sed -n '1s/^C //p' "$f")
	want=$(sed -n 's/^ \* Result: \([A-Za-z]*\).*/\1/p' "$f" | head -n 1)
	got=$(awk -v n="$name" '$1 == "Observation" && $2 == n { print $3 }' <<<"$out" | head -n 1)
	ok=FAIL
	[ -z "$want" ] || [ "$want" != "${got:-none}" ] || ok=ok
	if [ "$f" != "${f#"$model"}" ]; then
		kt=$((kt + 1))
		[ "$ok" = FAIL ] || kgood=$((kgood + 1))
		echo "litmus: $ok kernel:$name expected=${want:-?} got=${got:-none}"
		continue
	fi
	n=$((n + 1))
	case "$name" in *+*) mutants=$((mutants + 1)) ;; esac
	[ "$ok" = FAIL ] || good=$((good + 1))
	echo "litmus: $ok $name expected=${want:-?} got=${got:-none}"
done
verdict=FAIL
[ "$n" -gt 0 ] && [ "$good" = "$n" ] && [ "$kgood" = "$kt" ] && verdict=PASS
echo "# METRIC litmus tests=$n expected=$good mutants=$mutants kernel_tests=$kgood/$kt verdict=$verdict"
[ "$verdict" = PASS ]

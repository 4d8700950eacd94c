#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make boots: boot a lane's kernel N times and count the boots that crashed, to measure
# the emulator rather than drvreg (the guests load nothing of drvreg).
#
#   KERNEL=debian-sid N=100 scripts/boots.sh    (make boots KERNEL=debian-sid N=100)
#
# Each boot runs 'true' as its command with no retry (VM_RETRY=0, VM_PROJECT=0): a boot
# that splats, dies or hangs is a crash, named in one line with its first report and
# log (kept in out/boots/<kernel>/; clean boots' logs are removed). Ends with
#   # METRIC boots kernel=<k> qemu=<version> tsc=<unstable|kernel> cpus=<n> boots=<n> crashes=<n> verdict=PASS|FAIL
# (tsc: scripts/vm.sh's VM_TSC: tsc=unstable, the default, or the kernel's choice.)
# PASS: no crash. The line is also kept in out/boots/results.txt, one per lane, QEMU
# version and tsc (a newer run replaces the older), which make numbers quotes. Environment: N (default 30), VM_CPUS (default 4), QEMU (the emulator
# binary, default qemu-system-x86_64), VM_TIMEOUT per boot (default 300).
set -uo pipefail
. "$(dirname "$0")/lib.sh"

n=${N:-30}
[[ "$n" =~ ^[1-9][0-9]*$ ]] || die "N='$n' is not a positive number"
export VM_CPUS=${VM_CPUS:-4} VM_TIMEOUT=${VM_TIMEOUT:-300} VM_RETRY=0 VM_PROJECT=0
unset VM_EXPECT_SPLAT VM_INFRA_CRASH VM_EXTRA_M SHARE
kernel=$(drvreg_kname)
tsc=unstable
[ "${VM_TSC:-0}" = 0 ] || tsc=kernel
qemu=${QEMU:-qemu-system-x86_64}
qver=$("$qemu" --version 2>/dev/null | sed -n '1s/.*version \([^ ]*\).*/\1/p')
[ -n "$qver" ] || die "QEMU=$qemu does not run (run 'make setup')"
drvreg_kdir >/dev/null || exit 2
export DRVREG_SETUP_DONE=full
dir="$DRVREG_OUT/boots/$kernel"
mkdir -p "$dir"
say "booting the $kernel kernel $n times ($VM_CPUS CPUs, QEMU $qver, tsc $tsc); logs of crashed boots in $dir"
crashes=0 t0=$SECONDS
for ((i = 1; i <= n; i++)); do
	log="$dir/boot-$i.log"
	ts=$SECONDS
	msg=$(CMD=true VM_LOG="$log" "$DRVREG_ROOT/scripts/vm.sh" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" = 0 ]; then
		rm -f "$log"
		say "boot $i/$n: clean ($((SECONDS - ts)) s)"
	else
		crashes=$((crashes + 1))
		why=$(grep -a -m1 -E '^drvreg: (INFRA|FAIL): ' <<<"$msg" | sed 's/^drvreg: //')
		say "boot $i/$n: CRASH (vm.sh status $rc): ${why:-see $log}"
		grep -a '^drvreg:   | ' <<<"$msg" | head -n 3 >&2
	fi
done
verdict=PASS
[ "$crashes" = 0 ] || verdict=FAIL
say "$crashes crashes in $n boots of the $kernel kernel ($((SECONDS - t0)) s)"
metric="# METRIC boots kernel=$kernel qemu=$qver tsc=$tsc cpus=$VM_CPUS boots=$n crashes=$crashes verdict=$verdict"
echo "$metric"
results="$DRVREG_OUT/boots/results.txt"
{ grep -av " kernel=$kernel qemu=$qver tsc=$tsc " "$results" 2>/dev/null; echo "$metric"; } >"$results.new"
mv "$results.new" "$results"
[ "$verdict" = PASS ]

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Self-test of the guest harness (scripts/vm.sh): boots guests and checks that exit
# statuses, vCPU counts, SHARE, splat detection and hang detection work.
#
#   scripts/harness/selftest.sh [--quick]     (KERNEL=<lane> or KDIR= as for vm.sh)
#
# --quick runs only exit status propagation and oops detection (make check uses it).
# Prints KTAP-style 'ok N description' / 'not ok N description' lines; details of a
# failure follow as '# ' lines. Guest logs go to out/harness/. Exits non-zero on failure.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

quick=""
[ "${1:-}" != "--quick" ] || quick=1
vm="$DRVREG_ROOT/scripts/vm.sh"
harness="$DRVREG_ROOT/scripts/harness"
logs="$DRVREG_OUT/harness"
mkdir -p "$DRVREG_OUT"
exec 8>"$DRVREG_OUT/.harness.lock"
flock -n 8 || die "another harness self-test is running in $DRVREG_ROOT (it holds out/.harness.lock)"
rm -rf "$logs"
mkdir -p "$logs"
# The harness does not need the project's modules: they may be mid-edit.
export VM_PROJECT=0
unset CMD VM_CPUS VM_TIMEOUT VM_SPLAT_IDLE VM_EXPECT_SPLAT VM_APPEND VM_ENV VM_LOG SHARE VM_EXTRA_M

n=0 passed=0 failed=0
# Build the kernel (and run setup) once, up front, so that its output is not a test's.
drvreg_kdir >/dev/null || exit 2
export DRVREG_SETUP_DONE=1

# boot NAME [VAR=value...]: run vm.sh with the given environment; sets $rc, $con (console
# file), $msg (vm.sh's own messages) and $secs.
boot() {
	local name=$1
	shift
	con="$logs/$name.console" msg="$logs/$name.msgs"
	local t0
	t0=$(date +%s)
	env "$@" VM_LOG="$logs/$name.log" "$vm" >"$con" 2>"$msg"
	rc=$?
	secs=$(($(date +%s) - t0))
}

# result OK DESCRIPTION: print one KTAP line, with vm.sh's messages if it failed.
result() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n $2"
		passed=$((passed + 1))
	else
		echo "not ok $n $2"
		failed=$((failed + 1))
		echo "#   vm.sh exit status $rc after ${secs}s; its messages ($msg):"
		grep -a '^drvreg: ' "$msg" | grep -v 'kernel is cached' | sed 's/^/#   /'
	fi
}

# Output lines of CMD, between the start and exit markers.
cmd_output() {
	sed -n '/^DRVREG-VM-START/,/^DRVREG-VM-EXIT/p' "$con" | grep -av '^\[ *[0-9]*\.[0-9]*\]'
}
has_line() { cmd_output | grep -aqx -- "$1"; }

echo "TAP version 13"
if [ -n "$quick" ]; then echo "1..3"; else echo "1..17"; fi

boot exit3 CMD='exit 3'
[ "$rc" = 3 ] && grep -q 'CMD exited with status 3' "$msg"
result $? "harness: CMD's exit status 3 is vm.sh's exit status (${secs}s)"

boot oops VM_EXTRA_M="$harness" CMD='modprobe drvreg_harness_oops; echo survived'
[ "$rc" != 0 ] && grep -q '^drvreg: FAIL: kernel oops in the guest: .*BUG: kernel NULL pointer dereference' "$msg"
result $? "harness: an oops in the guest fails the run and is named (${secs}s)"

# A fault outside drvreg (infra_crash.ko: no drvreg frame) in the first boot: one INFRA
# line, that boot's log kept aside, a second boot whose command runs and gives the result.
boot infra VM_INFRA_CRASH=1 CMD='echo "second boot ran: $DRVREG_VM_BOOT"'
[ "$rc" = 0 ] && grep -q '^drvreg: INFRA: boot 1 of 2 failed outside drvreg: kernel oops with no drvreg frame' "$msg" &&
	grep -q '^second boot ran: 2$' "$con" && [ -f "$logs/infra-infra1.log" ] &&
	! grep -aq 'second boot ran' "$logs/infra-infra1.log"
result $? "harness: a fault outside drvreg is reported as infrastructure and booted again (${secs}s)"

if [ -n "$quick" ]; then
	echo "# harness: $passed passed, $failed failed"
	[ "$failed" = 0 ]
	exit
fi

boot cpus4 CMD='grep -c ^processor /proc/cpuinfo'
[ "$rc" = 0 ] && has_line 4
result $? "harness: the guest has 4 CPUs by default (${secs}s)"

boot cpus2 VM_CPUS=2 CMD='grep -c ^processor /proc/cpuinfo'
[ "$rc" = 0 ] && has_line 2
result $? "harness: VM_CPUS=2 gives 2 CPUs (${secs}s)"

boot multiline VM_ENV="FOO=bar BAZ=it's" CMD='a=1
b=2
echo "sum=$((a + b)) foo=$FOO baz=$BAZ kernel=$DRVREG_KERNEL"
echo "WARNING: printed by CMD, not a kernel splat"'
[ "$rc" = 0 ] && has_line "sum=3 foo=bar baz=it's kernel=$(drvreg_kname)"
result $? "harness: multi-line CMD and VM_ENV reach the guest; CMD's own 'WARNING:' is no splat (${secs}s)"

share=$(mktemp -d)
printf '#!/bin/sh\necho "share-script-ran:$(cat /mnt/share/token)"\n' >"$share/hello.sh"
chmod +x "$share/hello.sh"
echo "t$$" >"$share/token"
boot share SHARE="$share" CMD='/mnt/share/hello.sh
if touch /mnt/share/new 2>/dev/null; then echo share-writable; else echo share-read-only; fi'
[ "$rc" = 0 ] && has_line "share-script-ran:t$$" && has_line share-read-only
result $? "harness: SHARE runs a host script from a read-only /mnt/share (${secs}s)"
rm -rf "$share"

boot warn VM_EXTRA_M="$harness" CMD='modprobe drvreg_harness_oops mode=warn'
[ "$rc" != 0 ] && grep -q '^drvreg: FAIL: kernel WARNING in the guest: .*WARNING: CPU' "$msg"
result $? "harness: a WARN fails a run whose CMD succeeded (${secs}s)"

boot expect VM_EXPECT_SPLAT=1 VM_EXTRA_M="$harness" CMD='modprobe drvreg_harness_oops'
[ "$rc" = 0 ] && grep -q '^drvreg: expected splat seen (kernel oops): ' "$msg"
result $? "harness: VM_EXPECT_SPLAT=1 with an oops exits 0 (${secs}s)"

boot infra-expect VM_EXPECT_SPLAT=1 VM_RETRY=0 VM_INFRA_CRASH=1 CMD='true'
[ "$rc" = 126 ] && grep -q '^drvreg: FAIL: infrastructure failure in all 1 boot' "$msg" && ! grep -q 'expected splat seen' "$msg"
result $? "harness: a fault outside drvreg is never the expected splat; VM_RETRY=0 gives status 126 (${secs}s)"

boot infra-boot VM_RETRY=0 VM_APPEND='rdinit=/nonexistent init=/nonexistent' CMD='true'
[ "$rc" = 126 ] && grep -q '^drvreg: INFRA: boot 1 of 1 failed outside drvreg: .*before CMD started' "$msg"
result $? "harness: a guest that dies in boot is an infrastructure failure (${secs}s)"

boot expect-none VM_EXPECT_SPLAT=1 CMD='true'
[ "$rc" != 0 ] && grep -q '^drvreg: FAIL: no kernel splat seen' "$msg"
result $? "harness: VM_EXPECT_SPLAT=1 without a splat fails (${secs}s)"

boot died CMD='echo bye; poweroff -f; sleep 60'
[ "$rc" = 125 ] && grep -q '^drvreg: FAIL: guest died before CMD finished' "$msg"
result $? "harness: a guest that dies before CMD ends is reported (${secs}s)"

boot hang VM_TIMEOUT=60 CMD='sleep 100000'
[ "$rc" = 124 ] && grep -q '^drvreg: FAIL: guest hung: killed after 60 s' "$msg"
result $? "harness: a hung guest is killed after VM_TIMEOUT=60 and reported (${secs}s)"

boot stuck VM_SPLAT_IDLE=20 VM_EXTRA_M="$harness" CMD='modprobe drvreg_harness_oops mode=warn; sleep 100000'
[ "$rc" = 124 ] && grep -q '^drvreg: FAIL: guest stuck after a kernel WARNING: no console output for 20 s' "$msg" && [ "$secs" -lt 90 ]
result $? "harness: a guest silent for VM_SPLAT_IDLE=20 after a splat is stopped early (${secs}s)"

boot badkernel KDIR= KERNEL=bogus CMD=true
[ "$rc" = 2 ] && [ "$(grep -c . "$msg")" = 1 ] && grep -q "^drvreg: unknown KERNEL='bogus'" "$msg"
result $? "harness: KERNEL=bogus stops with one line (${secs}s)"

boot badkdir KDIR=/nonexistent CMD=true
[ "$rc" = 2 ] && [ "$(grep -c . "$msg")" = 1 ] && grep -q '^drvreg: KDIR=/nonexistent is not a built Rust-enabled kernel tree' "$msg"
result $? "harness: a bad KDIR stops with one line (${secs}s)"

echo "# harness: $passed passed, $failed failed"
[ "$failed" = 0 ]

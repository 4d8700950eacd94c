#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make soak: a long unload storm of the Rust sample, the C sample and the client module
# together, with pinning workers and an unprivileged reader, then core-unload cycles;
# one METRIC line per run (scripts/soak-guest.sh does the guest's part).
#
#   scripts/soak.sh [--check]
#
# The cycles are split into shards of SOAK_SHARD cycles, one guest boot each; a shard's
# result is kept in out/soak/<run>/shard-<n>.txt, so an interrupted soak resumes where it
# stopped (SOAK_FRESH=1 starts over). The core-unload cycles run in the first shard. With
# SOAK_UNTIL=<time> (anything 'date -d' reads, e.g. 23:00) no shard starts that would end
# after that time (judged by the last shard's duration): the run stops early, says how
# many shards it did, and sums those; the same command resumes it later. Then the shards
# (all, or those done) are summed into:
#   # METRIC soak kernel=<k> cycles=<n> threads=<m> loads=<n> unloads=<n> busy=<n>
#     refused=<n> errors=<n> splats=<n> pins_left=<n> workers_left=<n> modules_left=<n>
#     leaks=<n|na> verdict=<PASS|FAIL>
# (one line). PASS needs errors, splats and every *_left at 0, leaks 0 or na, and busy and
# refused above 0. Unless --check, a control shard follows in racy mode, which must
# splat: '# METRIC soak_control kernel=<k> mode=racy splat=<0|1> verdict=<PASS|FAIL>'.
#
# Environment:
#   KERNEL         base (default), debug (KASAN, lockdep, kmemleak), kcsan (KCSAN: a report
#                  naming a drvreg module fails the run), latest, debian-sid, debian-13
#   SOAK_CYCLES    storm cycles, default 10000
#   SOAK_THREADS   stress workers, default 8 (4 on debug and kcsan)
#   SOAK_CORE      core-unload cycles, default 200
#   SOAK_SHARD     cycles per guest boot, default 1000
#   SOAK_MODE      lookup mode of the storm, default locked
#   SOAK_UNTIL     start no shard that would end after this time (see above)
# The guests boot with rcupdate.rcu_expedited=1: every rmmod waits for grace periods (the
# loader's, and the core's module-going notifier's), which take tens of milliseconds under
# TCG otherwise.
# --check: the short soak (150 cycles x 4 threads, 10 core cycles, one shard, no control
# run: 937 s on the debug lane), once part of make check, now too long for its budget.
# Each run's METRIC line, command and time: out/soak/last-<kernel>.txt (make numbers).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

check=""
case "${1:-}" in
"") ;;
--check) check=1 ;;
*) die "usage: scripts/soak.sh [--check]" ;;
esac
kernel=${KERNEL:-base}
[ -n "${KDIR:-}" ] && kernel=$(drvreg_kname)
[ -n "${KDIR:-}" ] || drvreg_check_kernel "$kernel"
# A slow lane (scripts/lanes.conf: KASAN, KCSAN) gets fewer workers and longer timeouts.
slow=1
[ -n "${KDIR:-}" ] || slow=$(drvreg_lane "$kernel" slow)
dthreads=$((8 / slow))
if [ -n "$check" ]; then
	cycles=${SOAK_CYCLES:-150} threads=${SOAK_THREADS:-4} core=${SOAK_CORE:-10} shard=${SOAK_SHARD:-150}
else
	cycles=${SOAK_CYCLES:-10000} threads=${SOAK_THREADS:-$dthreads} core=${SOAK_CORE:-200} shard=${SOAK_SHARD:-1000}
fi
mode=${SOAK_MODE:-locked}
until=""
if [ -n "${SOAK_UNTIL:-}" ]; then
	until=$(date -d "$SOAK_UNTIL" +%s 2>/dev/null) || die "SOAK_UNTIL='$SOAK_UNTIL' is not a time ('date -d' cannot read it)"
fi
for v in "SOAK_CYCLES=$cycles" "SOAK_THREADS=$threads" "SOAK_SHARD=$shard"; do
	[[ "${v#*=}" =~ ^[1-9][0-9]*$ ]] || die "${v%%=*}='${v#*=}' is not a positive number"
done
[[ "$core" =~ ^[0-9]+$ ]] || die "SOAK_CORE='$core' is not a number"
[ "$threads" -le 16 ] || die "SOAK_THREADS must be 1..16 (the core's limit)"
# The guest checks the mode against the core's list (soak-guest.sh: 'cannot select mode').
[[ "$mode" =~ ^[a-z]+$ ]] && [ "$mode" != racy ] ||
	die "SOAK_MODE='$mode': expected a safe lookup mode (/sys/kernel/drvreg/mode lists them)"

KERNEL=$kernel drvreg_kdir >/dev/null
run="$DRVREG_OUT/soak/$kernel-${cycles}x$threads-$mode"
[ -z "${SOAK_FRESH:-}" ] || rm -rf "$run"
mkdir -p "$run/share"
cp "$DRVREG_ROOT/scripts/soak-guest.sh" "$run/share/"
nshards=$(((cycles + shard - 1) / shard))

# splats LOG: drvreg's kernel reports in a console log (selftests/drvreg/splat.awk); an
# infrastructure failure made vm.sh boot again, and the log is that boot's.
splats() { awk -v console=1 -f "$DRVREG_SPLAT" "$1" | grep -c "$(printf '\tdrvreg\t')" || true; }

t0=$(date +%s)
i=1 last=0 done_shards=0
while [ $i -le "$nshards" ]; do
	res="$run/shard-$i.txt"
	if [ -s "$res" ]; then
		say "soak shard $i/$nshards: done earlier ($res)"
		i=$((i + 1)) done_shards=$((done_shards + 1))
		continue
	fi
	if [ -n "$until" ] && [ $(($(date +%s) + last)) -gt "$until" ]; then
		say "SOAK_UNTIL=$SOAK_UNTIL: shards $i..$nshards not started (the last took $last s); the same command resumes"
		break
	fi
	ts=$(date +%s)
	c=$shard
	[ $i -lt "$nshards" ] || c=$((cycles - shard * (nshards - 1)))
	k=0
	[ $i -gt 1 ] || k=$core
	log="$run/console-$i.log"
	say "soak shard $i/$nshards on the $kernel kernel: $c cycles x $threads workers, $k core-unload cycles (log: $log)"
	set +e
	SHARE="$run/share" CMD="sh /mnt/share/soak-guest.sh -c $c -t $threads -k $k -m $mode -e 100" \
		KERNEL=$kernel VM_LOG="$log" VM_TIMEOUT=$((600 + (c + 10 * k) * slow * 3)) \
		VM_APPEND="rcupdate.rcu_expedited=1 ${VM_APPEND:-}" "$DRVREG_ROOT/scripts/vm.sh" 2>&1 | grep -a --line-buffered -E "^(drvreg: |soak)" |
		grep -av "^drvreg: console log:"
	rc=${PIPESTATUS[0]}
	set -e
	line=$(grep -ao 'soak-shard: .*' "$log" | tr -d '\r' | tail -n 1 || true)
	if [ -z "$line" ]; then
		say "soak shard $i: the guest did not finish (vm.sh exit status $rc); see $log"
		line="soak-shard: cycles=$c threads=$threads loads=0 unloads=0 busy=0 refused=0 errors=1 pins_left=0 workers_left=0 modules_left=0 leaks=na"
	fi
	echo "$line splats=$(splats "$log") rc=$rc" >"$res"
	last=$(($(date +%s) - ts))
	i=$((i + 1)) done_shards=$((done_shards + 1))
done
[ "$done_shards" = "$nshards" ] ||
	say "soak: PARTIAL: $done_shards of $nshards shards done ($((done_shards * shard)) of $cycles cycles at most): the METRIC line sums those"

# Sum the shards.
declare -A sum
leaks=na
for f in "$run"/shard-*.txt; do
	[ -e "$f" ] || continue
	for kv in $(sed 's/^soak-shard: //' "$f"); do
		key=${kv%%=*} val=${kv#*=}
		case "$key" in
		leaks) [ "$val" = na ] || leaks=$(( ${leaks/na/0} + val )) ;;
		threads) ;;
		rc) [ "$val" = 0 ] || sum[errors]=$((${sum[errors]:-0} + 1)) ;;
		*) sum[$key]=$((${sum[$key]:-0} + val)) ;;
		esac
	done
done
verdict=PASS
for key in errors splats pins_left workers_left modules_left; do
	[ "${sum[$key]:-0}" = 0 ] || verdict=FAIL
done
[ "$leaks" = na ] || [ "$leaks" = 0 ] || verdict=FAIL
[ "${sum[busy]:-0}" -gt 0 ] && [ "${sum[refused]:-0}" -gt 0 ] || verdict=FAIL
say "soak on the $kernel kernel: $nshards shard(s), $(($(date +%s) - t0)) s this time; shard results in $run"
metric="# METRIC soak kernel=$kernel cycles=${sum[cycles]:-0} threads=$threads loads=${sum[loads]:-0} unloads=${sum[unloads]:-0} busy=${sum[busy]:-0} refused=${sum[refused]:-0} errors=${sum[errors]:-0} splats=${sum[splats]:-0} pins_left=${sum[pins_left]:-0} workers_left=${sum[workers_left]:-0} modules_left=${sum[modules_left]:-0} leaks=$leaks verdict=$verdict"
echo "$metric"
# The run, for make numbers (scripts/doc-numbers.py: soak:<kernel>).
{
	echo "command: KERNEL=$kernel scripts/soak.sh${check:+ --check}"
	echo "seconds: $(($(date +%s) - t0))"
	echo "$metric"
} >"$DRVREG_OUT/soak/last-$kernel.txt"
status=0
[ "$verdict" = PASS ] || status=1

if [ -z "$check" ]; then
	# The control: the same storm with the 2002 lookup must fault.
	log="$run/console-control.log"
	# The lane's demo race window (scripts/lanes.conf), as make demo uses it there.
	window=2000
	[ -n "${KDIR:-}" ] || window=$(drvreg_lane "$kernel" demo | cut -d: -f1)
	say "soak control on the $kernel kernel: racy mode, $window us window, must splat (log: $log)"
	set +e
	SHARE="$run/share" CMD="modprobe drvreg allow_racy=1 && echo $window >/sys/kernel/debug/drvreg/race_window_us && sh /mnt/share/soak-guest.sh -c 2000 -t 2 -m racy -e 100" \
		KERNEL=$kernel VM_LOG="$log" VM_TIMEOUT=1800 VM_EXPECT_SPLAT=1 \
		VM_APPEND="rcupdate.rcu_expedited=1 ${VM_APPEND:-}" "$DRVREG_ROOT/scripts/vm.sh" >/dev/null 2>&1
	crc=$?
	set -e
	splat=0 cverdict=FAIL
	[ "$crc" = 0 ] && splat=1 cverdict=PASS
	echo "# METRIC soak_control kernel=$kernel mode=racy splat=$splat verdict=$cverdict"
	[ "$cverdict" = PASS ] || status=1
fi
exit "$status"

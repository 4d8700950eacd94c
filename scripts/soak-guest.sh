#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# One shard of make soak, in the guest (busybox sh; scripts/soak.sh copies it in).
#
#   soak-guest.sh -c CYCLES -t THREADS [-k CORE_CYCLES] [-m MODE] [-e EVERY]
#
# Storm phase (CYCLES cycles): the core runs THREADS stress workers pinning sample0
# (lookup, open, release, unpin); a shell loop looks up sample_c0 through the lookup file;
# an unprivileged user reads every per-driver file in a loop. Each cycle loads
# drvreg_sample, drvreg_sample_c (count=2) and drvreg_client (target=sample_c1) when not
# loaded, reads every per-driver file (so each is read before its driver goes), then tries
# rmmod once on each of client, sample and sample_c:
#   unloads  rmmod succeeded;   busy  rmmod refused because a lookup held a pin, or for drvreg
#   an open debugfs file (EAGAIN, kmod's "is in use"); errors  anything else that failed (a load, an
#   rmmod with another error, a worker's error counter).
# Core phase (CORE_CYCLES cycles): load the core and drvreg_sample, start 16 workers, a
# writer (mode, race_window_us) and a reader (stats), then rmmod the sample and the core
# while they run.
# Then: pins left (stats before the last unload), drvreg kthreads left, drvreg modules
# left, and kmemleak's unreferenced objects that name drvreg (na without kmemleak).
#
# MODE is a lookup mode (default locked). Prints progress lines 'soak: ...' every EVERY
# cycles (default 100) and one last line:
#   soak-shard: cycles=N threads=N loads=N unloads=N busy=N refused=N errors=N
#               pins_left=N workers_left=N modules_left=N leaks=N|na
# (one line). Exits 0 when it got that far.
D=/sys/kernel/drvreg
DBG=/sys/kernel/debug/drvreg
cycles=100 threads=4 core_cycles=0 mode=locked every=100
while getopts c:t:k:m:e: opt; do
	case $opt in
	c) cycles=$OPTARG ;;
	t) threads=$OPTARG ;;
	k) core_cycles=$OPTARG ;;
	m) mode=$OPTARG ;;
	e) every=$OPTARG ;;
	*) echo "usage: $0 -c CYCLES -t THREADS [-k CORE_CYCLES] [-m MODE] [-e EVERY]" >&2; exit 2 ;;
	esac
done
for n in "$cycles" "$threads" "$core_cycles" "$every"; do
	case $n in '' | *[!0-9]*) echo "soak: '$n' is not a number" >&2; exit 2 ;; esac
done

loads=0 unloads=0 busy=0 errors=0 refused=0
stat() { sed -n "s/^$1 //p" "$DBG/stats"; }
loaded() { [ -d "/sys/module/$1" ]; }

# load MODULE [PARAMS]
load() {
	loaded "$1" && return 0
	if modprobe "$@" 2>/tmp/soak.err; then
		loads=$((loads + 1))
	else
		errors=$((errors + 1))
		echo "soak: modprobe $*: $(cat /tmp/soak.err)"
	fi
}

# unload MODULE: one rmmod attempt.
unload() {
	loaded "$1" || return 0
	if out=$(rmmod "$1" 2>&1); then
		unloads=$((unloads + 1))
	else
		case "$out" in
		*"temporarily unavailable"* | *"in use"* | *"busy"*) busy=$((busy + 1)) ;;
		*) errors=$((errors + 1)); echo "soak: rmmod $1: $out" ;;
		esac
	fi
}

extra=""
[ "$mode" = racy ] && extra="allow_racy=1"
# shellcheck disable=SC2086
modprobe drvreg $extra || { echo "soak: cannot load drvreg"; exit 1; }
echo "$mode" >"$D/mode" || { echo "soak: cannot select mode $mode"; exit 1; }
refused0=$(stat refused)
echo "$threads" >"$DBG/stress/threads"
echo sample0 >"$DBG/stress/target"
echo 1 >"$DBG/stress/running"

( while :; do echo sample_c0 >"$DBG/lookup"; usleep 2000; done ) 2>/dev/null &
pinner=$!
reader=""
if id nobody >/dev/null 2>&1; then
	su -s /bin/sh nobody -c "while :; do cat $D/drivers/*/* >/dev/null 2>&1; usleep 5000; done" &
	reader=$!
fi

echo "soak: storm start cycles=$cycles threads=$threads mode=$mode"
i=0
while [ $i -lt "$cycles" ]; do
	i=$((i + 1))
	load drvreg_sample
	load drvreg_sample_c count=2
	load drvreg_client target=sample_c1
	cat "$D"/drivers/*/* >/dev/null 2>&1
	unload drvreg_client
	unload drvreg_sample
	unload drvreg_sample_c
	if [ $((i % every)) = 0 ]; then
		echo "soak: cycle=$i loads=$loads unloads=$unloads busy=$busy errors=$errors refused=$(($(stat refused) - refused0))"
	fi
done

kill "$pinner" $reader 2>/dev/null
wait 2>/dev/null
echo 0 >"$DBG/stress/running"
werr=$(cat "$DBG/stress/errors")
[ "$werr" = 0 ] || { errors=$((errors + werr)); echo "soak: the stress workers counted $werr errors"; }
refused=$(($(stat refused) - refused0))
pins_left=$(stat pins)
for m in drvreg_client drvreg_sample drvreg_sample_c; do
	n=0
	while loaded $m && [ $n -lt 100 ]; do
		rmmod $m 2>/dev/null && unloads=$((unloads + 1))
		n=$((n + 1))
		loaded $m && sleep 0.1
	done
done
rmmod drvreg || { errors=$((errors + 1)); echo "soak: rmmod drvreg failed"; }

echo "soak: core phase cycles=$core_cycles"
i=0
while [ $i -lt "$core_cycles" ]; do
	i=$((i + 1))
	if ! modprobe drvreg; then errors=$((errors + 1)); continue; fi
	loads=$((loads + 1))
	load drvreg_sample
	echo 16 >"$DBG/stress/threads"
	echo 1 >"$DBG/stress/running"
	( while :; do
		for v in $(tr -d '[]' <"$D/mode"); do echo $v >"$D/mode"; done
		echo $((i % 3)) >"$DBG/race_window_us"
	done ) 2>/dev/null &
	writer=$!
	( while :; do cat "$DBG/stats" >/dev/null; done ) 2>/dev/null &
	creader=$!
	n=0
	while loaded drvreg_sample && [ $n -lt 200 ]; do
		unload drvreg_sample
		n=$((n + 1))
	done
	# With its readers and writers still at work: an open debugfs file holds a reference
	# on drvreg.ko (EAGAIN, counted as busy, retried); one opened once the exit has begun
	# fails with ENXIO, and a read or write of a file the exit removed fails with EIO.
	t=0
	until rmmod drvreg 2>/tmp/soak.err; do
		t=$((t + 1))
		case "$(cat /tmp/soak.err)" in
		*"temporarily unavailable"* | *"in use"* | *"busy"*) busy=$((busy + 1)) ;;
		*) t=100 ;;
		esac
		[ $t -lt 100 ] || break
		usleep 1000
	done
	if loaded drvreg; then
		errors=$((errors + 1))
		echo "soak: rmmod drvreg with workers running: $(cat /tmp/soak.err)"
	else
		unloads=$((unloads + 1))
	fi
	kill "$writer" "$creader" 2>/dev/null
	wait 2>/dev/null
	[ $((i % 50)) = 0 ] && echo "soak: core cycle=$i"
done

workers_left=$(cat /proc/[0-9]*/comm 2>/dev/null | grep -c '^drvreg/')
modules_left=$(grep -c '^drvreg' /proc/modules)
leaks=na
if [ -w /sys/kernel/debug/kmemleak ]; then
	echo scan >/sys/kernel/debug/kmemleak
	sleep 1
	echo scan >/sys/kernel/debug/kmemleak
	# Objects whose report (address line and backtrace) names drvreg.
	leaks=$(awk '/^unreferenced object/ { n += hit; hit = 0 } /drvreg/ { hit = 1 } END { print n + hit }' \
		/sys/kernel/debug/kmemleak)
	[ "$leaks" = 0 ] || head -n 40 /sys/kernel/debug/kmemleak
fi
echo "soak-shard: cycles=$cycles threads=$threads loads=$loads unloads=$unloads busy=$busy refused=$refused errors=$errors pins_left=$pins_left workers_left=$workers_left modules_left=$modules_left leaks=$leaks"

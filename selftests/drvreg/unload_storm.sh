#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Unload storm: load and unload a driver module over and over while something else (the
# drvreg stress workers) keeps looking its drivers up.
#
#   unload_storm.sh [-c CYCLES] [-s SECONDS] [-m MODULE] [-p 'PARAMS'] [-e EVERY] [-S] [-T]
#
# Each cycle loads MODULE with modprobe if it is not loaded, then tries rmmod once.
# An rmmod refused with EAGAIN/EWOULDBLOCK or EBUSY (kmod's rmmod: "is in use") is the
# fix at work (the module was pinned by a lookup: drvreg's locked and rcu modes) and
# counts as "busy"; any other
# failure counts as an error. (In drvreg's twostage mode a pin holds no module reference:
# rmmod is not refused, it waits in the module's exit for the pins in flight.)
# Stops after CYCLES cycles or SECONDS seconds, whichever comes first (default 1000
# cycles, no time limit). Prints a progress line every EVERY cycles (default 100) and
# a final line:
#   storm: done cycles=N loads=N unloads=N busy=N errors=N seconds=S.SS
# -S adds the drvreg registry counters (lookups, hits, misses, refused) to every line, so
# the last line before a crash tells how far the run got. Progress lines start with the
# uptime in hundredths of a second (t=N).
# -T writes each rmmod and its outcome to the trace marker ('storm: rmmod',
# 'storm: rmmod ok|busy|error'), where tracefs is mounted: make demo's timeline.
# Exits 0 when there were no errors, 1 otherwise; leaves MODULE unloaded when it can.
cycles=1000 seconds=0 module=drvreg_sample params="" every=100 registry_stats="" marker=""
while getopts c:s:m:p:e:ST opt; do
	case $opt in
	c) cycles=$OPTARG ;;
	s) seconds=$OPTARG ;;
	m) module=$OPTARG ;;
	p) params=$OPTARG ;;
	e) every=$OPTARG ;;
	S) registry_stats=1 ;;
	T) marker=/sys/kernel/tracing/trace_marker ;;
	*) echo "usage: $0 [-c cycles] [-s seconds] [-m module] [-p params] [-e every] [-S] [-T]" >&2; exit 2 ;;
	esac
done
for n in "$cycles" "$seconds" "$every"; do
	case $n in '' | *[!0-9]*) echo "storm: '$n' is not a number" >&2; exit 2 ;; esac
done

# The module tools: busybox's, or kmod's with DRVREG_TOOLS=kmod.
. "$(dirname "$(readlink -f "$0")")/drvreg_tools.sh"

# Hundredths of a second since boot.
now() { read -r up _ </proc/uptime; echo "${up%.*}${up#*.}"; }
loaded() { [ -d "/sys/module/$module" ]; }
# The registry counters as ' lookups=N hits=N misses=N refused=N', with -S.
counters() {
	[ -n "$registry_stats" ] || return 0
	sed -n 's/^\(lookups\|hits\|misses\|refused\) \(.*\)/ \1=\2/p' /sys/kernel/debug/drvreg/stats | tr -d '\n'
}

# mark TEXT: TEXT in the trace, with -T (nothing if tracefs is not there).
mark() {
	[ -z "$marker" ] || [ ! -w "$marker" ] || echo "storm: $*" >"$marker" 2>/dev/null || true
}

start=$(now)
echo "storm: start t=$start module=$module cycles=$cycles seconds=$seconds"
n=0 loads=0 unloads=0 busy=0 errors=0 err=/tmp/storm.$$
while [ "$n" -lt "$cycles" ]; do
	if [ "$seconds" -gt 0 ] && [ $(($(now) - start)) -ge $((seconds * 100)) ]; then
		break
	fi
	n=$((n + 1))
	if ! loaded; then
		# shellcheck disable=SC2086
		if modprobe "$module" $params 2>"$err"; then
			loads=$((loads + 1))
		else
			errors=$((errors + 1))
			sed "s/^/storm: modprobe: /" "$err"
		fi
	fi
	mark rmmod
	if rmmod "$module" 2>"$err"; then
		unloads=$((unloads + 1))
		mark rmmod ok
	elif grep -q -e "temporarily unavailable" -e "busy" -e " is in use" "$err"; then
		busy=$((busy + 1))
		mark rmmod busy
	else
		errors=$((errors + 1))
		mark rmmod error
		sed "s/^/storm: rmmod: /" "$err"
	fi
	[ $((n % every)) -ne 0 ] ||
		echo "storm: t=$(now) cycle=$n loads=$loads unloads=$unloads busy=$busy errors=$errors$(counters)"
done
t=$(($(now) - start))
rm -f "$err"
# Leave the module unloaded (it may be pinned for a moment longer).
tries=0
while loaded && [ $tries -lt 100 ]; do
	mark rmmod
	if rmmod "$module" 2>/dev/null; then
		mark rmmod ok
		break
	fi
	mark rmmod busy
	tries=$((tries + 1))
	sleep 0.1
done
printf 'storm: done cycles=%d loads=%d unloads=%d busy=%d errors=%d seconds=%d.%02d%s\n' \
	"$n" "$loads" "$unloads" "$busy" "$errors" $((t / 100)) $((t % 100)) "$(counters)" 
[ "$errors" -eq 0 ]

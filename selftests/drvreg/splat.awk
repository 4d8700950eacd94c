# SPDX-License-Identifier: GPL-2.0
#
# drvreg's one kernel-splat classifier: reads a console log or dmesg output and prints
# one line per kernel report (oops, BUG, KASAN/KCSAN/UBSAN, lockdep, WARNING, panic,
# INFO), tab-separated:
#
#   <line>  <kind>  <owner>  <where>  <header>
#
# line:   the report's first line number in the input
# kind:   oops | kasan | kcsan | ubsan | lockdep | bug | warning | panic | info
# owner:  drvreg - a frame of one of drvreg's modules in the report ('[drvreg...]' or a
#                  'drvreg' symbol), or the fault address in the memory of a module
#                  that a guest logged with 'DRVREG-MODMAP: <name> <start> <size>' (start
#                  hex, size decimal: a section of /sys/module/<name>/sections and the
#                  module's size in /proc/modules; the demonstrations free such modules:
#                  a fault address, or an unsymbolized RIP such as freed text's int3);
#         infra  - anything else: no drvreg frame, or before the guest's command started
#                  ('DRVREG-VM-START', with -v console=1): an emulator or
#                  kernel fault that says nothing about drvreg
# where:  for drvreg, the first drvreg frame ('frame <symbol> [<module>]') or 'freed
#         <module> memory'; for infra, 'boot' or 'no drvreg frame'
# header: the report's first line, printk timestamp kept
#
# A report spans from its header to '---[ end', KASAN's closing '=====' line, or the next
# first line that is not a kernel line, or 150 lines. Kernel lines carry a printk timestamp
# ('[  12.345678] ', printk.time=1), so a program printing 'WARNING:' is no report.
# POSIX awk (busybox's too): the kselftests use it in guests, scripts/vm.sh on the host.
#
#   awk -v console=1 -f splat.awk console.log
#   dmesg | awk -f splat.awk

function kind_of(s) {
	if (s ~ /BUG: KASAN/) return "kasan"
	if (s ~ /BUG: KCSAN/) return "kcsan"
	if (s ~ /UBSAN:/) return "ubsan"
	if (s ~ /possible (circular|recursive) locking|inconsistent lock state|lock held when returning|suspicious RCU usage|bad unlock balance/) return "lockdep"
	if (s ~ /BUG: unable to handle|general protection fault|Oops:|NULL pointer dereference/) return "oops"
	if (s ~ /kernel BUG at|BUG:/) return "bug"
	if (s ~ /WARNING:/) return "warning"
	if (s ~ /Kernel panic/) return "panic"
	if (s ~ /INFO: /) return "info"
	return ""
}

# Lower-case hex without 0x, left-padded to 16 digits: its first 8 digits compare as
# strings, its last 8 as numbers (awk's numbers are doubles: no 64-bit address fits).
function hex16(h) {
	h = tolower(h)
	sub(/^0x/, "", h)
	while (length(h) < 16) h = "0" h
	return h
}

function hexnum(h, i, n) {
	n = 0
	for (i = 1; i <= length(h); i++) n = n * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
	return n
}

# Whether address a (hex16) lies in [start, start + size) of map entry i.
function inmap(a, i, lo) {
	if (substr(a, 1, 8) != substr(mstart[i], 1, 8)) return 0
	lo = hexnum(substr(a, 9)) - hexnum(substr(mstart[i], 9))
	return lo >= 0 && lo < msize[i]
}

function flush() {
	if (!open) return
	printf "%d\t%s\t%s\t%s\t%s\n", rline, rkind, (where != "" && !before) ? "drvreg" : "infra",
		before ? "boot" : (where != "" ? where : "no drvreg frame"), rhead
	open = 0
}

# With -v console=1 (a guest's whole console log), what comes before the marker
# DRVREG-VM-START is the boot; other input (dmesg) is all after the start.
BEGIN { nmap = 0; open = 0; started = (console != 1) }

{ sub(/\r$/, "") }

/DRVREG-VM-START/ { started = 1 }

/DRVREG-MODMAP: / {
	if ($0 !~ /^\[ *[0-9]+\.[0-9]+\] /) flush()
	n = split(substr($0, index($0, "DRVREG-MODMAP: ") + 15), f, " ")
	if (n >= 3) { nmap++; mname[nmap] = f[1]; mstart[nmap] = hex16(f[2]); msize[nmap] = f[3] + 0 }
	next
}

{
	kline = ($0 ~ /^\[ *[0-9]+\.[0-9]+\] /)
	body = $0
	sub(/^\[ *[0-9]+\.[0-9]+\] /, "", body)
	k = kline ? kind_of(body) : ""
	if (k != "" && !open) {
		open = 1; rline = NR; rkind = k; rhead = $0; where = ""
		before = !started
	} else if (!open) {
		next
	}
	if (!kline) { flush(); next }
	if (where == "" && body !~ /Modules linked in:/) {
		if (match(body, /[A-Za-z0-9_.$]*drvreg[A-Za-z0-9_.$]*[+]0x[0-9a-f]+\/0x[0-9a-f]+( \[[A-Za-z0-9_]+\])?/) ||
		    match(body, /[A-Za-z0-9_.$]+[+]0x[0-9a-f]+\/0x[0-9a-f]+ \[drvreg[A-Za-z0-9_]*\]/))
			where = "frame " substr(body, RSTART, RLENGTH)
		else if (match(body, /(address: |addr |address |RIP: [0-9a-f]+:0x)(0x)?[0-9a-fA-F]+/)) {
			a = substr(body, RSTART, RLENGTH)
			sub(/.*(0x|[ :])/, "", a)
			a = hex16(a)
			for (i = nmap; i >= 1; i--)
				if (inmap(a, i)) { where = "freed " mname[i] " memory"; break }
		}
	}
	if (body ~ /^---\[ end / || NR - rline >= 150 || (rkind == "kasan" && body ~ /^=====/ && NR > rline + 1)) flush()
}

END { flush() }

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build a drvreg guest initramfs (gzip'd newc cpio) from busybox-static.
#
#   scripts/initramfs.sh -o OUT.cpio.gz -k KDIR [-m MODDIR]... [-t SELFTESTS] \
#                        [-c CMDFILE | -i] [-s SHAREDIR] [-e ENVFILE]
#
#   -o OUT        the image to write
#   -k KDIR       kernel build tree the modules were built against (kernel release,
#                 kselftest runner files from its source tree)
#   -m MODDIR     a folder of out-of-tree modules built with M=MODDIR: installed to
#                 /lib/modules/<release>/updates with depmod run (repeatable)
#   -t SELFTESTS  a selftests/ folder (selftests/Makefile + suites): installed to /kselftest
#                 (run_kselftest.sh, kselftest/runner.sh, <suite>/, kselftest-list.txt)
#   -c CMDFILE    the command script, run as /cmd.sh by /init
#   -i            interactive: /init runs a shell on the console instead of /cmd.sh
#   -s SHAREDIR   copied into the image at /mnt/share, bind-mounted read-only by /init
#   -e ENVFILE    shell file of 'export NAME=value' lines sourced before /cmd.sh
#
# /init mounts proc, sysfs, devtmpfs, debugfs and a tmpfs on /tmp, runs 'sh /cmd.sh' as
# root from /root, then prints 'DRVREG-VM-EXIT: <status>' on the console and powers off.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

out="" kdir="" selftests="" cmdfile="" interactive="" share="" envfile=""
moddirs=()
while getopts "o:k:m:t:c:is:e:" opt; do
	case "$opt" in
	o) out=$OPTARG ;;
	k) kdir=$OPTARG ;;
	m) moddirs+=("$OPTARG") ;;
	t) selftests=$OPTARG ;;
	c) cmdfile=$OPTARG ;;
	i) interactive=1 ;;
	s) share=$OPTARG ;;
	e) envfile=$OPTARG ;;
	*) die "initramfs.sh: bad option (see the usage at the top of scripts/initramfs.sh)" ;;
	esac
done
[ -n "$out" ] && [ -n "$kdir" ] || die "initramfs.sh: -o OUT and -k KDIR are required"
[ -n "$cmdfile" ] || [ -n "$interactive" ] || die "initramfs.sh: give -c CMDFILE or -i"
abs() { [ -z "$1" ] || realpath -m -- "$1"; }
out=$(abs "$out") kdir=$(abs "$kdir") selftests=$(abs "$selftests") cmdfile=$(abs "$cmdfile")
share=$(abs "$share") envfile=$(abs "$envfile")
for i in "${!moddirs[@]}"; do moddirs[i]=$(abs "${moddirs[i]}"); done
BUSYBOX=${BUSYBOX:-/bin/busybox}
[ -x "$BUSYBOX" ] || die "$BUSYBOX missing (run 'make setup': busybox-static)"
file -L "$BUSYBOX" 2>/dev/null | grep -q 'dynamically linked' &&
	die "$BUSYBOX is dynamically linked: install busybox-static"

root="$out.root"
rm -rf "$root"
mkdir -p "$root"
trap 'rm -rf "$root"' EXIT
cd "$root"
mkdir -p bin sbin usr/bin usr/sbin etc root tmp proc sys dev mnt/share lib/modules

# busybox and its applets as symlinks at their usual paths.
cp "$BUSYBOX" bin/busybox
for applet in $(bin/busybox --list-full); do
	[ -e "$applet" ] || [ -L "$applet" ] || ln -s /bin/busybox "$applet"
done
# bash for test scripts that ask for it (Debian bash-static, if installed).
[ ! -x /bin/bash-static ] || cp /bin/bash-static bin/bash
# kmod's module tools beside busybox's, as a real host has them: /opt/kmod/bin/{insmod,
# rmmod,modprobe,lsmod,modinfo,depmod} (kmod picks its tool by argv[0]), the host's kmod
# binary with the shared libraries and loader it links against. The kselftests use them
# with PATH=/opt/kmod/bin:$PATH (DRVREG_TOOLS=kmod); busybox's stay the default.
kmod=$(command -v kmod || true)
if [ -n "$kmod" ]; then
	mkdir -p opt/kmod/bin
	cp -L "$kmod" opt/kmod/bin/kmod
	for t in insmod rmmod modprobe lsmod modinfo depmod; do ln -s kmod "opt/kmod/bin/$t"; done
	for lib in $(ldd "$kmod" | grep -o '/[^ ]*'); do
		[ -e "${lib#/}" ] || { mkdir -p "$(dirname "${lib#/}")" && cp -L "$lib" "${lib#/}"; }
	done
else
	echo "initramfs.sh: no kmod on the host: the guest has busybox's module tools only" >&2
fi

# kselftest's runner calls '/usr/bin/timeout --foreground S /usr/bin/timeout S prog' and
# wants status 124 on timeout; busybox timeout knows neither, and kills only prog.
rm -f usr/bin/timeout
cat >usr/bin/timeout <<'EOF'
#!/bin/sh
# drvreg: stand-in for coreutils 'timeout' for the kselftest runner on busybox: runs PROG
# in its own session, on timeout signals its whole process group (TERM, KILL 5 s later)
# and exits 124. '--foreground SECS' is accepted and ignored (the runner nests two).
if [ "$1" = "--foreground" ]; then
	shift 2
	exec "$@"
fi
case "$1" in
'' | *[!0-9]*)
	echo "timeout: usage: timeout SECS PROG [ARGS...]" >&2
	exit 125
	;;
esac
secs=$1
shift
flag=/tmp/.timeout.$$
rm -f "$flag"
# (ash gives background commands /dev/null as stdin: hand the real one over on fd 5.)
{ setsid "$@" <&5 5<&- & } 5<&0
pid=$!
# The watcher must not outlive us: a leftover sleep would hold the runner's pipes open.
(
	exec 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
	trap 'kill "$s" 2>/dev/null; exit 0' TERM
	sleep "$secs" &
	s=$!
	wait "$s"
	: >"$flag"
	kill -TERM -"$pid" 2>/dev/null || kill -TERM "$pid"
	sleep 5 &
	s=$!
	wait "$s"
	kill -KILL -"$pid" 2>/dev/null
) </dev/null >/dev/null 2>&1 &
watcher=$!
wait "$pid"
rc=$?
kill "$watcher" 2>/dev/null
if [ -e "$flag" ]; then
	rm -f "$flag"
	kill -KILL -"$pid" 2>/dev/null
	exit 124
fi
exit "$rc"
EOF
chmod 755 usr/bin/timeout

# nobody: an unprivileged user, for tests that check root-only interfaces (su nobody).
printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/bin/sh' >etc/passwd
printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >etc/group
echo 'drvreg' >etc/hostname
cat >etc/profile <<'EOF'
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
[ ! -f /etc/drvreg.env ] || . /etc/drvreg.env
PS1='drvreg-guest:\w# '
EOF

# Modules: installed and depmod'ed for the guest kernel's release.
if [ ${#moddirs[@]} -gt 0 ]; then
	drvreg_install "$kdir" "$root" "${moddirs[@]}"
else
	mkdir -p "lib/modules/$(drvreg_release "$kdir")"
fi

# kselftests: the runner files come from the kernel source tree at image-build time.
if [ -n "$selftests" ]; then
	ksrc=$kdir
	[ ! -e "$kdir/source" ] || ksrc=$(cd "$kdir/source" && pwd -P)
	make -s --no-print-directory -C "$selftests" install INSTALL_PATH="$root/kselftest" \
		KSRC="$ksrc" >&2 || die "could not install the kselftests from $selftests"
fi

if [ -n "$share" ]; then
	cp -a "$share/." mnt/share/ || die "could not copy SHARE=$share"
fi
[ -z "$envfile" ] || cp "$envfile" etc/drvreg.env
[ -z "$cmdfile" ] || cp "$cmdfile" cmd.sh

cat >init <<'EOF'
#!/bin/sh
# drvreg guest init (busybox sh). Written by scripts/initramfs.sh.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# devtmpfs has no /dev/fd, /dev/stdout, ... (the kselftest runner writes to /dev/stdout).
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mount -t debugfs debugfs /sys/kernel/debug
# Trace events (make demo's timeline), where the kernel has them.
[ ! -d /sys/kernel/tracing ] || mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true
mount -t tmpfs tmpfs /tmp
exec </dev/console >/dev/console 2>&1
hostname -F /etc/hostname
# SHARE: a copy of the host folder taken when the image was built, made read-only.
if [ -n "$(ls -A /mnt/share)" ]; then
	mount --bind /mnt/share /mnt/share && mount -o remount,ro,bind /mnt/share ||
		echo "drvreg init: could not make /mnt/share read-only"
fi
[ ! -f /etc/drvreg.env ] || . /etc/drvreg.env
cd /root
if [ -f /cmd.sh ]; then
	echo "DRVREG-VM-START: $(uname -r) cpus=$(grep -c ^processor /proc/cpuinfo)"
	sh /cmd.sh
	rc=$?
	echo "DRVREG-VM-EXIT: $rc"
else
	echo "drvreg guest shell ($(uname -r)): 'exit' powers the guest off; Ctrl-A X kills QEMU."
	setsid cttyhack sh -l
fi
sync
# Let the serial port drain before the power goes.
sleep 1
poweroff -f
EOF
chmod 755 init

# newc cpio, owned by root, reproducible file order.
mkdir -p "$(dirname "$out")"
find . -mindepth 1 -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc -R 0:0 --quiet | gzip -1 >"$out.tmp"
mv "$out.tmp" "$out"

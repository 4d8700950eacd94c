#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run a make target of this project the way a new user (or CI) would on a fresh Debian
# bookworm machine, and time it: a minimal bookworm chroot (debootstrap --variant=minbase,
# with bookworm-updates and bookworm-security), nothing installed but git and
# ca-certificates, an empty home (no caches, no sid chroot), a clone of this repository's
# HEAD, then the command with a clean environment and no standard input.
#
#   scripts/fresh.sh DIR 'make demo'
#   scripts/fresh.sh DIR 'CI=true bash .ci/run'
#
# DIR is created (it must not exist) and kept afterwards, so its logs can be read
# (DIR/root/root/drvreg/out, DIR/root/root/.cache/drvreg/logs); remove it when done.
# The host's extra CA certificates (/usr/local/share/ca-certificates) are copied in, for
# networks that re-sign HTTPS. Prints the command's output and 'fresh: <command>: exit
# <status> in <seconds> s', and keeps all of it in out/fresh/<name>.log (name: ci for
# .ci/run, demo for make demo, else the command's letters), which scripts/doc-numbers.py
# quotes in README.md.
set -euo pipefail
dir=${1:?usage: scripts/fresh.sh DIR COMMAND}
cmd=${2:?usage: scripts/fresh.sh DIR COMMAND}
repo=$(cd "$(dirname "$0")/.." && pwd)
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
[ ! -e "$dir" ] || { echo "fresh: $dir exists" >&2; exit 2; }
case "$cmd" in
*.ci/run*) name=ci ;;
*"make demo"*) name=demo ;;
*) name=$(echo "$cmd" | tr -cs 'A-Za-z0-9' '-') ;;
esac
mkdir -p "$repo/out/fresh"
exec > >(tee "$repo/out/fresh/$name.log") 2>&1
command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null
root=$(realpath -m "$dir")/root
mkdir -p "$root"

echo "fresh: debootstrap bookworm into $root"
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$dir/debootstrap.log" 2>&1
cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
if [ -d /usr/local/share/ca-certificates ]; then
	mkdir -p "$root/usr/local/share/ca-certificates"
	cp -r /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
fi
git clone -q "$repo" "$root/root/drvreg"

inchroot() {
	# shellcheck disable=SC2016
	unshare -m --propagation private bash -c '
		root=$1
		shift
		# As on a real machine, / is a mount point (the sid chroot needs that).
		mount --bind "$root" "$root"
		mount -t proc proc "$root/proc"
		mount --rbind /dev "$root/dev"
		mount -t sysfs sysfs "$root/sys"
		mount -t tmpfs tmpfs "$root/tmp"
		exec chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
			PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
	' - "$root" "$@"
}
echo "fresh: installing git and ca-certificates only"
inchroot sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends git ca-certificates >/dev/null && update-ca-certificates >/dev/null' \
	>"$dir/base-install.log" 2>&1

echo "fresh: running '$cmd' in $root/root/drvreg"
start=$(date +%s)
rc=0
inchroot bash -c "cd /root/drvreg && $cmd" </dev/null || rc=$?
echo "fresh: $cmd: exit $rc in $(($(date +%s) - start)) s"
exit "$rc"

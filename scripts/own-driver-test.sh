#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The test of Documentation/own-driver.rst (make check), so that the guide cannot rot:
#   1. extract every code block captioned 'mydrv/<file>' from the guide, exactly as
#      written, into a new temporary directory, with a 'drvreg' link to a built drvreg
#      tree (DRVREG_TREE: the strict build of this lane, with its Module.symvers);
#   2. build them with the guide's own Makefile (make KDIR=...): no warning allowed;
#   3. boot a guest of KERNEL (the project's modules installed as always) and do what
#      the guide's "Build, load, call" section does, checking what it says is printed.
#
#   KERNEL=base scripts/own-driver-test.sh KDIR DRVREG_TREE
#
# Prints the steps and one line:
#   # METRIC own_driver kernel=<k> files=<n> build=<ok|fail> warnings=<n> guest=<ok|fail|skipped> verdict=PASS|FAIL
# and exits 0 on PASS. The temporary directory is removed unless OWN_DRIVER_KEEP=1.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

kdir=${1:?usage: scripts/own-driver-test.sh KDIR DRVREG_TREE}
tree=${2:?usage: scripts/own-driver-test.sh KDIR DRVREG_TREE}
guide="$DRVREG_PROJECT/Documentation/own-driver.rst"
kname=${KERNEL:-base}
[ -f "$guide" ] || die "no $guide"
[ -f "$tree/Module.symvers" ] || die "$tree has no Module.symvers: build drvreg there first"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/drvreg-own-driver.XXXXXX")
[ "${OWN_DRIVER_KEEP:-}" = 1 ] || trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/mydrv" "$tmp/share"

# 1. The guide's files: '.. code-block:: LANG' + '   :caption: mydrv/FILE', then the
# block's lines indented by three spaces (tabs after the indent kept: Makefile recipes).
files=$(python3 - "$guide" "$tmp" <<'EOF'
import re, sys
lines = open(sys.argv[1]).read().split('\n')
n, i = 0, 0
while i < len(lines):
    if lines[i].startswith('.. code-block::'):
        cap = None
        j = i + 1
        while j < len(lines) and re.match(r'^   :\w+:', lines[j]):
            m = re.match(r'^   :caption: (mydrv/[\w.-]+)$', lines[j])
            cap = m.group(1) if m else cap
            j += 1
        body = []
        while j < len(lines) and (lines[j] == '' or lines[j].startswith('   ')):
            body.append(lines[j][3:])
            j += 1
        while body and body[0] == '':
            body.pop(0)
        while body and body[-1] == '':
            body.pop()
        if cap:
            with open(f'{sys.argv[2]}/{cap}', 'w') as f:
                f.write('\n'.join(body) + '\n')
            n += 1
        i = j
    else:
        i += 1
print(n)
EOF
) || die "could not extract the guide's files"
ln -s "$(realpath "$tree")" "$tmp/mydrv/drvreg"
echo "own-driver: $files files from $guide in $tmp/mydrv: $(cd "$tmp/mydrv" && ls -I drvreg | tr '\n' ' ')"

# 2. Build with the guide's Makefile as it is: it picks LLVM= from the kernel's .config.
build=fail warnings=0 guest=skipped
echo "own-driver: make KDIR=$kdir (the guide's Makefile)"
if [ -f "$kdir/.drvreg-chroot" ]; then
	# Debian's own kernel: its modules are built in its chroot (scripts/debian.sh).
	run=("$DRVREG_ROOT/scripts/debian.sh" "$(cat "$kdir/.drvreg-chroot")" run -b "$tmp" -b "$(realpath "$tree")" -b "$DRVREG_ROOT" make)
else
	run=(make RUSTC="$RUSTC" RUSTDOC="$RUSTDOC")
fi
if (
	cd "$tmp/mydrv" && { [ ! -f "$kdir/.drvreg-env" ] || export "$(cat "$kdir/.drvreg-env")"; } &&
		"${run[@]}" -C "$tmp/mydrv" KDIR="$kdir"
) >"$tmp/build.log" 2>&1 && [ -f "$tmp/mydrv/mydrv_rs.ko" ] && [ -f "$tmp/mydrv/mydrv_c.ko" ]; then
	build=ok
fi
warnings=$(grep -aciE '(^|[^a-z])warning(\[|:)' "$tmp/build.log")
sed 's/^/own-driver: build: /' "$tmp/build.log" | grep -aiE 'error|warning|LD \[M\]|undefined' | head -40

# 3. Load and call in a guest, as the guide's "Build, load, call" section does.
if [ "$build" = ok ]; then
	cp "$tmp/mydrv/mydrv_rs.ko" "$tmp/mydrv/mydrv_c.ko" "$tmp/share/"
	cmd=$(
		cat <<'EOF'
set -e
D=/sys/kernel/drvreg
DBG=/sys/kernel/debug/drvreg
step() { echo "own-driver: guest: $*"; }
step modprobe drvreg; modprobe drvreg
step insmod mydrv_rs.ko; insmod /mnt/share/mydrv_rs.ko
step insmod mydrv_c.ko peer=mydrv_rs; insmod /mnt/share/mydrv_c.ko peer=mydrv_rs
step "dmesg says: $(dmesg | grep -o 'mydrv_c: mydrv_rs says: .*' | tail -n 1)"
dmesg | grep -q 'mydrv_c: mydrv_rs says: hello from Rust opens 0'
step "mydrv_c status: $(tr '\n' ' ' <$D/drivers/mydrv_c/status)"
grep -qx 'hello from C' $D/drivers/mydrv_c/status
[ "$(cat $D/drivers/mydrv_rs/owner)" = mydrv_rs ] && [ "$(cat $D/drivers/mydrv_c/owner)" = mydrv_c ]
step "echo mydrv_rs > lookup"; echo mydrv_rs >$DBG/lookup
step "mydrv_rs status: $(tr '\n' ' ' <$D/drivers/mydrv_rs/status)"
grep -qx 'opens 1' $D/drivers/mydrv_rs/status
step rmmod mydrv_c mydrv_rs; rmmod mydrv_c mydrv_rs
[ ! -e $D/drivers/mydrv_rs ] && [ ! -e $D/drivers/mydrv_c ]
step "all as the guide says"
EOF
	)
	if KERNEL=$kname SHARE="$tmp/share" VM_CPUS=2 VM_TIMEOUT=600 VM_EXPECT_SPLAT='' CMD="$cmd" \
		"$DRVREG_ROOT/scripts/vm.sh" >"$tmp/vm.log" 2>&1; then
		guest=ok
	else
		guest=fail
	fi
	grep -a '^own-driver: guest\|^drvreg: \(FAIL\|CMD\)' "$tmp/vm.log"
	[ "$guest" = ok ] || tail -n 30 "$tmp/vm.log" | sed 's/^/own-driver: vm: /'
fi

verdict=FAIL
[ "$build" = ok ] && [ "$warnings" = 0 ] && [ "$guest" = ok ] && verdict=PASS
echo "# METRIC own_driver kernel=$kname files=$files build=$build warnings=$warnings guest=$guest verdict=$verdict"
[ "$verdict" = PASS ]

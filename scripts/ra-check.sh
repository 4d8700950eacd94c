#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Does rust-analyzer resolve the project? Writes rust-project.json for KERNEL (default
# debian-sid: sid's rust-analyzer matches its rustc), runs 'rust-analyzer diagnostics' in the
# sid chroot (installing rust-analyzer there on first use) and counts, in the project's
# own files, the diagnostics that mean a name did not resolve (unresolved import, macro,
# path or name; a module file not found). Prints one line:
#   # METRIC rust-analyzer kernel=<k> files_with_diagnostics=<n> unresolved=<n> other=<n> verdict=PASS|FAIL
# ('other': diagnostics of other kinds, e.g. method lookups on primitive types, which
# depend on how rust-analyzer loads the kernel's own 'core' crate). Log: out/ra.log.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
export KERNEL=${KERNEL:-debian-sid}
[ -x "$(scripts/debian.sh sid root)/usr/bin/rust-analyzer" ] ||
	drvreg_step "installing rust-analyzer in the sid chroot" "$DRVREG_OUT/ra-install.log" \
		scripts/debian.sh sid run apt-get install -y --no-install-recommends rust-analyzer
make -s rust-analyzer >&2
drvreg_step "rust-analyzer diagnostics over the project (~1.5 min)" "$DRVREG_OUT/ra.log" \
	scripts/debian.sh sid run -b "$PWD" sh -c "cd '$PWD' && rust-analyzer diagnostics ." || true
diags=$(tr '\r' '\n' <"$DRVREG_OUT/ra.log" | grep -a "file $PWD/" | grep -av "WeakWarning" || true)
files=$(echo "$diags" | sed -n "s|.*file $PWD/\([^:]*\):.*|\1|p" | sort -u | grep -c . || true)
unresolved=$(echo "$diags" | grep -acE 'unresolved|E0432|E0433|E0412|E0425|E0583' || true)
other=$(($(echo "$diags" | grep -c . || true) - unresolved))
verdict=PASS
[ "$unresolved" = 0 ] || verdict=FAIL
{ echo "$diags" | grep -aE 'unresolved|E0432|E0433|E0412|E0425|E0583' || true; } | sed "s|.*file $PWD/|#   |" | head -20
echo "# METRIC rust-analyzer kernel=$KERNEL files_with_diagnostics=$files unresolved=$unresolved other=$other verdict=$verdict"
[ "$verdict" = PASS ]

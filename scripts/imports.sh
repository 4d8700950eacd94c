#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The import graph of the core's Rust modules, and a check that it has no cycle.
#
#   scripts/imports.sh [--graph]
#
# Every file under rust/ is a module (rust/registry.rs: registry, rust/sys/kthread.rs:
# sys::kthread, rust/api/mod.rs: api). A file imports a module when it names a path
# `crate::<module>...` or `super::<module>...` (in a `use` or in code). --graph prints
# the edges ("importer imported", one per line). Exits 1 and names the modules on a
# cycle if there is one (tsort finds it), 0 otherwise.
set -euo pipefail
cd "$(dirname "$0")/../rust"

# module path of a file: strip .rs and mod, / -> ::
modname() {
	local m=${1%.rs}
	m=${m%/mod}
	echo "${m//\//::}"
}

mapfile -t files < <(find . -name '*.rs' -printf '%P\n' | sort)
declare -A known
for f in "${files[@]}"; do known[$(modname "$f")]=1; done
known[drvreg_main]=

edges=$(
	for f in "${files[@]}"; do
		from=$(modname "$f")
		parent=${from%::*}
		[ "$parent" != "$from" ] || parent=""
		# Paths after crate:: or super::, without comments.
		sed 's://.*$::' "$f" | grep -oE '(crate|super)::[a-z_][a-z0-9_]*(::[a-z_][a-z0-9_]*)*' |
			sort -u | while read -r path; do
			rest=${path#*::}
			[[ $path == super::* ]] && [ -n "$parent" ] && rest="$parent::$rest"
			# The longest known module that prefixes the path.
			target=""
			cand=$rest
			while :; do
				if [ -n "${known[$cand]:-}" ]; then target=$cand && break; fi
				[[ $cand == *::* ]] || break
				cand=${cand%::*}
			done
			if [ -n "$target" ] && [ "$target" != "$from" ] && [[ $from != "$target"::* ]]; then
				echo "$from $target"
			fi
		done
	done | sort -u
)

if [ "${1:-}" = --graph ]; then
	echo "$edges"
fi
if ! out=$(echo "$edges" | tsort 2>&1 >/dev/null); then
	echo "rust/: import cycle:" >&2
	echo "$out" | sed -n 's/^tsort: //p' >&2
	exit 1
fi
echo "rust/: $(echo "$edges" | grep -c .) imports among ${#files[@]} files, no cycle"

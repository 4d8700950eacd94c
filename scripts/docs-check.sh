#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The docs check: drvreg's documentation as the kernel's 'make htmldocs' would take it,
# every warning an error. Builds nothing but HTML; needs no kernel build and no guest.
#
#   scripts/docs-check.sh
#
# 1. abi-lint: every entry of Documentation/ABI/*/* has the fields of the kernel's
#    Documentation/ABI/README (What:, Date:, KernelVersion:, Contact:, Description:,
#    Users:), no What: is documented twice, and the sysfs files rust/attrs.rs creates
#    (its attribute groups, under the directory each group's doc comment names) are
#    exactly the files the ABI documents under /sys/kernel/drvreg/. Also the facts
#    stated in several files: every Contact: and module author is MAINTAINERS's M: line,
#    and CHANGELOG.md's newest entry is include/drvreg.h's DRVREG_VERSION.
# 2. get_abi.pl: the kernel's own ABI tool, from Debian's linux-source-6.12 (unpacked
#    once by drvreg_ksrc, scripts/lib.sh): 'validate', which the kernel's
#    Documentation/Makefile runs before every docs build, then 'rest', which turns the ABI
#    files into reStructuredText as the kernel-abi directive of
#    Documentation/admin-guide/abi-*.rst does (descriptions are ReST). Anything it says
#    on stderr is a warning.
# 3. kernel-doc -Wall over the C sources (include/, rust/, samples/): the /** */ comments
#    in the kernel's form; include/drvreg.h is rendered by the '.. kernel-doc::' of
#    Documentation/drvreg.rst in step 4.
# 4. sphinx: Debian's Sphinx builds every Documentation/*.rst (a glob: new files are
#    picked up) plus that ABI page into out/docs/html, with -W --keep-going, -E (every
#    warning again on every run) and -w out/docs/sphinx-warnings.log.
#
# The conf.py is written into out/docs/, not committed: once upstreamed, these files live
# in the kernel's Documentation/, whose own conf.py governs them, so a conf.py (or an
# index.rst root) of ours would be dead weight there. Ours copies the kernel's settings
# that change how rst parses or what warns (primary_domain c, highlight_language none,
# smartquotes_action q, autosectionlabel with prefix_document and maxdepth 2) and loads
# the kernel's own Sphinx extensions from the same 6.12 tree's Documentation/sphinx (its
# list, as its conf.py has it, but kfigure: it warns at start without graphviz, and we
# have no figures): a directive the kernel has (kernel-doc, flat-table, ...) works, any
# other extension's is an error. kernel-doc reads C sources relative to this repository. The sources are copied to out/docs/src (the
# generated pages under drvreg-docs-check/, the root document of the build); warnings
# name Documentation/<file>.rst, and for the ABI page the ABI file and line of the entry.
#
# 5. rustdoc: the driver API (rust/api/), with the flags Kbuild compiles it with, against
#    the base lane's kernel (built on first use, as make does), -Dwarnings; HTML in
#    out/docs/rustdoc.
# 6. errors.rst: scripts/errors-check.py checks each row of Documentation/errors.rst's
#    table against the code it names, and every errno the code names against the table;
#    then the same check must fail on a copy whose EDEADLK row says EPERM.
#
# Prints each command and its output; the last line is
#   # METRIC docs abi_entries=<n> rst_files=<n> warnings=<n> verdict=PASS|FAIL
# abi_entries: What: lines in Documentation/ABI; rst_files: Documentation/*.rst; warnings:
# those of the six steps. PASS iff every step ran clean; exit 1 on FAIL. The files are
# the project's ($DRVREG_PROJECT, default this repository); the output goes to out/docs.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
say() { echo "drvreg docs: $*" >&2; }

drvreg_setup docs
ksrc=$(drvreg_ksrc)
cd "$DRVREG_PROJECT"
out=$DRVREG_OUT/docs
gen=drvreg-docs-check
rm -rf "$out"
mkdir -p "$out/src/$gen"

shopt -s nullglob
rst=(Documentation/*.rst)
abi_files=()
for f in Documentation/ABI/*/*; do [ -f "$f" ] && abi_files+=("$f"); done
shopt -u nullglob
abi_entries=0
[ ${#abi_files[@]} = 0 ] || abi_entries=$(cat "${abi_files[@]}" | grep -c '^What:' || true)
warnings=0 failed=""

# show CMD...: print the command as a shell would take it.
show() { echo "\$ $*"; }
# count FILE PATTERN: lines of FILE matching PATTERN (0 if none).
count() { grep -cE "$2" "$1" || true; }

# --- 1. abi-lint ------------------------------------------------------------------------
echo "== abi-lint: fields of every ABI entry; ABI entries against rust/attrs.rs"
show "python3 - rust/attrs.rs ${abi_files[*]} <<EOF  # abi-lint, the Python below"
rc=0
python3 - rust/attrs.rs "${abi_files[@]}" >"$out/abi-lint.log" 2>&1 <<'EOF' || rc=$?
import re, sys

attrs, files = sys.argv[1], sys.argv[2:]
FIELDS = ["What", "Date", "KernelVersion", "Contact", "Description", "Users"]
tag = re.compile(r"^([A-Za-z]+):")
problems = []
seen = {}  # What -> where

def warn(where, msg):
    problems.append(f"{where}: {msg}")

for path in files:
    entries = []  # [first line, {field: count}, [whats]]
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        m = tag.match(line)
        if not m or m.group(1) not in FIELDS:
            continue  # description text, or an unknown tag get_abi.pl reports
        field = m.group(1)
        if field == "What" and not (entries and set(entries[-1][1]) == {"What"}):
            entries.append([n, {}, []])
        elif not entries:
            warn(f"{path}:{n}", f"{field}: before the first What:")
            continue
        e = entries[-1]
        e[1][field] = e[1].get(field, 0) + 1
        if field == "What":
            what = line[len("What:"):].strip()
            e[2].append(what)
            if what in seen:
                warn(f"{path}:{n}", f"What: {what} is already documented at {seen[what]}")
            seen[what] = f"{path}:{n}"
    for n, got, whats in entries:
        for f in FIELDS[1:]:
            if got.get(f, 0) != 1:
                warn(f"{path}:{n}", f"{whats[0]}: {got.get(f, 0)} {f}: fields, expected 1")

# The files rust/attrs.rs creates: attribute structs, named by their NAME or by the
# counter_attr!/record_attr! macros, listed in attribute_group!s whose doc comment names
# their directory ("The files of [each] `/sys/...`").
src = open(attrs, encoding="utf-8").read()
names = dict(re.findall(r'struct (\w+);\s*impl AttrOps for \1 \{\s*const NAME: &\'static CStr = c_str!\("([^"]+)"\)', src))
names.update(re.findall(r'^\w+_attr!\((\w+), "([^"]+)"', src, re.M))
code = set()
for doc, members in re.findall(r'attribute_group!\(\s*///([^\n]*)\n\s*pub static \w+\([^=]*\) = \[([^\]]*)\]', src):
    d = re.search(r"`(/sys/[^`]*/)`", doc)
    if not d:
        warn(attrs, f"cannot tell the directory of the attribute group documented as '{doc.strip()}'")
        continue
    for m in re.findall(r"\w+", members):
        if m not in names:
            warn(attrs, f"no file name found for attribute {m}")
        else:
            code.add(d.group(1) + names[m])
if not code:
    warn(attrs, "found no attribute groups")
documented = {w for w in seen if w.startswith("/sys/kernel/drvreg/") and not w.endswith("/")}
for w in sorted(code - documented):
    warn(attrs, f"{w} is created but has no What: entry in Documentation/ABI")
for w in sorted(documented - code):
    warn(seen[w], f"What: {w} is documented but rust/attrs.rs does not create it")
# The one contact: MAINTAINERS's M: line; every Contact: and every MODULE_AUTHOR (C) or
# module! author (Rust, rust/api/compat.rs) repeats it.
contact = re.search(r"^M:\s*(.+)$", open("MAINTAINERS", encoding="utf-8").read(), re.M)
if not contact:
    warn("MAINTAINERS", "no M: line")
else:
    contact = contact.group(1).strip()
    for path in files:
        for n, line in enumerate(open(path, encoding="utf-8"), 1):
            if line.startswith("Contact:") and line[len("Contact:"):].strip() != contact:
                warn(f"{path}:{n}", f"Contact: is not MAINTAINERS's M: {contact}")
    import glob
    authors = 0
    for path in sorted(glob.glob("rust/api/compat.rs") + glob.glob("samples/*.c") + glob.glob("scripts/harness/*.c")):
        text = open(path, encoding="utf-8").read()
        for a in re.findall(r'MODULE_AUTHOR\("([^"]*)"\)|authors?: \[?"([^"]*)"', text):
            authors += 1
            a = a[0] or a[1]
            if a != contact:
                warn(path, f"author '{a}' is not MAINTAINERS's M: {contact}")
    if not authors:
        warn("rust/api/compat.rs", "no module author found")
# The version: DRVREG_VERSION of include/drvreg.h is CHANGELOG.md's newest entry.
hv = re.search(r'^#define DRVREG_VERSION "([^"]+)"', open("include/drvreg.h", encoding="utf-8").read(), re.M)
cv = re.search(r"^## (\S+)", open("CHANGELOG.md", encoding="utf-8").read(), re.M)
if not hv or not cv or hv.group(1) != cv.group(1):
    warn("CHANGELOG.md", f"its newest entry ({cv and cv.group(1)}) is not DRVREG_VERSION of include/drvreg.h ({hv and hv.group(1)})")
for p in problems:
    print("abi-lint: warning:", p)
print(f"abi-lint: {len(seen)} What: entries, {len(code)} files in rust/attrs.rs, {len(problems)} warnings")
sys.exit(1 if problems else 0)
EOF
cat "$out/abi-lint.log"
n=$(count "$out/abi-lint.log" '^abi-lint: warning:')
warnings=$((warnings + n))
[ "$rc" = 0 ] || failed="$failed abi-lint"

# --- 2. get_abi.pl ----------------------------------------------------------------------
echo "== get_abi.pl: the kernel's ABI tool ($ksrc/scripts/get_abi.pl)"
getabi=$ksrc/scripts/get_abi.pl
page=$out/src/$gen/abi.rst
rc=0
show "perl $getabi validate --dir Documentation/ABI"
perl "$getabi" validate --dir Documentation/ABI >"$out/get_abi.err" 2>&1 || rc=$?
cat "$out/get_abi.err"
[ "$rc" = 0 ] || { echo "get_abi.pl validate: exit $rc"; failed="$failed get_abi-validate"; }
rc=0
show "perl $getabi rest --enable-lineno --dir Documentation/ABI >>$page 2>$out/get_abi.rest.err"
{
	echo ".. SPDX-License-Identifier: GPL-2.0"
	echo ".. Generated by scripts/docs-check.sh from Documentation/ABI (get_abi.pl rest)."
	echo
	echo "drvreg ABI"
	echo "=========="
	echo
} >"$page"
perl "$getabi" rest --enable-lineno --dir Documentation/ABI >>"$page" 2>"$out/get_abi.rest.err" || rc=$?
tee -a "$out/get_abi.err" <"$out/get_abi.rest.err"
[ "$rc" = 0 ] || { echo "get_abi.pl rest: exit $rc"; failed="$failed get_abi-rest"; }
# Every line it prints is part of a warning; count the warnings, once each (validate and
# rest parse alike), at least 1 if it said anything.
n=$({ grep '^Warning' "$out/get_abi.err" || true; } | sort -u | wc -l)
[ "$n" -gt 0 ] || [ ! -s "$out/get_abi.err" ] || n=1
warnings=$((warnings + n))
[ "$n" = 0 ] || failed="$failed get_abi"
echo "get_abi.pl: $(grep -E '^\.\. _abi_' "$page" | grep -vc '^\.\. _abi_file_' || true) ABI entries in $page, $n warnings"

# --- 3. kernel-doc -------------------------------------------------------------------------
echo "== kernel-doc -Wall: the C sources' /** */ comments (include/drvreg.h is rendered below)"
csrc=(include/*.h rust/*.c rust/*.h samples/*.c)
show "perl $ksrc/scripts/kernel-doc -Wall -none ${csrc[*]}"
rc=0
perl "$ksrc/scripts/kernel-doc" -Wall -none "${csrc[@]}" >"$out/kernel-doc.log" 2>&1 || rc=$?
cat "$out/kernel-doc.log"
n=$(count "$out/kernel-doc.log" 'warning|error')
[ "$rc" = 0 ] || [ "$n" -gt 0 ] || n=1
warnings=$((warnings + n))
[ "$n" = 0 ] || failed="$failed kernel-doc"
echo "kernel-doc: ${#csrc[@]} files, $(grep -c '^/\*\*' "${csrc[@]}" | awk -F: '{ s += $2 } END { print s }') comments, $n warnings"

# --- 4. sphinx ----------------------------------------------------------------------------
echo "== sphinx: Documentation/*.rst and the ABI page, warnings as errors"
[ ${#rst[@]} = 0 ] || cp "${rst[@]}" "$out/src/"
# The pictures they show (scripts/doc-numbers.py copies them from real runs).
[ ! -d "$DRVREG_PROJECT/Documentation/images" ] || cp -r "$DRVREG_PROJECT/Documentation/images" "$out/src/"
cat >"$out/src/$gen/index.rst" <<EOF
.. SPDX-License-Identifier: GPL-2.0
.. Generated by scripts/docs-check.sh: the root of its Sphinx build.

drvreg documentation
====================

.. toctree::
   :maxdepth: 2
   :glob:

   /*
   abi
EOF
cat >"$out/conf.py" <<EOF
# SPDX-License-Identifier: GPL-2.0
# Generated by scripts/docs-check.sh: the settings of linux-source-6.12's
# Documentation/conf.py that change how rst parses or what warns, and its extensions.
import sys
sys.path.insert(0, "$ksrc/Documentation/sphinx")
project = "drvreg"
root_doc = master_doc = "$gen/index"
extensions = ["kerneldoc", "rstFlatTable", "kernel_include",
              "sphinx.ext.ifconfig", "automarkup", "maintainers_include",
              "sphinx.ext.autosectionlabel", "kernel_abi", "kernel_feat", "translations"]
templates_path = ["$ksrc/Documentation/sphinx/templates"]
autosectionlabel_prefix_document = True
autosectionlabel_maxdepth = 2
source_suffix = ".rst"
language = "en"
primary_domain = "c"
highlight_language = "none"
smartquotes_action = "q"
pygments_style = "sphinx"
html_theme = "alabaster"
kerneldoc_bin = "$ksrc/scripts/kernel-doc"
kerneldoc_srctree = "$DRVREG_PROJECT"
EOF
sphinx="sphinx-build"
[ ! -x /usr/bin/sphinx-build ] || sphinx=/usr/bin/sphinx-build
sargs=(-b html -E -a -W --keep-going -w "$out/sphinx-warnings.log" -c "$out" "$out/src" "$out/html")
show "$sphinx ${sargs[*]}"
# Name the sources, not their copies; a line of the ABI page gets the ABI entry it is from
# (get_abi.pl's '.. LINENO <dir><file>#<line>' markers: the file's directory is left out).
srcmap() {
	local l f g n from
	while IFS= read -r l; do
		if [[ "$l" == *"$out/src/$gen/"* ]]; then
			if [[ "$l" =~ /abi\.rst:([0-9]+) ]]; then
				n=${BASH_REMATCH[1]}
				from=$(head -n "$n" "$page" | sed -n 's/^\.\. LINENO \(.*\)$/\1/p' | tail -n 1)
				f=${from%#*}
				f=${f##*/}
				for g in Documentation/ABI/*/"$f"; do [ ! -f "$g" ] || { f=$g; break; }; done
				[ -z "$from" ] || l="$l [ABI entry: $f near line ${from##*#}]"
			fi
			l=${l//"$out/src/$gen/"/"${out#"$DRVREG_ROOT"/}/src/$gen/"}
		fi
		echo "${l//"$out/src/"/Documentation/}"
	done
}
rc=0
"$sphinx" "${sargs[@]}" 2>&1 | srcmap || rc=$?
[ "$rc" = 0 ] || failed="$failed sphinx"
# (Once each: docutils may report a title's problem twice.)
n=$({ grep -E '(^|: )(WARNING|ERROR|SEVERE|CRITICAL):' "$out/sphinx-warnings.log" || true; } | sort -u | wc -l)
# A failed build without a counted warning is still a failure, counted once.
[ "$rc" = 0 ] || [ "$n" -gt 0 ] || n=1
warnings=$((warnings + n))
echo "sphinx: ${#rst[@]} Documentation/*.rst + the ABI page, exit $rc, $n warnings; HTML in $out/html"

# --- 5. rustdoc ---------------------------------------------------------------------------
# The driver API (rust/api/) as a driver module compiles it: rustdoc with the very flags
# Kbuild gave rustc for samples/drvreg_sample.rs (its .cmd file), on a crate root that is
# only '#[path] pub mod api;', against the base lane's kernel (built or found in the cache).
echo "== rustdoc: the driver API (rust/api/), as Kbuild compiles it, warnings as errors"
rc=0
rbuild=$DRVREG_OUT/docs-build
kdir=$(KERNEL=base KDIR='' drvreg_kdir 2>"$out/rustdoc.log") || rc=$?
if [ "$rc" = 0 ]; then
	drvreg_stage "$DRVREG_PROJECT" "$rbuild"
	drvreg_build "$kdir" "$rbuild" >>"$out/rustdoc.log" 2>&1 || rc=$?
fi
if [ "$rc" = 0 ]; then
	mkdir -p "$out/rustdoc-src"
	{
		echo "//! drvreg's driver API: what a Rust driver module compiles in as source, with"
		echo '//! `#[path = "../rust/api/mod.rs"] pub mod api;` at its crate root (see [`api`]).'
		echo "#[path = \"$rbuild/rust/api/mod.rs\"]"
		echo "pub mod api;"
	} >"$out/rustdoc-src/drvreg_api.rs"
	# The rustc command of the sample, made a rustdoc one: same toolchain, flags, cfgs,
	# target and -Dwarnings; no outputs but the HTML.
	cmd=$(sed -n 's/^savedcmd_[^ ]* := //p' "$rbuild/samples/.drvreg_sample.o.cmd")
	read -ra words <<<"${cmd%%;*}"
	args=() skip=0
	for a in "${words[@]}"; do
		if [ "$skip" = 1 ]; then skip=0 && continue; fi
		case $a in
		RUST_MODFILE=*) ;;
		*rustc) args+=("${a%rustc}rustdoc") ;;
		--emit=*) ;;
		--out-dir) skip=1 ;;
		--crate-name) args+=(--crate-name drvreg_api) skip=1 ;;
		*.rs) args+=("$out/rustdoc-src/drvreg_api.rs") ;;
		*) args+=("$a") ;;
		esac
	done
	show "(cd $kdir && RUSTC_BOOTSTRAP=1 ${args[*]} -o $out/rustdoc)"
	(cd "$kdir" && eval "RUSTC_BOOTSTRAP=1 ${args[*]} -o '$out/rustdoc'") >>"$out/rustdoc.log" 2>&1 || rc=$?
fi
cat "$out/rustdoc.log"
n=$(count "$out/rustdoc.log" '^(warning|error)(\[|:)')
[ "$rc" = 0 ] || [ "$n" -gt 0 ] || n=1
warnings=$((warnings + n))
[ "$rc" = 0 ] || failed="$failed rustdoc"
echo "rustdoc: exit $rc, $n warnings; HTML in $out/rustdoc/drvreg_api/api/index.html"

# --- 6. errors.rst against the code ---------------------------------------------------------
echo "== errors.rst: every row's errnos where it says they are decided (scripts/errors-check.py)"
show "KSRC=$ksrc python3 scripts/errors-check.py"
rc=0
KSRC=$ksrc python3 "$DRVREG_ROOT/scripts/errors-check.py" "$DRVREG_PROJECT" >"$out/errors-check.log" 2>&1 || rc=$?
cat "$out/errors-check.log"
n=$(count "$out/errors-check.log" '^(errors\.rst:|[a-z].* returns E)')
[ "$rc" = 0 ] || [ "$n" -gt 0 ] || n=1
warnings=$((warnings + n))
[ "$rc" = 0 ] || failed="$failed errors-check"
# That it can fail: a copy of the project whose EDEADLK row says EPERM must be refused.
mut=$out/errors-mutant
mkdir -p "$mut/Documentation"
for d in rust samples include; do ln -sfn "$DRVREG_PROJECT/$d" "$mut/$d"; done
sed 's/^     - ``EDEADLK``$/     - ``EPERM``/' Documentation/errors.rst >"$mut/Documentation/errors.rst"
if cmp -s Documentation/errors.rst "$mut/Documentation/errors.rst" ||
	KSRC=$ksrc python3 "$DRVREG_ROOT/scripts/errors-check.py" "$mut" >"$out/errors-mutant.log" 2>&1; then
	echo "errors-check: the mutant (EDEADLK row made EPERM) was not caught"
	warnings=$((warnings + 1)) failed="$failed errors-check-mutant"
else
	echo "errors-check: the mutant (EDEADLK row made EPERM) is caught: $(grep -c '^errors\.rst:\|returns E' "$out/errors-mutant.log") problems"
fi

verdict=PASS
[ -z "$failed" ] && [ "$warnings" = 0 ] || verdict=FAIL
[ -z "$failed" ] || echo "failed:$failed"
echo "# METRIC docs abi_entries=$abi_entries rst_files=${#rst[@]} warnings=$warnings verdict=$verdict"
[ "$verdict" = PASS ]

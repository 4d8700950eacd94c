#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check Documentation/errors.rst's table against drvreg's code.

    KSRC=/path/to/linux-source scripts/errors-check.py [PROJECT]

The table's rows are (Interface, Errno, When, Decided in). For every row:

- each function its "Decided in" cell names (``f``, ``f()``, ``Type::method``) exists,
  in drvreg (rust/, samples/, include/) or, failing that, in the kernel source KSRC;
- if it names drvreg code and no kernel function, every errno of its Errno cell is
  returned there: the errno's name appears in the named functions' bodies or in those of
  the drvreg functions they call (5 calls deep, through names drvreg defines at most 4
  times and that not every type has, such as new or get; only the file if it names no function).
  ENOMEM and EINTR also count where that code makes a kernel call that returns them
  (an allocation, a kthread, an interruptible wait): see KERNEL_ERRNOS.

And every errno drvreg's code names (C: -EXXX; Rust: EXXX; comments left out) is in
some row's Errno cell. Prints each problem with the row's line, then one line
``# METRIC errors_rst rows=<n> checked=<n> errnos_in_code=<n> problems=<n>
verdict=PASS|FAIL`` (checked: rows whose errnos were looked up in drvreg's code); exit
1 on FAIL. scripts/docs-check.sh runs it; scripts/harness/selftest.sh makes it fail.
"""
import re, sys, os, glob
root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
rst = open(os.path.join(root, "Documentation/errors.rst")).read().split("\n")

# rows of the first list-table
start = next(i for i, l in enumerate(rst) if l.startswith(".. list-table::"))
rows = []
cur = None
for i in range(start + 1, len(rst)):
    l = rst[i]
    if l.startswith(".. ") or (l and not l.startswith(" ")):
        break
    m = re.match(r"^   \* - (.*)$", l)
    if m:
        cur = {"line": i + 1, "cells": [m.group(1)]}
        rows.append(cur)
        continue
    m = re.match(r"^     - (.*)$", l)
    if m and cur:
        cur["cells"].append(m.group(1))
        continue
    if cur and l.startswith("       "):
        cur["cells"][-1] += " " + l.strip()
rows = rows[1:]  # header
files = [f for pat in ("rust/*.rs", "rust/*/*.rs", "rust/*.c", "samples/*.rs", "samples/*.c", "include/*.h")
         for f in glob.glob(os.path.join(root, pat))]
src = {os.path.relpath(f, root): open(f).read() for f in files}

def body_at(text, pos):
    i = text.find("{", pos)
    if i < 0:
        return ""
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i:j + 1]
    return text[i:]

def find_fn(name, where):
    """Body of function `name` (or Type::method) in the files `where`."""
    meth = name.split("::")[-1]
    typ = name.split("::")[0] if "::" in name else None
    for f in where:
        t = src[f]
        pats = [r"\bfn\s+%s\b" % re.escape(meth), r"^[a-z_].*\b%s\([^;]*$" % re.escape(meth),
                r"^\s*(static\s+)?(const\s+)?struct\s+\w+\s+%s\b" % re.escape(meth),
                r"\bmacro_rules!\s*%s\b" % re.escape(meth)]
        for p in pats:
            for m in re.finditer(p, t, re.M):
                if typ:
                    before = t[:m.start()]
                    k = max(before.rfind("\nimpl"), before.rfind("\npub trait"), before.rfind("\ntrait"))
                    if k < 0 or not re.search(r"\b%s\b" % re.escape(typ), before[k:k + 200].split("{")[0]):
                        continue
                return f, body_at(t, m.start())
    return None, None

ksrc = os.environ.get("KSRC") or sys.exit("errors-check: set KSRC to a kernel source tree")
_kcache = {}
def kernel_has(name):
    name = name.split("::")[-1]
    if not ksrc:
        return True
    if name not in _kcache:
        import subprocess
        r = subprocess.run(["grep", "-rqsE", r"\b%s\b" % name, "kernel", "fs", "lib", "include", "mm"], cwd=ksrc)
        _kcache[name] = r.returncode == 0
    return _kcache[name]

# Every function defined in drvreg: name -> bodies.
defs = {}
for f, t in src.items():
    for m in re.finditer(r"\bfn\s+(\w+)|^[a-z_][^;\n=]*?\b(\w+)\([^;]*$", t, re.M):
        n = m.group(1) or m.group(2)
        defs.setdefault(n, []).append(body_at(t, m.start()))

GENERIC = {"new", "get", "from", "into", "drop", "lock", "with", "map", "show", "store",
           "default", "fmt", "clone", "deref", "as_ptr", "len", "init", "open", "release"}

def closure(bodies, depth=5):
    """The bodies and those of the drvreg functions they call, `depth` calls deep."""
    seen, todo, out = set(), list(bodies), []
    for _ in range(depth + 1):
        nxt = []
        for b in todo:
            out.append(b)
            for n in set(re.findall(r"\b(\w+)\s*\(", b)):
                # Not the names every type has: a call of new() or get() says nothing.
                if n in defs and n not in GENERIC and len(defs[n]) <= 4 and n not in seen:
                    seen.add(n)
                    nxt.extend(defs[n])
        todo = nxt
    return "\n".join(out)

# Errnos the kernel's own calls return, accepted where the code makes such a call.
KERNEL_ERRNOS = {
    "ENOMEM": r"KBox::|KVec|CString::try_from|try_new|kmalloc|kzalloc|kstrdup|GFP_KERNEL|alloc|Thread::spawn|kobject_create|sysfs_create",
    "EINTR": r"kthread|Thread::spawn|wait_for_completion_killable|_killable|interruptible",
}

problems = []
checked = 0
for r in rows:
    if len(r["cells"]) != 4:
        problems.append("errors.rst:%d: row has %d cells, not 4" % (r["line"], len(r["cells"])))
        continue
    iface, errnos, when, where = r["cells"]
    errs = set(re.findall(r"\bE[A-Z0-9]{2,}\b", errnos))
    lits = re.findall(r"``([^`]+)``", where)
    paths = [x for x in lits if "/" in x or x.endswith((".rs", ".c", ".h"))]
    ours = [p for p in paths if p in src]
    fns = [re.sub(r"\(\)$", "", x) for x in lits if x not in paths and re.match(r"^[A-Za-z_][\w:]*(\(\))?$", x)]
    bodies, kernel_fns = [], []
    for fn in fns:
        f, b = find_fn(fn, ours or list(src))
        if f is None and ours:
            f, b = find_fn(fn, list(src))
        if f is not None:
            bodies.append((fn, f, b))
        elif kernel_has(fn):
            kernel_fns.append(fn)
        else:
            problems.append("errors.rst:%d: %s names ``%s``, found neither in drvreg nor in the kernel source" % (r["line"], iface[:40], fn))
    if not bodies and ours:
        bodies = [(o, o, src[o]) for o in ours]
    if not bodies:
        continue
    checked += 1
    text = closure([b for _, _, b in bodies])
    if kernel_fns:
        # The row also names kernel code: errnos not in drvreg's are that code's.
        continue
    for e in sorted(errs):
        if not re.search(r"\b%s\b" % e, text) and not (e in KERNEL_ERRNOS and re.search(KERNEL_ERRNOS[e], text)):
            problems.append("errors.rst:%d: %s: %s is not in %s" % (r["line"], iface[:50], e, ", ".join(sorted({n for n, _, _ in bodies}))))
# Every errno drvreg's code returns is in the table.
valid = set()
if ksrc:
    for h in ("include/uapi/asm-generic/errno-base.h", "include/uapi/asm-generic/errno.h", "include/linux/errno.h"):
        valid |= set(re.findall(r"^#define\s+(E[A-Z0-9]+)\s", open(os.path.join(ksrc, h)).read(), re.M))
documented = set()
for r in rows:
    documented |= set(re.findall(r"\bE[A-Z0-9]{2,}\b", r["cells"][1] if len(r["cells"]) > 1 else ""))
used = {}
for f, t in src.items():
    code = re.sub(r"//[^\n]*|/\*.*?\*/", "", t, flags=re.S)
    pat = r"-(E[A-Z0-9]{2,})\b" if f.endswith((".c", ".h")) else r"\b(E[A-Z0-9]{2,})\b"
    for e in re.findall(pat, code):
        if e in valid:
            used.setdefault(e, f)
undocumented = sorted(set(used) - documented)
for e in undocumented:
    problems.append("%s returns %s, which no row of errors.rst's table names" % (used[e], e))
for p in problems:
    print(p)
verdict = "PASS" if not problems else "FAIL"
print("# METRIC errors_rst rows=%d checked=%d errnos_in_code=%d problems=%d verdict=%s"
      % (len(rows), checked, len(used), len(problems), verdict))
sys.exit(0 if verdict == "PASS" else 1)

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""drvreg lookup benchmark report (make bench): reads the raw lines scripts/bench-guest.sh
printed in a guest's console log and summarizes them.

    bench-report.py [--out DIR] [--note TEXT]... CONSOLE.log
    bench-report.py --self-test

Prints, and saves as DIR/report.txt (default: the log's folder):
- a table of ns per lookup (median over runs, min-max) for every cell, rows mode x target
  x drivers, columns threads, with each row's aggregate throughput gain over 1 thread,
  and a table of each cell's ratio to modref (same threads, drivers and target);
- one line per cell:
    bench mode=M threads=T drivers=N target=same|spread ns_per_op=MED min=X max=Y ratio_modref=R
  and one per registration size (median of register + unregister time over runs):
    bench register drivers=N ms=X
  and, for the registry and each of the kernel's designs (srcu, percpu-ref), a table of
  register and unregister times with one line per design and size (medians, ms; for
  the designs, unregistering one record and grace period at a time, and as one batch):
    bench register design=D drivers=N register_ms=X unregister_ms=Y|- unregister_batch_ms=Z|-
- the validity check: with 2 threads on 2 vCPUs the empty loop (noop) must run >= 1.8x
  the aggregate throughput of 1 thread; less means that the host did not give the guest
  its vCPUs, and every scaling figure of the run is meaningless:
    bench: run INVALID: noop scales 1.42 (< 1.8) - the host took vCPUs away
- the goals, one line each ('value' is the measured ratio; a --short run has neither
  the validity check nor the goals):
    # METRIC bench_goal name=NAME value=X goal=<=Y|>=Y verdict=PASS|FAIL
  and '# METRIC bench_info name=NAME value=X' for figures given for information.
Writes gnuplot data (*.dat), scripts (*.gp) and plots (ns_per_op-vs-threads.svg,
ns_per_op-vs-drivers.svg) into DIR, when gnuplot is installed (BENCH_GNUPLOT names
another binary).

ns per op is wall time / (threads x loops), the inverse of aggregate throughput: with 2
threads, a lookup that scales perfectly shows half its 1-thread figure.

Exit status: 0 when every expected cell was measured in every run (the goals and the
validity check are reported, not enforced), 1 when a cell or registration figure is
missing or a cell counted lookup errors, 2 when the log has no benchmark in it.
--self-test checks this script on synthetic logs (KTAP-style lines, 'N passed, N failed').
"""
import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

# The modes and designs of synthetic logs (--self-test), and of a log whose bench-config
# names none: a real log's bench-config lists what the guest ran (bench/modes: the floors,
# the kernel's designs, the lookup modes; bench/designs: the designs).
MODES = ["noop", "unsafe", "modref", "srcu", "percpu-ref", "locked", "rcu", "twostage"]
DESIGNS = ["srcu", "percpu-ref"]
# What each mode's loop does (the plots' key).
MODE_KEY = {
    "noop": "noop: empty loop",
    "unsafe": "unsafe: RCU lookup, no pin",
    "modref": "modref: lookup + module ref",
    "srcu": "srcu: lookup inside srcu_read_lock",
    "percpu-ref": "percpu-ref: RCU lookup + percpu_ref",
    "locked": "locked: global driver lock",
    "rcu": "rcu: RCU lookup + module ref",
    "twostage": "twostage: RCU + per-CPU pin",
}
TARGETS = ["same", "spread"]
RAW_KEYS = ["run", "mode", "threads", "drivers", "target", "loops", "wall_ns", "ops",
            "ns_per_op", "errors"]
REG_KEYS = ["run", "drivers", "register_us", "unregister_us"]
DESIGN_KEYS = ["run", "drivers", "register_us"]
# A design's unregister times: '-' when not measured (one at a time, above 100 records,
# is measured in run 1 only).
DESIGN_OPTIONAL = ["unregister_us", "unregister_batch_us"]
# noop with 2 threads on 2 vCPUs: at least this much the 1-thread aggregate throughput.
VALID_SCALING = 1.8


class BenchError(Exception):
    """The log cannot be read as a benchmark at all (exit 2)."""


def fields(text):
    """'a=1 b=x' -> {'a': '1', 'b': 'x'}; None if a word is not KEY=VALUE or a key
    repeats with another value (a result line that is not the run's)."""
    out = {}
    for word in text.split():
        key, eq, value = word.partition("=")
        if not eq or not key:
            return None
        if out.setdefault(key, value) != value:
            return None
    return out


def numbers(f, keys, floats=()):
    """Converts f's keys to numbers in place; False if one is missing or not a number."""
    for k in keys:
        if k not in f:
            return False
        try:
            f[k] = float(f[k]) if k in floats else int(f[k])
        except ValueError:
            return False
    return True


def fmt(x):
    return "%.2f" % x


def fmt_ms(x):
    return "%.3f" % x


class Bench:
    """The parsed log: configuration, per-cell and per-size samples, and problems."""

    def __init__(self, text):
        lines = text.splitlines()
        self.notes = []      # things the reader should know (not errors)
        self.problems = []   # reasons for exit status 1
        self.release = None
        for line in lines:
            m = re.search(r"DRVREG-VM-START: (\S+)", line)
            if m:
                self.release = m.group(1)
                break
        # The quiet copy at the end is whole; the live lines may be torn by kernel
        # messages. Without it (the guest did not finish), take the live lines.
        begin = end = None
        for i, line in enumerate(lines):
            if line.strip() == "bench-raw-begin":
                begin = i
            elif line.startswith("bench-raw-end") and begin is not None and i > begin:
                end = i
        if begin is not None and end is not None:
            raw = lines[begin + 1:end]
            m = re.search(r"lines=(\d+)", lines[end])
            if m and int(m.group(1)) != len(raw):
                self.problems.append("the end-of-run copy has %d lines, the guest counted %s"
                                     % (len(raw), m.group(1)))
        else:
            raw = lines
            if any(line.startswith("bench-") for line in lines):
                self.notes.append("no end-of-run copy of the raw lines (the guest did not "
                                  "finish?): using the lines printed live")
        self.config = None
        self.samples = {}    # (mode, threads, drivers, target) -> {run: ns per op}
        self.loops = {}      # the same -> {run: loops}
        self.registers = {}  # drivers -> {run: register + unregister, us}
        self.reg_split = {}  # drivers -> {run: (register, unregister), us}
        self.designs = {}    # (design, drivers) -> {run: (register, unregister, batch), us}
        self.errors = {}     # cell -> lookup errors, summed over runs
        unreadable = 0
        for line in raw:
            line = line.rstrip()
            word, _, rest = line.partition(" ")
            if word == "bench-config" and self.config is None:
                self.config = self._config(rest)
            elif word == "bench-raw":
                f = fields(rest)
                if f is None or not numbers(f, [k for k in RAW_KEYS if k not in
                                                ("mode", "target")], floats=("ns_per_op",)) \
                        or f.get("mode") not in (self.config or {}).get("modes", MODES) \
                        or f.get("target") not in TARGETS:
                    unreadable += 1
                    continue
                cell = (f["mode"], f["threads"], f["drivers"], f["target"])
                run = f["run"]
                if run in self.samples.get(cell, {}):
                    self.notes.append("run %d of %s is there twice: the first counts"
                                      % (run, cellname(cell)))
                    continue
                # wall/ops is more precise than the 2 decimals of ns_per_op.
                ns = f["wall_ns"] / f["ops"] if f["ops"] > 0 else f["ns_per_op"]
                self.samples.setdefault(cell, {})[run] = ns
                self.loops.setdefault(cell, {})[run] = f["loops"]
                if f["errors"]:
                    self.errors[cell] = self.errors.get(cell, 0) + f["errors"]
            elif word == "bench-raw-register":
                f = fields(rest)
                if f is None or not numbers(f, REG_KEYS):
                    unreadable += 1
                    continue
                self.registers.setdefault(f["drivers"], {}).setdefault(
                    f["run"], f["register_us"] + f["unregister_us"])
                self.reg_split.setdefault(f["drivers"], {}).setdefault(
                    f["run"], (f["register_us"], f["unregister_us"]))
            elif word == "bench-raw-design":
                f = fields(rest)
                if f is None or not numbers(f, DESIGN_KEYS) \
                        or f.get("design") not in (self.config or {}).get("designs", DESIGNS) \
                        or not all(f.get(k) == "-" or numbers(f, [k]) for k in DESIGN_OPTIONAL):
                    unreadable += 1
                    continue
                self.designs.setdefault((f["design"], f["drivers"]), {}).setdefault(
                    f["run"], tuple(None if f[k] == "-" else f[k]
                                    for k in ["register_us"] + DESIGN_OPTIONAL))
            elif word.startswith("bench-raw") and word not in ("bench-raw-begin",
                                                              "bench-raw-end"):
                unreadable += 1
        if self.config is None:
            raise BenchError("no 'bench-config' line: not a log of scripts/bench-guest.sh")
        if unreadable:
            self.notes.append("%d raw line(s) could not be read (torn by kernel messages?)"
                              % unreadable)
        self._check()

    @staticmethod
    def _config(rest):
        f = fields(rest) or {}
        try:
            return {
                "runs": int(f["runs"]),
                "threads": [int(x) for x in f["threads"].split(",")],
                "drivers": [int(x) for x in f["drivers"].split(",")],
                "modes": [m for m in f.get("modes", ",".join(MODES)).split(",")],
                "designs": [d for d in f.get("designs", "").split(",") if d],
                "targets": f.get("targets", ",".join(TARGETS)).split(","),
                "cpus": int(f.get("cpus", "0")),
                "register": [] if f.get("register", "none") == "none"
                else [int(x) for x in f["register"].split(",")],
                "short": f.get("short", "0") == "1",
            }
        except (KeyError, ValueError):
            raise BenchError("bad 'bench-config' line: %r" % rest)

    def expected_cells(self):
        c = self.config
        return [(m, t, n, g) for n in c["drivers"] for t in c["threads"]
                for g in c["targets"] for m in c["modes"]]

    def _check(self):
        runs = range(1, self.config["runs"] + 1)
        for cell in self.expected_cells():
            have = self.samples.get(cell, {})
            missing = [r for r in runs if r not in have]
            if missing:
                self.problems.append("missing cell %s in run(s) %s" % (
                    cellname(cell), ",".join(map(str, missing))))
        for n in sorted(set(self.config["drivers"]) | set(self.config["register"])):
            have = self.registers.get(n, {})
            missing = [r for r in runs if r not in have]
            if missing:
                self.problems.append("missing registration time of %d drivers in run(s) %s"
                                     % (n, ",".join(map(str, missing))))
        for d in self.config["designs"]:
            for n in sorted(set(self.config["drivers"]) | set(self.config["register"])):
                have = self.designs.get((d, n), {})
                missing = [r for r in runs if r not in have]
                if missing:
                    self.problems.append("missing %s registration time of %d drivers in "
                                         "run(s) %s" % (d, n, ",".join(map(str, missing))))
        for cell, n in sorted(self.errors.items()):
            self.problems.append("cell %s counted %d lookup error(s)" % (cellname(cell), n))

    # --- figures ----------------------------------------------------------------------
    def med(self, mode, threads, drivers, target):
        v = self.samples.get((mode, threads, drivers, target))
        return statistics.median(v.values()) if v else None

    def stats(self, cell):
        v = list(self.samples.get(cell, {}).values())
        if not v:
            return None
        return statistics.median(v), min(v), max(v)

    def ratio_modref(self, cell):
        mode, t, n, g = cell
        a, b = self.med(mode, t, n, g), self.med("modref", t, n, g)
        return a / b if a is not None and b else None

    def scaling(self, mode, t, n, g, base=1):
        """Aggregate throughput with t threads over that with `base`: ns(base)/ns(t)."""
        a, b = self.med(mode, base, n, g), self.med(mode, t, n, g)
        return a / b if a is not None and b else None

    def register_ms(self, n):
        v = self.registers.get(n)
        return statistics.median(v.values()) / 1000.0 if v else None

    def design_ms(self, design, n):
        """(register, unregister, unregister batch) medians in ms, each None if never
        measured; design None is the registry (drvreg_many's load and unload)."""
        if design is None:
            runs = [v + (None,) for v in self.reg_split.get(n, {}).values()]
        else:
            runs = list(self.designs.get((design, n), {}).values())
        out = []
        for i in range(3):
            v = [x[i] for x in runs if x[i] is not None]
            out.append(statistics.median(v) / 1000.0 if v else None)
        return tuple(out)


def cellname(cell):
    return "mode=%s threads=%d drivers=%d target=%s" % cell


def cells(c):
    """(mode, target, drivers, row label) for every row of a table, in order."""
    for m in c["modes"]:
        for g in c["targets"]:
            for n in c["drivers"]:
                yield m, g, n, "%-9s %-6s %7d" % (m, g, n)


def table(b):
    """The readable tables, as a list of lines."""
    c = b.config
    threads = c["threads"]
    over = [t for t in threads if c["cpus"] and t > c["cpus"]]
    head = ["t=%d%s" % (t, "*" if t in over else "") for t in threads]
    gains = [t for t in threads if t != 1 and 1 in threads]
    out = ["ns per lookup (wall time / (threads x loops)): median of %d run(s) (min-max);"
           % c["runs"],
           "'xT vs 1': aggregate throughput with T threads over 1 thread (ns(1)/ns(T))"]
    w = 24
    hdr = "%-9s %-6s %7s" % ("mode", "target", "drivers")
    hdr += "".join(" | %-*s" % (w, h) for h in head)
    hdr += "".join(" | %9s" % ("x%d vs 1" % t) for t in gains)
    out += [hdr, "-" * len(hdr)]
    for m, g, n, row in cells(c):
        for t in threads:
            s = b.stats((m, t, n, g))
            txt = "%s (%s-%s)" % tuple(fmt(x) for x in s) if s else "MISSING"
            row += " | %-*s" % (w, txt)
        for t in gains:
            x = b.scaling(m, t, n, g)
            row += " | %9s" % (fmt(x) + "x" if x is not None else "-")
        out.append(row)
    if over:
        out.append("* oversubscribed: %s thread(s) on %d vCPUs"
                   % (",".join(map(str, over)), c["cpus"]))
    out += ["", "ratio to modref (ns per lookup / modref's, same threads, drivers, target):"]
    hdr = "%-9s %-6s %7s" % ("mode", "target", "drivers") + "".join(" | %8s" % h for h in head)
    out += [hdr, "-" * len(hdr)]
    for m, g, n, row in cells(c):
        for t in threads:
            r = b.ratio_modref((m, t, n, g))
            row += " | %8s" % (fmt(r) if r is not None else "-")
        out.append(row)
    return out


def cell_lines(b):
    out = []
    for cell in b.expected_cells():
        s = b.stats(cell)
        if s is None:
            continue
        r = b.ratio_modref(cell)
        out.append("bench mode=%s threads=%d drivers=%d target=%s" % cell
                   + " ns_per_op=%s min=%s max=%s ratio_modref=%s"
                   % (fmt(s[0]), fmt(s[1]), fmt(s[2]), fmt(r) if r is not None else "-"))
    sizes = sorted(set(b.config["drivers"]) | set(b.config["register"]))
    for n in sizes:
        ms = b.register_ms(n)
        if ms is not None:
            out.append("bench register drivers=%d ms=%s" % (n, fmt_ms(ms)))
    for d in ["registry"] + b.config["designs"]:
        for n in sizes:
            ms = b.design_ms(None if d == "registry" else d, n)
            if ms[0] is not None:
                out.append("bench register design=%s drivers=%d register_ms=%s "
                           "unregister_ms=%s unregister_batch_ms=%s"
                           % ((d, n) + tuple(fmt_ms(x) if x is not None else "-"
                                             for x in ms)))
    return out


def register_table(b):
    """Register and unregister times per design, as a list of lines."""
    sizes = sorted(set(b.config["drivers"]) | set(b.config["register"]))
    out = ["register / unregister, ms (median over runs): 'one by one' unregisters one "
           "record at a time,",
           "waiting for each (a grace period each for the designs); 'batch' unlinks all, "
           "then waits once;",
           "registry: drvreg_many's load and unload (sysfs directories included; its "
           "unregister waits for pins, not for a grace period)"]
    hdr = "%-10s %7s | %10s | %11s | %10s" % ("design", "drivers", "register",
                                              "one by one", "batch")
    out += [hdr, "-" * len(hdr)]
    for d in ["registry"] + b.config["designs"]:
        for n in sizes:
            ms = b.design_ms(None if d == "registry" else d, n)
            if ms[0] is None:
                continue
            out.append("%-10s %7d | %10s | %11s | %10s" % (
                (d, n) + tuple(fmt_ms(x) if x is not None else "-" for x in ms)))
    return out


def validity(b):
    """The noop scaling check: (lines, valid or None when it cannot be checked). noop's
    loop does not depend on drivers or target: all its samples of a thread count are
    pooled, and the verdict is the ratio of the pooled medians; per group and per run
    figures follow, to tell a host that was busy for a while from one that always is."""
    if 1 not in b.config["threads"] or 2 not in b.config["threads"]:
        return ["bench: validity check skipped: it needs 1- and 2-thread cells"], None

    def pooled(t, run=None):
        v = [ns for (m, tt, _, _), runs in b.samples.items() if m == "noop" and tt == t
             for r, ns in runs.items() if run is None or r == run]
        return statistics.median(v) if v else None

    one, two = pooled(1), pooled(2)
    if one is None or two is None:
        return ["bench: validity check skipped: no noop cells"], None
    overall = one / two
    groups = []
    for n in b.config["drivers"]:
        for g in b.config["targets"]:
            x = b.scaling("noop", 2, n, g)
            if x is not None:
                groups.append("drivers=%d %s %s" % (n, g, fmt(x)))
    runs = []
    for r in range(1, b.config["runs"] + 1):
        a, c = pooled(1, r), pooled(2, r)
        if a is not None and c:
            runs.append(fmt(a / c))
    detail = "per drivers/target: %s; per run: %s" % (", ".join(groups), ", ".join(runs))
    if overall >= VALID_SCALING:
        return ["bench: run valid: noop scales %s with 2 threads (>= %.1f)" % (
            fmt(overall), VALID_SCALING), "bench: (noop 2-thread gain %s)" % detail], True
    bar = "!" * 78
    return [bar,
            "bench: run INVALID: noop scales %s (< %.1f) \u2014 the host took vCPUs away"
            % (fmt(overall), VALID_SCALING),
            "bench: (noop 2-thread gain %s)" % detail,
            "bench: every 2-thread-vs-1 figure of this run is meaningless",
            bar], False


def spread_drivers(b):
    """The driver count of the scaling goals: 100 (distinct drivers, one module) if
    measured, else the largest measured."""
    d = b.config["drivers"]
    return 100 if 100 in d else max(d)


def goals(b):
    """The goal lines (and notes for goals this run could not measure)."""
    out = []

    def goal(name, value, op, limit, needs):
        if value is None:
            out.append("bench: goal %s not measured in this run (needs %s)" % (name, needs))
            return
        def meets(v):
            return v <= limit if op == "<=" else v >= limit
        ok = meets(value)
        shown = fmt(value)
        # Rounding must not hide why: 1.5025 against <=1.5 is shown as 1.5025, not 1.50.
        if meets(float(shown)) != ok:
            shown = "%.4f" % value
        out.append("# METRIC bench_goal name=%s value=%s goal=%s%s verdict=%s"
                   % (name, shown, op, "%g" % limit, "PASS" if ok else "FAIL"))

    def ratio(a, b_):
        return a / b_ if a is not None and b_ else None

    for mode, limit in (("rcu", 1.5), ("locked", 3.0)):
        goal("%s_vs_modref_t1_d1_same" % mode,
             b.ratio_modref((mode, 1, 1, "same")), "<=", limit,
             "threads 1, drivers 1, same")
    d = spread_drivers(b)
    for mode, limit in (("twostage", 1.7), ("rcu", 1.3)):
        goal("%s_scaling_t2_spread_d%d" % (mode, d), b.scaling(mode, 2, d, "spread"),
             ">=", limit, "threads 1 and 2, spread")
    x = b.scaling("locked", 2, d, "spread")
    if x is not None:
        out.append("# METRIC bench_info name=locked_scaling_t2_spread_d%d value=%s"
                   % (d, fmt(x)))
    for mode in ("rcu", "twostage"):
        goal("%s_growth_d1_to_d10000_t1_same" % mode,
             ratio(b.med(mode, 1, 10000, "same"), b.med(mode, 1, 1, "same")), "<=", 1.3,
             "drivers 1 and 10000")
    goal("register_d10000_vs_d1000", ratio(b.register_ms(10000), b.register_ms(1000)),
         "<=", 12, "registration of 1000 and 10000 drivers")
    # twostage against the kernel's designs: at 1 thread within 1.1x of the faster one;
    # its 2-thread gain at least theirs (the better of the two) - 0.1.
    designs = [x for x in b.config["designs"] if x in b.config["modes"]]
    if not designs:
        out.append("bench: goals against the kernel's designs not measured (no designs)")
        return out
    t1 = [(b.med(x, 1, 1, "same"), x) for x in designs]
    t1 = [(v, x) for v, x in t1 if v is not None]
    best = min(t1) if t1 else (None, None)
    goal("twostage_vs_best_design_t1_d1_same", ratio(b.med("twostage", 1, 1, "same"), best[0]),
         "<=", 1.1, "threads 1, drivers 1, same, twostage and a design")
    if best[1] is not None:
        out.append("# METRIC bench_info name=best_design_t1_d1_same value=%s design=%s"
                   % (fmt(best[0]), best[1]))
    for g in TARGETS:
        gains = [(b.scaling(x, 2, d, g), x) for x in designs]
        gains = [(v, x) for v, x in gains if v is not None]
        top = max(gains) if gains else (None, None)
        mine = b.scaling("twostage", 2, d, g)
        name = "twostage_scaling_vs_designs_t2_%s_d%d" % (g, d)
        if top[0] is None or mine is None:
            goal(name, None, ">=", 0, "threads 1 and 2, %s, twostage and a design" % g)
            continue
        # The limit depends on the run: rounded as shown, so that the line reads true.
        limit = float("%.2f" % (top[0] - 0.1))
        goal(name, mine, ">=", limit, "")
        for v, x in gains:
            out.append("# METRIC bench_info name=%s_scaling_t2_%s_d%d value=%s"
                       % (x, g, d, fmt(v)))
    return out


# --- plots ------------------------------------------------------------------------------
def plots(b, outdir, warning=None):
    """Writes the .dat and .gp files, and the SVGs if gnuplot is there; returns lines to
    print. warning: a line shown in red on the plots (an invalid run)."""
    c = b.config
    modes = c["modes"]
    d = spread_drivers(b)
    specs = [
        ("ns_per_op-vs-threads", "threads", c["threads"],
         lambda m, x: (m, x, d, "spread"),
         "drvreg lookup: ns per lookup vs threads (drivers=%d, spread target)" % d,
         False),
        ("ns_per_op-vs-drivers", "drivers registered", c["drivers"],
         lambda m, x: (m, 1, x, "same"),
         "drvreg lookup: ns per lookup vs drivers registered (1 thread, same target)",
         True),
    ]
    gnuplot = os.environ.get("BENCH_GNUPLOT") or shutil.which("gnuplot")
    if gnuplot and not (os.path.isfile(gnuplot) and os.access(gnuplot, os.X_OK)):
        gnuplot = None
    out = []
    for name, xlabel, xs, cell, title, logx in specs:
        dat = os.path.join(outdir, name + ".dat")
        with open(dat, "w") as f:
            f.write("# %s\n# x %s\n" % (title, " ".join(
                "%s_median %s_min %s_max" % (m, m, m) for m in modes)))
            for x in xs:
                row = [str(x)]
                for m in modes:
                    s = b.stats(cell(m, x))
                    row += [fmt(v) for v in s] if s else ["NaN"] * 3
                f.write(" ".join(row) + "\n")
        svg = os.path.join(outdir, name + ".svg")
        gp = os.path.join(outdir, name + ".gp")
        with open(gp, "w") as f:
            f.write("# drvreg bench plot (scripts/bench-report.py): gnuplot %s\n" % gp)
            f.write('set terminal svg size 1000,560 dynamic enhanced font "sans,12" '
                    'background rgb "white"\n')
            f.write('set output "%s"\n' % svg)
            f.write('set title "%s\\n{/*0.8 median of %d run(s), bars: min-max; lower is '
                    'better; %s}"\n' % (title, c["runs"], b.release or "?"))
            f.write('set xlabel "%s"\nset ylabel "ns per lookup (wall / ops)"\n' % xlabel)
            f.write("set logscale y\nset grid\nset key outside right top Left reverse\n")
            if warning:
                f.write('set label "%s" at graph 0.02, graph 0.04 textcolor rgb "red"\n'
                        % warning.replace('"', "'"))
            over = [] if logx else [x for x in xs if c["cpus"] and x > c["cpus"]]
            f.write("set xtics (%s)\n" % ", ".join(
                '"%d%s" %d' % (x, " (oversubscribed)" if x in over else "", x) for x in xs))
            # Log x: driver counts span 1..10000; thread counts 1, 2, 4 evenly spaced.
            if logx:
                f.write("set logscale x\nset xrange [%g:%g]\n" % (min(xs) / 2.0, max(xs) * 2.0))
            else:
                f.write("set logscale x 2\nset xrange [%g:%g]\n" % (min(xs) / 1.25, max(xs) * 1.25))
            f.write("plot " + ", \\\n     ".join(
                "'%s' using 1:%d:%d:%d with yerrorlines lw 2 title '%s'"
                % (dat, 2 + 3 * i, 3 + 3 * i, 4 + 3 * i, MODE_KEY.get(m, m))
                for i, m in enumerate(modes)) + "\n")
        if not gnuplot:
            continue
        p = subprocess.run([gnuplot, gp], capture_output=True, text=True)
        if p.returncode != 0 or not os.path.exists(svg):
            out.append("bench: gnuplot failed on %s: %s" % (gp, p.stderr.strip()[-300:]))
        else:
            out.append("bench: plot %s" % svg)
    if not gnuplot:
        out.append("bench: gnuplot is not installed: no plots (apt-get install gnuplot-nox; "
                   "data in %s/*.dat)" % outdir)
    return out


def report(log, outdir, notes=()):
    """Prints the report and saves it; returns the exit status."""
    try:
        with open(log, errors="replace") as f:
            text = f.read()
    except OSError as e:
        print("bench: cannot read the console log: %s" % e)
        return 2
    try:
        b = Bench(text)
    except BenchError as e:
        print("bench: %s (%s)" % (e, log))
        return 2
    c = b.config
    lines = ["drvreg bench: kernel %s, %d vCPUs, %d run(s), threads %s, drivers %s%s"
             % (b.release or "?", c["cpus"], c["runs"], ",".join(map(str, c["threads"])),
                ",".join(map(str, c["drivers"])),
                " (--short: a correctness run, not a timing)" if c["short"] else ""), ""]
    lines += table(b) + [""]
    lines += register_table(b) + [""]
    lines += cell_lines(b) + [""]
    lines += ["bench: host: %s" % n for n in notes]
    warning = None
    if c["short"]:
        # Fewer, shorter cells, often on the KASAN kernel: a check that every mode runs
        # without error, not a measurement.
        lines.append("bench: a --short correctness run: no validity check, no goals")
    else:
        vlines, valid = validity(b)
        lines += vlines + goals(b)
        if valid is False:
            warning = next(x for x in vlines if "INVALID" in x).replace("bench: ", "", 1)
    lines += ["bench: note: %s" % n for n in b.notes]
    lines += ["bench: ERROR: %s" % p for p in b.problems]
    os.makedirs(outdir, exist_ok=True)
    lines += plots(b, outdir, warning)
    path = os.path.join(outdir, "report.txt")
    lines.append("bench: report %s" % path)
    if b.problems:
        lines.append("bench: FAILED: %d problem(s) (see the ERROR lines)" % len(b.problems))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 1 if b.problems else 0


# --- self-test --------------------------------------------------------------------------
# Synthetic ns per lookup, 1 thread, 1 driver, same target; then how each mode scales.
SYN_NS = {"noop": 2.0, "unsafe": 20.0, "modref": 40.0, "locked": 90.0, "rcu": 50.0,
          "twostage": 30.0, "srcu": 33.0, "percpu-ref": 31.0}
SYN_SCALE = {"noop": 1.97, "unsafe": 1.9, "modref": 1.1, "locked": 0.8, "rcu": 1.4,
             "twostage": 1.9, "srcu": 1.95, "percpu-ref": 1.92}


def synth(runs=5, threads=(1, 2), drivers=(1, 100, 10000), cpus=2, register=(1000,),
          short=False, noop_scale=None, drop=(), errors=(), block=True, torn=True,
          slow=None, scales=None, jitter=0.02, seed=1):
    """A console log as bench.sh would save it. drop: (run, cell) left out, or (run,
    design, drivers) for a design's registration line; errors: cells that count lookup
    errors; slow: {mode: factor} at threads 1 drivers 1 same; scales: {mode: 2-thread
    gain} instead of SYN_SCALE's."""
    rnd = random.Random(seed)
    scale = dict(SYN_SCALE)
    scale.update(scales or {})
    if noop_scale is not None:
        scale["noop"] = noop_scale
    live, raw = [], []

    def emit(line):
        live.append(line)
        raw.append(line)

    live += ["[    0.000000] Linux version 6.12.99 (synthetic)",
             "DRVREG-VM-START: 6.12.99 cpus=%d" % cpus]
    emit("bench-config runs=%d threads=%s drivers=%s modes=%s designs=%s targets=same,spread "
         "cpus=%d register=%s short=%d" % (runs, ",".join(map(str, threads)),
                                           ",".join(map(str, drivers)), ",".join(MODES),
                                           ",".join(DESIGNS), cpus,
                                           ",".join(map(str, register)) or "none",
                                           int(short)))

    def designs(r, n):
        for x in DESIGNS:
            if (r, x, n) not in drop:
                emit("bench-raw-design run=%d design=%s drivers=%d register_us=%d "
                     "unregister_us=%s unregister_batch_us=%d"
                     % (r, x, n, 3 * n, str(700 * n) if n <= 100 or r == 1 else "-",
                        n + 5))
    for r in range(1, runs + 1):
        for n in drivers:
            for t in threads:
                for g in TARGETS:
                    for m in MODES:
                        cell = (m, t, n, g)
                        if (r, cell) in drop:
                            continue
                        ns = SYN_NS[m] * (1 + 0.1 * (n > 1) * (m == "locked"))
                        if slow and t == 1 and n == 1 and g == "same":
                            ns *= slow.get(m, 1)
                        ns = ns / scale[m] if t == 2 else ns
                        ns *= 1 + rnd.uniform(-jitter, jitter)
                        loops = 100000
                        ops = t * loops
                        wall = int(ns * ops)
                        emit("bench-raw run=%d mode=%s threads=%d drivers=%d target=%s "
                             "mode=%s threads=%d loops=%d wall_ns=%d ops=%d ns_per_op=%.2f "
                             "errors=%d" % (r, m, t, n, g, m, t, loops, wall, ops, wall / ops,
                                            3 if cell in errors else 0))
            designs(r, n)
            emit("bench-raw-register run=%d drivers=%d register_us=%d unregister_us=%d"
                 % (r, n, 50 * n + rnd.randint(0, 9), 40 * n + rnd.randint(0, 9)))
        for n in register:
            designs(r, n)
            emit("bench-raw-register run=%d drivers=%d register_us=%d unregister_us=%d"
                 % (r, n, 50 * n, 40 * n))
    if torn and len(live) > 5:
        # A kernel message printed in the middle of a raw line.
        x = live[4]
        live[4] = x[:20] + "[   12.345678] drvreg_many: registered 100 drivers in 345 us"
        live.insert(5, x[20:])
    if block:
        live += ["bench-raw-begin"] + raw + ["bench-raw-end lines=%d" % len(raw)]
    live.append("DRVREG-VM-EXIT: 0")
    return "\n".join(live) + "\n"


def self_test():
    tmp = tempfile.mkdtemp(prefix="bench-report-test.")
    results = []

    def run(name, text, gnuplot=None):
        d = os.path.join(tmp, name)
        os.makedirs(d)
        log = os.path.join(d, "console.log")
        with open(log, "w") as f:
            f.write(text)
        env = dict(os.environ)
        if gnuplot is not None:
            env["BENCH_GNUPLOT"] = gnuplot
        p = subprocess.run([sys.executable, os.path.abspath(__file__), "--out", d, log],
                           capture_output=True, text=True, env=env)
        return p.returncode, p.stdout + p.stderr, d

    def check(desc, ok, out=""):
        results.append(ok)
        print("%s %d %s" % ("ok" if ok else "not ok", len(results), desc))
        if not ok:
            print("\n".join("#   " + x for x in out.splitlines()[-40:]))

    cell_re = re.compile(r"^bench mode=([\w-]+) threads=(\d+) drivers=(\d+) target=(same|spread) "
                         r"ns_per_op=[0-9.]+ min=[0-9.]+ max=[0-9.]+ ratio_modref=[0-9.]+$")
    goal_re = re.compile(r"^# METRIC bench_goal name=\S+ value=[0-9.]+ goal=(<=|>=)[0-9.]+ "
                         r"verdict=(PASS|FAIL)$")

    rc, out, d = run("full", synth(), gnuplot="/nonexistent/gnuplot")
    lines = out.splitlines()
    cells = [x for x in lines if cell_re.match(x)]
    check("complete run: exit 0, 96 cell lines (8 modes)", rc == 0 and len(cells) == 96, out)
    check("complete run: every cell line in the exact form",
          len([x for x in lines if x.startswith("bench mode=")]) == 96, out)
    check("complete run: register lines for 1, 100, 1000, 10000 drivers",
          [x.split()[2] for x in lines if x.startswith("bench register drivers")]
          == ["drivers=1", "drivers=100", "drivers=1000", "drivers=10000"], out)
    check("complete run: register lines per design (registry, srcu, percpu-ref) and size",
          [" ".join(x.split()[2:4]) for x in lines if x.startswith("bench register design")]
          == ["design=%s drivers=%d" % (x, n) for x in ("registry", "srcu", "percpu-ref")
              for n in (1, 100, 1000, 10000)], out)
    check("complete run: srcu at 1000: register 3, one by one 700, batch 1.005 ms",
          "bench register design=srcu drivers=1000 register_ms=3.000 unregister_ms=700.000 "
          "unregister_batch_ms=1.005" in lines, out)
    check("complete run: one by one at 10000 measured in run 1 only: its figure, not '-'",
          "bench register design=percpu-ref drivers=10000 register_ms=30.000 "
          "unregister_ms=7000.000 unregister_batch_ms=10.005" in lines, out)
    check("complete run: the registry's register and unregister times apart",
          "bench register design=registry drivers=1000 register_ms=50.000 "
          "unregister_ms=40.000 unregister_batch_ms=-" in lines, out)
    check("complete run: 'bench register drivers=1000 ms=90.000' (median, ms)",
          "bench register drivers=1000 ms=90.000" in lines, out)
    goal_lines = [x for x in lines if x.startswith("# METRIC bench_goal")]
    check("complete run: 10 goal lines in the METRIC form, all PASS",
          len(goal_lines) == 10 and all(goal_re.match(x) for x in goal_lines)
          and all(x.endswith("verdict=PASS") for x in goal_lines), out)
    check("complete run: twostage against the faster design (percpu-ref, 31 ns): 0.96-0.99",
          any(re.match(r"# METRIC bench_goal name=twostage_vs_best_design_t1_d1_same "
                       r"value=0\.9[5-9] goal=<=1\.1 verdict=PASS$", x) for x in lines)
          and any(re.match(r"# METRIC bench_info name=best_design_t1_d1_same value=3[01]\.[0-9]+ "
                           r"design=percpu-ref$", x) for x in lines), out)
    check("complete run: twostage's 2-thread gain against the designs', limit theirs - 0.1",
          any(re.match(r"# METRIC bench_goal name=twostage_scaling_vs_designs_t2_spread_d100 "
                       r"value=1\.[89][0-9] goal=>=1\.8[0-9]* verdict=PASS$", x)
              for x in lines)
          and any(x.startswith("# METRIC bench_goal name=twostage_scaling_vs_designs_t2_same_d100 ")
                  for x in lines), out)
    check("complete run: locked's 2-thread figure for information",
          any(re.match(r"# METRIC bench_info name=locked_scaling_t2_spread_d100 "
                       r"value=0\.(79|8[01])$", x) for x in lines), out)
    check("complete run: valid (noop scales >= 1.8)",
          any(x.startswith("bench: run valid: noop scales 1.9") for x in lines)
          and "INVALID" not in out, out)
    check("complete run: a torn live line does not matter (the end-of-run copy is used)",
          "could not be read" not in out, out)
    check("complete run: report.txt has the report",
          open(os.path.join(d, "report.txt")).read().strip().splitlines()[-1]
          == "bench: report %s" % os.path.join(d, "report.txt"), out)
    check("no gnuplot: one line, the tables still printed, data written",
          len([x for x in lines if "gnuplot is not installed" in x]) == 1
          and os.path.exists(os.path.join(d, "ns_per_op-vs-threads.dat"))
          and os.path.exists(os.path.join(d, "ns_per_op-vs-drivers.gp"))
          and any(x.startswith("noop      same         1 | ") for x in lines), out)
    dat = open(os.path.join(d, "ns_per_op-vs-drivers.dat")).read().splitlines()
    check("drivers plot data: one row per driver count, 3 columns per mode",
          [x.split()[0] for x in dat if not x.startswith("#")] == ["1", "100", "10000"]
          and all(len(x.split()) == 25 for x in dat if not x.startswith("#")), "\n".join(dat))

    # Medians, minima and maxima over runs, and the ratio to modref.
    text = "\n".join(["DRVREG-VM-START: 6.12.99 cpus=2",
                      "bench-config runs=3 threads=1 drivers=1 modes=noop,modref "
                      "targets=same cpus=2 register=none short=0"]
                     + ["bench-raw run=%d mode=%s threads=1 drivers=1 target=same mode=%s "
                        "threads=1 loops=10 wall_ns=%d ops=10 ns_per_op=0 errors=0"
                        % (r, m, m, ns * 10)
                        for r, ns in ((1, 3), (2, 1), (3, 2)) for m in ("noop", "modref")]
                     + ["bench-raw-register run=%d drivers=1 register_us=%d unregister_us=0"
                        % (r, us) for r, us in ((1, 1000), (2, 3000), (3, 2000))]) + "\n"
    rc, out, _ = run("stats", text, gnuplot="/nonexistent/gnuplot")
    check("median, min, max over runs; ns from wall_ns/ops",
          "bench mode=noop threads=1 drivers=1 target=same ns_per_op=2.00 min=1.00 max=3.00 "
          "ratio_modref=1.00" in out.splitlines()
          and "bench register drivers=1 ms=2.000" in out.splitlines() and rc == 0, out)

    rc, out, d = run("invalid", synth(noop_scale=1.42, jitter=0), gnuplot="/nonexistent/gnuplot")
    check("noop scaling 1.42: 'run INVALID', exit status still 0",
          "bench: run INVALID: noop scales 1.42 (< 1.8) \u2014 the host took vCPUs away"
          in out.splitlines() and rc == 0, out)
    check("noop scaling 1.42: the plots say so in red",
          'set label "run INVALID: noop scales 1.42 (< 1.8)' in
          open(os.path.join(d, "ns_per_op-vs-threads.gp")).read(), out)

    cell = ("rcu", 2, 100, "spread")
    rc, out, _ = run("missing", synth(drop={(3, cell)}), gnuplot="/nonexistent/gnuplot")
    check("a missing cell: exit 1, the cell and run named",
          rc == 1 and "bench: ERROR: missing cell mode=rcu threads=2 drivers=100 "
          "target=spread in run(s) 3" in out.splitlines(), out)

    text = synth(block=False)
    text = "\n".join(text.splitlines()[:300]) + "\n"   # the guest died
    rc, out, _ = run("died", text, gnuplot="/nonexistent/gnuplot")
    check("no end-of-run copy and a guest that died: live lines used, exit 1",
          rc == 1 and "using the lines printed live" in out
          and "could not be read" in out and "missing cell" in out, out)

    rc, out, _ = run("errors", synth(errors={("locked", 1, 1, "same")}),
                     gnuplot="/nonexistent/gnuplot")
    check("lookup errors in a cell: exit 1",
          rc == 1 and "cell mode=locked threads=1 drivers=1 target=same counted 15 lookup "
          "error(s)" in out, out)

    rc, out, _ = run("goalfail", synth(slow={"rcu": 2.0}), gnuplot="/nonexistent/gnuplot")
    check("rcu 2x modref: goal FAIL reported, exit status 0",
          rc == 0 and any(re.match(r"# METRIC bench_goal name=rcu_vs_modref_t1_d1_same "
                                   r"value=2\.[0-9]+ goal=<=1\.5 verdict=FAIL$", x)
                          for x in out.splitlines()), out)

    rc, out, _ = run("designfail", synth(slow={"twostage": 1.5}, scales={"twostage": 1.6}),
                     gnuplot="/nonexistent/gnuplot")
    check("twostage 1.5x slower, gain 1.6: both goals against the designs FAIL, exit 0",
          rc == 0 and any(re.match(r"# METRIC bench_goal name=twostage_vs_best_design_t1_d1_same "
                                   r"value=1\.[0-9]+ goal=<=1\.1 verdict=FAIL$", x)
                          for x in out.splitlines())
          and len([x for x in out.splitlines() if x.startswith(
              "# METRIC bench_goal name=twostage_scaling_vs_designs_t2_")
              and x.endswith("verdict=FAIL")]) == 2, out)

    rc, out, _ = run("designmissing", synth(drop={(2, "srcu", 1000)}),
                     gnuplot="/nonexistent/gnuplot")
    check("a missing design registration line: exit 1, design, size and run named",
          rc == 1 and "bench: ERROR: missing srcu registration time of 1000 drivers in run(s) 2"
          in out.splitlines(), out)

    rc, out, _ = run("short", synth(runs=1, drivers=(1, 100), register=(), short=True),
                     gnuplot="/nonexistent/gnuplot")
    check("--short run (drivers 1,100): exit 0, no goals, no validity check",
          rc == 0 and "bench: a --short correctness run: no validity check, no goals" in out
          and "METRIC" not in out and "noop scales" not in out and "missing" not in out, out)

    rc, out, _ = run("partial", synth(runs=2, drivers=(1, 100), register=()),
                     gnuplot="/nonexistent/gnuplot")
    check("a timing run without 10000 drivers: those goals named as not measured, exit 0",
          rc == 0 and "bench: goal rcu_growth_d1_to_d10000_t1_same not measured" in out
          and "bench: goal register_d10000_vs_d1000 not measured" in out
          and "verdict=FAIL" not in out, out)

    rc, out, _ = run("four", synth(runs=2, threads=(1, 2, 4)), gnuplot="/nonexistent/gnuplot")
    check("threads 1 2 4 on 2 vCPUs: t=4 marked oversubscribed",
          rc == 0 and "* oversubscribed: 4 thread(s) on 2 vCPUs" in out
          and "| t=4*" in out, out)

    rc, out, _ = run("nolog", "[ 0.1] booting\nDRVREG-VM-EXIT: 1\n", gnuplot="/nonexistent")
    check("a log without a benchmark: exit 2", rc == 2 and "no 'bench-config' line" in out, out)

    gnuplot = shutil.which("gnuplot")
    if gnuplot:
        rc, out, d = run("plots", synth())
        svgs = [os.path.join(d, x) for x in ("ns_per_op-vs-threads.svg",
                                             "ns_per_op-vs-drivers.svg")]
        check("gnuplot: both SVG plots written",
              rc == 0 and all(os.path.getsize(x) > 1000 and "<svg" in open(x).read()
                              for x in svgs if os.path.exists(x))
              and all(os.path.exists(x) for x in svgs), out)
    else:
        print("ok %d gnuplot: both SVG plots written # SKIP gnuplot is not installed"
              % (len(results) + 1))
        results.append(True)
    shutil.rmtree(tmp)
    passed = sum(results)
    print("%d passed, %d failed" % (passed, len(results) - passed))
    return 0 if all(results) else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("log", nargs="?", help="the guest's console log")
    ap.add_argument("--out", help="folder for report.txt and the plots (default: the log's)")
    ap.add_argument("--note", action="append", default=[],
                    help="a line for the report (bench.sh: how busy the host was)")
    ap.add_argument("--self-test", action="store_true", help="test this script")
    a = ap.parse_args()
    if a.self_test:
        return self_test()
    if not a.log:
        ap.error("give the console log (or --self-test)")
    return report(a.log, a.out or os.path.dirname(os.path.abspath(a.log)), a.note)


if __name__ == "__main__":
    sys.exit(main())

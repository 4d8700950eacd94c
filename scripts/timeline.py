#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make demo's timelines: one run's interleaving, drawn from its own trace events.

The demo's guests record drvreg's trace events (rust/drvreg_trace.h), the module loader's
module_load and module_free, and the unload storm's rmmod marks (unload_storm.sh -T). The
racy run's trace reaches the console in the oops's ftrace dump (ftrace_dump_on_oops; a run
whose fault does not panic prints it after the storm instead); a safe run prints its
trace after the storm, each line prefixed 'DRVREG-TRACE <mode>: '. This script reads one
mode's events from such a console log and writes:

- an SVG: one lane per CPU, time across; lookups, pins, the racy lookup's window,
  unregistrations, rmmod marks, module_load/module_free and the fault;
- a few text lines: the events that matter in the window drawn, CPU and time each;
- one line '# METRIC demo_timeline mode=... verdict=PASS|FAIL' saying whether the events
  came in the order the mode promises:
    racy:  the faulting task read the owner, then the loader freed that module, then the
           task faulted, with no reference taken in between (the race);
    safe:  no pin was held across a module_free of its driver's module (the fix).

  timeline.py --log LOG --mode MODE [--svg OUT] [--kernel NAME]
  timeline.py --self-test
"""

import argparse
import html
import re
import sys
import tempfile

# A console line's printk timestamp.
PRINTK = re.compile(r"^\[\s*(\d+\.\d+)\] ?")
# A trace line as the trace file prints it (safe runs): task-pid [cpu] flags secs: event: ...
TRACE_FILE = re.compile(
    r"^\s*(?P<task>.+?)-(?P<pid>\d+)\s+(?:\(\s*[\d-]+\)\s+)?\[(?P<cpu>\d+)\]\s+\S+\s+"
    r"(?P<ts>\d+\.\d+):\s+(?P<ev>\w+):\s?(?P<rest>.*)$")
# ... and as ftrace_dump() prints it (the oops): task-pid cpu+flags usecs: event: ...
# (microseconds since the buffer was last reset).
TRACE_DUMP = re.compile(
    r"^\s*(?P<task>.+?)-(?P<pid>\d+)\s+(?P<cpu>\d+)\S*\s+(?P<ts>\d+)us\s*:\s+"
    r"(?P<ev>\w+):\s?(?P<rest>.*)$")
OOPS = re.compile(r"(BUG: |Oops: |general protection fault|KASAN: )")
OOPS_CPU = re.compile(r"CPU: (\d+) .*PID: (\d+)")
ERRNO = {0: "pinned", -2: "ENOENT", -19: "ENODEV", -35: "EDEADLK", -16: "EBUSY"}


class Event:
    """One trace event: time in microseconds, CPU, task, pid, name, fields."""

    def __init__(self, t, cpu, task, pid, name, rest):
        self.t, self.cpu, self.task, self.pid = t, cpu, task.strip(), pid
        self.name = name[len("drvreg_"):] if name.startswith("drvreg_") else name
        self.rest = rest.strip()
        self.f = dict(re.findall(r"(\w+)=(\S+)", self.rest))

    def what(self):
        """The event as the text lines show it."""
        if self.name in ("module_free", "module_load"):
            return "%s %s" % (self.name, self.rest.split()[0] if self.rest else "")
        if self.name == "tracing_mark_write":
            return self.rest
        return "%s %s" % (self.name, self.rest)


def parse(lines, mode):
    """(events, fault, absolute): one mode's events from a console log, the fault
    (printk time, cpu, pid, header, address) if the log has one after the events began,
    and whether event times are absolute (the trace file's) or relative (a dump's)."""
    events, prefix = [], "DRVREG-TRACE %s: " % mode
    for line in lines:
        if line.startswith(prefix):
            m = TRACE_FILE.match(line[len(prefix):])
            if m:
                events.append(Event(float(m["ts"]) * 1e6, int(m["cpu"]), m["task"],
                                    int(m["pid"]), m["ev"], m["rest"]))
    absolute = bool(events)
    if not events and mode == "racy":
        # The first ftrace dump on the console (a later one, from a second fault, is empty).
        inside = False
        for line in lines:
            body = PRINTK.sub("", line)
            if "Dumping ftrace buffer:" in body:
                if events:
                    break
                inside = True
                continue
            if inside:
                if body.startswith("----") and events:
                    break
                m = TRACE_DUMP.match(body)
                if m:
                    events.append(Event(float(m["ts"]), int(m["cpu"]), m["task"],
                                        int(m["pid"]), m["ev"], m["rest"]))
    fault = None
    if mode == "racy":
        for i, line in enumerate(lines):
            body = PRINTK.sub("", line)
            if OOPS.match(body) and PRINTK.match(line):
                cpu = pid = None
                for later in lines[i:i + 40]:
                    m = OOPS_CPU.search(later)
                    if m:
                        cpu, pid = int(m[1]), int(m[2])
                        break
                addr = re.search(r"address:? (?:0x)?([0-9a-f]{8,16})", body)
                fault = {"t": float(PRINTK.match(line)[1]) * 1e6, "cpu": cpu, "pid": pid,
                         "header": body.strip(), "addr": addr[1] if addr else None}
                break
    events.sort(key=lambda e: e.t)
    # Each CPU's ring buffer keeps its own last events: before the latest of the CPUs'
    # first events, some CPU's events are missing (a pin seen without its unpin).
    first = {}
    for e in events:
        first.setdefault(e.cpu, e.t)
    if first:
        complete = max(first.values())
        events = [e for e in events if e.t >= complete]
    return events, fault, absolute


def racy_story(events, fault, absolute):
    """The racy run's window and verdict: the faulting task's last window (owner read),
    the module_free inside it, then the fault. Returns (lo, hi, fault_t, lines, ok)."""
    if not fault or fault["pid"] is None:
        return None
    mine = [e for e in events if e.pid == fault["pid"]]
    pf = [e for e in mine if e.name == "page_fault_kernel"]
    starts = [e for e in mine if e.name == "racy_window_start"
              and (not pf or e.t <= pf[-1].t)]
    if not starts:
        return None
    read = starts[-1]
    owner = read.f.get("owner", "?")
    pf = [e for e in pf if e.t >= read.t]
    frees = [e for e in events if e.name == "module_free" and e.t >= read.t]
    timed = ""
    if pf:
        # The fault itself, traced (exceptions:page_fault_kernel).
        fault_t = pf[0].t
    elif absolute:
        fault_t = fault["t"]
    else:
        # A dump's times are relative to the buffer's reset, and this fault was not
        # traced: all the trace says is that it came after the task's last event.
        fault_t = mine[-1].t + 1
        timed = " (not traced: placed after the task's last event)"
    frees = [e for e in frees if e.t <= fault_t]
    gets = [e for e in mine if read.t < e.t <= fault_t and e.name in ("pin", "lookup_end")]
    addr = (pf[0].f.get("address") if pf else None) or fault.get("addr") or ""
    same = addr.lower().lstrip("0x").lstrip("0") == owner.lower().lstrip("0x").lstrip("0")
    ok = bool(frees) and not gets and same
    lo = min([read.t] + [e.t for e in events if e.name == "unregister_begin"
                         and read.t - 50000 <= e.t <= fault_t])
    span = max(fault_t - lo, 1.0)
    lo, hi = lo - span * 0.25, fault_t + span * 0.1
    keep = ("racy_window_start", "racy_window_end", "unregister_begin", "unregister_wait",
            "unregister_end", "module_free", "module_load", "tracing_mark_write")
    shown = [e for e in events if read.t <= e.t <= fault_t and e.name in keep
             and (e.pid == read.pid or not e.name.startswith("racy"))]
    lines = []
    for e in shown:
        note = ""
        if e is read:
            note = "  <- owner read: no lock held, no reference taken"
        elif e.name == "module_free":
            note = "  <- the module's memory (its struct module at the owner) is freed"
        elif e.name == "racy_window_end" and e.pid == read.pid:
            note = "  <- try_module_get(owner) next"
        lines.append("  CPU%-2d %+10.3f ms  %-18s %s%s" % (e.cpu, (e.t - read.t) / 1000,
                                                           "%s-%d" % (e.task, e.pid),
                                                           e.what(), note))
    lines.append("  CPU%-2s %+10.3f ms  %-18s FAULT: %s%s%s" % (
        pf[0].cpu if pf else fault["cpu"], (fault_t - read.t) / 1000,
        "%s-%d" % (read.task, read.pid), fault["header"],
        " (the owner it read)" if same else "", timed))
    return lo, hi, fault_t, lines, ok


def safe_story(events):
    """A safe run's window and verdict: the last module_free, with the rmmod attempts
    before it; no pin held across any module_free. Returns (lo, hi, lines, ok, across)."""
    frees = [e for e in events if e.name == "module_free"]
    if not frees:
        return None
    # Pins held at each free: per task, the pin events not yet unpinned.
    held, across = {}, 0
    for e in events:
        if e.name == "pin":
            held[e.pid] = e
        elif e.name == "unpin":
            held.pop(e.pid, None)
        elif e.name == "module_free":
            across += len(held)
    # The unload that pins came closest to: the most pins started in the window before
    # its free (the latest such free), the window twenty typical pins long.
    pins = spans(events, "pin", "unpin")
    lengths = sorted(e.t - s.t for s, e in pins if e)
    width = max(20 * (lengths[len(lengths) // 2] if lengths else 1000), 10000)
    last = max(frees, key=lambda f: (sum(1 for s, _ in pins if f.t - width <= s.t <= f.t), f.t))
    lo, hi = last.t - width, last.t + width * 0.08
    keep = ("unregister_begin", "unregister_wait", "unregister_end", "module_free",
            "module_load", "tracing_mark_write")
    lines = []
    for e in events:
        if lo <= e.t <= last.t and (e.name in keep or (e.name == "lookup_end"
                                                       and e.f.get("err") not in ("0", "-2"))):
            lines.append("  CPU%-2d %+10.3f ms  %-18s %s" % (e.cpu, (e.t - last.t) / 1000,
                                                          "%s-%d" % (e.task, e.pid), e.what()))
    return lo, hi, lines[-12:], across == 0, across


def spans(events, start, end, key=lambda e: e.pid):
    """(start event, end event or None) pairs of each task's start...end events."""
    open_, out = {}, []
    for e in events:
        if e.name == start:
            if key(e) in open_:
                # Its end was not traced (a CPU's buffer lost it): it ended before this.
                out.append((open_[key(e)], e))
            open_[key(e)] = e
        elif e.name == end and key(e) in open_:
            out.append((open_.pop(key(e)), e))
    out.extend((s, None) for s in open_.values())
    return out


def svg(events, lo, hi, title, fault=None, fault_t=None):
    """The timeline as SVG text: a lane per CPU, time across [lo, hi] microseconds."""
    shown = [e for e in events if lo <= e.t <= hi]
    cpus = sorted({e.cpu for e in events} | ({fault["cpu"]} if fault and fault["cpu"] is not None else set()))
    left, width, lane, top = 70, 980, 50, 50
    height = top + lane * len(cpus) + 120
    y = {c: top + i * lane for i, c in enumerate(cpus)}

    def x(t):
        return left + (min(max(t, lo), hi) - lo) / (hi - lo) * width

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="11">' % (left + width + 30, height),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="20" font-size="14">%s</text>' % (left, html.escape(title))]
    for c in cpus:
        out.append('<text x="8" y="%d">CPU %d</text>' % (y[c] + 22, c))
        out.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#ccc"/>'
                   % (left, left + width, y[c] + lane - 4, y[c] + lane - 4))
    # Time axis, in milliseconds from the window's start.
    span_ms = (hi - lo) / 1000
    step = next(s for s in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
                if span_ms / s <= 10)
    axis = top + lane * len(cpus) + 4
    k = 0
    while k * step <= span_ms:
        xx = left + k * step * 1000 / (hi - lo) * width
        out.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#888"/>' % (xx, xx, axis, axis + 5))
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%g ms</text>' % (xx, axis + 17, k * step))
        k += 1

    # A task's spans go in its own sub-row of the lane (tasks sleep in them, so two can
    # be open on one CPU): the stress workers alternate between two.
    slot = {}

    def bar(s, e, row, h, color, label=None):
        t1 = e.t if e else hi
        if t1 < lo or s.t > hi or s.cpu not in y:
            return
        if row == 14:
            row += 9 * slot.setdefault(s.pid, len(slot) % 2)
        x0, x1 = x(s.t), max(x(t1), x(s.t) + 1.5)
        out.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s</title></rect>'
                   % (x0, y[s.cpu] + row, x1 - x0, h, color,
                      html.escape("%s-%d %s" % (s.task, s.pid, label or s.what()))))

    for e in shown:
        if e.name == "lookup_end" and e.f.get("err") not in (None, "0"):
            err = e.f["err"]
            out.append('<rect x="%.1f" y="%d" width="2" height="10" fill="#e08a00">'
                       '<title>%s-%d lookup refused: %s</title></rect>'
                       % (x(e.t), y[e.cpu] + 2, html.escape(e.task), e.pid,
                          ERRNO.get(int(err), err) if err.lstrip("-").isdigit() else err))
    for s, e in spans(events, "pin", "unpin"):
        bar(s, e, 14, 8, "#1f77b4", "pinned")
    for s, e in spans(events, "racy_window_start", "racy_window_end"):
        bar(s, e, 14, 8, "#d62728", "racy window: owner read, no lock, no reference")
    for s, e in spans(events, "unregister_begin", "unregister_end"):
        bar(s, e, 34, 8, "#9467bd", "unregistering")
    labelled = -1000.0
    for e in shown:
        if e.name in ("module_free", "module_load"):
            color = "#d62728" if e.name == "module_free" else "#4c9a2a"
            if x(e.t) - labelled < 150:
                out.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="%s" stroke-dasharray="4,3"/>'
                           % (x(e.t), x(e.t), top - 6, axis, color))
                continue
            labelled = x(e.t)
            out.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="%s" stroke-dasharray="4,3"/>'
                       % (x(e.t), x(e.t), top - 6, axis, color))
            anchor = "end" if x(e.t) > left + width - 90 else "middle"
            out.append('<text x="%.1f" y="%d" fill="%s" text-anchor="%s">%s</text>'
                       % (x(e.t), top - 9, color, anchor, html.escape(e.what())))
        elif e.name == "unregister_wait":
            out.append('<circle cx="%.1f" cy="%d" r="3" fill="#9467bd"><title>unregister waits for pins</title></circle>'
                       % (x(e.t), y[e.cpu] + 38))
        elif e.name == "tracing_mark_write" and e.rest.startswith("storm: rmmod "):
            word = e.rest.split()[-1]
            out.append('<text x="%.1f" y="%d" fill="#555" text-anchor="middle">rmmod %s</text>'
                       % (x(e.t), y[e.cpu] + 48, html.escape(word)))
    if fault and fault_t is not None and fault["cpu"] in y:
        read = [e for e in events if e.pid == fault["pid"] and e.name == "racy_window_start"
                and e.t <= fault_t]
        if read:
            r = read[-1]
            out.append('<text x="%.1f" y="%d" fill="#d62728">%s-%d read the owner here</text>'
                       % (x(r.t), y[r.cpu] + 44, html.escape(r.task), r.pid))
        fx, fy = x(fault_t), y[fault["cpu"]] + 18
        out.append('<path d="M%.1f %d l12 12 m0 -12 l-12 12" stroke="#d62728" stroke-width="3"/>'
                   % (fx - 6, fy - 6))
        out.append('<text x="%.1f" y="%d" fill="#d62728" text-anchor="end">fault</text>' % (fx - 9, fy + 4))
    legend = [("#1f77b4", "pinned (lookup to unpin)"), ("#e08a00", "lookup refused"),
              ("#d62728", "racy window: owner read, no reference"), ("#9467bd", "unregister")]
    lx = left
    for color, text in legend:
        out.append('<rect x="%d" y="%d" width="12" height="8" fill="%s"/>' % (lx, axis + 32, color))
        out.append('<text x="%d" y="%d">%s</text>' % (lx + 16, axis + 40, html.escape(text)))
        lx += 25 + 6 * len(text)
    out.append('<text x="%d" y="%d" fill="#555">dashed: the loader\'s module_load (green) and '
               'module_free (red); rmmod ok/busy: the storm\'s marks</text>' % (left, axis + 60))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def run(log_lines, mode, kernel, svg_path):
    """Prints the text lines and the METRIC line; writes the SVG. Returns the verdict."""
    events, fault, absolute = parse(log_lines, mode)
    if not events:
        print("timeline %s: no trace events in the log (no tracefs, or drvreg's events "
              "missing)" % mode)
        print("# METRIC demo_timeline mode=%s events=0 verdict=FAIL" % mode)
        return False
    if mode == "racy":
        story = racy_story(events, fault, absolute)
        if story is None:
            print("timeline racy: %d events, but no fault after a racy window in them" % len(events))
            print("# METRIC demo_timeline mode=racy events=%d verdict=FAIL" % len(events))
            return False
        lo, hi, fault_t, lines, ok = story
        print("timeline racy (%s): the faulting lookup's window, from its trace%s:"
              % (kernel, "" if absolute else " (dumped by the oops)"))
        print("\n".join(lines))
        print("# METRIC demo_timeline mode=racy events=%d order=owner_read,module_free,fault "
              "verdict=%s" % (len(events), "PASS" if ok else "FAIL"))
        title = "racy lookup on %s: owner read, module freed, fault" % kernel
        picture = svg(events, lo, hi, title, fault, fault_t)
    else:
        story = safe_story(events)
        if story is None:
            print("timeline %s: %d events, no module_free among them" % (mode, len(events)))
            print("# METRIC demo_timeline mode=%s events=%d verdict=FAIL" % (mode, len(events)))
            return False
        lo, hi, lines, ok, across = story
        print("timeline %s (%s): the storm's last unload, times from its module_free:" % (mode, kernel))
        print("\n".join(lines))
        print("# METRIC demo_timeline mode=%s events=%d pins_across_free=%d verdict=%s"
              % (mode, len(events), across, "PASS" if ok else "FAIL"))
        title = "%s lookups on %s: the storm's last unload" % (mode, kernel)
        picture = svg(events, lo, hi, title)
    if svg_path:
        with open(svg_path, "w") as f:
            f.write(picture)
    return ok


SELF_DUMP = """\
[    9.100000] Dumping ftrace buffer:
[    9.100000] ---------------------------------
[    9.100000] unload_s-5         1..... 900us : tracing_mark_write: storm: rmmod
[    9.100000] drvreg/s-71        3..... 1000us : drvreg_lookup_start: mode=racy name=s err=0
[    9.100000] drvreg/s-71        3..... 1010us : drvreg_racy_window_start: name=s owner=0xffffffffa0030340
[    9.100000]    rmmod-9         1..... 1200us : drvreg_unregister_begin: name=s module=m
[    9.100000]    rmmod-9         1..... 1300us : drvreg_unregister_end: name=s module=m
[    9.100000]    rmmod-9         1..... %s : module_free: m
[    9.100000] drvreg/s-71        3..... 3000us : drvreg_racy_window_end: name=s owner=0xffffffffa0030340
[    9.100000] ---------------------------------
"""
SELF_FAULT = """\
[    9.100000] drvreg/s-71        3d.... 3005us : page_fault_kernel: address=0xffffffffa0030340 ip=x error_code=0x0
"""
SELF_OOPS = """\
[    9.000000] BUG: unable to handle page fault for address: ffffffffa0030340
[    9.000000] CPU: 3 UID: 0 PID: 71 Comm: drvreg/stress1 Tainted: G O 6.12.118 #1
"""
SELF_SAFE = """\
DRVREG-TRACE locked:  unload_storm-5  [001] .....  0.999000: tracing_mark_write: storm: rmmod
DRVREG-TRACE locked:  drvreg/stress0-7  [000] .....  1.000000: drvreg_lookup_start: mode=locked name=s err=0
DRVREG-TRACE locked:  drvreg/stress0-7  [000] .....  1.000100: drvreg_pin: name=s hold=module
DRVREG-TRACE locked:  drvreg/stress0-7  [000] .....  1.000200: drvreg_lookup_end: mode=locked name=s err=0
DRVREG-TRACE locked:  unload_storm-5  [001] .....  1.001000: tracing_mark_write: storm: rmmod busy
DRVREG-TRACE locked:  drvreg/stress0-7  [000] .....  %s: drvreg_unpin: name=s hold=module
DRVREG-TRACE locked:  rmmod-6  [001] .....  1.003000: drvreg_unregister_begin: name=s module=m
DRVREG-TRACE locked:  rmmod-6  [001] .....  1.003100: drvreg_unregister_end: name=s module=m
DRVREG-TRACE locked:  rmmod-6  [001] .....  1.004000: module_free: m
DRVREG-TRACE locked:  unload_storm-5  [001] .....  1.004100: tracing_mark_write: storm: rmmod ok
"""


def self_test():
    """The verdicts on synthetic logs that must pass and must fail; the SVG is drawn."""
    import io
    import contextlib
    cases = [
        ("racy: free inside the window", "racy", SELF_OOPS + SELF_DUMP % "2000us", True),
        ("racy: free after the fault", "racy", SELF_OOPS + SELF_DUMP % "5000us", False),
        ("racy: no fault", "racy", SELF_DUMP % "2000us", False),
        ("racy: the fault traced", "racy", SELF_OOPS + (SELF_DUMP % "2000us").replace(
            "[    9.100000] ----------------------------------\n", "") + SELF_FAULT, True),
        ("locked: unpinned before the free", "locked", SELF_SAFE % "1.002000", True),
        ("locked: a pin across the free", "locked", SELF_SAFE % "1.005000", False),
        ("no events", "rcu", SELF_SAFE % "1.002000", False),
    ]
    failed = 0
    with tempfile.TemporaryDirectory() as d:
        for name, mode, log, want in cases:
            path = "%s/t.svg" % d
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                got = run(log.splitlines(), mode, "test", path)
            metric = [l for l in buf.getvalue().splitlines() if l.startswith("# METRIC")]
            good = got == want and len(metric) == 1 and \
                metric[0].endswith("verdict=" + ("PASS" if want else "FAIL"))
            if good and want:
                with open(path) as f:
                    pic = f.read()
                good = pic.startswith("<svg") and "CPU 1" in pic and \
                    ("fault" in pic) == (mode == "racy")
            print("%s: %s" % ("ok" if good else "FAIL", name))
            failed += not good
    print("timeline self-test: %d of %d failed" % (failed, len(cases)))
    return failed == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--log", help="the guest's console log")
    ap.add_argument("--mode", help="racy, or a safe mode (locked, rcu, twostage)")
    ap.add_argument("--kernel", default="?", help="the lane's name, for the title")
    ap.add_argument("--svg", help="write the picture here")
    ap.add_argument("--self-test", action="store_true")
    a = ap.parse_args()
    if a.self_test:
        return 0 if self_test() else 1
    if not a.log or not a.mode:
        ap.error("--log and --mode are needed")
    with open(a.log, errors="replace") as f:
        lines = [l.rstrip("\r\n") for l in f]
    return 0 if run(lines, a.mode, a.kernel, a.svg) else 1


if __name__ == "__main__":
    sys.exit(main())

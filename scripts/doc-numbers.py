#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Rewrite the measured numbers that README.md and Documentation/*.rst quote, from the
logs of real runs, so that no figure is typed by hand (make numbers).

A quoted figure lives in a marked block:

  Markdown:  <!-- numbers:NAME -->  ...  <!-- /numbers -->
  rst:       .. numbers:NAME        ...  .. /numbers

and NAME says where it comes from:

  demo:KERNEL   out/demo/summary-KERNEL.txt (written by make demo): the table, the
                fault report and the wall time
  check         out/check/summary.txt (written by make check): lanes, totals, wall time
                (of a run of every lane make check runs only)
  boots         out/boots/results.txt (written by make boots): crashes in N boots, per
                lane and QEMU version
  lanes         scripts/lanes.conf: the lane table (lane, kernel, what make check runs
                there, what it proves)
  kernels       the kernel builds of out/fresh/ci.log, else $DRVREG_CACHE/logs/
                kernel-*.seconds (written by scripts/kernel.sh): how long each took here
  bench         out/bench/report.txt (written by make bench): the table, registration
                times, validity and goals
  soak:KERNEL   the last soak of KERNEL (out/soak/last-KERNEL.txt, written by
                scripts/soak.sh; else an older make check's short soak): its METRIC line,
                command and time
  fresh:NAME    out/fresh/NAME.log (written by scripts/fresh.sh): the time a command took
                on a fresh Debian bookworm, and how it ended
  timeline:KERNEL  the racy row's timeline of make demo on KERNEL: its picture
                (out/demo/timeline-racy-KERNEL.svg, copied to Documentation/images/) and
                its text lines (out/demo/summary-KERNEL.txt), rst only

A block whose source is missing is left as it is, and said so. --check rewrites nothing
and exits 1 if a block would change. Prints one line per block. --self-test runs the
script on synthetic logs in a temporary tree (make check runs it).
"""
import os
import re
import sys

import shutil
import tempfile

ROOT = OUT = CACHE = None


def configure(root, cache):
    global ROOT, OUT, CACHE
    ROOT, OUT, CACHE = root, os.path.join(root, 'out'), cache


configure(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
          os.environ.get('DRVREG_CACHE') or os.path.join(
              os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'), 'drvreg'))


def files():
    docs = os.path.join(ROOT, 'Documentation')
    return ['README.md'] + sorted(
        os.path.join('Documentation', f) for f in os.listdir(docs) if f.endswith('.rst'))


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def mins(s):
    s = int(s)
    return f'{s // 60} min {s % 60} s' if s >= 60 else f'{s} s'


def literal(lines, rst):
    """A preformatted block: '::' + indented lines in rst, 4-space indent in Markdown."""
    body = ['    ' + l.rstrip() if l.strip() else '' for l in lines]
    return (['::', ''] if rst else []) + body


def demo(kernel, rst):
    text = read(os.path.join(OUT, 'demo', f'summary-{kernel}.txt'))
    if text is None:
        return None, f'out/demo/summary-{kernel}.txt is missing (run KERNEL={kernel} make demo)'
    lines = text.strip('\n').split('\n')
    took = next((l for l in lines if l.startswith('demo: took ')), '')
    secs = re.sub(r'\D', '', took)
    # (Paths as the reader's checkout has them: relative to the project.)
    table = [l.replace(ROOT + '/', '') for l in lines if not l.startswith('demo: took ')]
    head = (f'Real output of ``make demo`` on the {kernel} kernel ({mins(secs)}, kernel cached):'
            if rst else f'Real output of `make demo` on the {kernel} kernel ({mins(secs)}, kernel cached):')
    return [head, ''] + literal(table, rst), f'demo on {kernel}: {mins(secs)}'


def lane_rows():
    """scripts/lanes.conf's rows as dicts (its '#lane' header names the columns; the
    last, 'proves', is the rest of the line)."""
    text = read(os.path.join(ROOT, 'scripts', 'lanes.conf')) or ''
    cols, rows = [], []
    for line in text.split('\n'):
        if line.startswith('#lane'):
            cols = line[1:].split()
        elif line.strip() and not line.startswith('#') and cols:
            f = line.split(None, len(cols) - 1)
            rows.append(dict(zip(cols, f)))
    return rows


def check_lanes():
    return ' '.join(r['lane'] for r in lane_rows() if r.get('check', '-') != '-')


def lanes(rst):
    rows = lane_rows()
    if not rows:
        return None, 'scripts/lanes.conf has no lanes'
    q = '``' if rst else '`'
    out = ['| lane | kernel | make check runs | proves |', '| --- | --- | --- | --- |']
    for r in rows:
        steps = 'not run' if r['check'] == '-' else 'build, ' + r['check'].replace(',', ', ')
        if r['check'] != '-' and 'ksft' in r['check']:
            steps += f' (modes: {r["modes"].replace(",", ", ")})'
        out.append(f'| {q}{r["lane"]}{q} | {q}{r["kernel"]}{q} | {steps} | {r["proves"]} |')
    return out, f'lanes: {len(rows)} rows'


def boots(rst):
    text = read(os.path.join(OUT, 'boots', 'results.txt'))
    if not text:
        return None, 'out/boots/results.txt is missing (run make boots)'
    q = '``' if rst else '`'
    out = []
    for line in sorted(text.strip().split('\n')):
        kv = dict(w.split('=', 1) for w in line.split() if '=' in w)
        out.append(f'- {q}{kv["kernel"]}{q}, QEMU {kv["qemu"]}, {q}tsc={kv.get("tsc", "kernel")}{q}, '
                   f'{kv["cpus"]} vCPUs: **{kv["crashes"]} crashes in {kv["boots"]} boots**')
    return out, f'boots: {len(out)} runs'


def check(rst):
    text = read(os.path.join(OUT, 'check', 'summary.txt'))
    if text is None:
        return None, 'out/check/summary.txt is missing (run make check)'
    kv = dict(l.split(': ', 1) for l in text.strip().split('\n') if ': ' in l)
    if kv.get('kernels') != check_lanes():
        return None, f'the last make check ran lanes {kv.get("kernels")} only, not {check_lanes()}'
    q = '``' if rst else '`'
    # Each lane's wall time, from its tallies ('passed failed skipped seconds').
    walls = []
    for lane in kv['kernels'].split():
        c = (read(os.path.join(OUT, 'check', f'{lane}.counts')) or '').split()
        if len(c) == 4:
            walls.append(f'{lane} {mins(c[3])}')
    per_lane = f'; per lane, two at a time: {", ".join(walls)}' if walls else ''
    line = (f'Last measured ``make check`` here (lanes {kv["kernels"]}, kernels cached): '
            f'{mins(kv["seconds"])}, {q}{kv["totals"]}{q}{per_lane}.')
    if not rst:
        line = line.replace('``', '`')
    return [line], f'check: {mins(kv["seconds"])}, {kv["totals"]}'


def kernels(rst):
    """From the fresh-machine CI log if there is one (every kernel built there, as a new
    user's would be), else from the build times scripts/kernel.sh recorded here."""
    got, where = [], ''
    text = read(os.path.join(OUT, 'fresh', 'ci.log'))
    if text:
        got = [f'{k} {mins(t)}' for k, t in re.findall(r'built the (\w+) kernel in (\d+) s', text)]
        where = ' (the fresh-machine CI run)'
    if not got:
        logs = os.path.join(CACHE, 'logs')
        for k in [r['lane'] for r in lane_rows() if r.get('kernel', '').startswith('src:')]:
            t = read(os.path.join(logs, f'kernel-{k}.seconds'))
            if t and t.strip().isdigit():
                got.append(f'{k} {mins(t.strip())}')
    if not got:
        return None, 'no kernel build time recorded (out/fresh/ci.log, kernel-*.seconds)'
    q = '``' if rst else '`'
    line = f'Kernel builds measured on this machine{where} (2 cores, {q}-j3{q}): ' + ', '.join(got) + '.'
    return [line], 'kernels: ' + ', '.join(got)


def bench(rst):
    text = read(os.path.join(OUT, 'bench', 'report.txt'))
    if text is None:
        return None, 'out/bench/report.txt is missing (run make bench)'
    lines = text.strip('\n').split('\n')
    if '--short' in lines[0]:
        return None, 'out/bench/report.txt is a --short run (a correctness run, not a timing): kept'
    # The ns-per-lookup table (up to the first blank line after it), the register/unregister
    # table per design (likewise), then the validity line and the goals; not the ratio
    # table, the per-cell lines ('bench mode=...', 'bench register ...': for scripts) or the
    # file names.
    end = next(i for i, l in enumerate(lines) if i > 5 and l == '')
    keep = lines[:end] + ['']
    reg = next((i for i, l in enumerate(lines) if l.startswith('register / unregister')), None)
    if reg is not None:
        reg_end = next((i for i, l in enumerate(lines) if i > reg and l == ''), len(lines))
        keep += lines[reg:reg_end] + ['']
    keep += [l for l in lines[end:] if l.startswith(('bench register drivers', 'bench: host:',
                                                     'bench: run ', '# METRIC'))]
    return literal(keep, rst), f'bench: {len(keep)} lines'



def fresh(name, rst):
    text = read(os.path.join(OUT, 'fresh', f'{name}.log'))
    if text is None:
        return None, f'out/fresh/{name}.log is missing (run scripts/fresh.sh)'
    m = re.search(r'^fresh: (.*): exit (\d+) in (\d+) s$', text, re.M)
    if not m:
        return None, f'out/fresh/{name}.log has no final line (still running?)'
    cmd, rc, secs = m.groups()
    totals = re.findall(r'^\d+ passed, \d+ failed.*$', text, re.M)
    q = '``' if rst else '`'
    end = f', ending {q}{totals[-1]}{q}' if totals else ''
    status = 'succeeded' if rc == '0' else f'FAILED (exit {rc})'
    line = (f'On a fresh Debian bookworm (a minimal chroot with no packages and no caches, '
            f'{q}scripts/fresh.sh{q}), {q}{cmd}{q} {status} in {mins(secs)}{end}.')
    return [line], f'fresh {name}: exit {rc} in {mins(secs)}'


def soak(kernel, rst):
    """The last soak of KERNEL: out/soak/last-KERNEL.txt (written by scripts/soak.sh), else
    the short soak of an older make check (its log, or the fresh-machine CI run's lines)."""
    text = read(os.path.join(OUT, 'soak', f'last-{kernel}.txt'))
    metric = re.findall(r'^# METRIC soak .*$', text or '', re.M)
    secs = re.findall(r'^seconds: (\d+)$', text or '', re.M)
    cmd = re.findall(r'^command: (.*)$', text or '', re.M)
    if not (metric and secs and cmd):
        cmd = [f'KERNEL={kernel} scripts/soak.sh --check']
        text = read(os.path.join(OUT, 'check', f'{kernel}-soak.log'))
        metric = re.findall(r'^# METRIC soak .*$', text or '', re.M)
        secs = re.findall(r'shard\(s\), (\d+) s this time', text or '')
    if not (metric and secs):
        text = read(os.path.join(OUT, 'fresh', 'ci.log')) or ''
        metric = ['# ' + m for m in re.findall(rf'^{kernel}: ok - (METRIC soak .*)$', text, re.M)]
        secs = re.findall(rf'done in (\d+) s: \[{kernel}\] short soak', text)
    if not (metric and secs):
        return None, (f'no soak of {kernel} in out/soak/last-{kernel}.txt, '
                      f'out/check/{kernel}-soak.log or out/fresh/ci.log')
    q = '``' if rst else '`'
    return literal([metric[-1]], rst) + ['', f'({q}{cmd[-1]}{q}, {mins(secs[-1])}.)'], \
        f'soak {kernel}: {mins(secs[-1])}'


def timeline(kernel, rst, check_only):
    """The racy row's picture (copied into Documentation/images/) and text lines."""
    text = read(os.path.join(OUT, 'demo', f'summary-{kernel}.txt'))
    pic = read(os.path.join(OUT, 'demo', f'timeline-racy-{kernel}.svg'))
    if text is None or pic is None:
        return None, f'out/demo/summary-{kernel}.txt or timeline-racy-{kernel}.svg is missing (run KERNEL={kernel} make demo)'
    lines = text.strip('\n').split('\n')
    try:
        first = next(i for i, l in enumerate(lines) if l.startswith('timeline racy'))
        last = next(i for i in range(first, len(lines))
                    if lines[i].startswith('# METRIC demo_timeline mode=racy'))
    except StopIteration:
        return None, f'out/demo/summary-{kernel}.txt has no racy timeline'
    name = f'images/timeline-racy-{kernel}.svg'
    dest = os.path.join(ROOT, 'Documentation', name)
    if not check_only and read(dest) != pic:
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, 'w') as f:
            f.write(pic)
    fig = [f'.. figure:: {name}', f'   :alt: the racy lookup, the unload and the fault on the {kernel} kernel', '',
           f'   ``make demo`` on the {kernel} kernel, its racy row, drawn by ``scripts/timeline.py`` from the',
           '   trace the oops dumped (one lane per CPU, time across).', '']
    return fig + literal(lines[first:last + 1], rst), f'timeline on {kernel}'


def generate(name, rst, check_only=False):
    if name.startswith('timeline:'):
        return timeline(name[9:], rst, check_only)
    if name.startswith('soak:'):
        return soak(name[5:], rst)
    if name.startswith('demo:'):
        return demo(name[5:], rst)
    if name.startswith('fresh:'):
        return fresh(name[6:], rst)
    return {'check': check, 'kernels': kernels, 'bench': bench, 'lanes': lanes,
            'boots': boots}[name](rst)


def rewrite(check_only):
    """Rewrites (or with check_only, compares) every block; returns how many differ."""
    changed = 0
    for rel in files():
        path = os.path.join(ROOT, rel)
        text = read(path)
        rst = rel.endswith('.rst')
        if rst:
            pat = re.compile(r'^\.\. numbers:(\S+)\n(.*?)^\.\. /numbers\n', re.M | re.S)
        else:
            pat = re.compile(r'^<!-- numbers:(\S+) -->\n(.*?)^<!-- /numbers -->\n', re.M | re.S)

        def repl(m):
            nonlocal changed
            name, old = m.group(1), m.group(2)
            lines, why = generate(name, rst, check_only)
            if lines is None:
                print(f'{rel}: {name}: kept ({why})')
                return m.group(0)
            new = '\n' + '\n'.join(lines) + '\n\n'
            if new != old:
                changed += 1
            print(f'{rel}: {name}: {"updated" if new != old else "current"} ({why})')
            start = f'.. numbers:{name}\n' if rst else f'<!-- numbers:{name} -->\n'
            end = '.. /numbers\n' if rst else '<!-- /numbers -->\n'
            return start + new + end

        out = pat.sub(repl, text)
        if out != text and not check_only:
            with open(path, 'w') as f:
                f.write(out)
    return changed


def self_test():
    """The script on synthetic logs: every source kind, a missing one, --check."""
    def write(path, text):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            f.write(text)

    fails = 0

    def expect(what, ok):
        nonlocal fails
        print(('ok - ' if ok else 'not ok - ') + what)
        fails += not ok

    tmp = tempfile.mkdtemp(prefix='doc-numbers-')
    try:
        configure(tmp, os.path.join(tmp, 'cache'))
        write(f'{tmp}/README.md', 'x\n<!-- numbers:check -->\nold\n<!-- /numbers -->\n'
              '<!-- numbers:demo:base -->\nold demo\n<!-- /numbers -->\n'
              '<!-- numbers:fresh:ci -->\nold fresh\n<!-- /numbers -->\n'
              '<!-- numbers:lanes -->\nold lanes\n<!-- /numbers -->\ny\n')
        write(f'{tmp}/Documentation/a.rst', 'T\n\n.. numbers:kernels\n\nold\n\n.. /numbers\n'
              '.. numbers:soak:debug\n\nold soak\n\n.. /numbers\n'
              '.. numbers:timeline:base\n\nold timeline\n\n.. /numbers\nend\n')
        write(f'{tmp}/out/demo/timeline-racy-base.svg', '<svg>picture</svg>\n')
        write(f'{tmp}/scripts/lanes.conf', '# c\n#lane kernel modes check proves\n'
              'base src:6.12 all lint,ksft what base proves\nextra src:6.12 all - an extra lane\n'
              'debug src:6.12 all ksft what debug proves\n'
              'distro deb:sid locked ksft what distro proves\n')
        write(f'{tmp}/out/check/summary.txt', 'kernels: base debug distro\nseconds: 1731\n'
              'totals: 120 passed, 0 failed, 2 skipped\n')
        write(f'{tmp}/out/demo/summary-base.txt', 'drvreg demo on the base kernel\n'
              'racy 1 2 3\ntimeline racy (base): the window\n  CPU1 +0.000 ms read\n'
              '# METRIC demo_timeline mode=racy events=9 verdict=PASS\n# METRIC demo_timeline mode=locked\n'
              'demo: took 41 s\n')
        write(f'{tmp}/cache/logs/kernel-debug.seconds', '612\n')
        write(f'{tmp}/out/check/debug-soak.log', 'drvreg: soak on the debug kernel: 1 shard(s), '
              '700 s this time\n# METRIC soak kernel=debug cycles=500 verdict=PASS\n')
        # fresh:ci has no log: its block is kept.
        expect('--check counts the 6 blocks whose sources exist', rewrite(True) == 6)
        expect('--check wrote nothing', 'old demo' in open(f'{tmp}/README.md').read()
               and not os.path.exists(f'{tmp}/Documentation/images'))
        rewrite(False)
        r = open(f'{tmp}/README.md').read()
        a = open(f'{tmp}/Documentation/a.rst').read()
        expect('check: lanes, 28 min 51 s, totals',
               'lanes base debug distro, kernels cached): 28 min 51 s, '
               '`120 passed, 0 failed, 2 skipped`.' in r)
        expect('demo: the table and 41 s', '(41 s, kernel cached)' in r and '    racy 1 2 3' in r
               and 'demo: took' not in r)
        expect('fresh without a log: kept', 'old fresh' in r)
        expect('lanes: one row per lane, the steps and modes of make check, "not run"',
               '| `base` | `src:6.12` | build, lint, ksft (modes: all) | what base proves |' in r
               and '| `extra` | `src:6.12` | not run | an extra lane |' in r and 'old lanes' not in r)
        expect('kernels: debug 10 min 12 s (rst quoting)', 'debug 10 min 12 s.' in a and '``-j3``' in a)
        expect('soak: the METRIC line as a literal block, 11 min 40 s',
               '::\n\n    # METRIC soak kernel=debug cycles=500 verdict=PASS' in a and '11 min 40 s' in a)
        expect('timeline: the figure, the picture copied, the racy lines only',
               '.. figure:: images/timeline-racy-base.svg' in a and '    # METRIC demo_timeline mode=racy' in a
               and 'mode=locked' not in a and '  CPU1 +0.000 ms read' in a
               and open(f'{tmp}/Documentation/images/timeline-racy-base.svg').read() == '<svg>picture</svg>\n')
        expect('text around the blocks unchanged', r.startswith('x\n') and r.endswith('y\n')
               and a.startswith('T\n') and a.endswith('end\n'))
        expect('a second run changes nothing', rewrite(True) == 0)
    finally:
        shutil.rmtree(tmp)
    return fails


def main():
    if '--self-test' in sys.argv[1:]:
        sys.exit(1 if self_test() else 0)
    check_only = '--check' in sys.argv[1:]
    changed = rewrite(check_only)
    if check_only and changed:
        print(f'doc-numbers: {changed} block(s) differ from the logs')
        sys.exit(1)


if __name__ == '__main__':
    main()

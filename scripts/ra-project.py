#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Finish a rust-project.json written by the kernel's 'make M=... rust-analyzer' for
drvreg:

    ra-project.py rust-project.json PROJECT_DIR KERNEL_RELEASE

- drop the crates under PROJECT_DIR/out (make check's staged copies), so an editor sees
  each of the project's crates once;
- give the project's crates PROJECT_DIR as their source root (the samples include
  ../rust/api/ with #[path]) with out/ excluded;
- add the --cfg the project's Kbuild passes for the kernel version (drvreg_kernel_7).

The project's crates come after the kernel's and nothing depends on them, so removing
some leaves every remaining 'deps' index valid; that is checked, not assumed.
"""
import json
import os
import sys

path, project_dir, release = sys.argv[1], os.path.realpath(sys.argv[2]), sys.argv[3]
out = os.path.join(project_dir, "out")
base = os.path.dirname(os.path.realpath(path))
with open(path) as f:
    project = json.load(f)
crates = project["crates"]


def root(c):
    return os.path.normpath(os.path.join(base, c["root_module"]))


def inside(p, d):
    return p == d or p.startswith(d + os.sep)


dropped = [i for i, c in enumerate(crates) if inside(root(c), out)]
first = min(dropped, default=len(crates))
keep = [i for i in range(len(crates)) if i not in set(dropped)]
for i in keep:
    for dep in crates[i].get("deps", []):
        if dep["crate"] >= first:
            sys.exit(f"ra-project.py: {crates[i]['root_module']} depends on a crate after the "
                     f"first one dropped; left {path} as it was")
major = int(release.split(".")[0])
for i in keep:
    c = crates[i]
    if inside(root(c), project_dir):
        c["source"] = {"include_dirs": [project_dir], "exclude_dirs": [out]}
        if major >= 7 and "drvreg_kernel_7" not in c.setdefault("cfg", []):
            c["cfg"].append("drvreg_kernel_7")
project["crates"] = [crates[i] for i in keep]
with open(path, "w") as f:
    json.dump(project, f, indent=1)

# SPDX-License-Identifier: GPL-2.0
#
# drvreg: out-of-tree Rust-for-Linux modules, tested in QEMU guests.
#
#   make [modules]         build the modules in place against KDIR (default: the cached
#                          base kernel, built on first use)
#   make modules_install   install the built modules for KDIR's kernel (as root; depmod)
#   make rust-analyzer     write rust-project.json for the modules (editors' rust-analyzer)
#   make clean             remove build products and out/
#   make setup             install the host packages (scripts/setup.sh)
#   make kernel            build or find the cached kernel KERNEL=..., print its dir
#   make vm CMD='...'      boot a guest, run CMD as root, exit with its status
#   make vm-shell          interactive guest shell (Ctrl-A X quits QEMU)
#   make boots N=100       boot the lane's kernel N times (default 30) and count crashes:
#                          the emulator measured, not drvreg (scripts/boots.sh)
#   make check             the whole test suite (scripts/check.sh)
#   make demo              the race demonstration (scripts/demo.sh)
#   make bench             lookup cost and scaling per lookup mode, report and plots in
#                          out/bench/ (scripts/bench.sh)
#   make soak              long unload storm + core-unload cycles, one METRIC line
#                          (scripts/soak.sh; SOAK_CYCLES, SOAK_THREADS, KERNEL=kcsan too)
#   make docs              the ABI file, Documentation/*.rst and include/drvreg.h through
#                          the kernel's get_abi.pl, kernel-doc -Wall and Sphinx -W (HTML in
#                          out/docs/html), and rustdoc of the driver API (out/docs/rustdoc;
#                          against the base kernel, built on first use)
#   make litmus            the protocols' litmus tests under the kernel memory model
#                          (herd7; selftests/litmus, scripts/litmus.sh), one METRIC line
#   make numbers           rewrite the measured figures README.md and Documentation/
#                          quote, from the logs of the last runs (scripts/doc-numbers.py)
#
# Variables: KERNEL=<lane> (the kernel lanes, one row each in scripts/lanes.conf: what
# each is and proves), KDIR=/built/rust/kernel (skips kernel builds),
# CMD, VM_CPUS, VM_MEM, VM_TIMEOUT, VM_SPLAT_IDLE, VM_EXPECT_SPLAT, VM_APPEND, VM_ENV, VM_LOG, SHARE,
# VM_RETRY, VM_INFRA_CRASH, VM_BOOT_TIMEOUT, VM_TSC, QEMU (scripts/vm.sh), N (make boots),
# CHECK_KERNELS, BENCH_RUNS (make bench: runs, default 5), BENCH_THREADS (default "1 2";
# more threads than VM_CPUS, default 2 for bench, are labelled oversubscribed). See README.md.
#
# Kbuild reads ./Kbuild, not this file, when it builds with M=.

# KERNEL is left empty unless given: the scripts choose the default (base).
# Pass these to the scripts verbatim: no make expansion of '$' in CMD='echo $$HOME'-style
# values, and multi-line values survive.
override CMD := $(value CMD)
override VM_APPEND := $(value VM_APPEND)
override VM_ENV := $(value VM_ENV)
override SHARE := $(value SHARE)
override VM_LOG := $(value VM_LOG)
export KERNEL KDIR CMD VM_CPUS VM_MEM VM_TIMEOUT VM_SPLAT_IDLE VM_EXPECT_SPLAT VM_APPEND VM_ENV VM_LOG SHARE
export VM_RETRY VM_INFRA_CRASH VM_BOOT_TIMEOUT VM_TSC QEMU N
export CHECK_KERNELS CHECK_JOBS RUSTC RUSTDOC DRVREG_CACHE BENCH_RUNS BENCH_THREADS
export SOAK_CYCLES SOAK_THREADS SOAK_CORE SOAK_SHARD SOAK_MODE SOAK_FRESH

SHELL := /bin/bash
SCRIPTS := $(CURDIR)/scripts
comma := ,

# Bad input stops here with one line, before anything is built.
ifneq ($(filter-out clean setup help docs numbers litmus,$(or $(MAKECMDGOALS),modules)),)
# The lanes: the first column of scripts/lanes.conf.
LANES := $(shell awk '/^[^\#]/ && NF >= 8 { print $$1 }' $(SCRIPTS)/lanes.conf)
ifneq ($(filter-out $(LANES),$(KERNEL)),)
$(error drvreg: unknown KERNEL='$(KERNEL)': expected one of: $(subst $() ,$(comma) ,$(LANES)))
endif
ifneq ($(KDIR),)
KDIR_ERR := $(shell RUSTC='$(or $(RUSTC),/usr/bin/rustc)' \
	DRVREG_NO_RUSTC_CHECK=$(if $(filter-out modules_install,$(MAKECMDGOALS)),,1) bash -c '. $(SCRIPTS)/lib.sh && drvreg_check_kdir "$$1"' - '$(KDIR)' 2>&1)
ifneq ($(KDIR_ERR),)
$(error $(KDIR_ERR))
endif
endif
endif
$(foreach v,VM_CPUS VM_MEM VM_TIMEOUT VM_SPLAT_IDLE VM_BOOT_TIMEOUT N,$(if $($v),$(if $(shell [[ '$($v)' =~ ^[1-9][0-9]*$$ ]] || echo bad),\
	$(error drvreg: $v='$($v)' is not a positive number))))
ifneq ($(filter vm,$(MAKECMDGOALS)),)
ifeq ($(strip $(CMD)),)
$(error drvreg: no command: use make vm CMD='...' (or make vm-shell for an interactive guest))
endif
endif
# Sourced by recipes that need the kernel tree: prints the validated KDIR or stops.
KDIR_SH = . $(SCRIPTS)/lib.sh && kdir=$$(drvreg_kdir)

.DEFAULT_GOAL := modules
.PHONY: modules all clean setup kernel vm vm-shell boots check demo bench soak docs litmus numbers help modules_install rust-analyzer

all: modules

modules:
	@set -e; $(KDIR_SH); \
	echo "drvreg: building the modules in $(CURDIR) against $$kdir"; \
	drvreg_build "$$kdir" "$(CURDIR)"

# Installing compiles nothing: no rustc check (DRVREG_NO_RUSTC_CHECK), so that
# 'sudo make modules_install KDIR=...' works without repeating the build's RUSTC=. Kbuild
# runs depmod itself (honouring INSTALL_MOD_PATH).
modules_install: export DRVREG_NO_RUSTC_CHECK := 1
modules_install:
	@set -e; $(KDIR_SH); \
	drvreg_kmake "$$kdir" M=$(CURDIR) modules_install

rust-analyzer:
	@set -e; $(KDIR_SH); ksrc=$$kdir; \
	[ ! -e "$$kdir/source" ] || ksrc=$$(cd "$$kdir/source" && pwd -P); \
	drvreg_kmake "$$kdir" M=$(CURDIR) VPATH="$$ksrc" rust-analyzer; \
	python3 $(SCRIPTS)/ra-project.py $(CURDIR)/rust-project.json $(CURDIR) "$$(drvreg_release "$$kdir")"; \
	echo "drvreg: wrote $(CURDIR)/rust-project.json"

clean:
	@echo "drvreg: removing build products and out/"
	@find $(CURDIR) \( -path $(CURDIR)/.git -o -path $(CURDIR)/out \) -prune -o \
		\( -name '*.o' -o -name '*.ko' -o -name '*.mod' -o -name '*.mod.c' \
		-o -name '.*.cmd' -o -name '*.rmeta' -o -name '*.d' -o -name 'modules.order' \
		-o -name 'Module.symvers' -o -name '.tmp_versions' \) -print0 | xargs -0r rm -rf
	@rm -rf $(CURDIR)/out $(CURDIR)/rust-project.json

setup:
	@echo "drvreg: installing host packages (scripts/setup.sh)"
	@$(SCRIPTS)/setup.sh
	@echo "drvreg: host is ready"

kernel:
	@set -e; $(KDIR_SH); echo "$$kdir"

vm:
	@$(SCRIPTS)/vm.sh

vm-shell:
	@VM_SHELL=1 $(SCRIPTS)/vm.sh

boots:
	@$(SCRIPTS)/boots.sh

check:
	@$(SCRIPTS)/check.sh

demo:
	@$(SCRIPTS)/demo.sh

bench:
	@$(SCRIPTS)/bench.sh

soak:
	@$(SCRIPTS)/soak.sh

docs:
	@$(SCRIPTS)/docs-check.sh

litmus:
	@$(SCRIPTS)/litmus.sh

numbers:
	@python3 $(SCRIPTS)/doc-numbers.py

help:
	@sed -n '3,/^$$/s/^# \{0,1\}//p' $(firstword $(MAKEFILE_LIST))

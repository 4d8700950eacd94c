# SPDX-License-Identifier: GPL-2.0
#
# Out-of-tree stand-in for the kernel's tools/testing/selftests/lib.mk.
#
# A suite is a folder selftests/<suite>/ whose Makefile sets
#   TEST_PROGS := prog.sh ...           programs run by the kselftest runner (must be executable)
#   TEST_PROGS_EXTENDED := ...          installed, not listed (helpers run by TEST_PROGS)
#   TEST_FILES := ...                   data files installed beside them
#   TEST_GEN_FILES := prog ...          helper programs built from prog.c at install time,
#                                       static (they run in any guest), with gcc if there is
#                                       one, else clang
# and ends with 'include ../lib.mk'. A 'settings' (e.g. timeout=300) or 'config' file
# in the suite folder is installed too, as the kernel's lib.mk does.
#
# Targets:
#   install INSTALL_PATH=/kselftest-root  copies everything to $(INSTALL_PATH)/<suite>/,
#                                         keeping executable bits
#   emit_tests                            prints one '<suite>:<prog>' line per TEST_PROGS entry
#   all, clean                            nothing to build before install

SUITE ?= $(notdir $(CURDIR))
INSTALL_LIST = $(strip $(TEST_PROGS) $(TEST_PROGS_EXTENDED) $(TEST_FILES) $(wildcard config settings))
GEN_CC ?= $(or $(shell command -v gcc 2>/dev/null),clang)

.PHONY: all install emit_tests clean

all:
	@:

install: all
	@if [ -z "$(INSTALL_PATH)" ]; then \
		echo "selftests/$(SUITE): set INSTALL_PATH=<kselftest install root>" >&2; exit 1; fi
	@for p in $(TEST_PROGS); do \
		if [ ! -e "$$p" ]; then echo "selftests/$(SUITE): TEST_PROGS entry '$$p' does not exist" >&2; exit 1; fi; \
		if [ ! -x "$$p" ]; then echo "selftests/$(SUITE): TEST_PROGS entry '$$p' is not executable (chmod +x and commit it)" >&2; exit 1; fi; \
	done
	@mkdir -p "$(INSTALL_PATH)/$(SUITE)"
	@for f in $(INSTALL_LIST); do \
		if [ ! -e "$$f" ]; then echo "selftests/$(SUITE): '$$f' does not exist" >&2; exit 1; fi; \
		cp -pR -- "$$f" "$(INSTALL_PATH)/$(SUITE)/" || exit 1; \
	done
	@if [ -n "$(TEST_GEN_FILES)" ] && ! command -v $(GEN_CC) >/dev/null; then \
		echo "selftests/$(SUITE): no C compiler (gcc or clang) to build $(TEST_GEN_FILES): install gcc and libc6-dev" >&2; exit 1; fi
	@for g in $(TEST_GEN_FILES); do \
		$(GEN_CC) -static -O2 -Wall -Werror -o "$(INSTALL_PATH)/$(SUITE)/$$g" "$$g.c" || exit 1; \
	done

emit_tests:
	@for p in $(TEST_PROGS); do echo "$(SUITE):$$(basename $$p)"; done

clean:

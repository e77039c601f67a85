# smolvm: `make` builds ./smolvm; `make check` runs every test; `make run` boots a demo guest;
# `make install` installs smolvm and its man page.
# Sources are found by wildcard: a new file under src/ joins the build by existing.

CC       ?= gcc
CLANG    ?= clang
PYTEST   := /usr/bin/python3 -m pytest

# Optional features. Each is a folder of src/ compiled only when the feature is named in
# `features` (src/ui/ for ui), and -DCONFIG_<NAME>=1 tells src/vmm/features.c, the one seam
# through which shared code reaches a feature. `make features=` builds without any. A unit
# test or fuzzer that includes a feature's header ("ui/...") is built only with it.
# A build other than the default one keeps its objects apart (build/nofeat for none), and
# ./smolvm is linked again whenever the features it was built with change.
FEATURES_KNOWN   := ui cd
FEATURES_DEFAULT := ui cd
features ?= $(FEATURES_DEFAULT)
$(foreach f,$(features),$(if $(filter $(f),$(FEATURES_KNOWN)),,\
	$(error unknown feature '$(f)': the features are $(FEATURES_KNOWN))))
features_off := $(filter-out $(features),$(FEATURES_KNOWN))
empty :=
space := $(empty) $(empty)
ifeq ($(sort $(features)),$(sort $(FEATURES_DEFAULT)))
BUILD ?= build
else
BUILD ?= build/$(if $(strip $(features)),features-$(subst $(space),-,$(sort $(features))),nofeat)
endif
BIN ?= smolvm

# The version, in this one place: `smolvm --version` and the installed man page show it.
VERSION  := 0.1
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
MANDIR   ?= $(PREFIX)/share/man

# Libraries found through pkg-config, and the Debian package holding each .pc file.
# libseccomp builds the sandbox's filters (src/sandbox/). SDL2 (the window) and zlib (PNG
# screendumps) only with the ui feature: `make features=` needs neither. SDL2 gives its
# headers only: the window loads the library with dlopen() when it opens (src/ui/sdl_api.h),
# so the binary does not link it (dlopen is in glibc's libc since 2.34: no -ldl). libslirp
# likewise, when a user network is made (src/net/slirp_api.h).
PKG_MODULES := slirp libseccomp $(if $(filter ui,$(features)),sdl2 zlib)
PKG_LINKED  := $(filter-out sdl2 slirp,$(PKG_MODULES))
PKG_DEBIAN  := slirp:libslirp-dev glib-2.0:libglib2.0-dev libseccomp:libseccomp-dev sdl2:libsdl2-dev zlib:zlib1g-dev
# pkg-config is asked when a compile or link runs, never when this file is read, so that
# `make run` and `make check` can install the packages (deps) first; the answer is kept for
# the rest of the make run. If pkg-config fails, the build stops with one line naming the
# Debian package to install, never with a link error.
pkg_config = $(shell pkg-config $(1) $(2) 2>/dev/null || echo PKG-CONFIG-FAILED)
pkg_checked = $(if $(filter PKG-CONFIG-FAILED,$(1)),$(error $(pkg_error), or run make deps),$(1))
pkg_error = $(shell \
	if ! command -v pkg-config >/dev/null; then echo "no pkg-config: install pkg-config"; exit; fi; \
	m=$$(pkg-config --print-errors --exists $(PKG_MODULES) 2>&1 | sed -n \
		-e "s/^Package '\(.*\)', required by .*/\1/p" -e "s/^No package '\(.*\)' found/\1/p" | \
		head -n 1); \
	d=$$(printf '%s\n' $(PKG_DEBIAN) | sed -n "s/^$$m://p"); \
	echo "pkg-config cannot find $${m:-$(PKG_MODULES)}: install $${d:-the package with $$m.pc}")
PKG_CFLAGS = $(eval PKG_CFLAGS := $(call pkg_checked,$(call pkg_config,--cflags,$(PKG_MODULES))))$(PKG_CFLAGS)
PKG_LIBS = $(eval PKG_LIBS := $(call pkg_checked,$(call pkg_config,--libs,$(PKG_LINKED))))$(PKG_LIBS)

CFLAGS_COMMON = -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -Isrc -D_GNU_SOURCE \
	-pthread $(foreach f,$(features),-DCONFIG_$(shell echo $(f) | tr a-z A-Z)=1) \
	-DSMOLVM_VERSION='"$(VERSION)"' -DSMOLVM_FEATURES='"$(strip $(sort $(features)))"' \
	$(PKG_CFLAGS)
CFLAGS   ?= -O2 -g
LDLIBS   = -pthread $(PKG_LIBS)

SAN      := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer

# Sources and tests of the features left out.
feature_src   = $(filter-out $(foreach f,$(features_off),src/$(f)/%),$(1))
feature_tests = $(filter-out $(if $(features_off),$(shell grep -l -E \
	'^\#include "($(subst $(space),|,$(features_off)))/' $(1))),$(1))

SRC      := $(call feature_src,$(shell find src -name '*.c' | sort))
LIB_SRC  := $(filter-out src/main.c,$(SRC))
UNIT_SRC := $(call feature_tests,$(wildcard tests/unit/test_*.c))
TSAN_SRC := $(call feature_tests,$(wildcard tests/tsan/test_*.c))
FUZZ_SRC := $(call feature_tests,$(wildcard tests/fuzz/fuzz_*.c))
TOOL_SRC := $(wildcard tests/guest/tools/*.c)

OBJ      := $(SRC:%.c=$(BUILD)/obj/%.o)
SAN_OBJ  := $(LIB_SRC:%.c=$(BUILD)/san/%.o)
FUZZ_OBJ := $(LIB_SRC:%.c=$(BUILD)/fuzz/%.o)
TSAN_OBJ := $(LIB_SRC:%.c=$(BUILD)/tsan/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TSAN_BIN := $(TSAN_SRC:tests/tsan/%.c=$(BUILD)/tsan-tests/%)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzzers/%)
TOOL_BIN := $(TOOL_SRC:tests/guest/tools/%.c=build/guest-tools/%)

# The features the binary was linked with, rewritten only when they change.
FEATURES_STAMP := build/features-of-$(subst /,_,$(BIN))
$(shell mkdir -p build; f='$(strip $(sort $(features)))'; \
	{ [ -e $(FEATURES_STAMP) ] && [ "$$(cat $(FEATURES_STAMP))" = "$$f" ]; } || echo "$$f" >$(FEATURES_STAMP))

.PHONY: all clean check unit unit-asan fuzz fuzz-build fuzz-long integration run run-disk deps bench \
	format guest guest-std guest-tools efi-iso install uninstall check-nofeat bench-test check-load

all: $(BIN)

$(BIN): $(OBJ) $(FEATURES_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $(OBJ) $(LDLIBS)

# --version shows VERSION and the features: a new Makefile rebuilds what prints them.
$(BUILD)/obj/src/cli/options.o: Makefile

# The binary leaves assert() out (a broken host invariant is logged and fails the call);
# the sanitizer builds of tests and fuzzers keep it, so such a bug stops them at once.
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -DNDEBUG $(CFLAGS) -MMD -MP -c -o $@ $<

# Unit tests: the library built with ASan/UBSan, one binary per tests/unit/test_*.c.
$(BUILD)/san/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -O1 -g $(SAN) -MMD -MP -c -o $@ $<

$(BUILD)/san/libsmolvm.a: $(SAN_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(BUILD)/san/libsmolvm.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -Itests/unit -O1 -g $(SAN) -o $@ $< $(BUILD)/san/libsmolvm.a $(LDLIBS)

# Tests that race threads against each other: the library built with ThreadSanitizer, one
# binary per tests/tsan/test_*.c. A reported race fails the test (exit 66). TSan does not
# model fences (-Wno-tsan): the rings they order are guest memory, which tests touch only
# while devices are stopped.
$(BUILD)/tsan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -Wno-tsan -O1 -g -fsanitize=thread -MMD -MP -c -o $@ $<

$(BUILD)/tsan/libsmolvm.a: $(TSAN_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/tsan-tests/%: tests/tsan/%.c $(wildcard tests/unit/*.h) $(BUILD)/tsan/libsmolvm.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -Itests/unit -O1 -g -fsanitize=thread -o $@ $< $(BUILD)/tsan/libsmolvm.a $(LDLIBS)

unit: $(UNIT_BIN) $(TSAN_BIN)
	@set -e; for t in $(UNIT_BIN) $(TSAN_BIN); do echo "== $$t"; $$t; done

# The ASan/UBSan unit tests alone (without the ThreadSanitizer build).
unit-asan: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

# CI's build without the optional features: the binary (build/nofeat/smolvm, not ./smolvm)
# and the unit tests, proving that shared code needs no feature. The ThreadSanitizer tests
# and the fuzzers are left to the default build: they test the same shared code.
check-nofeat:
	$(MAKE) features= BIN=build/nofeat/smolvm build/nofeat/smolvm unit-asan

# libFuzzer targets (clang), each linked against the library built for fuzzing. The library
# knows it (libFuzzer's FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION): devices a fuzzer starts for
# every input start fewer worker threads.
FUZZ_DEFS := -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
$(BUILD)/fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	$(CLANG) $(CFLAGS_COMMON) $(FUZZ_DEFS) -Wno-unknown-warning-option -O1 -g -fsanitize=fuzzer-no-link,address,undefined -MMD -MP -c -o $@ $<

$(BUILD)/fuzz/libsmolvm.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/fuzzers/%: tests/fuzz/%.c $(wildcard tests/unit/*.h tests/fuzz/*.h) $(BUILD)/fuzz/libsmolvm.a
	@mkdir -p $(dir $@)
	$(CLANG) $(CFLAGS_COMMON) $(FUZZ_DEFS) -Itests/unit -O1 -g -fsanitize=fuzzer,address,undefined -o $@ $< $(BUILD)/fuzz/libsmolvm.a $(LDLIBS)

fuzz-build: $(FUZZ_BIN)

# FUZZ_SECONDS per target; CI uses a short run, `make fuzz FUZZ_SECONDS=600` digs deeper.
# FUZZ_PARALLEL targets at once (the host's cores, unless make was given -j), each target's
# output kept together. A target that crashes, leaks or times out fails the run, with the end
# of its log (all of it in build/fuzz-logs) and its reproducer in build/fuzz-crashes.
FUZZ_SECONDS ?= 60
FUZZ_PARALLEL ?= $(shell nproc)
fuzz: $(FUZZ_BIN)
	@$(MAKE) --no-print-directory $(if $(filter -j%,$(MAKEFLAGS)),,-j$(FUZZ_PARALLEL)) \
		--output-sync=target \
		$(FUZZ_BIN:$(BUILD)/fuzzers/%=fuzz-run-%)

fuzz-run-%: $(BUILD)/fuzzers/%
	@mkdir -p build/corpus/$* build/fuzz-logs build/fuzz-crashes
	@if $< -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 \
		-artifact_prefix=build/fuzz-crashes/$*- build/corpus/$* tests/fuzz/corpus/$* \
		>build/fuzz-logs/$*.log 2>&1; then \
		echo "== $* for $(FUZZ_SECONDS)s: $$(grep '^Done' build/fuzz-logs/$*.log)"; \
	else \
		tail -n 40 build/fuzz-logs/$*.log; \
		echo "== $* FAILED: build/fuzz-logs/$*.log, reproducer in build/fuzz-crashes"; \
		exit 1; \
	fi

# Each target for FUZZ_SECONDS (600 unless given), FUZZ_JOBS at once (FUZZ_WORKERS processes
# each), from a temporary copy of its corpus; a table of executions, coverage and crashes
# (reproducers: build/fuzz-crashes).
fuzz-long: $(FUZZ_BIN)
	FUZZ_SECONDS=$(if $(filter file,$(origin FUZZ_SECONDS)),600,$(FUZZ_SECONDS)) \
		FUZZ_JOBS=$(or $(FUZZ_JOBS),1) FUZZ_WORKERS=$(or $(FUZZ_WORKERS),1) \
		FUZZ_CHUNK=$(FUZZ_CHUNK) FUZZ_RUNS=$(FUZZ_RUNS) \
		scripts/fuzz-long.sh $(if $(FUZZERS),$(FUZZERS:%=$(BUILD)/fuzzers/%),$(FUZZ_BIN))

# Small static programs that run inside test guests (busybox lacks them).
build/guest-tools/%: tests/guest/tools/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -Wall -Wextra -Werror -O2 -static -o $@ $<

# The hostile-guest tools share a small user-space virtio driver.
build/guest-tools/virtio_rings build/guest-tools/virtio_fuse build/guest-tools/virtio_poke: \
	tests/guest/tools/vq_driver.h

guest-tools: $(TOOL_BIN)

deps:
	scripts/deps.sh

guest:
	tests/guest/build-guest.sh

# An EFI-bootable ISO (GRUB) around the test guest, for tests/integration/test_nested_efi.py.
efi-iso: guest
	tests/guest/build-efi-iso.sh

# The test guest with Debian's standard kernel (virtio_gpu, virtio_input), for the display tests.
guest-std:
	SMOLVM_GUEST_KERNEL=std tests/guest/build-guest.sh

# Integration tests boot real guests, inside the nested KVM machine when /dev/kvm cannot boot Linux,
# one machine per test file (scripts/integration.sh: a file whose machine broke runs again).
# TESTS picks files or tests (TESTS=tests/integration/test_net.py); PYTEST_ARGS adds options.
TESTS ?= tests/integration
integration: smolvm guest guest-std guest-tools efi-iso
	PYTEST_ARGS='$(PYTEST_ARGS)' scripts/integration.sh $(TESTS)

# The integration tests marked load (test_load.py's twenty VMs at once: 2 minutes in the nested
# machine on an idle host, 8 on a busy one), left out of make check, in a part with a longer
# timeout.
check-load: smolvm guest guest-tools
	SMOLVM_PART_TIMEOUT=$(or $(SMOLVM_PART_TIMEOUT),1500) PYTEST_ARGS='-m load $(PYTEST_ARGS)' \
		scripts/integration.sh tests/integration/test_load.py

# check and run install what is missing first (deps), then build: pkg-config, asked when
# the build runs, finds the libraries deps installed. check fuzzes each target for 20 s
# (its corpus, then a little more: regressions); `make fuzz` digs for 60 s or FUZZ_SECONDS.
# Its builds and fuzzers use every core unless make was given -j.
PARALLEL = $(if $(filter -j%,$(MAKEFLAGS)),,-j$(shell nproc))
check: deps
	$(MAKE) $(PARALLEL) smolvm
	$(MAKE) $(PARALLEL) unit
	$(MAKE) bench-test
	$(MAKE) $(PARALLEL) check-nofeat
	$(MAKE) $(PARALLEL) fuzz FUZZ_SECONDS=$(or $(CHECK_FUZZ_SECONDS),20)
	$(MAKE) integration

run: deps
	scripts/run-demo.sh

# The demo with a disk image (build/demo/disk.img) that keeps its files across boots.
run-disk: deps
	scripts/run-demo.sh --disk

# The binary and its man page, for packaging: make install PREFIX=/usr DESTDIR=debian/tmp.
build/smolvm.1: docs/smolvm.1 Makefile
	@mkdir -p $(dir $@)
	sed 's/@VERSION@/$(VERSION)/g' docs/smolvm.1 >$@

install: smolvm build/smolvm.1
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 755 smolvm $(DESTDIR)$(BINDIR)/smolvm
	install -m 644 build/smolvm.1 $(DESTDIR)$(MANDIR)/man1/smolvm.1

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/smolvm $(DESTDIR)$(MANDIR)/man1/smolvm.1

# The benchmark's summary and compare.py on canned results: no VM, a second.
bench-test:
	$(PYTEST) -q -p no:cacheprovider tests/bench

# Each part in a KVM machine of its own (bench/run.sh), then the summary of every row against
# its target, also written to bench/results/DATE.json (not in git; bench/compare.py OLD NEW).
bench: smolvm guest guest-std guest-tools
	bench/run.sh

format:
	clang-format -i $(SRC) $(shell find src -name '*.h') $(UNIT_SRC) $(wildcard tests/unit/*.h tests/fuzz/*.h) $(FUZZ_SRC)

clean:
	rm -rf build smolvm

-include $(shell find build -name '*.d' 2>/dev/null)

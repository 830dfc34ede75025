# noselfconn — see README.md. CPPFLAGS, CFLAGS, LDFLAGS, PREFIX and DESTDIR are honoured.
VERSION  := 0.2.0
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
LIBDIR   ?= $(PREFIX)/lib
MANDIR   ?= $(PREFIX)/share/man
DATADIR  ?= $(PREFIX)/share/noselfconn
CC       ?= cc
CFLAGS   ?= -O2 -g
BUILD    ?= build

# Always on, whatever the user's flags say. The preloaded library, the
# command and the code they share each have a folder of their own.
WARNINGS := -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes -Wcast-qual \
            -Wformat=2
# -Wconversion where it reads well: the library and the code it shares. (In
# the command, ioctl()'s request type differs between glibc and musl.)
$(BUILD)/obj/lib/%.o $(BUILD)/obj/common/%.o: WARNINGS += -Wconversion
# Hardening a distribution expects; _FORTIFY_SOURCE only where the user's
# flags leave it unset (dpkg-buildflags sets it in CPPFLAGS) and optimising.
HARDENING := -fstack-protector-strong \
             $(shell $(CC) -fcf-protection -E -x c /dev/null >/dev/null 2>&1 && echo -fcf-protection) \
             $(if $(findstring _FORTIFY_SOURCE,$(CPPFLAGS) $(CFLAGS))$(findstring -O0,$(CFLAGS)),,-D_FORTIFY_SOURCE=2)
NSC_CPPFLAGS := -Ishim/common -DNOSELFCONN_VERSION='"$(VERSION)"'
NSC_CFLAGS    = -std=gnu11 $(WARNINGS) -fvisibility=hidden -fPIC $(HARDENING) -MMD -MP
NSC_LDFLAGS  := -Wl,-z,relro,-z,now,-z,noexecstack
COMPILE = $(CC) $(NSC_CPPFLAGS) $(CPPFLAGS) $(NSC_CFLAGS) $(CFLAGS)

# The library takes from common/ only what its rules allow (no stdio, no
# allocation); the command takes all of it. Each of the command's jobs has a
# folder under cmd/ and includes no other job's header.
LIB_COMMON  := escape portrange settings tcpsock verdict
COMMON_SRCS := $(wildcard shim/common/*.c)
LIB_SRCS    := $(wildcard shim/lib/*.c) $(LIB_COMMON:%=shim/common/%.c)
CMD_SRCS    := $(wildcard shim/cmd/*.c shim/cmd/*/*.c) $(COMMON_SRCS)
OBJ          = $(patsubst shim/%.c,$(BUILD)/obj/%.o,$(1))

# ld.so expands $$LIB in LD_PRELOAD and /etc/ld.so.preload to its own
# directory: lib/<triplet> (Debian's 64-bit and multiarch i386 loaders),
# lib32 (libc6-i386's, which gcc-multilib's -m32 programs use). So each
# library lives at ROOT/<that>/noselfconn/libnoselfconn.so and one path with
# a literal $$LIB serves every program: the build tree mirrors the install
# ($(BUILD) for ROOT), and $(BUILD)/libnoselfconn.so names the native one.
# The i386 library is built where the compiler can (gcc-multilib).
TRIPLET      := $(or $(shell $(CC) -print-multiarch 2>/dev/null),$(shell uname -m)-linux-gnu)
I386_TRIPLET := i386-linux-gnu
LIBROOT      ?= $(PREFIX)
LIB_IN_ROOT  := noselfconn/libnoselfconn.so
WITH_I386    ?= $(if $(filter x86_64-linux-gnu,$(TRIPLET)),$(shell printf 'int main(void){return 0;}' | \
                  $(CC) -m32 -x c -o /dev/null - -ldl >/dev/null 2>&1 && echo yes))
LIB_NATIVE   := $(BUILD)/lib/$(TRIPLET)/$(LIB_IN_ROOT)
LIB_I386     := $(BUILD)/lib/$(I386_TRIPLET)/$(LIB_IN_ROOT)
LIB_LIB32    := $(BUILD)/lib32/$(LIB_IN_ROOT)
LIB          := $(BUILD)/libnoselfconn.so
LIBS         := $(LIB) $(LIB_NATIVE) $(if $(WITH_I386),$(LIB_I386) $(LIB_LIB32))
WRAPPER      := $(BUILD)/noselfconn
EXPORTS      := $(BUILD)/exports.map
MANPAGES     := $(BUILD)/doc/noselfconn.1 $(BUILD)/doc/libnoselfconn.7
HELPERS      := $(patsubst tests/helpers/%.c,$(BUILD)/tests/%,$(wildcard tests/helpers/*.c))
PRELOADS     := $(patsubst tests/preloads/%.c,$(BUILD)/tests/%.so,$(wildcard tests/preloads/*.c))
UNIT         := $(BUILD)/tests/unit_verdict $(BUILD)/tests/unit_procnet $(BUILD)/tests/unit_report
FUZZER       := $(BUILD)/tests/fuzz_verdict
FUZZ_SECONDS ?= 60
BENCH        := $(BUILD)/tests/bench $(BUILD)/tests/empty.so $(BUILD)/tests/supervise-floor

.PHONY: all test test-build test-programs sanitize coverage demo demo-proxy bench lint fuzz install uninstall clean
all: $(LIBS) $(WRAPPER) $(MANPAGES)

# Where the installed libraries are is compiled into the command: a
# different PREFIX or LIBROOT rebuilds what uses it.
LIBROOT_STAMP := $(BUILD)/.libroot
$(LIBROOT_STAMP): FORCE
	@mkdir -p $(@D)
	@echo '$(LIBROOT) $(TRIPLET)' | cmp -s - $@ || echo '$(LIBROOT) $(TRIPLET)' > $@
$(BUILD)/obj/cmd/wrapper/wrapper.o: $(LIBROOT_STAMP)
$(BUILD)/obj/cmd/wrapper/wrapper.o: NSC_CPPFLAGS += -DNOSELFCONN_LIBROOT='"$(LIBROOT)"' \
	-DNOSELFCONN_NATIVE_LIB='"lib/$(TRIPLET)"' -DNOSELFCONN_LIB_IN_ROOT='"$(LIB_IN_ROOT)"'
.PHONY: FORCE

$(sort $(call OBJ,$(LIB_SRCS) $(CMD_SRCS))): $(BUILD)/obj/%.o: shim/%.c
	@mkdir -p $(@D)
	$(COMPILE) -c -o $@ $<

# Only the hooks leave the library: the version script comes from their list.
$(EXPORTS): shim/lib/exports.map.in shim/lib/hooks.h
	@mkdir -p $(@D)
	$(CC) -E -P -x c -Ishim/lib -o $@ $<

$(LIB_NATIVE): $(call OBJ,$(LIB_SRCS)) $(EXPORTS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -shared $(NSC_LDFLAGS) $(LDFLAGS) -Wl,--version-script=$(EXPORTS) \
		-o $@ $(call OBJ,$(LIB_SRCS)) -ldl

# The same sources for i386, apart: $(BUILD)/obj32.
OBJ32 = $(patsubst shim/%.c,$(BUILD)/obj32/%.o,$(1))
$(BUILD)/obj32/lib/%.o $(BUILD)/obj32/common/%.o: WARNINGS += -Wconversion
$(call OBJ32,$(LIB_SRCS)): $(BUILD)/obj32/%.o: shim/%.c
	@mkdir -p $(@D)
	$(COMPILE) -m32 -c -o $@ $<

$(LIB_I386): $(call OBJ32,$(LIB_SRCS)) $(EXPORTS)
	@mkdir -p $(@D)
	$(CC) -m32 $(CFLAGS) -shared $(NSC_LDFLAGS) $(LDFLAGS) -Wl,--version-script=$(EXPORTS) \
		-o $@ $(call OBJ32,$(LIB_SRCS)) -ldl

# Relative links, so the tree can be copied or installed as it is.
$(LIB_LIB32): $(LIB_I386)
	@mkdir -p $(@D)
	ln -sfn ../../lib/$(I386_TRIPLET)/$(LIB_IN_ROOT) $@
$(LIB): $(LIB_NATIVE)
	ln -sfn lib/$(TRIPLET)/$(LIB_IN_ROOT) $@

$(WRAPPER): $(call OBJ,$(CMD_SRCS))
	$(CC) $(CFLAGS) $(NSC_LDFLAGS) $(LDFLAGS) -o $@ $^

# The version is written once, here, and generated into the man pages.
$(MANPAGES): $(BUILD)/doc/%: shim/doc/%.in Makefile
	@mkdir -p $(@D)
	sed 's/@VERSION@/$(VERSION)/g' $< > $@

# Test programs: helpers, preloads, unit tests, the bench. Warnings as for
# the shipped code, less what test scaffolding reads better without.
TEST_CFLAGS = -std=gnu11 -Wall -Wextra -Ishim/common -Ishim/lib -MMD -MP

# The dial helper again, statically linked: what a preload cannot reach.
$(BUILD)/tests/dial-static: tests/helpers/dial.c
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -O2 -static -o $@ $< -lpthread

$(HELPERS): $(BUILD)/tests/%: tests/helpers/%.c
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(NSC_LDFLAGS) $(LDFLAGS) -o $@ $< -lpthread

# ...and for i386, where the library is built for it too.
DIAL_I386 := $(if $(WITH_I386),$(BUILD)/tests/dial-i386)
$(BUILD)/tests/dial-i386: tests/helpers/dial.c
	@mkdir -p $(@D)
	$(CC) -m32 $(TEST_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(NSC_LDFLAGS) $(LDFLAGS) -o $@ $< -lpthread

$(BUILD)/tests/bench: tests/bench/bench.c $(call OBJ,shim/common/portrange.c shim/common/verdict.c \
		shim/common/kguard.c shim/common/proc.c shim/common/procnet.c)
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(NSC_LDFLAGS) $(LDFLAGS) -o $@ $^ -lpthread

$(BUILD)/tests/supervise-floor: tests/bench/supervise_floor.c
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(NSC_LDFLAGS) $(LDFLAGS) -o $@ $< -lpthread

# The empty preload is linked as the library is, so start-up compares alike
# (and relinked when the flags here change: a stale one skews the ratio).
$(BUILD)/tests/empty.so: tests/bench/empty.c Makefile
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) $(CPPFLAGS) $(CFLAGS) -fPIC -shared $(NSC_LDFLAGS) $(LDFLAGS) -o $@ $<

$(PRELOADS): $(BUILD)/tests/%.so: tests/preloads/%.c
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) $(CPPFLAGS) $(CFLAGS) -fPIC -shared $(NSC_LDFLAGS) $(LDFLAGS) -o $@ $< -ldl

$(BUILD)/tests/unit_verdict: $(call OBJ,shim/common/verdict.c shim/common/settings.c)
$(BUILD)/tests/unit_procnet: $(call OBJ,shim/common/procnet.c)
$(BUILD)/tests/unit_report: $(call OBJ,shim/lib/report.c shim/common/escape.c)
$(UNIT): $(BUILD)/tests/%: tests/unit/%.c
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^

# libFuzzer needs clang, whatever CC is.
FUZZ_SRCS := tests/fuzz/fuzz_verdict.c shim/common/verdict.c shim/common/settings.c \
             shim/common/escape.c shim/lib/report.c
$(FUZZER): $(FUZZ_SRCS)
	@mkdir -p $(@D)
	clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-MMD -MP -MF $@.d -Ishim/common -Ishim/lib -o $@ $(FUZZ_SRCS)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# tests/deps.sh installs what is missing when run as root, else names the
# command; the test programs wait for it (clang, musl-gcc, Go...).
TEST_DEPS := $(BUILD)/.test-deps
$(TEST_DEPS): tests/deps.sh
	@mkdir -p $(@D)
	@tests/deps.sh test
	@touch $@
$(HELPERS) $(BUILD)/tests/dial-static $(BUILD)/tests/dial-i386 $(PRELOADS) $(UNIT) $(BENCH) $(FUZZER): | $(TEST_DEPS)
TEST_BUILD := all $(HELPERS) $(BUILD)/tests/dial-static $(DIAL_I386) $(PRELOADS) $(UNIT) $(BENCH) $(FUZZER)
# Make again once the dependencies are in: what it builds (the i386
# library, with gcc-multilib) was decided when this make started.
test-build: $(TEST_DEPS)
	@$(MAKE) --no-print-directory test-programs
test-programs: $(TEST_BUILD)

# Dependencies first (clang's libFuzzer, musl-gcc... build test programs),
# then the build. A test that hangs fails after 15 minutes, not CI.
test: test-build
	BATS_TEST_TIMEOUT=900 bats tests/

# The library and every test program built with ASan and UBSan, the runtime
# first in LD_PRELOAD, the whole suite run; any report fails (halt on error).
# Leak checks are off: the library never allocates, and the programs it is
# loaded into (sh, true) are not ours; valgrind checks leaks in `make test`.
# Tests of third-party programs (tag foreign-programs) are left out: see
# tests/compat.bats.
SAN_BUILD := $(BUILD)/sanitize
SAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
sanitize:
	$(MAKE) BUILD=$(SAN_BUILD) CFLAGS="$(SAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" test-build
	NSC_BUILD=$(abspath $(SAN_BUILD)) \
	NSC_SANITIZER_RUNTIME=$$($(CC) -print-file-name=libasan.so) \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		BATS_TEST_TIMEOUT=900 bats --filter-tags '!no-sanitizer,!foreign-programs' tests/

demo: all
	@tests/deps.sh demo
	demo/self-connect.sh

# The second demo: a socat proxy in front of a backend that is down.
demo-proxy: all
	@tests/deps.sh test
	demo/legacy-proxy.sh

# New inputs go to the build tree; tests/fuzz/corpus holds the seeds.
fuzz: $(FUZZER)
	mkdir -p $(BUILD)/fuzz-corpus
	$(FUZZER) -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $(BUILD)/fuzz-corpus tests/fuzz/corpus

lint:
	@tests/deps.sh test
	tests/lint.sh

# Line coverage of shim/ from the whole suite, over a --coverage build (less
# what checks the shipped build alone: tag no-coverage).
COV_BUILD := $(BUILD)/coverage
coverage:
	rm -rf $(COV_BUILD)
	$(MAKE) BUILD=$(COV_BUILD) CFLAGS="-O0 -g --coverage" LDFLAGS="--coverage" test-build
	NSC_BUILD=$(abspath $(COV_BUILD)) bats --filter-tags '!no-coverage' tests/
	tests/coverage.sh $(COV_BUILD)

# Timing is noisy on small machines: benchmarks are not part of `make test`.
bench: all $(HELPERS) $(BENCH)
	NSC_BUILD=$(abspath $(BUILD)) tests/bench/run.sh

# The drop-in example names the library where this install puts it.
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(DATADIR)
	install -m 755 $(WRAPPER) $(DESTDIR)$(BINDIR)/noselfconn
	install -m 644 $(LIB) $(DESTDIR)$(LIBDIR)/libnoselfconn.so
	install -m 644 $(BUILD)/doc/noselfconn.1 $(DESTDIR)$(MANDIR)/man1/noselfconn.1
	install -m 644 $(BUILD)/doc/libnoselfconn.7 $(DESTDIR)$(MANDIR)/man7/libnoselfconn.7
	sed 's|=/usr/local/lib/libnoselfconn.so|=$(LIBDIR)/libnoselfconn.so|' shim/doc/systemd-dropin.conf \
		> $(DESTDIR)$(DATADIR)/systemd-dropin.conf

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/noselfconn $(DESTDIR)$(LIBDIR)/libnoselfconn.so \
		$(DESTDIR)$(MANDIR)/man1/noselfconn.1 $(DESTDIR)$(MANDIR)/man7/libnoselfconn.7 \
		$(DESTDIR)$(DATADIR)/systemd-dropin.conf
	-rmdir $(DESTDIR)$(DATADIR) 2>/dev/null

clean:
	rm -rf $(BUILD)

# The kernel matrix: Debian's 6.1 and 6.12 cloud kernels booted under qemu
# (TCG, no KVM needed), the case table tests/kernels/cases run in each; the
# packages are fetched into $(BUILD)/kernels, never installed. kernel-table
# writes the README's "Kernel support" table from the last run.
.PHONY: test-kernels kernel-table
test-kernels: all $(HELPERS) $(BUILD)/tests/dial-static
	@tests/deps.sh kernels
	tests/kernels/run.sh $(BUILD)

kernel-table:
	tests/kernels/table.sh $(BUILD)/kernels README.md

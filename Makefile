# noselfconn — see README.md. CPPFLAGS, CFLAGS, LDFLAGS, PREFIX and DESTDIR are honoured.
VERSION  := 0.3.0
CC       ?= cc
CFLAGS   ?= -O2 -g
BUILD    ?= build
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
# The library in a private directory under what ld.so calls $LIB
# (lib/x86_64-linux-gnu on Debian's amd64), as libfaketime's and torsocks'
# are: one per architecture, so that a "$LIB" path names each loader's own:
# lib/<triplet> (Debian's 64-bit and multiarch i386 loaders), lib32
# (libc6-i386's, which gcc-multilib's -m32 programs use). The build tree
# mirrors that layout, $(BUILD) for the prefix.
TRIPLET  := $(or $(shell $(CC) -print-multiarch 2>/dev/null),$(shell uname -m)-linux-gnu)
LIBDIR   ?= $(PREFIX)/lib/$(TRIPLET)/noselfconn
MANDIR   ?= $(PREFIX)/share/man
DATADIR  ?= $(PREFIX)/share/noselfconn
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
# Where LIBDIR follows that layout, the directory $LIB is relative to, and
# the library's path with $LIB left for ld.so to expand (else LIBDIR's own).
LIBROOT  := $(patsubst %/lib/$(TRIPLET)/noselfconn,%,$(LIBDIR))
PRELOAD_PATH := $(if $(filter-out $(LIBDIR),$(LIBROOT)),$(LIBROOT)/$$LIB/noselfconn,$(LIBDIR))/libnoselfconn.so
# What names the library in /etc/ld.so.preload blocks make uninstall.
LD_SO_PRELOAD ?= $(DESTDIR)/etc/ld.so.preload

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
NSC_CPPFLAGS := -Ishim/common -DNOSELFCONN_VERSION='"$(VERSION)"' \
                -DNOSELFCONN_LIBDIR='"$(LIBDIR)"' -DNOSELFCONN_PRELOAD_PATH='"$(PRELOAD_PATH)"'
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

# The i386 library is built where the compiler can (gcc-multilib).
I386_TRIPLET := i386-linux-gnu
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
SYSTEMD_FILES := $(patsubst shim/%,$(BUILD)/%,$(wildcard shim/systemd/*))
COMPLETION   := completion/noselfconn
HELPERS      := $(patsubst tests/helpers/%.c,$(BUILD)/tests/%,$(wildcard tests/helpers/*.c))
PRELOADS     := $(patsubst tests/preloads/%.c,$(BUILD)/tests/%.so,$(wildcard tests/preloads/*.c))
UNIT         := $(BUILD)/tests/unit_verdict $(BUILD)/tests/unit_procnet $(BUILD)/tests/unit_report \
                $(BUILD)/tests/unit_preloadfile $(BUILD)/tests/unit_listener
FUZZER       := $(BUILD)/tests/fuzz_verdict
FUZZ_SECONDS ?= 60
BENCH        := $(BUILD)/tests/bench $(BUILD)/tests/empty.so $(BUILD)/tests/supervise-floor

.PHONY: all test test-build test-programs check sanitize coverage demo demo-proxy bench lint fuzz \
	install uninstall dist deb clean
all: $(LIBS) $(WRAPPER) $(MANPAGES) $(SYSTEMD_FILES) $(BUILD)/$(COMPLETION)

# The installed paths are compiled into the command and written into the
# man pages and units: a different PREFIX or LIBDIR rebuilds what uses them.
INSTALL_PATHS := $(PREFIX) $(BINDIR) $(LIBDIR) $(PRELOAD_PATH) $(DATADIR) $(SYSTEMDUNITDIR)
LIBDIR_STAMP := $(BUILD)/.libdir
$(LIBDIR_STAMP): FORCE
	@mkdir -p $(@D)
	@echo '$(INSTALL_PATHS)' | cmp -s - $@ || echo '$(INSTALL_PATHS)' > $@
$(call OBJ,$(wildcard shim/cmd/wrapper/*.c shim/cmd/host/*.c shim/cmd/status/*.c)): $(LIBDIR_STAMP)
# The wrapper finds the build tree's library beside itself by this path.
$(BUILD)/obj/cmd/wrapper/wrapper.o: NSC_CPPFLAGS += -DNOSELFCONN_NATIVE_LIB='"lib/$(TRIPLET)"'
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

# The same sources for i386, apart: $(BUILD)/obj32. (Only beside a 64-bit
# build: built for i386 itself, CC="gcc -m32", the native rule makes it.)
ifneq ($(WITH_I386),)
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
endif
$(LIB): $(LIB_NATIVE)
	ln -sfn lib/$(TRIPLET)/$(LIB_IN_ROOT) $@

$(WRAPPER): $(call OBJ,$(CMD_SRCS))
	$(CC) $(CFLAGS) $(NSC_LDFLAGS) $(LDFLAGS) -o $@ $^

# The version and the installed paths are written once, here, and filled in
# the man pages (a path's hyphens as roff's \-), the units and the drop-in.
# ESC_DASH in a man page; FILL_IN PATH_FORM: one sed command over a template.
ESC_DASH = $(if $(filter man,$(1)),$(subst -,\\-,$(2)),$(2))
FILL_IN = sed -e 's|@VERSION@|$(VERSION)|g' \
	-e 's|@BINDIR@|$(call ESC_DASH,$(1),$(BINDIR))|g' \
	-e 's|@LIBDIR@|$(call ESC_DASH,$(1),$(LIBDIR))|g' \
	-e 's|@PRELOAD_PATH@|$(call ESC_DASH,$(1),$(PRELOAD_PATH))|g' \
	-e 's|@DATADIR@|$(call ESC_DASH,$(1),$(DATADIR))|g' \
	-e 's|@SYSTEMDUNITDIR@|$(call ESC_DASH,$(1),$(SYSTEMDUNITDIR))|g' \
	-e 's|@BASHCOMPDIR@|$(call ESC_DASH,$(1),$(BASHCOMPDIR))|g'
$(MANPAGES): $(BUILD)/doc/%: shim/doc/%.in Makefile $(LIBDIR_STAMP)
	@mkdir -p $(@D)
	$(call FILL_IN,man) $< > $@
$(SYSTEMD_FILES): $(BUILD)/systemd/%: shim/systemd/% Makefile $(LIBDIR_STAMP)
	@mkdir -p $(@D)
	$(call FILL_IN,plain) $< > $@
$(BUILD)/$(COMPLETION): shim/$(COMPLETION)
	@mkdir -p $(@D)
	cp $< $@

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

# ...and for i386, where the library is built for it too: as gcc -m32
# links it (/lib/ld-linux.so.2: multiarch libc6:i386's loader where that is
# installed, else libc6-i386's), and with libc6-i386's own loader.
DIAL_I386 := $(if $(WITH_I386),$(BUILD)/tests/dial-i386 $(BUILD)/tests/dial-lib32)
$(BUILD)/tests/dial-lib32: NSC_LDFLAGS += -Wl,--dynamic-linker=/lib32/ld-linux.so.2
$(BUILD)/tests/dial-i386 $(BUILD)/tests/dial-lib32: tests/helpers/dial.c
	@mkdir -p $(@D)
	$(CC) -m32 $(TEST_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(NSC_LDFLAGS) $(LDFLAGS) -o $@ $< -lpthread

$(BUILD)/tests/bench: tests/bench/bench.c $(call OBJ,shim/common/portrange.c shim/common/verdict.c \
		shim/common/kguard.c shim/common/proc.c shim/common/procnet.c)
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(NSC_LDFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) -lpthread

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
$(BUILD)/tests/unit_preloadfile: $(call OBJ,shim/common/preloadfile.c)
$(BUILD)/tests/unit_listener: $(call OBJ,shim/cmd/supervise/listener.c shim/common/verdict.c shim/common/settings.c)
$(BUILD)/tests/unit_listener: TEST_CFLAGS += -Ishim/cmd/supervise
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
$(HELPERS) $(BUILD)/tests/dial-static $(DIAL_I386) $(PRELOADS) $(BENCH) $(FUZZER): | $(TEST_DEPS)
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
# The last complete run is kept in $(BUILD)/bench.txt; bench-snapshot copies
# it into shim/doc/benchmarks.md, dated, as the figures of that one run.
bench: all $(HELPERS) $(BENCH)
	bash -o pipefail -c 'NSC_BUILD=$(abspath $(BUILD)) tests/bench/run.sh | tee $(BUILD)/bench.txt.new'
	mv $(BUILD)/bench.txt.new $(BUILD)/bench.txt

.PHONY: bench-snapshot
bench-snapshot:
	tests/bench/snapshot.sh $(BUILD)/bench.txt shim/doc/benchmarks.md

# Each file is copied beside its place, then renamed over it: a process
# that has the old one mapped keeps it, and no process ever finds a half
# written one (a truncated library named in /etc/ld.so.preload kills every
# new process with SIGBUS). Every architecture's library the build tree
# holds goes to its $LIB directory under LIBROOT.
# INSTALL_FILE MODE SOURCE DEST
INSTALL_FILE = install -m $(1) $(2) $(dir $(3)).$(notdir $(3)).new && mv -f $(dir $(3)).$(notdir $(3)).new $(3)
OTHER_ARCH_LIBS = for lib in $(BUILD)/lib/*/noselfconn/libnoselfconn.so $(BUILD)/lib?*/noselfconn/libnoselfconn.so; do \
		arch=$${lib\#$(BUILD)/}; arch=$${arch%/noselfconn/libnoselfconn.so}; \
		[ -e "$$lib" ] && [ "$$arch" != lib/$(TRIPLET) ] && [ '$(LIBROOT)' != '$(LIBDIR)' ] || continue; \
		dir='$(DESTDIR)$(LIBROOT)'/$$arch/noselfconn;
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(DATADIR) $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(BASHCOMPDIR)
	$(call INSTALL_FILE,755,$(WRAPPER),$(DESTDIR)$(BINDIR)/noselfconn)
	$(call INSTALL_FILE,644,$(LIB),$(DESTDIR)$(LIBDIR)/libnoselfconn.so)
	@$(OTHER_ARCH_LIBS) \
		echo "install $$lib $$dir/libnoselfconn.so"; install -d "$$dir"; \
		$(call INSTALL_FILE,644,"$$lib","$$dir/libnoselfconn.so") || exit 1; done
	install -m 644 $(BUILD)/doc/noselfconn.1 $(DESTDIR)$(MANDIR)/man1/noselfconn.1
	install -m 644 $(BUILD)/doc/libnoselfconn.7 $(DESTDIR)$(MANDIR)/man7/libnoselfconn.7
	install -m 644 $(filter %.service %.timer,$(SYSTEMD_FILES)) $(DESTDIR)$(SYSTEMDUNITDIR)/
	install -m 644 $(filter %.conf,$(SYSTEMD_FILES)) $(DESTDIR)$(DATADIR)/
	install -m 644 $(BUILD)/$(COMPLETION) $(DESTDIR)$(BASHCOMPDIR)/noselfconn

# A library named in /etc/ld.so.preload is never removed: every process
# would print an ld.so error (noselfconn --disable-host takes it out).
uninstall:
	@if [ -f '$(LD_SO_PRELOAD)' ] && \
	    grep -qF -e '$(PRELOAD_PATH)' -e '$(LIBDIR)/libnoselfconn.so' '$(LD_SO_PRELOAD)'; then \
		echo "noselfconn: $(LD_SO_PRELOAD) names the library: run 'noselfconn --disable-host' first" >&2; \
		exit 1; \
	fi
	rm -f $(DESTDIR)$(BINDIR)/noselfconn $(DESTDIR)$(LIBDIR)/libnoselfconn.so \
		$(DESTDIR)$(MANDIR)/man1/noselfconn.1 $(DESTDIR)$(MANDIR)/man7/libnoselfconn.7 \
		$(patsubst $(BUILD)/systemd/%,$(DESTDIR)$(SYSTEMDUNITDIR)/%,$(filter %.service %.timer,$(SYSTEMD_FILES))) \
		$(patsubst $(BUILD)/systemd/%,$(DESTDIR)$(DATADIR)/%,$(filter %.conf,$(SYSTEMD_FILES))) \
		$(DESTDIR)$(BASHCOMPDIR)/noselfconn
	@$(OTHER_ARCH_LIBS) rm -f "$$dir/libnoselfconn.so"; rmdir "$$dir" 2>/dev/null || true; done
	-rmdir $(DESTDIR)$(LIBDIR) $(DESTDIR)$(DATADIR) 2>/dev/null

# What a package build runs: the build and the unit tests, as any user,
# with no namespace, no root and no apt (make test needs all three).
check: all $(UNIT)
	@for test in $(UNIT); do $$test || exit 1; done

# The release tarball: what git tracks, under noselfconn-VERSION/, with
# the last commit's time (the same tree gives the same bytes).
DIST := $(BUILD)/noselfconn-$(VERSION).tar.gz
dist:
	@mkdir -p $(BUILD)
	git ls-files -z | tar --null -T - --sort=name --owner=0 --group=0 --numeric-owner \
		--mtime=@$$(git log -1 --format=%ct) --transform 's|^|noselfconn-$(VERSION)/|S' \
		-cf - | gzip -9n > $(DIST)
	@echo "$(DIST)"

# Debian packages, built from the release tarball with debhelper: the
# tarball unpacked under $(BUILD)/deb, shim/pkg/debian copied in as debian/
# with a changelog for VERSION, dpkg-buildpackage; the packages left in
# $(BUILD). No debian/ directory in the source tree. On amd64 set up for
# i386 (tests/deps.sh deb), the 32-bit library too: lib32noselfconn from
# the amd64 build, then libnoselfconn:i386 from an i386 build of the same
# source (library only: the pkg.noselfconn.libonly profile); elsewhere the
# native packages only (the nobiarch profile), and it says so.
DEB_SRC := $(BUILD)/deb/noselfconn-$(VERSION)
# DEB_BUILD OPTIONS LOG [ENV]: one dpkg-buildpackage, its output in LOG;
# none of this make's settings reach the make inside (`make deb BUILD=DIR`
# would have its make clean remove DIR, a LIBDIR would misplace files).
DEB_ENV := $(foreach var,MAKEFLAGS MFLAGS MAKELEVEL BUILD CC WITH_I386 PREFIX BINDIR LIBDIR \
	MANDIR DATADIR SYSTEMDUNITDIR BASHCOMPDIR LD_SO_PRELOAD,-u $(var))
DEB_BUILD = (cd $(DEB_SRC) && env $(DEB_ENV) $(3) dpkg-buildpackage -us -uc $(1)) >$(BUILD)/deb/$(2) 2>&1 || \
	{ tail -n 40 $(BUILD)/deb/$(2); exit 1; }
deb: dist
	@tests/deps.sh deb
	rm -rf $(BUILD)/deb && mkdir -p $(BUILD)/deb
	tar -C $(BUILD)/deb -xzf $(DIST)
	cp -R shim/pkg/debian $(DEB_SRC)/debian
	shim/pkg/changelog.sh $(VERSION) $$(git log -1 --format=%ct) > $(DEB_SRC)/debian/changelog
	@if why=$$(shim/pkg/i386-ready.sh 2>&1); then \
		echo "dpkg-buildpackage -b; dpkg-buildpackage -ai386 -B -Ppkg.noselfconn.libonly"; \
		$(call DEB_BUILD,-b,build.log); \
		$(call DEB_BUILD,-ai386 -B -Ppkg.noselfconn.libonly,build-i386.log, \
			DEB_BUILD_OPTIONS="$${DEB_BUILD_OPTIONS:+$$DEB_BUILD_OPTIONS }crossbuildcanrunhostbinaries"); \
	else \
		echo "noselfconn: building $$(dpkg --print-architecture) packages only: $$why"; \
		$(call DEB_BUILD,-b -Pnobiarch,build.log); \
	fi
	rm -f $(BUILD)/*.deb && cp $(BUILD)/deb/*.deb $(BUILD)/
	@ls $(BUILD)/*.deb

# The packages tested: lintian, then install, upgrade and purge in a fresh
# Debian root (debootstrap, made once and kept in $(BUILD)). Needs root and
# the network the first time; run by CI.
.PHONY: test-package
test-package: deb
	@tests/deps.sh package
	BATS_TEST_TIMEOUT=900 bats tests/package/

clean:
	rm -rf $(BUILD)

# The kernel matrix: Debian's 6.1 and 6.12 cloud kernels booted under qemu
# (TCG, no KVM needed), the case table tests/kernels/cases run in each; the
# packages are fetched into $(BUILD)/kernels, never installed. kernel-table
# writes the kernel table of shim/doc/testing.md from the last run.
.PHONY: test-kernels kernel-table
test-kernels: all $(HELPERS) $(BUILD)/tests/dial-static
	@tests/deps.sh kernels
	tests/kernels/run.sh $(BUILD)

kernel-table:
	tests/kernels/table.sh $(BUILD)/kernels shim/doc/testing.md

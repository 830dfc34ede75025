# noselfconn — see README.md. User CFLAGS, LDFLAGS, PREFIX and DESTDIR are honoured.
VERSION  := 0.1.0
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
LIBDIR   ?= $(PREFIX)/lib
MANDIR   ?= $(PREFIX)/share/man
DATADIR  ?= $(PREFIX)/share/noselfconn
CC       ?= cc
CFLAGS   ?= -O2 -g
BUILD    ?= build

# Always on, whatever the user's CFLAGS say.
NSC_CFLAGS  := -std=gnu11 -Wall -Wextra -fvisibility=hidden -fPIC \
               -DNOSELFCONN_VERSION='"$(VERSION)"' -DNOSELFCONN_LIBDIR='"$(LIBDIR)"'
NSC_LDFLAGS := -Wl,-z,relro,-z,now,-z,noexecstack
# A preload is loaded by every exec under /etc/ld.so.preload: two loadable
# segments instead of four (code shares its pages with the read-only data)
# spare two mmap()s and their page faults each time, ~2 % of an exec here.
PRELOAD_LDFLAGS := $(NSC_LDFLAGS) -Wl,-z,noseparate-code

LIB_SRCS     := shim/guard.c shim/runtime.c shim/report.c shim/verdict.c
LIB          := $(BUILD)/libnoselfconn.so
WRAPPER      := $(BUILD)/noselfconn
HELPERS      := $(patsubst tests/helpers/%.c,$(BUILD)/tests/%,$(wildcard tests/helpers/*.c))
PRELOADS     := $(patsubst tests/preloads/%.c,$(BUILD)/tests/%.so,$(wildcard tests/preloads/*.c))
UNIT         := $(BUILD)/tests/unit_verdict $(BUILD)/tests/unit_procnet
FUZZER       := $(BUILD)/tests/fuzz_verdict
FUZZ_SECONDS ?= 60
BENCH        := $(BUILD)/tests/bench $(BUILD)/tests/empty.so

.PHONY: all test test-build sanitize coverage demo demo-proxy bench lint fuzz install uninstall clean
all: $(LIB) $(WRAPPER)

$(LIB): $(LIB_SRCS) $(wildcard shim/*.h) shim/exports.map | $(BUILD)
	$(CC) $(NSC_CFLAGS) $(CFLAGS) -shared $(PRELOAD_LDFLAGS) $(LDFLAGS) \
		-Wl,--version-script=shim/exports.map -o $@ $(LIB_SRCS) -ldl

WRAPPER_SRCS := shim/noselfconn.c shim/audit.c shim/procnet.c shim/supervise.c shim/verdict.c
$(WRAPPER): $(WRAPPER_SRCS) $(wildcard shim/*.h) | $(BUILD)
	$(CC) $(NSC_CFLAGS) $(CFLAGS) $(NSC_LDFLAGS) $(LDFLAGS) -o $@ $(WRAPPER_SRCS)

# The dial helper again, statically linked: what a preload cannot reach.
$(BUILD)/tests/dial-static: tests/helpers/dial.c tests/helpers/common.h | $(BUILD)/tests
	$(CC) $(NSC_CFLAGS) -O2 -static -o $@ $< -lpthread

$(BUILD)/tests/%: tests/helpers/%.c tests/helpers/common.h | $(BUILD)/tests
	$(CC) $(NSC_CFLAGS) $(CFLAGS) $(NSC_LDFLAGS) $(LDFLAGS) -o $@ $< -lpthread

$(BUILD)/tests/bench: tests/bench/bench.c | $(BUILD)/tests
	$(CC) $(NSC_CFLAGS) $(CFLAGS) $(NSC_LDFLAGS) $(LDFLAGS) -o $@ $< -lpthread

$(BUILD)/tests/empty.so: tests/bench/empty.c | $(BUILD)/tests
	$(CC) $(NSC_CFLAGS) $(CFLAGS) -shared $(PRELOAD_LDFLAGS) $(LDFLAGS) -o $@ $<

$(BUILD)/tests/%.so: tests/preloads/%.c | $(BUILD)/tests
	$(CC) $(NSC_CFLAGS) $(CFLAGS) -shared $(NSC_LDFLAGS) $(LDFLAGS) -o $@ $< -ldl

$(BUILD)/tests/unit_%: tests/unit/unit_%.c tests/unit/check.h shim/%.c shim/%.h | $(BUILD)/tests
	$(CC) $(NSC_CFLAGS) $(CFLAGS) -Ishim $(LDFLAGS) -o $@ tests/unit/unit_$*.c shim/$*.c

# libFuzzer needs clang, whatever CC is.
$(FUZZER): tests/fuzz/fuzz_verdict.c shim/verdict.c shim/verdict.h | $(BUILD)/tests
	clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Ishim \
		-o $@ tests/fuzz/fuzz_verdict.c shim/verdict.c

$(BUILD) $(BUILD)/tests:
	mkdir -p $@

# tests/deps.sh installs what is missing when run as root, else names the command.
TEST_BUILD := all $(HELPERS) $(BUILD)/tests/dial-static $(PRELOADS) $(UNIT) $(BENCH) $(FUZZER)
test-build: $(TEST_BUILD)

# Dependencies first (clang's libFuzzer, musl-gcc... build test programs),
# then the build. A test that hangs fails after 15 minutes, not CI.
test:
	@tests/deps.sh test
	$(MAKE) test-build
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
	@tests/deps.sh test
	$(MAKE) BUILD=$(SAN_BUILD) CFLAGS="$(SAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" test-build
	NSC_BUILD=$(abspath $(SAN_BUILD)) \
	NSC_SANITIZER_RUNTIME=$$($(CC) -print-file-name=libasan.so) \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		BATS_TEST_TIMEOUT=900 bats --filter-tags '!no-sanitizer,!foreign-programs' tests/

demo:
	@tests/deps.sh demo
	$(MAKE) all
	demo/self-connect.sh

# The second demo: a socat proxy in front of a backend that is down.
demo-proxy:
	@tests/deps.sh test
	$(MAKE) all
	demo/legacy-proxy.sh

# New inputs go to the build tree; tests/fuzz/corpus holds the seeds.
fuzz:
	@tests/deps.sh test
	$(MAKE) $(FUZZER)
	mkdir -p $(BUILD)/fuzz-corpus
	$(FUZZER) -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $(BUILD)/fuzz-corpus tests/fuzz/corpus

lint:
	@tests/deps.sh test
	tests/lint.sh

# Line coverage of shim/ from the whole suite, over a --coverage build.
COV_BUILD := $(BUILD)/coverage
coverage:
	@tests/deps.sh test
	rm -rf $(COV_BUILD)
	$(MAKE) BUILD=$(COV_BUILD) CFLAGS="-O0 -g --coverage" LDFLAGS="--coverage" test-build
	NSC_BUILD=$(abspath $(COV_BUILD)) bats tests/
	tests/coverage.sh $(COV_BUILD)

# Timing is noisy on small machines: benchmarks are not part of `make test`.
bench:
	@tests/deps.sh test
	$(MAKE) all $(HELPERS) $(BENCH)
	tests/bench/run.sh

# The drop-in example names the library where this install puts it.
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(DATADIR)
	install -m 755 $(WRAPPER) $(DESTDIR)$(BINDIR)/noselfconn
	install -m 644 $(LIB) $(DESTDIR)$(LIBDIR)/libnoselfconn.so
	install -m 644 shim/noselfconn.1 $(DESTDIR)$(MANDIR)/man1/noselfconn.1
	install -m 644 shim/libnoselfconn.7 $(DESTDIR)$(MANDIR)/man7/libnoselfconn.7
	sed 's|=/usr/local/lib/libnoselfconn.so|=$(LIBDIR)/libnoselfconn.so|' shim/systemd-dropin.conf \
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
test-kernels:
	@tests/deps.sh kernels
	$(MAKE) all $(HELPERS) $(BUILD)/tests/dial-static
	tests/kernels/run.sh $(BUILD)

kernel-table:
	tests/kernels/table.sh $(BUILD)/kernels README.md

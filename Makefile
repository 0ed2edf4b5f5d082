# mqfs — one plain Makefile. Objects under build/, dependency files by -MMD -MP.
#
#   make            build build/mqfs (make all the same)
#   make run        install missing packages, build, mount ./mnt (data ./mqfs-data)
#   make cluster    install missing packages, build, run ZooKeeper and three
#                   brokers on loopback, mounts ./cluster/mnt1..3 (Ctrl-C stops)
#   make test       install missing packages, check the layers, build, run unit +
#                   integration tests
#   make unit       build and run the unit tests only; make integration the
#                   integration scripts only (tests/integration/run.sh)
#   make deps       install every missing package the tests use
#   make test-bins  build every test binary without running it
#   make asan       the same suite under AddressSanitizer/UBSan (build-asan/)
#   make tsan       the unit tests under ThreadSanitizer (build-tsan/): a data
#                   race or a lock-order inversion fails its test binary
#   make fuzz       each fuzz target under libFuzzer for FUZZ_SECONDS (clang,
#                   build-fuzz/, through make fuzz-run); make test replays
#                   their corpus (make fuzz-replay); make fuzz-corpus
#                   regenerates the seeds of the batch, recovery and client
#                   targets
#   make bench      install missing packages (with redis-server, redis-tools),
#                   build, run the benchmarks under contrib/bench
#   make install    PREFIX=/usr/local DESTDIR=; make uninstall the same
#   make format     clang-format the C files; make format-check only checks
#   make check-layers  the include rules of fs -> repl -> engine -> util
#   make clean      remove build/, build-asan/, build-tsan/, build-fuzz/
#   make help       this list

VERSION  := 0.1.0
PREFIX   ?= /usr/local
DESTDIR  ?=
BUILD    ?= build
CC       ?= cc
PKGS     := fuse3 liblz4 zlib libzstd libcrypto jansson
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
OPT      ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror $(OPT) -MMD -MP \
            -DMQFS_VERSION=\"$(VERSION)\" -I. $(PKG_CFLAGS)
LDLIBS   += $(PKG_LIBS) -lzookeeper_mt -lpthread

UTIL_SRC   := $(wildcard util/*.c)
ENGINE_SRC := $(wildcard engine/*.c)
REPL_SRC   := $(wildcard repl/*.c)
FS_SRC     := $(filter-out fs/main.c,$(wildcard fs/*.c))
LIB_OBJ    := $(patsubst %.c,$(BUILD)/%.o,$(UTIL_SRC) $(ENGINE_SRC) $(REPL_SRC) $(FS_SRC))
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_SUPPORT := $(filter-out tests/unit/test_%,$(wildcard tests/unit/*.c))
UNIT_BIN   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
UNIT_SUPPORT_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(UNIT_SUPPORT))

all: $(BUILD)/mqfs $(BUILD)/mqfs-passthrough

# The targets, as the comment at the top of this file lists them.
help:
	@sed -n '3,/^$$/s/^# \{0,1\}//p' Makefile

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libmqfs.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/mqfs: $(BUILD)/fs/main.o $(BUILD)/libmqfs.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/mqfs-passthrough: $(BUILD)/contrib/bench/passthrough.o $(BUILD)/libmqfs.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(UNIT_SUPPORT_OBJ) $(BUILD)/libmqfs.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# test_allocfail fails allocations at will: every malloc, calloc, realloc,
# strdup, strndup and posix_memalign of the engine goes through its
# wrappers (the linker's --wrap; libc's own calls are left alone), in
# the sanitizer builds too (override: those set LDFLAGS on the command line).
# mq_log and mq_ratelimit_ok too: it counts the log lines of a refusal,
# every one let through.
$(BUILD)/tests/test_allocfail: override LDFLAGS += -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=strndup,--wrap=posix_memalign,--wrap=mq_log,--wrap=mq_ratelimit_ok

# test_sysfail fails directory listings and fdatasyncs at will (readdir
# and fdatasync through its wrappers), in the sanitizer builds too.
$(BUILD)/tests/test_sysfail: override LDFLAGS += -Wl,--wrap=readdir,--wrap=fdatasync

# Kafka client programs on librdkafka (tests/clients/, contrib/bench/):
# test and benchmark tools, linked with librdkafka-dev, never part of mqfs.
RDK_CFLAGS := $(shell pkg-config --cflags rdkafka 2>/dev/null)
RDK_LIBS   := $(shell pkg-config --libs rdkafka 2>/dev/null)
CLIENT_BIN := $(BUILD)/tests/clients/rdk_check

$(BUILD)/tests/clients/%: tests/clients/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(RDK_CFLAGS) $(LDFLAGS) -o $@ $< $(RDK_LIBS)

$(BUILD)/rdk_perf: contrib/bench/rdk_perf.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(RDK_CFLAGS) $(LDFLAGS) -o $@ $< $(RDK_LIBS)

# Fuzz targets (tests/fuzz/fuzz_<t>.c). make test and make asan run each
# over its checked-in corpus (tests/fuzz/corpus/fuzz_<t>/) through replay.c,
# built with the normal compiler; make fuzz builds them with libFuzzer.
FUZZ_TARGETS := batch recovery request client groupmeta ckpt zkdata config sidecar ident groupctl
FUZZ_REPLAY  := $(patsubst %,$(BUILD)/fuzz/replay-%,$(FUZZ_TARGETS))
FUZZ_SECONDS ?= 60

$(BUILD)/fuzz/replay-%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/tests/fuzz/replay.o $(BUILD)/tests/fuzz/fuzzdir.o $(BUILD)/libmqfs.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/fuzz/fuzz-%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/tests/fuzz/fuzzdir.o $(BUILD)/libmqfs.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/fuzz/gen-corpus: $(BUILD)/tests/fuzz/gen_corpus.o $(BUILD)/libmqfs.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Each replay's output goes to a file, shown only when it fails.
fuzz-replay: $(FUZZ_REPLAY)
	@for t in $(FUZZ_TARGETS); do \
	    $(BUILD)/fuzz/replay-$$t tests/fuzz/corpus/fuzz_$$t > $(BUILD)/fuzz/replay-$$t.log 2>&1 || \
	        { cat $(BUILD)/fuzz/replay-$$t.log; echo "fuzz replay $$t: FAILED"; exit 1; }; \
	    echo "fuzz replay $$t: $$(tail -n 1 $(BUILD)/fuzz/replay-$$t.log)"; \
	done

# New inputs go to build-fuzz/fuzz/corpus-<t>/, crashes to
# build-fuzz/fuzz/crashes-<t>/; the checked-in corpus is only read.
fuzz:
	@command -v clang >/dev/null 2>&1 || sh contrib/install-deps.sh clang
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang \
	    OPT="-O1 -g -fsanitize=fuzzer-no-link,address -fno-omit-frame-pointer" \
	    LDFLAGS="-fsanitize=fuzzer,address" fuzz-run

fuzz-run: $(patsubst %,$(BUILD)/fuzz/fuzz-%,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(BUILD)/fuzz/corpus-$$t $(BUILD)/fuzz/crashes-$$t; \
	    echo "fuzz $$t: $(FUZZ_SECONDS) s"; \
	    $(BUILD)/fuzz/fuzz-$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        -artifact_prefix=$(BUILD)/fuzz/crashes-$$t/ \
	        $(BUILD)/fuzz/corpus-$$t tests/fuzz/corpus/fuzz_$$t || exit 1; \
	done

# Regenerates the seed corpus of the batch, recovery and client targets
# (deterministic); the request target's seeds are kept by hand.
fuzz-corpus: $(BUILD)/fuzz/gen-corpus
	rm -rf tests/fuzz/corpus/fuzz_batch tests/fuzz/corpus/fuzz_recovery tests/fuzz/corpus/fuzz_client
	mkdir -p tests/fuzz/corpus/fuzz_batch tests/fuzz/corpus/fuzz_recovery tests/fuzz/corpus/fuzz_client
	$(BUILD)/fuzz/gen-corpus tests/fuzz/corpus

deps:
	@sh contrib/install-deps.sh

run:
	@sh contrib/install-deps.sh run
	@$(MAKE) --no-print-directory -q all || $(MAKE) --no-print-directory all
	@mkdir -p mnt mqfs-data
	./$(BUILD)/mqfs -f --data ./mqfs-data ./mnt

cluster:
	@sh contrib/install-deps.sh cluster
	@$(MAKE) --no-print-directory -q all || $(MAKE) --no-print-directory all
	@sh contrib/cluster/run.sh $(BUILD)

unit: $(UNIT_BIN)
	@sh tests/run-unit.sh $(UNIT_BIN)

integration: all $(CLIENT_BIN)
	@INTEGRATION_JOBS=$(INTEGRATION_JOBS) sh tests/integration/run.sh $(BUILD)/mqfs

# C sources as .clang-format has them (clang-format from Debian).
FORMAT_SRC = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format-check:
	@command -v clang-format >/dev/null 2>&1 || sh contrib/install-deps.sh
	@clang-format --dry-run --Werror $(FORMAT_SRC) && echo "format-check: ok"

format:
	clang-format -i $(FORMAT_SRC)

# Fails when an #include crosses the layers (util <- engine <- repl <- fs)
# the wrong way; its header says the rules.
check-layers:
	@sh tests/check-layers.sh

# The build runs JOBS compilations at once (the CPUs); the tests it then
# runs side by side too: tests/run-unit.sh the unit binaries (UNIT_JOBS,
# the CPUs), tests/integration/run.sh INTEGRATION_JOBS scripts (the CPUs,
# at most 2: each cluster script runs ZooKeeper and three brokers). The
# sanitizer build runs its scripts one at a time: its daemons take two to
# three times the CPU, and the suite's time there is not the one to keep
# short.
JOBS ?= $(shell nproc 2>/dev/null || echo 1)
INTEGRATION_JOBS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ "$$n" -gt 2 ] && n=2; echo $$n)

test-bins: all $(UNIT_BIN) $(FUZZ_REPLAY) $(CLIENT_BIN)

test: deps
	@$(MAKE) --no-print-directory check-layers
	@$(MAKE) --no-print-directory -j$(JOBS) test-bins
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory fuzz-replay
	@$(MAKE) --no-print-directory integration

# The integration scripts' sanitizer reports go to build-asan/sanitizer/
# (tests/integration/run.sh: a report fails its script). LeakSanitizer
# would write one listing the suppressions it matched even when every leak
# it found was suppressed (libzookeeper_mt's, now and then): not printed.
ASAN_MAKE = $(MAKE) --no-print-directory BUILD=build-asan \
	OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	LDFLAGS="-fsanitize=address,undefined"
asan: deps
	@$(ASAN_MAKE) -j$(JOBS) test-bins
	@LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	SANITIZER_DIR=$(CURDIR)/build-asan/sanitizer \
	$(ASAN_MAKE) INTEGRATION_JOBS=1 unit fuzz-replay integration

# ThreadSanitizer exits 66 from a binary that reported, which run-unit.sh
# counts as a failure. The daemon built there, build-tsan/mqfs, can run
# integration scripts too (TSAN_OPTIONS=log_path=... keeps its reports).
# gcc warns of a maybe-uninitialized variable at -O1 with TSan that it
# does not see otherwise (replica_mgr.c's apply_state): not an error here.
tsan: deps
	@$(MAKE) --no-print-directory BUILD=build-tsan \
	    OPT="-O1 -g -fsanitize=thread -fno-omit-frame-pointer -Wno-maybe-uninitialized" \
	    LDFLAGS="-fsanitize=thread" all unit

bench:
	@sh contrib/install-deps.sh bench
	@$(MAKE) --no-print-directory all $(BUILD)/rdk_perf
	@sh contrib/bench/run.sh $(BUILD)

# Installs the binary, mqfs(8), the example broker config and the systemd
# unit (its paths rewritten to this PREFIX/SYSCONFDIR). `mount -t fuse.mqfs`
# needs no helper of ours: mount.fuse3 runs `mqfs` found on the default
# PATH (mount(8) drops the caller's PATH), so PREFIX should be /usr/local or
# /usr for it. An existing SYSCONFDIR/mqfs/*.conf is never touched.
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR    ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)

install: all
	install -D -m 0755 $(BUILD)/mqfs $(DESTDIR)$(BINDIR)/mqfs
	install -D -m 0644 contrib/mqfs.8 $(DESTDIR)$(MANDIR)/man8/mqfs.8
	install -D -m 0644 contrib/mqfs.conf $(DESTDIR)$(SYSCONFDIR)/mqfs/mqfs.conf.example
	@mkdir -p $(DESTDIR)$(UNITDIR)
	sed -e 's|/usr/local/bin/mqfs|$(BINDIR)/mqfs|g' \
	    -e 's|/usr/local/etc/mqfs|$(SYSCONFDIR)/mqfs|g' \
	    contrib/systemd/mqfs@.service > $(DESTDIR)$(UNITDIR)/mqfs@.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/mqfs@.service

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/mqfs $(DESTDIR)$(MANDIR)/man8/mqfs.8 \
	      $(DESTDIR)$(SYSCONFDIR)/mqfs/mqfs.conf.example $(DESTDIR)$(UNITDIR)/mqfs@.service
	@# SYSCONFDIR/mqfs goes only when empty: the user's *.conf files stay,
	@# and so does the directory then, which is no error.
	rmdir $(DESTDIR)$(SYSCONFDIR)/mqfs 2>/dev/null || true

clean:
	rm -rf build build-asan build-tsan build-fuzz

.PHONY: help format format-check all deps run cluster check-layers unit integration test test-bins asan tsan bench install uninstall clean \
	fuzz fuzz-run fuzz-replay fuzz-corpus
.SECONDARY:

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# dbtrun — one plain Makefile. `make help` lists the targets.
#
# Layout (docs/architecture.md): src/base/ (utilities), src/aws/ (AWS), src/dbt/
# (dbt knowledge), src/lua/ (Lua bindings), runner/ (CLI entry),
# lua/ + tasks/ (embedded into the binary at build time by tools/embed.c).

PREFIX  ?= /usr/local
BUILD   ?= build
CC      ?= cc
OPT     ?= -O2 -g
V       ?= 0
Q        = $(if $(filter 1,$(V)),,@)
PKGS     = lua5.4 libcurl libcrypto libcjson expat
# libcurl and libcrypto are compiled against but loaded with dlopen on first
# use (src/base/dl.c), so they are not linked.
LINKED   = lua5.4 libcjson expat

WARN     = -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes \
           -Wmissing-prototypes -Wwrite-strings -Werror
CFLAGS  += -std=c11 -D_POSIX_C_SOURCE=200809L $(WARN) $(OPT) -Iinclude \
           $(shell pkg-config --cflags $(PKGS))
# --as-needed: a library is loaded at start-up only if the binary uses it,
# so the task runner does not pay for libraries it never calls.
LDFLAGS += -Wl,--as-needed
LDLIBS  += $(shell pkg-config --libs $(LINKED)) -lm -ldl
# Stock Lua, expat and cJSON linked statically when their archives are
# installed: each spares the dynamic loader a shared library at every start.
# Debian ships no libcjson.a; tools/deps.sh builds one from Debian's source
# (tools/cjson-static.sh) into /usr/local/lib/dbtrun, and `make wheel` builds
# its own, so the wheel's binary needs nothing but glibc.
LUA_A    = $(wildcard $(shell pkg-config --variable=libdir lua5.4)/liblua5.4.a)
EXPAT_A  = $(wildcard $(shell pkg-config --variable=libdir expat)/libexpat.a)
CJSON_A ?= $(wildcard /usr/local/lib/dbtrun/libcjson.a)
LDLIBS  := $(patsubst -llua5.4,$(or $(LUA_A),-llua5.4),$(patsubst -lexpat,$(or $(EXPAT_A),-lexpat),\
           $(patsubst -lcjson,$(or $(CJSON_A),-lcjson),$(LDLIBS))))
# tools/glibc_compat.c keeps the portable binary's glibc requirement at what
# dbtrun itself needs (see there).
COMPAT_OBJ = $(if $(filter 1,$(PORTABLE)),$(BUILD)/tools/glibc_compat.o)
ifeq ($(PORTABLE),1)
ifneq ($(words $(LUA_A) $(EXPAT_A)),2)
$(error a portable build needs liblua5.4.a and libexpat.a (liblua5.4-dev, libexpat1-dev: tools/deps.sh))
endif
endif

VERSION := $(shell cat VERSION)
CFLAGS  += -DDR_VERSION='"$(VERSION)"'

CORE_SRC = $(wildcard src/base/*.c src/aws/*.c src/dbt/*.c src/lua/*.c)
# runner/ files other than main.c go into the library too, so that unit
# tests can link them.
RUNNER_SRC = $(filter-out runner/main.c,$(wildcard runner/*.c))
CORE_OBJ = $(CORE_SRC:%.c=$(BUILD)/%.o) $(RUNNER_SRC:%.c=$(BUILD)/%.o) $(BUILD)/embedded.o
MAIN_OBJ = $(BUILD)/runner/main.o
EMBEDDED = $(sort $(wildcard lua/*.lua tasks/*.lua))
UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all test unit asan fuzz fuzz-build check check-layers bench format check-format install portable wheel dist clean help

all: $(BUILD)/dbtrun

$(BUILD)/dbtrun: $(MAIN_OBJ) $(BUILD)/libdbtrun.a $(CJSON_A) $(COMPAT_OBJ)
	@echo "  LINK $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(MAIN_OBJ) $(COMPAT_OBJ) $(BUILD)/libdbtrun.a $(LDLIBS)

$(BUILD)/libdbtrun.a: $(CORE_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/%.o: %.c $(wildcard include/dbtrun/*.h src/aws/*.inc) VERSION
	@mkdir -p $(dir $@)
	@echo "  CC   $<"
	$(Q)$(CC) $(CFLAGS) -MMD -c -o $@ $<

# The generator runs on the build machine: plain flags, no sanitizers.
$(BUILD)/embed: tools/embed.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) -std=c11 -O1 $(shell pkg-config --cflags lua5.4) -o $@ $< $(shell pkg-config --libs lua5.4)

$(BUILD)/embedded.c: $(BUILD)/embed $(EMBEDDED)
	$(Q)$(BUILD)/embed $(EMBEDDED) > $@.tmp && mv $@.tmp $@

$(BUILD)/embedded.o: $(BUILD)/embedded.c
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(BUILD)/libdbtrun.a
	@mkdir -p $(dir $@)
	@echo "  TEST $@"
	$(Q)$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(BUILD)/libdbtrun.a $(LDLIBS)

unit: $(UNIT_BIN)

# Every suite (C unit, Lua, end-to-end); the last line is "N passed, N failed".
test: all unit
	DR_BUILD=$(BUILD) tests/run

# The same suites with AddressSanitizer and UBSan in their own build folder.
asan:
	$(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
	        LDFLAGS="-Wl,--as-needed -fsanitize=address,undefined" test

# libFuzzer harnesses (tests/fuzz/fuzz_<name>.c) for the parsers that read
# outside input. The library is rebuilt with clang and coverage into
# build-fuzz/; each harness then runs FUZZ_SECONDS from its seeds in
# tests/fuzz/corpus/<name>/ (new inputs go to build-fuzz/corpus/<name>/,
# crashes to build-fuzz/crash-<name>-*), and a crash fails the target.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 20
FUZZ_BUILD    = build-fuzz
FUZZ_OPT      = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_TARGETS  = manifest xml ini filter sigv4 mask
FUZZ_BIN      = $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)

fuzz-build:
	$(Q)$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) \
	        OPT="$(FUZZ_OPT) -fsanitize=fuzzer-no-link" $(FUZZ_BUILD)/libdbtrun.a
	$(Q)$(MAKE) --no-print-directory $(FUZZ_BIN)

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_BUILD)/libdbtrun.a
	@echo "  FUZZ $@"
	$(Q)$(FUZZ_CC) $(filter-out $(OPT),$(CFLAGS)) $(FUZZ_OPT) -fsanitize=fuzzer -Itests/fuzz \
	        $(LDFLAGS) -o $@ $< $(FUZZ_BUILD)/libdbtrun.a $(LDLIBS)

fuzz: fuzz-build
	$(Q)for t in $(FUZZ_TARGETS); do \
	    echo "  RUN  fuzz_$$t for $(FUZZ_SECONDS)s"; \
	    mkdir -p $(FUZZ_BUILD)/corpus/$$t && \
	    $(FUZZ_BUILD)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	        -print_final_stats=0 -artifact_prefix=$(FUZZ_BUILD)/crash-$$t- \
	        $(FUZZ_BUILD)/corpus/$$t tests/fuzz/corpus/$$t 2>$(FUZZ_BUILD)/fuzz_$$t.log || \
	        { tail -n 60 $(FUZZ_BUILD)/fuzz_$$t.log; echo "fuzz_$$t failed: input in $(FUZZ_BUILD)/crash-$$t-*"; exit 1; }; \
	    tail -n 1 $(FUZZ_BUILD)/fuzz_$$t.log; \
	done

# Everything CI runs: formatting, the layer rule, the suites, the suites
# under sanitizers, and the fuzzers (6 x FUZZ_SECONDS).
check: check-format check-layers test asan fuzz

# No include across a forbidden line (docs/architecture.md).
check-layers:
	$(Q)tools/check-layers.sh

bench: all
	bench/startup.sh
	bench/s3.sh
	bench/plan.sh

FORMAT_FILES = $(wildcard runner/*.c $(CORE_SRC) include/dbtrun/*.h tests/unit/*.c tests/unit/*.h tests/fuzz/*.c tests/fuzz/*.h tools/*.c)
format:
	clang-format -i $(FORMAT_FILES)
check-format:
	clang-format --dry-run --Werror $(FORMAT_FILES)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BUILD)/dbtrun $(DESTDIR)$(PREFIX)/bin/dbtrun

# The portable binary of the wheel and the release tarball, in its own build
# folder: no debug info, stripped, Lua, expat and cJSON linked in, so it needs
# only glibc (libcurl and libcrypto stay dlopened, src/base/dl.c). Flags are
# given explicitly so that a `make asan` calling this (the wheel test does)
# cannot pass its sanitizers down.
PYTHON      ?= python3
WHEEL_BUILD  = build-wheel
DIST         = dist
DIST_NAME    = dbtrun-$(VERSION)-linux-x86_64

# Its static cJSON: the one tools/deps.sh installed (CJSON_A), else built here
# the same way, from Debian's source.
WHEEL_CJSON  = $(or $(CJSON_A),$(WHEEL_BUILD)/cjson/libcjson.a)

$(WHEEL_BUILD)/cjson/libcjson.a: tools/cjson-static.sh
	@mkdir -p $(dir $@)
	$(Q)tools/cjson-static.sh $@

portable:
	$(Q)$(MAKE) --no-print-directory BUILD=$(WHEEL_BUILD) OPT=-O2 LDFLAGS="-Wl,--as-needed -s" \
	        CJSON_A=$(WHEEL_CJSON) PORTABLE=1 $(WHEEL_BUILD)/dbtrun

# dist/dbtrun-<version>-py3-none-manylinux_2_<N>_x86_64.whl, N read from the
# binary's glibc symbol versions (tools/wheel.py).
wheel: portable
	$(Q)rm -f $(DIST)/dbtrun-$(VERSION)-*.whl
	$(Q)$(PYTHON) tools/wheel.py --binary $(WHEEL_BUILD)/dbtrun --version $(VERSION) --out $(DIST)

# dist/dbtrun-<version>-linux-x86_64.tar.gz: the same binary, README, INSTALL.
dist: portable
	$(Q)rm -rf $(WHEEL_BUILD)/$(DIST_NAME) && mkdir -p $(WHEEL_BUILD)/$(DIST_NAME) $(DIST)
	$(Q)install -m 0755 $(WHEEL_BUILD)/dbtrun $(WHEEL_BUILD)/$(DIST_NAME)/dbtrun
	$(Q)install -m 0644 README.md $(WHEEL_BUILD)/$(DIST_NAME)/README.md
	$(Q)glibc=$$($(PYTHON) tools/wheel.py --binary $(WHEEL_BUILD)/dbtrun --print-glibc) && \
	    sed -e 's/@VERSION@/$(VERSION)/g' -e "s/@GLIBC@/$$glibc/g" tools/INSTALL.release \
	        > $(WHEEL_BUILD)/$(DIST_NAME)/INSTALL
	$(Q)tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@$${SOURCE_DATE_EPOCH:-315532800} \
	        -C $(WHEEL_BUILD) -czf $(DIST)/$(DIST_NAME).tar.gz $(DIST_NAME)
	@echo "  DIST $(DIST)/$(DIST_NAME).tar.gz"

clean:
	rm -rf build build-asan build-fuzz $(WHEEL_BUILD) $(DIST)

help:
	@echo "make [all|test|asan|fuzz [FUZZ_SECONDS=N]|check|check-layers|bench|format|check-format|install PREFIX=...|wheel|dist|clean]"

-include $(CORE_OBJ:.o=.d) $(MAIN_OBJ:.o=.d)

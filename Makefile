# changestream-migration — GNU make, one file.
#
# Sources are found by wildcard so that a new lib/ module, tool, unit test
# or mongod-lite file needs no edit here:
#   lib/*.c              -> build/libcsm.a (the shared code)
#   tools/NAME.c         -> bin/NAME        (one program each)
#   test/unit/NAME.c     -> build/test/NAME (unit tests, linked with libcsm.a)
#   test/mongod-lite/*.c -> build/mongod-lite (the test server)
#   bench/*.c            -> build/bench/NAME (benchmark drivers)

PKG_CONFIG ?= pkg-config
PKG_MODULES := libmongoc-1.0 libbson-1.0 jansson libcrypto
MLITE_MODULES := libbson-1.0

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
# lib/driver.sh, the code both drivers source (not a program).
PKGDATADIR ?= $(PREFIX)/share/changestream-migration
DESTDIR ?=

BUILD := build
BIN := bin

# Project flags first; CFLAGS belongs to the user and comes last.
CSM_WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2 -Wvla -Wno-format-nonliteral
CSM_CFLAGS := -std=c11 -D_GNU_SOURCE -O2 -g $(CSM_WARN) -MMD -MP -Ilib
CFLAGS ?=
LDFLAGS ?=

ifdef SANITIZE
CSM_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
CSM_LDFLAGS += -fsanitize=$(SANITIZE)
BUILD := build-san
BIN := build-san/bin
endif

PKG_CHECK := $(shell $(PKG_CONFIG) --exists $(PKG_MODULES) && echo yes)
ifneq ($(PKG_CHECK),yes)
ifeq ($(filter deps clean format lint lint-%,$(MAKECMDGOALS)),)
$(error missing libraries ($(PKG_MODULES)): run 'make deps' first)
endif
endif

PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKG_MODULES) 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKG_MODULES) 2>/dev/null)
MLITE_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(MLITE_MODULES) 2>/dev/null)
MLITE_LIBS := $(shell $(PKG_CONFIG) --libs $(MLITE_MODULES) 2>/dev/null) -lpthread -lm

LIB_SRCS := $(wildcard lib/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIBCSM := $(BUILD)/libcsm.a

TOOL_SRCS := $(wildcard tools/*.c)
TOOLS := $(TOOL_SRCS:tools/%.c=$(BIN)/%)

UNIT_SRCS := $(wildcard test/unit/*.c)
UNITS := $(UNIT_SRCS:test/unit/%.c=$(BUILD)/test/%)

MLITE_SRCS := $(wildcard test/mongod-lite/*.c)
# The server links libbson only, and of lib/ just the clocks (libc alone).
MLITE_OBJS := $(MLITE_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/lib/clock.o
MLITE := $(BUILD)/mongod-lite

BENCH_SRCS := $(wildcard bench/*.c)
BENCHES := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)

DRIVERS := init_migration.sh sync_migration.sh
# What make lint checks: every shell script, sourced helper and bats suite
# (shellcheck reads a .bats file as bash with @test blocks), and every C
# file (clang-format; the function-length rule for lib/ and tools/).
SCRIPTS := $(DRIVERS) lib/driver.sh $(wildcard .ci/run test/*.bash bench/*.sh test/*.sh)
BATS_SUITES := $(wildcard test/*.bats test/valgrind/*.bats)
C_SOURCES := $(wildcard lib/*.[ch] tools/*.c test/unit/*.[ch] test/mongod-lite/*.[ch] bench/*.c)

BATS ?= bats
BATS_JOBS ?= 2
# Every .bats file; TESTS=test/foo.bats narrows a run.
TESTS ?= test

DEB_PACKAGES := libmongoc-dev libbson-dev libjansson-dev libssl-dev pkg-config bats \
	python3-pymongo shellcheck clang-format parallel time gnuplot-nox

.PHONY: all deps test check asan-test unit mongod-lite bench demo lint format \
	install clean valgrind lint-shell lint-format lint-functions lint-citations

all: $(TOOLS)

$(BUILD)/lib/%.o: lib/%.c
	@mkdir -p $(@D)
	$(CC) $(CSM_CFLAGS) $(PKG_CFLAGS) $(CFLAGS) -c -o $@ $<

$(LIBCSM): $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(BIN)/%: tools/%.c $(LIBCSM)
	@mkdir -p $(@D) $(BUILD)/tools
	$(CC) $(CSM_CFLAGS) -MF $(BUILD)/tools/$*.d $(PKG_CFLAGS) $(CFLAGS) -o $@ $< $(LIBCSM) \
		$(CSM_LDFLAGS) $(LDFLAGS) $(PKG_LIBS) -lpthread -lm

$(BUILD)/test/%: test/unit/%.c $(LIBCSM)
	@mkdir -p $(@D)
	$(CC) $(CSM_CFLAGS) -MF $@.d $(PKG_CFLAGS) $(CFLAGS) -o $@ $< $(LIBCSM) \
		$(CSM_LDFLAGS) $(LDFLAGS) $(PKG_LIBS) -lpthread -lm

$(BUILD)/test/mongod-lite/%.o: test/mongod-lite/%.c
	@mkdir -p $(@D)
	$(CC) $(CSM_CFLAGS) -Itest/mongod-lite $(MLITE_CFLAGS) $(CFLAGS) -c -o $@ $<

$(MLITE): $(MLITE_OBJS)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(CSM_LDFLAGS) $(LDFLAGS) $(MLITE_LIBS)

$(BUILD)/bench/%: bench/%.c $(LIBCSM)
	@mkdir -p $(@D)
	$(CC) $(CSM_CFLAGS) -MF $@.d $(PKG_CFLAGS) $(CFLAGS) -o $@ $< $(LIBCSM) \
		$(CSM_LDFLAGS) $(LDFLAGS) $(PKG_LIBS) -lpthread -lm

mongod-lite: $(MLITE)
unit: $(UNITS)

# Installs only what is missing; apt-get update runs first when anything is.
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' \
			|| missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "all dependencies present"; fi

# A hung test fails after BATS_TEST_TIMEOUT seconds instead of hanging CI.
BATS_TEST_TIMEOUT ?= 300
export BATS_TEST_TIMEOUT

test check: $(TOOLS) $(UNITS) $(MLITE) $(BENCHES)
	CSM_BIN=$(abspath $(BIN)) CSM_BUILD=$(abspath $(BUILD)) CSM_SANITIZE=$(SANITIZE) \
		$(BATS) --jobs $(BATS_JOBS) --no-parallelize-within-files \
		$(BATS_FLAGS) $(TESTS)

asan-test:
	$(MAKE) SANITIZE=address,undefined test \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1

# Runs each tool's --help and a short dump/restore under valgrind.
valgrind: $(TOOLS) $(MLITE)
	CSM_BIN=$(abspath $(BIN)) CSM_BUILD=$(abspath $(BUILD)) CSM_VALGRIND=1 \
		$(BATS) $(BATS_FLAGS) test/valgrind

bench: $(TOOLS) $(MLITE) $(BENCHES)
	CSM_BIN=$(abspath $(BIN)) CSM_BUILD=$(abspath $(BUILD)) bench/run.sh

demo: $(TOOLS) $(MLITE)
	CSM_BIN=$(abspath $(BIN)) CSM_BUILD=$(abspath $(BUILD)) test/demo.sh

# Four checks, each its own target (test/lint.bats runs each as a test).
lint: lint-shell lint-format lint-functions lint-citations

lint-shell:
	shellcheck -x $(SCRIPTS) $(BATS_SUITES)

lint-format:
	clang-format --dry-run --Werror $(C_SOURCES)

# No function in lib/ or tools/ over 80 lines (main's option switch aside),
# and no program file over 500: a program is its options and its loop.
lint-functions:
	python3 test/lint/func_length.py $(wildcard lib/*.c tools/*.c)
	@awk 'FNR == 501 { print FILENAME ": over 500 lines: move code to lib/"; bad = 1 } \
		END { exit bad }' $(TOOL_SRCS)

# The contract is docs/DESIGN.md, cited by section: no tracked file may
# still cite the product owner's outline. [C] and [S] keep this rule from
# matching itself; -w spares words like AF_UNSPEC.
lint-citations:
	@status=0; git grep -n -w -E 'SPE[C]|WIRE-NOTE[S]' || status=$$?; \
	case $$status in \
	0) echo "cite docs/DESIGN.md by section name instead (see the lines above)" >&2; exit 1 ;; \
	1) ;; \
	*) echo "git grep failed (status $$status): lint-citations needs a git checkout" >&2; \
		exit $$status ;; \
	esac

format:
	clang-format -i $(C_SOURCES)

# The installed drivers get the installed path of lib/driver.sh written
# into their driver_lib= line. TOOLS= installs the drivers alone.
install: $(TOOLS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(PKGDATADIR)
	$(if $(TOOLS),install -m 0755 $(TOOLS) $(DESTDIR)$(BINDIR))
	install -m 0644 lib/driver.sh $(DESTDIR)$(PKGDATADIR)/driver.sh
	for s in $(DRIVERS); do \
		sed "s|^driver_lib=.*|driver_lib='$(PKGDATADIR)/driver.sh'|" $$s \
			>$(DESTDIR)$(BINDIR)/$$s.tmp && \
		chmod 0755 $(DESTDIR)$(BINDIR)/$$s.tmp && \
		mv -f $(DESTDIR)$(BINDIR)/$$s.tmp $(DESTDIR)$(BINDIR)/$$s || exit 1; \
	done

clean:
	rm -rf build build-san bin

-include $(LIB_OBJS:.o=.d) $(MLITE_OBJS:.o=.d) $(TOOLS:$(BIN)/%=$(BUILD)/tools/%.d) \
	$(UNITS:=.d) $(BENCHES:=.d)

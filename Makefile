# M31 — plain Makefile. `make run` and `make test` are the contract (see README).
#
# Builds: build/ (optimised) and build-san/ (ASan+UBSan), chosen with SAN=1.

CC      ?= gcc
PKGS    := libmicrohttpd jansson libcurl libzip libedit
SAN     ?= 0
ifeq ($(SAN),1)
BUILD   := build-san
OPT     := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
else
BUILD   := build
OPT     := -O2 -g
endif

# Debian's libmruby.a is built with these (see `mruby-config --cflags`); the
# VM's layout depends on matching them.
MRUBY_CFLAGS := -DMRB_USE_RATIONAL -DMRB_USE_COMPLEX
CFLAGS  := -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -MMD -MP $(OPT) \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(MRUBY_CFLAGS) -I.
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lleveldb \
           /usr/lib/libmruby.a -lseccomp -lpthread -lm
LDFLAGS := $(filter -fsanitize=%,$(OPT))

LIB_SRC  := $(wildcard server/*.c resources/*.c store/*.c runtime/*.c util/*.c \
              cli/*.c)
LIB_SRC  := $(filter-out server/main.c,$(LIB_SRC))
PRELUDE  := $(wildcard runtime/prelude/*.rb)
WEB      := $(sort $(wildcard web/*))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/openapi_json.o \
            $(PRELUDE:runtime/prelude/%.rb=$(BUILD)/gen/prelude_%.o) \
            $(BUILD)/gen/web_assets.o
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

PORT ?= 8031

.PHONY: all deps run test unit e2e e2e-san fault fault-san openapi-check bench clean fmt fmt-check san wordfreq browser browser-san

all: $(BUILD)/m31

deps:
	@scripts/deps.sh

run:
	@scripts/deps.sh run
	@$(MAKE) --no-print-directory all
	$(BUILD)/m31 serve --port $(PORT)

$(BUILD)/m31: $(BUILD)/server/main.o $(BUILD)/libm31.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# An archive, so a unit test links only the objects it uses.
$(BUILD)/libm31.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# The OpenAPI document is written as YAML and served as JSON; the JSON is
# generated (tests/http/tools/openapi-json.mjs) and committed so a build needs
# no npm. Ruby that ships inside the node (runtime/prelude/*.rb) is embedded
# the same way.
$(BUILD)/gen/openapi_json.c: openapi/openapi.json scripts/embed.sh
	@mkdir -p $(dir $@)
	scripts/embed.sh m31_openapi_json $< > $@

$(BUILD)/gen/prelude_%.c: runtime/prelude/%.rb scripts/embed.sh
	@mkdir -p $(dir $@)
	scripts/embed.sh m31_prelude_$* $< > $@

# The browser console (web/*, served by resources/web.c): one table of
# {name, content type, ETag, bytes}. The folder is a prerequisite so that
# removing a file rebuilds the table.
$(BUILD)/gen/web_assets.c: web $(WEB) scripts/embed-web.sh scripts/embed.sh
	@mkdir -p $(dir $@)
	scripts/embed-web.sh $(WEB) > $@

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libm31.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libm31.a $(LDLIBS) -lcmocka

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

san:
	@$(MAKE) --no-print-directory SAN=1 all unit

e2e: all
	M31_BIN=$(abspath $(BUILD)/m31) node --test --test-concurrency=1 tests/http/

e2e-san:
	@$(MAKE) --no-print-directory SAN=1 all
	M31_BIN=$(abspath build-san/m31) ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  node --test --test-concurrency=1 tests/http/

# The browser console (web/) in Debian's chromium, driven by playwright-core
# (tests/browser; no browser is ever downloaded). Screenshots of each pane
# go to tests/artifacts/browser/.
browser: all
	M31_BIN=$(abspath $(BUILD)/m31) node --test --test-concurrency=1 tests/browser/

browser-san:
	@$(MAKE) --no-print-directory SAN=1 all
	M31_BIN=$(abspath build-san/m31) ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  node --test --test-concurrency=1 tests/browser/

# SIGKILL in the middle of a write load; every acknowledged write survives.
fault: all
	M31_BIN=$(abspath $(BUILD)/m31) node tests/fault/kill_durability.mjs

fault-san:
	@$(MAKE) --no-print-directory SAN=1 all
	M31_BIN=$(abspath build-san/m31) node tests/fault/kill_durability.mjs

openapi-check:
	node tests/http/tools/openapi-check.mjs

test: deps
	@$(MAKE) --no-print-directory fmt-check all unit openapi-check e2e fault browser
	@$(MAKE) --no-print-directory SAN=1 all unit e2e-san browser-san

# tests/bench/run.sh builds bare_mhd and load_space itself; these helpers
# need the build's flags (mruby's) or erlc, so make builds them.
BENCH_BIN := $(BUILD)/bench/runtime_switch $(BUILD)/bench/http_seq \
             $(BUILD)/bench/spawn_erlang.beam

$(BUILD)/bench/runtime_switch: tests/bench/runtime_switch.c $(BUILD)/libm31.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libm31.a $(LDLIBS)

$(BUILD)/bench/http_seq: tests/bench/http_seq.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -lpthread

$(BUILD)/bench/spawn_erlang.beam: tests/bench/spawn_erlang.erl
	@mkdir -p $(dir $@)
	erlc -o $(dir $@) $<

bench: deps all $(BENCH_BIN)
	M31_BUILD=$(abspath $(BUILD)) tests/bench/run.sh

# The word-frequency example (examples/wordfreq/): Figure 2 of the paper
# over a generated corpus; WORDFREQ_SIZE sets its size (default 4M).
wordfreq: all
	BUILD=$(BUILD) M31_BIN=$(abspath $(BUILD)/m31) examples/wordfreq/run.sh

fmt:
	clang-format -i $$(git ls-files '*.c' '*.h')

fmt-check:
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-san

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

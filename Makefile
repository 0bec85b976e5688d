# trmx — one Makefile for the library, the `trmx` command, tests, benchmarks and the demo.
#
#   make            build build/trmx, build/libtrmx.a, build/libtrmx.so and the engine plugins;
#                   never installs packages: names the missing ones and fails (make deps)
#   make install    PREFIX (/usr/local), DESTDIR: trmx, plugins, headers, the libraries, trmx.pc
#   make test       build and run every test (installs missing Debian packages first)
#   make check      the tests under AddressSanitizer and UndefinedBehaviorSanitizer
#   make bench      benchmarks against PyTorch on CPU and OpenBLAS's sgemm (never gates CI)
#   make deps       install the Debian packages the build needs
#   make demo       build, then run the end-to-end demonstration
#   make serve-demo the demo's home served on 127.0.0.1:8080 (the learner's page, the console)
#
# The user's CFLAGS, CPPFLAGS and LDFLAGS are kept; SANITIZE=address,undefined adds sanitizers;
# BUILD=dir moves the output; ARCHFLAGS (default -march=native) picks the instruction set.

PKGS      := sqlite3 yaml-0.1 libarchive openblas libsodium jansson libmicrohttpd libcurl openssl libpq
TEST_PKGS := cmocka
# libraries without a pkg-config file (Debian's libunistring-dev ships none): linked by name,
# found by preprocessing their header
NOPC_LIBS := -lunistring

BUILD     ?= build
CC        ?= cc
CFLAGS    ?= -O2 -g
ARCHFLAGS ?= -march=native
PREFIX    ?= /usr/local

DEPS_OK := $(shell command -v pkg-config >/dev/null 2>&1 && pkg-config --exists $(PKGS) $(TEST_PKGS) && \
             command -v node >/dev/null && command -v npm >/dev/null && command -v chromium >/dev/null && \
             command -v curl >/dev/null && \
             command -v python3 >/dev/null && command -v promtool >/dev/null && \
             command -v git >/dev/null && command -v clang-format-diff >/dev/null && command -v clang >/dev/null && \
             ls "$$(clang --print-runtime-dir)"/libclang_rt.fuzzer*.a >/dev/null 2>&1 && \
             printf '\043include <uninorm.h>\n' | $(CC) -E -x c - >/dev/null 2>&1 && echo yes)

ifneq ($(DEPS_OK),yes)
# Something is missing. Building never installs packages: `tools/deps.sh --check` names what the
# build lacks and fails (`make deps` installs it); when only the tests' tools are missing the build
# goes on. The test, demo and benchmark targets install what is missing, then run again.
.DEFAULT_GOAL := all
all install lib cli plugins:
	@./tools/deps.sh --check
	$(MAKE) $@ DEPS_OK=yes
test check bench demo serve-demo valgrind fuzz tests test-format test-fuzz:
	./tools/deps.sh
	$(MAKE) $@
train-% ablation-%:
	./tools/deps.sh
	$(MAKE) $@
deps:
	./tools/deps.sh
else

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith \
            -Wno-unused-parameter
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS))
TEST_CFLAGS := $(shell pkg-config --cflags $(TEST_PKGS))
TEST_LIBS   := $(shell pkg-config --libs $(TEST_PKGS))

ifdef SANITIZE
SAN_FLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

ALL_CFLAGS := -std=gnu11 $(WARN) -pthread -fopenmp-simd -fPIC $(ARCHFLAGS) $(CFLAGS) $(SAN_FLAGS) \
              -Iframework/include -Iframework -I. $(PKG_CFLAGS) $(CPPFLAGS) -MMD -MP
ALL_LDFLAGS := -pthread $(SAN_FLAGS) $(LDFLAGS)
LIBS := $(PKG_LIBS) $(NOPC_LIBS) -lm -ldl -lpthread

LIB_DIRS := framework/core framework/tensor framework/engines/trm framework/engines/hrm framework/engines/runtime framework/tasks \
            framework/host framework/log framework/analytics framework/serve packager registry
LIB_SRC  := $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c))
CLI_SRC  := $(wildcard framework/cli/*.c)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_HELPER_SRC := $(wildcard tests/helpers/*.c)
BENCH_SRC := $(wildcard bench/bench_*.c)

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
# web/'s pages, scripts and styles, embedded in the library by tools/embed_web.py (docs/WEB.md)
WEB_SRC  := $(sort $(wildcard web/*.html web/*.css web/*.js web/*.svg))
LIB_OBJ  += $(BUILD)/obj/gen/web_assets.o
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_HELPER_OBJ := $(TEST_HELPER_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

LIBTRMX := $(BUILD)/libtrmx.a
TRMX    := $(BUILD)/trmx
# The shared library: the same objects, compiled with -fvisibility=hidden, so that it exports only
# what framework/include/trmx/*.h declare (each wraps its declarations in
# `#pragma GCC visibility push(default)`; types.h). Its soname carries the major version.
VERSION := $(shell sed -n 's/^\#define TRMX_VERSION "\(.*\)"/\1/p' framework/include/trmx/trmx.h)
SOMAJOR := $(firstword $(subst ., ,$(VERSION)))
LIBTRMX_SO := $(BUILD)/libtrmx.so
$(LIB_OBJ): ALL_CFLAGS += -fvisibility=hidden

.DEFAULT_GOAL := all
.PHONY: all deps test check bench demo valgrind fmt clean install lib cli tests

all: $(TRMX) $(LIBTRMX_SO)
lib: $(LIBTRMX) $(LIBTRMX_SO)
cli: $(TRMX)
tests: $(TEST_BIN) $(TRMX)

deps:
	./tools/deps.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(KERNEL_FLAGS) -c $< -o $@

# The kernels need -O3 (GCC 12's -O2 vectorises only loops without epilogues) and
# -fno-trapping-math (so the clamps and selects of expf and the norms become vector blends).
$(BUILD)/obj/framework/tensor/%.o: KERNEL_FLAGS := -O3 -fno-trapping-math

$(BUILD)/obj/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(TEST_CFLAGS) -Itests -c $< -o $@

$(LIBTRMX): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(LIBTRMX_SO): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared $(ALL_LDFLAGS) -Wl,-soname,libtrmx.so.$(SOMAJOR) -Wl,--no-undefined $^ $(LIBS) -o $@
	ln -sf libtrmx.so $@.$(SOMAJOR)

$(TRMX): $(CLI_OBJ) $(LIBTRMX)
	$(CC) $(ALL_LDFLAGS) $(CLI_OBJ) $(LIBTRMX) $(LIBS) -o $@

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TEST_HELPER_OBJ) $(LIBTRMX)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) $< $(TEST_HELPER_OBJ) $(LIBTRMX) $(TEST_LIBS) $(LIBS) -o $@

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(TEST_HELPER_OBJ) $(LIBTRMX)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) $< $(TEST_HELPER_OBJ) $(LIBTRMX) $(LIBS) -o $@

$(BUILD)/obj/bench/%.o: bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests -c $< -o $@

# Unit tests (cmocka binaries), then the CLI tests (tests/cli/*.test, run by one driver), the
# HTTP and PostgreSQL tests (tests/run.sh); then the format check of the C lines changed since the
# last commit's parent (tests/format/check.sh; FORMAT_BASE=REV compares with REV instead) and the
# fuzz smoke run (tests/fuzz/smoke.sh: builds FUZZ_BUILD's targets, then runs FUZZ_TARGETS for
# FUZZ_SMOKE_SECONDS in all on scratch copies of their seeds). Every step runs; any failure fails
# the suite. `make test-format` and `make test-fuzz` run one of the two alone.
FUZZ_SMOKE_SECONDS ?= 60
# the make that builds the fuzz targets, named through a variable: a recipe line that names
# $(MAKE) itself runs even under `make -n`, and `make -n test` would run the whole suite
SMOKE_MAKE = $(MAKE)
.PHONY: test-format test-fuzz
test: $(TEST_BIN) $(TRMX) $(BUILD)/bench/bench_report
	@rc=0; ./tests/run.sh $(BUILD) || rc=1; \
	./tests/format/check.sh $(BUILD) $(FUZZ_BUILD) || rc=1; \
	MAKE='$(SMOKE_MAKE)' ./tests/fuzz/smoke.sh $(BUILD) $(FUZZ_BUILD) $(FUZZ_SMOKE_SECONDS) '$(FUZZ_TARGETS)' || rc=1; \
	exit $$rc

test-format:
	./tests/format/check.sh $(BUILD) $(FUZZ_BUILD)

test-fuzz:
	MAKE='$(SMOKE_MAKE)' ./tests/fuzz/smoke.sh $(BUILD) $(FUZZ_BUILD) $(FUZZ_SMOKE_SECONDS) '$(FUZZ_TARGETS)'

check:
	$(MAKE) BUILD=build-check SANITIZE=address,undefined CFLAGS="-O1 -g" test

bench: $(TRMX) $(BENCH_BIN)
	./tools/deps.sh --bench
	./bench/run.sh $(BUILD)

demo: $(TRMX)
	./tools/demo.sh $(BUILD)

# The demo's home (made first when missing) served by trmx serve on 127.0.0.1:8080 in the
# foreground, with the URLs of the learner's page, the console and the report (docs/WEB.md).
.PHONY: serve-demo
serve-demo: $(TRMX)
	./tools/demo.sh $(BUILD) --serve

# trmx serve under valgrind's memcheck through a concurrency load (tools/valgrind_serve.sh); built
# apart for an instruction set valgrind 3.19 decodes (it stops at AVX-512).
valgrind:
	$(MAKE) BUILD=build-vg ARCHFLAGS=-march=x86-64-v3 build-vg/trmx
	./tools/valgrind_serve.sh build-vg

# Train a bundled module from modules/NAME/train.yaml (docs/TRAINING.md); refreshes its weights,
# metrics and manifest. Hours of CPU for the larger ones: never part of `test`.
train-%: $(TRMX)
	./tools/train_module.sh $(BUILD) $*

# The recursion ablation (docs/TRAINING.md): three variants of modules/NAME/train.yaml, each
# trained for ABLATION_MINUTES of wall time (ABLATION_SIZE=N: on N x N grids).
ABLATION_MINUTES ?= 10
ablation-%: $(TRMX)
	./tools/ablation.sh $(BUILD) $* $(ABLATION_MINUTES)

# The held-out maze sets, one per family and size, from the seeds reserved for them, and a maze
# module's exact accuracy on those it can read, fixed and adaptive (docs/TRAINING.md, "Held-out
# sets"). Made on demand in BUILD/heldout, never committed.
.PHONY: heldout-mazes maze-baseline halting-calibration
MAZE_WEIGHTS ?= modules/maze/weights.safetensors
MAZE_SIDE ?= 9
heldout-mazes: $(TRMX)
	./tools/heldout_mazes.sh $(BUILD)
maze-baseline: $(TRMX)
	./tools/maze_baseline.sh $(BUILD) $(MAZE_WEIGHTS) $(MAZE_SIDE)
# Every bundled module's halting calibration on held-out sets (docs/TRAINING.md, "Halting").
halting-calibration: $(TRMX)
	./tools/halting_calibration.sh $(BUILD)
# A Sudoku module's model-card table: exact accuracy per held-out level and generator, fixed and
# adaptive (SUDOKU_WEIGHTS: default the module's own).
sudoku-card-%: $(TRMX)
	./tools/sudoku_card.sh $(BUILD) $* $(SUDOKU_WEIGHTS)

fmt:
	clang-format -i $(LIB_SRC) $(CLI_SRC) $(TEST_SRC) $(TEST_HELPER_SRC) $(wildcard framework/*/*.h framework/*/*/*.h)

# PREFIX/bin/trmx, PREFIX/lib/libtrmx.{a,so}, the engine plugins in PREFIX/lib/trmx/plugins (where
# an installed trmx looks, ../lib/trmx/plugins from itself), the public headers in
# PREFIX/include/trmx and PREFIX/lib/pkgconfig/trmx.pc (tests/cli/install.test builds against it).
# The plugins' prerequisites are added in the plugins section below.
install: $(TRMX) $(LIBTRMX) $(LIBTRMX_SO) tools/trmx.pc.in
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/lib/trmx/plugins \
		$(DESTDIR)$(PREFIX)/include/trmx
	install -m 755 $(TRMX) $(DESTDIR)$(PREFIX)/bin/trmx
	install -m 644 $(LIBTRMX) $(DESTDIR)$(PREFIX)/lib/libtrmx.a
	install -m 755 $(LIBTRMX_SO) $(DESTDIR)$(PREFIX)/lib/libtrmx.so.$(VERSION)
	ln -sf libtrmx.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libtrmx.so.$(SOMAJOR)
	ln -sf libtrmx.so.$(SOMAJOR) $(DESTDIR)$(PREFIX)/lib/libtrmx.so
	install -m 755 $(PLUGINS) $(DESTDIR)$(PREFIX)/lib/trmx/plugins/
	install -m 644 framework/include/trmx/*.h $(DESTDIR)$(PREFIX)/include/trmx/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' -e 's|@PKGS@|$(PKGS)|g' -e 's|@NOPC_LIBS@|$(NOPC_LIBS)|g' tools/trmx.pc.in \
		> $(DESTDIR)$(PREFIX)/lib/pkgconfig/trmx.pc.tmp
	mv $(DESTDIR)$(PREFIX)/lib/pkgconfig/trmx.pc.tmp $(DESTDIR)$(PREFIX)/lib/pkgconfig/trmx.pc

clean:
	rm -rf build build-check

# ---- Fuzzing (tests/fuzz; docs/SECURITY.md) -------------------------------------------------
# libFuzzer targets built with clang (clang 14 + libclang-rt-14-dev) under ASan and UBSan, each run
# for FUZZ_SECONDS on a scratch copy of its committed seed corpus (tests/fuzz/corpus/<name>/; new
# inputs go to FUZZ_BUILD/corpus/<name>/, the committed corpus is only read).
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="manifest safetensors archive index"]
FUZZ_CC      ?= clang
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= manifest safetensors archive index
FUZZ_CFLAGS  := -std=gnu11 -g -O1 -fno-omit-frame-pointer -fopenmp-simd -pthread $(ARCHFLAGS) \
                -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
                -Iframework/include -Iframework -I. $(PKG_CFLAGS)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_LIB_OBJ += $(FUZZ_BUILD)/obj/gen/web_assets.o
FUZZ_BIN     := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)

.PHONY: fuzz fuzz-build fuzz-clean
.SECONDARY: $(FUZZ_LIB_OBJ)
fuzz-build: $(FUZZ_BIN)

fuzz-clean:
	rm -rf $(FUZZ_BUILD)

fuzz: $(FUZZ_BIN)
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_BUILD)/corpus/$$t; \
		echo "fuzz_$$t: $(FUZZ_SECONDS) s"; \
		$(FUZZ_BUILD)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-max_len=65536 -rss_limit_mb=2048 -timeout=20 \
			$$( [ -f tests/fuzz/$$t.dict ] && echo -dict=tests/fuzz/$$t.dict ) \
			$(FUZZ_BUILD)/corpus/$$t tests/fuzz/corpus/$$t || exit 1; \
	done

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_LIB_OBJ) $(LIBS) -o $@

# ---- Registry, log, host and engine plugins (docs/REGISTRY.md, docs/ABI.md) ------------------
# The SQL of schemas/registry/ and schemas/log/ is embedded in the library: registry/embed_sql.sh
# writes it into BUILD/gen/trmx_sql.h for framework/log/schemas.c. Each linked-in engine is also
# built as a plugin, BUILD/plugins/trm.so and hrm.so (framework/engines/plugin.c compiled for its
# entry, plus the library objects it needs, every symbol but trmx_engine_entry hidden), which
# hosts load with dlopen from their plugin folder; each
# tests/plugins/NAME.c becomes BUILD/tests/plugins/NAME.so for tests/test_host.c (plugins the host
# must refuse, and a toy third-party engine it must accept).
SQL_SRC      := $(sort $(wildcard schemas/registry/*.sql schemas/log/*.sql schemas/log-pg/*.sql))
PLUGIN_ENGINES := trm hrm
PLUGINS      := $(PLUGIN_ENGINES:%=$(BUILD)/plugins/%.so)
TEST_PLUGINS := $(patsubst tests/plugins/%.c,$(BUILD)/tests/plugins/%.so,$(wildcard tests/plugins/*.c))

%/gen/trmx_sql.h: $(SQL_SRC) registry/embed_sql.sh Makefile
	@mkdir -p $(dir $@)
	sh registry/embed_sql.sh $@ registry_sql schemas/registry log_sql schemas/log log_pg_sql schemas/log-pg

%/gen/web_assets.c: $(WEB_SRC) tools/embed_web.py
	@mkdir -p $(dir $@)
	python3 tools/embed_web.py $@ $(WEB_SRC)

$(BUILD)/obj/gen/web_assets.o: $(BUILD)/gen/web_assets.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(FUZZ_BUILD)/obj/gen/web_assets.o: $(FUZZ_BUILD)/gen/web_assets.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(BUILD)/obj/framework/log/schemas.o: $(BUILD)/gen/trmx_sql.h
$(BUILD)/obj/framework/log/schemas.o: ALL_CFLAGS += -I$(BUILD)/gen
$(FUZZ_BUILD)/obj/framework/log/schemas.o: $(FUZZ_BUILD)/gen/trmx_sql.h
$(FUZZ_BUILD)/obj/framework/log/schemas.o: FUZZ_CFLAGS += -I$(FUZZ_BUILD)/gen

$(BUILD)/obj/plugins/%.o: framework/engines/plugin.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DPLUGIN_ENTRY=trmx_$*_engine_entry -c $< -o $@

$(BUILD)/plugins/%.so: $(BUILD)/obj/plugins/%.o $(LIBTRMX)
	@mkdir -p $(dir $@)
	$(CC) -shared $(ALL_LDFLAGS) -Wl,--exclude-libs,ALL $< $(LIBTRMX) $(LIBS) -o $@

$(BUILD)/tests/plugins/%.so: tests/plugins/%.c
	@mkdir -p $(dir $@)
	$(CC) -shared $(ALL_CFLAGS) $(ALL_LDFLAGS) $< -o $@

.PHONY: plugins
plugins: $(PLUGINS) $(TEST_PLUGINS)
all install: $(PLUGINS)
tests test: $(PLUGINS) $(TEST_PLUGINS)
demo serve-demo bench: $(PLUGINS)

-include $(wildcard $(FUZZ_LIB_OBJ:.o=.d))

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

endif

# piyasa: plain Makefile. `make` builds bin/ (release), `make asan` the same with
# AddressSanitizer + UBSan, `make test` runs the whole suite against whatever bin/
# points at (scripts/test: one suite or case too), `make check-includes` checks
# which folder includes which. Objects live in build/$(MODE)/ and bin is a link to
# build/$(MODE)/bin, so switching modes never mixes objects of two builds.

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
PKGS    := libuv libcurl hiredis jansson libpq libsodium libsystemd libmicrohttpd expat liboath
MODE    ?= release
B       := build/$(MODE)

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS))
CHECK_LIBS := $(shell pkg-config --libs check)

CFLAGS_BASE := -std=gnu11 -Wall -Wextra -Werror -g -MMD -MP -D_GNU_SOURCE -I.
ifeq ($(MODE),asan)
  CFLAGS_MODE := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  LDFLAGS_MODE := -fsanitize=address,undefined
else ifeq ($(MODE),fuzz)
  # `make fuzz`: clang, libFuzzer's coverage, ASan + UBSan on every object.
  CC := clang
  FUZZ_SAN := address,undefined
  CFLAGS_MODE := -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -fno-sanitize-recover=undefined
  LDFLAGS_MODE := -fsanitize=fuzzer,$(FUZZ_SAN)
else
  CFLAGS_MODE := -O2
  LDFLAGS_MODE :=
endif
ALL_CFLAGS := $(CFLAGS_BASE) $(CFLAGS_MODE) $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS := $(LDFLAGS_MODE) $(LDFLAGS)
LIBS := $(PKG_LIBS) -lm -lpthread

# Each program's modules (all but its main.c) form a library, so unit tests and
# benchmarks link the code they test instead of including .c files.
COMMON_SRC := $(wildcard common/*.c common/net/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(B)/%.o)
LIBCOMMON  := $(B)/libcommon.a
WORKER_SRC := $(filter-out worker/main.c,$(wildcard worker/*.c worker/*/*.c worker/*/*/*.c))
LIBWORKER  := $(B)/libworker.a
SUP_SRC    := $(filter-out supervisor/main.c,$(wildcard supervisor/*.c))
LIBSUP     := $(B)/libsupervisor.a
API_SRC    := $(filter-out api/main.c,$(wildcard api/*.c))
LIBAPI     := $(B)/libapi.a
FAKE_SRC   := $(filter-out tests/fakeapi/fakeapi.c,$(wildcard tests/fakeapi/*.c))
LIBFAKE    := $(B)/libfakeapi.a
# The web console (console/): its files become a C table (scripts/embed-assets)
# that piyasa-api serves; console/assets.c looks things up in it.
CONSOLE_FILES := console/index.html $(sort $(wildcard console/*.css console/*.svg console/js/*.js \
                 console/js/pages/*.js console/vendor/*.mjs console/vendor/*.css))
LIBCONSOLE := $(B)/libconsole.a
# Libraries in link order: a program's own, then common.
UNIT_LIBS  := $(LIBWORKER) $(LIBSUP) $(LIBAPI) $(LIBFAKE) $(LIBCONSOLE) $(LIBCOMMON)

BINS := $(B)/bin/supervisor $(B)/bin/worker $(B)/bin/piyasactl $(B)/bin/piyasa-api \
        $(B)/bin/piyasa-fakeapi

UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
ITEST_SRC := $(wildcard tests/integration/test_*.c)
ITEST_BIN := $(ITEST_SRC:tests/integration/%.c=$(B)/tests/i%)
ITEST_LIB := $(patsubst %.c,$(B)/%.o,$(filter-out $(ITEST_SRC),$(wildcard tests/integration/*.c)))
# Micro-benchmarks (scripts/bench-*): built with everything else so they cannot rot.
BENCH_SRC := $(wildcard tests/bench/bench_*.c)
BENCH_BIN := $(BENCH_SRC:tests/bench/%.c=$(B)/bench/%)

# Fuzz targets (tests/fuzz/fuzz_*.c, libFuzzer): `make fuzz` builds them into
# build/fuzz/ with clang, against the project's sources compiled the same way.
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)

.SECONDARY:
.PHONY: all build asan release fuzz fuzz-build tests test test-unit test-integration check-includes demo install clean bench
all: release

release:
	@echo release > .mode
	@$(MAKE) --no-print-directory MODE=release build

asan:
	@echo asan > .mode
	@$(MAKE) --no-print-directory MODE=asan build

build: $(BINS) tests
	@ln -sfn $(B)/bin bin

# The fuzz mode never touches .mode or bin/: it builds beside the others.
fuzz:
	@$(MAKE) --no-print-directory MODE=fuzz fuzz-build

fuzz-build: $(FUZZ_BIN)

build/fuzz/fuzz_%: build/fuzz/tests/fuzz/fuzz_%.o $(LIBWORKER) $(LIBCOMMON)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

tests: $(UNIT_BIN) $(ITEST_BIN) $(BENCH_BIN)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(B)/lib%.a:
	@rm -f $@
	ar rcs $@ $^
$(LIBCOMMON): $(COMMON_OBJ)
$(LIBWORKER): $(WORKER_SRC:%.c=$(B)/%.o)
$(LIBSUP): $(SUP_SRC:%.c=$(B)/%.o)
$(LIBAPI): $(API_SRC:%.c=$(B)/%.o)
$(LIBFAKE): $(FAKE_SRC:%.c=$(B)/%.o)
$(LIBCONSOLE): $(B)/console/assets.o $(B)/console/assets_gen.o
$(B)/console/assets_gen.c: $(CONSOLE_FILES) scripts/embed-assets
	@mkdir -p $(dir $@)
	python3 scripts/embed-assets $@ $(CONSOLE_FILES)
$(B)/console/assets_gen.o: $(B)/console/assets_gen.c
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# link_bin name, main object, libraries
define link_bin
$(B)/bin/$(1): $(2) $(3) $(LIBCOMMON)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $$^ $$(LIBS)
endef
# piyasactl carries the migrations inside it (scripts/embed-sql).
$(B)/ctl/migrations_gen.c: $(sort $(wildcard ctl/migrations/*.sql)) scripts/embed-sql
	@mkdir -p $(dir $@)
	bash scripts/embed-sql $@ $(sort $(wildcard ctl/migrations/*.sql))
$(B)/ctl/migrations_gen.o: $(B)/ctl/migrations_gen.c
	$(CC) $(ALL_CFLAGS) -c $< -o $@
$(B)/bin/piyasactl: $(B)/ctl/migrations_gen.o

$(eval $(call link_bin,supervisor,$(B)/supervisor/main.o,$(LIBSUP)))
$(eval $(call link_bin,worker,$(B)/worker/main.o,$(LIBWORKER)))
# The worker tells OpenSSL (curl's TLS) what not to load at start (worker/main.c).
$(B)/bin/worker: LIBS += $(shell pkg-config --libs openssl)
$(eval $(call link_bin,piyasa-api,$(B)/api/main.o,$(LIBAPI) $(LIBCONSOLE)))
$(eval $(call link_bin,piyasactl,$(patsubst %.c,$(B)/%.o,$(wildcard ctl/*.c))))
$(eval $(call link_bin,piyasa-fakeapi,$(B)/tests/fakeapi/fakeapi.o,$(LIBFAKE)))

$(B)/tests/test_%: $(B)/tests/unit/test_%.o $(UNIT_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(CHECK_LIBS)

$(B)/tests/itest_%: $(B)/tests/integration/test_%.o $(ITEST_LIB) $(UNIT_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(CHECK_LIBS)

$(B)/bench/bench_%: $(B)/tests/bench/bench_%.o $(UNIT_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# The suite: installs what is missing, starts its own PostgreSQL and Redis on test
# ports, runs unit then integration tests against bin/, stops the services.
test:
	@bash scripts/test

test-unit test-integration:
	@bash scripts/test $(@:test-%=%)

# Which folder may include which (the table in the script); scripts/test runs it.
check-includes:
	@python3 scripts/check-includes

demo:
	@bash scripts/demo

bench:
	@bash scripts/bench

install: release
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/piyasa/sql $(DESTDIR)/etc/piyasa
	install -m 0755 build/release/bin/supervisor build/release/bin/worker build/release/bin/piyasactl build/release/bin/piyasa-api build/release/bin/piyasa-fakeapi $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 sql/*.sql $(DESTDIR)$(PREFIX)/share/piyasa/sql/
	install -m 0644 config/piyasa.conf $(DESTDIR)/etc/piyasa/piyasa.conf.example
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 0644 systemd/piyasa.service $(DESTDIR)$(PREFIX)/lib/systemd/system/

clean:
	rm -rf build bin .mode

-include $(shell find build -name '*.d' 2>/dev/null)

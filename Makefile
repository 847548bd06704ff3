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

# Man pages: docs/man/NAME.SECTION.scd -> $(B)/man/NAME.SECTION (rule near install).
MAN_SRC := $(wildcard docs/man/*.scd)
MANS    := $(MAN_SRC:docs/man/%.scd=$(B)/man/%)

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
.PHONY: all build asan release fuzz fuzz-build tests test test-unit test-integration check-includes demo install clean bench man programs
all: release

release:
	@echo release > .mode
	@$(MAKE) --no-print-directory MODE=release build

asan:
	@echo asan > .mode
	@$(MAKE) --no-print-directory MODE=asan build

build: $(BINS) tests $(MANS)
	@ln -sfn $(B)/bin bin

# The fuzz mode never touches .mode or bin/: it builds beside the others.
fuzz:
	@$(MAKE) --no-print-directory MODE=fuzz fuzz-build

fuzz-build: $(FUZZ_BIN)

build/fuzz/fuzz_%: build/fuzz/tests/fuzz/fuzz_%.o $(LIBWORKER) $(LIBCOMMON)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# fuzz_api stands in for api/srv.c (no sockets) and wraps each call that would
# leave the process (PostgreSQL, Redis, HTTP, the thread pool; who is calling).
FUZZ_API_WRAP := pgpool_pick pgpool_up pgc_query ra_up ra_cmd ra_eval ra_eval_src httpc_request \
                 uv_queue_work access_resolve
build/fuzz/fuzz_api: build/fuzz/tests/fuzz/fuzz_api.o \
                     $(patsubst %.c,$(B)/%.o,$(filter-out api/srv.c,$(API_SRC))) $(LIBCONSOLE) $(LIBCOMMON)
	$(CC) $(ALL_LDFLAGS) $(FUZZ_API_WRAP:%=-Wl,--wrap=%) -o $@ $^ $(LIBS)

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

# FHS: the supervisor is an administrator's daemon (sbin), piyasactl a command
# (bin), the worker a child nobody runs by hand (libexec; the supervisor finds it
# as ../libexec/piyasa/worker from its own path). The test fake is never
# installed. The example config is written only when none is there. debian/rules
# runs this same target (docs/OPERATIONS.md).
SBINDIR       ?= $(PREFIX)/sbin
BINDIR        ?= $(PREFIX)/bin
LIBEXECDIR    ?= $(PREFIX)/libexec/piyasa
MANDIR        ?= $(PREFIX)/share/man
DOCDIR        ?= $(PREFIX)/share/doc/piyasa
SYSCONFDIR    ?= /etc
UNITDIR       ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR   ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR   ?= $(PREFIX)/lib/tmpfiles.d
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
CATALOGDIR    ?= $(PREFIX)/lib/systemd/catalog
INSTALL_DOCS  := $(filter-out docs/HACKING.md docs/FAKEAPI.md,$(wildcard docs/*.md))
R := build/release

# What is installed, built without the tests (the .deb's build: debian/rules).
programs:
	@$(MAKE) --no-print-directory MODE=release $(R)/bin/supervisor $(R)/bin/worker \
		$(R)/bin/piyasa-api $(R)/bin/piyasactl $(MAN_SRC:docs/man/%.scd=$(R)/man/%)

install: programs
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBEXECDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(DOCDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(COMPLETIONDIR) $(DESTDIR)$(CATALOGDIR) \
		$(DESTDIR)$(SYSCONFDIR)/piyasa
	install -m 0755 $(R)/bin/supervisor $(DESTDIR)$(SBINDIR)/supervisor
	install -m 0755 $(R)/bin/piyasactl $(DESTDIR)$(BINDIR)/piyasactl
	install -m 0755 $(R)/bin/worker $(DESTDIR)$(LIBEXECDIR)/worker
	install -m 0755 $(R)/bin/piyasa-api $(DESTDIR)$(LIBEXECDIR)/piyasa-api
	install -m 0644 $(R)/man/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(R)/man/*.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(R)/man/*.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 $(INSTALL_DOCS) $(DESTDIR)$(DOCDIR)/
	install -d $(DESTDIR)$(DOCDIR)/examples
	install -m 0644 contrib/prometheus/piyasa.rules.yml contrib/prometheus/piyasa.rules.test.yml \
		contrib/grafana/piyasa.json $(DESTDIR)$(DOCDIR)/examples/
	for u in piyasa piyasa-backup; do \
		sed -e 's|@sbindir@|$(SBINDIR)|g' -e 's|@bindir@|$(BINDIR)|g' \
			-e 's|@docdir@|$(DOCDIR)|g' systemd/$$u.service.in \
			> $(DESTDIR)$(UNITDIR)/$$u.service && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$u.service || exit 1; \
	done
	install -m 0644 systemd/piyasa-backup.timer $(DESTDIR)$(UNITDIR)/piyasa-backup.timer
	install -m 0644 systemd/piyasa.sysusers $(DESTDIR)$(SYSUSERSDIR)/piyasa.conf
	install -m 0644 systemd/piyasa.tmpfiles $(DESTDIR)$(TMPFILESDIR)/piyasa.conf
	install -m 0644 contrib/bash-completion/piyasactl $(DESTDIR)$(COMPLETIONDIR)/piyasactl
	install -m 0644 systemd/piyasa.catalog $(DESTDIR)$(CATALOGDIR)/piyasa.catalog
	test -e $(DESTDIR)$(SYSCONFDIR)/piyasa/piyasa.conf || \
		install -m 0640 config/piyasa.conf $(DESTDIR)$(SYSCONFDIR)/piyasa/piyasa.conf

# Man pages (docs/man/*.scd, scdoc). scripts/check-man fails the build when a
# config key the supervisor prints (-T), a piyasactl command or an option of
# supervisor or piyasa-api has no line in its page.
$(B)/man/%: docs/man/%.scd scripts/check-man $(B)/bin/supervisor $(B)/bin/piyasactl \
	    $(B)/bin/piyasa-api
	@mkdir -p $(dir $@)
	bash scripts/check-man $< $(B)/bin
	scdoc < $< > $@.tmp && mv $@.tmp $@
man: $(MANS)

clean:
	rm -rf build bin .mode

-include $(shell find build -name '*.d' 2>/dev/null)

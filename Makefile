# ringcast — build, test, benchmark.
#
#   make            build every program under build/
#   make test       install what is missing, build, run every suite; ends with "N passed, N failed"
#   make test-unit  only the unit suite (C, TAP; normal, ASan+UBSan and TSan builds)
#   make test-e2e   only the end-to-end suite (real processes, librdkafka's mock cluster)
#   make test-kafka only the real Apache Kafka suite (starts a broker with scripts/kafka-up.sh)
#   make bench      benchmarks: tests/bench/BENCHMARKS.md and plots (BENCH_QUICK=1: a 2-minute smoke run)
#   make demo       the live demo: bridge on the mock cluster, demo feed, edge; URLs printed
#   make test-browser  only the browser suite (the demo page in chromium)
#   make format     apply .clang-format to every C file
#   make install    binaries, systemd units, sysusers/tmpfiles entries, example config, man pages
#                   (PREFIX=/usr/local, DESTDIR= for staging)
#   make test-fuzz  only the fuzz suite: each libFuzzer target of tests/fuzz/ for a bounded time
#   make fuzz       build the libFuzzer targets (build/fuzz/; clang-14)
#
# Three builds of the same sources: build/ (-O2), build/asan/ (ASan+UBSan) and build/tsan/ (TSan,
# only for code that does not link librdkafka: its C11 threads are invisible to TSan). A fourth,
# build/fuzz/, holds the libFuzzer targets, built by clang with ASan+UBSan.

ifeq ($(origin CC),default)
CC      := gcc
endif
BUILD   := build
DEPS_OK := $(BUILD)/.deps-ok

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CPPFLAGS_ALL := -D_GNU_SOURCE -DH2O_USE_LIBUV=0 -Icommon -Iconfig -Itests -MMD -MP
CFLAGS_ALL   := -std=c11 -g $(WARN) -pthread
CFLAGS_rel   := -O2
CFLAGS_asan  := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
CFLAGS_tsan  := -O1 -fsanitize=thread -Wno-tsan # fences are not modelled; ring.c copies shared bytes atomically under TSan
YAML_LIBS    := $(shell pkg-config --libs yaml-0.1 2>/dev/null || echo -lyaml)
KAFKA_LIBS   := $(shell pkg-config --libs rdkafka 2>/dev/null || echo -lrdkafka)
H2O_LIBS     := -lh2o-evloop -lssl -lcrypto -lz
JWT_LIBS     := $(shell pkg-config --libs libjwt jansson 2>/dev/null || echo -ljwt -ljansson)
SYSTEMD_LIBS := $(shell pkg-config --libs libsystemd 2>/dev/null || echo -lsystemd)
JSON_LIBS    := $(shell pkg-config --libs jansson 2>/dev/null || echo -ljansson)
# libFuzzer ships with clang; Debian's clang-14 and libclang-rt-14-dev (scripts/install-deps.sh).
FUZZ_CC      := clang-14
CFLAGS_fuzz  := -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
NGHTTP2_LIBS := $(shell pkg-config --libs libnghttp2 2>/dev/null || echo -lnghttp2)

COMMON_SRC := common/log.c common/util.c common/ring.c common/sse.c common/eventid.c common/wake.c
BRIDGE_SRC := bridge/main.c bridge/bridge.c common/notify.c
EDGE_SRC   := edge/main.c edge/worker.c edge/stream.c edge/client.c edge/resume.c edge/status.c edge/listen.c \
              edge/tcpstat.c edge/h2reset.c edge/reply.c edge/query.c edge/publish.c \
              edge/auth.c edge/iplimit.c edge/reload.c edge/guard.c common/notify.c
CONFIG_SRC := config/config.c config/schema.c

# $(call objs,variant-dir,sources)
objs = $(patsubst %.c,$(1)/obj/%.o,$(2))

REL  := $(BUILD)
ASAN := $(BUILD)/asan
TSAN := $(BUILD)/tsan
FUZZ := $(BUILD)/fuzz

PROGRAMS := $(REL)/ringcast-bridge $(REL)/ringcast-edge $(REL)/rc-confdoc $(REL)/ringcast-ringtool \
            $(REL)/ringcast-demo-feed $(REL)/ringcast-bench
TESTS_REL  := $(REL)/tests/test_ring $(REL)/tests/test_wake $(REL)/tests/test_codec $(REL)/tests/test_config $(REL)/tests/ring_stress \
              $(REL)/tests/test_iplimit $(REL)/tests/test_auth $(REL)/tests/test_resume
TESTS_ASAN := $(ASAN)/tests/test_ring $(ASAN)/tests/test_wake $(ASAN)/tests/test_codec $(ASAN)/tests/test_config $(ASAN)/tests/ring_garbage \
              $(ASAN)/tests/test_iplimit $(ASAN)/tests/test_auth $(ASAN)/tests/test_resume
TESTS_TSAN := $(TSAN)/tests/ring_stress
TOOLS      := $(REL)/tests/sse_check $(REL)/tests/kafka_tx
# Fuzz targets: tests/fuzz/fuzz_<name>.c, each built for libFuzzer ($(FUZZ)/fuzz_<name>) and, with
# tests/fuzz/replay.c as its main, by gcc's ASan build ($(ASAN)/tests/fuzz_<name>).
FUZZ_TARGETS  := eventid query config ring sse
FUZZERS       := $(patsubst %,$(FUZZ)/fuzz_%,$(FUZZ_TARGETS))
FUZZ_REPLAYS  := $(patsubst %,$(ASAN)/tests/fuzz_%,$(FUZZ_TARGETS))
BENCHES    := $(REL)/bench/ring_bench $(REL)/bench/ingest_bench $(REL)/bench/write_floor

MANPAGES := $(REL)/man/ringcast.yaml.5

.PHONY: all test test-unit test-fuzz fuzz bench demo clean format deps docs check-docs install
all: $(DEPS_OK) $(PROGRAMS) $(TOOLS) $(MANPAGES)

# Installs missing Debian packages once per build tree (scripts/install-deps.sh is idempotent).
$(DEPS_OK): scripts/install-deps.sh
	@mkdir -p $(BUILD)
	scripts/install-deps.sh --all
	@touch $@
deps: $(DEPS_OK)

# --- compile rules, one per build variant -------------------------------------------------------
# edge/h2reset.c includes h2o's internal HTTP/2 header, which needs a shim of the hash table header
# h2o does not install.
$(REL)/obj/edge/h2reset.o $(ASAN)/obj/edge/h2reset.o: CPPFLAGS_ALL += -Iedge/h2o-internal
$(REL)/obj/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) $(CFLAGS_rel) $(CFLAGS) -c $< -o $@
$(ASAN)/obj/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) $(CFLAGS_asan) -c $< -o $@
$(TSAN)/obj/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) $(CFLAGS_tsan) -c $< -o $@
$(FUZZ)/obj/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS_ALL) -Iedge $(CFLAGS_ALL) $(CFLAGS_fuzz) -c $< -o $@
# The fuzz targets include edge/query.h; only they need -Iedge.
$(ASAN)/obj/tests/fuzz/%.o: tests/fuzz/%.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) -Iedge $(CFLAGS_ALL) $(CFLAGS_asan) -c $< -o $@

# edge/guard.c includes h2o's <h2o/http2_internal.h>, which includes a hash table header h2o does
# not install: edge/h2o-internal/khash.h declares just enough of it (the table stays opaque).
$(REL)/obj/edge/guard.o $(ASAN)/obj/edge/guard.o: CPPFLAGS_ALL += -Iedge/h2o-internal

# tests/unit/test_resume.c tests edge/resume.c, which needs no other edge file: only it needs -Iedge.
$(REL)/obj/tests/unit/test_resume.o $(ASAN)/obj/tests/unit/test_resume.o: CPPFLAGS_ALL += -Iedge

# $(call link,variant-flags) — links the prerequisites into $@.
link = @mkdir -p $(dir $@) && $(CC) $(CFLAGS_ALL) $(1) $(LDFLAGS) $^ -o $@ $(2)

# --- programs ------------------------------------------------------------------------------------
$(REL)/ringcast-bridge: $(call objs,$(REL),$(BRIDGE_SRC) $(CONFIG_SRC) $(COMMON_SRC))
	$(call link,$(CFLAGS_rel),$(YAML_LIBS) $(KAFKA_LIBS) $(SYSTEMD_LIBS))
$(ASAN)/ringcast-bridge: $(call objs,$(ASAN),$(BRIDGE_SRC) $(CONFIG_SRC) $(COMMON_SRC))
	$(call link,$(CFLAGS_asan),$(YAML_LIBS) $(KAFKA_LIBS) $(SYSTEMD_LIBS))
$(REL)/ringcast-edge: $(call objs,$(REL),$(EDGE_SRC) $(CONFIG_SRC) $(COMMON_SRC))
	$(call link,$(CFLAGS_rel),$(YAML_LIBS) $(H2O_LIBS) $(JWT_LIBS) $(KAFKA_LIBS) $(SYSTEMD_LIBS))
$(ASAN)/ringcast-edge: $(call objs,$(ASAN),$(EDGE_SRC) $(CONFIG_SRC) $(COMMON_SRC))
	$(call link,$(CFLAGS_asan),$(YAML_LIBS) $(H2O_LIBS) $(JWT_LIBS) $(KAFKA_LIBS) $(SYSTEMD_LIBS))
$(REL)/rc-confdoc: $(call objs,$(REL),config/confdoc.c $(CONFIG_SRC) $(COMMON_SRC))
	$(call link,$(CFLAGS_rel),$(YAML_LIBS))
$(REL)/ringcast-ringtool: $(call objs,$(REL),common/ringtool.c $(COMMON_SRC))
	$(call link,$(CFLAGS_rel))
$(REL)/ringcast-demo-feed: $(call objs,$(REL),bridge/demo_feed.c $(COMMON_SRC))
	$(call link,$(CFLAGS_rel),$(KAFKA_LIBS) -lm)
# The load generator of `make bench` (tests/bench/ringcast_bench.c): HTTP/1.1 and HTTP/2 SSE clients.
$(REL)/ringcast-bench: $(call objs,$(REL),tests/bench/ringcast_bench.c $(COMMON_SRC))
	$(call link,$(CFLAGS_rel),$(KAFKA_LIBS) $(NGHTTP2_LIBS) -lssl -lcrypto)
$(ASAN)/ringcast-bench: $(call objs,$(ASAN),tests/bench/ringcast_bench.c $(COMMON_SRC))
	$(call link,$(CFLAGS_asan),$(KAFKA_LIBS) $(NGHTTP2_LIBS) -lssl -lcrypto)

# --- tests ---------------------------------------------------------------------------------------
define test_prog # $(1)=variant dir, $(2)=name of the variant's flags variable
$(1)/tests/test_wake: $(call objs,$(1),tests/unit/test_wake.c $(COMMON_SRC))
	$$(call link,$$($(2)))
$(1)/tests/test_ring: $(call objs,$(1),tests/unit/test_ring.c $(COMMON_SRC))
	$$(call link,$$($(2)))
$(1)/tests/test_codec: $(call objs,$(1),tests/unit/test_codec.c $(COMMON_SRC))
	$$(call link,$$($(2)))
$(1)/tests/test_config: $(call objs,$(1),tests/unit/test_config.c $(CONFIG_SRC) $(COMMON_SRC))
	$$(call link,$$($(2)),$(YAML_LIBS))
$(1)/tests/ring_stress: $(call objs,$(1),tests/unit/ring_stress.c $(COMMON_SRC))
	$$(call link,$$($(2)))
$(1)/tests/ring_garbage: $(call objs,$(1),tests/unit/ring_garbage.c $(COMMON_SRC))
	$$(call link,$$($(2)))
$(1)/tests/test_iplimit: $(call objs,$(1),tests/unit/test_iplimit.c edge/iplimit.c $(COMMON_SRC))
	$$(call link,$$($(2)))
$(1)/tests/test_resume: $(call objs,$(1),tests/unit/test_resume.c edge/resume.c $(COMMON_SRC))
	$$(call link,$$($(2)))
$(1)/tests/test_auth: $(call objs,$(1),tests/unit/test_auth.c edge/auth.c edge/reply.c edge/iplimit.c edge/query.c $(CONFIG_SRC) $(COMMON_SRC))
	$$(call link,$$($(2)),$(YAML_LIBS) $(H2O_LIBS) $(JWT_LIBS))
endef
# The flags go by name: a comma in their value would split the call's arguments.
$(eval $(call test_prog,$(REL),CFLAGS_rel))
$(eval $(call test_prog,$(ASAN),CFLAGS_asan))
$(eval $(call test_prog,$(TSAN),CFLAGS_tsan))

# sse_check: the many-client exactness checker of the fault and overload tests (tests/tools/).
$(REL)/tests/sse_check: $(call objs,$(REL),tests/tools/sse_check.c $(COMMON_SRC))
	$(call link,$(CFLAGS_rel),$(KAFKA_LIBS))
# kafka_tx: writes committed, aborted and plain records for the real-Kafka tests (tests/tools/).
$(REL)/tests/kafka_tx: $(call objs,$(REL),tests/tools/kafka_tx.c)
	$(call link,$(CFLAGS_rel),$(KAFKA_LIBS))

# --- fuzz targets --------------------------------------------------------------------------------
# What each target links besides its own file.
FUZZ_DEPS_eventid := $(COMMON_SRC)
FUZZ_DEPS_query   := edge/query.c $(CONFIG_SRC) $(COMMON_SRC)
FUZZ_DEPS_config  := $(CONFIG_SRC) $(COMMON_SRC)
FUZZ_DEPS_ring    := $(COMMON_SRC)
FUZZ_DEPS_sse     := $(COMMON_SRC)
FUZZ_LIBS := $(YAML_LIBS) $(JSON_LIBS)
define fuzz_prog # $(1)=target name
$(FUZZ)/fuzz_$(1): $(call objs,$(FUZZ),tests/fuzz/fuzz_$(1).c $(FUZZ_DEPS_$(1)))
	@mkdir -p $$(dir $$@)
	$(FUZZ_CC) $(CFLAGS_ALL) -fsanitize=fuzzer,address,undefined $$^ -o $$@ $(FUZZ_LIBS)
$(ASAN)/tests/fuzz_$(1): $(call objs,$(ASAN),tests/fuzz/fuzz_$(1).c tests/fuzz/replay.c $(FUZZ_DEPS_$(1)))
	$$(call link,$$(CFLAGS_asan),$(FUZZ_LIBS))
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_prog,$(t))))
fuzz: $(FUZZERS)

$(REL)/bench/ring_bench: $(call objs,$(REL),tests/bench/ring_bench.c $(COMMON_SRC))
	$(call link,$(CFLAGS_rel))
$(REL)/bench/ingest_bench: $(call objs,$(REL),tests/bench/ingest_bench.c $(COMMON_SRC))
	$(call link,$(CFLAGS_rel),$(KAFKA_LIBS))
$(REL)/bench/write_floor: $(call objs,$(REL),tests/bench/write_floor.c)
	$(call link,$(CFLAGS_rel))

# Suites: each entry is NAME=COMMAND for tests/run.sh, which sums every TAP line it sees.
UNIT_SUITE := \
	ring=$(REL)/tests/test_ring \
	codec=$(REL)/tests/test_codec \
	wake=$(REL)/tests/test_wake \
	config=$(REL)/tests/test_config \
	ring-asan=$(ASAN)/tests/test_ring \
	codec-asan=$(ASAN)/tests/test_codec \
	wake-asan=$(ASAN)/tests/test_wake \
	config-asan=$(ASAN)/tests/test_config \
	iplimit=$(REL)/tests/test_iplimit \
	iplimit-asan=$(ASAN)/tests/test_iplimit \
	auth=$(REL)/tests/test_auth \
	auth-asan=$(ASAN)/tests/test_auth \
	resume=$(REL)/tests/test_resume \
	resume-asan=$(ASAN)/tests/test_resume \
	ring-garbage-asan=$(ASAN)/tests/ring_garbage \
	$(foreach t,$(FUZZ_TARGETS),fuzz-replay-$(t)-asan='$(ASAN)/tests/fuzz_$(t) tests/fuzz/corpus/$(t) tests/fuzz/regressions/$(t)') \
	ring-stress='$(REL)/tests/ring_stress --procs 4 --records 2000000' \
	ring-stress-tsan='$(TSAN)/tests/ring_stress --threads 4 --records 200000' \
	docs='scripts/check-docs.sh $(REL)/rc-confdoc'

# End-to-end: real processes on loopback; the bridge against librdkafka's mock cluster. ops.sh:
# make install, the systemd units, sd_notify, SIGHUP reload, journald prefixes.
E2E_SUITE := \
	bridge-mock=tests/e2e/bridge_mock.sh \
	bridge-mock-asan='BRIDGE=$(ASAN)/ringcast-bridge tests/e2e/bridge_mock.sh' \
	edge-mock=tests/e2e/edge_mock.sh \
	edge-mock-asan='BRIDGE=$(ASAN)/ringcast-bridge EDGE=$(ASAN)/ringcast-edge tests/e2e/edge_mock.sh' \
	log-shapes-mock=tests/e2e/log_shapes_mock.sh \
	log-shapes-mock-asan='BRIDGE=$(ASAN)/ringcast-bridge EDGE=$(ASAN)/ringcast-edge tests/e2e/log_shapes_mock.sh' \
	edge-hostile=tests/e2e/edge_hostile.sh \
	edge-hostile-asan='BRIDGE=$(ASAN)/ringcast-bridge EDGE=$(ASAN)/ringcast-edge tests/e2e/edge_hostile.sh' \
	edge-auth=tests/e2e/edge_auth.sh \
	edge-auth-asan='BRIDGE=$(ASAN)/ringcast-bridge EDGE=$(ASAN)/ringcast-edge tests/e2e/edge_auth.sh' \
	faults-mock=tests/e2e/faults_mock.sh \
	stalled-mock=tests/e2e/stalled_mock.sh \
	stalled-mock-asan='BRIDGE=$(ASAN)/ringcast-bridge EDGE=$(ASAN)/ringcast-edge tests/e2e/stalled_mock.sh' \
	local-trust=tests/e2e/local_trust.sh \
	local-trust-asan='BRIDGE=$(ASAN)/ringcast-bridge EDGE=$(ASAN)/ringcast-edge tests/e2e/local_trust.sh' \
	overload=tests/e2e/overload.sh \
	ops=tests/e2e/ops.sh \
	ops-asan='BRIDGE=$(ASAN)/ringcast-bridge EDGE=$(ASAN)/ringcast-edge tests/e2e/ops.sh' \
	bench-client=tests/e2e/bench_client.sh \
	bench-client-asan='BENCH=$(ASAN)/ringcast-bench tests/e2e/bench_client.sh'

# libFuzzer: each target for FUZZ_SECONDS (default 15) from its committed corpus and regressions;
# what it finds on the way goes to a temporary directory, never into tests/fuzz/.
FUZZ_SUITE := fuzz='tests/fuzz/run.sh $(FUZZ) $(FUZZ_TARGETS)'

# Real Apache Kafka (a single-node KRaft broker that the test starts with scripts/kafka-up.sh).
KAFKA_SUITE := \
	bridge-kafka=tests/kafka/bridge_kafka.sh \
	edge-kafka=tests/kafka/edge_kafka.sh \
	faults-kafka=tests/kafka/faults_kafka.sh \
	log-shapes-kafka=tests/kafka/log_shapes_kafka.sh \
	probe-log-shapes=tests/kafka/probe_log_shapes.sh

# The demo page in Debian's chromium, driven by playwright-core (scripts/install-browser.sh).
BROWSER_SUITE := demo-browser=tests/browser/run.sh

.PHONY: test-e2e test-kafka test-browser
test-unit: all $(TESTS_REL) $(TESTS_ASAN) $(TESTS_TSAN) $(FUZZ_REPLAYS)
	@tests/run.sh $(UNIT_SUITE)

test-fuzz: all $(FUZZERS)
	@tests/run.sh $(FUZZ_SUITE)

test-e2e: all $(ASAN)/ringcast-bridge $(ASAN)/ringcast-edge $(ASAN)/ringcast-bench
	@tests/run.sh $(E2E_SUITE)

test-kafka: all
	@tests/run.sh $(KAFKA_SUITE)

test-browser: all
	@tests/run.sh $(BROWSER_SUITE)

test: all $(TESTS_REL) $(TESTS_ASAN) $(TESTS_TSAN) $(FUZZ_REPLAYS) $(FUZZERS) $(ASAN)/ringcast-bridge \
      $(ASAN)/ringcast-edge $(ASAN)/ringcast-bench
	@tests/run.sh $(UNIT_SUITE) $(FUZZ_SUITE) $(E2E_SUITE) $(KAFKA_SUITE) $(BROWSER_SUITE)

# Ring, ingest, fan-out (ringcast and nginx + nchan), h2load: writes tests/bench/BENCHMARKS.md and
# tests/bench/plots/. About 10 minutes; BENCH_QUICK=1 make bench is a 2-minute smoke run.
bench: all $(BENCHES)
	scripts/install-deps.sh --bench
	scripts/bench.sh

demo:
	@scripts/demo.sh

# ringcast.yaml(5) comes from the schema table, like the example config: it cannot drift.
$(REL)/man/ringcast.yaml.5: $(REL)/rc-confdoc
	@mkdir -p $(dir $@)
	$(REL)/rc-confdoc --man >$@.tmp && mv $@.tmp $@

# --- install -------------------------------------------------------------------------------------
# `make install PREFIX=/usr DESTDIR=/tmp/stage` stages a package; the units' ExecStart= follow
# BINDIR. An existing /etc/ringcast/ringcast.yaml is never overwritten.
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
MANDIR      ?= $(PREFIX)/share/man
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
SYSCONFDIR  ?= /etc
INSTALL     ?= install

install: all
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSCONFDIR)/ringcast
	$(INSTALL) -m 755 $(REL)/ringcast-bridge $(REL)/ringcast-edge $(REL)/ringcast-ringtool $(DESTDIR)$(BINDIR)/
	for u in ringcast-bridge.service ringcast-edge.service; do \
	    sed 's|/usr/local/bin/|$(BINDIR)/|g' scripts/systemd/$$u >$(DESTDIR)$(UNITDIR)/$$u.tmp && \
	    chmod 644 $(DESTDIR)$(UNITDIR)/$$u.tmp && mv $(DESTDIR)$(UNITDIR)/$$u.tmp $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	$(INSTALL) -m 644 scripts/systemd/ringcast.sysusers.conf $(DESTDIR)$(SYSUSERSDIR)/ringcast.conf
	$(INSTALL) -m 644 scripts/systemd/ringcast.tmpfiles.conf $(DESTDIR)$(TMPFILESDIR)/ringcast.conf
	$(INSTALL) -m 644 $(REL)/man/ringcast.yaml.5 $(DESTDIR)$(MANDIR)/man5/
	$(INSTALL) -m 644 bridge/ringcast-bridge.8 edge/ringcast-edge.8 $(DESTDIR)$(MANDIR)/man8/
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/ringcast/ringcast.yaml ]; then \
	    echo "keeping $(DESTDIR)$(SYSCONFDIR)/ringcast/ringcast.yaml (the example is config/ringcast.example.yaml)"; \
	else \
	    echo "$(INSTALL) -m 644 config/ringcast.example.yaml $(DESTDIR)$(SYSCONFDIR)/ringcast/ringcast.yaml"; \
	    $(INSTALL) -m 644 config/ringcast.example.yaml $(DESTDIR)$(SYSCONFDIR)/ringcast/ringcast.yaml; \
	fi

# Regenerates the documented example config and the README's key reference from the schema table.
docs: $(REL)/rc-confdoc
	scripts/check-docs.sh $(REL)/rc-confdoc --fix

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

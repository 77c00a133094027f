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
#
# Three builds of the same sources: build/ (-O2), build/asan/ (ASan+UBSan) and build/tsan/ (TSan,
# only for code that does not link librdkafka: its C11 threads are invisible to TSan).

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
NGHTTP2_LIBS := $(shell pkg-config --libs libnghttp2 2>/dev/null || echo -lnghttp2)

COMMON_SRC := common/log.c common/util.c common/ring.c common/sse.c common/eventid.c common/wake.c
BRIDGE_SRC := bridge/main.c bridge/bridge.c
EDGE_SRC   := edge/main.c edge/worker.c edge/query.c edge/publish.c
CONFIG_SRC := config/config.c config/schema.c

# $(call objs,variant-dir,sources)
objs = $(patsubst %.c,$(1)/obj/%.o,$(2))

REL  := $(BUILD)
ASAN := $(BUILD)/asan
TSAN := $(BUILD)/tsan

PROGRAMS := $(REL)/ringcast-bridge $(REL)/ringcast-edge $(REL)/rc-confdoc $(REL)/ringcast-ringtool \
            $(REL)/ringcast-demo-feed $(REL)/ringcast-bench
TESTS_REL  := $(REL)/tests/test_ring $(REL)/tests/test_wake $(REL)/tests/test_codec $(REL)/tests/test_config $(REL)/tests/ring_stress
TESTS_ASAN := $(ASAN)/tests/test_ring $(ASAN)/tests/test_wake $(ASAN)/tests/test_codec $(ASAN)/tests/test_config $(ASAN)/tests/ring_garbage
TESTS_TSAN := $(TSAN)/tests/ring_stress
BENCHES    := $(REL)/bench/ring_bench $(REL)/bench/ingest_bench

.PHONY: all test test-unit bench demo clean format deps docs check-docs
all: $(DEPS_OK) $(PROGRAMS)

# Installs missing Debian packages once per build tree (scripts/install-deps.sh is idempotent).
$(DEPS_OK): scripts/install-deps.sh
	@mkdir -p $(BUILD)
	scripts/install-deps.sh --all
	@touch $@
deps: $(DEPS_OK)

# --- compile rules, one per build variant -------------------------------------------------------
$(REL)/obj/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) $(CFLAGS_rel) $(CFLAGS) -c $< -o $@
$(ASAN)/obj/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) $(CFLAGS_asan) -c $< -o $@
$(TSAN)/obj/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) $(CFLAGS_tsan) -c $< -o $@

# $(call link,variant-flags) — links the prerequisites into $@.
link = @mkdir -p $(dir $@) && $(CC) $(CFLAGS_ALL) $(1) $(LDFLAGS) $^ -o $@ $(2)

# --- programs ------------------------------------------------------------------------------------
$(REL)/ringcast-bridge: $(call objs,$(REL),$(BRIDGE_SRC) $(CONFIG_SRC) $(COMMON_SRC))
	$(call link,$(CFLAGS_rel),$(YAML_LIBS) $(KAFKA_LIBS))
$(ASAN)/ringcast-bridge: $(call objs,$(ASAN),$(BRIDGE_SRC) $(CONFIG_SRC) $(COMMON_SRC))
	$(call link,$(CFLAGS_asan),$(YAML_LIBS) $(KAFKA_LIBS))
$(REL)/ringcast-edge: $(call objs,$(REL),$(EDGE_SRC) $(CONFIG_SRC) $(COMMON_SRC))
	$(call link,$(CFLAGS_rel),$(YAML_LIBS) $(H2O_LIBS) $(KAFKA_LIBS))
$(ASAN)/ringcast-edge: $(call objs,$(ASAN),$(EDGE_SRC) $(CONFIG_SRC) $(COMMON_SRC))
	$(call link,$(CFLAGS_asan),$(YAML_LIBS) $(H2O_LIBS) $(KAFKA_LIBS))
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
endef
# The flags go by name: a comma in their value would split the call's arguments.
$(eval $(call test_prog,$(REL),CFLAGS_rel))
$(eval $(call test_prog,$(ASAN),CFLAGS_asan))
$(eval $(call test_prog,$(TSAN),CFLAGS_tsan))

$(REL)/bench/ring_bench: $(call objs,$(REL),tests/bench/ring_bench.c $(COMMON_SRC))
	$(call link,$(CFLAGS_rel))
$(REL)/bench/ingest_bench: $(call objs,$(REL),tests/bench/ingest_bench.c $(COMMON_SRC))
	$(call link,$(CFLAGS_rel),$(KAFKA_LIBS))

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
	ring-garbage-asan=$(ASAN)/tests/ring_garbage \
	ring-stress='$(REL)/tests/ring_stress --procs 4 --records 2000000' \
	ring-stress-tsan='$(TSAN)/tests/ring_stress --threads 4 --records 200000' \
	docs='scripts/check-docs.sh $(REL)/rc-confdoc'

# End-to-end: real processes on loopback; the bridge against librdkafka's mock cluster.
E2E_SUITE := \
	bridge-mock=tests/e2e/bridge_mock.sh \
	bridge-mock-asan='BRIDGE=$(ASAN)/ringcast-bridge tests/e2e/bridge_mock.sh' \
	edge-mock=tests/e2e/edge_mock.sh \
	edge-mock-asan='BRIDGE=$(ASAN)/ringcast-bridge EDGE=$(ASAN)/ringcast-edge tests/e2e/edge_mock.sh' \
	edge-hostile=tests/e2e/edge_hostile.sh \
	edge-hostile-asan='BRIDGE=$(ASAN)/ringcast-bridge EDGE=$(ASAN)/ringcast-edge tests/e2e/edge_hostile.sh' \
	bench-client=tests/e2e/bench_client.sh \
	bench-client-asan='BENCH=$(ASAN)/ringcast-bench tests/e2e/bench_client.sh'

# Real Apache Kafka (a single-node KRaft broker that the test starts with scripts/kafka-up.sh).
KAFKA_SUITE := \
	bridge-kafka=tests/kafka/bridge_kafka.sh \
	edge-kafka=tests/kafka/edge_kafka.sh

# The demo page in Debian's chromium, driven by playwright-core (scripts/install-browser.sh).
BROWSER_SUITE := demo-browser=tests/browser/run.sh

.PHONY: test-e2e test-kafka test-browser
test-unit: all $(TESTS_REL) $(TESTS_ASAN) $(TESTS_TSAN)
	@tests/run.sh $(UNIT_SUITE)

test-e2e: all $(ASAN)/ringcast-bridge $(ASAN)/ringcast-edge $(ASAN)/ringcast-bench
	@tests/run.sh $(E2E_SUITE)

test-kafka: all
	@tests/run.sh $(KAFKA_SUITE)

test-browser: all
	@tests/run.sh $(BROWSER_SUITE)

test: all $(TESTS_REL) $(TESTS_ASAN) $(TESTS_TSAN) $(ASAN)/ringcast-bridge $(ASAN)/ringcast-edge $(ASAN)/ringcast-bench
	@tests/run.sh $(UNIT_SUITE) $(E2E_SUITE) $(KAFKA_SUITE) $(BROWSER_SUITE)

# Ring, ingest, fan-out (ringcast and nginx + nchan), h2load: writes tests/bench/BENCHMARKS.md and
# tests/bench/plots/. About 10 minutes; BENCH_QUICK=1 make bench is a 2-minute smoke run.
bench: all $(BENCHES)
	scripts/install-deps.sh --bench
	scripts/bench.sh

demo:
	@scripts/demo.sh

# Regenerates the documented example config and the README's key reference from the schema table.
docs: $(REL)/rc-confdoc
	scripts/check-docs.sh $(REL)/rc-confdoc --fix

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

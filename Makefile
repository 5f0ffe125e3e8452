# vpcdns: plain make + pkg-config. `make run` and `make test` set everything up.

VERSION   := 0.1.0
CC        ?= cc
PKGS      := ldns libevent libevent_pthreads libevent_openssl openssl inih liburcu libcurl expat
WARN      := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
             -Wpointer-arith -Wno-unused-parameter
CFLAGS    ?= -O2 -g
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) -I. -D_GNU_SOURCE -DVPCDNS_VERSION='"$(VERSION)"' \
             $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBS       = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
BUILD     ?= build
BIN       ?= bin
PREFIX    ?= /usr/local

CONF_SRC  := conf/log.c conf/netaddr.c conf/config.c conf/ini.c
ZONES_SRC := zones/zone.c zones/zone_builder.c zones/zone_reader.c zones/zone_render.c zones/zonedb.c
RES_SRC   := resolver/cache.c resolver/dot.c resolver/forward.c resolver/packet.c resolver/answer.c resolver/query.c resolver/server.c \
             resolver/tcp.c resolver/udp.c resolver/worker.c
SYNC_SRC  := sync/sigv4.c sync/xml.c sync/aws.c sync/records.c sync/route53.c sync/snapshot.c sync/inventory.c
PROV_SRC  := contrib/provision/network.c contrib/provision/plan.c contrib/provision/policy.c \
             contrib/provision/netns.c contrib/provision/aws.c contrib/provision/aws_want.c \
             contrib/provision/aws_build.c contrib/provision/aws_teardown.c \
             contrib/provision/aws_ec2.c contrib/provision/aws_zone.c
PROV_OBJ  := $(PROV_SRC:%.c=$(BUILD)/%.o)
LIB_SRC   := $(CONF_SRC) $(ZONES_SRC) $(RES_SRC) $(SYNC_SRC)
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
UNIT_TESTS := packet netaddr config zone query cache sigv4 sync network
UNIT_BIN  := $(UNIT_TESTS:%=$(BIN)/test_%)

.PHONY: all unit-bins run test check unit system diff fuzz fuzz-replay asan format format-check bench \
        bench-sync deps clean install lab lab-down

all: $(BIN)/vpcdnsd $(BIN)/vpcdns-sync $(BIN)/vpcdns-provision

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libvpcdns.a: $(LIB_OBJ)
	ar rcs $@ $^

$(BIN)/vpcdnsd: $(BUILD)/resolver/main.o $(BUILD)/libvpcdns.a
	@mkdir -p $(BIN)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS)

$(BIN)/vpcdns-sync: $(BUILD)/sync/main.o $(BUILD)/libvpcdns.a
	@mkdir -p $(BIN)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS)

$(BIN)/vpcdns-provision: $(BUILD)/contrib/provision/main.o $(PROV_OBJ) $(BUILD)/libvpcdns.a
	@mkdir -p $(BIN)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS)

$(BIN)/test_network: $(BUILD)/tests/unit/test_network.o $(BUILD)/contrib/provision/network.o \
                     $(BUILD)/contrib/provision/policy.o $(BUILD)/libvpcdns.a
	@mkdir -p $(BIN)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS) $(shell pkg-config --libs cmocka)

$(BIN)/test_%: $(BUILD)/tests/unit/test_%.o $(BUILD)/libvpcdns.a
	@mkdir -p $(BIN)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS) $(shell pkg-config --libs cmocka)

$(BIN)/fuzz-replay: $(BUILD)/tests/fuzz/fuzz_query.o $(BUILD)/tests/fuzz/replay.o \
                    $(BUILD)/libvpcdns.a
	@mkdir -p $(BIN)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS)

unit-bins: $(UNIT_BIN)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

deps:
	@contrib/deps.sh

run: deps all
	$(BIN)/vpcdnsd -c conf/vpcdns.example.ini

# Every test, then the unit and system tests again under ASan + UBSan.
test: deps
	$(MAKE) format-check
	$(MAKE) check
	$(MAKE) check BUILD=build-asan BIN=bin-asan SKIP_DIFF=1 \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"

check: all $(UNIT_BIN) $(BIN)/fuzz-replay
	tests/run-unit.sh $(UNIT_BIN)
	$(BIN)/fuzz-replay tests/fuzz/corpus
	/usr/bin/python3 tests/system/test_system.py --vpcdnsd $(BIN)/vpcdnsd
	/usr/bin/python3 tests/system/test_dot.py --vpcdnsd $(BIN)/vpcdnsd
	/usr/bin/python3 tests/system/test_forward.py --vpcdnsd $(BIN)/vpcdnsd
	/usr/bin/python3 tests/sync/test_sync.py --sync $(BIN)/vpcdns-sync --vpcdnsd $(BIN)/vpcdnsd
	/usr/bin/python3 tests/provision/test_lab.py --provision $(BIN)/vpcdns-provision --vpcdnsd $(BIN)/vpcdnsd
	/usr/bin/python3 tests/provision/test_provision_aws.py --provision $(BIN)/vpcdns-provision
	/usr/bin/python3 tests/provision/test_aws_e2e.py --provision $(BIN)/vpcdns-provision \
	  --sync $(BIN)/vpcdns-sync --vpcdnsd $(BIN)/vpcdnsd
	@if [ -z "$(SKIP_DIFF)" ]; then \
	  /usr/bin/python3 tests/aws/test_fake_aws.py; fi
	@if [ -z "$(SKIP_DIFF)" ]; then \
	  /usr/bin/python3 tests/diff/diff_test.py --vpcdnsd $(BIN)/vpcdnsd; fi

unit: $(UNIT_BIN)
	tests/run-unit.sh $(UNIT_BIN)

asan:
	$(MAKE) all unit-bins BUILD=build-asan BIN=bin-asan \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"

# libFuzzer target (clang); the corpus also replays in `make test`.
# New inputs that find new paths are added to the corpus: commit the useful ones.
FUZZ_TIME ?= 60
fuzz: deps
	$(MAKE) bin-fuzz/fuzz-query BUILD=build-fuzz BIN=bin-fuzz CC=clang \
	  CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined"
	bin-fuzz/fuzz-query -max_total_time=$(FUZZ_TIME) -max_len=4096 tests/fuzz/corpus

$(BIN)/fuzz-query: $(BUILD)/tests/fuzz/fuzz_query.o $(BUILD)/libvpcdns.a
	@mkdir -p $(BIN)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LIBS)

FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_FILES)

format-check:
	clang-format --dry-run --Werror $(FORMAT_FILES)

# A benchmark, not a test: it prints a table and never fails on a number.
bench: deps all
	tests/bench/run.sh

# vpcdns-sync over a 50,000-record zone and 5,000 instances in the fake AWS account.
bench-sync: deps all
	/usr/bin/python3 tests/bench/bench_sync.py

install: all
	install -D -m 755 $(BIN)/vpcdnsd $(DESTDIR)$(PREFIX)/sbin/vpcdnsd
	install -D -m 755 $(BIN)/vpcdns-sync $(DESTDIR)$(PREFIX)/sbin/vpcdns-sync
	install -D -m 755 $(BIN)/vpcdns-provision $(DESTDIR)$(PREFIX)/sbin/vpcdns-provision

# The reference network as network namespaces on this machine (root), and away again.
LAB_INI ?= contrib/provision/examples/reference.ini
lab: deps all
	$(BIN)/vpcdns-provision apply --backend netns -f $(LAB_INI)

lab-down: all
	$(BIN)/vpcdns-provision destroy --backend netns -f $(LAB_INI)

clean:
	rm -rf build build-asan build-fuzz bin bin-asan bin-fuzz

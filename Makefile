# nlb: a Layer-4 TCP/UDP load balancer on io_uring.
# `make` builds build/nlb, build/nlbctl, build/nlb-appliance and build/nlb-bench; `make test` runs every test,
# `make check` the unit tests alone (seconds); `make run` starts nlb on etc/nlb.conf
# with two local demo targets; `make doc` remakes doc/nlb-metrics.7 from the counter table.

VERSION  := 0.1.0
PREFIX   ?= /usr/local
DESTDIR  ?=
SANITIZE ?= 0
TSAN     ?= 0
V        ?= 0

ifeq ($(SANITIZE),1)
BUILD    ?= build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
MALLOC   :=
else ifeq ($(TSAN),1)
# ThreadSanitizer: the threads' shared state (make test TSAN=1 runs the
# suites that drive the control threads beside traffic: TSAN_TESTS).
BUILD    ?= build/tsan
SANFLAGS := -fsanitize=thread -fno-omit-frame-pointer
MALLOC   :=
else
BUILD    ?= build
SANFLAGS :=
MALLOC   := -ljemalloc
endif

CC       ?= cc
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -pthread -Ilib -Inlb \
            -DNLB_VERSION=\"$(VERSION)\" $(SANFLAGS)
LDFLAGS  += $(SANFLAGS)
LDLIBS   := -luring -lconfig -lssl -lcrypto -pthread -lm

ifeq ($(V),1)
Q :=
else
Q := @
endif

LIB_SRC   := $(sort $(wildcard lib/*.c))
# nlb/ by subsystem (doc/DESIGN.md, "Layout"); nlb/ctl is nlbctl's.
NLB_DIRS  := core balance stream http gateway control
NLB_SRC   := $(sort $(foreach d,$(NLB_DIRS),$(wildcard nlb/$(d)/*.c)))
BENCH_SRC := $(sort $(wildcard bench/*.c))
# test/test_*.c are the tests; the rest of test/ and test/helpers/ is what
# they share.  `make check` builds build/nlb-unit from the UNIT_NAMES
# files, which start no nlb and talk to no network peer (lib/ and nlb's
# pure modules), and links them with UNIT_HELPERS only: those start
# nothing and connect nowhere, so a unit test calling another helper
# does not link.
TEST_SRC  := $(sort $(wildcard test/*.c test/helpers/*.c))
UNIT_NAMES   := acl addr config config_http config_keys config_rules cpu_list flowtab health_check histogram http1 http1_differential http1_forward \
                appliance_filter config_gateway geneve http_path http_rules ip_packet wildcard \
                lb_table log maglev pick proxyproto qsbr ring slot_arena spsc_ring srclimit strbuf \
                target_set tls tls_ticket_keys tuple_hash udp_batch rtnl_route
UNIT_HELPERS := registry time_ms config_files nlb_runtime
UNIT_SRC  := $(UNIT_NAMES:%=test/test_%.c) $(UNIT_HELPERS:%=test/helpers/%.c)

LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
NLB_OBJ   := $(NLB_SRC:%.c=$(BUILD)/obj/%.o)
BENCH_OBJ := $(BENCH_SRC:%.c=$(BUILD)/obj/%.o)
TEST_OBJ  := $(TEST_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_OBJ  := $(UNIT_SRC:%.c=$(BUILD)/obj/%.o)

# prometheus is there for promtool (test_metrics checks the exposition
# with it); where systemd runs, its postinst starts prometheus (:9090)
# and the node exporter it recommends (:9100).  systemd is there for
# systemd-analyze (test_install verifies the unit with it).  mandoc
# lints the manual pages in doc/ (test_manpages and others).  bird2,
# libnginx-mod-stream and nftables run the several-hosts lab
# (bench/scaleout-lab: BIRD routes, NGINX stream servers are its targets,
# nftables silences a host; test_scaleout); bird2's postinst starts no
# daemon without systemd, and the lab runs its own.
DEB_PKGS  := build-essential pkg-config liburing-dev libconfig-dev libjemalloc-dev libcriterion-dev libssl-dev libhttp-parser-dev openssl netcat-openbsd iproute2 nginx libnginx-mod-stream bird2 nftables curl prometheus systemd mandoc
# clang, and libFuzzer's runtime (libclang_rt.fuzzer-x86_64.a on Debian 12).
FUZZ_PKGS := clang libclang-rt-14-dev
# `make soak`'s clients (wrk over http and https) and its reading of
# nlb-bench's JSON lines (jq); NGINX, openssl and curl are in DEB_PKGS.
SOAK_PKGS := wrk jq

# `make fuzz`: libFuzzer targets in test/fuzz, built with clang against
# their own instrumented copy of lib/ (gcc's objects carry no coverage).
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ         := build/fuzz
FUZZ_CFLAGS  := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -pthread -Ilib \
                -DNLB_VERSION=\"$(VERSION)\"
FUZZ_NAMES   := proxyproto config http1 cpu_list tls_ticket_keys http_rules geneve ip_packet appliance_filter \
                rtnl_route
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ)/obj/%.o)
FUZZ_OBJ     := $(FUZZ_NAMES:%=$(FUZZ)/obj/test/fuzz/fuzz_%.o)
FUZZ_BINS    := $(FUZZ_NAMES:%=$(FUZZ)/fuzz_%)

.PHONY: all deps test test-runner check run install clean fuzz fuzz-deps doc gateway-demo lab lab-down \
        soak soak-deps

all: $(BUILD)/nlb $(BUILD)/nlbctl $(BUILD)/nlb-appliance $(BUILD)/nlb-bench $(BUILD)/maglev-bench \
     $(BUILD)/acl-bench $(BUILD)/rules-bench $(BUILD)/nlb-doc

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@[ "$(V)" = 1 ] || echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libnlb.a: $(LIB_OBJ)
	@[ "$(V)" = 1 ] || echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

# The daemon's own modules but main, so the tests can call the code nlb
# runs (target sets, pickers) rather than copies of it.
NLB_MAIN_OBJ := $(BUILD)/obj/nlb/core/main.o
$(BUILD)/libnlbd.a: $(filter-out $(NLB_MAIN_OBJ),$(NLB_OBJ))
	@[ "$(V)" = 1 ] || echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/nlb: $(NLB_MAIN_OBJ) $(BUILD)/libnlbd.a $(BUILD)/libnlb.a
	@[ "$(V)" = 1 ] || echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(MALLOC)

# The admin socket's client: libc only (nlb/ctl/, outside NLB_DIRS).
NLBCTL_OBJ := $(BUILD)/obj/nlb/ctl/nlbctl.o

$(BUILD)/nlbctl: $(NLBCTL_OBJ)
	@[ "$(V)" = 1 ] || echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^

# The reference GENEVE appliance for gateway mode (nlb/appliance/,
# outside NLB_DIRS): lib/ only.
$(BUILD)/nlb-appliance: $(BUILD)/obj/nlb/appliance/nlb_appliance.o $(BUILD)/libnlb.a
	@[ "$(V)" = 1 ] || echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Prints nlb-metrics(7) from the counter table (nlb/control/counter_table.c).
NLBDOC_OBJ := $(BUILD)/obj/doc/nlb-doc.o

$(BUILD)/nlb-doc: $(NLBDOC_OBJ) $(BUILD)/libnlbd.a $(BUILD)/libnlb.a
	@[ "$(V)" = 1 ] || echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The committed page, remade; test counters/metrics_page_is_current fails
# until this has run after a change to the table.
doc: $(BUILD)/nlb-doc
	$(BUILD)/nlb-doc > doc/nlb-metrics.7.tmp && mv doc/nlb-metrics.7.tmp doc/nlb-metrics.7

$(BUILD)/nlb-bench: $(BENCH_OBJ) $(BUILD)/libnlb.a
	@[ "$(V)" = 1 ] || echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Micro-benchmark of Maglev lookup and build times (doc/performance.md).
$(BUILD)/maglev-bench: $(BUILD)/obj/bench/micro/maglev_bench.o $(BUILD)/libnlb.a
	@[ "$(V)" = 1 ] || echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Micro-benchmark of allow/deny list load time, memory and lookups.
$(BUILD)/acl-bench: $(BUILD)/obj/bench/micro/acl_bench.o $(BUILD)/libnlb.a
	@[ "$(V)" = 1 ] || echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Micro-benchmark of listener rules: path normalising and matching.
$(BUILD)/rules-bench: $(BUILD)/obj/bench/micro/rules_bench.o $(BUILD)/libnlb.a
	@[ "$(V)" = 1 ] || echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/nlb-tests: $(TEST_OBJ) $(BUILD)/libnlbd.a $(BUILD)/libnlb.a
	@[ "$(V)" = 1 ] || echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcriterion -lhttp_parser $(LDLIBS)

$(BUILD)/nlb-unit: $(UNIT_OBJ) $(BUILD)/libnlbd.a $(BUILD)/libnlb.a
	@[ "$(V)" = 1 ] || echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcriterion -lhttp_parser $(LDLIBS)

# Installs whatever Debian packages of the list $(1) are missing.
define install_missing
	@missing=""; for p in $(1); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "make $@: missing Debian packages:$$missing"; \
		echo "make $@: run as root, or: sudo apt-get install -y$$missing"; exit 1; \
	fi; \
	echo "make $@: installing$$missing"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing
endef

deps:
	$(call install_missing,$(DEB_PKGS))

fuzz-deps:
	$(call install_missing,$(DEB_PKGS) $(FUZZ_PKGS))

soak-deps:
	$(call install_missing,$(DEB_PKGS) $(SOAK_PKGS))

# The unit tests alone: no nlb, no network peer, none of the tools make
# deps installs for the integration tests.  TEST_ARGS as for make test.
check: $(BUILD)/nlb-unit
	LSAN_OPTIONS=suppressions=$(CURDIR)/test/lsan.supp:print_suppressions=0 \
	NLB_SRCDIR=$(CURDIR) $(BUILD)/nlb-unit --jobs=2 $(TEST_ARGS)

# Tests run the real binaries; TEST_ARGS passes options to Criterion
# (e.g. TEST_ARGS='--filter=proxy/*').
# With TSAN=1 the binaries the tests run are ThreadSanitizer's, and the
# tests themselves the plain build's: Criterion's runner does not start
# under ThreadSanitizer.  TSAN_TESTS are the suites worth it (every
# thread of nlb busy at once); TEST_ARGS overrides.
ifeq ($(TSAN),1)
TEST_RUNNER := build/nlb-tests
TSAN_TESTS  := --filter=threads/*
test-runner:
	$(MAKE) TSAN=0 BUILD=build build/nlb-tests
else
TEST_RUNNER := $(BUILD)/nlb-tests
TSAN_TESTS  :=
test-runner: $(TEST_RUNNER)
endif

test: deps $(BUILD)/nlb $(BUILD)/nlbctl $(BUILD)/nlb-appliance $(BUILD)/nlb-bench test-runner
	LSAN_OPTIONS=suppressions=$(CURDIR)/test/lsan.supp:print_suppressions=0 \
	TSAN_OPTIONS=halt_on_error=1 \
	NLB_BIN=$(abspath $(BUILD)/nlb) NLB_BENCH=$(abspath $(BUILD)/nlb-bench) \
	NLB_CTL=$(abspath $(BUILD)/nlbctl) NLB_APPLIANCE=$(abspath $(BUILD)/nlb-appliance) \
	NLB_SRCDIR=$(CURDIR) $(TEST_RUNNER) --jobs=2 $(or $(TEST_ARGS),$(TSAN_TESTS))

# Issue 22's soak (bench/soak, doc/hardening.md): every listener kind busy
# at 70% of the mix's peak for SOAK_S seconds while a target flaps, the
# file is reloaded and targets are added, drained and removed; then checks
# (corruption, counters that must stay 0, memory, descriptors, exit) and
# writes build/soak/ (report, data, SVG).  SOAK_S=120 in CI.
SOAK_S ?= 1800
soak: soak-deps $(BUILD)/nlb $(BUILD)/nlbctl $(BUILD)/nlb-bench
	SOAK_S=$(SOAK_S) BUILD=$(BUILD) bench/soak

# Gateway mode's worked example (doc/gateway.md) in network namespaces:
# built, run (a TCP exchange, a telnet denied), counters shown, removed.
gateway-demo: deps $(BUILD)/nlb $(BUILD)/nlbctl $(BUILD)/nlb-appliance $(BUILD)/nlb-bench
	bench/gateway-lab demo $(abspath $(BUILD))

# Several nlb hosts behind an ECMP router with BIRD (doc/scaleout.md), in
# network namespaces, left up for trying by hand; `make lab-down` removes it.
lab: deps $(BUILD)/nlb $(BUILD)/nlbctl $(BUILD)/nlb-bench
	bench/scaleout-lab up $(abspath $(BUILD))
	bench/scaleout-lab status

lab-down:
	bench/scaleout-lab down

# Two echo targets on 127.0.0.1:9001 and :9002, then nlb in the foreground.
run: deps $(BUILD)/nlb $(BUILD)/nlb-bench
	@set -e; \
	$(BUILD)/nlb-bench serve --mode echo 127.0.0.1:9001 & t1=$$!; \
	$(BUILD)/nlb-bench serve --mode echo 127.0.0.1:9002 & t2=$$!; \
	trap 'kill $$t1 $$t2 2>/dev/null' EXIT INT TERM; \
	echo "demo targets on 127.0.0.1:9001 and 127.0.0.1:9002; try: nc 127.0.0.1 8080"; \
	$(BUILD)/nlb -c etc/nlb.conf

$(FUZZ)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@[ "$(V)" = 1 ] || echo "  CLANG   $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

$(FUZZ)/libnlb.a: $(FUZZ_LIB_OBJ)
	@[ "$(V)" = 1 ] || echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

# Kept, not deleted as intermediates of the pattern chain.
.SECONDARY: $(FUZZ_OBJ)

$(FUZZ)/fuzz_%: $(FUZZ)/obj/test/fuzz/fuzz_%.o $(FUZZ)/libnlb.a
	@[ "$(V)" = 1 ] || echo "  LD      $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $^ $(LDLIBS)

# Runs each target for FUZZ_SECONDS.  test/fuzz/corpus/<name> is only
# read (seeds); new inputs go to build/fuzz/work-<name> and crashes to
# build/fuzz/crash-<name>/, so the tree stays clean.  A crash, leak or
# sanitizer report fails the target.
fuzz: fuzz-deps $(FUZZ_BINS)
	@set -e; for f in $(FUZZ_NAMES); do \
		mkdir -p $(FUZZ)/work-$$f $(FUZZ)/crash-$$f; \
		echo "  FUZZ    $$f for $(FUZZ_SECONDS) s"; \
		LSAN_OPTIONS=suppressions=$(CURDIR)/test/fuzz/lsan.supp:print_suppressions=0 \
		$(FUZZ)/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
			-print_final_stats=1 -artifact_prefix=$(FUZZ)/crash-$$f/ \
			$(FUZZ)/work-$$f test/fuzz/corpus/$$f 2>$(FUZZ)/$$f.log || { \
			tail -n 60 $(FUZZ)/$$f.log; echo "make fuzz: $$f failed; see $(FUZZ)/$$f.log"; exit 1; }; \
		grep -E '^(#[0-9]+[[:space:]]+DONE|stat::)' $(FUZZ)/$$f.log | sed 's/^/    /'; \
	done

# Every manual page in doc/ (name.N) goes to share/man/manN.
MAN_PAGES := $(sort $(wildcard doc/*.[1-9]))

install: $(BUILD)/nlb $(BUILD)/nlbctl $(BUILD)/nlb-appliance
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/etc/nlb $(DESTDIR)$(PREFIX)/lib/systemd/system \
		$(DESTDIR)$(PREFIX)/share/doc/nlb
	set -e; for p in $(MAN_PAGES); do \
		d=$(DESTDIR)$(PREFIX)/share/man/man$${p##*.}; install -d $$d; install -m 0644 $$p $$d/; \
	done
	install -m 0755 $(BUILD)/nlb $(DESTDIR)$(PREFIX)/sbin/nlb
	install -m 0755 $(BUILD)/nlbctl $(DESTDIR)$(PREFIX)/sbin/nlbctl
	install -m 0755 $(BUILD)/nlb-appliance $(DESTDIR)$(PREFIX)/sbin/nlb-appliance
	install -m 0644 README $(DESTDIR)$(PREFIX)/share/doc/nlb/README
	install -m 0644 etc/nlb.conf $(DESTDIR)$(PREFIX)/etc/nlb/nlb.conf.example
	[ -e $(DESTDIR)$(PREFIX)/etc/nlb/nlb.conf ] || install -m 0644 etc/nlb.conf $(DESTDIR)$(PREFIX)/etc/nlb/nlb.conf
	sed 's|@PREFIX@|$(PREFIX)|g' etc/nlb.service > $(DESTDIR)$(PREFIX)/lib/systemd/system/nlb.service
	chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/system/nlb.service

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(NLB_OBJ:.o=.d) $(NLBCTL_OBJ:.o=.d) $(NLBDOC_OBJ:.o=.d) $(BENCH_OBJ:.o=.d) \
	 $(TEST_OBJ:.o=.d)
-include $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_OBJ:.o=.d)

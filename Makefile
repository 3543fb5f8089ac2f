# nlb: a Layer-4 TCP/UDP load balancer on io_uring.
# `make` builds build/nlb, build/nlbctl, build/nlb-appliance and build/nlb-bench; `make test` runs every test,
# `make check` the unit tests alone (seconds); `make run` starts nlb on etc/nlb.conf
# with two local demo targets; `make doc` remakes doc/nlb-metrics.7 from the counter table.

VERSION  := 0.1.0
PREFIX   ?= /usr/local
DESTDIR  ?=
SANITIZE ?= 0
TSAN     ?= 0
# SECCOMP=1: every configuration `make test` writes has seccomp = true.
SECCOMP  ?= 0
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
UNIT_NAMES   := acl addr admin_command config config_http config_keys config_rules cpu_list flowtab health_check histogram http1 http1_differential http1_forward \
                appliance_filter config_gateway geneve http_path http_rules ip_packet wildcard \
                lb_table log maglev metrics_request pick proxyproto qsbr ring seccomp_filter slot_arena spsc_ring srclimit strbuf \
                target_set tls tls_hello tls_ticket_keys tuple_hash udp_batch rtnl_route
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
# AFL++ (make afl): afl-clang-fast, afl-fuzz and its libFuzzer driver.
AFL_PKGS  := afl++
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
                rtnl_route admin_command health_check metrics_request tls_hello
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ)/obj/%.o)
FUZZ_OBJ     := $(FUZZ_NAMES:%=$(FUZZ)/obj/test/fuzz/fuzz_%.o)
FUZZ_BINS    := $(FUZZ_NAMES:%=$(FUZZ)/fuzz_%)

# `make afl`: AFL++ as a second fuzzer on the same targets and seeds.
# afl-clang-fast instruments lib/ and the targets for AFL++, and for
# -fsanitize=fuzzer links AFL++'s driver (libAFLDriver) in place of
# libFuzzer, so each target runs unchanged, with ASan and UBSan as in
# make fuzz.  (Not AFL_CC: afl-clang-fast reads that one itself.)
AFL_SECONDS ?= 60
AFL_FUZZ_CC ?= afl-clang-fast
AFL         := build/afl
AFL_LIB_OBJ := $(LIB_SRC:%.c=$(AFL)/obj/%.o)
AFL_OBJ     := $(FUZZ_NAMES:%=$(AFL)/obj/test/fuzz/fuzz_%.o)
AFL_BINS    := $(FUZZ_NAMES:%=$(AFL)/fuzz_%)
# Unattended, on a machine others share: no UI, no CPU pinned (another
# fuzzer or test may hold it), no check of the CPU governor, and no
# refusal when core_pattern pipes core dumps to a helper (crashes are
# still seen: the driver aborts, and AFL++ counts the signal).  Nothing
# system-wide is changed.  A case taking 2 s is a hang.
AFL_ENV     := AFL_NO_UI=1 AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 \
               AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_QUIET=1
AFL_TIMEOUT := 2000

# `make fuzz-coverage`: clang's source-based coverage of each target's
# parser files (COV_<name>; lib/<name>.c when not given) after replaying
# its seeds and what make fuzz found (build/fuzz/work-<name>), with the
# llvm-profdata and llvm-cov of clang's own version.
COV          := build/fuzz-cov
COV_CFLAGS   := -g -O1 -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping \
                -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -pthread -Ilib -DNLB_VERSION=\"$(VERSION)\"
COV_LIB_OBJ  := $(LIB_SRC:%.c=$(COV)/obj/%.o)
COV_OBJ      := $(FUZZ_NAMES:%=$(COV)/obj/test/fuzz/fuzz_%.o)
COV_BINS     := $(FUZZ_NAMES:%=$(COV)/fuzz_%)
LLVM_VERSION  = $(firstword $(subst ., ,$(shell $(FUZZ_CC) -dumpversion)))
LLVM_PROFDATA = llvm-profdata-$(LLVM_VERSION)
LLVM_COV      = llvm-cov-$(LLVM_VERSION)
COV_config    := $(sort $(wildcard lib/config*.c))
COV_http1     := lib/http1_head.c lib/http1_chunked.c lib/http1_forward.c lib/http1_chars.c
COV_http_rules := lib/http_rules.c lib/wildcard.c lib/http_path.c lib/config_rules.c
# a ')' for the case patterns $(foreach) writes in fuzz-coverage's recipe
rparen        := )

.PHONY: all deps test test-runner check run install clean fuzz fuzz-deps fuzz-report fuzz-coverage afl afl-deps doc \
	gateway-demo lab lab-down soak soak-deps

all: $(BUILD)/nlb $(BUILD)/nlbctl $(BUILD)/nlb-appliance $(BUILD)/nlb-bench $(BUILD)/maglev-bench \
     $(BUILD)/acl-bench $(BUILD)/rules-bench $(BUILD)/tls-bench $(BUILD)/nlb-doc

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

# Micro-benchmark of a tls listener's handshakes, server side, no sockets.
$(BUILD)/tls-bench: $(BUILD)/obj/bench/micro/tls_bench.o $(BUILD)/libnlb.a
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

afl-deps:
	$(call install_missing,$(DEB_PKGS) $(FUZZ_PKGS) $(AFL_PKGS))

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

test: deps $(BUILD)/nlb $(BUILD)/nlbctl $(BUILD)/nlb-appliance $(BUILD)/nlb-bench $(BUILD)/tls-bench test-runner
	LSAN_OPTIONS=suppressions=$(CURDIR)/test/lsan.supp:print_suppressions=0 \
	TSAN_OPTIONS=halt_on_error=1 \
	NLB_BIN=$(abspath $(BUILD)/nlb) NLB_BENCH=$(abspath $(BUILD)/nlb-bench) \
	NLB_CTL=$(abspath $(BUILD)/nlbctl) NLB_APPLIANCE=$(abspath $(BUILD)/nlb-appliance) \
	NLB_TLS_BENCH=$(abspath $(BUILD)/tls-bench) NLB_TEST_SECCOMP=$(SECCOMP) \
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

$(FUZZ)/obj/%.o: %.c | fuzz-deps
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

# Runs each target for FUZZ_SECONDS, or FUZZ_SECONDS_<name> where given
# (a campaign spends its hours where the input space is large); with
# make -j, as many targets at once.  test/fuzz/corpus/<name> is only
# read (seeds), with test/fuzz/<name>.dict if there is one; new inputs go
# to build/fuzz/work-<name> and crashes to build/fuzz/crash-<name>/, so
# the tree stays clean.  A crash, leak, sanitizer report, broken
# contract or an input running FUZZ_TIMEOUT seconds fails the target.
FUZZ_TIMEOUT ?= 10
# libconfig 1.5 leaks a token on some syntax errors (test/fuzz/lsan.supp),
# about 37 MB a minute at config's rate: its memory limit leaves room for
# hours.
FUZZ_FLAGS_config := -rss_limit_mb=8192
fuzz: $(FUZZ_NAMES:%=fuzz-run-%)

# Kept: reached only through fuzz-run-%, make would delete them as
# intermediates.
.SECONDARY: $(FUZZ_BINS)

fuzz-run-%: fuzz-deps $(FUZZ)/fuzz_%
	@mkdir -p $(FUZZ)/work-$* $(FUZZ)/crash-$*
	@echo "  FUZZ    $* for $(or $(FUZZ_SECONDS_$*),$(FUZZ_SECONDS)) s"
	@LSAN_OPTIONS=suppressions=$(CURDIR)/test/fuzz/lsan.supp:print_suppressions=0 \
	$(FUZZ)/fuzz_$* -max_total_time=$(or $(FUZZ_SECONDS_$*),$(FUZZ_SECONDS)) \
		-timeout=$(FUZZ_TIMEOUT) $(FUZZ_FLAGS_$*) -print_final_stats=1 -artifact_prefix=$(FUZZ)/crash-$*/ \
		$$(test ! -f test/fuzz/$*.dict || echo -dict=test/fuzz/$*.dict) \
		$(FUZZ)/work-$* test/fuzz/corpus/$* 2>$(FUZZ)/$*.log || { \
		tail -n 60 $(FUZZ)/$*.log; echo "make fuzz: $* failed; see $(FUZZ)/$*.log"; exit 1; }
	@grep -E '^(#[0-9]+[[:space:]]+DONE|stat::)' $(FUZZ)/$*.log | sed 's/^/    $*: /'

# A table of what the last `make fuzz` of each target did (its log in
# build/fuzz): executions, rate, coverage, corpus, and when coverage last
# grew.
fuzz-report:
	@awk -f bench/fuzz-report.awk $(foreach n,$(FUZZ_NAMES),$(wildcard $(FUZZ)/$(n).log))

$(COV)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@[ "$(V)" = 1 ] || echo "  CLANG   $@"
	$(Q)$(FUZZ_CC) $(COV_CFLAGS) -MMD -MP -c -o $@ $<

$(COV)/libnlb.a: $(COV_LIB_OBJ)
	@[ "$(V)" = 1 ] || echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

.SECONDARY: $(COV_OBJ)

$(COV)/fuzz_%: $(COV)/obj/test/fuzz/fuzz_%.o $(COV)/libnlb.a
	@[ "$(V)" = 1 ] || echo "  LD      $@"
	$(Q)$(FUZZ_CC) $(COV_CFLAGS) -o $@ $^ $(LDLIBS)

# Each target runs its corpus once (libFuzzer's -runs=0), then llvm-cov
# reports its files: each target's table, then a line per target of the
# line and branch coverage of its files together.
fuzz-coverage: fuzz-deps $(COV_BINS)
	@set -e; rm -f $(COV)/summary; for f in $(FUZZ_NAMES); do \
		mkdir -p $(FUZZ)/work-$$f; \
		files="$$(case $$f in $(foreach n,$(FUZZ_NAMES),$(n)$(rparen) echo "$(or $(COV_$(n)),lib/$(n).c)";;) esac)"; \
		LLVM_PROFILE_FILE=$(COV)/$$f.profraw $(COV)/fuzz_$$f -runs=0 \
			$(FUZZ)/work-$$f test/fuzz/corpus/$$f >$(COV)/$$f.log 2>&1 || { \
			tail -n 20 $(COV)/$$f.log; echo "make fuzz-coverage: $$f failed"; exit 1; }; \
		$(LLVM_PROFDATA) merge -sparse -o $(COV)/$$f.profdata $(COV)/$$f.profraw; \
		inputs=$$(sed -n 's/^INFO: seed corpus: files: \([0-9]*\).*/\1/p' $(COV)/$$f.log); \
		echo "  COV     $$f ($$inputs inputs): $$files"; \
		$(LLVM_COV) report $(COV)/fuzz_$$f -instr-profile=$(COV)/$$f.profdata $$files \
			>$(COV)/$$f.report; \
		sed 's/^/    /' $(COV)/$$f.report; \
		awk -v f=$$f '$$1 == "TOTAL" { printf "  %-17s lines %6s of %5d  branches %6s of %5d\n", \
			f, $$10, $$8, $$13, $$11 }' $(COV)/$$f.report >>$(COV)/summary; \
	done; echo "fuzz-coverage:"; cat $(COV)/summary

$(AFL)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@[ "$(V)" = 1 ] || echo "  AFLCC   $@"
	$(Q)AFL_QUIET=1 $(AFL_FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

$(AFL)/libnlb.a: $(AFL_LIB_OBJ)
	@[ "$(V)" = 1 ] || echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

.SECONDARY: $(AFL_OBJ)

$(AFL)/fuzz_%: $(AFL)/obj/test/fuzz/fuzz_%.o $(AFL)/libnlb.a
	@[ "$(V)" = 1 ] || echo "  LD      $@"
	$(Q)AFL_QUIET=1 $(AFL_FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $^ $(LDLIBS)

# Runs each target under afl-fuzz for AFL_SECONDS from the seeds in
# test/fuzz/corpus/<name> (and test/fuzz/<name>.dict), into a fresh
# build/afl/out-<name>.  afl-fuzz exits 0 whatever it found, so its
# fuzzer_stats decide: a crash or a hang fails the target (the inputs
# are in build/afl/out-<name>/default/crashes and hangs).
afl: afl-deps $(AFL_BINS)
	@set -e; for f in $(FUZZ_NAMES); do \
		out=$(AFL)/out-$$f; rm -rf $$out; \
		echo "  AFL     $$f for $(AFL_SECONDS) s"; \
		$(AFL_ENV) afl-fuzz -V $(AFL_SECONDS) -t $(AFL_TIMEOUT) -i test/fuzz/corpus/$$f -o $$out \
			$$(test ! -f test/fuzz/$$f.dict || echo -x test/fuzz/$$f.dict) \
			-- $(AFL)/fuzz_$$f >$(AFL)/$$f.log 2>&1 || { \
			tail -n 30 $(AFL)/$$f.log; echo "make afl: $$f failed; see $(AFL)/$$f.log"; exit 1; }; \
		stat() { sed -n "s/^$$1 *: *//p" $$out/default/fuzzer_stats; }; \
		echo "    execs_done $$(stat execs_done) ($$(stat execs_per_sec)/s) corpus $$(stat corpus_count)" \
			"edges $$(stat edges_found)/$$(stat total_edges) crashes $$(stat saved_crashes)" \
			"hangs $$(stat saved_hangs)"; \
		[ "$$(stat saved_crashes)" = 0 ] && [ "$$(stat saved_hangs)" = 0 ] || { \
			echo "make afl: $$f: crashes or hangs in $$out/default"; exit 1; }; \
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
-include $(AFL_LIB_OBJ:.o=.d) $(AFL_OBJ:.o=.d)
-include $(COV_LIB_OBJ:.o=.d) $(COV_OBJ:.o=.d)

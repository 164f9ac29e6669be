# tests/fuzz/fuzz.mk - libFuzzer harnesses for everything guestpatch reads
# from a guest or a peer (tests/fuzz/fuzz_*.c, one per input kind).
#
#   make fuzz FUZZ_S=N   run each harness N seconds (default 60) on its
#                        checked-in corpus; new inputs go to
#                        $(O)/fuzz/corpus-new/NAME, crashes to
#                        $(O)/fuzz/artifacts/; one line per harness in
#                        $(O)/fuzz.txt; exits non-zero on any crash
#   make fuzz-seeds      boot one guest, write the real-guest seeds
#   make fuzz-regress    run each harness once over its checked-in corpus
#                        (tests/fuzz/corpus/NAME/), a regression test:
#                        part of `make check`
#
# The library is built again with clang, instrumented for coverage
# (-fsanitize=fuzzer-no-link) and checked by ASan and UBSan; each harness
# links with libFuzzer's main. Included by the top Makefile; defines no
# default goal.

fuzz_saved_goal := $(.DEFAULT_GOAL)

FUZZ_CC ?= clang
FUZZ_S ?= 60
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(FUZZ_NAMES:%=$(O)/fuzz/fuzz_%)
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# The KVM ioctl structs (a header followed by its entries) are a GNU
# extension gcc takes silently and clang names; nothing else is relaxed.
FUZZ_CFLAGS := -std=gnu11 -O1 -g $(WARN) -Wno-gnu-variable-sized-type-not-at-end -MMD -MP \
	$(FUZZ_SAN)
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(O)/fuzz/obj/%.o)

$(O)/fuzz/obj/%.o: %.c
	$(call msg,CC-FUZZ,$<)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(PKG_CFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(O)/fuzz/libgp.a: $(FUZZ_LIB_OBJS) $(AGENT_BLOB)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(O)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(O)/fuzz/libgp.a
	$(call msg,LD-FUZZ,$@)
	$(Q)$(FUZZ_CC) $(CPPFLAGS) -Itests/fuzz $(PKG_CFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer \
		-o $@ $< $(O)/fuzz/libgp.a $(PKG_LIBS) -lz -lbz2 -lpthread

# The seeds from a real guest (tests/fuzz/seeds.c): boots one, writes
# tests/fuzz/corpus/*/real-* and the synth-* journals. Not run by
# anything else: the corpus is checked in.
$(O)/fuzz/gp-seeds: $(O)/obj/tests/fuzz/seeds.o $(RIG_OBJS) $(O)/libgp.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS) -lz -lbz2 -lpthread

$(O)/obj/tests/fuzz/seeds.o: CPPFLAGS += -Itests/fuzz -Itests/rig

fuzz-seeds: deps
	$(Q)$(MAKE) --no-print-directory $(O)/fuzz/gp-seeds $(O)/vmm guest
	$(Q)GP_BUILD=$(O) $(O)/fuzz/gp-seeds tests/fuzz/corpus

.PHONY: fuzz fuzz-build fuzz-regress fuzz-seeds clean-fuzz
fuzz-build: $(FUZZ_BINS)

fuzz-regress: fuzz-build
	$(Q)tests/fuzz/run.sh regress $(O) $(FUZZ_NAMES)

fuzz: fuzz-build
	$(Q)tests/fuzz/run.sh fuzz $(O) $(FUZZ_NAMES)

clean: clean-fuzz
clean-fuzz:
	rm -rf $(O)/fuzz $(O)/fuzz.txt

.DEFAULT_GOAL := $(fuzz_saved_goal)

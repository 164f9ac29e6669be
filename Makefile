# guestpatch - hypervisor-side live patcher for Linux guest kernels.
#
#   make            build build/vmm
#   make check      install deps, unit tests (ASan+UBSan), integration tests
#   make demo       boot the default guest, patch it from outside, unpatch
#   make bench      benchmarks; results in build/bench.txt
#   make install    install vmm to $(PREFIX)/bin
#
# V=1 shows the commands; WERROR=0 turns warnings back into warnings.

# /usr: Debian's AppArmor profile for libvirtd lets hooks run programs in
# /usr/bin and /usr/sbin, not /usr/local.
PREFIX ?= /usr
O ?= build
V ?= 0
WERROR ?= 1
CC ?= gcc

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-7s %s\n' $(1) $(2)
endif

PKGS := libelf libbpf json-c liblzma libzstd liblz4 zlib libvirt libvirt-qemu libxml-2.0
# libvirt and libxml2 are dlopened when a command needs them (target/lvlib.h,
# manage/xmllib.h): their headers are used, their libraries never linked.
DL_PKGS := libvirt libvirt-qemu libxml-2.0
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(filter-out $(DL_PKGS),$(PKGS)) 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)
# STATIC_LIBS=1 links libbpf, libelf, json-c and the decompressors into vmm
# itself: ~0.6 ms less at every start here, but their security fixes then
# need vmm rebuilt (they parse guest BTF and vmlinuz), so it is not the default.
ifeq ($(STATIC_LIBS),1)
VMM_LIBS = -Wl,-Bstatic -Wl,--start-group $(PKG_LIBS) -lz -lbz2 -Wl,--end-group -Wl,-Bdynamic
else
VMM_LIBS = $(PKG_LIBS) -lz -lbz2
endif

WARN := -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
	-Wpointer-arith -Wformat=2 -Wundef -Wno-unused-parameter \
	-Wno-missing-field-initializers
ifeq ($(WERROR),1)
WARN += -Werror
endif

# One folder per layer (docs/architecture.md); a layer includes only the
# layers below it, which scripts/check-layers.sh verifies.
LAYERS := common target introspect patch manage vmm/monitor vmm/cli
CPPFLAGS += -D_GNU_SOURCE $(addprefix -I,$(LAYERS))
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 $(WARN) -MMD -MP
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

CLI_SRCS := $(wildcard vmm/cli/*.c)
LIB_SRCS := $(foreach d,common target introspect patch manage vmm/monitor,$(wildcard $(d)/*.c))
UNIT_SRCS := $(wildcard tests/unit/*.c) tests/gp_check.c
INTEG_SRCS := $(wildcard tests/integ/*.c) tests/gp_check.c
RIG_SRCS := $(wildcard tests/rig/*.c)

LIB_OBJS := $(LIB_SRCS:%.c=$(O)/obj/%.o)
SAN_OBJS := $(LIB_SRCS:%.c=$(O)/san/%.o)
UNIT_OBJS := $(UNIT_SRCS:%.c=$(O)/san/%.o)
RIG_OBJS := $(RIG_SRCS:%.c=$(O)/obj/%.o)
INTEG_OBJS := $(INTEG_SRCS:%.c=$(O)/obj/%.o)
include guest-agent/agent.mk
include tests/fuzz/fuzz.mk

KERNELS := $(O)/kernels
INITRD := $(O)/guest/initramfs.cpio.gz
NESTED := $(O)/guest/nested.cpio.gz
PATCHES := $(O)/patches/cmdline_marker.o
GUEST_HELPERS_SRC := $(wildcard tests/guest/*.c)
GUEST_HELPERS := $(GUEST_HELPERS_SRC:tests/guest/%.c=$(O)/guest/bin/%)
# The guest's own livepatch as a yardstick: a module built against
# Debian's linux-headers for the test kernel (scripts/klp-module.sh).
KLP_MOD := $(O)/klp/gp_klp_cmdline.ko
KLP_MODS := $(KLP_MOD) $(O)/klp/gp_test_sleeper.ko $(O)/klp/gp_test_warn.ko

.DELETE_ON_ERROR:
.PHONY: all check layers unit integ crashtest demo bench install install-libvirt-hook clean deps kernels guest sysguest format

all: $(O)/vmm

deps:
	$(Q)scripts/deps.sh

$(O)/obj/%.o: %.c
	$(call msg,CC,$<)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -c -o $@ $<

$(O)/san/%.o: %.c
	$(call msg,CC-SAN,$<)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) -Itests $(PKG_CFLAGS) $(CFLAGS) -O1 $(SAN) -c -o $@ $<

$(O)/libgp.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(O)/vmm: $(CLI_SRCS:%.c=$(O)/obj/%.o) $(O)/libgp.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(VMM_LIBS)

$(O)/check_unit: $(UNIT_OBJS) $(SAN_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(CHECK_LIBS) $(PKG_LIBS) -lz -lbz2

$(O)/check_integ: $(INTEG_OBJS) $(RIG_OBJS) $(O)/libgp.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(CHECK_LIBS) $(PKG_LIBS) -lz -lbz2

# gp-bench: bench.c and every section tests/tools/bench_*.c (bench.h).
BENCH_OBJS := $(patsubst %.c,$(O)/obj/%.o,$(wildcard tests/tools/bench*.c))
$(O)/gp-bench: $(BENCH_OBJS) $(RIG_OBJS) $(O)/libgp.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS) -lz -lbz2

$(O)/gp-demo: $(O)/obj/tests/tools/demo.o $(RIG_OBJS) $(O)/libgp.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS) -lz -lbz2

$(O)/obj/tests/%.o: CPPFLAGS += -Itests

# Static helpers that run inside test guests.
$(O)/guest/bin/%: tests/guest/%.c
	$(call msg,CC-GST,$<)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -O2 -static -pthread -o $@ $<

# Every kernel Debian 12 ships, by its meta package (tests/integ/test_kernels.c).
KERNEL_FLAVORS := amd64 cloud-amd64 rt-amd64 6.12-amd64 6.12-cloud-amd64 6.12-rt-amd64

kernels:
	$(Q)for f in $(KERNEL_FLAVORS); do scripts/fetch-kernel.sh $$f $(KERNELS) >/dev/null || exit 1; done

# The kernel's own livepatch samples and selftest modules, from Debian's
# linux-source packages, built for each guest kernel (scripts/klp-samples.sh;
# tests/integ/test_kmod.c applies them from outside with `vmm patch`, and the
# initramfs carries them for the guest's own insmod to compare with).
KLP_SAMPLE_NAMES := livepatch-sample test_klp_livepatch test_klp_atomic_replace test_klp_shadow_vars \
	livepatch-shadow-mod livepatch-shadow-fix1 livepatch-callbacks-demo gp_kmod_sleepy \
	livepatch-shadow-fix2 test_klp_callbacks_demo test_klp_callbacks_demo2 test_klp_callbacks_busy \
	test_klp_callbacks_mod
KLP_SAMPLES := $(patsubst %,$(O)/klp-samples/%.ko,$(KLP_SAMPLE_NAMES))
KLP612_SAMPLES := $(patsubst %,$(O)/klp-samples-6.12-amd64/%.ko,$(KLP_SAMPLE_NAMES))

$(firstword $(KLP_SAMPLES)): scripts/klp-samples.sh $(wildcard tests/kmod/*) | kernels
	$(call msg,KLPS,$@)
	$(Q)scripts/klp-samples.sh $(KERNELS)/amd64 6.1 $(dir $@)
	$(Q)strip --strip-debug $(KLP_SAMPLES)

$(wordlist 2,99,$(KLP_SAMPLES)): $(firstword $(KLP_SAMPLES))

$(firstword $(KLP612_SAMPLES)): scripts/klp-samples.sh $(wildcard tests/kmod/*) | kernels
	$(call msg,KLPS,$@)
	$(Q)scripts/klp-samples.sh $(KERNELS)/6.12-amd64 6.12 $(dir $@)
	$(Q)strip --strip-debug $(KLP612_SAMPLES)

$(wordlist 2,99,$(KLP612_SAMPLES)): $(firstword $(KLP612_SAMPLES))

.PHONY: klp-samples
klp-samples: $(KLP_SAMPLES) $(KLP612_SAMPLES)

$(KLP_MOD): scripts/klp-module.sh $(wildcard tests/klp/*) | kernels
	$(call msg,KLP,$@)
	$(Q)scripts/klp-module.sh $(KERNELS)/amd64 $(dir $@)
	$(Q)strip --strip-debug $(KLP_MODS)

$(O)/klp/gp_test_sleeper.ko $(O)/klp/gp_test_warn.ko: $(KLP_MOD)

$(INITRD): scripts/mkinitramfs.sh $(GUEST_HELPERS) $(KLP_MODS) $(KLP_SAMPLES)
	$(call msg,INITRD,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)scripts/mkinitramfs.sh $@ $(GUEST_HELPERS) $(KLP_MODS) $(KLP_SAMPLES)

# Linux 6.12 (Debian's linux-image-6.12-amd64, the meta package naming
# the ABI): the same test modules built against its headers, in a
# directory of their own, and a second initramfs that holds them.
K612 := 6.12-amd64
KLP612_MODS := $(O)/klp-$(K612)/gp_klp_cmdline.ko $(O)/klp-$(K612)/gp_test_sleeper.ko $(O)/klp-$(K612)/gp_test_warn.ko
INITRD612 := $(O)/guest/initramfs-$(K612).cpio.gz

$(firstword $(KLP612_MODS)): scripts/klp-module.sh $(wildcard tests/klp/*) | kernels
	$(call msg,KLP,$@)
	$(Q)scripts/klp-module.sh $(KERNELS)/$(K612) $(dir $@)
	$(Q)strip --strip-debug $(KLP612_MODS)

$(wordlist 2,9,$(KLP612_MODS)): $(firstword $(KLP612_MODS))

$(INITRD612): scripts/mkinitramfs.sh $(GUEST_HELPERS) $(KLP612_MODS) $(KLP612_SAMPLES)
	$(call msg,INITRD,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)scripts/mkinitramfs.sh $@ $(GUEST_HELPERS) $(KLP612_MODS) $(KLP612_SAMPLES)

# The example patch, built for the rig's kernel.
$(O)/patches/%.o: guest-agent/examples/%.c $(O)/vmm | kernels
	$(call msg,PATCH,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(O)/vmm build $< -o $@ --kernel $(KERNELS)/amd64/vmlinuz >/dev/null

# The ELF vmlinux inside Debian's vmlinuz (xz), for the PVH entry.
$(O)/guest/vmlinux: | kernels
	$(call msg,UNXZ,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)off=$$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' $(KERNELS)/amd64/vmlinuz | head -n 1 | cut -d: -f1) && \
		tail -c +$$((off + 1)) $(KERNELS)/amd64/vmlinuz | xz -dc --single-stream >$@

# The nested-KVM rig's outer initramfs (tests/rig/nested.h).
$(NESTED): scripts/mknested.sh $(INITRD) $(O)/vmm $(PATCHES) $(O)/guest/vmlinux | kernels
	$(call msg,NESTED,$@)
	$(Q)scripts/mknested.sh $@ $(INITRD) $(KERNELS)/amd64 $(O)/vmm \
		$(KERNELS)/amd64/vmlinuz $(O)/guest/vmlinux $(INITRD) $(PATCHES)

guest: kernels $(INITRD) $(NESTED) $(INITRD612)

# The Debian 12 system guest the libvirt tests boot (tests/rig/lvrig.h):
# systemd, its own disk, built once by mmdebstrap from Debian's packages
# (a few minutes; the script keeps it until the script itself changes).
SYSGUEST := $(O)/sysguest

sysguest:
	$(Q)scripts/mksysguest.sh $(SYSGUEST)

unit: $(O)/check_unit
	$(Q)CK_DEFAULT_TIMEOUT=60 $(O)/check_unit

# The whole output also goes to $(O)/integ.log; a failed run ends with a
# digest of its failures (scripts/failure-digest.sh).
integ: $(O)/check_integ $(O)/vmm guest sysguest
	$(Q){ GP_BUILD=$(O) CK_DEFAULT_TIMEOUT=900 $(O)/check_integ 2>&1; echo $$? > $(O)/integ.rc; } | tee $(O)/integ.log; \
	rc=$$(cat $(O)/integ.rc); [ "$$rc" = 0 ] || scripts/failure-digest.sh $(O)/integ.log; exit $$rc

# The house rules (docs/architecture.md): includes point down, no opcodes
# in host C, long files say why.
layers:
	$(Q)scripts/check-layers.sh

check: deps
	$(Q)$(MAKE) --no-print-directory layers
	$(Q)$(MAKE) --no-print-directory fuzz-regress
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)$(MAKE) --no-print-directory integ

# Every kill point of the crash tests (tests/integ/test_crash.c), not a
# sample: long; the figures go to $(O)/crashtest.txt.
crashtest: deps
	$(Q)$(MAKE) --no-print-directory $(O)/check_integ $(O)/vmm guest
	$(Q)GP_BUILD=$(O) GP_CRASH_FULL=1 GP_CRASH_TESTS="$(CRASH_TESTS)" CK_RUN_CASE=crash CK_TIMEOUT_MULTIPLIER=10 \
		$(O)/check_integ 2>&1 | tee $(O)/crashtest.txt

demo: deps
	$(Q)$(MAKE) --no-print-directory $(O)/vmm $(O)/gp-demo guest
	$(Q)GP_BUILD=$(O) $(O)/gp-demo

bench: deps
	$(Q)$(MAKE) --no-print-directory $(O)/vmm $(O)/gp-bench guest
	$(Q)GP_BUILD=$(O) GP_BENCH_ONLY="$(BENCH_ONLY)" $(O)/gp-bench $(O)/bench.txt

install: $(O)/vmm
	install -D -m 0755 $(O)/vmm $(DESTDIR)$(PREFIX)/bin/vmm
	install -D -m 0644 docs/vmm.1 $(DESTDIR)$(PREFIX)/share/man/man1/vmm.1

# The libvirt hook and the vmm watch unit (configs/libvirt/README.md).  The
# first hook file is noticed only after libvirtd reloads.
install-libvirt-hook: install
	install -D -m 0755 configs/libvirt/guestpatch-hook $(DESTDIR)/etc/libvirt/hooks/qemu.d/guestpatch
	install -D -m 0644 configs/libvirt/guestpatch-watch.service \
		$(DESTDIR)/lib/systemd/system/guestpatch-watch.service
	install -d -m 0755 $(DESTDIR)/var/log/guestpatch
	$(Q)if [ -z "$(DESTDIR)" ]; then \
		if [ -d /run/systemd/system ]; then \
			systemctl daemon-reload; systemctl reload libvirtd 2>/dev/null || true; \
			systemctl enable --now guestpatch-watch.service || true; \
		else pkill -HUP -x libvirtd || true; fi; \
	fi

format:
	clang-format -i $(LIB_SRCS) $(CLI_SRCS) $(UNIT_SRCS) $(INTEG_SRCS) $(RIG_SRCS)

clean:
	rm -rf $(O)/obj $(O)/san $(O)/vmm $(O)/libgp.a $(O)/check_unit $(O)/check_integ $(O)/gp-bench $(O)/gp-demo $(O)/guest $(O)/patches

# Dependency files only: not the unpacked kernels' or the system guest's trees.
-include $(shell find $(O) \( -path $(O)/kernels -o -path $(O)/sysguest \) -prune -o \
	-name '*.d' -type f -print 2>/dev/null)

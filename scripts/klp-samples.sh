#!/bin/sh
# klp-samples.sh KERNELDIR SRCVER OUTDIR
#
# Build the kernel's own livepatch samples and selftest modules - test
# material nobody here wrote - for the guest kernel in KERNELDIR (its
# `release` file, written by fetch-kernel.sh), against Debian's
# linux-headers for it, into OUTDIR. The sources come from Debian's
# linux-source-SRCVER package (a tarball in /usr/src, installed with
# apt-get when missing); only the few files below are extracted, into
# OUTDIR, never into the repository:
#   livepatch-sample.c        samples/livepatch (/proc/cmdline)
#   test_klp_livepatch.c      lib/livepatch, or the selftests' test_modules
#                             from 6.11 (/proc/cmdline, THIS_MODULE->name)
#   test_klp_atomic_replace.c (/proc/meminfo, replace=1)
#   test_klp_shadow_vars.c    (a plain module, not a livepatch)
#   livepatch-shadow-mod.c    samples/livepatch: a plain module leaking memory
#   livepatch-shadow-fix1.c   its livepatch (shadow variables, a module object)
#   livepatch-callbacks-demo.c a livepatch with callbacks
#   livepatch-shadow-fix2.c   the second livepatch on livepatch-shadow-mod
#                             (stacked on fix1; its exit frees shadows)
#   test_klp_callbacks_demo.c, test_klp_callbacks_demo2.c  livepatches
#                             with callbacks (pre_patch_ret parameter)
#   test_klp_callbacks_busy.c, test_klp_callbacks_mod.c  plain modules the
#                             guest loads itself: callback targets
#   test-livepatch.sh, test-callbacks.sh  the selftests: what they are
#                             expected to do
#   test-shadow-vars.sh       the selftest of test_klp_shadow_vars (run by
#                             `vmm call`: tests/integ/test_kmod_run.c)
# The headers come as scripts/klp-module.sh installs them (run it first,
# or it is run here).
set -eu
kdir=$1
srcver=$2
out=$3
rel=$(cat "$kdir/release")
hdr=/usr/src/linux-headers-$rel
tarball=/usr/src/linux-source-$srcver.tar.xz
if ! [ -f "$hdr/Makefile" ]; then
	scripts/klp-module.sh "$kdir" "$out/.klp-module"
fi
if ! [ -f "$tarball" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "klp-samples: $tarball missing; as root: apt-get install linux-source-$srcver" >&2
		exit 1
	fi
	apt-cache show "linux-source-$srcver" >/dev/null 2>&1 || apt-get update -q >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"linux-source-$srcver" >/dev/null
fi
mkdir -p "$out"
# 6.12 keeps the test modules in tools/testing/selftests/livepatch/test_modules/
# (lib/livepatch/ up to 6.10): found by name wherever the tarball has them.
names="livepatch-sample.c test_klp_livepatch.c test_klp_atomic_replace.c test_klp_shadow_vars.c
livepatch-shadow-mod.c livepatch-shadow-fix1.c livepatch-callbacks-demo.c test-livepatch.sh
livepatch-shadow-fix2.c test_klp_callbacks_demo.c test_klp_callbacks_demo2.c
test_klp_callbacks_busy.c test_klp_callbacks_mod.c test-callbacks.sh test-shadow-vars.sh"
pats=
for n in $names; do pats="$pats */livepatch/$n */livepatch/test_modules/$n"; done
tmp="$out/.src"
rm -rf "$tmp"
mkdir -p "$tmp"
# shellcheck disable=SC2086
# (tar complains of the patterns that match nothing; each file is checked below)
tar -xJf "$tarball" -C "$tmp" --wildcards $pats 2>/dev/null || true
for n in $names; do
	f=$(find "$tmp" -name "$n" | head -n 1)
	[ -n "$f" ] || { echo "klp-samples: $n not in $tarball" >&2; exit 1; }
	cp "$f" "$out/"
done
rm -rf "$tmp"
# and ours (tests/kmod): a livepatch that sleeps in its replacement, and
# a plain module for `vmm call` (gp_kmod_run)
cp tests/kmod/*.c "$out/"
cat >"$out/Kbuild" <<'KB'
obj-m += livepatch-sample.o test_klp_livepatch.o test_klp_atomic_replace.o test_klp_shadow_vars.o
obj-m += livepatch-shadow-mod.o livepatch-shadow-fix1.o livepatch-callbacks-demo.o
obj-m += gp_kmod_sleepy.o gp_kmod_run.o
obj-m += livepatch-shadow-fix2.o test_klp_callbacks_demo.o test_klp_callbacks_demo2.o
obj-m += test_klp_callbacks_busy.o test_klp_callbacks_mod.o
KB
make -s -C "$hdr" M="$(cd "$out" && pwd)" modules >"$out/build.log" 2>&1 || {
	cat "$out/build.log" >&2
	echo "klp-samples: building the livepatch samples against $hdr failed" >&2
	exit 1
}
for m in livepatch-sample test_klp_livepatch test_klp_atomic_replace test_klp_shadow_vars \
	livepatch-shadow-mod livepatch-shadow-fix1 livepatch-callbacks-demo gp_kmod_sleepy gp_kmod_run \
	livepatch-shadow-fix2 test_klp_callbacks_demo test_klp_callbacks_demo2 \
	test_klp_callbacks_busy test_klp_callbacks_mod; do
	strings "$out/$m.ko" | grep -q "^vermagic=$rel " || {
		echo "klp-samples: $out/$m.ko is not built for $rel" >&2
		exit 1
	}
done

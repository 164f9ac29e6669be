#!/bin/sh
# klp-module.sh KERNELDIR OUTDIR
#
# Build tests/klp/ (a livepatch module for the guest kernel's own
# livepatch: the yardstick guestpatch is compared with; and a module with
# a kthread sleeping in module code, for module stacks) against Debian's
# linux-headers package for the kernel in KERNELDIR (its `release` file,
# written by fetch-kernel.sh), into OUTDIR (one per kernel). Installs the
# headers with apt-get when they are missing (the build needs
# linux-kbuild's tools in place). The package is the one Debian's meta
# package linux-headers-FLAVOR (FLAVOR: KERNELDIR's name, e.g. amd64 or
# 6.12-amd64) depends on; no ABI number is written down here. It must be
# the kernel's own release: a module for another ABI would not load.
set -eu
kdir=$1
out=$2
rel=$(cat "$kdir/release")
flavor=$(basename "$kdir")
hdr=/usr/src/linux-headers-$rel
if ! [ -f "$hdr/Makefile" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "klp-module: $hdr missing; as root: apt-get install linux-headers-$rel" >&2
		exit 1
	fi
	meta=linux-headers-$flavor
	apt-cache show "$meta" >/dev/null 2>&1 || apt-get update -q >/dev/null
	pkg=$(apt-cache depends "$meta" 2>/dev/null |
		awk '/Depends: linux-headers-[0-9]/ { print $2; exit }')
	if [ -z "$pkg" ]; then
		echo "klp-module: cannot resolve the headers package behind $meta" >&2
		exit 1
	fi
	if [ "$pkg" != "linux-headers-$rel" ]; then
		echo "klp-module: $meta now means $pkg, but the kernel in $kdir is $rel" \
			"(fetch it again: rm -rf $kdir)" >&2
		exit 1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$pkg" >/dev/null
fi
mkdir -p "$out"
cp tests/klp/Kbuild tests/klp/*.c "$out/"
make -s -C "$hdr" M="$(cd "$out" && pwd)" modules >"$out/build.log" 2>&1 || {
	cat "$out/build.log" >&2
	echo "klp-module: building the test modules against $hdr failed" >&2
	exit 1
}
for m in gp_klp_cmdline gp_test_sleeper gp_test_warn; do
	strings "$out/$m.ko" | grep -q "^vermagic=$rel " || {
		echo "klp-module: $out/$m.ko is not built for $rel" >&2
		exit 1
	}
done

#!/bin/sh
# klp-module.sh KERNELDIR OUTDIR
#
# Build tests/klp/ (a livepatch module for the guest kernel's own
# livepatch: the yardstick guestpatch is compared with; and a module with
# a kthread sleeping in module code, for module stacks) against Debian's
# linux-headers package for the kernel in KERNELDIR (its `release` file,
# written by fetch-kernel.sh). Installs the headers with apt-get when they
# are missing (the build needs linux-kbuild's tools in place).
set -eu
kdir=$1
out=$2
rel=$(cat "$kdir/release")
hdr=/usr/src/linux-headers-$rel
if ! [ -f "$hdr/Makefile" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "klp-module: $hdr missing; as root: apt-get install linux-headers-$rel" >&2
		exit 1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "linux-headers-$rel" >/dev/null
fi
mkdir -p "$out"
cp tests/klp/Kbuild tests/klp/*.c "$out/"
make -s -C "$hdr" M="$(cd "$out" && pwd)" modules >"$out/build.log" 2>&1 || {
	cat "$out/build.log" >&2
	echo "klp-module: building the livepatch module against $hdr failed" >&2
	exit 1
}
test -f "$out/gp_klp_cmdline.ko" && test -f "$out/gp_test_sleeper.ko"

#!/bin/sh
# fetch-kernel.sh FLAVOR OUTDIR
#
# Download the Debian kernel that the meta package linux-image-FLAVOR currently
# depends on, and unpack it into OUTDIR/FLAVOR/. Prints the unpacked directory.
# No ABI number is hard-coded: the meta package's dependency names it.
# FLAVOR: amd64 (default), cloud-amd64, rt-amd64, 6.12-amd64, 6.12-cloud-amd64,
# 6.12-rt-amd64: linux-image-FLAVOR is the meta package.
set -eu
flavor=${1:-amd64}
out=${2:-build/kernels}
meta=linux-image-$flavor
dir=$out/$flavor
if [ -f "$dir/.done" ]; then
	echo "$dir"
	exit 0
fi
if ! apt-cache show "$meta" >/dev/null 2>&1; then
	apt-get update -q >/dev/null
fi
pkg=$(apt-cache depends "$meta" | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
if [ -z "$pkg" ]; then
	echo "fetch-kernel: cannot resolve the kernel package behind $meta" >&2
	exit 1
fi
rm -rf "$dir"
mkdir -p "$dir/pkg"
(cd "$dir/pkg" && apt-get download "$pkg" >/dev/null 2>&1) || {
	echo "fetch-kernel: apt-get download $pkg failed" >&2
	exit 1
}
dpkg -x "$dir"/pkg/*.deb "$dir/root"
rel=$(ls "$dir/root/lib/modules" | head -n 1)
ln -sf "root/boot/vmlinuz-$rel" "$dir/vmlinuz"
echo "$rel" >"$dir/release"
echo "$pkg" >"$dir/package"
rm -rf "$dir/pkg"
touch "$dir/.done"
echo "$dir"

#!/bin/sh
# mknested.sh OUT.cpio.gz BASE.cpio.gz KERNEL_DIR VMM [FILE...]
#
# The outer guest's initramfs for the nested-KVM rig: the base busybox
# initramfs (mkinitramfs.sh) followed by a second archive (the kernel
# unpacks concatenated archives in order) holding, under /nested:
#   irqbypass.ko ccp.ko kvm.ko kvm-amd.ko   from KERNEL_DIR (the unpacked
#                                           linux-image package; same build
#                                           as the outer kernel)
#   vmm                                     our binary, with every library
#                                           ldd lists at its own path
#   FILE...                                 the inner kernel, its initramfs,
#                                           patch objects
set -eu
out=$1 base=$2 kdir=$3 vmm=$4
shift 4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/nested"
for m in virt/lib/irqbypass.ko drivers/crypto/ccp/ccp.ko arch/x86/kvm/kvm.ko arch/x86/kvm/kvm-amd.ko; do
	f=$(find "$kdir"/root/lib/modules/*/kernel -path "*/$m" | head -n 1)
	if [ -z "$f" ]; then
		echo "mknested: module $m not in $kdir" >&2
		exit 1
	fi
	cp "$f" "$tmp/nested/"
done
cp "$vmm" "$tmp/nested/vmm"
for lib in $(ldd "$vmm" | awk '/=> \// { print $3 } /^\t\/lib/ { print $1 }'); do
	mkdir -p "$tmp$(dirname "$lib")"
	cp -L "$lib" "$tmp$lib"
done
for f in "$@"; do
	cp -L "$f" "$tmp/nested/"
done
(cd "$tmp" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$out.tmp"
cat "$base" "$out.tmp" >"$out"
rm -f "$out.tmp"

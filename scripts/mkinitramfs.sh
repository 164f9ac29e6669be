#!/bin/sh
# mkinitramfs.sh OUT.cpio.gz [EXTRA_FILE...]
#
# A busybox initramfs for test and demo guests. /init mounts proc, sys and
# devtmpfs, turns off echo on the console (the rig types commands into it) and
# runs a root shell on ttyS0. Extra files (static test helpers) land in /bin.
set -eu
out=$1
shift
bb=$(command -v busybox || true)
[ -n "$bb" ] && file -L "$bb" 2>/dev/null | grep -q 'statically linked' || bb=/bin/busybox
if ! [ -x "$bb" ]; then
	echo "mkinitramfs: busybox not found (apt-get install busybox-static)" >&2
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin" "$tmp/sbin" "$tmp/proc" "$tmp/sys" "$tmp/dev" "$tmp/tmp" "$tmp/root" "$tmp/etc"
cp "$bb" "$tmp/bin/busybox"
for app in $("$bb" --list); do
	[ -e "$tmp/bin/$app" ] || ln -s busybox "$tmp/bin/$app"
done
for f in "$@"; do
	cp "$f" "$tmp/bin/"
done
cat >"$tmp/init" <<'INIT'
#!/bin/sh
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
echo 1 >/proc/sys/kernel/printk_devkmsg 2>/dev/null
echo 0 >/proc/sys/kernel/kptr_restrict
# Quiet console: kernel messages stay in dmesg, not in the command stream.
echo 1 >/proc/sys/kernel/printk
hostname guest
echo "guestpatch guest up"
while :; do
	setsid cttyhack sh -c 'stty -echo -onlcr 2>/dev/null; exec sh'
done
INIT
chmod +x "$tmp/init"
(cd "$tmp" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$out.tmp"
mv "$out.tmp" "$out"

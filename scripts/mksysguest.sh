#!/bin/sh
# mksysguest.sh OUTDIR [KERNEL-PACKAGE]
#
# A Debian 12 *system* guest for the libvirt tests (tests/rig/lvrig.h): a
# root file system built by mmdebstrap from Debian's own packages (systemd
# as PID 1, udev, journald, the kernel package's initramfs), on its own
# disk. What lands in OUTDIR:
#
#   disk.raw            ext4, 2 GiB sparse, the root file system (/dev/vda)
#   vmlinuz, initrd.img the image's /boot/vmlinuz-REL and initrd.img-REL
#                       (copied under those names too), for direct kernel boot
#   config-REL          the kernel's config
#   release             REL, the kernel release (`uname -r` in the guest)
#   package             the kernel package that was installed
#
# KERNEL-PACKAGE defaults to linux-image-amd64 (any linux-image-* that
# bookworm, bookworm-updates or bookworm-security has: linux-image-6.12-amd64,
# linux-image-cloud-amd64, ...). Cached: with OUTDIR/.done present for the
# same KERNEL-PACKAGE and the same version of this script, this does nothing
# (OUTDIR/.key says which); otherwise OUTDIR is built afresh.
# GP_DEBIAN_MIRROR overrides the mirror (default http://deb.debian.org).
#
# The image is made for being driven over its serial console by a program:
#  * root has no password, and serial-getty@ttyS0 logs root in by itself;
#  * root's login shell on ttyS0 turns off echo and line editing, sets an
#    empty prompt, sets the console log level to 1 and prints
#    "guestpatch sysguest up" (the rig waits for that line, after each boot);
#  * kernel.printk=1 from early boot (sysctl.d), systemd's status output
#    off, so the console carries only what the shell prints;
#  * kernel.kptr_restrict=0 (tests compare /proc/kallsyms with vmm sym);
#  * no network, no first-boot prompts (systemd-firstboot masked).
#
# Takes about 1 to 3 minutes (downloading and unpacking 122 packages; see
# README); needs root (mmdebstrap's root mode) and the Debian mirror.
set -eu
out=${1:?usage: mksysguest.sh OUTDIR [KERNEL-PACKAGE]}
kpkg=${2:-linux-image-amd64}
mirror=${GP_DEBIAN_MIRROR:-http://deb.debian.org}

# What the image is made of: the kernel package asked for and this script.
key="$kpkg $(sha256sum <"$0" | cut -d' ' -f1)"
if [ -f "$out/.done" ] && [ "$(cat "$out/.key" 2>/dev/null)" = "$key" ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "mksysguest: run as root (mmdebstrap builds the root file system in root mode)" >&2
	exit 1
fi
for t in mmdebstrap mkfs.ext4; do
	command -v "$t" >/dev/null || {
		echo "mksysguest: $t not found (scripts/deps.sh installs it)" >&2
		exit 1
	}
done

case $out in /|"") echo "mksysguest: refusing OUTDIR $out" >&2; exit 1 ;; esac
rm -rf "$out"
mkdir -p "$out"
# The root is built outside OUTDIR: mmdebstrap mounts /proc, /sys and /dev
# in it meanwhile, and the build tree is searched (the Makefile's *.d).
tmp=${TMPDIR:-/var/tmp}
root=$(mktemp -d "$tmp/gp-sysguest-root.XXXXXX")
pre=$(mktemp -d "$tmp/gp-sysguest-pre.XXXXXX")
trap 'rm -rf "$root" "$pre"' EXIT

# The initramfs holds only what mounting /dev/vda needs (MODULES=list and
# a hook naming the modules), not initramfs-tools' default "most": a
# fraction of the size, and under TCG its udev no longer loads a driver
# for every device before the real root's udev does it again. In place
# before the packages are installed, so the kernel package's own
# update-initramfs builds it that way.
mkdir -p "$pre/etc/initramfs-tools/conf.d" "$pre/etc/initramfs-tools/hooks"
echo MODULES=list >"$pre/etc/initramfs-tools/conf.d/guestpatch"
cat >"$pre/etc/initramfs-tools/hooks/guestpatch" <<'EOF'
#!/bin/sh
# guestpatch system guest: the root disk is virtio, ext4 (metadata_csum)
case $1 in prereqs) exit 0 ;; esac
. /usr/share/initramfs-tools/hook-functions
manual_add_modules virtio_pci virtio_blk ext4 crc32c_generic crc32c_intel
EOF
chmod 0755 "$pre/etc/initramfs-tools/hooks/guestpatch"

# The packages: a bootable systemd system and what tests look at in it.
include="systemd-sysv,udev,procps,kmod,initramfs-tools,$kpkg"
echo "mksysguest: mmdebstrap bookworm with $kpkg into $out (takes a few minutes)"
if ! mmdebstrap --variant=minbase --include="$include" --quiet \
	--setup-hook="sync-in $pre /" bookworm "$root" \
	"deb $mirror/debian bookworm main" \
	"deb $mirror/debian bookworm-updates main" \
	"deb $mirror/debian-security bookworm-security main" \
	</dev/null >"$out/mmdebstrap.log" 2>&1; then
	tail -n 30 "$out/mmdebstrap.log" >&2
	echo "mksysguest: mmdebstrap failed (whole log: $out/mmdebstrap.log)" >&2
	exit 1
fi

# Root without a password (a blank field: login does not ask).
sed -i 's/^root:[^:]*:/root::/' "$root/etc/shadow"
echo sysguest >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tsysguest\n' >"$root/etc/hosts"
echo '/dev/vda / ext4 rw,errors=remount-ro 0 1' >"$root/etc/fstab"
: >"$root/etc/motd"

# Serial console: root logged in at once (the unit's own ExecStart, with
# --autologin root instead of the login prompt's options).
d="$root/etc/systemd/system/serial-getty@ttyS0.service.d"
mkdir -p "$d"
cat >"$d/autologin.conf" <<'EOF'
[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin root --noclear --keep-baud 115200,57600,38400,9600 - $TERM
EOF

# Nothing but the shell on the console.
mkdir -p "$root/etc/systemd/system.conf.d"
printf '[Manager]\nShowStatus=no\n' >"$root/etc/systemd/system.conf.d/quiet.conf"
cat >"$root/etc/sysctl.d/90-guestpatch.conf" <<'EOF'
# guestpatch test guest: kernel messages stay in dmesg and the journal
kernel.printk = 1 4 1 7
kernel.printk_devkmsg = on
kernel.kptr_restrict = 0
EOF
# No first-boot prompts, no periodic jobs, no gettys on virtual consoles
# nobody sees (getty-static starts tty2-6 when there is no D-Bus).
for u in systemd-firstboot.service e2scrub_reap.service e2scrub_all.timer \
	apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer fstrim.timer \
	getty-static.service getty@tty1.service; do
	ln -sf /dev/null "$root/etc/systemd/system/$u"
done

# The login shell on ttyS0, made for a program: no echo (bash without line
# editing leaves echo to the tty), no prompt, no \r, and a line that says
# the shell is ready.
cat >"$root/root/.bash_profile" <<'EOF'
if [ "$(tty)" = /dev/ttyS0 ]; then
	stty -echo -onlcr
	set +o emacs +o vi
	PS1= PS2=
	dmesg -n 1
	echo "guestpatch sysguest up"
fi
EOF

rel=$(ls "$root/lib/modules" | head -n 1)
if [ -z "$rel" ] || ! [ -f "$root/boot/vmlinuz-$rel" ] || ! [ -f "$root/boot/initrd.img-$rel" ]; then
	echo "mksysguest: no kernel or initramfs in the image's /boot (release '$rel')" >&2
	exit 1
fi
cp "$root/boot/vmlinuz-$rel" "$root/boot/initrd.img-$rel" "$root/boot/config-$rel" "$out/"
ln -sf "vmlinuz-$rel" "$out/vmlinuz"
ln -sf "initrd.img-$rel" "$out/initrd.img"
echo "$rel" >"$out/release"
dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Package}\n' "linux-image-$rel" >"$out/package"

mkfs.ext4 -q -F -L sysguest -d "$root" "$out/disk.raw" 2G >/dev/null
echo "$key" >"$out/.key"
touch "$out/.done"
echo "mksysguest: $out: Debian 12 with $rel"

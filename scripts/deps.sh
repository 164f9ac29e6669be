#!/bin/sh
# deps.sh - install what guestpatch needs to build, test and demo, on Debian 12.
# Idempotent and quiet when everything is already there.
set -eu
pkgs="gcc make pkg-config check libelf-dev libbpf-dev libjson-c-dev zlib-dev
      qemu-system-x86 busybox-static cpio gzip xz-utils libc6-dev liblzma-dev
      clang llvm libzstd-dev liblz4-dev libbz2-dev zstd lz4 bzip2
      libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients libvirt-dev
      libxml2-dev mmdebstrap debian-archive-keyring qemu-utils e2fsprogs
      ansible-core"
missing=""
for p in $pkgs; do
	[ "$p" = zlib-dev ] && p=zlib1g-dev
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
# Quiet unless something fails (apt and debconf talk on stderr too).
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# shellcheck disable=SC2086
if ! { $SUDO apt-get update -q && $SUDO apt-get install -y -q --no-install-recommends $missing; } \
	>"$log" 2>&1; then
	tail -n 30 "$log" >&2
	echo "deps: apt-get failed" >&2
	exit 1
fi

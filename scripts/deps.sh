#!/bin/sh
# deps.sh - install what guestpatch needs to build, test and demo, on Debian 12.
# Idempotent and quiet when everything is already there.
set -eu
pkgs="gcc make pkg-config check libelf-dev libbpf-dev libjson-c-dev zlib-dev
      qemu-system-x86 busybox-static cpio gzip xz-utils libc6-dev liblzma-dev
      clang llvm libzstd-dev liblz4-dev libbz2-dev zstd lz4 bzip2"
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
$SUDO apt-get update -q >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null

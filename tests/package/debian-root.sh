#!/bin/sh
# debian-root.sh BUILD: a pristine minimal Debian 12 root as a tarball,
# BUILD/debian-root.tar, made once with debootstrap (its packages kept in
# BUILD/debian-root-cache, so that nothing is downloaded twice); the tests
# unpack a fresh copy each time they need one. On amd64 it is a multiarch
# host as the i386 packages meet it: the i386 architecture added, and both
# i386 C libraries, libc6:i386 (multiarch: /lib/ld-linux.so.2, $LIB is
# lib/i386-linux-gnu) and libc6-i386 (what gcc-multilib brings:
# /lib32/ld-linux.so.2, $LIB is lib32), from the root's own mirror.
set -eu
build=$1
tarball=$build/debian-root.tar
arch=$(dpkg --print-architecture)
if [ -s "$tarball" ]; then
	# One made before the i386 libraries were in it is made again.
	[ "$arch" != amd64 ] || tar -xOf "$tarball" ./var/lib/dpkg/arch 2>/dev/null | grep -qx i386 && exit 0
fi
root=$build/debian-root.new
rm -rf "$root"
mkdir -p "$build/debian-root-cache"
debootstrap --variant=minbase --cache-dir="$(cd "$build" && pwd)/debian-root-cache" \
	bookworm "$root" http://deb.debian.org/debian >"$build/debootstrap.log" 2>&1 ||
	{ tail -n 20 "$build/debootstrap.log" >&2; exit 1; }
if [ "$arch" = amd64 ]; then
	chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive sh -c '
		set -e
		dpkg --add-architecture i386
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends libc6:i386 libc6-i386
		apt-get clean
		rm -rf /var/lib/apt/lists/*' >>"$build/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$build/debootstrap.log" >&2; exit 1; }
fi
tar -C "$root" -cf "$tarball.new" .
mv "$tarball.new" "$tarball"
rm -rf "$root"

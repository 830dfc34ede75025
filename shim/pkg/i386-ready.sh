#!/bin/sh
# i386-ready.sh: whether this machine builds the i386 packages beside the
# amd64 ones (make deb); if not, says why on one line and fails. What they
# take: gcc -m32 (gcc-multilib: Debian 12's i686 cross compiler conflicts
# with it), the i686 binutils (debhelper strips an i386 build with them),
# and the multiarch libc6:i386 (for dpkg-shlibdeps: the i386 package
# depends on it). tests/deps.sh deb installs them, as root.
set -u
arch=$(dpkg --print-architecture 2>/dev/null || echo unknown)
if [ "$arch" != amd64 ]; then
	echo "32-bit packages are built on amd64, this is $arch" >&2
	exit 1
fi
missing=""
printf 'int main(void){return 0;}' | gcc -m32 -x c -o /dev/null - 2>/dev/null || missing="$missing gcc-multilib"
command -v i686-linux-gnu-strip >/dev/null 2>&1 || missing="$missing binutils-i686-linux-gnu"
dpkg-query -W -f='${Status}' libc6:i386 2>/dev/null | grep -q 'ok installed' || missing="$missing libc6:i386"
if [ -n "$missing" ]; then
	echo "no i386 build without$missing: run tests/deps.sh deb as root" >&2
	exit 1
fi

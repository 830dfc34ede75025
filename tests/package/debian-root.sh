#!/bin/sh
# debian-root.sh BUILD: a pristine minimal Debian 12 root as a tarball,
# BUILD/debian-root.tar, made once with debootstrap (its packages kept in
# BUILD/debian-root-cache, so that nothing is downloaded twice); the tests
# unpack a fresh copy each time they need one.
set -eu
build=$1
tarball=$build/debian-root.tar
[ -s "$tarball" ] && exit 0
root=$build/debian-root.new
rm -rf "$root"
mkdir -p "$build/debian-root-cache"
debootstrap --variant=minbase --cache-dir="$(cd "$build" && pwd)/debian-root-cache" \
	bookworm "$root" http://deb.debian.org/debian >"$build/debootstrap.log" 2>&1 ||
	{ tail -n 20 "$build/debootstrap.log" >&2; exit 1; }
tar -C "$root" -cf "$tarball.new" .
mv "$tarball.new" "$tarball"
rm -rf "$root"

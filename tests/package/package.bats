#!/usr/bin/env bats
# The Debian packages (issue 22, item 1; the 32-bit library, issue 20,
# item 4), run by `make test-package` after `make deb`: lintian accepts
# them; in a fresh Debian 12 root (debootstrap, in a private mount and
# network namespace) they install, guard 64-bit and i386 programs, upgrade
# over themselves and purge cleanly, the units installed and never enabled,
# and removing them takes the library out of that root's /etc/ld.so.preload
# first. On amd64 the root has the i386 architecture and both i386 C
# libraries (tests/package/debian-root.sh), as a multiarch host has.

bats_require_minimum_version 1.5.0

ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
BUILD="${NSC_BUILD:-$ROOT/build}"
VERSION=$(sed -n 's/^VERSION *:= *//p' "$ROOT/Makefile")
ARCH=$(dpkg --print-architecture)
PACKAGES=("$BUILD/libnoselfconn_${VERSION}_$ARCH.deb" "$BUILD/noselfconn_${VERSION}_$ARCH.deb")
# On amd64, the library for each i386 loader: libnoselfconn:i386 for the
# multiarch libc6:i386's ($LIB is lib/i386-linux-gnu), lib32noselfconn
# for libc6-i386's ($LIB is lib32).
I386_PACKAGES=()
if [ "$ARCH" = amd64 ]; then
	I386_PACKAGES=("$BUILD/libnoselfconn_${VERSION}_i386.deb" "$BUILD/lib32noselfconn_${VERSION}_amd64.deb")
fi
# Where self-connections come easily (as in_netns in tests/helpers.bash).
TARGET=50000

setup_file() {
	[ "$(id -u)" -eq 0 ] || skip "needs root: debootstrap and chroot"
	local package programs="$BATS_FILE_TMPDIR/programs"
	for package in "${PACKAGES[@]}" "${I386_PACKAGES[@]}"; do
		[ -f "$package" ] || {
			echo "no $package: make deb builds it (tests/deps.sh deb, as root, sets up i386)" >&2
			return 1
		}
	done
	"$BATS_TEST_DIRNAME/debian-root.sh" "$BUILD"
	# The dial helper for the root: 64-bit, and on amd64 an i386 program
	# for each loader (gcc -m32 names /lib/ld-linux.so.2, there libc6:i386's).
	mkdir -p "$programs"
	gcc -O2 -I"$ROOT/shim/common" -o "$programs/dial" "$ROOT/tests/helpers/dial.c" -lpthread
	if [ "$ARCH" = amd64 ]; then
		gcc -m32 -O2 -I"$ROOT/shim/common" -o "$programs/dial-i386" "$ROOT/tests/helpers/dial.c" -lpthread
		gcc -m32 -O2 -I"$ROOT/shim/common" -Wl,--dynamic-linker=/lib32/ld-linux.so.2 -o "$programs/dial-lib32" \
			"$ROOT/tests/helpers/dial.c" -lpthread
	fi
}

# in_root SCRIPT [ARG...]: SCRIPT (sh) chrooted into a fresh copy of the
# root, in a private mount namespace with /proc and a private network
# namespace (lo up, the ephemeral range narrowed around $TARGET, no
# TIME_WAIT), in /packages: the packages, the repacked ones and the dial
# programs. ARG... are $1...
in_root() {
	local script="$1" root="$BATS_TEST_TMPDIR/root"
	shift
	if [ ! -d "$root" ]; then
		mkdir "$root"
		tar -C "$root" -xf "$BUILD/debian-root.tar"
	fi
	mkdir -p "$root/packages"
	cp "${PACKAGES[@]}" "${I386_PACKAGES[@]}" "$BATS_FILE_TMPDIR"/programs/* "$root/packages/"
	cp "$BATS_TEST_TMPDIR"/*.deb "$root/packages/" 2>/dev/null || true
	run --separate-stderr env TARGET="$TARGET" unshare -m -n sh -c '
		root=$1 script=$2
		shift 2
		mount --make-rprivate /
		mount -t proc proc "$root/proc"
		ip link set lo up
		echo "$TARGET $((TARGET + 10))" > /proc/sys/net/ipv4/ip_local_port_range
		echo 0 > /proc/sys/net/ipv4/tcp_max_tw_buckets
		exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin TARGET="$TARGET" \
			sh -c "cd /packages && $script" "$@"' \
		- "$root" "$script" - "$@"
	echo "$output"
	echo "$stderr"
}

# count PROGRAM NAME: NAME=... from the line "PROGRAM: attempts=..." of $output.
count() {
	sed -n "s/^$1: .* $2=\([0-9]*\).*/\1/p" <<<"$output" | head -n 1
}

@test "lintian accepts every package: no error, no warning" {
	run lintian --fail-on error,warning "$BUILD"/*_"$VERSION"_*.deb
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$(grep -E '^(E|W):' <<<"$output")" ]
}

@test "the packages: the library in its private multiarch directory, the command, compressed man pages, stripped, Depends computed" {
	run dpkg-deb -c "${PACKAGES[0]}"
	grep -q " ./usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/noselfconn/libnoselfconn.so$" <<<"$output"
	run dpkg-deb -c "${PACKAGES[1]}"
	grep -q ' ./usr/bin/noselfconn$' <<<"$output"
	grep -q ' ./usr/share/man/man1/noselfconn.1.gz$' <<<"$output"
	grep -q ' ./usr/share/man/man7/libnoselfconn.7.gz$' <<<"$output"
	grep -q ' ./lib/systemd/system/noselfconn-audit.timer$' <<<"$output"
	grep -q ' ./usr/share/bash-completion/completions/noselfconn$' <<<"$output"
	local package libc
	for package in "${PACKAGES[@]}" "${I386_PACKAGES[@]}"; do
		libc="libc6 (>= "
		[[ "$package" != */lib32noselfconn_* ]] || libc="libc6-i386 (>= "
		run dpkg-deb -f "$package" Depends
		echo "$package: $output"
		[[ "$output" == *"$libc"* ]]
		dpkg-deb --ctrl-tarfile "$package" | tar -t | grep -qx './md5sums'
	done
	local dir="$BATS_TEST_TMPDIR/unpacked"
	for package in "${PACKAGES[@]}" "${I386_PACKAGES[@]}"; do
		dpkg-deb -x "$package" "$dir"
	done
	local binaries=("$dir/usr/bin/noselfconn" "$dir"/usr/lib/*/noselfconn/libnoselfconn.so)
	[ "$ARCH" != amd64 ] || binaries+=("$dir/usr/lib32/noselfconn/libnoselfconn.so")
	[ "${#binaries[@]}" -eq $((2 + ${#I386_PACKAGES[@]})) ]
	for binary in "${binaries[@]}"; do
		[ -z "$(readelf -S "$binary" | grep -E '\.debug_|\.symtab')" ]
	done
	# Built with dpkg-buildflags' flags (hardening=+all), the project's own kept.
	local flag compiles
	compiles=$(grep -- ' -c -o build/obj/lib/guard.o ' "$BUILD/deb/build.log")
	for flag in $(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get CFLAGS |
		tr ' ' '\n' | grep -v '^-ffile-prefix-map=') -fvisibility=hidden -fstack-protector-strong; do
		grep -qF -- " $flag " <<<"$compiles "
	done
	grep -- '-shared' "$BUILD/deb/build.log" | grep -qF -- '-Wl,-z,relro'
	# The man pages name what the package installs.
	zcat "$dir/usr/share/man/man7/libnoselfconn.7.gz" | grep -Fq '/usr/$LIB/noselfconn/libnoselfconn.so'
	[ -z "$(zcat "$dir/usr/share/man/man7/libnoselfconn.7.gz" "$dir/usr/share/man/man1/noselfconn.1.gz" | grep /usr/local)" ]
}

@test "the 32-bit packages: libnoselfconn:i386 in the i386 multiarch directory (Multi-Arch: same, libc6:i386), lib32noselfconn in lib32 (libc6-i386)" {
	[ "$ARCH" = amd64 ] || skip "the 32-bit packages are built on amd64"
	run dpkg-deb -f "${I386_PACKAGES[0]}" Package Architecture Multi-Arch
	[ "$output" = "$(printf 'Package: libnoselfconn\nArchitecture: i386\nMulti-Arch: same')" ]
	run dpkg-deb -f "${I386_PACKAGES[1]}" Package Architecture Multi-Arch
	[ "$output" = "$(printf 'Package: lib32noselfconn\nArchitecture: amd64')" ]
	local i386="$BATS_TEST_TMPDIR/i386" amd64="$BATS_TEST_TMPDIR/amd64" lib32="$BATS_TEST_TMPDIR/lib32"
	dpkg-deb -x "${I386_PACKAGES[0]}" "$i386"
	dpkg-deb -x "${PACKAGES[0]}" "$amd64"
	dpkg-deb -x "${I386_PACKAGES[1]}" "$lib32"
	run file -b "$i386/usr/lib/i386-linux-gnu/noselfconn/libnoselfconn.so" \
		"$lib32/usr/lib32/noselfconn/libnoselfconn.so"
	echo "$output"
	[ "$(grep -c '^ELF 32-bit LSB shared object, Intel 80386, .*, stripped$' <<<"$output")" -eq 2 ]
	# Multi-Arch: same: every file outside the triplet's directory is the
	# same in both architectures' packages, byte for byte.
	run diff -r "$i386/usr/share" "$amd64/usr/share"
	[ "$status" -eq 0 ]
	[ "$(cd "$i386" && find . -type f | grep -v '^./usr/share/' | grep -vc '^./usr/lib/i386-linux-gnu/noselfconn/')" -eq 0 ]
	# lib32noselfconn holds its library, and docs: no multiarch directory.
	[ "$(cd "$lib32" && find . -type f | grep -v '^./usr/share/doc/lib32noselfconn/')" = ./usr/lib32/noselfconn/libnoselfconn.so ]
	# The same hooks, and nothing else, leave both.
	local lib
	for lib in "$i386/usr/lib/i386-linux-gnu/noselfconn/libnoselfconn.so" "$lib32/usr/lib32/noselfconn/libnoselfconn.so"; do
		run nm -D --defined-only "$lib"
		[ "$(awk '{print $3}' <<<"$output" | sort | tr '\n' ' ')" = "chroot connect sendmmsg sendmsg sendto setns unshare " ]
	done
}

@test "in a fresh Debian root: installs, guards 64-bit and i386 programs, upgrades over itself, purges cleanly; units never enabled" {
	local next="$VERSION+1" package dir name
	# A newer build of the same packages, for the upgrade.
	for package in "${PACKAGES[@]}" "${I386_PACKAGES[@]}"; do
		dir="$BATS_TEST_TMPDIR/repack"
		rm -rf "$dir"
		dpkg-deb -R "$package" "$dir"
		sed -i "s/^Version: .*/Version: $next/; s/(= $VERSION)/(= $next)/" "$dir/DEBIAN/control"
		name=$(basename "$package")
		dpkg-deb -b --root-owner-group "$dir" "$BATS_TEST_TMPDIR/next_${name#*_*_}" >/dev/null
		mv "$BATS_TEST_TMPDIR/next_${name#*_*_}" "$BATS_TEST_TMPDIR/${name%%_*}_next_${name##*_}"
	done
	# What to run, install and purge: "dial dial-i386...", "FILE.deb...", "NAME:ARCH...".
	local programs="dial" files="" names=""
	[ "$ARCH" != amd64 ] || programs="dial dial-i386 dial-lib32"
	for package in "${PACKAGES[@]}" "${I386_PACKAGES[@]}"; do
		name=$(basename "$package" .deb)
		files="$files $name.deb"
		names="$names ${name%%_*}:${name##*_}"
	done
	in_root '
		set -e
		find / -xdev -path /proc -prune -o -path /packages -prune -o -path /var/lib/dpkg -prune \
			-o -path /var/log -prune -o -path /var/cache -prune -o -print | sort > /before
		# The control: without the library, each program self-connects.
		for program in $1; do echo "$program control: $(./$program -n 300 127.0.0.1 $TARGET)"; done
		dpkg -i $2
		noselfconn --version
		[ ! -e /etc/ld.so.preload ] && echo "no ld.so.preload yet"
		ls /etc/systemd/system/*.wants/noselfconn* 2>/dev/null || echo "no unit enabled"
		noselfconn --enable-host
		grep -q "noselfconn/libnoselfconn.so" /proc/self/maps && echo "a new process loads it"
		for program in $1; do
			echo "$program guarded: $(NOSELFCONN_LOG=1 ./$program -n 300 127.0.0.1 $TARGET)"
		done
		dpkg -i ./*_next_*.deb
		dpkg-query -W -f="\${Version}\n" noselfconn
		grep -q "noselfconn/libnoselfconn.so" /proc/self/maps && echo "still, after the upgrade"
		for program in $1; do echo "$program upgraded: $(./$program -n 300 127.0.0.1 $TARGET)"; done
		dpkg -i ./*_next_*.deb
		cat /etc/ld.so.preload
		dpkg --purge $3
		[ ! -e /etc/ld.so.preload ] && echo "ld.so.preload gone"
		/bin/true
		for program in $1; do ./$program -n 1 127.0.0.2 1 >/dev/null; done
		find / -xdev -path /proc -prune -o -path /packages -prune -o -path /var/lib/dpkg -prune \
			-o -path /var/log -prune -o -path /var/cache -prune -o -print | sort > /after
		diff /before /after | grep "^[<>]" | grep -v " /\(before\|after\)$" || echo "nothing left"' \
		"$programs" "$files" "$names"
	[ "$status" -eq 0 ]
	grep -qx "noselfconn $VERSION" <<<"$output"
	grep -qx "no ld.so.preload yet" <<<"$output"
	grep -qx "no unit enabled" <<<"$output"
	grep -qx "a new process loads it" <<<"$output"
	grep -qx "$next" <<<"$output"
	grep -qx "still, after the upgrade" <<<"$output"
	grep -qx '/usr/$LIB/noselfconn/libnoselfconn.so' <<<"$output"
	grep -qx "ld.so.preload gone" <<<"$output"
	grep -qx "nothing left" <<<"$output"
	# Each program self-connected without it, never with it (before and
	# after the upgrade), and the library in each says what it prevented.
	local program
	for program in $programs; do
		echo "# $program: $(count "$program control" self) self-connections of 300 without," \
			"$(count "$program guarded" self) with ($(grep -c "prevented a self-connection: $program\[" <<<"$stderr") prevented)" >&3
		[ "$(count "$program control" self)" -ge 1 ]
		[ "$(count "$program guarded" self)" -eq 0 ]
		[ "$(count "$program guarded" refused)" -eq 300 ]
		[ "$(count "$program upgraded" self)" -eq 0 ]
		[ "$(grep -c "prevented a self-connection: $program\[" <<<"$stderr")" -ge 1 ]
	done
	# No process ever complained of a library it could not load.
	[ -z "$(grep '^ERROR: ld.so' <<<"$stderr")" ]
	[[ "$stderr" == *"noselfconn: took /usr/\$LIB/noselfconn/libnoselfconn.so out of /etc/ld.so.preload"* ]]
}

@test "in a fresh Debian root with i386: each i386 loader needs its package; --enable-host refuses until both are in, and removing one takes the line out" {
	[ "$ARCH" = amd64 ] || skip "the 32-bit packages are built on amd64"
	in_root '
		dpkg -i libnoselfconn_'"$VERSION"'_amd64.deb noselfconn_'"$VERSION"'_amd64.deb >/dev/null
		noselfconn --enable-host; echo "64-bit only: $?"
		dpkg -i libnoselfconn_'"$VERSION"'_i386.deb >/dev/null
		noselfconn --enable-host 2>&1 | sed "s/^/with i386: /"
		dpkg -i lib32noselfconn_'"$VERSION"'_amd64.deb >/dev/null
		noselfconn --enable-host; echo "with lib32: $?"
		for program in dial-i386 dial-lib32; do echo "$program: $(./$program -n 300 127.0.0.1 $TARGET)"; done
		dpkg -r libnoselfconn:i386 >/dev/null
		[ ! -e /etc/ld.so.preload ] && echo "i386 removed: ld.so.preload gone"
		./dial-i386 -n 1 127.0.0.2 1 >/dev/null; ./dial-lib32 -n 1 127.0.0.2 1 >/dev/null
		noselfconn --enable-host; echo "again: $?"'
	[ "$status" -eq 0 ]
	# The 64-bit library alone: every i386 program would print an error.
	grep -qx "64-bit only: 125" <<<"$output"
	[[ "$stderr" == *"i386 (/lib/ld-linux.so.2) cannot load it"* ]]
	[[ "$stderr" == *"i386 (/lib32/ld-linux.so.2) cannot load it"* ]]
	# libnoselfconn:i386 serves the multiarch loader, not libc6-i386's.
	grep -q '^with i386: .*i386 (/lib/ld-linux.so.2) loads /usr/lib/i386-linux-gnu/noselfconn/libnoselfconn.so$' <<<"$output"
	grep -q '^with i386: .*i386 (/lib32/ld-linux.so.2) cannot load it' <<<"$output"
	grep -q '^with i386: .*/etc/ld.so.preload not changed' <<<"$output"
	# Both: it loads everywhere, each i386 program guarded.
	grep -qx "with lib32: 0" <<<"$output"
	[ "$(count dial-i386 self)" -eq 0 ]
	[ "$(count dial-i386 refused)" -eq 300 ]
	[ "$(count dial-lib32 self)" -eq 0 ]
	[ "$(count dial-lib32 refused)" -eq 300 ]
	# One architecture's library removed: the line goes first, so no
	# program prints an error; --enable-host refuses until it is back.
	grep -qx "i386 removed: ld.so.preload gone" <<<"$output"
	[[ "$stderr" == *"libnoselfconn: took /usr/\$LIB/noselfconn/libnoselfconn.so out of /etc/ld.so.preload"* ]]
	[ -z "$(grep '^ERROR: ld.so' <<<"$stderr")" ]
	grep -qx "again: 125" <<<"$output"
}

@test "in a fresh Debian root: the control, a library removed by hand while named there breaks every program" {
	in_root '
		dpkg -i ./*_'"$VERSION"'_*.deb >/dev/null
		noselfconn --enable-host 2>/dev/null
		rm /usr/lib/*/noselfconn/libnoselfconn.so
		/bin/true'
	[[ "$stderr" == *"ERROR: ld.so: object '/usr/\$LIB/noselfconn/libnoselfconn.so' from /etc/ld.so.preload cannot be preloaded"* ]]
}

@test "make deb where gcc -m32 cannot build: the native packages only, said in one line, lintian clean" {
	local fake="$BATS_TEST_TMPDIR/bin" build="$BATS_TEST_TMPDIR/build"
	mkdir -p "$fake"
	# A gcc without multilib: what a machine without gcc-multilib has.
	printf '#!/bin/sh\nfor a; do [ "$a" = -m32 ] && { echo "gcc: no -m32 here" >&2; exit 1; }; done\nexec /usr/bin/gcc "$@"\n' \
		> "$fake/gcc"
	chmod 755 "$fake/gcc"
	run env PATH="$fake:$PATH" make -C "$ROOT" --no-print-directory deb BUILD="$build"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^noselfconn: ' <<<"$output")" -eq 1 ]
	grep -qx "noselfconn: building $ARCH packages only: .*" <<<"$output"
	run ls "$build"
	[ "$(grep '\.deb$' <<<"$output" | grep -v dbgsym)" = "$(printf '%s\n' "libnoselfconn_${VERSION}_$ARCH.deb" "noselfconn_${VERSION}_$ARCH.deb")" ]
	[ -z "$(grep -- '-m32' "$build/deb/build.log")" ]
	run lintian --fail-on error,warning "$build"/*.deb
	[ "$status" -eq 0 ]
}

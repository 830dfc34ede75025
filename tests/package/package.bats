#!/usr/bin/env bats
# The Debian packages (issue 22, item 1), run by `make test-package` after
# `make deb`: lintian accepts them; in a fresh Debian 12 root (debootstrap,
# in a private mount namespace) they install, upgrade over themselves and
# purge cleanly, the units installed and never enabled, and removing them
# takes the library out of that root's /etc/ld.so.preload first.

bats_require_minimum_version 1.5.0

ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
BUILD="${NSC_BUILD:-$ROOT/build}"
VERSION=$(sed -n 's/^VERSION *:= *//p' "$ROOT/Makefile")
ARCH=$(dpkg --print-architecture)
PACKAGES=("$BUILD/libnoselfconn_${VERSION}_$ARCH.deb" "$BUILD/noselfconn_${VERSION}_$ARCH.deb")

setup_file() {
	[ "$(id -u)" -eq 0 ] || skip "needs root: debootstrap and chroot"
	"$BATS_TEST_DIRNAME/debian-root.sh" "$BUILD"
}

# in_root SCRIPT [ARG...]: SCRIPT (sh) chrooted into a fresh copy of the
# root, in a private mount namespace with /proc; $1... are the packages'
# paths inside it, then ARG...
in_root() {
	local script="$1" root="$BATS_TEST_TMPDIR/root"
	shift
	if [ ! -d "$root" ]; then
		mkdir "$root"
		tar -C "$root" -xf "$BUILD/debian-root.tar"
	fi
	mkdir -p "$root/packages"
	cp "${PACKAGES[@]}" "$BATS_TEST_TMPDIR"/*.deb "$root/packages/" 2>/dev/null || true
	run --separate-stderr unshare -m sh -c '
		root=$1
		shift
		mount --make-rprivate /
		mount -t proc proc "$root/proc"
		exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin sh -c "$@"' \
		- "$root" "$script" - "$@"
	echo "$output"
	echo "$stderr"
}

@test "lintian accepts every package: no error, no warning" {
	run lintian --fail-on error,warning "${PACKAGES[@]}" "$BUILD"/*-dbgsym_"${VERSION}_$ARCH".deb
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
	local package
	for package in "${PACKAGES[@]}"; do
		run dpkg-deb -f "$package" Depends
		[[ "$output" == *"libc6 (>= "* ]]
		dpkg-deb --ctrl-tarfile "$package" | tar -t | grep -qx './md5sums'
	done
	local dir="$BATS_TEST_TMPDIR/unpacked"
	dpkg-deb -x "${PACKAGES[0]}" "$dir"
	dpkg-deb -x "${PACKAGES[1]}" "$dir"
	for binary in "$dir/usr/bin/noselfconn" "$dir"/usr/lib/*/noselfconn/libnoselfconn.so; do
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

@test "in a fresh Debian root: installs, guards, upgrades over itself, purges cleanly; units never enabled" {
	local next="$VERSION+1"
	# A newer build of the same packages, for the upgrade.
	local package dir
	for package in "${PACKAGES[@]}"; do
		dir="$BATS_TEST_TMPDIR/repack"
		rm -rf "$dir"
		dpkg-deb -R "$package" "$dir"
		sed -i "s/^Version: .*/Version: $next/; s/(= $VERSION)/(= $next)/" "$dir/DEBIAN/control"
		dpkg-deb -b --root-owner-group "$dir" "$BATS_TEST_TMPDIR/$(basename "${package%%_*}")_next.deb" >/dev/null
	done
	in_root '
		set -e
		find / -xdev -path /proc -prune -o -path /packages -prune -o -path /var/lib/dpkg -prune \
			-o -path /var/log -prune -o -path /var/cache -prune -o -print | sort > /before
		dpkg -i /packages/libnoselfconn_'"$VERSION"'_*.deb /packages/noselfconn_'"$VERSION"'_*.deb
		noselfconn --version
		[ ! -e /etc/ld.so.preload ] && echo "no ld.so.preload yet"
		ls /etc/systemd/system/*.wants/noselfconn* 2>/dev/null || echo "no unit enabled"
		noselfconn --enable-host
		grep -q "noselfconn/libnoselfconn.so" /proc/self/maps && echo "a new process loads it"
		dpkg -i /packages/libnoselfconn_next.deb /packages/noselfconn_next.deb
		dpkg-query -W -f="\${Version}\n" noselfconn
		grep -q "noselfconn/libnoselfconn.so" /proc/self/maps && echo "still, after the upgrade"
		dpkg -i /packages/libnoselfconn_next.deb /packages/noselfconn_next.deb
		cat /etc/ld.so.preload
		dpkg --purge noselfconn libnoselfconn
		[ ! -e /etc/ld.so.preload ] && echo "ld.so.preload gone"
		/bin/true
		find / -xdev -path /proc -prune -o -path /packages -prune -o -path /var/lib/dpkg -prune \
			-o -path /var/log -prune -o -path /var/cache -prune -o -print | sort > /after
		diff /before /after | grep "^[<>]" | grep -v " /\(before\|after\)$" || echo "nothing left"'
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
	# No process ever complained of a library it could not load.
	[ -z "$(grep 'ERROR: ld.so' <<<"$stderr")" ]
	[[ "$stderr" == *"libnoselfconn: took /usr/\$LIB/noselfconn/libnoselfconn.so out of /etc/ld.so.preload"* ]]
}

@test "in a fresh Debian root: the control, a library removed by hand while named there breaks every program" {
	in_root '
		dpkg -i /packages/libnoselfconn_'"$VERSION"'_*.deb /packages/noselfconn_'"$VERSION"'_*.deb >/dev/null
		noselfconn --enable-host 2>/dev/null
		rm /usr/lib/*/noselfconn/libnoselfconn.so
		/bin/true'
	[[ "$stderr" == *"ERROR: ld.so: object '/usr/\$LIB/noselfconn/libnoselfconn.so' from /etc/ld.so.preload cannot be preloaded"* ]]
}

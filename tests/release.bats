#!/usr/bin/env bats
# Releases (issue 22, items 3 and 6): make dist's tarball builds and passes
# make check on its own, as an unprivileged user, with no namespace, no
# root and no apt (what a package build runs); the version is said once.

load helpers

@test "the version: one in the Makefile, the same in --version, NEWS.md and the man pages" {
	local version
	version=$(sed -n 's/^VERSION *:= *//p' "$ROOT/Makefile")
	[ "$("$WRAPPER" --version)" = "noselfconn $version" ]
	[ "$(grep -m1 '^## ' "$ROOT/NEWS.md")" = "## $version" ]
	grep -q "\"noselfconn $version\"" "$BUILD/doc/noselfconn.1"
}

# It builds a plain tree of its own: nothing for the sanitizers or coverage.
# bats test_tags=no-sanitizer,no-coverage
@test "make dist: the tarball builds and passes make check on its own, unprivileged, without namespaces or apt" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to run make check as another user"
	[ -e "$ROOT/.git" ] || skip "make dist needs a git checkout"
	local version dir="$BATS_TEST_TMPDIR/dist"
	version=$(sed -n 's/^VERSION *:= *//p' "$ROOT/Makefile")
	run make -C "$ROOT" -s dist BUILD="$BATS_TEST_TMPDIR/build"
	[ "$status" -eq 0 ]
	local tarball="$BATS_TEST_TMPDIR/build/noselfconn-$version.tar.gz"
	[ "$(tail -n 1 <<<"$output")" = "$tarball" ]
	# What git tracks, under one directory; the same bytes a second time.
	[ "$(tar -tzf "$tarball" | grep -vc "^noselfconn-$version/")" -eq 0 ]
	[ "$(tar -tzf "$tarball" | grep -c "^noselfconn-$version/Makefile$")" -eq 1 ]
	cp "$tarball" "$BATS_TEST_TMPDIR/first.tar.gz"
	make -C "$ROOT" -s dist BUILD="$BATS_TEST_TMPDIR/build" >/dev/null
	cmp "$tarball" "$BATS_TEST_TMPDIR/first.tar.gz"

	# Unpacked where an unprivileged user owns it; the tools make check
	# must not use are traps that say so.
	mkdir -p "$dir/traps"
	tar -C "$dir" -xzf "$tarball"
	local tool
	for tool in apt-get apt dpkg sudo unshare nsenter ip bats setpriv; do
		printf '#!/bin/sh\necho "make check ran %s" >> %s/used\nexit 1\n' "$tool" "$dir" > "$dir/traps/$tool"
		chmod 755 "$dir/traps/$tool"
	done
	chmod 755 "$dir"
	chown -R 65534:65534 "$dir"
	local up=$BATS_TEST_TMPDIR
	while [ "$up" != /tmp ] && [ "$up" != / ]; do chmod a+x "$up"; up=$(dirname "$up"); done
	run setpriv --reuid=65534 --regid=65534 --clear-groups \
		env -i PATH="$dir/traps:/usr/bin:/bin" HOME="$dir" \
		make -C "$dir/noselfconn-$version" check
	echo "$output"
	[ "$status" -eq 0 ]
	[ ! -e "$dir/used" ] || { cat "$dir/used"; false; }
	# The unit tests ran, and passed.
	[ "$(grep -c ' 0 failed' <<<"$output")" -eq "$(ls "$ROOT"/tests/unit/unit_*.c | wc -l)" ]
	[ -x "$dir/noselfconn-$version/build/noselfconn" ]
	[ -f "$dir/noselfconn-$version/build/libnoselfconn.so" ]
}

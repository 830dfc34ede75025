#!/usr/bin/env bats
# The build: flags honoured, no warnings, hardened, installable.

load helpers

# fresh_build [MAKE ARGS...]: build into a private directory, output in $output.
fresh_build() {
	run make -C "$ROOT" -B BUILD="$BATS_TEST_TMPDIR/build" all "$@"
}

@test "no warnings with -Wall -Wextra, with gcc and with clang" {
	for cc in gcc clang; do
		fresh_build CC=$cc CFLAGS="-O2 -Werror"
		echo "$output"
		[ "$status" -eq 0 ]
		[ -z "$(grep -i warning <<<"$output")" ]
	done
}

@test "CFLAGS and LDFLAGS are honoured, the project's own flags kept" {
	run make -C "$ROOT" -n -B CFLAGS="-O1 -DUSER_MARK" LDFLAGS="-Wl,--user-mark"
	grep -- '-shared' <<<"$output" | grep -q -- '-DUSER_MARK'
	grep -- '-shared' <<<"$output" | grep -q -- '-Wl,--user-mark'
	grep -- '-shared' <<<"$output" | grep -q -- '-fvisibility=hidden'
	grep -- '-shared' <<<"$output" | grep -q -- '-Wall -Wextra'
}

@test "hardened: full RELRO, BIND_NOW, non-executable stack" {
	run readelf -W -d -l "$LIB"
	grep -q 'GNU_RELRO' <<<"$output"
	grep -Eq 'FLAGS.*BIND_NOW|FLAGS_1.*NOW' <<<"$output"
	grep 'GNU_STACK' <<<"$output" | grep -q ' RW '
}

@test "install and uninstall honour PREFIX and DESTDIR" {
	local dest="$BATS_TEST_TMPDIR/dest"
	run make -C "$ROOT" install DESTDIR="$dest" PREFIX=/opt/nsc
	[ "$status" -eq 0 ]
	[ -x "$dest/opt/nsc/bin/noselfconn" ]
	[ -f "$dest/opt/nsc/lib/libnoselfconn.so" ]
	run make -C "$ROOT" uninstall DESTDIR="$dest" PREFIX=/opt/nsc
	[ ! -e "$dest/opt/nsc/bin/noselfconn" ]
	[ ! -e "$dest/opt/nsc/lib/libnoselfconn.so" ]
}

@test "the default PREFIX is /usr/local" {
	run make -C "$ROOT" -n install DESTDIR=/stage
	grep -q '/stage/usr/local/lib/libnoselfconn.so' <<<"$output"
	grep -q '/stage/usr/local/bin/noselfconn' <<<"$output"
}

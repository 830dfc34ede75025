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

@test "CPPFLAGS, CFLAGS and LDFLAGS are honoured, the project's own flags kept" {
	run make -C "$ROOT" -n -B BUILD="$BATS_TEST_TMPDIR/build" CPPFLAGS="-DUSER_CPP" \
		CFLAGS="-O1 -DUSER_MARK" LDFLAGS="-Wl,--user-mark" all
	local compiles
	compiles=$(grep -- ' -c -o .*shim/lib/guard.c' <<<"$output")
	for flag in -DUSER_CPP -DUSER_MARK -fvisibility=hidden '-Wall -Wextra' -fstack-protector-strong \
		-D_FORTIFY_SOURCE=2 -fcf-protection; do
		grep -q -- "$flag" <<<"$compiles"
	done
	grep -- '-shared' <<<"$output" | grep -q -- '-Wl,--user-mark'
	# A _FORTIFY_SOURCE of the user's (dpkg-buildflags) is kept, not redefined.
	run make -C "$ROOT" -n -B BUILD="$BATS_TEST_TMPDIR/build" CPPFLAGS="-D_FORTIFY_SOURCE=3" all
	grep -- ' -c -o .*shim/lib/guard.c' <<<"$output" | grep -q -- '-D_FORTIFY_SOURCE=3'
	! grep -q -- '-D_FORTIFY_SOURCE=2' <<<"$output"
}

@test "hardened: full RELRO, BIND_NOW, non-executable stack, no read-only data mapped executable" {
	for binary in "$LIB" "$WRAPPER" "$BUILD/lib32/noselfconn/libnoselfconn.so"; do
		run readelf -W -d -l "$binary"
		grep -q 'GNU_RELRO' <<<"$output"
		grep -Eq 'FLAGS.*BIND_NOW|FLAGS_1.*NOW' <<<"$output"
		grep 'GNU_STACK' <<<"$output" | grep -q ' RW '
		# Code alone is executable: .rodata sits in a segment of its own.
		[ "$(readelf -W -l "$binary" | "$ROOT/tests/helpers/segments.awk")" = "rodata not executable" ]
	done
	# Stack protector and _FORTIFY_SOURCE left their marks.
	nm -uD "$LIB" | grep -q __stack_chk_fail
}

# What the shipped build imports (a sanitized one imports the sanitizers).
# bats test_tags=no-sanitizer,no-coverage
@test "the preloaded library imports only async-signal-safe functions, and its loader's" {
	# What a hook may call (POSIX async-signal-safe, or the same kind of
	# system-call wrapper), what the constructor needs (dlsym, getenv,
	# getauxval, abort; pthread_atfork, a fork child's clean slate) and what
	# hardening adds (__stack_chk_fail, *_chk).
	local allowed="abort clock_gettime close connect dlsym getauxval getenv fstatfs getpid getsockname
		getsockopt nanosleep open read sched_yield sendmmsg sendmsg sendto setsockopt socket
		fcntl fcntl64 fstat fstat64 getpeername __register_atfork pthread_atfork
		strcmp strnlen syscall write __stack_chk_fail __errno_location __cxa_finalize
		program_invocation_short_name __progname __read_chk memcpy memset memcmp
		_ITM_deregisterTMCloneTable _ITM_registerTMCloneTable __gmon_start__"
	# The i386 library too (tests/i386.bats).
	run nm -uD "$LIB" "$BUILD/lib32/noselfconn/libnoselfconn.so"
	[ "$status" -eq 0 ]
	local symbol unexpected=""
	for symbol in $(awk 'NF == 2 { print $2 }' <<<"$output" | sed 's/@.*//'); do
		grep -qw -- "$symbol" <<<"$allowed" || unexpected="$unexpected $symbol"
	done
	echo "imports not on the allow-list:$unexpected"
	[ -z "$unexpected" ]
}

@test "install and uninstall honour PREFIX and DESTDIR" {
	local dest="$BATS_TEST_TMPDIR/dest"
	# A build of its own: another PREFIX rebuilds what has the paths in it.
	run make -C "$ROOT" install DESTDIR="$dest" PREFIX=/opt/nsc BUILD="$BATS_TEST_TMPDIR/build"
	[ "$status" -eq 0 ]
	[ -x "$dest/opt/nsc/bin/noselfconn" ]
	[ -f "$dest/opt/nsc/$LIB_SUBDIR/libnoselfconn.so" ]
	run make -C "$ROOT" uninstall DESTDIR="$dest" PREFIX=/opt/nsc BUILD="$BATS_TEST_TMPDIR/build"
	[ ! -e "$dest/opt/nsc/bin/noselfconn" ]
	[ ! -e "$dest/opt/nsc/$LIB_SUBDIR/libnoselfconn.so" ]
	[ -z "$(find "$dest" -type f)" ]
}

@test "the default PREFIX is /usr/local; the library in a private directory under \$LIB" {
	run make -C "$ROOT" -n install DESTDIR=/stage
	grep -q "/stage/usr/local/$LIB_SUBDIR/libnoselfconn.so" <<<"$output"
	grep -q '/stage/usr/local/bin/noselfconn' <<<"$output"
	# LIBDIR elsewhere: that directory, and no $LIB path to name it.
	run make -C "$ROOT" -n install DESTDIR=/stage LIBDIR=/opt/private
	grep -q "/stage/opt/private/libnoselfconn.so" <<<"$output"
}

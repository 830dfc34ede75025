#!/usr/bin/env bats
# musl (Alpine-style containers): musl-gcc builds the library, the wrapper
# and a test client without warnings, and the guard works there too.

load helpers

setup_file() {
	export MUSL_BUILD="$BATS_FILE_TMPDIR/musl"
	# The supervisor needs the kernel's headers (linux/seccomp.h...), which
	# Alpine ships as linux-headers and musl-gcc here does not look for:
	# point it at Debian's, as that package would.
	local kernel_headers="$BATS_FILE_TMPDIR/kernel-headers"
	mkdir -p "$kernel_headers"
	ln -s /usr/include/linux /usr/include/asm-generic "$kernel_headers/"
	ln -s "/usr/include/$(gcc -print-multiarch)/asm" "$kernel_headers/asm"
	make -C "$ROOT" -s BUILD="$MUSL_BUILD" CC=musl-gcc CFLAGS="-O2 -Werror -isystem $kernel_headers" \
		all "$MUSL_BUILD/tests/dial" >"$BATS_FILE_TMPDIR/build.log" 2>&1
}

@test "musl-gcc builds the library and the client without a warning" {
	cat "$BATS_FILE_TMPDIR/build.log"
	[ -z "$(grep -i warning "$BATS_FILE_TMPDIR/build.log")" ]
	run file "$MUSL_BUILD/tests/dial"
	[[ "$output" == *ld-musl* ]]
	run nm -D --defined-only "$MUSL_BUILD/libnoselfconn.so"
	[ "$(awk '{print $3}' <<<"$output" | sort | tr '\n' ' ')" = "chroot connect sendmmsg sendmsg sendto setns unshare " ]
}

@test "musl: a musl client self-connects without the library, never with it" {
	require_netns
	local dial="$MUSL_BUILD/tests/dial"
	for style in blocking nonblock fastopen-sendto fastopen-sendmmsg; do
		for addr in 127.0.0.1 ::1; do
			run in_netns "$dial" -k -n 500 -s $style $addr "$TARGET"
			expect_at_least self 1
			run in_netns env LD_PRELOAD="$MUSL_BUILD/libnoselfconn.so" "$dial" -n 300 -L -s $style $addr "$TARGET"
			expect self 0
			expect refused 300
			expect fds_leaked 0
			expect bind_after ok
		done
	done
}

@test "musl: the musl-built wrapper runs a musl client under the guard, preloaded and supervised" {
	require_netns
	run --separate-stderr in_netns "$MUSL_BUILD/noselfconn" --log "$MUSL_BUILD/tests/dial" -n 300 127.0.0.1 "$TARGET"
	expect self 0
	expect refused 300
	[[ "$stderr" == *"prevented a self-connection: dial["* ]]
	run in_netns "$MUSL_BUILD/noselfconn" --supervise "$MUSL_BUILD/tests/dial" -r -n 300 127.0.0.1 "$TARGET"
	expect self 0
	expect refused 300
}

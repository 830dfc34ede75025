#!/usr/bin/env bats
# 32-bit programs (issue 20, item 4): the i386 library sits beside the 64-bit
# one, ld.so picks each program's own through $LIB, and an i386 program is
# guarded under the wrapper, LD_PRELOAD and /etc/ld.so.preload, silently.
# Both i386 loaders Debian has: the multiarch libc6:i386's
# (/lib/ld-linux.so.2 where it is installed, $LIB is lib/i386-linux-gnu:
# dial-i386, linked as gcc -m32 links) and libc6-i386's (gcc-multilib's,
# /lib32/ld-linux.so.2, $LIB is lib32: dial-lib32). tests/deps.sh installs
# both. (The sanitizer runtime in LD_PRELOAD is 64-bit: make sanitize
# leaves these out.)

load helpers

# The path every loader reads as its own library: a literal $LIB.
# shellcheck disable=SC2016
EVERY_LIB="$BUILD/"'$LIB'"/noselfconn/libnoselfconn.so"
# Each i386 program: as gcc -m32 links it, and with libc6-i386's loader.
I386_DIALS=("$BUILD/tests/dial-i386" "$BUILD/tests/dial-lib32")

setup() {
	require_netns
	[ -x "${I386_DIALS[0]}" ] && [ -x "${I386_DIALS[1]}" ] &&
		[ -f "$BUILD/lib32/noselfconn/libnoselfconn.so" ] || {
		echo "no i386 build: tests/deps.sh installs gcc-multilib" >&2
		return 1
	}
	# The multiarch loader: libc6:i386 took /lib/ld-linux.so.2 over.
	[ "$(readlink -f /lib/ld-linux.so.2)" = "$(readlink -f /lib/i386-linux-gnu/ld-linux.so.2)" ] || {
		echo "no multiarch i386 loader: tests/deps.sh installs libc6:i386" >&2
		return 1
	}
}

# i386_control DIAL: the i386 client self-connects without the library,
# and the 64-bit library alone (as before) cannot load into it.
i386_control() {
	run in_netns "$1" -n 300 127.0.0.1 "$TARGET"
	echo "${1##*/} without the library: $(field self) of 300"
	expect_at_least self 1
	run --separate-stderr in_netns env LD_PRELOAD="$LIB" "$1" -n 300 127.0.0.1 "$TARGET"
	echo "the 64-bit library alone: $(field self) of 300; $stderr"
	expect_at_least self 1
	[[ "$stderr" == *"wrong ELF class"* ]]
}

# bats test_tags=no-sanitizer
@test "i386: each loader reads \$LIB its own way: multiarch libc6:i386's lib/i386-linux-gnu, libc6-i386's lib32" {
	local dial lib
	for dial in "${I386_DIALS[@]}"; do
		lib=lib/i386-linux-gnu
		[ "${dial##*/}" != dial-lib32 ] || lib=lib32
		# What ld.so maps, as a program start would (its trace mode).
		run env LD_TRACE_LOADED_OBJECTS=1 LD_PRELOAD="$EVERY_LIB" "$dial"
		echo "$output"
		[ "$status" -eq 0 ]
		grep -qF "	$EVERY_LIB => $BUILD/$lib/noselfconn/libnoselfconn.so (" <<<"$output"
	done
	# Each through its own loader: the multiarch one, and /lib32's.
	run env LD_TRACE_LOADED_OBJECTS=1 "${I386_DIALS[0]}"
	grep -q '^	/lib/ld-linux.so.2 ' <<<"$output"
	grep -q '^	libc.so.6 => /lib/i386-linux-gnu/libc.so.6 ' <<<"$output"
	run env LD_TRACE_LOADED_OBJECTS=1 "${I386_DIALS[1]}"
	grep -q '^	/lib32/ld-linux.so.2 ' <<<"$output"
}

# bats test_tags=no-sanitizer
@test "i386: the library is built for i386 and found through \$LIB by each loader" {
	run file -L "$BUILD/lib32/noselfconn/libnoselfconn.so" "$BUILD/lib/i386-linux-gnu/noselfconn/libnoselfconn.so"
	[ "$(grep -c 'ELF 32-bit LSB shared object, Intel 80386' <<<"$output")" -eq 2 ]
	run file -L "$LIB" "$BUILD/lib/$(gcc -print-multiarch)/noselfconn/libnoselfconn.so"
	[ "$(grep -c 'ELF 64-bit LSB shared object, x86-64' <<<"$output")" -eq 2 ]
	# lib32 is a relative link: the tree can be copied or installed whole.
	[ "$(readlink "$BUILD/lib32/noselfconn/libnoselfconn.so")" = ../../lib/i386-linux-gnu/noselfconn/libnoselfconn.so ]
	run nm -D --defined-only "$BUILD/lib32/noselfconn/libnoselfconn.so"
	[ "$(awk '{print $3}' <<<"$output" | sort | tr '\n' ' ')" = "chroot connect sendmmsg sendmsg sendto setns unshare " ]
}

# bats test_tags=no-sanitizer
@test "i386: guarded under LD_PRELOAD=.../\$LIB/..., nothing printed, under each loader" {
	local dial name
	for dial in "${I386_DIALS[@]}"; do
		name=${dial##*/}
		i386_control "$dial"
		for mode in check prebind; do
			run --separate-stderr in_netns env LD_PRELOAD="$EVERY_LIB" NOSELFCONN_MODE=$mode \
				"$dial" -n 300 -L 127.0.0.1 "$TARGET"
			echo "$name, mode $mode: $output; stderr: $stderr"
			expect self 0
			expect refused 300
			expect bind_after ok
			[ -z "$stderr" ]
		done
		# The guard itself, not luck: it says what it prevented.
		run --separate-stderr in_netns env LD_PRELOAD="$EVERY_LIB" NOSELFCONN_LOG=1 "$dial" -n 300 127.0.0.1 "$TARGET"
		expect self 0
		echo "$name: prevented $(prevented)"
		[ "$(prevented)" -ge 1 ]
		[ "$(grep -vc "prevented a self-connection: $name\[" <<<"$stderr")" -eq 0 ]
	done
	# A 64-bit program under the same path is guarded the same way.
	run --separate-stderr in_netns env LD_PRELOAD="$EVERY_LIB" "$DIAL" -n 300 127.0.0.1 "$TARGET"
	expect self 0
	expect refused 300
	[ -z "$stderr" ]
}

# bats test_tags=no-sanitizer
@test "i386: guarded under the wrapper, which preloads a \$LIB path, under each loader" {
	run env LD_PRELOAD= "$WRAPPER" sh -c 'echo "$LD_PRELOAD"'
	[ "$output" = "$EVERY_LIB" ]
	local dial
	for dial in "${I386_DIALS[@]}"; do
		i386_control "$dial"
		run --separate-stderr in_netns env LD_PRELOAD= "$WRAPPER" "$dial" -n 300 127.0.0.1 "$TARGET"
		echo "$output; stderr: $stderr"
		expect self 0
		expect refused 300
		[ -z "$stderr" ]
		run --separate-stderr in_netns env LD_PRELOAD= "$WRAPPER" --log "$dial" -n 300 127.0.0.1 "$TARGET"
		[ "$(prevented)" -ge 1 ]
	done
}

# with_ld_so_preload LINE CMD...: CMD in a mount namespace whose /etc is a
# copy of the real one with LINE as /etc/ld.so.preload (the real file is
# never touched), and the private network namespace around it.
with_ld_so_preload() {
	local line="$1"
	shift
	run --separate-stderr in_netns unshare -m sh -c '
		set -e
		line=$1
		shift
		copy=$(mktemp -d)
		cp -a /etc/. "$copy/"
		printf "%s\n" "$line" > "$copy/ld.so.preload"
		mount --bind "$copy" /etc
		status=0
		"$@" || status=$?
		umount /etc
		rm -rf "$copy"
		exit $status' with_ld_so_preload "$line" "$@"
}

# bats test_tags=no-sanitizer
@test "i386: guarded through /etc/ld.so.preload naming the \$LIB path, under each loader; no exec prints anything" {
	local dial
	for dial in "${I386_DIALS[@]}"; do
		i386_control "$dial"
		# Today's line, the 64-bit file itself: every i386 exec complains.
		with_ld_so_preload "$LIB" "$dial" -n 50 127.0.0.1 "$TARGET"
		[[ "$stderr" == *"wrong ELF class"* ]]
		# The $LIB line: guarded, nothing printed.
		with_ld_so_preload "$EVERY_LIB" "$dial" -n 300 -L 127.0.0.1 "$TARGET"
		echo "${dial##*/}: $output; stderr: $stderr"
		expect self 0
		expect refused 300
		expect bind_after ok
		[ -z "$stderr" ]
		with_ld_so_preload "$EVERY_LIB" env NOSELFCONN_LOG=1 "$dial" -n 300 127.0.0.1 "$TARGET"
		[ "$(prevented)" -ge 1 ]
	done
	with_ld_so_preload "$EVERY_LIB" "$DIAL" -n 300 127.0.0.1 "$TARGET"
	expect self 0
	expect refused 300
	[ -z "$stderr" ]
	# A shell starting every kind of program: not a word from any loader.
	with_ld_so_preload "$EVERY_LIB" sh -c "'${I386_DIALS[0]}' -n 1 127.0.0.2 1; '${I386_DIALS[1]}' -n 1 127.0.0.2 1; '$DIAL' -n 1 127.0.0.2 1; /bin/true"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
}

# bats test_tags=no-sanitizer
@test "64-bit only (no multilib): the wrapper and the \$LIB path still work and say nothing" {
	local tree="$BATS_TEST_TMPDIR/tree" native
	native="lib/$(gcc -print-multiarch)/noselfconn"
	mkdir -p "$tree/$native"
	cp "$WRAPPER" "$tree/"
	cp "$LIB" "$tree/$native/"
	run --separate-stderr in_netns env LD_PRELOAD= "$tree/noselfconn" "$DIAL" -n 300 127.0.0.1 "$TARGET"
	expect self 0
	expect refused 300
	[ -z "$stderr" ]
	# Without multilib, make builds no i386 objects at all.
	run make -C "$ROOT" -n -B BUILD="$BATS_TEST_TMPDIR/build" WITH_I386= all
	[ "$status" -eq 0 ]
	[ -z "$(grep -- '-m32' <<<"$output")" ]
	run make -C "$ROOT" -n -B BUILD="$BATS_TEST_TMPDIR/build" all
	grep -q -- '-m32' <<<"$output"
}

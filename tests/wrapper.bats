#!/usr/bin/env bats
# The noselfconn command.

load helpers

# What the wrapper preloads: ROOT/$LIB/..., which each loader expands to its
# own library (tests/i386.bats).
# shellcheck disable=SC2016
every_lib() { echo "$1/"'$LIB'"/noselfconn/libnoselfconn.so"; }

@test "--help and --version" {
	run "$WRAPPER" --help
	[ "$status" -eq 0 ]
	[[ "$output" == Usage:* ]]
	[[ "$output" == *--mode* && "$output" == *--log* ]]
	run "$WRAPPER" --version
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^noselfconn\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

@test "no command: a clear error and exit 2" {
	run --separate-stderr "$WRAPPER"
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"no command given"* ]]
}

@test "command not found: exit 127; not executable: exit 126" {
	run -127 --separate-stderr "$WRAPPER" no-such-command-anywhere
	[[ "$stderr" == *"cannot run 'no-such-command-anywhere'"* ]]
	local plain="$BATS_TEST_TMPDIR/not-executable"
	echo data > "$plain"
	run -126 "$WRAPPER" "$plain"
}

@test "bad option or mode: exit 2" {
	run "$WRAPPER" --bogus true
	[ "$status" -eq 2 ]
	run "$WRAPPER" --mode=sometimes true
	[ "$status" -eq 2 ]
	run "$WRAPPER" --log=carrier-pigeon true
	[ "$status" -eq 2 ]
}

@test "adds the library to LD_PRELOAD, after what is there, once" {
	local lib
	lib=$(every_lib "$BUILD")
	run "${WRAPPER_RUN[@]}" sh -c 'echo "$LD_PRELOAD"'
	[ "$output" = "$SANITIZER_PRELOAD$lib" ]
	# (ld.so says on stderr that it cannot find other.so: not our concern here)
	LD_PRELOAD="$SANITIZER_PRELOAD/lib/other.so" run --separate-stderr "$WRAPPER" sh -c 'echo "$LD_PRELOAD"'
	[ "$output" = "$SANITIZER_PRELOAD/lib/other.so:$lib" ]
	LD_PRELOAD="$SANITIZER_PRELOAD$lib" run "$WRAPPER" sh -c 'echo "$LD_PRELOAD"'
	[ "$output" = "$SANITIZER_PRELOAD$lib" ]
}

@test "options map onto the environment; the command's own options are left alone" {
	run "${WRAPPER_RUN[@]}" --mode prebind --log sh -c 'echo "$NOSELFCONN_MODE $NOSELFCONN_LOG $0 $1"' -x --help
	[ "$output" = "prebind stderr -x --help" ]
	run "${WRAPPER_RUN[@]}" -m off --log=syslog -- sh -c 'echo "$NOSELFCONN_MODE $NOSELFCONN_LOG"'
	[ "$output" = "off syslog" ]
}

@test "returns the command's exit status" {
	run "${WRAPPER_RUN[@]}" sh -c 'exit 7'
	[ "$status" -eq 7 ]
}

@test "guards the command it runs" {
	require_netns
	run in_netns "$DIAL" -k -n 500 127.0.0.1 "$TARGET"
	expect_at_least self 1
	run --separate-stderr in_netns "${WRAPPER_RUN[@]}" --log "$DIAL" -n 300 127.0.0.1 "$TARGET"
	expect self 0
	expect refused 300
	[[ "$stderr" == *"prevented a self-connection: dial["* ]]
}

@test "installed: finds the library at the installed path" {
	# The installed layout is the build tree's lib mirror under PREFIX
	# (make install copies it; here by hand, to test the wrapper alone).
	local prefix="$BATS_TEST_TMPDIR/prefix" build="$BATS_TEST_TMPDIR/build"
	make -C "$ROOT" -s all PREFIX="$prefix" BUILD="$build" >/dev/null
	mkdir -p "$prefix/bin"
	cp "$build/noselfconn" "$prefix/bin/"
	cp -a "$build/lib" "$prefix/"
	LD_PRELOAD="${NSC_SANITIZER_RUNTIME:-}" run "$prefix/bin/noselfconn" sh -c 'echo "$LD_PRELOAD"'
	[ "$output" = "$SANITIZER_PRELOAD$(every_lib "$prefix")" ]
	rm -r "${prefix:?}/lib"
	run --separate-stderr "$prefix/bin/noselfconn" true
	[ "$status" -eq 125 ]
	[[ "$stderr" == *"cannot find lib/"*"/noselfconn/libnoselfconn.so"* ]]
}

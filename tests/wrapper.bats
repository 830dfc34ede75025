#!/usr/bin/env bats
# The noselfconn command.

load helpers


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

# usage_error ARGS...: exit 2, nothing on stdout, and on stderr one line
# that says why, then where to look.
usage_error() {
	run --separate-stderr "$WRAPPER" "$@"
	echo "$* -> $stderr"
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	[ "$(wc -l <<<"$stderr")" -eq 2 ]
	[[ "$(sed -n 1p <<<"$stderr")" == "noselfconn: "* ]]
	[ "$(sed -n 2p <<<"$stderr")" = "Try 'noselfconn --help'." ]
}

@test "a usage error: one line that says why, then Try 'noselfconn --help'." {
	usage_error
	[ "$(sed -n 1p <<<"$stderr")" = "noselfconn: no command given" ]
	usage_error --bogus true
	[ "$(sed -n 1p <<<"$stderr")" = "noselfconn: unknown option '--bogus'" ]
	usage_error -x true
	[ "$(sed -n 1p <<<"$stderr")" = "noselfconn: unknown option -- 'x'" ]
	usage_error --mode
	[ "$(sed -n 1p <<<"$stderr")" = "noselfconn: option '--mode' needs a value" ]
	usage_error -m
	usage_error --audit=yes
	[ "$(sed -n 1p <<<"$stderr")" = "noselfconn: option '--audit=yes' takes no value" ]
	usage_error --mode=sometimes true
	usage_error --json true
	usage_error --audit true
	usage_error --status --audit
	usage_error --enable-host true
	usage_error --enable-host --disable-host
	usage_error --fallback=none true
	# What the user typed comes back escaped.
	usage_error $'--\e]0;x' true
	[ "$(sed -n 1p <<<"$stderr")" = "noselfconn: unknown option '--\x1b]0;x\x07'" ]
}

@test "every message says noselfconn:, however the command was invoked" {
	local dir="$BATS_TEST_TMPDIR/bin"
	mkdir -p "$dir"
	cp "$WRAPPER" "$dir/nsc"
	cp -a "$BUILD/lib" "$dir/"
	local invoked
	for invoked in "$dir/nsc" "./nsc"; do
		run --separate-stderr bash -c 'cd "$1" && "$2" --bogus' - "$dir" "$invoked"
		[ "$(sed -n 1p <<<"$stderr")" = "noselfconn: unknown option '--bogus'" ]
		run --separate-stderr bash -c 'cd "$1" && "$2" --mode' - "$dir" "$invoked"
		[ "$(sed -n 1p <<<"$stderr")" = "noselfconn: option '--mode' needs a value" ]
		run -127 --separate-stderr bash -c 'cd "$1" && "$2" no-such-command' - "$dir" "$invoked"
		[ "$stderr" = "noselfconn: cannot run 'no-such-command': No such file or directory" ]
	done
	run --separate-stderr bash -c 'exec -a "weird name" "$1" -q' - "$WRAPPER"
	[ "$(sed -n 1p <<<"$stderr")" = "noselfconn: unknown option -- 'q'" ]
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
	local prefix="$BATS_TEST_TMPDIR/prefix"
	make -C "$ROOT" -s install PREFIX="$prefix" BUILD="$BATS_TEST_TMPDIR/build" >/dev/null
	LD_PRELOAD="${NSC_SANITIZER_RUNTIME:-}" run "$prefix/bin/noselfconn" sh -c 'echo "$LD_PRELOAD"'
	[ "$output" = "$SANITIZER_PRELOAD$(every_lib "$prefix")" ]
	rm "$prefix/$LIB_SUBDIR/libnoselfconn.so"
	run --separate-stderr "$prefix/bin/noselfconn" true
	[ "$status" -eq 125 ]
	[[ "$stderr" == *"cannot find lib/"*"/noselfconn/libnoselfconn.so"* ]]
}

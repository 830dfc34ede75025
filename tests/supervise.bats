#!/usr/bin/env bats
# noselfconn --supervise: a static binary dialing with raw system calls.

load helpers

STATIC="$BUILD/tests/dial-static"
NOSECCOMP="$BUILD/tests/noseccomp"

setup() {
	require_netns
}

# supervised_guard ADDR [DIAL OPTIONS...]: the static raw client
# self-connects unprotected and under the preload alone, never supervised.
supervised_guard() {
	local addr="$1"
	shift
	run in_netns "$STATIC" -r -k -n 500 "$@" "$addr" "$TARGET"
	expect_at_least self 1
	run in_netns "${WITH_LIB[@]}" "$STATIC" -r -k -n 500 "$@" "$addr" "$TARGET"
	expect_at_least self 1
	run in_netns "$WRAPPER" --supervise "$STATIC" -r -n 300 -L "$@" "$addr" "$TARGET"
	[ "$status" -eq 0 ]
	expect self 0
	[ "$(field refused)" -eq "$(field attempts)" ]
	expect failed 0
	expect fds_leaked 0
	expect bind_after ok
}

@test "supervised: 127.0.0.1" { supervised_guard 127.0.0.1; }
@test "supervised: ::1" { supervised_guard ::1; }
@test "supervised: ::ffff:127.0.0.1" { supervised_guard ::ffff:127.0.0.1; }
@test "supervised: 0.0.0.0 and ::" { supervised_guard 0.0.0.0; supervised_guard ::; }
@test "supervised: the host's own 10.99.0.1 and fd00::1" { supervised_guard 10.99.0.1; supervised_guard fd00::1; }
@test "supervised: non-blocking" { supervised_guard 127.0.0.1 -s nonblock; }
@test "supervised: sendto, sendmsg and sendmmsg with MSG_FASTOPEN" {
	supervised_guard 127.0.0.1 -s fastopen-sendto
	supervised_guard ::1 -s fastopen-sendmsg
	supervised_guard 127.0.0.1 -s fastopen-sendmmsg
}
@test "supervised: TCP_FASTOPEN_CONNECT" { supervised_guard 127.0.0.1 -s fastopen-connect; }
@test "supervised: 8 threads" { supervised_guard 127.0.0.1 -t 8 -s nonblock; }

@test "supervised: children that fork and exec are served too" {
	run in_netns "$WRAPPER" --supervise sh -c '
		"$0" -r -n 200 127.0.0.1 50000 &
		"$0" -r -n 200 -s nonblock ::1 50000
		wait' "$STATIC"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^attempts=200 self=0 refused=200 ' <<<"$output")" -eq 2 ]
}

@test "supervised: a real listener on an ephemeral port is reached as usual" {
	NSC_TEST_RANGE="50000 59999"
	run in_netns "$WRAPPER" --supervise "$STATIC" -r -S -n 500 -s nonblock 127.0.0.1 "$TARGET"
	expect connected 500
	expect failed 0
}

@test "supervised: the command's exit status, 128+signal when killed" {
	run "$WRAPPER" --supervise sh -c 'exit 7'
	[ "$status" -eq 7 ]
	run "$WRAPPER" --supervise sh -c 'kill -KILL $$'
	[ "$status" -eq 137 ]
	run -127 "$WRAPPER" --supervise no-such-command-anywhere
}

@test "supervised: SIGINT, SIGTERM and SIGHUP reach the command" {
	for sig in INT TERM HUP; do
		# (--default-signal: a background job starts with SIGINT ignored,
		# and a shell cannot trap what it inherited ignored)
		env --default-signal "$WRAPPER" --supervise sh -c "trap 'exit 42' $sig; echo ready; sleep 20 & wait" \
			>"$BATS_TEST_TMPDIR/out" &
		local supervisor=$!
		while ! grep -q ready "$BATS_TEST_TMPDIR/out" 2>/dev/null; do sleep 0.05; done
		kill -s "$sig" "$supervisor"
		local status=0
		wait "$supervisor" || status=$?
		pkill -f "sleep 20" || true
		[ "$status" -eq 42 ]
	done
}

@test "supervised: the supervisor waits for what the command left running" {
	local mark="$BATS_TEST_TMPDIR/late"
	run "$WRAPPER" --supervise sh -c "(sleep 1; echo done > '$mark') & exit 3"
	[ "$status" -eq 3 ]
	[ "$(cat "$mark")" = "done" ]
}

@test "supervised: where seccomp is forbidden, one line, then the preload or a refusal" {
	run --separate-stderr in_netns "$NOSECCOMP" "${WRAPPER_RUN[@]}" --supervise "$DIAL" -n 300 127.0.0.1 "$TARGET"
	[ "$status" -eq 0 ]
	[ "$(grep -c . <<<"$stderr")" -eq 1 ]
	[[ "$stderr" == *"--supervise is unavailable here"*"using the preload instead"* ]]
	expect self 0
	expect refused 300
	run --separate-stderr "$NOSECCOMP" "$WRAPPER" --supervise --fallback=none true
	[ "$status" -eq 125 ]
	[[ "$stderr" == *"giving up"* ]]
	run "$WRAPPER" --supervise --fallback=sometimes true
	[ "$status" -eq 2 ]
}

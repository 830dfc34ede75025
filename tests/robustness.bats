#!/usr/bin/env bats
# Stress, signals, re-entry, stacking with other preloads, valgrind.

load helpers

INTERRUPT="$BUILD/tests/interrupt"
EARLY="$BUILD/tests/early.so"
STACKED="$BUILD/tests/stacked.so"

setup() {
	require_netns
}

@test "stress: 4 processes x 8 threads, 80 000 dials in three styles: no self-connection, no other error, no leak" {
	run in_netns "$DIAL" -t 8 -k -n 500 -s nonblock 127.0.0.1 "$TARGET"
	expect_at_least self 1
	run in_netns sh -c '
		for style in blocking nonblock fastopen-sendto nonblock; do
			timeout 300 env LD_PRELOAD="$1" "$2" -t 8 -n 2500 -s $style 127.0.0.1 50000 &
		done
		wait' stress "$PRELOAD_LIB" "$DIAL"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^attempts=20000 self=0 refused=20000 connected=0 failed=0 first_error=none fds_leaked=0$' <<<"$output")" -eq 4 ]
}

@test "a blocking dial interrupted by a signal: the same EINTR sequence as libc" {
	run in_netns "$INTERRUPT" eintr 50001
	[ "$status" -eq 0 ]
	local without="$output"
	[[ "$without" == EINTR* ]]
	for mode in check prebind; do
		run in_netns env LD_PRELOAD="$PRELOAD_LIB" NOSELFCONN_MODE=$mode "$INTERRUPT" eintr 50001
		[ "$output" = "$without" ]
	done
}

@test "a dial from inside a signal handler is guarded" {
	run in_netns "$INTERRUPT" handler "$TARGET" 500
	expect_at_least self 1
	run in_netns "${WITH_LIB[@]}" "$INTERRUPT" handler "$TARGET" 500
	expect self 0
	expect refused 500
}

@test "a dial from another library's constructor, before ours has run, is guarded" {
	run --separate-stderr in_netns env LD_PRELOAD="$SANITIZER_PRELOAD$EARLY" EARLY_PORT=$TARGET EARLY_COUNT=500 true
	[[ "$stderr" =~ early:\ self=[1-9] ]]
	# Preloads are initialised last first: early.so's constructor runs before ours.
	run --separate-stderr in_netns env LD_PRELOAD="$PRELOAD_LIB:$EARLY" EARLY_PORT=$TARGET EARLY_COUNT=500 NOSELFCONN_LOG=1 true
	grep -q '^early: self=0 refused=500 other=0$' <<<"$stderr"
	# NOSELFCONN_LOG was honoured, so the settings were read on that first call.
	grep -q 'prevented a self-connection: true\[' <<<"$stderr"
}

@test "stacked with another preload that wraps connect(), in either order, both run" {
	for order in "$LIB:$STACKED" "$STACKED:$LIB"; do
		run --separate-stderr in_netns env LD_PRELOAD="$SANITIZER_PRELOAD$order" "$DIAL" -n 300 127.0.0.1 "$TARGET"
		expect self 0
		expect refused 300
		[[ "$stderr" =~ stacked:\ connect_calls=([0-9]+) ]]
		[ "${BASH_REMATCH[1]}" -ge 300 ]
	done
}

# bats test_tags=no-sanitizer
@test "valgrind memcheck: no error in a program dialing under the library" {
	# --log lines prove the library ran, through the prevention path too.
	run in_netns env VALGRIND_OPTS="--quiet --error-exitcode=99" LD_PRELOAD="$PRELOAD_LIB" NOSELFCONN_LOG=1 \
		valgrind "$DIAL" -n 100 -s fastopen-sendmsg 127.0.0.1 "$TARGET"
	echo "$output"
	[ "$status" -eq 0 ]
	expect self 0
	grep -q 'prevented a self-connection' <<<"$output"
	[ -z "$(grep '==[0-9]*==' <<<"$output")" ]
}

#!/usr/bin/env bats
# The guard: every destination and dial style self-connects without the
# library in a narrowed namespace, and never with it, in both modes.

load helpers

setup() {
	require_netns
}

@test "destination 127.0.0.1" { bug_then_guard 127.0.0.1; }
@test "destination ::1" { bug_then_guard ::1; }
@test "destination ::ffff:127.0.0.1 on an AF_INET6 socket" { bug_then_guard ::ffff:127.0.0.1; }
@test "destination 0.0.0.0 (Linux dials this host)" { bug_then_guard 0.0.0.0; }
@test "destination :: (Linux dials ::1)" { bug_then_guard ::; }
@test "destination: the host's own IPv4 address 10.99.0.1" { bug_then_guard 10.99.0.1; }
@test "destination: the host's own IPv6 address fd00::1" { bug_then_guard fd00::1; }

@test "destination 127.0.0.2 is dialed from 127.0.0.1, so it never meets itself" {
	run in_netns "$DIAL" -n 300 127.0.0.2 "$TARGET"
	expect self 0
	expect refused 300
	run in_netns "${WITH_LIB[@]}" "$DIAL" -n 300 127.0.0.2 "$TARGET"
	expect self 0
	expect refused 300
}

@test "style: blocking connect()" { bug_then_guard 127.0.0.1 -s blocking; }
@test "style: non-blocking connect(), poll(), SO_ERROR" { bug_then_guard 127.0.0.1 -s nonblock; }
@test "style: non-blocking connect(), then write without SO_ERROR" { bug_then_guard ::1 -s nonblock-write; }
@test "style: sendto(MSG_FASTOPEN)" { bug_then_guard 127.0.0.1 -s fastopen-sendto; }
@test "style: sendmsg(MSG_FASTOPEN)" { bug_then_guard ::1 -s fastopen-sendmsg; }
@test "style: sendmmsg(MSG_FASTOPEN)" { bug_then_guard 127.0.0.1 -s fastopen-sendmmsg; }
@test "style: TCP_FASTOPEN_CONNECT, connect(), send()" { bug_then_guard 127.0.0.1 -s fastopen-connect; }
@test "style: 8 threads dialing at once" { bug_then_guard 127.0.0.1 -t 8 -s nonblock; }

@test "a refused socket can be dialed again, and is guarded again" {
	run in_netns "$DIAL" -R -k -n 500 127.0.0.1 "$TARGET"
	expect_at_least self 1
	run in_netns "${WITH_LIB[@]}" "$DIAL" -R -n 300 -L 127.0.0.1 "$TARGET"
	expect self 0
	expect refused 300
	expect fds_leaked 0
	expect bind_after ok
}

@test "without the library the self-connection holds the port: the backend cannot bind it" {
	run in_netns "$DIAL" -k -n 500 -L 127.0.0.1 "$TARGET"
	expect_at_least self 1
	expect bind_after EADDRINUSE
}

@test "a one-port range: no other port exists, so the dial is refused outright" {
	NSC_TEST_RANGE="$TARGET $TARGET"
	run in_netns "$DIAL" -n 20 127.0.0.1 "$TARGET"
	expect_at_least self 1
	for mode in check prebind; do
		run in_netns env LD_PRELOAD="$PRELOAD_LIB" NOSELFCONN_MODE=$mode "$DIAL" -n 100 -L 127.0.0.1 "$TARGET"
		expect self 0
		expect refused 100
		expect bind_after ok
	done
}

@test "UDP connected to its own port behaves exactly as without the library" {
	run in_netns "$DIAL" -u -n 300 127.0.0.1 "$TARGET"
	expect_at_least self 1
	run in_netns "${WITH_LIB[@]}" "$DIAL" -u -n 300 127.0.0.1 "$TARGET"
	expect_at_least self 1
	expect failed 0
}

@test "NOSELFCONN_MODE=off leaves the bug in place" {
	run in_netns env LD_PRELOAD="$PRELOAD_LIB" NOSELFCONN_MODE=off "$DIAL" -k -n 500 127.0.0.1 "$TARGET"
	expect_at_least self 1
}

@test "a real listener on an ephemeral port is reached as usual, in every mode" {
	NSC_TEST_RANGE="50000 59999"
	for mode in check prebind off; do
		run in_netns env LD_PRELOAD="$PRELOAD_LIB" NOSELFCONN_MODE=$mode "$DIAL" -S -n 500 -s nonblock 127.0.0.1 "$TARGET"
		expect connected 500
		expect failed 0
	done
}

# A blocking TCP Fast Open send larger than the socket's buffers, meeting
# itself, sends to itself until both are full and never returns: the look
# after it never comes (the control hangs; so did mode check before).
# fastopen_hang STYLE SINK_ARG: that send in STYLE (sendmsg: three iovecs,
# so the rest starts inside one), then 16 MB to a real server, whole.
fastopen_hang() {
	run in_netns timeout 20 "$DIAL" -n 40 -s "$1" -Z 16777216 127.0.0.1 "$TARGET"
	echo "without the library: status $status (124: it hung)"
	[ "$status" -eq 124 ]
	for mode in check prebind; do
		run --separate-stderr in_netns env LD_PRELOAD="$PRELOAD_LIB" NOSELFCONN_MODE=$mode NOSELFCONN_LOG=1 \
			"$DIAL" -n 40 -L -s "$1" -Z 16777216 127.0.0.1 "$TARGET"
		echo "mode $mode: $output; prevented $(prevented)"
		expect self 0
		expect refused 40
		expect bind_after ok
		if [ "$mode" = check ]; then
			[ "$(prevented)" -ge 1 ]
		fi
	done
	run in_netns env LD_PRELOAD="$PRELOAD_LIB" python3 "$ROOT/tests/helpers/fastopen_sink.py" 50005 $2
	echo "$output"
	[ "$output" = "sent 16777216 of 16777216 received 16777216 intact" ]
}

@test "a blocking sendto(MSG_FASTOPEN) of 16 MB that meets itself returns, refused; data to a server passes whole" {
	fastopen_hang fastopen-sendto ""
}

@test "a blocking sendmsg(MSG_FASTOPEN) of 16 MB in three iovecs that meets itself returns, refused; data to a server passes whole" {
	fastopen_hang fastopen-sendmsg sendmsg
}

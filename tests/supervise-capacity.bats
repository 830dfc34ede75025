#!/usr/bin/env bats
# noselfconn --supervise and capacity (issue 21, item 6): a dial to a port a
# TCP listener holds keeps the whole ephemeral range (the kernel never gives
# a dial that port), so a program holding many connections to a listener
# inside the range makes as many as without the supervisor; a dial to a port
# nobody holds is still narrowed, and never meets itself.

load helpers
load helpers/supervise

CAPACITY="$ROOT/tests/helpers/capacity.py"
LISTEN_PORT=50004 # inside the range, off its middle: the sides differ

setup() {
	require_netns
	# An even number of ports: the kernel's search then covers every one
	# (__inet_hash_connect rounds an odd count down), so counts are exact:
	# 11, all but the listener's own.
	NSC_TEST_RANGE="50000 50011"
}

# held LISTEN DIAL: connections the static raw client holds to a listener
# on LISTEN (its -S thread), dialed at DIAL, until the first failure: the
# plain program's count, then the same under the supervisor.
held() {
	local listen="$1" addr="$2" plain
	run in_netns "$STATIC" -r -S -K -l "$listen" -n 30 "$addr" "$LISTEN_PORT"
	expect first_error EADDRNOTAVAIL
	expect self 0
	plain="$(field connected)"
	[ "$plain" -eq 11 ]
	run in_netns "$WRAPPER" --supervise "$STATIC" -r -S -K -l "$listen" -n 30 "$addr" "$LISTEN_PORT"
	[ "$status" -eq 0 ]
	expect connected "$plain"
	expect first_error EADDRNOTAVAIL
	expect self 0
	expect fds_leaked 0
}

@test "supervised capacity: a listener inside the range holding connections, as many as without the supervisor" {
	held 127.0.0.1 127.0.0.1
	held ::1 ::1
	held 10.99.0.1 10.99.0.1
}

@test "supervised capacity: wildcard, dual-stack and v4-mapped listeners as the kernel matches them" {
	held 0.0.0.0 127.0.0.1
	held 0.0.0.0 0.0.0.0 # dialed on loopback
	held 0.0.0.0 ::ffff:10.99.0.1
	held :: 127.0.0.1
	held :: ::ffff:127.0.0.1
	held :: fd00::1
	held :: ::
}

# A range of a thousand ports: each connection holds its port until the
# helper's server thread has closed its end, and on a loaded machine that
# thread fell 11 connections behind once (6 of 100 EADDRNOTAVAIL).
@test "supervised capacity: a dial to a listener leaves the program's own port range as it set it" {
	NSC_TEST_RANGE="50000 50999"
	run in_netns "$WRAPPER" --supervise "$STATIC" -r -S -P 50000:50999 -n 100 127.0.0.1 "$LISTEN_PORT"
	[ "$status" -eq 0 ]
	expect connected 100
	expect range_changed 0
	# Where nothing listens, the dial is narrowed as before (and refused).
	run in_netns "$WRAPPER" --supervise "$STATIC" -r -P 50000:50999 -n 100 127.0.0.1 "$LISTEN_PORT"
	expect refused 100
	expect range_changed 100
}

# A real interpreter from Debian: Python's socket module, a listener of its
# own, its connections kept. "before": dials while nothing listened, then
# the listener: what was learnt of the empty port does not outlive it.
@test "supervised capacity: python3 holds as many connections, also after dials the port refused" {
	local case plain
	for case in ":: 127.0.0.1" "0.0.0.0 ::ffff:127.0.0.1" ":: ::1 50"; do
		# shellcheck disable=SC2086 # one word per argument
		set -- $case
		run in_netns python3 "$CAPACITY" hold "$1" "$2" "$LISTEN_PORT" 30 ${3:+"$3"}
		expect first_error EADDRNOTAVAIL
		plain="$(field connected)"
		[ "$plain" -eq 11 ]
		run in_netns "$WRAPPER" --supervise python3 "$CAPACITY" hold "$1" "$2" "$LISTEN_PORT" 30 ${3:+"$3"}
		[ "$status" -eq 0 ]
		expect connected "$plain"
		expect first_error EADDRNOTAVAIL
		expect self 0
	done
}

# Nothing is kept of a listener once it closes: the next dials there are
# narrowed again. Without the supervisor they meet themselves.
@test "supervised capacity: a listener that closed no longer spares the dials to its port" {
	NSC_TEST_RANGE="$NARROW_RANGE"
	run in_netns python3 "$CAPACITY" closed 127.0.0.1 "$TARGET" 300
	expect_at_least self 1
	run in_netns "$WRAPPER" --supervise python3 "$CAPACITY" closed 127.0.0.1 "$TARGET" 300
	[ "$status" -eq 0 ]
	expect self 0
	expect refused 300
}

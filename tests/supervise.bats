#!/usr/bin/env bats
# noselfconn --supervise: a static binary dialing with raw system calls.

load helpers
load helpers/supervise

NOSECCOMP="$BUILD/tests/noseccomp"
STALL="$BUILD/tests/stall"

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
@test "supervised: Multipath TCP" { supervised_guard 127.0.0.1 -m; }

# bound_guard HOW TARGET [DIAL OPTIONS...]: a socket bound before it dials
# (bind(ip, 0) prefers odd ports, connect even ones) in a two-port range, no
# TIME_WAIT to hide a repeat: it meets itself unguarded, never supervised.
bound_guard() {
	local how="$1" target="$2" addr="${BOUND_ADDR:-127.0.0.1}"
	shift 2
	NSC_TEST_RANGE="50000 50001"
	run in_netns "$STATIC" -r -k -n 300 -b "$how" "$@" "$addr" "$target"
	expect_at_least self 1
	run in_netns sh -c 'sysctl -qw net.ipv4.tcp_max_tw_buckets=0 && exec "$@"' sh \
		"$WRAPPER" --supervise "$STATIC" -r -n 300 -b "$how" "$@" "$addr" "$target"
	[ "$status" -eq 0 ]
	expect self 0
	expect refused 300
	expect fds_leaked 0
}

@test "supervised: a socket bound first, bind(ip, 0)" {
	bound_guard port0 50001
	bound_guard port0 50001 -s fastopen-sendto
}
@test "supervised: a socket bound first with IP_BIND_ADDRESS_NO_PORT" { bound_guard noport 50000; }
# Bound to the wildcard, its endpoint on loopback is its own port there.
@test "supervised: a socket bound first to the wildcard, dialing its own port on loopback" {
	bound_guard any0 50001
	BOUND_ADDR=::1 bound_guard any0 50001
}

@test "supervised: sendmsg and sendmmsg with msg_namelen above 128, clamped as the kernel does" {
	supervised_guard 127.0.0.1 -s fastopen-sendmsg -N 200
	supervised_guard ::1 -s fastopen-sendmmsg -N 4096
}

@test "supervised: int arguments are their low 32 bits, whatever the upper half holds" {
	local style
	for style in connect sendto sendmsg; do
		run in_netns "$RAWCALL" -g -k -n 300 -s "$style" 127.0.0.1 "$TARGET"
		expect_at_least self 1
		run in_netns "$WRAPPER" --supervise "$RAWCALL" -g -n 300 -s "$style" 127.0.0.1 "$TARGET"
		[ "$status" -eq 0 ]
		expect self 0
		expect refused 300
	done
}

# The supervisor's own namespace has a range without the target; the
# command's (CMD... runs there) has "50000 50001", set by the inner script.
NETNS_SCRIPT='
	ip link set lo up
	sysctl -qw net.ipv4.tcp_max_tw_buckets=0
	echo 40000 40001 > /proc/sys/net/ipv4/ip_local_port_range
	"$0" -r -n 50 127.0.0.1 50000          # not ephemeral here yet
	echo 50000 50001 > /proc/sys/net/ipv4/ip_local_port_range
	sleep 1.1                              # the supervisor reads it again
	"$0" -r -n 300 127.0.0.1 50000'

@test "supervised: a command in a network namespace of its own is guarded with its range" {
	NSC_TEST_RANGE="40000 40010"
	run in_netns "${UNSHARE[@]}" sh -c "$NETNS_SCRIPT" "$STATIC"
	[ "$(grep -c 'self=[1-9]' <<<"$output")" -eq 1 ]
	run in_netns "$WRAPPER" --supervise "${UNSHARE[@]}" sh -c "$NETNS_SCRIPT" "$STATIC"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^attempts=50 self=0 refused=50 ' <<<"$output")" -eq 1 ]
	[ "$(grep -c '^attempts=300 self=0 refused=300 ' <<<"$output")" -eq 1 ]
}

@test "supervised: unprivileged, a command in a user and network namespace of its own" {
	require_root
	NSC_TEST_RANGE="40000 40010"
	local readable
	readable=$(readable_copy "$WRAPPER" "$STATIC")
	run in_netns "${AS_NOBODY[@]}" unshare -rn sh -c "$NETNS_SCRIPT" "$readable/dial-static"
	[ "$(grep -c 'self=[1-9]' <<<"$output")" -eq 1 ]
	run in_netns "${AS_NOBODY[@]}" "$readable/noselfconn" --supervise unshare -rn sh -c "$NETNS_SCRIPT" \
		"$readable/dial-static"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^attempts=50 self=0 refused=50 ' <<<"$output")" -eq 1 ]
	[ "$(grep -c '^attempts=300 self=0 refused=300 ' <<<"$output")" -eq 1 ]
}

# Sockets made in the test's namespace (range around the target), dialed
# after the process moved to a namespace whose range is 40000-40010: the
# kernel draws from the socket's namespace, so must the supervisor.
@test "supervised: a socket dials with its own namespace's range, not its thread's" {
	run in_netns "$RAWCALL" -N 40000:40010 -k -n 300 127.0.0.1 "$TARGET"
	expect_at_least self 1
	run in_netns "$WRAPPER" --supervise "$RAWCALL" -N 40000:40010 -n 300 127.0.0.1 "$TARGET"
	[ "$status" -eq 0 ]
	expect self 0
	expect refused 300
}

# Namespaces one after the other, each gone before the next is made: the
# kernel gives the next one the same inode number, not the same range.
NETNS_TURNS='
	for turn in $(seq 15); do
		for range in "40000 40010" "50000 50010"; do
			unshare -n sh -c "ip link set lo up; sysctl -qw net.ipv4.tcp_max_tw_buckets=0
				echo $range > /proc/sys/net/ipv4/ip_local_port_range; exec \"\$0\" -r -n 20 127.0.0.1 50000" "$0"
		done
	done'

@test "supervised: a new namespace is never taken for the one it replaced (inode numbers are reused)" {
	run in_netns sh -c "$NETNS_TURNS" "$STATIC"
	[ "$(grep -c 'self=[1-9]' <<<"$output")" -ge 1 ]
	run in_netns "$WRAPPER" --supervise sh -c "$NETNS_TURNS" "$STATIC"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^attempts=20 self=0 refused=20 ' <<<"$output")" -eq 30 ]
}

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

# The dial's address sits on a userfaultfd page nobody fills until the other
# dials are done (or 10 s have passed: then they were held up, and it fails).
@test "supervised: a dial whose address cannot be read yet holds up no other dial" {
	run in_netns timeout 60 "$STALL" -n 200 8080
	[ "$status" -ne 3 ] || skip "userfaultfd is not allowed here (needs root)"
	[ "$output" = "dials=200 before_release=200 stalled_by=self stalled_dial=none" ]
	run in_netns timeout 60 "$WRAPPER" --supervise "$STALL" -n 200 8080
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "dials=200 before_release=200 stalled_by=other stalled_dial=none" ]
}

# A signal (a handler without SA_RESTART) while the supervisor reads that
# dial's address: it must not cancel a dial the supervisor has taken on.
# Before, it returned EINTR with no dial made, and the caller, waiting for
# the connection as Python does after EINTR, was told it had connected.
@test "supervised: a signal while the supervisor works on a dial does not cancel the dial" {
	run in_netns timeout 60 "$STALL" -n 20 -s 20 8080
	[ "$status" -ne 3 ] || skip "userfaultfd is not allowed here (needs root)"
	[ "$output" = "dials=20 before_release=20 stalled_by=self stalled_dial=none stalled_connected=yes" ]
	run in_netns timeout 60 "$WRAPPER" --supervise "$STALL" -n 20 -s 20 8080
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "dials=20 before_release=20 stalled_by=other stalled_dial=none stalled_connected=yes" ]
}

@test "supervised: the command's exit status; killed, the supervisor dies of the same signal" {
	run "$WRAPPER" --supervise sh -c 'exit 7'
	[ "$status" -eq 7 ]
	run "$WRAPPER" --supervise sh -c 'kill -KILL $$'
	[ "$status" -eq 137 ]
	run -127 "$WRAPPER" --supervise no-such-command-anywhere
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

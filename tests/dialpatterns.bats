#!/usr/bin/env bats
# Dial patterns real programs use (issue 11, items 1-5): sockets bound before
# they dial, Multipath TCP, TCP Fast Open with a long msg_namelen, programs
# that lose /proc or open() or descriptors, a range the operator changes,
# threads sharing one socket. Each shows the self-connection without the
# library under the same conditions first, then none with it, in both modes.

load helpers

setup() {
	require_netns
}

# Two ports: bind() prefers the odd one, connect() the even one.
BOUND_RANGE="50000 50001"

# in_both_modes DIAL-ARGS...: the dial helper under the library in each
# mode; every dial refused, none self-connected.
in_both_modes() {
	local mode
	for mode in check prebind; do
		run --separate-stderr in_netns env LD_PRELOAD="$PRELOAD_LIB" NOSELFCONN_MODE=$mode \
			NOSELFCONN_LOG=1 "$DIAL" "$@"
		echo "mode $mode: $output; prevented $(prevented)"
		[ "$status" -eq 0 ]
		expect self 0
		expect failed 0
		[ "$(field refused)" -eq "$(field attempts)" ]
	done
}

# bound_first HOW PORT ADDR...: 100 dials to each ADDR, PORT, each socket
# bound first (dial -b HOW) in the two-port range: all meet themselves
# without the library, none with it, in both modes.
bound_first() {
	local how="$1" port="$2" addr
	shift 2
	NSC_TEST_RANGE="$BOUND_RANGE"
	for addr in "$@"; do
		run in_netns "$DIAL" -n 100 -b "$how" "$addr" "$port"
		expect self 100
		in_both_modes -n 100 -b "$how" "$addr" "$port"
	done
}

@test "bound first, bind(ip, 0): the port is chosen at bind time, narrowing comes too late" {
	bound_first port0 50001 127.0.0.1 ::1
}

@test "bound first to the wildcard, bind(0.0.0.0 or ::, 0), dialing its own port on loopback" {
	bound_first any0 50001 127.0.0.1 ::1
}

@test "bound first with IP_BIND_ADDRESS_NO_PORT: the port is chosen at connect time" {
	bound_first noport 50000 127.0.0.1
}

@test "a program's own IP_LOCAL_PORT_RANGE: guarded, and kept exactly as it set it" {
	run in_netns "$DIAL" -n 300 -P 50000:50001 127.0.0.1 "$TARGET"
	expect_at_least self 100
	expect range_changed 0
	in_both_modes -n 300 -P 50000:50001 -s nonblock 127.0.0.1 "$TARGET"
	expect range_changed 0
}

# Third-party programs: left out of make sanitize, as tests/compat.bats is.
# bats test_tags=foreign-programs
@test "real clients with a source address (nc -s, socat bind=, curl --interface, python source_address)" {
	NSC_TEST_RANGE="$BOUND_RANGE"
	# bind(ip, 0) takes the odd port, 50001; curl binds with
	# IP_BIND_ADDRESS_NO_PORT, so connect() picks 50000.
	local clients='
		echo hi | timeout 5 nc -N -s 127.0.0.1 127.0.0.1 50001 && echo "nc connected"
		echo hi | timeout 5 socat - TCP:127.0.0.1:50001,bind=127.0.0.1 && echo "socat connected"
		timeout 5 curl -s -m 2 --interface 127.0.0.1 -o /dev/null -w "%{local_port}" \
			http://127.0.0.1:50000/ 2>/dev/null | grep -qx 50000 && echo "curl connected"
		timeout 5 python3 "$0" 127.0.0.1 50001 127.0.0.1 && echo "python connected"
		true'
	run in_netns sh -c "$clients" "$ROOT/tests/helpers/connect.py"
	echo "$output"
	[ "$(grep -c connected <<<"$output")" -eq 4 ]
	for mode in check prebind; do
		run --separate-stderr in_netns env LD_PRELOAD="$PRELOAD_LIB" NOSELFCONN_MODE=$mode \
			NOSELFCONN_LOG=1 sh -c "$clients" "$ROOT/tests/helpers/connect.py"
		echo "mode $mode: $output"
		[ "$(grep -c connected <<<"$output")" -eq 0 ]
	done
}

@test "Multipath TCP sockets are guarded like TCP" {
	for addr in 127.0.0.1 ::1; do
		run in_netns "$DIAL" -n 300 -m "$addr" "$TARGET"
		expect_at_least self 1
		in_both_modes -n 300 -m -L "$addr" "$TARGET"
		expect bind_after ok
	done
}

# mptcpize is a third-party program that replaces LD_PRELOAD (the sanitizer
# runtime with it): left out of make sanitize, as tests/compat.bats is.
# bats test_tags=foreign-programs
@test "mptcpize (another preload that makes TCP sockets MPTCP), stacked in either order" {
	local wrap
	wrap=$(dpkg -L libmptcpwrap0 | grep 'libmptcpwrap\.so\.0$')
	run in_netns env LD_PRELOAD="$wrap" "$DIAL" -n 300 127.0.0.1 "$TARGET"
	expect_at_least self 1
	local order
	for order in "$wrap:$LIB" "$LIB:$wrap"; do
		run in_netns env LD_PRELOAD="$order" strace -f -qq -e trace=socket "$DIAL" -n 300 127.0.0.1 "$TARGET"
		echo "LD_PRELOAD=$order: $output"
		grep -q IPPROTO_MPTCP <<<"$output" # the sockets really are MPTCP
		expect self 0
		expect refused 300
	done
	# mptcpize sets LD_PRELOAD to its own library: the wrapper goes inside it.
	run in_netns mptcpize run "$WRAPPER" "$DIAL" -n 300 127.0.0.1 "$TARGET"
	expect self 0
	expect refused 300
}

@test "sendmsg/sendmmsg(MSG_FASTOPEN) with msg_namelen above 128: the kernel clamps it and dials" {
	for style in fastopen-sendmsg fastopen-sendmmsg; do
		run in_netns "$DIAL" -n 300 -N 200 -s $style 127.0.0.1 "$TARGET"
		expect_at_least self 1
		in_both_modes -n 300 -N 200 -s $style 127.0.0.1 "$TARGET"
	done
}

# A range outside the kernel's default (32768-60999), so that a guessed range
# would pass the target through.
OUTSIDE_DEFAULT="61000 61001"

@test "a program that chroots, loses open() or runs out of descriptors stays guarded" {
	NSC_TEST_RANGE="$OUTSIDE_DEFAULT"
	local empty="$BATS_TEST_TMPDIR/empty-root"
	mkdir -p "$empty"
	for hazard in "chroot:$empty" noopen nofd; do
		run in_netns "$DIAL" -n 200 -X "$hazard" 127.0.0.1 61000
		expect_at_least self 1
		in_both_modes -n 200 -X "$hazard" 127.0.0.1 61000
	done
}

# looks_after HAZARD: getsockname() calls the library adds to 50 dials of a
# port outside the range (61000-61001) made after HAZARD: none where the
# range is known, one a dial where it is not and every port counts.
looks_after() {
	local trace="$BATS_TEST_TMPDIR/trace" with without
	mkdir -p "$BATS_TEST_TMPDIR/empty-root"
	in_netns strace -f -qq -e trace=getsockname -o "$trace" \
		"$DIAL" -n 50 -s nonblock -X "$1" 127.0.0.1 50000 >/dev/null
	without=$(grep -c getsockname "$trace")
	in_netns strace -f -qq -e trace=getsockname -o "$trace" env LD_PRELOAD="$PRELOAD_LIB" \
		"$DIAL" -n 50 -s nonblock -X "$1" 127.0.0.1 50000 >/dev/null
	with=$(grep -c getsockname "$trace")
	echo "$1: $((with - without)) looks added to 50 dials" >&2
	echo $((with - without))
}

@test "chroot() reads the range on the way in: the real one, not every port" {
	NSC_TEST_RANGE="$OUTSIDE_DEFAULT"
	[ "$(looks_after "chroot:$BATS_TEST_TMPDIR/empty-root")" -eq 0 ]
	# The control: unread (open() forbidden before the first dial), every
	# port is looked after.
	[ "$(looks_after noopen)" -eq 50 ]
}

# range_change_run [PRELOAD] DIAL-ARGS...: the dial helper starts in a range
# without the target, makes one dial, then the operator widens the range
# over it (as `sysctl -w ... ="1024 65535"` puts a local Redis inside); the
# counted dials start 1.1 s later.
range_change_run() {
	local preload="$1"
	shift
	run in_netns sh -c '
		preload=$1 go=$2
		shift 2
		rm -f "$go" "$go.out"
		echo "40000 40010" > /proc/sys/net/ipv4/ip_local_port_range
		LD_PRELOAD="$preload" "$@" -G "$go" 127.0.0.1 50000 > "$go.out" &
		pid=$!
		until grep -q warm "$go.out" 2>/dev/null; do sleep 0.01; done
		echo "50000 50001" > /proc/sys/net/ipv4/ip_local_port_range
		sleep 1.1 # the time the library is given to see it
		touch "$go"
		wait "$pid"
		grep -v warm "$go.out"' range_change "$preload" "$BATS_TEST_TMPDIR/go" "$@"
}

@test "a range the operator changes while the program runs is honoured within a second" {
	range_change_run "" "$DIAL" -n 200 -s nonblock
	expect self 200
	for mode in check prebind; do
		range_change_run "$PRELOAD_LIB" env NOSELFCONN_MODE=$mode "$DIAL" -n 200 -s nonblock
		echo "mode $mode: $output"
		expect self 0
		expect refused 200
		expect attempts 200
	done
}

@test "the range is read by the first dial, again at most once a second, never without a TCP/IP dial" {
	# 2.5 s of pass-through dials to a listener outside the range.
	local trace="$BATS_TEST_TMPDIR/trace"
	NSC_TEST_RANGE="50000 50010" in_netns strace -f -qq -e trace=openat -o "$trace" \
		env LD_PRELOAD="$PRELOAD_LIB" timeout -s INT 2.5 "$DIAL" -S -n 100000000 -s nonblock 127.0.0.1 8080 || true
	local reads
	reads=$(grep -c ip_local_port_range "$trace")
	echo "range file opened $reads times in 2.5 s"
	[ "$reads" -ge 2 ]
	[ "$reads" -le 4 ]
	# UNIX, NULL and malformed dials read nothing, nor does a program
	# that never dials: start-up costs no read.
	in_netns strace -f -qq -e trace=openat,read -o "$trace" \
		env LD_PRELOAD="$PRELOAD_LIB" "$BUILD/tests/badcalls" passthrough 50001 >/dev/null
	[ "$(grep -c ip_local_port_range "$trace")" -eq 0 ]
	in_netns strace -f -qq -e trace=openat -o "$trace" env LD_PRELOAD="$PRELOAD_LIB" true
	grep -q libnoselfconn "$trace"
	[ "$(grep -c ip_local_port_range "$trace")" -eq 0 ]
}

# shared_socket_guarded HOW...: dialers sharing one socket (shared -p HOW)
# self-connect without the library; with it, in both modes, none is ever
# told "connected" of a socket that ends unconnected, every round is
# refused, and the socket's range is left as it was. (The marks of before
# failed each of these within 1000 rounds: told EISCONN, a self-connection,
# the range left narrowed.)
shared_socket_guarded() {
	run in_netns "$BUILD/tests/shared" -n 300 "$@" 127.0.0.1 "$TARGET"
	echo "without the library: $output"
	expect_at_least self 1
	for mode in check prebind; do
		run in_netns env LD_PRELOAD="$PRELOAD_LIB" NOSELFCONN_MODE=$mode "$BUILD/tests/shared" -n 1000 "$@" 127.0.0.1 "$TARGET"
		echo "mode $mode: $output"
		expect self 0
		expect lies 0
		expect refused 1000
		expect narrowed 0
	done
}

@test "threads sharing one socket: no self-connection, and never told connected when it is not" {
	shared_socket_guarded
}

@test "threads sharing one socket while another socket holds its descriptor number's old slot" {
	shared_socket_guarded -p threads -o
}

@test "two processes sharing one socket after fork()" {
	shared_socket_guarded -p fork
}

@test "two processes sharing one socket passed with SCM_RIGHTS" {
	shared_socket_guarded -p scm
}

# count_waits MODE NEIGHBOUR-ARGS...: $waits, how often the library waited
# (sched_yield, nanosleep: the neighbour helper makes neither) while one
# thread sat in a blocking connect() and the main thread dialed other
# sockets; $output holds the helper's counts.
count_waits() {
	local mode="$1" trace="$BATS_TEST_TMPDIR/waits"
	shift
	run in_netns strace -f -qq -e trace=sched_yield,nanosleep,clock_nanosleep -o "$trace" \
		env LD_PRELOAD="$PRELOAD_LIB" NOSELFCONN_MODE="$mode" "$BUILD/tests/neighbour" "$@"
	waits=$(grep -c -e sched_yield -e nanosleep "$trace" || true)
}

# The marks of before held a descriptor number for the whole dial: here
# they made every one of these dials wait (564 waits a run, each mode).
@test "a new socket dup2()'d onto the number another thread is dialing never waits for it" {
	local mode ports waits
	for mode in check prebind; do
		for ports in "$TARGET 50007" "40005 40007"; do # guarded, then passed through
			# shellcheck disable=SC2086 # two ports
			count_waits "$mode" -n 20 -d 127.0.0.1 $ports
			echo "mode $mode, ports $ports: $output, $waits waits"
			expect connected 20
			[ "$waits" -eq 0 ]
		done
	done
}

# Container and health-check tools move one thread into another namespace
# (setns()) while the others stay: the kernel draws each socket's port from
# its own namespace's range. Before, the library kept one range per process
# (63 of 600 self-connections in check, 59 in prebind, here).
@test "two threads in two network namespaces at once, each dialing its own range's low end" {
	run in_netns "$BUILD/tests/twonets" -n 300
	echo "without the library: $output"
	expect_at_least self_here 1
	expect_at_least self_there 1
	local mode how
	for mode in check prebind; do
		for how in "" -u; do # setns() into a namespace another thread made; unshare()
			# shellcheck disable=SC2086 # no option, or one
			run in_netns env LD_PRELOAD="$PRELOAD_LIB" NOSELFCONN_MODE=$mode "$BUILD/tests/twonets" -n 300 $how
			echo "mode $mode ${how:-setns}: $output"
			expect self 0
			expect refused 600
		done
	done
}

@test "setns() and unshare() reach the kernel once each, as called" {
	local trace="$BATS_TEST_TMPDIR/ns"
	in_netns strace -f -qq -e trace=setns,unshare -o "$trace" \
		env LD_PRELOAD="$PRELOAD_LIB" "$BUILD/tests/twonets" -n 1 >/dev/null
	[ "$(grep -c '^[0-9]* *setns(' "$trace")" -eq 1 ]
	[ "$(grep -c '^[0-9]* *unshare(' "$trace")" -eq 1 ]
}

#!/usr/bin/env bats
# noselfconn --kernel (issue 19, items 1 and 3): every kind of dial, from any
# program, in a cgroup of the test's own with the guard attached. Each case
# first meets itself with no guard under the same conditions (a private
# network namespace, a narrow range), then never in the guarded cgroup, and
# the guard's own counters say how many dials it steered or refused.

load helpers
load helpers/kernel

setup() {
	require_netns
	require_kernel_guard
}

teardown() {
	kguard_teardown
}

@test "the verifier accepts both programs (noselfconn --kernel --check)" {
	run "$WRAPPER" --kernel --check
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"connect4: "*" instructions, accepted"* ]]
	[[ "$output" == *"connect6: "*" instructions, accepted"* ]]
}

@test "kernel guard: 127.0.0.1" { kernel_case 127.0.0.1; }
@test "kernel guard: ::1" { kernel_case ::1; }
@test "kernel guard: v4-mapped ::ffff:127.0.0.1" { kernel_case ::ffff:127.0.0.1; }
@test "kernel guard: 0.0.0.0" { kernel_case 0.0.0.0; }
@test "kernel guard: ::" { kernel_case ::; }
@test "kernel guard: another local address, 10.99.0.1" { kernel_case 10.99.0.1; }
@test "kernel guard: another local address, fd00::1" { kernel_case fd00::1; }
@test "kernel guard: non-blocking, SO_ERROR" { kernel_case 127.0.0.1 -s nonblock; }
@test "kernel guard: non-blocking, written without SO_ERROR" { kernel_case ::1 -s nonblock-write; }
@test "kernel guard: TCP Fast Open, sendto(MSG_FASTOPEN)" { kernel_case 127.0.0.1 -s fastopen-sendto; }
@test "kernel guard: TCP Fast Open, sendmsg(MSG_FASTOPEN)" { kernel_case ::1 -s fastopen-sendmsg; }
@test "kernel guard: TCP Fast Open, TCP_FASTOPEN_CONNECT" { kernel_case 127.0.0.1 -s fastopen-connect; }
@test "kernel guard: MPTCP" { kernel_case 127.0.0.1 -m; }
@test "kernel guard: MPTCP over IPv6, non-blocking" { kernel_case ::1 -m -s nonblock; }
@test "kernel guard: four threads, non-blocking" { kernel_case 127.0.0.1 -t 4 -s nonblock; }
@test "kernel guard: IP_BIND_ADDRESS_NO_PORT, IPv4" { kernel_case 127.0.0.1 -b noport; }
@test "kernel guard: IP_BIND_ADDRESS_NO_PORT, IPv6" { kernel_case fd00::1 -b noport; }
@test "kernel guard: a static client, raw syscall(SYS_connect)" {
	DIAL="$BUILD/tests/dial-static"
	kernel_case 127.0.0.1 -r
}

# Two ports: bind() prefers the odd one, connect() the even one.
@test "kernel guard: bound first, bind(ip, 0) drew the target: refused as the kernel refuses" {
	NSC_TEST_RANGE="50000 50001"
	local addr
	for addr in 127.0.0.1 ::1 10.99.0.1 fd00::1; do
		run in_netns "$DIAL" -n 100 -b port0 "$addr" 50001
		expect self 100
		kguard_start
		run in_cgroup in_netns "$DIAL" -n 100 -b port0 "$addr" 50001
		echo "$addr guarded: $output"
		expect self 0
		expect refused 100
		kguard_stop
		expect_count refused 100
	done
}

@test "kernel guard: bound first to the wildcard, 0.0.0.0 and ::, then its own port" {
	NSC_TEST_RANGE="50000 50001"
	local addr
	for addr in 127.0.0.1 ::1; do
		run in_netns "$DIAL" -n 100 -b any0 "$addr" 50001
		expect self 100
		kguard_start
		run in_cgroup in_netns "$DIAL" -n 100 -b any0 "$addr" 50001
		echo "$addr guarded: $output"
		expect self 0
		expect refused 100
		kguard_stop
		expect_count refused 100
	done
}

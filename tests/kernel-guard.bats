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

# A trial bind cannot tell a link-local address (the context has no scope
# id: EINVAL): the namespace's addresses the daemon read do, and before it
# read them the destination is taken for local.
@test "kernel guard: a link-local address of its own, fe80::1%lo, before and after the daemon read it" {
	DIAL="$BATS_TEST_TMPDIR/dial-link-local"
	printf '#!/bin/sh\nip -6 addr add fe80::1/64 dev lo nodad\nexec "%s" "$@"\n' \
		"$BUILD/tests/dial" > "$DIAL"
	chmod +x "$DIAL"
	kernel_case fe80::1%lo
	expect_count trial_binds 0
	kguard_start
	held_netns
	in_held ip -6 addr add fe80::1/64 dev lo nodad
	kguard_reread
	run in_held "$BUILD/tests/dial" -n 300 fe80::1%lo "$TARGET"
	echo "read by the daemon: $output"
	expect self 0
	expect refused 300
	kguard_stop
	[ "$(($(kcount steered) + $(kcount refused)))" -eq 300 ]
	expect_count trial_binds 0
}

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

# bound_to_target HOW ADDR...: a socket bound first (dial -b HOW) drew the
# port it then dials, in a range of two ports (bind() prefers the odd one,
# connect() the even one): it meets itself every time without a guard;
# guarded, every dial is refused as the kernel refuses, and counted so.
bound_to_target() {
	local how="$1" addr
	shift
	NSC_TEST_RANGE="50000 50001"
	for addr in "$@"; do
		run in_netns "$DIAL" -n 100 -b "$how" "$addr" 50001
		expect self 100
		kguard_start
		run in_cgroup in_netns "$DIAL" -n 100 -b "$how" "$addr" 50001
		echo "$addr guarded: $output"
		expect self 0
		expect refused 100
		local seen
		seen=$(dials_seen)
		kguard_stop
		expect_count refused "$seen"
	done
}

@test "kernel guard: bound first, bind(ip, 0) drew the target: refused as the kernel refuses" {
	bound_to_target port0 127.0.0.1 ::1 10.99.0.1 fd00::1
}

@test "kernel guard: bound first to the wildcard, 0.0.0.0 and :: (dual-stack, v4-mapped too), then its own port" {
	bound_to_target any0 127.0.0.1 ::1 ::ffff:10.99.0.1
}

@test "kernel guard: io_uring, IORING_OP_CONNECT and IORING_OP_SENDMSG with MSG_FASTOPEN" {
	DIAL="$BUILD/tests/uring"
	kernel_case 127.0.0.1 -s connect
	kernel_case ::1 -s fastopen-sendmsg
}

@test "kernel guard: a 32-bit (i386) program" {
	[ -x "$BUILD/tests/dial-i386" ] || {
		echo "no i386 build: tests/deps.sh installs gcc-multilib" >&2
		return 1
	}
	DIAL="$BUILD/tests/dial-i386"
	kernel_case 127.0.0.1
}

@test "kernel guard: i386 system calls from a 64-bit program (int \$0x80: connect, socketcall)" {
	DIAL="$BUILD/tests/rawcall" BIND_AFTER=""
	kernel_case 127.0.0.1 -s i386-connect
	kernel_case 127.0.0.1 -s i386-socketcall
}

@test "kernel guard: connect() from a handle on libc (Python ctypes.CDLL)" {
	local py="$ROOT/tests/helpers/ctypes_dial.py"
	run in_netns python3 "$py" 300 127.0.0.1 "$TARGET"
	echo "without a guard: $output"
	expect_at_least self 1
	kguard_start
	run in_cgroup in_netns python3 "$py" 300 127.0.0.1 "$TARGET"
	echo "guarded: $output"
	expect self 0
	expect refused 300
	kguard_stop
	[ "$(($(kcount steered) + $(kcount refused)))" -eq 300 ]
}

@test "kernel guard: static Go (CGO_ENABLED=0), which retries a self-connection twice and then keeps it" {
	export GOCACHE="$BUILD/go/cache" GOPATH="$BUILD/go/path" GOFLAGS=-mod=mod GOPROXY=off
	(cd "$ROOT/tests/go" && CGO_ENABLED=0 go build -o "$BUILD/tests/selfdial-static" ./selfdial)
	local go="$BUILD/tests/selfdial-static"
	NSC_TEST_RANGE="50000 50001"
	run in_netns "$go" -k -n 200 "127.0.0.1:50000"
	echo "without a guard: $output"
	expect self 1
	kguard_start
	run in_cgroup in_netns "$go" -n 200 "127.0.0.1:50000"
	echo "guarded: $output"
	expect self 0
	expect refused 200
	expect failed 0
	kguard_stop
	[ "$(($(kcount steered) + $(kcount refused)))" -ge 200 ]
}

# Item 3: where a self-connection would have formed, the program sees what
# a refused dial gives, side by side with one to a port no one holds outside
# the range (so it can only be refused), in the same namespace.
@test "kernel guard: refused as the kernel refuses: blocking ECONNREFUSED, non-blocking EINPROGRESS then SO_ERROR" {
	local py="$ROOT/tests/helpers/refusal.py" addr
	NSC_TEST_RANGE="50000 50000" # one port: an unguarded dial to it meets itself
	kguard_cgroup
	for addr in 127.0.0.1 ::1; do
		run in_netns python3 "$py" "$addr" 50000
		echo "$addr:50000 without a guard: $output"
		[[ "$output" == *"blocking: OK SELF"* ]]
		run in_netns python3 "$py" "$addr" 1
		echo "$addr:1, refused, without a guard: $output"
		local plain="$output"
		[[ "$plain" == *"blocking: ECONNREFUSED"* ]]
		[[ "$plain" == *"nonblock: EINPROGRESS then SO_ERROR=ECONNREFUSED"* ]]
		kguard_start "$KG_CGROUP"
		run in_cgroup in_netns python3 "$py" "$addr" 50000
		echo "$addr:50000 guarded: $output"
		[ "$output" = "$plain" ]
		# Bound to the target port itself (the guard refuses through port 0)
		run in_netns python3 "$py" "$addr" 50000 bound
		echo "$addr:50000 bound to it, without a guard: $output"
		[[ "$output" == *"blocking: OK SELF"* ]]
		run in_cgroup in_netns python3 "$py" "$addr" 50000 bound
		echo "$addr:50000 bound to it, guarded: $output"
		[ "$output" = "$plain" ]
		kguard_stop
		[ "$(($(kcount steered) + $(kcount refused)))" -eq 4 ]
		expect_at_least_count refused 2
	done
}

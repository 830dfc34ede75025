#!/usr/bin/env bats
# noselfconn --supervise and what it cannot guard: each is avoided, or said
# once per process, naming it; never passed silently.

load helpers
load helpers/supervise

URING="$BUILD/tests/uring"

setup() {
	require_netns
}

# said_once WHAT NAME: $stderr has exactly one line, about process NAME, saying WHAT.
said_once() {
	echo "$stderr"
	[ "$(grep -c . <<<"$stderr")" -eq 1 ]
	[[ "$stderr" == "noselfconn: "*"process "[0-9]*" ($2)"*"$1"* ]]
}

@test "supervised: a destination in memory only the program may read (memfd_secret) is said, once" {
	run in_netns "$RAWCALL" -M -k -n 300 127.0.0.1 "$TARGET"
	expect_at_least self 1
	run --separate-stderr in_netns "$WRAPPER" --supervise "$RAWCALL" -M -n 300 127.0.0.1 "$TARGET"
	[ "$status" -eq 0 ]
	expect attempts 300
	said_once "memory no other process may read; they go unguarded" rawcall
	# An address that is not mapped at all is the kernel's EFAULT, as without us: nothing said.
	run --separate-stderr in_netns "$WRAPPER" --supervise "$BUILD/tests/badcalls" badpointers "$TARGET"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
}

@test "supervised: with few descriptors (RLIMIT_NOFILE 64), the supervisor gives back its cache and guards every dial" {
	# 56 threads: a pidfd each in the supervisor's cache, more than 64 with its own.
	run in_netns prlimit --nofile=64 "$STATIC" -r -t 56 -n 20 127.0.0.1 "$TARGET"
	expect_at_least self 1
	run --separate-stderr in_netns prlimit --nofile=64 "$WRAPPER" --supervise "$STATIC" -r -t 56 -n 20 127.0.0.1 "$TARGET"
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	expect self 0
	expect refused 1120
	[ -z "$stderr" ]
}

@test "supervised: a program's own seccomp listener, refused by the kernel (EBUSY), is said once" {
	run in_netns "$RAWCALL" -U -n 10 127.0.0.1 "$TARGET"
	expect own_listener ok
	run --separate-stderr in_netns "$WRAPPER" --supervise "$RAWCALL" -U -n 10 127.0.0.1 "$TARGET"
	[ "$status" -eq 0 ]
	expect own_listener EBUSY
	said_once "seccomp listener of its own, which the kernel refuses (EBUSY)" rawcall
}

@test "supervised: io_uring's dials, which seccomp does not see, are said once, naming the kernel guard" {
	local style
	for style in connect fastopen-sendmsg; do
		run in_netns "$URING" -s "$style" -k -n 300 127.0.0.1 "$TARGET"
		expect_at_least self 1
		run --separate-stderr in_netns "$WRAPPER" --supervise "$URING" -s "$style" -n 300 127.0.0.1 "$TARGET"
		[ "$status" -eq 0 ]
		expect attempts 300
		said_once "through io_uring, which seccomp does not see; they go unguarded (noselfconn --kernel CGROUP" uring
	done
}

@test "supervised: 32-bit system calls (int \$0x80: connect, socketcall) are said once, naming the kernel guard" {
	[ "$(uname -m)" = x86_64 ] || skip "int \$0x80 is x86"
	local style
	for style in i386-connect i386-socketcall; do
		run in_netns "$RAWCALL" -s "$style" -k -n 300 127.0.0.1 "$TARGET"
		expect_at_least self 1
		run --separate-stderr in_netns "$WRAPPER" --supervise "$RAWCALL" -s "$style" -n 300 127.0.0.1 "$TARGET"
		[ "$status" -eq 0 ]
		expect attempts 300
		said_once "it makes 32-bit system calls; they go unguarded (noselfconn --kernel CGROUP" rawcall
	done
}

@test "supervised: what it cannot guard goes to syslog too (NOSELFCONN_LOG=syslog)" {
	with_syslog "" "$WRAPPER" --supervise "$URING" -n 20 127.0.0.1 "$TARGET"
	echo "$output"
	[ "$(grep -c 'noselfconn\[[0-9]*\]: cannot guard the dials of process [0-9]* (uring) through io_uring' <<<"$output")" -eq 1 ]
}

#!/usr/bin/env bats
# The fall-backs for kernels older than this one, run here: the oldkernel
# helper makes the newer features fail the way an old kernel fails them
# (a seccomp filter the command and all it starts inherit). Each case shows
# the self-connection under the same conditions without the guard, then
# none with it, and the trace (or message) that proves the fall-back ran.
# Real 6.1 and 6.12 kernels: make test-kernels.

load helpers

OLD="$BUILD/tests/oldkernel"
STATIC="$BUILD/tests/dial-static"

setup() {
	require_netns
	TRACE="$BATS_TEST_TMPDIR/trace"
}

# control OLDKERNEL-OPTIONS CLIENT [DIAL OPTIONS...]: the client, under the
# same old kernel but unguarded, connects to itself.
control() {
	local features="$1" client="$2"
	shift 2
	run in_netns "$OLD" "$features" "$client" -k -n 500 "$@" 127.0.0.1 "$TARGET"
	[ "$status" -eq 0 ]
	expect_at_least self 1
}

# guarded_traced OLDKERNEL-OPTIONS CMD...: CMD under the old kernel and
# strace (the trace in $TRACE); every dial refused, none met itself.
guarded_traced() {
	local features="$1"
	shift
	run --separate-stderr in_netns strace -f -qq -o "$TRACE" \
		-e trace=getsockopt,setsockopt,bind,pidfd_open "$OLD" "$features" "$@"
	[ "$status" -eq 0 ]
	expect self 0
	expect failed 0
	[ "$(field refused)" -eq "$(field attempts)" ]
}

# traced PATTERN: the trace has a line matching PATTERN (grep -E).
traced() {
	grep -Eq "$1" "$TRACE" || { echo "no '$1' in the trace:"; grep -v SO_ "$TRACE" | head -20; false; }
}

# (A blocking dial that met itself is refused at once on any kernel: the
# dial under way, non-blocking, is the one made again where it can be.)
@test "before 6.3, check mode: no IP_LOCAL_PORT_RANGE, so the dial is refused outright" {
	control -r "$DIAL" -s nonblock
	guarded_traced -r "${WITH_LIB[@]}" NOSELFCONN_MODE=check "$DIAL" -n 300 -s nonblock -L 127.0.0.1 "$TARGET"
	expect bind_after ok
	traced 'getsockopt\(.*SOL_IP, 0x33 .*ENOPROTOOPT'
	[ "$(grep -c 'setsockopt(.*SOL_IP, 0x33 .*= 0$' "$TRACE")" -eq 0 ]
}

@test "before 6.3, prebind mode falls back to check" {
	control -r "$DIAL" -s nonblock
	guarded_traced -r "${WITH_LIB[@]}" NOSELFCONN_MODE=prebind "$DIAL" -n 300 -s nonblock ::1 "$TARGET"
	traced 'getsockopt\(.*SOL_IP, 0x33 .*ENOPROTOOPT'
	# check's undo of the self-connection: the pending ECONNRESET cleared
	traced 'SO_ERROR, \[ECONNRESET\]'
}

@test "before 6.3, the supervisor binds another port of the range" {
	control -r "$STATIC" -r
	guarded_traced -r "$WRAPPER" --supervise "$STATIC" -r -n 300 -L 127.0.0.1 "$TARGET"
	expect bind_after ok
	traced 'setsockopt\(.*SOL_IP, 0x33 .*ENOPROTOOPT'
	traced "bind\(.*sin_port=htons\(500(0[1-9]|10)\).* = 0$"
}

@test "before 6.3, a one-port range: the supervisor has no other port, so it refuses" {
	NSC_TEST_RANGE="$TARGET $TARGET"
	control -r "$STATIC" -r
	guarded_traced -r "$WRAPPER" --supervise "$STATIC" -r -n 100 127.0.0.1 "$TARGET"
	traced 'getsockopt\(.*SOL_IP, 0x33 .*ENOPROTOOPT'
	[ "$(grep -cE '^[0-9]+ bind' "$TRACE")" -eq 0 ]
}

@test "before 6.9, the supervisor opens a pidfd for the thread group" {
	control -t "$STATIC" -r -t 4
	guarded_traced -t "$WRAPPER" --supervise "$STATIC" -r -n 300 -t 4 127.0.0.1 "$TARGET"
	traced 'pidfd_open\([0-9]+, 0x80.*EINVAL'
	traced 'pidfd_open\([0-9]+, 0\) += [0-9]+$'
}

@test "before 5.0, no seccomp user notification: one line, then the preload, or 125" {
	control -n "$DIAL"
	run --separate-stderr in_netns "$OLD" -n "${WRAPPER_RUN[@]}" --supervise "$DIAL" -n 300 127.0.0.1 "$TARGET"
	[ "$status" -eq 0 ]
	[ "$stderr" = "noselfconn: --supervise is unavailable here (seccomp user notification: Invalid argument); using the preload instead" ]
	expect self 0
	expect refused 300
	run --separate-stderr "$OLD" -n "$WRAPPER" --supervise --fallback=none true
	[ "$status" -eq 125 ]
	[[ "$stderr" == *"(seccomp user notification: Invalid argument); giving up" ]]
}

# The kernels of the distributions users run, every feature newer than it gone.
@test "5.0 to 5.5, no pidfd_getfd: --supervise falls back to the preload" {
	run in_netns "$OLD" -g "$DIAL" -k -n 500 127.0.0.1 "$TARGET"
	expect_at_least self 1
	run --separate-stderr in_netns "$OLD" -g "${WRAPPER_RUN[@]}" --supervise "$DIAL" -n 300 127.0.0.1 "$TARGET"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"using the preload instead"* ]]
	expect self 0
	expect refused 300
}

@test "as on RHEL 9 (5.14) and Ubuntu 22.04 (5.15): both modes and the supervisor" {
	local kernel mode
	for kernel in 5.14 5.15; do
		control "-k$kernel" "$STATIC" -r
		for mode in check prebind; do
			run in_netns "$OLD" "-k$kernel" "${WITH_LIB[@]}" NOSELFCONN_MODE=$mode "$DIAL" -n 200 -s nonblock 127.0.0.1 "$TARGET"
			expect self 0
			expect refused 200
		done
		run in_netns "$OLD" "-k$kernel" "$WRAPPER" --supervise "$STATIC" -r -n 100 -t 2 ::1 "$TARGET"
		expect self 0
		expect refused 200
	done
}

@test "as on RHEL 8 (4.18): the supervisor falls back to the preload, which refuses" {
	control -k4.18 "$DIAL"
	run --separate-stderr in_netns "$OLD" -k4.18 "${WRAPPER_RUN[@]}" --supervise "$DIAL" -n 300 ::1 "$TARGET"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"using the preload instead" ]]
	expect self 0
	expect refused 300
}

@test "oldkernel: usage errors exit 2" {
	run "$OLD"
	[ "$status" -eq 2 ]
	run "$OLD" -k banana true
	[ "$status" -eq 2 ]
}

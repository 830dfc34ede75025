#!/usr/bin/env bats
# Invisible when nothing is wrong: bad input gets libc's own answer, errno is
# untouched on success, and what cannot self-connect costs no system call.

load helpers

BADCALLS="$BUILD/tests/badcalls"
NEVER_CHOSEN=50001 # in range, but odd: connect() tries the even ports first

setup() {
	require_netns
}

# network_calls CMD...: how many of the calls the library can make CMD makes.
network_calls() {
	local trace="$BATS_TEST_TMPDIR/trace"
	in_netns strace -f -qq -e trace="$LIBRARY_CALLS" -o "$trace" "$@" >/dev/null
	count_library_calls "$trace"
}

@test "bad input: same return value and errno with and without the library, every mode" {
	run in_netns "$BADCALLS" all "$NEVER_CHOSEN"
	[ "$status" -eq 0 ]
	local without="$output"
	[ "$(grep -c . <<<"$without")" -ge 24 ]
	for mode in check prebind off; do
		run in_netns env LD_PRELOAD="$PRELOAD_LIB" NOSELFCONN_MODE=$mode "$BADCALLS" all "$NEVER_CHOSEN"
		[ "$status" -eq 0 ]
		diff <(echo "$without") <(echo "$output")
	done
}

@test "bad input: an address the kernel cannot read gets EFAULT, as from libc (modes check, off)" {
	run in_netns "$BADCALLS" badpointers "$NEVER_CHOSEN"
	[ "$status" -eq 0 ]
	local without="$output"
	[ "$(grep -c 'errno=EFAULT' <<<"$without")" -eq 8 ]
	for mode in check off; do
		run in_netns env LD_PRELOAD="$PRELOAD_LIB" NOSELFCONN_MODE=$mode "$BADCALLS" badpointers "$NEVER_CHOSEN"
		[ "$status" -eq 0 ]
		diff <(echo "$without") <(echo "$output")
	done
}

@test "bad input: errno is untouched by a successful call" {
	run in_netns "${WITH_LIB[@]}" "$BADCALLS" all "$NEVER_CHOSEN"
	grep -q '^udp-socket .*ret=0 errno=untouched$' <<<"$output"
	grep -q '^af-unspec .*ret=0 errno=untouched$' <<<"$output"
}

# bats test_tags=no-coverage
@test "no extra system call: non-INET, NULL, malformed, port outside the range, no MSG_FASTOPEN" {
	local without with
	without=$(network_calls "$BADCALLS" passthrough "$NEVER_CHOSEN")
	for mode in check prebind; do
		with=$(network_calls env LD_PRELOAD="$PRELOAD_LIB" NOSELFCONN_MODE=$mode "$BADCALLS" passthrough "$NEVER_CHOSEN")
		echo "mode $mode: $with network calls with the library, $without without"
		[ "$without" -gt 10 ]
		[ "$with" -eq "$without" ]
	done
}

# bats test_tags=no-coverage
@test "default mode: one extra system call per guarded dial, none per refused blocking dial" {
	local without with
	without=$(network_calls "$DIAL" -n 50 -s nonblock 127.0.0.1 "$NEVER_CHOSEN")
	with=$(network_calls "${WITH_LIB[@]}" "$DIAL" -n 50 -s nonblock 127.0.0.1 "$NEVER_CHOSEN")
	echo "non-blocking: $with with, $without without"
	[ "$with" -eq $((without + 50)) ]

	without=$(network_calls "$DIAL" -n 50 -s blocking 127.0.0.1 "$NEVER_CHOSEN")
	with=$(network_calls "${WITH_LIB[@]}" "$DIAL" -n 50 -s blocking 127.0.0.1 "$NEVER_CHOSEN")
	echo "blocking, refused: $with with, $without without"
	[ "$with" -eq "$without" ]
}

LIVECALLS="$BUILD/tests/livecalls"
LISTENING=50005 # in the range: livecalls listens here (and one above)

# same_answers LIVECALLS-ARGS...: livecalls prints the same lines without
# the library and with it, in every mode.
same_answers() {
	run in_netns "$LIVECALLS" "$@"
	[ "$status" -eq 0 ]
	local without="$output" mode
	echo "without the library:"$'\n'"$without"
	for mode in check prebind off; do
		run in_netns env LD_PRELOAD="$PRELOAD_LIB" NOSELFCONN_MODE=$mode "$LIVECALLS" "$@"
		[ "$status" -eq 0 ]
		echo "mode $mode:"
		diff <(echo "$without") <(echo "$output")
	done
}

# A blocking TCP Fast Open send above 4 KiB is split in two where it could
# hang (guarded, blocking). Before, every such send without MSG_DONTWAIT
# was: non-blocking ones got EAGAIN (a silent peer) or 16384 bytes sent (a
# listening one) where libc says EINPROGRESS, a send timeout EAGAIN.
@test "TCP Fast Open sends of 16 KiB: libc's answer, non-blocking, outside the range, with a send timeout" {
	same_answers fastopen "$LISTENING"
	[ "$(grep -c 'errno=EINPROGRESS' <<<"$output")" -eq 5 ]
}

# Each large send the program lets wait has its address read by the kernel
# first (getpid, process_vm_readv), so that a bad pointer gets EFAULT and a
# send outside the range is never split: 2 calls, on this path alone.
# bats test_tags=no-coverage
@test "TCP Fast Open sends of 16 KiB: the address read, no more outside the range; F_GETFL, then a split send, where guarded" {
	local without with
	without=$(network_calls "$LIVECALLS" fastopen-passthrough "$LISTENING")
	with=$(network_calls "${WITH_LIB[@]}" "$LIVECALLS" fastopen-passthrough "$LISTENING")
	echo "outside the range, mode check: $with calls with the library, $without without"
	[ "$with" -eq $((without + 4 * 2)) ]
	with=$(network_calls env LD_PRELOAD="$PRELOAD_LIB" NOSELFCONN_MODE=prebind "$LIVECALLS" fastopen-passthrough "$LISTENING")
	echo "outside the range, mode prebind: $with calls with the library, $without without"
	[ "$with" -eq "$without" ]
	# With guarded sends, mode check: two fillers' dials (a look each), the
	# address of each of the 7 large sends (2), and for the 3 guarded ones
	# F_GETFL and a look, and for the 2 of them that block the rest.
	without=$(network_calls "$LIVECALLS" fastopen "$LISTENING")
	with=$(network_calls "${WITH_LIB[@]}" "$LIVECALLS" fastopen "$LISTENING")
	echo "with guarded sends: $with calls with the library, $without without"
	[ "$with" -eq $((without + 2 + 7 * 2 + 3 * 2 + 2)) ]
}

# A socket whose peer reset it, dialed again, gets EISCONN (connected
# before), ECONNRESET or EPIPE (still connecting, or half closed) from the
# kernel. Before, every one of them was answered ECONNREFUSED, in both
# modes: the library took "no peer" or "torn down" for its own undo.
@test "a socket its peer reset, dialed again: libc's answer, blocking and non-blocking, every mode" {
	same_answers redials "$LISTENING"
	[ "$(grep -c 'errno=EISCONN' <<<"$output")" -eq 6 ]
	[ "$(grep -c 'errno=ECONNRESET' <<<"$output")" -eq 2 ]
	[ "$(grep -c 'errno=EPIPE' <<<"$output")" -eq 1 ]
}

@test "exported symbols are the interposed calls and nothing else" {
	run nm -D --defined-only "$LIB"
	[ "$status" -eq 0 ]
	[ "$(awk '{print $3}' <<<"$output" | sort | tr '\n' ' ')" = "chroot connect sendmmsg sendmsg sendto setns unshare " ]
}

#!/usr/bin/env bats
# noselfconn --supervise and the processes it serves: never break them,
# never leave them behind, never stay silent about what it cannot guard.

load helpers
load helpers/supervise

@test "supervised: every catchable terminating signal reaches the command" {
	local sig
	for sig in INT TERM HUP QUIT USR1 USR2 ALRM PIPE; do
		# (--default-signal: a background job starts with SIGINT ignored,
		# and a shell cannot trap what it inherited ignored)
		# (a file of its own each time: the last one's "ready" must not
		# let the signal go before this command is ready for it)
		env --default-signal "$WRAPPER" --supervise sh -c "trap 'exit 42' $sig; echo ready; while :; do sleep 0.05; done" \
			>"$BATS_TEST_TMPDIR/out.$sig" 2>&1 &
		local supervisor=$!
		wait_for grep -q ready "$BATS_TEST_TMPDIR/out.$sig"
		kill -s "$sig" "$supervisor"
		local status=0
		wait "$supervisor" || status=$?
		echo "$sig: $status"
		[ "$status" -eq 42 ]
	done
}

@test "supervised: after the command exits, signals go to what remains of its tree" {
	env --default-signal "$WRAPPER" --supervise sh -c \
		"(trap 'exit 0' TERM; echo \$(exec sh -c 'echo \$PPID') > '$BATS_TEST_TMPDIR/orphan'; while :; do sleep 0.05; done) & exit 5" &
	local supervisor=$!
	wait_for test -s "$BATS_TEST_TMPDIR/orphan"
	kill -TERM "$supervisor"
	local status=0
	wait "$supervisor" || status=$?
	[ "$status" -eq 5 ]
	gone "$(cat "$BATS_TEST_TMPDIR/orphan")"
}

# start_tree OUT: the supervisor running a command that leaves two sleeps,
# a child and a grandchild in a session of its own; their pids in OUT.
start_tree() {
	"$WRAPPER" --supervise sh -c 'sleep 60 & echo $! >> "$0"; setsid sh -c "sleep 60 & echo \$! >> \"$0\"; wait" & wait' \
		"$1" >/dev/null 2>&1 &
	SUPERVISOR=$!
	wait_for has_lines "$1" 2
}

@test "supervised: if the supervisor is killed, nothing it served keeps running" {
	local pids="$BATS_TEST_TMPDIR/pids"
	# The top process killed: the keeper below it stops the tree.
	start_tree "$pids"
	kill -KILL "$SUPERVISOR"
	# shellcheck disable=SC2046 # one pid a line
	wait_for gone $(cat "$pids")
	rm "$pids"
	# The keeper killed (as the OOM killer might): the top stops the tree.
	start_tree "$pids"
	local keeper
	keeper="$(cat "/proc/$SUPERVISOR/task/$SUPERVISOR/children")"
	kill -KILL $keeper
	# shellcheck disable=SC2046
	wait_for gone $(cat "$pids")
	local status=0
	wait "$SUPERVISOR" || status=$?
	[ "$status" -eq 125 ]
}

# Idle, the supervisor sleeps: after a burst of dials, no thread of its two
# processes (the top and the keeper that answers) wakes up for a second.
@test "supervised: idle, the supervisor's threads do not wake up" {
	require_netns
	run in_netns sh -c '
		switches() { cat /proc/"$1"/task/*/status /proc/"$2"/task/*/status |
			awk "/ctxt_switches/ { n += \$2 } END { print n }"; }
		"$1" --supervise sh -c "\"\$0\" -n 500 -s nonblock 127.0.0.1 8080 >/dev/null; touch \"\$1\"; exec sleep 30" \
			"$2" "$3" &
		top=$!
		until [ -e "$3" ]; do sleep 0.05; done
		sleep 0.3 # the backup looks every 5 ms while dials come, then parks
		keeper=$(cat /proc/$top/task/$top/children)
		before=$(switches $top $keeper)
		sleep 1
		after=$(switches $top $keeper)
		kill -TERM $top
		wait $top 2>/dev/null # it dies of the SIGTERM, as sleep does
		echo "context switches in one idle second: $((after - before))"' \
		sh "$WRAPPER" "$DIAL" "$BATS_TEST_TMPDIR/burst-done"
	echo "$output"
	[ "$output" = "context switches in one idle second: 0" ]
}

@test "supervised as root: setuid programs keep their privileges" {
	require_root
	local dir="$BUILD/tests/setuid"
	mkdir -p "$dir"
	chmod 755 "$dir"
	cp /usr/bin/id "$dir/id"
	chmod 4755 "$dir/id"
	run "${AS_NOBODY[@]}" "$dir/id" -u
	[ "$output" = 0 ] || skip "setuid programs do not run here (a nosuid mount?)"
	run --separate-stderr "$WRAPPER" --supervise "${AS_NOBODY[@]}" "$dir/id" -u
	rm -rf "$dir"
	[ "$status" -eq 0 ]
	[ "$output" = 0 ]
	[ -z "$stderr" ]
}

# A coverage build run as nobody adds gcov's complaints to stderr.
# bats test_tags=no-coverage
@test "supervised unprivileged: one line says no_new_privs is set" {
	require_root
	run --separate-stderr "${AS_NOBODY[@]}" "$WRAPPER" --supervise true
	[ "$status" -eq 0 ]
	[ "$(grep -c . <<<"$stderr")" -eq 1 ]
	[[ "$stderr" == *"no_new_privs"* ]]
}

@test "supervised unprivileged: a process it cannot read is named once, never silently passed" {
	require_root
	require_netns
	local readable
	readable=$(readable_copy "$WRAPPER" "$RAWCALL")
	run --separate-stderr in_netns "${AS_NOBODY[@]}" "$readable/noselfconn" --supervise \
		"$readable/rawcall" -D -n 100 127.0.0.1 "$TARGET"
	echo "$stderr"
	[ "$status" -eq 0 ]
	expect attempts 100
	[ "$(grep -c 'cannot guard the dials of process [0-9]* (rawcall)' <<<"$stderr")" -eq 1 ]
	# As root it reads every process: guarded.
	run in_netns "$WRAPPER" --supervise "$RAWCALL" -D -n 100 127.0.0.1 "$TARGET"
	expect self 0
	expect refused 100
}

@test "supervised: the preload fall-back leaves the command no subreaper" {
	local probe='import ctypes; v = ctypes.c_int(); ctypes.CDLL(None).prctl(37, ctypes.byref(v), 0, 0, 0); print("subreaper=%d" % v.value)'
	run "$BUILD/tests/noseccomp" "${WRAPPER_RUN[@]}" --supervise python3 -c "$probe"
	[ "$status" -eq 0 ]
	[[ "$output" == *"subreaper=0"* ]]
}

@test "supervised: 127 for a command not found, even with stderr closed" {
	run -127 "$WRAPPER" --supervise no-such-command-anywhere
	run -127 sh -c '"$0" --supervise no-such-command-anywhere 2>&-' "$WRAPPER"
}

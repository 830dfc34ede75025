#!/usr/bin/env bats
# noselfconn --supervise under signals and job control: the shell, the
# terminal and systemd see what they see of the command alone.

load helpers
load helpers/supervise

SIGNALS="$BUILD/tests/signals"
PTY_RUN=(python3 "$ROOT/tests/helpers/pty_run.py")

# count N: how many lines of $output say signal N was delivered.
count() {
	grep -o 'got [0-9]*' <<<"$output" | grep -cx "got $1" || true
}

@test "supervised: ^C on a terminal reaches the command once" {
	# Then a SIGUSR1 sent to the supervisor alone, passed on after any copy
	# of the ^C; SIGUSR2 ends the command.
	run "${PTY_RUN[@]}" expect:ready 'send:\x03' 'expect:got 2' kill:USR1 'expect:got 10' kill:USR2 \
		-- "$WRAPPER" --supervise "$SIGNALS"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(count 2)" -eq 1 ]
	[ "$(count 10)" -eq 1 ]
	[[ "$output" == *"status=exited 0"* ]]
}

@test "supervised: a signal to the whole process group reaches the command once" {
	local out sig
	for sig in TERM HUP INT; do
		out="$BATS_TEST_TMPDIR/out.$sig" # not the last one's "ready"
		# A group of its own, as a shell's job has (bats runs no job control).
		setsid "$WRAPPER" --supervise "$SIGNALS" >"$out" 2>&1 &
		local supervisor=$!
		wait_for grep -q ready "$out"
		[ "$(ps -o pgid= -p "$supervisor")" -eq "$supervisor" ]
		kill -s "$sig" -- "-$supervisor"
		wait_for grep -q "got $(kill -l "$sig")" "$out"
		kill -USR1 "$supervisor"
		wait_for grep -q "got 10" "$out"
		kill -USR2 "$supervisor"
		wait "$supervisor"
		output="$(cat "$out")"
		echo "$sig: $output"
		[ "$(count "$(kill -l "$sig")")" -eq 1 ]
	done
}

# exit_or_signal CMD...: "exited N" or "killed SIGNAME", as a parent sees it.
exit_or_signal() {
	python3 -c '
import signal, subprocess, sys
r = subprocess.run(sys.argv[1:]).returncode
print("exited %d" % r if r >= 0 else "killed " + signal.Signals(-r).name)' "$@"
}

@test "supervised: when the command dies of a signal, the supervisor dies of the same signal" {
	local sig
	for sig in SEGV INT TERM KILL ABRT; do
		run exit_or_signal "$WRAPPER" --supervise sh -c "kill -$sig \$\$"
		echo "$sig: $output"
		[ "$output" = "killed SIG$sig" ]
	done
	run exit_or_signal "$WRAPPER" --supervise sh -c 'exit 139'
	[ "$output" = "exited 139" ]
}

@test "supervised: real-time, fault, WINCH, URG and CONT signals reach the command's handler once" {
	local out="$BATS_TEST_TMPDIR/out" sig sent=()
	env --default-signal "$WRAPPER" --supervise "$SIGNALS" >"$out" 2>&1 &
	local supervisor=$!
	wait_for grep -q ready "$out"
	for sig in RTMIN RTMIN+1 RTMAX STKFLT ABRT TRAP SYS BUS SEGV FPE ILL WINCH URG CONT TSTP TTIN TTOU; do
		kill -s "$sig" "$supervisor"
		sent+=("$(kill -l "$sig" 2>/dev/null || kill -l "SIG$sig")")
		wait_for grep -q "^got ${sent[-1]}\$" "$out"
	done
	kill -USR2 "$supervisor"
	local status=0
	wait "$supervisor" || status=$?
	output="$(cat "$out")"
	echo "$output"
	[ "$status" -eq 0 ]
	for sig in "${sent[@]}"; do
		[ "$(count "$sig")" -eq 1 ]
	done
}

@test "supervised: a command that stops stops the supervisor; the shell gets its prompt, fg resumes both" {
	# kill -STOP $$ in the command; then ^Z, fg and ^C on a loop that never
	# forks (a shell's vfork()ed child stopped before its exec holds the
	# shell in the kernel, where it cannot stop, with or without us).
	local loop='import signal, time
signal.signal(signal.SIGCONT, lambda *a: print("con" "tinued", flush=True))
print("sta" "rted", flush=True)
while True: time.sleep(0.1)'
	run "${PTY_RUN[@]}" 'expect:$ ' \
		"send:$WRAPPER --supervise sh -c 'kill -STOP \$\$; echo res\"\"umed'\n" 'expect:Stopped' 'expect:$ ' \
		'send:fg\n' 'expect:resumed' 'expect:$ ' \
		"send:$WRAPPER --supervise python3 -c '$loop'\n" 'expect:started' 'send:\x1a' 'expect:Stopped' 'expect:$ ' \
		'send:fg\n' 'expect:continued' 'send:\x03' 'expect:$ ' \
		'send:echo status=$?\n' 'expect:status=130' 'send:exit\n' \
		-- env PS1='$ ' TERM=dumb bash --norc --noprofile -i
	echo "$output"
	[ "$status" -eq 0 ]
}

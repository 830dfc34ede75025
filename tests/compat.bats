#!/usr/bin/env bats
# Real programs from Debian's packages under the guard. For each: it connects
# to itself without the library; under noselfconn it never does in hundreds
# of attempts and reports its usual "connection refused"; and against a real
# listener on an ephemeral port, data passes end to end unchanged.
# The compatibility table of shim/doc/testing.md is checked against ROWS below.

# Under make sanitize these are left out (file tag foreign-programs): the ASan
# runtime preloaded into uninstrumented third-party programs hung curl at
# start-up in glibc's setlocale lock, nothing of ours; the library's paths
# they exercise run under ASan and UBSan in the helper-based tests.
# bats file_tags=foreign-programs

load helpers

# program|how it dials (each checked with strace below)|command, PORT substituted
ROWS=(
	"telnet|blocking|telnet 127.0.0.1 PORT"
	"nc (netcat-openbsd)|non-blocking|nc -z -v 127.0.0.1 PORT"
	"socat|blocking|socat -u /dev/null TCP:127.0.0.1:PORT"
	"curl|non-blocking|curl -sS -v --max-time 3 http://127.0.0.1:PORT/"
	"curl --tcp-fastopen|TCP Fast Open (TCP_FASTOPEN_CONNECT)|curl -sS -v --max-time 3 --tcp-fastopen http://127.0.0.1:PORT/"
	"python3 socket|blocking|python3 ROOT/tests/helpers/connect.py 127.0.0.1 PORT"
)
ECHO_PORT=50004 # in the ephemeral range: only the guard stands between

setup() {
	require_netns
}

# row_command NAME: the command of ROWS' row NAME, for port $TARGET.
row_command() {
	local row
	for row in "${ROWS[@]}"; do
		if [ "${row%%|*}" = "$1" ]; then
			row="${row##*|}"
			row="${row//ROOT/$ROOT}"
			echo "${row//PORT/$TARGET}"
			return
		fi
	done
	return 1
}

# attempts N PREFIX... -- COMMAND...: N runs of COMMAND in one namespace;
# prints "refused=R other=O": with nothing listening, every attempt that
# was not refused connected to itself.
attempts() {
	local n="$1"
	shift
	in_netns sh -c '
		n=$1; shift
		refused=0 other=0 i=0
		while [ $i -lt "$n" ]; do
			if "$@" </dev/null 2>&1 | grep -q "Connection refused"; then
				refused=$((refused + 1))
			else
				other=$((other + 1))
			fi
			i=$((i + 1))
		done
		echo "refused=$refused other=$other"' attempts "$n" "$@"
}

# program_bug_then_guard NAME: without the library NAME connects to itself
# within 300 attempts; under noselfconn, in either mode, 300 are all refused.
program_bug_then_guard() {
	local cmd mode
	cmd=$(row_command "$1")
	# shellcheck disable=SC2086 # the command's words
	run attempts 300 $cmd
	echo "without: $output"
	expect_at_least other 1
	for mode in check prebind; do
		# shellcheck disable=SC2086
		run attempts 300 "${WRAPPER_RUN[@]}" --mode=$mode $cmd
		echo "with, $mode: $output"
		expect other 0
		expect refused 300
	done
}

# The original report: `while true; do telnet 127.0.0.1 50000; done`.
@test "telnet: connects to itself without; refused every time under noselfconn" { program_bug_then_guard telnet; }
@test "nc: connects to itself without; refused every time under noselfconn" { program_bug_then_guard "nc (netcat-openbsd)"; }
@test "socat: connects to itself without; refused every time under noselfconn" { program_bug_then_guard socat; }
@test "curl: connects to itself without; refused every time under noselfconn" { program_bug_then_guard curl; }
@test "curl --tcp-fastopen: connects to itself without; refused every time under noselfconn" { program_bug_then_guard "curl --tcp-fastopen"; }

# One Python process dials 500 times (500 interpreter starts would be slow).
@test "python3 socket: connects to itself without; refused every time under noselfconn" {
	local script='
import socket
refused = other = 0
for _ in range(500):
    try:
        s = socket.create_connection(("127.0.0.1", 50000))
        other += 1
        s.close()
    except ConnectionRefusedError:
        refused += 1
print(f"refused={refused} other={other}")'
	run in_netns python3 -c "$script"
	expect_at_least other 1
	run in_netns "${WRAPPER_RUN[@]}" python3 -c "$script"
	expect other 0
	expect refused 500
}

@test "each program dials the way the table says (strace)" {
	local row name style cmd trace="$BATS_TEST_TMPDIR/trace"
	for row in "${ROWS[@]}"; do
		IFS='|' read -r name style _ <<<"$row"
		cmd=$(row_command "$name")
		# shellcheck disable=SC2086
		in_netns strace -f -o "$trace" -e trace=connect,setsockopt,sendto,sendmsg $cmd </dev/null >/dev/null 2>&1 || true
		local dial
		dial=$(grep -E 'connect\([0-9]+, \{sa_family=AF_INET, sin_port=htons\(50000\)' "$trace" | head -1)
		case "$style" in
		blocking) [[ "$dial" == *"ECONNREFUSED"* || "$dial" == *"= 0" ]] ;;
		non-blocking) [[ "$dial" == *"EINPROGRESS"* ]] ;;
		TCP\ Fast\ Open*) grep -q 'TCP_FASTOPEN_CONNECT, \[1\]' "$trace" ;;
		*) false ;;
		esac || { echo "$name: expected $style, saw: $dial"; return 1; }
	done
}

# Echo server on $ECHO_PORT and a web server on $ECHO_PORT+2, then CMD.
with_servers() {
	in_netns sh -c '
		socat TCP-LISTEN:50004,reuseaddr,fork EXEC:cat >/dev/null 2>&1 &
		echo_pid=$!
		(cd "$0" && exec python3 -m http.server 50006 --bind 127.0.0.1) >/dev/null 2>&1 &
		web_pid=$!
		# Wait with ss, not by dialing: an unguarded probe could itself
		# connect to itself and take the port the server is about to bind.
		for _ in $(seq 100); do
			[ "$(ss -ltnH "( sport = :50004 or sport = :50006 )" | wc -l)" -eq 2 ] && break
			sleep 0.05
		done
		"$@"
		status=$?
		kill "$echo_pid" "$web_pid"
		exit $status' "$BATS_TEST_TMPDIR/www" "$@"
}

@test "against real servers on ephemeral ports, data passes through unchanged under noselfconn" {
	mkdir -p "$BATS_TEST_TMPDIR/www"
	head -c 300000 /dev/urandom >"$BATS_TEST_TMPDIR/www/payload"
	local payload="$BATS_TEST_TMPDIR/www/payload" out="$BATS_TEST_TMPDIR/out"
	local nsc=("${WRAPPER_RUN[@]}")

	with_servers "${nsc[@]}" nc -N 127.0.0.1 $ECHO_PORT <"$payload" >"$out"
	cmp "$payload" "$out"
	with_servers "${nsc[@]}" socat -t 5 - TCP:127.0.0.1:$ECHO_PORT <"$payload" >"$out"
	cmp "$payload" "$out"
	with_servers "${nsc[@]}" curl -sS http://127.0.0.1:$((ECHO_PORT + 2))/payload -o "$out"
	cmp "$payload" "$out"
	with_servers "${nsc[@]}" curl -sS --tcp-fastopen http://127.0.0.1:$((ECHO_PORT + 2))/payload -o "$out"
	cmp "$payload" "$out"
	with_servers "${nsc[@]}" python3 -c '
import socket, sys
data = open(sys.argv[1], "rb").read()
s = socket.create_connection(("127.0.0.1", 50004))
s.sendall(data)
s.shutdown(socket.SHUT_WR)
back = b"".join(iter(lambda: s.recv(65536), b""))
sys.exit(0 if back == data else 1)' "$payload"
	run with_servers sh -c '{ echo hello-through-telnet; sleep 1; } | "$@" telnet 127.0.0.1 50004' sh "${nsc[@]}"
	[[ "$output" == *"Connected to 127.0.0.1"* ]]
	[ "$(grep -c hello-through-telnet <<<"$output")" -ge 1 ]
}

@test "the compatibility table of shim/doc/testing.md is the one this file checks" {
	local expected actual row name style
	expected=$(for row in "${ROWS[@]}"; do
		IFS='|' read -r name style _ <<<"$row"
		echo "| $name | $style | connects to itself | refused every time; data passes unchanged |"
	done)
	actual=$(sed -n '/<!-- compat-table:begin -->/,/<!-- compat-table:end -->/p' "$ROOT/shim/doc/testing.md" | grep '^| [^-P]')
	diff <(echo "$expected") <(echo "$actual")
}

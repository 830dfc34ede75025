#!/usr/bin/env bash
# The original report, runnable: `while true; do telnet 127.0.0.1 50000; done`
# ends up connected to itself. First without noselfconn until it happens,
# then with it, where every attempt is refused.
#
# It runs in a private network namespace whose ephemeral port range is
# narrowed around the port, so it reproduces in seconds instead of minutes.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WRAPPER="${NOSELFCONN:-$HERE/../build/noselfconn}"
PORT=50000
RANGE="50000 50010"
ATTEMPTS_WITHOUT=500
ATTEMPTS_WITH=200

# shellcheck source=demo/common.sh
. "$HERE/common.sh"

# telnet_once: one attempt; telnet's stdin stays open (it would quit at EOF)
# so a connected telnet is still there to be looked at. Prints "connected
# PID" or "refused".
telnet_once() {
	local out="$1"
	shift
	"$@" telnet 127.0.0.1 "$PORT" < <(exec sleep 5 2>/dev/null) >"$out" 2>&1 &
	local pid=$!
	for _ in $(seq 200); do
		if grep -q "Connected to" "$out"; then
			echo "connected $pid"
			return
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid" || true
			echo refused
			return
		fi
		sleep 0.01
	done
	kill "$pid" 2>/dev/null || true
	echo "no answer"
}

inside_namespace() {
	ip link set lo up
	echo "$RANGE" >/proc/sys/net/ipv4/ip_local_port_range
	OUT="$(mktemp)"
	trap 'rm -f "$OUT"' EXIT
	local out="$OUT"

	say "In a private network namespace: ephemeral ports $RANGE, nothing listens on $PORT"
	echo "The kernel picks each client's source port from that range, so sooner or"
	echo "later it picks $PORT itself: the SYN meets itself and TCP's simultaneous"
	echo "open completes."

	say "Without noselfconn: while true; do telnet 127.0.0.1 $PORT; done"
	local i result self_seen=0
	for ((i = 1; i <= ATTEMPTS_WITHOUT; i++)); do
		result="$(telnet_once "$out")"
		if [[ "$result" == connected* ]]; then
			echo "attempt $i: telnet says:"
			sed 's/^/    /' "$out"
			echo "and ss shows a connection whose local and peer addresses are the same:"
			ss -tn state established "( sport = :$PORT )" | sed 's/^/    /'
			kill "${result#connected }" 2>/dev/null || true
			self_seen=1
			break
		fi
	done
	if [ "$self_seen" -eq 0 ]; then
		echo "FAILED: no self-connection in $ATTEMPTS_WITHOUT attempts; the demo could not reproduce the bug" >&2
		return 1
	fi
	echo "Connected to itself after $i attempts: a proxy here would read its own requests back."

	say "With noselfconn: noselfconn telnet 127.0.0.1 $PORT, $ATTEMPTS_WITH times"
	echo "(--log makes noselfconn say each time it steps in.)"
	local refused=0 connected=0 prevented=0
	for ((i = 1; i <= ATTEMPTS_WITH; i++)); do
		result="$(telnet_once "$out" "$WRAPPER" --log)"
		case "$result" in
		connected*) connected=$((connected + 1)); kill "${result#connected }" 2>/dev/null || true ;;
		refused) refused=$((refused + 1)) ;;
		esac
		if grep -q "^noselfconn: prevented" "$out"; then
			prevented=$((prevented + 1))
			[ "$prevented" -le 2 ] && echo "attempt $i: $(grep -v Trying "$out" | tr '\n' ' ')"
		elif [ "$i" -le 2 ] || [ "$result" != refused ]; then
			echo "attempt $i: $(grep -v Trying "$out")"
		fi
	done
	echo "..."
	echo "$refused of $ATTEMPTS_WITH attempts refused, $connected connected;"
	echo "$prevented of them would have been self-connections."
	if [ "$connected" -ne 0 ] || [ "$refused" -ne "$ATTEMPTS_WITH" ]; then
		echo "FAILED: noselfconn let a connection through" >&2
		return 1
	fi
	say "Done: without noselfconn telnet connected to itself; with it, every attempt was refused as it should be."
}

main() {
	if [ "${1:-}" = --inside ]; then
		inside_namespace
		return
	fi
	enter_namespace "$0" "$WRAPPER" telnet telnet
}

main "$@"

#!/usr/bin/env bash
# The legacy-proxy story, with real software: socat proxies 127.0.0.1:6000 to
# a backend, python3's http.server, on 127.0.0.1:50000 (an ephemeral port).
# The backend is down and clients (curl, nc) keep using the proxy.
# Without noselfconn: the proxy connects to itself, a client gets its own
# request back as the reply, and the backend cannot start. With it: clients
# get the proxy's usual error, the backend starts, traffic flows.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WRAPPER="${NOSELFCONN:-$HERE/../build/noselfconn}"
PROXY_PORT=6000
BACKEND_PORT=50000
RANGE="50000 50010"
ATTEMPTS=300

# shellcheck source=demo/common.sh
. "$HERE/common.sh"
fail() { echo "FAILED: $*" >&2; exit 1; }

WORK=""
PROXY_PID=""
BACKEND_PID=""
CLIENT_PIDS=()
# Ends what this script started, by pid: never anything else on the machine.
end() {
	[ $# -gt 0 ] || return 0
	kill "$@" 2>/dev/null || true
	wait "$@" 2>/dev/null || true
}
# Ends the clients and the proxy's children that served them (one may still
# be dialing the backend, or hold a connection to itself).
end_clients() {
	end "${CLIENT_PIDS[@]}"
	CLIENT_PIDS=()
	[ -n "$PROXY_PID" ] || return 0
	local children
	children=$(ps -o pid= --ppid "$PROXY_PID" || true)
	# shellcheck disable=SC2086 # one word per pid
	[ -z "$children" ] || end $children
}
end_proxy() {
	[ -n "$PROXY_PID" ] || return 0
	end_clients
	end "$PROXY_PID"
	PROXY_PID=""
}
cleanup() {
	end_clients
	end_proxy
	end $BACKEND_PID
	[ -n "$WORK" ] && rm -rf "$WORK"
}

# start_proxy [PREFIX...]: socat forwarding PROXY_PORT to the backend.
start_proxy() {
	end_proxy
	"$@" socat TCP-LISTEN:$PROXY_PORT,bind=127.0.0.1,reuseaddr,fork TCP:127.0.0.1:$BACKEND_PORT \
		2>"$WORK/proxy.log" &
	PROXY_PID=$!
	until ss -ltnH "( sport = :$PROXY_PORT )" | grep -q .; do sleep 0.05; done
}

# request: one client request through the proxy; prints what came back,
# and leaves curl's complaint, if any, in $WORK/curl.err.
request() {
	curl -sS --http0.9 --max-time 2 "http://127.0.0.1:$PROXY_PORT/hello" 2>"$WORK/curl.err" || true
}

self_connections() {
	ss -tnH state established "( sport = :$BACKEND_PORT and dport = :$BACKEND_PORT )"
}

# hold_self_connection N: up to N clients that keep their connection open,
# until the proxy's dial to the backend meets itself; prints the ss line.
hold_self_connection() {
	for ((i = 1; i <= $1; i++)); do
		nc -d 127.0.0.1 $PROXY_PORT >/dev/null 2>&1 &
		CLIENT_PIDS+=($!)
		sleep 0.02 # the proxy dials the backend as the client arrives
		if self_connections | grep -q .; then
			self_connections
			return 0
		fi
		end $!
	done
	return 1
}

start_backend() {
	(cd "$WORK" && exec python3 -m http.server $BACKEND_PORT --bind 127.0.0.1) >"$WORK/backend.log" 2>&1 &
	BACKEND_PID=$!
	for _ in $(seq 60); do
		ss -ltnH "( sport = :$BACKEND_PORT )" | grep -q . && return 0
		kill -0 "$BACKEND_PID" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

inside_namespace() {
	ip link set lo up
	echo "$RANGE" >/proc/sys/net/ipv4/ip_local_port_range
	# A closed self-connection's TIME_WAIT would hide the next one for 60 s.
	echo 0 >/proc/sys/net/ipv4/tcp_max_tw_buckets
	WORK="$(mktemp -d)"
	trap cleanup EXIT
	echo "hello from the backend" >"$WORK/hello"

	say "Set-up: a private network namespace, ephemeral ports $RANGE"
	echo "proxy:   socat TCP-LISTEN:$PROXY_PORT,fork TCP:127.0.0.1:$BACKEND_PORT"
	echo "backend: python3 -m http.server $BACKEND_PORT   (down for now)"
	echo "clients: curl http://127.0.0.1:$PROXY_PORT/hello, nc 127.0.0.1 $PROXY_PORT"

	say "1. Without noselfconn, the backend down, clients keep trying"
	start_proxy
	local i reply got_own=0
	for ((i = 1; i <= ATTEMPTS; i++)); do
		reply="$(request)"
		if [[ "$reply" == "GET /hello HTTP/1.1"* ]]; then
			echo "request $i: the proxy connected to itself, and the client got its own request back as the reply:"
			tr -d '\r' <<<"$reply" | while IFS= read -r line; do echo "    $line"; done
			got_own=1
			break
		fi
	done
	[ "$got_own" -eq 1 ] || fail "no self-connection in $ATTEMPTS requests"

	echo
	echo "While a client holds its connection, the proxy's socket holds the backend's port:"
	hold_self_connection "$ATTEMPTS" | sed 's/^/    /' || fail "could not hold a self-connection"
	if start_backend; then
		fail "the backend started although its port was held"
	fi
	echo "and the backend cannot start:"
	grep -m1 -o 'OSError.*' "$WORK/backend.log" | sed 's/^/    /'
	end_clients

	say "2. With noselfconn: noselfconn --log socat ... (the backend still down)"
	start_proxy "$WRAPPER" --log
	local own=0 usual=0
	for ((i = 1; i <= ATTEMPTS; i++)); do
		reply="$(request)"
		if [[ "$reply" == "GET /hello"* ]]; then
			own=$((own + 1))
		elif grep -q "Empty reply from server" "$WORK/curl.err"; then
			usual=$((usual + 1))
		fi
	done
	echo "$ATTEMPTS requests: $usual got the proxy's usual error (curl: Empty reply from server),"
	echo "$own got their own request back; noselfconn stepped in $(grep -c 'prevented a self-connection' "$WORK/proxy.log") times:"
	grep -m1 'prevented a self-connection' "$WORK/proxy.log" | sed 's/^/    /'
	if [ "$own" -ne 0 ] || [ "$usual" -ne "$ATTEMPTS" ]; then
		fail "a client saw something other than the usual error"
	fi
	echo "and 100 clients holding their connections open never find the proxy connected to itself."
	! hold_self_connection 100 >/dev/null || fail "the proxy connected to itself under noselfconn"
	end_clients

	say "3. The backend starts, and traffic flows through the proxy"
	start_backend || fail "the backend could not start: $(tail -1 "$WORK/backend.log")"
	echo "backend: listening on 127.0.0.1:$BACKEND_PORT"
	reply="$(curl -sS --max-time 5 "http://127.0.0.1:$PROXY_PORT/hello")"
	echo "curl http://127.0.0.1:$PROXY_PORT/hello -> $reply"
	[ "$reply" = "hello from the backend" ] || fail "traffic did not flow"
	say "Done: the damage without noselfconn, a clean recovery with it."
}

main() {
	if [ "${1:-}" = --inside ]; then
		inside_namespace
		return
	fi
	enter_namespace "$0" "$WRAPPER" "socat curl netcat-openbsd python3" socat curl nc python3
}

main "$@"

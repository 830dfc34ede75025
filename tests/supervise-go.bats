#!/usr/bin/env bats
# noselfconn --supervise and a real Go client: Go's net package checks for a
# self-connection, retries twice, then returns the self-connected socket.
# Built here from the standard library alone (no network), static and cgo.

load helpers
load helpers/supervise

setup_file() {
	export GOCACHE="$BUILD/go/cache" GOPATH="$BUILD/go/path" GOFLAGS=-mod=mod GOPROXY=off
	cd "$ROOT/tests/go" || return 1
	CGO_ENABLED=0 go build -o "$BUILD/tests/selfdial-static" ./selfdial
	CGO_ENABLED=1 go build -o "$BUILD/tests/selfdial-cgo" ./selfdial
}

setup() {
	require_netns
	NSC_TEST_RANGE="50000 50001"
}

# go_guard CLIENT TARGET [SELFDIAL OPTIONS...]: it meets itself in a
# two-port range without TIME_WAIT; supervised, never, every dial refused.
go_guard() {
	local client="$BUILD/tests/$1" target="$2"
	shift 2
	local tw=(sh -c 'sysctl -qw net.ipv4.tcp_max_tw_buckets=0 && exec "$@"' sh)
	run in_netns "${tw[@]}" "$client" -k -n 200 "$@" "127.0.0.1:$target"
	[ "$status" -eq 0 ]
	expect self 1
	run in_netns "${tw[@]}" "$WRAPPER" --supervise "$client" -n 200 "$@" "127.0.0.1:$target"
	[ "$status" -eq 0 ]
	expect self 0
	expect refused 200
	expect failed 0
}

@test "supervised Go: static (CGO_ENABLED=0)" { go_guard selfdial-static 50000; }
@test "supervised Go: cgo" { go_guard selfdial-cgo 50000; }
@test "supervised Go: net.Dialer{LocalAddr} binds first" {
	go_guard selfdial-static 50001 -laddr 127.0.0.1:0
	go_guard selfdial-cgo 50001 -laddr 127.0.0.1:0
}

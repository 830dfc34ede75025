#!/usr/bin/env bats
# noselfconn --audit, on real sockets in a private namespace.

load helpers

setup() {
	require_netns
}

# audit_with_scene SCENE_SHELL AUDIT_ARGS...: in one namespace, start the scene
# (background processes), wait for it to settle, then run the audit.
audit_with_scene() {
	local scene="$1"
	shift
	in_netns sh -c "$scene"'
		sleep 1
		"$0" --audit "$@"
		status=$?
		pkill -P $$
		exit $status' "$WRAPPER" "$@"
}

@test "a clean namespace: nothing reported, exit 0" {
	run in_netns "$WRAPPER" --audit
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q '^Connected to itself: 0$' <<<"$output"
	grep -q '^Listening inside the ephemeral range: 0$' <<<"$output"
	[ -z "$(grep sysctl <<<"$output")" ]
}

@test "finds a real self-connection (IPv4 and IPv6) with its owner's pid; exit 1" {
	for addr in 127.0.0.1 ::1; do
		run audit_with_scene "\"$DIAL\" -H 5 -n 500 $addr $TARGET > \"$BATS_TEST_TMPDIR/held\" &"
		echo "$output"
		[ "$status" -eq 1 ]
		local pid
		pid=$(sed -n 's/^holding self-connection .* pid=\([0-9]*\)$/\1/p' "$BATS_TEST_TMPDIR/held")
		[ -n "$pid" ]
		grep -q '^Connected to itself: 1$' <<<"$output"
		grep -Eq "^  \\[?$addr\\]?:$TARGET  ESTABLISHED  pid $pid \\(dial\\)$" <<<"$output"
	done
}

@test "reports listeners inside the ephemeral range and a sysctl line merged with what is reserved" {
	run audit_with_scene "echo 50008 > /proc/sys/net/ipv4/ip_local_reserved_ports
		socat TCP-LISTEN:50004,reuseaddr,fork /dev/null >/dev/null 2>&1 &
		socat TCP6-LISTEN:50006,reuseaddr,fork /dev/null >/dev/null 2>&1 &
		socat TCP-LISTEN:50008,reuseaddr,fork /dev/null >/dev/null 2>&1 &
		socat TCP-LISTEN:8080,reuseaddr,fork /dev/null >/dev/null 2>&1 &"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q '^Listening inside the ephemeral range: 2$' <<<"$output"
	grep -Eq '^  0\.0\.0\.0:50004  LISTEN  pid [0-9]+ \(socat\)$' <<<"$output"
	grep -Eq '^  \[::\]:50006  LISTEN  pid [0-9]+ \(socat\)$' <<<"$output"
	# 50008 is reserved already (not exposed), 8080 is outside the range.
	grep -q '^  sysctl -w net.ipv4.ip_local_reserved_ports=50004,50006,50008$' <<<"$output"
}

@test "the sysctl line it proposes works: no client ever gets that port again" {
	run audit_with_scene "socat TCP-LISTEN:50000,reuseaddr,fork /dev/null >/dev/null 2>&1 &"
	local line
	line=$(grep -o 'sysctl -w net.ipv4.ip_local_reserved_ports=.*' <<<"$output")
	[ "$line" = "sysctl -w net.ipv4.ip_local_reserved_ports=50000" ]
	# Without the backend, the bug; with the reserved port, never.
	run in_netns "$DIAL" -k -n 500 127.0.0.1 "$TARGET"
	expect_at_least self 1
	run in_netns sh -c "$line >/dev/null && exec \"\$0\" -n 500 127.0.0.1 $TARGET" "$DIAL"
	expect self 0
}

@test "--json: one valid JSON object with the same findings" {
	run audit_with_scene "\"$DIAL\" -H 5 -n 500 127.0.0.1 $TARGET >/dev/null 2>&1 &
		socat TCP-LISTEN:50004,reuseaddr,fork /dev/null >/dev/null 2>&1 &" --json
	echo "$output"
	[ "$status" -eq 1 ]
	python3 -c '
import json, sys
report = json.loads(sys.argv[1])
assert report["ephemeral_range"] == [50000, 50010]
[self] = report["self_connections"]
assert (self["address"], self["port"], self["state"]) == ("127.0.0.1", 50000, "ESTABLISHED")
assert self["owners"][0]["command"] == "dial"
[listener] = report["exposed_listeners"]
assert listener["port"] == 50004 and listener["owners"][0]["command"] == "socat"
assert report["sysctl"] == "sysctl -w net.ipv4.ip_local_reserved_ports=50004"
' "$output"
}

@test "--audit takes no command; --json needs --audit" {
	run "$WRAPPER" --audit true
	[ "$status" -eq 2 ]
	run "$WRAPPER" --json true
	[ "$status" -eq 2 ]
}

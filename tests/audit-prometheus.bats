#!/usr/bin/env bats
# noselfconn --audit --prometheus, read by prometheus_client's reference
# parser (Debian's python3-prometheus-client), against a real scene.

load helpers
load helpers/audit

setup() {
	require_netns
	"$PYTHON3" -c 'import prometheus_client' 2>/dev/null ||
		skip "needs python3-prometheus-client (tests/deps.sh installs it)"
}

@test "counts a real self-connection and exposed listeners by owner class; exit 1" {
	run --separate-stderr audit_with_scene "start \"$DIAL\" -H 30 -n 500 127.0.0.1 $TARGET > \"$BATS_TEST_TMPDIR/held\"
		start socat TCP-LISTEN:50004,reuseaddr,fork /dev/null >/dev/null 2>&1
		start setpriv --reuid=4242 --regid=4242 --clear-groups \
			socat TCP-LISTEN:50006,reuseaddr,fork /dev/null >/dev/null 2>&1" \
		"$(held "$BATS_TEST_TMPDIR/held") && listening 50004 && listening 50006" --prometheus
	echo "$output"
	[ "$status" -eq 1 ]
	printf '%s\n' "$output" > "$BATS_TEST_TMPDIR/metrics"
	run "${AUDIT_CHECK[@]}" prometheus "$BATS_TEST_TMPDIR/metrics"
	echo "$output"
	[ "$status" -eq 0 ]
	local netns
	netns=$(sed -n 's/^noselfconn_ephemeral_ports{netns="\([0-9]*\)"} 11$/\1/p' <<<"$output")
	[ -n "$netns" ]
	grep -Fqx 'TYPE noselfconn_self_connections gauge' <<<"$output"
	grep -Fqx 'TYPE noselfconn_exposed_listeners gauge' <<<"$output"
	grep -Fqx 'noselfconn_audit_success{} 1' <<<"$output"
	grep -Fqx 'noselfconn_namespaces{} 1' <<<"$output"
	grep -Fqx "noselfconn_self_connections{netns=\"$netns\",owner=\"system\"} 1" <<<"$output"
	grep -Fqx "noselfconn_self_connections{netns=\"$netns\",owner=\"user\"} 0" <<<"$output"
	grep -Fqx "noselfconn_exposed_listeners{netns=\"$netns\",owner=\"system\"} 1" <<<"$output"
	grep -Fqx "noselfconn_exposed_listeners{netns=\"$netns\",owner=\"user\"} 1" <<<"$output"
	grep -Fqx "noselfconn_proposed_reserved_ephemeral_ports{netns=\"$netns\"} 1" <<<"$output"
}

@test "a clean namespace: zeros, success, exit 0" {
	run in_netns "$WRAPPER" --audit --prometheus
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" > "$BATS_TEST_TMPDIR/metrics"
	run "${AUDIT_CHECK[@]}" prometheus "$BATS_TEST_TMPDIR/metrics"
	echo "$output"
	grep -Fqx 'noselfconn_audit_success{} 1' <<<"$output"
	[ "$(grep -c '^noselfconn_self_connections{.*} 0$' <<<"$output")" -eq 2 ]
	# Which noselfconn wrote it, as exporters say so.
	grep -Fqx "noselfconn_build_info{version=\"$("$WRAPPER" --version | cut -d' ' -f2)\"} 1" <<<"$output"
	grep -Fqx 'TYPE noselfconn_build_info gauge' <<<"$output"
}

@test "a failed audit: noselfconn_audit_success 0, still parseable, exit 125" {
	run --separate-stderr in_netns unshare -m sh -c \
		'mount -t tmpfs none /proc/sys/net/ipv4 && exec "$0" --audit --prometheus' "$WRAPPER"
	echo "$output $stderr"
	[ "$status" -eq 125 ]
	[[ "$stderr" == *"noselfconn: audit:"* ]]
	printf '%s\n' "$output" > "$BATS_TEST_TMPDIR/metrics"
	run "${AUDIT_CHECK[@]}" prometheus "$BATS_TEST_TMPDIR/metrics"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -Fqx 'noselfconn_audit_success{} 0' <<<"$output"
	grep -q '^noselfconn_build_info{version=".*"} 1$' <<<"$output"
	[ "$(grep -c '^noselfconn_self_connections' <<<"$output")" -eq 0 ]
}

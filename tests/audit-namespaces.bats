#!/usr/bin/env bats
# noselfconn --audit --all-namespaces: every network namespace on the host,
# each read through a process in it. Two namespaces of the test's own, one
# with a self-connection; the others on the host are left alone.

load helpers
load helpers/audit

setup() {
	require_netns
	[ "${UNSHARE[*]}" = "unshare -n" ] || skip "needs root: setns() into other namespaces"
	# A: a held self-connection; B: a listener inside the range. Each runs
	# in a subshell (in_netns is a function): its one child is the process.
	in_netns "$DIAL" -H 60 -n 500 127.0.0.1 "$TARGET" > "$BATS_TEST_TMPDIR/held" &
	shells=($!)
	in_netns socat TCP-LISTEN:50004,reuseaddr,fork /dev/null &
	shells+=($!)
	pids=()
	local tries=0
	until grep -q '^holding self-connection' "$BATS_TEST_TMPDIR/held" &&
		pids=("$(pgrep -P "${shells[0]}")" "$(pgrep -P "${shells[1]}")") &&
		[ "$(readlink "/proc/${pids[1]}/exe")" = "$(command -v socat)" ] &&
		nsenter --net="/proc/${pids[1]}/ns/net" ss -Htln 'sport = :50004' | grep -q .; do
		tries=$((tries + 1))
		if [ "$tries" -gt 200 ]; then
			echo "the scene did not settle" >&2
			teardown
			return 1
		fi
		sleep 0.05
	done
	ns_a=$(stat -L -c %i "/proc/${pids[0]}/ns/net")
	ns_b=$(stat -L -c %i "/proc/${pids[1]}/ns/net")
}

teardown() {
	local pid
	for pid in "${pids[@]}" $(pgrep -P "${shells[0]}") $(pgrep -P "${shells[1]}"); do
		kill "$pid" 2>/dev/null || true
	done
	wait "${shells[@]}" 2>/dev/null || true
}

@test "--json: both namespaces, named by a process in them, each with its own findings" {
	run --separate-stderr "$WRAPPER" --audit --all-namespaces --json
	[ "$status" -eq 1 ] # A's self-connection, at least
	printf '%s' "$output" > "$BATS_TEST_TMPDIR/report.json"
	"$PYTHON3" - "$BATS_TEST_TMPDIR/report.json" "$ns_a" "$ns_b" "${pids[0]}" "${pids[1]}" <<'PY'
import json, sys
raw = open(sys.argv[1], "rb").read().decode("utf-8", "strict")
report = json.loads(raw)
assert report["format_version"] == 1
by_inode = {ns["netns_inode"]: ns for ns in report["namespaces"]}
a, b = by_inode[int(sys.argv[2])], by_inode[int(sys.argv[3])]
assert len(by_inode) == len(report["namespaces"]) >= 3  # and the host's
assert sum(ns["current"] for ns in report["namespaces"]) == 1
assert a["named_by"]["pid"] == int(sys.argv[4]) and a["named_by"]["command"] == "dial"
assert b["named_by"]["pid"] == int(sys.argv[5]) and b["named_by"]["command"] == "socat"
[self] = a["self_connections"]
assert (self["port"], self["owners"][0]["pid"]) == (50000, int(sys.argv[4]))
assert a["ephemeral_range"] == [50000, 50010] and a["exposed_listeners"] == []
assert b["self_connections"] == []
[listener] = b["exposed_listeners"]
assert listener["port"] == 50004 and listener["owners"][0]["pid"] == int(sys.argv[5])
assert b["sysctl"] == "nsenter --net=/proc/%s/ns/net sysctl -w net.ipv4.ip_local_reserved_ports=50004" % sys.argv[5]
PY
}

@test "text and --prometheus: one block and one netns label per namespace" {
	run --separate-stderr "$WRAPPER" --audit --all-namespaces
	echo "$output"
	[ "$status" -eq 1 ]
	grep -q "^noselfconn audit of network namespace net:\\[$ns_a\\] (pid ${pids[0]} \"dial\" .*), ephemeral ports 50000-50010$" <<<"$output"
	grep -q "^noselfconn audit of network namespace net:\\[$ns_b\\] (pid ${pids[1]} \"socat\" .*), ephemeral ports 50000-50010$" <<<"$output"
	grep -q "^  nsenter --net=/proc/${pids[1]}/ns/net sysctl -w net.ipv4.ip_local_reserved_ports=50004$" <<<"$output"

	"$PYTHON3" -c 'import prometheus_client' 2>/dev/null || skip "needs python3-prometheus-client"
	run --separate-stderr "$WRAPPER" --audit --all-namespaces --prometheus
	[ "$status" -eq 1 ]
	printf '%s\n' "$output" > "$BATS_TEST_TMPDIR/metrics"
	run "${AUDIT_CHECK[@]}" prometheus "$BATS_TEST_TMPDIR/metrics"
	echo "$output"
	grep -Fqx "noselfconn_self_connections{netns=\"$ns_a\",owner=\"system\"} 1" <<<"$output"
	grep -Fqx "noselfconn_self_connections{netns=\"$ns_b\",owner=\"system\"} 0" <<<"$output"
	grep -Fqx "noselfconn_exposed_listeners{netns=\"$ns_a\",owner=\"system\"} 0" <<<"$output"
	grep -Fqx "noselfconn_exposed_listeners{netns=\"$ns_b\",owner=\"system\"} 1" <<<"$output"
	local count
	count=$(sed -n 's/^noselfconn_namespaces{} //p' <<<"$output")
	[ "$count" -ge 3 ]
	[ "$(grep -c '^noselfconn_ephemeral_ports{' <<<"$output")" -eq "$count" ]
}

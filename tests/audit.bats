#!/usr/bin/env bats
# noselfconn --audit, on real sockets in a private namespace.

load helpers
load helpers/audit

setup() {
	require_netns
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
		run audit_with_scene "start \"$DIAL\" -H 30 -n 500 $addr $TARGET > \"$BATS_TEST_TMPDIR/held\"" \
			"$(held "$BATS_TEST_TMPDIR/held")"
		echo "$output"
		[ "$status" -eq 1 ]
		local pid
		pid=$(sed -n 's/^holding self-connection .* pid=\([0-9]*\)$/\1/p' "$BATS_TEST_TMPDIR/held")
		[ -n "$pid" ]
		grep -q '^Connected to itself: 1$' <<<"$output"
		grep -Eq "^  \\[?$addr\\]?:$TARGET  ESTABLISHED  user root \\(uid 0\\)$" <<<"$output"
		grep -Eq "^    pid $pid \"dial\" \".*/dial\" \"-H\" \"30\"" <<<"$output"
	done
}

@test "reports listeners inside the ephemeral range and a sysctl line merged with what is reserved" {
	run audit_with_scene "echo 50008 > /proc/sys/net/ipv4/ip_local_reserved_ports
		start socat TCP-LISTEN:50004,reuseaddr,fork /dev/null >/dev/null 2>&1
		start socat TCP6-LISTEN:50006,reuseaddr,fork /dev/null >/dev/null 2>&1
		start socat TCP-LISTEN:50008,reuseaddr,fork /dev/null >/dev/null 2>&1
		start socat TCP-LISTEN:8080,reuseaddr,fork /dev/null >/dev/null 2>&1" \
		"listening 50004 && listening 50006 && listening 50008 && listening 8080"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q '^Listening inside the ephemeral range: 2$' <<<"$output"
	grep -q '^ of root and system accounts (uid < 1000): 2$' <<<"$output"
	grep -Eq '^  0\.0\.0\.0:50004  LISTEN  user root \(uid 0\)$' <<<"$output"
	grep -Eq '^    pid [0-9]+ "socat" "socat" "TCP-LISTEN:50004,reuseaddr,fork" "/dev/null"$' <<<"$output"
	grep -Eq '^  \[::\]:50006  LISTEN  user root \(uid 0\)$' <<<"$output"
	# 50008 is reserved already (not exposed), 8080 is outside the range.
	grep -q '^  sysctl -w net.ipv4.ip_local_reserved_ports=50004,50006,50008$' <<<"$output"
}

@test "the sysctl line it proposes works: no client ever gets that port again" {
	run audit_with_scene "start socat TCP-LISTEN:50000,reuseaddr,fork /dev/null >/dev/null 2>&1" \
		"listening 50000"
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
	run audit_with_scene "start \"$DIAL\" -H 30 -n 500 127.0.0.1 $TARGET > \"$BATS_TEST_TMPDIR/held\"
		start socat TCP-LISTEN:50004,reuseaddr,fork /dev/null >/dev/null 2>&1" \
		"$(held "$BATS_TEST_TMPDIR/held") && listening 50004" --json
	echo "$output"
	[ "$status" -eq 1 ]
	"$PYTHON3" -c '
import json, sys
report = json.loads(sys.argv[1])
assert report["format_version"] == 1
assert report["ephemeral_range"] == [50000, 50010]
[self] = report["self_connections"]
assert (self["address"], self["port"], self["state"]) == ("127.0.0.1", 50000, "ESTABLISHED")
assert self["owners"][0]["command"] == "dial"
[listener] = report["exposed_listeners"]
assert (self["uid"], self["user"], self["owner_class"]) == (0, "root", "system")
assert listener["port"] == 50004 and listener["owners"][0]["command"] == "socat"
assert listener["owners"][0]["cmdline"][1] == "TCP-LISTEN:50004,reuseaddr,fork"
assert listener["proposed"] is True
assert report["sysctl"] == "sysctl -w net.ipv4.ip_local_reserved_ports=50004"
' "$output"
}

@test "--audit takes no command; its options need --audit; --json and --prometheus exclude each other" {
	run "$WRAPPER" --audit true
	[ "$status" -eq 2 ]
	local option
	for option in --json --prometheus --all-namespaces --preloaded; do
		run "$WRAPPER" "$option" true
		[ "$status" -eq 2 ]
		[[ "$output" == *"$option goes with --audit"* ]]
		run "$WRAPPER" "$option"
		[ "$status" -eq 2 ]
	done
	run "$WRAPPER" --audit --json --prometheus
	[ "$status" -eq 2 ]
	[[ "$output" == *"--prometheus goes with --audit, not --json"* ]]
	run "$WRAPPER" --audit --preloaded --prometheus
	[ "$status" -eq 2 ]
	run "$WRAPPER" --audit --preloaded --all-namespaces
	[ "$status" -eq 2 ]
	run "$WRAPPER" --help
	[[ "$output" == *"--prometheus"* && "$output" == *"--all-namespaces"* && "$output" == *"--preloaded"* ]]
}

@test "--all-namespaces without root says it sees only its own namespaces" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to compare with an unprivileged user"
	require_netns
	local readable
	readable=$(readable_copy "$WRAPPER")
	run --separate-stderr in_netns setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$readable/noselfconn" --audit --all-namespaces
	echo "$stderr"
	[ "$status" -eq 0 ]
	# (less what a coverage build's gcov says as a user who cannot write)
	[ "$(grep -v '^profiling:' <<<"$stderr")" = "noselfconn: audit: not root: --all-namespaces sees only this namespace and those of this user's own processes" ]
	run --separate-stderr in_netns "$WRAPPER" --audit --all-namespaces
	[ -z "$stderr" ]
}

@test "a 256 KiB stack and the most fragmented reserved set: every port comes back, none dropped" {
	# Every other port from 1024 (200 KB of text) reserved, one listener on
	# an odd port of the range: the proposal is that set and the listener.
	local want="$BATS_TEST_TMPDIR/want"
	"$PYTHON3" -c 'print(",".join(str(p) for p in range(1024, 65536, 2)))' > "$want"
	# The kernel takes a page per write() and says how much (up to a comma);
	# cat would split a number between two writes, so a loop on that count.
	run audit_with_scene "'$PYTHON3' -c 'import os, sys
text = open(sys.argv[1], \"rb\").read()
while text:
    text = text[os.write(1, text):]' '$want' > /proc/sys/net/ipv4/ip_local_reserved_ports
		start socat TCP-LISTEN:50003,reuseaddr,fork /dev/null >/dev/null 2>&1
		ulimit -s 256" "listening 50003" --json
	[ "$status" -eq 0 ]
	printf '%s' "$output" > "$BATS_TEST_TMPDIR/report.json"
	"$PYTHON3" -c '
import json, sys
report = json.load(open(sys.argv[1]))
def ports(text):
    out = set()
    for part in text.split(","):
        low, _, high = part.partition("-")
        out.update(range(int(low), int(high or low) + 1))
    return out
want = set(range(1024, 65536, 2))
assert ports(report["reserved_ports"]) == want, "reserved ports lost"
assert ports(report["suggested_reserved_ports"]) == want | {50003}
assert report["sysctl"].endswith("=" + report["suggested_reserved_ports"])
assert report["proposal_reserves_over_a_quarter"] is True
' "$BATS_TEST_TMPDIR/report.json"
	run audit_with_scene "ulimit -s 256" true
	[ "$status" -eq 0 ]
}

# audit_without_sysctls PREPARE [AUDIT_ARGS...]: the audit in a private mount
# namespace whose /proc/sys/net/ipv4 is an empty tmpfs, after the shell PREPARE.
audit_without_sysctls() {
	local prepare="$1"
	shift
	in_netns unshare -m sh -c 'mount -t tmpfs none /proc/sys/net/ipv4 && '"$prepare"' && exec "$0" --audit "$@"' \
		"$WRAPPER" "$@"
}

@test "an audit that cannot read or parse what it needs fails: status 125 and a message, never 0" {
	run --separate-stderr audit_without_sysctls true
	echo "$output $stderr"
	[ "$status" -eq 125 ]
	[[ "$stderr" == *"noselfconn: audit: cannot read /proc/sys/net/ipv4"* ]]
	[ -z "$output" ]
	run --separate-stderr audit_without_sysctls "echo '50000 50010' > /proc/sys/net/ipv4/ip_local_port_range &&
		echo 'garbage' > /proc/sys/net/ipv4/ip_local_reserved_ports"
	echo "$output $stderr"
	[ "$status" -eq 125 ]
	[[ "$stderr" == *"cannot parse the port sysctls"* ]]
	run --separate-stderr audit_without_sysctls true --json
	[ "$status" -eq 125 ]
	[ -z "$output" ]
}

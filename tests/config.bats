#!/usr/bin/env bats
# NOSELFCONN_* settings: good values work, bad ones get one line and the default.

load helpers

setup() {
	require_netns
}

@test "NOSELFCONN_LOG=1: one stderr line per prevented self-connection, naming program, pid and destination" {
	run --separate-stderr in_netns env LD_PRELOAD="$PRELOAD_LIB" NOSELFCONN_LOG=1 "$DIAL" -n 300 127.0.0.1 "$TARGET"
	expect self 0
	[ -n "$stderr" ]
	local lines
	lines=$(grep -c . <<<"$stderr")
	[ "$(grep -cE '^noselfconn: prevented a self-connection: dial\[[0-9]+\] dialing 127\.0\.0\.1:50000$' <<<"$stderr")" -eq "$lines" ]
	run --separate-stderr in_netns env LD_PRELOAD="$PRELOAD_LIB" NOSELFCONN_LOG=1 "$DIAL" -n 100 fd00::1 "$TARGET"
	grep -q 'dialing \[fd00::1\]:50000$' <<<"$stderr"
	run --separate-stderr in_netns env LD_PRELOAD="$PRELOAD_LIB" NOSELFCONN_LOG=1 "$DIAL" -n 100 ::ffff:127.0.0.1 "$TARGET"
	grep -q 'dialing \[::ffff:127\.0\.0\.1\]:50000$' <<<"$stderr"
}

@test "logging is off by default" {
	run --separate-stderr in_netns "${WITH_LIB[@]}" "$DIAL" -n 300 127.0.0.1 "$TARGET"
	expect self 0
	[ -z "$stderr" ]
}

# bad_value VAR VALUE: one line on stderr naming VAR, and the guard works as by default.
bad_value() {
	run --separate-stderr in_netns env LD_PRELOAD="$PRELOAD_LIB" "$1=$2" "$DIAL" -n 300 127.0.0.1 "$TARGET"
	[ "$status" -eq 0 ]
	expect self 0
	expect refused 300
	[ "$(grep -c . <<<"$stderr")" -eq 1 ]
	grep -q "^noselfconn: ignoring $1=" <<<"$stderr"
}

@test "NOSELFCONN_MODE=garbage: one line, guarded as by default" { bad_value NOSELFCONN_MODE garbage; }
@test "NOSELFCONN_MODE=CHECK (case matters): one line, default" { bad_value NOSELFCONN_MODE CHECK; }
@test "NOSELFCONN_LOG=2: one line, default (off)" { bad_value NOSELFCONN_LOG 2; }

@test "a huge value is clipped in the one line" {
	bad_value NOSELFCONN_MODE "$(head -c 100000 /dev/zero | tr '\0' x)"
	[ "${#stderr}" -lt 200 ]
}

@test "empty values mean the default, silently" {
	run --separate-stderr in_netns env LD_PRELOAD="$PRELOAD_LIB" NOSELFCONN_MODE= NOSELFCONN_LOG= "$DIAL" -n 300 127.0.0.1 "$TARGET"
	expect self 0
	[ -z "$stderr" ]
}

# masked_range CONTENT CMD...: CMD sees CONTENT in place of ip_local_port_range
# ("absent": no such file); the kernel keeps the real range.
masked_range() {
	local mask="$BATS_TEST_TMPDIR/mask"
	printf '%s' "$1" > "$mask"
	local how='mount --bind "$0" /proc/sys/net/ipv4/ip_local_port_range'
	[ "$1" = absent ] && how='mount -t tmpfs none /proc/sys/net/ipv4'
	shift
	in_netns unshare -m sh -c "$how"' && exec "$@"' "$mask" "$@"
}

@test "range file absent, garbage, reversed or empty from the start: every port is guarded" {
	for content in absent garbage "60999 32768" "" "0 5"; do
		run masked_range "$content" "${WITH_LIB[@]}" "$DIAL" -n 300 127.0.0.1 "$TARGET"
		[ "$status" -eq 0 ]
		expect self 0
		# 61000 lies outside the kernel's default range, inside the real
		# one (61000-61010): no guess of a range may pass it through.
		NSC_TEST_RANGE="61000 61010" run masked_range "$content" "$DIAL" -k -n 500 127.0.0.1 61000
		expect_at_least self 1
		for mode in check prebind; do
			NSC_TEST_RANGE="61000 61010" run masked_range "$content" env LD_PRELOAD="$PRELOAD_LIB" \
				NOSELFCONN_MODE=$mode "$DIAL" -n 300 127.0.0.1 61000
			[ "$status" -eq 0 ]
			expect self 0
			expect refused 300
		done
	done
}

@test "NOSELFCONN_LOG=syslog: one datagram per prevented self-connection to /dev/log" {
	with_syslog "$PRELOAD_LIB" "$DIAL" -n 300 127.0.0.1 50000
	echo "$output"
	[ "$status" -eq 0 ]
	expect self 0
	local lines
	lines=$(grep -c 'prevented' <<<"$output")
	[ "$lines" -ge 1 ]
	[ "$(grep -cE '^<12>noselfconn\[[0-9]+\]: prevented a self-connection: dial\[[0-9]+\] dialing 127\.0\.0\.1:50000$' <<<"$output")" -eq "$lines" ]
}

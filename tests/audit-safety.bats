#!/usr/bin/env bats
# noselfconn --audit is run by root: what other processes name themselves
# never reaches root's terminal raw nor breaks the JSON, and no other user
# decides which ports the proposed sysctl line reserves.

load helpers
load helpers/audit

setup() {
	require_netns
}

# A comm of ESC [31m X, newline, invalid UTF-8 (hostile.py's default), and a
# command line whose argv[0] holds an OSC title sequence, BEL, a newline and
# an invalid byte (exec -a).
hostile_scene() {
	echo "name=\$(printf '\\033]0;pwned\\007\\n\\377x')
		start bash -c 'exec -a \"\$0\" \"\$1\" \"\$2\" 50004' \"\$name\" '$PYTHON3' '$HOSTILE'"
}

@test "text: control and non-ASCII bytes of comm and cmdline are escaped as \\xNN, one line per owner" {
	run audit_with_scene "$(hostile_scene)" "listening 50004"
	echo "$output"
	[ "$status" -eq 0 ]
	# Nothing outside printable ASCII and newline, not one ESC or BEL.
	[ -z "$(printf '%s' "$output" | LC_ALL=C tr -d '\n\040-\176')" ]
	grep -Fqx '    pid '"$(sed -n 's/^    pid \([0-9]*\) .*/\1/p' <<<"$output")"' "\x1b[31mX\x0a\xff\xfe\xc3" "\x1b]0;pwned\x07\x0a\xffx" "'"$HOSTILE"'" "50004"' <<<"$output"
	[ "$(grep -c '^    pid ' <<<"$output")" -eq 1 ]
}

@test "--json: valid UTF-8 (strictly decoded) and JSON; invalid bytes become U+FFFD, the rest is kept" {
	run audit_with_scene "$(hostile_scene)" "listening 50004" --json
	[ "$status" -eq 0 ]
	printf '%s' "$output" > "$BATS_TEST_TMPDIR/report.json"
	# Pure ASCII, too: no raw terminal sequence even when cat to a terminal.
	[ -z "$(LC_ALL=C tr -d '\n\040-\176' < "$BATS_TEST_TMPDIR/report.json")" ]
	run "${AUDIT_CHECK[@]}" json "$BATS_TEST_TMPDIR/report.json"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -Fqx 'exposed_listeners.0.owners.0.command="\u001b[31mX\n\ufffd\ufffd\ufffd"' <<<"$output"
	grep -Fqx 'exposed_listeners.0.owners.0.cmdline.0="\u001b]0;pwned\u0007\n\ufffdx"' <<<"$output"
}

@test "other users' listeners are listed apart with their owner and never proposed; root's are" {
	run audit_with_scene "start socat TCP-LISTEN:50004,reuseaddr,fork /dev/null >/dev/null 2>&1
		for port in 50000 50001 50002 50003 50005 50006 50007 50008 50009 50010; do
			start setpriv --reuid=4242 --regid=4242 --clear-groups \
				socat TCP-LISTEN:\$port,reuseaddr,fork /dev/null >/dev/null 2>&1
		done" "listening 50004 && listening 50000 && listening 50010 && listening 50007"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q '^Listening inside the ephemeral range: 11$' <<<"$output"
	grep -q '^ of root and system accounts (uid < 1000): 1$' <<<"$output"
	grep -q '^ of other users (uid >= 1000), never put in the proposed line: 10$' <<<"$output"
	[ "$(grep -c '^  0\.0\.0\.0:500[01][0-9]  LISTEN  uid 4242$' <<<"$output")" -eq 10 ]
	grep -q '^  sysctl -w net.ipv4.ip_local_reserved_ports=50004$' <<<"$output"
	[ "$(grep -c '^Warning' <<<"$output")" -eq 0 ]
}

@test "--json: owners' uids and classes; only system listeners proposed" {
	run audit_with_scene "start socat TCP-LISTEN:50004,reuseaddr,fork /dev/null >/dev/null 2>&1
		start setpriv --reuid=4242 --regid=4242 --clear-groups \
			socat TCP-LISTEN:50006,reuseaddr,fork /dev/null >/dev/null 2>&1
		start setpriv --reuid=999 --regid=999 --clear-groups \
			socat TCP-LISTEN:50008,reuseaddr,fork /dev/null >/dev/null 2>&1" \
		"listening 50004 && listening 50006 && listening 50008" --json
	printf '%s' "$output" > "$BATS_TEST_TMPDIR/report.json"
	run "${AUDIT_CHECK[@]}" json "$BATS_TEST_TMPDIR/report.json"
	echo "$output"
	grep -Fqx 'sysctl="sysctl -w net.ipv4.ip_local_reserved_ports=50004,50008"' <<<"$output"
	local i
	for i in 0 1 2; do
		case "$(sed -n "s/^exposed_listeners\.$i\.port=//p" <<<"$output")" in
		50004) want='0 "system" true' ;;
		50006) want='4242 "user" false' ;;
		50008) want='999 "system" true' ;;
		*) false ;;
		esac
		[ "$(sed -n "s/^exposed_listeners\.$i\.\(uid\|owner_class\|proposed\)=//p" <<<"$output" | xargs)" = "$(xargs <<<"$want")" ]
	done
}

@test "a proposal over a quarter of the ephemeral range says so and what it costs" {
	run audit_with_scene "for port in 50001 50003 50005; do
			start socat TCP-LISTEN:\$port,reuseaddr,fork /dev/null >/dev/null 2>&1
		done" "listening 50001 && listening 50003 && listening 50005"
	echo "$output"
	grep -q '^Warning: that line reserves 3 of the 11 ephemeral ports (more than a quarter):$' <<<"$output"
	grep -q 'clients on this host keep only 8 ports' <<<"$output"
}

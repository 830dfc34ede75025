#!/usr/bin/env bats
# Hostile conditions (issue 11, items 6-7): privileged programs reached
# through /etc/ld.so.preload ignore NOSELFCONN_* and write nothing; nothing
# the library writes can be forged by a crafted program name or value.

load helpers

setup() {
	require_netns
}

EVIL_NAME=$'evil\n<11>fake[1]: root\e[31m'

# as_user_with_preload DIR CMD...: CMD as uid 4242 in a mount namespace whose
# /etc/ld.so.preload names DIR/libnoselfconn.so, the way a host-wide install
# reaches setuid programs (LD_PRELOAD does not: ld.so drops it for them).
as_user_with_preload() {
	local dir="$1"
	shift
	run --separate-stderr in_netns unshare -m sh -c '
		set -e
		dir=$1
		shift
		mount -t tmpfs -o mode=755 none /etc
		cp "$dir/ld.so.cache" /etc/
		echo "$dir/libnoselfconn.so" > /etc/ld.so.preload
		exec setpriv --reuid=4242 --regid=4242 --clear-groups "$@"' as_user "$dir" "$@"
}

# The sanitizer runtime cannot be preloaded into a setuid program.
# bats test_tags=no-sanitizer
@test "setuid program (AT_SECURE): NOSELFCONN_* ignored, guard on, nothing written to stderr" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to make a setuid program"
	local dir
	dir=$(mktemp -d /tmp/noselfconn-suid.XXXXXX)
	chmod 755 "$dir"
	cp "$LIB" /etc/ld.so.cache "$dir/"
	cp "$DIAL" "$dir/dial-plain"
	cp "$DIAL" "$dir/dial-setuid"
	chmod 4755 "$dir/dial-setuid"
	local settings=(env NOSELFCONN_MODE=off NOSELFCONN_LOG=1)
	# The same program without the setuid bit obeys the user's settings...
	as_user_with_preload "$dir" "${settings[@]}" "$dir/dial-plain" -n 200 127.0.0.1 "$TARGET"
	expect_at_least self 1
	as_user_with_preload "$dir" env NOSELFCONN_LOG=1 "$dir/dial-plain" -n 200 127.0.0.1 "$TARGET"
	expect self 0
	[ "$(prevented)" -ge 1 ]
	# ...the setuid one ignores them: guarded, silent.
	as_user_with_preload "$dir" "${settings[@]}" "$dir/dial-setuid" -n 200 127.0.0.1 "$TARGET"
	expect self 0
	expect refused 200
	[ -z "$stderr" ]
	as_user_with_preload "$dir" env "NOSELFCONN_MODE=$EVIL_NAME" "$dir/dial-setuid" -n 20 127.0.0.1 "$TARGET"
	expect self 0
	[ -z "$stderr" ]
	rm -rf "$dir"
}

# evil_dial PRELOAD-ENV...: the dial helper run with $EVIL_NAME as argv[0].
evil_dial=(bash -c 'exec -a "$0" "$@"' "$EVIL_NAME")

@test "a crafted argv[0] gives one escaped stderr line per prevention, no terminal sequence" {
	run --separate-stderr in_netns env LD_PRELOAD="$PRELOAD_LIB" NOSELFCONN_LOG=1 \
		"${evil_dial[@]}" "$DIAL" -n 100 127.0.0.1 "$TARGET"
	expect self 0
	local lines
	lines=$(grep -c . <<<"$stderr")
	[ "$lines" -ge 1 ]
	[ "$lines" -eq "$(prevented)" ]
	[ "$(grep -cE '^noselfconn: prevented a self-connection: evil\\x0a<11>fake\[1\]: root\\x1b\[31m\[[0-9]+\] dialing 127\.0\.0\.1:50000$' <<<"$stderr")" -eq "$lines" ]
	! grep -q $'\e' <<<"$stderr"
}

@test "a crafted argv[0] cannot forge a second syslog line" {
	with_syslog "$PRELOAD_LIB" "${evil_dial[@]}" "$DIAL" -n 100 127.0.0.1 "$TARGET"
	echo "$output"
	expect self 0
	local datagrams
	datagrams=$(grep -c '^<12>noselfconn' <<<"$output")
	[ "$datagrams" -ge 1 ]
	# Every line is the dial helper's count or one whole datagram of ours.
	[ "$(grep -vc -e '^attempts=' -e '^<12>noselfconn\[[0-9]*\]: prevented a self-connection: evil\\x0a<11>fake' <<<"$output")" -eq 0 ]
}

@test "a setting's value is escaped in the one warning line" {
	run --separate-stderr in_netns env LD_PRELOAD="$PRELOAD_LIB" "NOSELFCONN_MODE=$EVIL_NAME" \
		"$DIAL" -n 10 127.0.0.1 "$TARGET"
	expect self 0
	[ "$(grep -c . <<<"$stderr")" -eq 1 ]
	grep -qF "ignoring NOSELFCONN_MODE='evil\\x0a<11>fake[1]: root\\x1b[31m' (expected check, prebind or off); using check" <<<"$stderr"
}

#!/usr/bin/env bats
# What operators get: man pages, the systemd drop-in.

load helpers

@test "man pages render without warnings (groff -ww) and through man -l" {
	for page in "$BUILD/doc/noselfconn.1" "$BUILD/doc/libnoselfconn.7"; do
		run groff -man -ww -z -Tutf8 "$page"
		[ "$status" -eq 0 ]
		[ -z "$output" ]
		run env MANWIDTH=80 man -l "$page"
		[ "$status" -eq 0 ]
		[[ "$output" == *NAME* && "$output" == *DESCRIPTION* ]]
	done
}

@test "make install puts the man pages and the drop-in in place, uninstall removes them" {
	local dest="$BATS_TEST_TMPDIR/dest"
	make -C "$ROOT" -s install DESTDIR="$dest" >/dev/null
	[ -f "$dest/usr/local/share/man/man1/noselfconn.1" ]
	[ -f "$dest/usr/local/share/man/man7/libnoselfconn.7" ]
	[ -f "$dest/usr/local/share/noselfconn/systemd-dropin.conf" ]
	make -C "$ROOT" -s uninstall DESTDIR="$dest" >/dev/null
	[ -z "$(find "$dest" -type f)" ]
}

@test "the drop-in names the library where make install puts it (default PREFIX, and another)" {
	run grep '^Environment=LD_PRELOAD=' "$ROOT/shim/doc/systemd-dropin.conf"
	[ "$output" = "Environment=LD_PRELOAD=/usr/local/lib/libnoselfconn.so" ]
	run make -C "$ROOT" -n install DESTDIR=/stage
	grep -q 'install -m 644 .*libnoselfconn.so /stage/usr/local/lib/libnoselfconn.so' <<<"$output"
	local dest="$BATS_TEST_TMPDIR/opt"
	make -C "$ROOT" -s install DESTDIR="$dest" PREFIX=/opt/nsc BUILD="$BATS_TEST_TMPDIR/build" >/dev/null
	run grep '^Environment=' "$dest/opt/nsc/share/noselfconn/systemd-dropin.conf"
	[ "$output" = "Environment=LD_PRELOAD=/opt/nsc/lib/libnoselfconn.so" ]
	[ -f "$dest/opt/nsc/lib/libnoselfconn.so" ]
}

@test "the drop-in's environment protects the service command (no systemd here: started by hand)" {
	require_netns
	local env_line
	env_line=$(sed -n 's/^Environment=//p' "$ROOT/shim/doc/systemd-dropin.conf")
	[[ "$env_line" == LD_PRELOAD=/* ]]
	run in_netns "$DIAL" -k -n 500 127.0.0.1 "$TARGET"
	expect_at_least self 1
	# The library at the drop-in's path, in a private mount namespace.
	run in_netns unshare -m sh -c '
		mkdir -p /usr/local/lib && mount -t tmpfs none /usr/local/lib && cp "$1" /usr/local/lib/
		shift
		exec "$@"' dropin "$LIB" env "LD_PRELOAD=$SANITIZER_PRELOAD${env_line#LD_PRELOAD=}" \
		"$DIAL" -n 300 127.0.0.1 "$TARGET"
	expect self 0
	expect refused 300
}

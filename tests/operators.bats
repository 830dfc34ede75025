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

@test "make install puts the man pages, units, drop-in and completion in place, uninstall removes them" {
	local dest="$BATS_TEST_TMPDIR/dest"
	make -C "$ROOT" -s install DESTDIR="$dest" >/dev/null
	[ -f "$dest/usr/local/share/man/man1/noselfconn.1" ]
	[ -f "$dest/usr/local/share/man/man7/libnoselfconn.7" ]
	[ -f "$dest/usr/local/share/noselfconn/noselfconn.conf" ]
	[ -f "$dest/usr/local/lib/systemd/system/noselfconn-audit.service" ]
	[ -f "$dest/usr/local/lib/systemd/system/noselfconn-audit.timer" ]
	[ -f "$dest/usr/local/share/bash-completion/completions/noselfconn" ]
	# Installed, not enabled: nothing in a .wants directory.
	[ -z "$(find "$dest" -name '*.wants')" ]
	make -C "$ROOT" -s uninstall DESTDIR="$dest" >/dev/null
	[ -z "$(find "$dest" -type f)" ]
}

@test "the drop-in, the units and the man pages name the paths make install uses" {
	run grep '^Environment=LD_PRELOAD=' "$BUILD/systemd/noselfconn.conf"
	[ "$output" = "Environment=LD_PRELOAD=/usr/local/\$LIB/noselfconn/libnoselfconn.so" ]
	local dest="$BATS_TEST_TMPDIR/opt" build="$BATS_TEST_TMPDIR/build"
	make -C "$ROOT" -s install DESTDIR="$dest" PREFIX=/opt/nsc BUILD="$build" >/dev/null
	run grep '^Environment=' "$dest/opt/nsc/share/noselfconn/noselfconn.conf"
	[ "$output" = "Environment=LD_PRELOAD=/opt/nsc/\$LIB/noselfconn/libnoselfconn.so" ]
	[ -f "$dest/opt/nsc/$LIB_SUBDIR/libnoselfconn.so" ]
	grep -q '/opt/nsc/bin/noselfconn --audit' "$dest/opt/nsc/lib/systemd/system/noselfconn-audit.service"
	# The man pages: the paths of this install, never another's.
	run env MANWIDTH=200 man -l "$dest/opt/nsc/share/man/man7/libnoselfconn.7"
	grep -Fq "/opt/nsc/\$LIB/noselfconn/libnoselfconn.so" <<<"$output"
	grep -Fq "/opt/nsc/$LIB_SUBDIR/libnoselfconn.so" <<<"$output"
	[ -z "$(grep '/usr/local' <<<"$output")" ]
	run env MANWIDTH=200 man -l "$dest/opt/nsc/share/man/man1/noselfconn.1"
	grep -Fq "/opt/nsc/$LIB_SUBDIR/libnoselfconn.so" <<<"$output"
	grep -Fq "/opt/nsc/lib/systemd/system/noselfconn-audit.service" <<<"$output"
	[ -z "$(grep '/usr/local' <<<"$output")" ]
}

@test "man pages: no name broken at a line end, ENVIRONMENT, FILES and EXAMPLES, a short NAME line" {
	local page width
	for page in "$BUILD/doc/noselfconn.1" "$BUILD/doc/libnoselfconn.7"; do
		run env MANWIDTH=80 man -l "$page"
		for section in NAME SYNOPSIS DESCRIPTION ENVIRONMENT FILES EXAMPLES "SEE ALSO"; do
			grep -qx "$section" <<<"$output"
		done
		# The NAME line as whatis and apropos show it.
		[ "$(sed -n '/^NAME$/{n;p;q}' <<<"$output" | sed 's/^ *//' | wc -c)" -lt 80 ]
		for width in 50 60 66 72 80 90 100 120; do
			run env MANWIDTH="$width" man -l "$page"
			# No hyphenation (U+2010 at a line end), no option cut at a hyphen.
			[ -z "$(grep -E $'\u2010$' <<<"$output")" ]
			[ -z "$(grep -E '(^| )--?[a-z]+(-[a-z]+)*-$' <<<"$output")" ]
		done
	done
}

@test "the drop-in's environment protects the service command (no systemd here: started by hand)" {
	require_netns
	local env_line
	env_line=$(sed -n 's/^Environment=//p' "$BUILD/systemd/noselfconn.conf")
	[[ "$env_line" == LD_PRELOAD=/usr/local/\$LIB/* ]]
	run in_netns "$DIAL" -k -n 500 127.0.0.1 "$TARGET"
	expect_at_least self 1
	# The library at the drop-in's path, in a private mount namespace.
	run in_netns unshare -m sh -c '
		mkdir -p /usr/local/lib && mount -t tmpfs none /usr/local/lib
		mkdir -p "/usr/local/$2" && cp "$1" "/usr/local/$2/"
		shift 2
		exec "$@"' dropin "$LIB" "$LIB_SUBDIR" env "LD_PRELOAD=$SANITIZER_PRELOAD${env_line#LD_PRELOAD=}" \
		"$DIAL" -n 300 127.0.0.1 "$TARGET"
	expect self 0
	expect refused 300
}

#!/usr/bin/env bats
# Programs that re-execute themselves with a scrubbed environment (issue 11,
# item 9): nginx's binary upgrade, which Debian's package upgrade runs,
# starts the new master with only the variables its `env` directives name.

load helpers

setup() {
	require_netns
}

# bats test_tags=foreign-programs
@test "nginx binary upgrade: the library is lost without 'env LD_PRELOAD;', kept with it" {
	local upgrade="$ROOT/tests/helpers/nginx-upgrade.sh"
	# Each step waits for nginx's own log line; on failure, the log is shown.
	run --separate-stderr in_netns "$upgrade" "$BATS_TEST_TMPDIR/plain" "$LIB" ""
	echo "without the directive: $output $stderr"
	cat "$BATS_TEST_TMPDIR/plain/logs/error.log"
	[ "$status" -eq 0 ]
	[ "$output" = "old=yes new=no" ]
	run --separate-stderr in_netns "$upgrade" "$BATS_TEST_TMPDIR/kept" "$LIB" "env LD_PRELOAD;"
	echo "with it: $output $stderr"
	cat "$BATS_TEST_TMPDIR/kept/logs/error.log"
	[ "$status" -eq 0 ]
	[ "$output" = "old=yes new=yes" ]
}

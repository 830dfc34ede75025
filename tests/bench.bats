#!/usr/bin/env bats
# The benchmarks are not timed here (too noisy), but they must keep working:
# every case runs for a moment and prints its rows.

load helpers

# Timing sanitized programs measures nothing: left out of make sanitize.
# bats test_tags=no-sanitizer
@test "make bench's programs run every case briefly and print the whole table" {
	require_netns
	run "$ROOT/tests/bench/run.sh" 1 100
	echo "$output"
	[ "$status" -eq 0 ]
	for case in churn-client-closes churn-server-closes passthrough refused threads capacity startup; do
		[ "$(grep -c "^$case " <<<"$output")" -ge 2 ]
	done
	grep -Eq '^check +\+0\.00 +\+1\.00' <<<"$output"
	grep -Eq "^churn-client-closes +floor " <<<"$output"
	for case in churn-client-closes refused; do
		grep -Eq "^$case +supervise-floor " <<<"$output"
		grep -Eq "^$case +vs-supervise-floor " <<<"$output"
		grep -Eq "^$case +supervise-bare " <<<"$output"
	done
	[ -z "$(grep ' 0.000 (0.000' <<<"$output")" ]
	grep -Eq '^claim-wait median [0-9.]+, min [0-9.]+, max [0-9.]+$' <<<"$output"
}

@test "make bench-snapshot puts the last run between the markers of benchmarks.md, and nothing else changes" {
	local doc="$BATS_TEST_TMPDIR/benchmarks.md" run="$BATS_TEST_TMPDIR/bench.txt"
	cp "$ROOT/shim/doc/benchmarks.md" "$doc"
	printf 'noselfconn benchmarks: a test run\nrow \\n with a backslash\n' > "$run"
	"$ROOT/tests/bench/snapshot.sh" "$run" "$doc"
	diff <(sed -n '/^<!-- bench-snapshot:begin -->$/,/^<!-- bench-snapshot:end -->$/p' "$doc") \
		<(printf '%s\n' '<!-- bench-snapshot:begin -->' '```text' 'noselfconn benchmarks: a test run' \
			'row \n with a backslash' '```' '<!-- bench-snapshot:end -->')
	diff <(sed '/^<!-- bench-snapshot:begin -->$/,/^<!-- bench-snapshot:end -->$/d' "$doc") \
		<(sed '/^<!-- bench-snapshot:begin -->$/,/^<!-- bench-snapshot:end -->$/d' "$ROOT/shim/doc/benchmarks.md")
	# No run: refused, the document untouched.
	cp "$doc" "$doc.before"
	run "$ROOT/tests/bench/snapshot.sh" "$BATS_TEST_TMPDIR/none" "$doc"
	[ "$status" -eq 1 ]
	[[ "$output" == *"run make bench first"* ]]
	cmp "$doc" "$doc.before"
}

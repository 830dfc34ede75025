#!/usr/bin/env bats
# The benchmarks are not timed here (too noisy), but they must keep working:
# every case runs for a moment and prints its rows.

load helpers

# Timing sanitized programs measures nothing: left out of make sanitize.
# bats test_tags=no-sanitizer,no-coverage
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
	# The kernel rows, where this machine can attach the guard
	if [ "$(id -u)" -eq 0 ] && "$WRAPPER" --kernel --check >/dev/null 2>&1; then
		for case in churn-client-closes refused refused-localhost; do
			grep -Eq "^$case +kernel .* [0-9]+ ns/dial in the programs$" <<<"$output"
		done
	fi
	[ -z "$(grep ' 0.000 (0.000' <<<"$output")" ]
	grep -Eq '^claim-wait median [0-9.]+, min [0-9.]+, max [0-9.]+$' <<<"$output"
}

#!/usr/bin/env bats
# make demo: it must show the self-connection without the library and none with it.

# Left out of make sanitize with compat.bats (see there): third-party programs.
# bats file_tags=foreign-programs

load helpers

# run_demo SCRIPT: demo/SCRIPT with the wrapper under test; it must succeed.
run_demo() {
	require_netns
	NOSELFCONN="$WRAPPER" LD_PRELOAD="${NSC_SANITIZER_RUNTIME:-}" run "$ROOT/demo/$1"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "the demo reproduces the bug without the library and shows none with it" {
	run_demo self-connect.sh
	grep -Eq '127\.0\.0\.1:50000 +127\.0\.0\.1:50000' <<<"$output"
	grep -q '200 of 200 attempts refused, 0 connected' <<<"$output"
}

@test "the legacy-proxy demo shows the damage without the library and a clean recovery with it" {
	run_demo legacy-proxy.sh
	grep -q 'the client got its own request back as the reply' <<<"$output"
	grep -q '^    GET /hello HTTP/1.1' <<<"$output"
	grep -q 'Address already in use' <<<"$output"
	grep -q '300 requests: 300 got the proxy.s usual error' <<<"$output"
	grep -q -- '-> hello from the backend$' <<<"$output"
}

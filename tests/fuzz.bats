#!/usr/bin/env bats
# The fuzzer runs briefly in every test run (make fuzz runs it longer).

load helpers

@test "fuzzing the pure decisions for 10 s finds nothing" {
	cd "$BATS_TEST_TMPDIR"
	mkdir corpus
	run "$BUILD/tests/fuzz_verdict" -max_total_time=10 -print_final_stats=1 corpus "$ROOT/tests/fuzz/corpus"
	echo "$output" | tail -15
	[ "$status" -eq 0 ]
	[[ "$output" =~ Done\ ([0-9]+)\ runs ]]
	echo "${BASH_REMATCH[1]} executions"
	[ "${BASH_REMATCH[1]}" -gt 100000 ]
	[ -z "$(ls crash-* leak-* timeout-* 2>/dev/null)" ]
}

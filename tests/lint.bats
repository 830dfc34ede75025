#!/usr/bin/env bats
# make lint: cppcheck, clang-tidy and shellcheck find nothing.

load helpers

@test "static analysis finds nothing (cppcheck, clang-tidy, shellcheck)" {
	run "$ROOT/tests/lint.sh"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"lint: clean"* ]]
}

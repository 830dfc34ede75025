#!/usr/bin/env bats
# The pure decisions, tested directly (tests/unit/unit_verdict.c).

load helpers

@test "unit tests of the verdict, self-connection test, ranges and parsing" {
	run "$BUILD/tests/unit_verdict"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *" 0 failed"* ]]
}

@test "unit tests of the audit's /proc/net parsing and port sets" {
	run "$BUILD/tests/unit_procnet"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *" 0 failed"* ]]
}

@test "unit tests of the escaping and the library's report lines" {
	run "$BUILD/tests/unit_report"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *" 0 failed"* ]]
}

@test "unit tests of /etc/ld.so.preload's entries, added once and taken out exactly" {
	run "$BUILD/tests/unit_preloadfile"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *" 0 failed"* ]]
}

@test "unit tests of the supervisor's listener lookup: the request and the reading of its answer" {
	run "$BUILD/tests/unit_listener"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *" 0 failed"* ]]
}

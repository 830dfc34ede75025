#!/usr/bin/env bats
# The documents: links that lead somewhere, commands that name options the
# command has, and the blocks make writes (the kernel table of testing.md,
# the benchmark snapshot of benchmarks.md) written where they belong and
# nowhere else.

load helpers

DOCS=(README.md NEWS.md shim/doc/*.md)

@test "every relative link in README.md and shim/doc/*.md leads to a file that exists" {
	local doc link missing=""
	cd "$ROOT"
	for doc in "${DOCS[@]}"; do
		while read -r link; do
			link="${link%%#*}"
			[ -n "$link" ] || continue
			[ -e "$(dirname "$doc")/$link" ] || missing+="$doc: $link"$'\n'
		done < <(grep -oE '\]\([^)]+\)' "$doc" | sed 's/^](//; s/)$//' | grep -vE '^[a-z]+:')
	done
	echo "$missing"
	[ -z "$missing" ]
}

# unknown_options FILE...: the options written after "noselfconn" in FILE...
# (noselfconn --kernel --pin DIR, ...) that noselfconn --help does not name.
unknown_options() {
	local help option
	help=$("$WRAPPER" --help)
	grep -ohE 'noselfconn( --[a-z-]+( [A-Z/][^ `]*)?)+' "$@" | grep -oE -- '--[a-z-]+' | sort -u |
		while read -r option; do
			grep -qE -- "(^|[ ,|])$option([][ =|]|\$)" <<<"$help" || echo "$option"
		done
}

@test "every noselfconn option the documents use is one noselfconn --help names" {
	cd "$ROOT"
	run unknown_options "${DOCS[@]}"
	echo "unknown: $output"
	[ -z "$output" ]
	# A misspelt one is caught.
	echo 'sudo noselfconn --kernel --pinned /sys/fs/bpf/x --detach CGROUP' > "$BATS_TEST_TMPDIR/sample.md"
	run unknown_options "$BATS_TEST_TMPDIR/sample.md"
	[ "$output" = "--pinned" ]
}

@test "make kernel-table writes the kernel table of testing.md from the results, and nothing else" {
	local results="$BATS_TEST_TMPDIR/kernels" doc="$BATS_TEST_TMPDIR/testing.md"
	mkdir "$results"
	cat > "$results/6.1.results" <<-'END'
	kernel 6.1.0-57-cloud-amd64
	version #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-1 (2026-11-01) x86_64
	features sync_wake_up=no
	ok did check: re-dialed with the port excluded
	ok check 127.0.0.1 blocking
	END
	cp "$ROOT/shim/doc/testing.md" "$doc"
	"$ROOT/tests/kernels/table.sh" "$results" "$doc"
	sed -n '/^<!-- kernel-table:begin -->$/,/^<!-- kernel-table:end -->$/p' "$doc" > "$BATS_TEST_TMPDIR/block"
	cat "$BATS_TEST_TMPDIR/block"
	[ "$(grep -c '^| 6.1.192 (6.1.0-57-cloud-amd64)' "$BATS_TEST_TMPDIR/block")" -eq 2 ]
	grep -q '| re-dialed with the port excluded |' "$BATS_TEST_TMPDIR/block"
	diff <(sed '/^<!-- kernel-table:begin -->$/,/^<!-- kernel-table:end -->$/d' "$doc") \
		<(sed '/^<!-- kernel-table:begin -->$/,/^<!-- kernel-table:end -->$/d' "$ROOT/shim/doc/testing.md")
	# No results: refused, the document untouched.
	cp "$doc" "$doc.before"
	run "$ROOT/tests/kernels/table.sh" "$BATS_TEST_TMPDIR/none" "$doc"
	[ "$status" -eq 1 ]
	cmp "$doc" "$doc.before"
	# A document without the markers: refused, untouched.
	echo "no table here" > "$BATS_TEST_TMPDIR/other.md"
	run "$ROOT/tests/kernels/table.sh" "$results" "$BATS_TEST_TMPDIR/other.md"
	[ "$status" -eq 1 ]
	[ "$(cat "$BATS_TEST_TMPDIR/other.md")" = "no table here" ]
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

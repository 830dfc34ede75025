#!/usr/bin/env bash
# Copies the output of the last complete `make bench` into a document, as a
# dated snapshot of that one run:
#   tests/bench/snapshot.sh BENCH-OUTPUT DOCUMENT
# The output (make bench keeps it in build/bench.txt; its first line says
# when and where it ran) replaces what stands between
# <!-- bench-snapshot:begin --> and <!-- bench-snapshot:end -->.
set -euo pipefail
output="${1:?usage: $0 BENCH-OUTPUT DOCUMENT}" doc="${2:?usage: $0 BENCH-OUTPUT DOCUMENT}"

# No run, no snapshot: never replace figures with nothing.
if [ ! -s "$output" ]; then
	echo "bench-snapshot: no $output: run make bench first" >&2
	exit 1
fi
begin='<!-- bench-snapshot:begin -->' end='<!-- bench-snapshot:end -->'
if ! grep -qxF "$begin" "$doc" || ! grep -qxF "$end" "$doc"; then
	echo "bench-snapshot: no $begin ... $end in $doc" >&2
	exit 1
fi

block=$(
	echo '```text'
	cat "$output"
	echo '```'
)
# Through the environment: awk -v would read backslashes as escapes.
BLOCK="$block" awk -v begin="$begin" -v end="$end" '
	$0 == begin { print; print ENVIRON["BLOCK"]; skip = 1; next }
	$0 == end { skip = 0 }
	!skip' "$doc" > "$doc.new"
mv "$doc.new" "$doc"

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
{
	echo '```text'
	cat "$output"
	echo '```'
} | "$(dirname "$0")/../doc-block.sh" bench-snapshot "$doc"

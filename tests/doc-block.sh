#!/usr/bin/env bash
# Replaces a generated block of a document with what comes on stdin:
#   COMMAND | tests/doc-block.sh NAME DOCUMENT
# The block is what stands between the lines <!-- NAME:begin --> and
# <!-- NAME:end -->; both must be there, and the rest stays as it is.
# Used by make kernel-table and make bench-snapshot.
set -euo pipefail
name="${1:?usage: $0 NAME DOCUMENT}" doc="${2:?usage: $0 NAME DOCUMENT}"
begin="<!-- $name:begin -->" end="<!-- $name:end -->"
if ! grep -qxF "$begin" "$doc" || ! grep -qxF "$end" "$doc"; then
	echo "$name: no $begin ... $end in $doc" >&2
	exit 1
fi
# Through the environment: awk -v would read backslashes as escapes.
BLOCK="$(cat)" awk -v begin="$begin" -v end="$end" '
	$0 == begin { print; print ENVIRON["BLOCK"]; skip = 1; next }
	$0 == end { skip = 0 }
	!skip' "$doc" > "$doc.new"
mv "$doc.new" "$doc"

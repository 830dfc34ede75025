#!/usr/bin/env bash
# Writes the kernel table of a document (shim/doc/testing.md) from the last
# make test-kernels run:
#   tests/kernels/table.sh RESULTS-DIR DOCUMENT
# RESULTS-DIR holds one NAME.results per kernel (run.sh); the table replaces
# what stands between <!-- kernel-table:begin --> and <!-- kernel-table:end -->
# (tests/doc-block.sh).
# What each mode did is what strace showed in the VM (init.sh checks it
# against the kernel's features); "?" where that check failed.
set -euo pipefail
dir="${1:?usage: $0 RESULTS-DIR DOCUMENT}" doc="${2:?usage: $0 RESULTS-DIR DOCUMENT}"

# has FEATURES NAME: the kernel has NAME (kfeatures said NAME=yes).
has() { [[ " $1 " == *" $2=yes "* ]]; }

# row KERNEL FEATURES RESULTS PASS: one line of the table, for the results
# of one pass (its lines carry the pass's prefix, e.g. "without-... ").
row() {
	local kernel="$1" features="$2" results="$3" pass="$4"
	local check prebind supervise cases ok preload supervised
	check=$(sed -n "s/^ok did ${pass}check: //p" <<<"$results")
	prebind=$(sed -n "s/^ok did ${pass}prebind: //p" <<<"$results")
	supervise=$(sed -n "s/^ok did ${pass}supervise: //p" <<<"$results")
	has "$features" sync_wake_up || supervise+="; no SYNC_WAKE_UP"
	if [ -n "$pass" ]; then
		cases=$(grep -E "^(not )?ok (check|prebind|supervise) ${pass}" <<<"$results" || true)
	else
		cases=$(grep -E '^(not )?ok (check|prebind|supervise) ' <<<"$results" | grep -v ' without-' || true)
	fi
	ok=$(grep -c '^ok ' <<<"$cases" || true)
	preload=$(grep -cE '^(not )?ok (check|prebind) ' <<<"$cases" || true)
	supervised=$(grep -cE '^(not )?ok supervise ' <<<"$cases" || true)
	echo "| $kernel | ${check:-?} | ${prebind:-?} | ${supervise:-?} | $(kernel_guard "$results" "$pass") | $preload preloaded, $supervised supervised | $ok/$((preload + supervised)) |"
}

# kernel_guard RESULTS PASS: the --kernel column: whether the verifier took
# the programs, how many cases passed with the guard on the root cgroup,
# and whether a kernel below its oldest got its one line (first pass only).
kernel_guard() {
	[ -z "$2" ] || { echo "-"; return; }
	local verifier cases passed below
	verifier=$(grep -c '^ok kernel verifier' <<<"$1" || true)
	cases=$(grep -cE '^(not )?ok kernel (127|::|0\.|10\.|fd00)' <<<"$1" || true)
	passed=$(grep -cE '^ok kernel (127|::|0\.|10\.|fd00)' <<<"$1" || true)
	below=$(grep -c '^ok kernel below its oldest' <<<"$1" || true)
	echo "$([ "$verifier" = 1 ] && echo accepted || echo "?"), $passed/$cases cases; below 5.7: $([ "$below" = 2 ] && echo "one line" || echo "?")"
}

# No results, no table: never write a row of question marks.
set -- "$dir"/*.results
if [ ! -e "$1" ]; then
	echo "kernel-table: no results in $dir: run make test-kernels first" >&2
	exit 1
fi

table=$(
	echo "| Kernel | check | prebind | --supervise | --kernel | Cases run | Passed |"
	echo "|---|---|---|---|---|---|---|"
	for file in "$dir"/*.results; do
		results=$(grep -E '^(not )?ok ' "$file" || true)
		# "6.1.192 (6.1.0-56-cloud-amd64)": Debian's version, then its release name
		kernel="$(sed -n 's/^version .*Debian \([^ ]*\) .*/\1/p' "$file" | sed 's/-[^-]*$//') ($(sed -n 's/^kernel //p' "$file"))"
		features=$(sed -n 's/^features //p' "$file")
		row "$kernel" "$features" "$results" ""
		row "$kernel, IP_LOCAL_PORT_RANGE removed" \
			"$features" "$results" "without-IP_LOCAL_PORT_RANGE "
	done
)

echo "$table" | "$(dirname "$0")/../doc-block.sh" kernel-table "$doc"

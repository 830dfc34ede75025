#!/usr/bin/env bash
# Writes the README's kernel table from the last make test-kernels run:
#   tests/kernels/table.sh RESULTS-DIR README
# RESULTS-DIR holds one NAME.results per kernel (run.sh); the table replaces
# what stands between <!-- kernel-table:begin --> and <!-- kernel-table:end -->.
# What each mode does on a kernel follows from the features kfeatures found
# there; the counts are the run's own.
set -euo pipefail
dir="${1:?usage: $0 RESULTS-DIR README}" readme="${2:?usage: $0 RESULTS-DIR README}"

# has FEATURES NAME: the kernel has NAME (kfeatures said NAME=yes).
has() { [[ " $1 " == *" $2=yes "* ]]; }

# row KERNEL FEATURES RESULTS PASS-PREFIX: one line of the table.
row() {
	local kernel="$1" features="$2" results="$3" pass="$4"
	local check prebind supervise lines ok
	if has "$features" ip_local_port_range; then
		check="re-dials with the port excluded (IP_LOCAL_PORT_RANGE)"
		prebind="narrows the socket's range before the dial"
		supervise="narrows the socket's range"
	else
		check="refuses outright (no IP_LOCAL_PORT_RANGE)"
		prebind="falls back to check"
		supervise="binds another port of the range"
	fi
	if ! has "$features" user_notif; then
		supervise="falls back to the preload"
	else
		has "$features" pidfd_thread && supervise+="; pidfd of the thread" ||
			supervise+="; pidfd of the process (no PIDFD_THREAD)"
		has "$features" sync_wake_up || supervise+="; no SYNC_WAKE_UP"
	fi
	# the results of this pass: its lines carry the pass prefix, or none
	if [ -n "$pass" ]; then
		lines=$(grep -F "$pass" <<<"$results" || true)
	else
		lines=$(grep -vF '[' <<<"$results" || true)
	fi
	ok=$(grep -c '^ok ' <<<"$lines" || true)
	local preload supervised
	preload=$(grep -cE '^(not )?ok (check|prebind) ' <<<"$lines" || true)
	supervised=$(grep -cE '^(not )?ok supervise ' <<<"$lines" || true)
	echo "| $kernel | $check | $prebind | $supervise | $preload preloaded, $supervised supervised | $ok/$((preload + supervised)) |"
}

table=$(
	echo "| Kernel | check | prebind | --supervise | Cases run | Passed |"
	echo "|---|---|---|---|---|---|"
	for file in "$dir"/*.results; do
		results=$(grep -E '^(not )?ok ' "$file" || true)
		# "6.1.192 (6.1.0-56-cloud-amd64)": Debian's version, then its release name
		kernel="$(sed -n 's/^version .*Debian \([^ ]*\) .*/\1/p' "$file" | sed 's/-[^-]*$//') ($(sed -n 's/^kernel //p' "$file"))"
		features=$(sed -n 's/^features //p' "$file")
		row "$kernel" "$features" "$results" ""
		row "$kernel, IP_LOCAL_PORT_RANGE removed" \
			"${features/ip_local_port_range=yes/ip_local_port_range=no}" "$results" "[no IP_LOCAL_PORT_RANGE]"
	done
)

begin='<!-- kernel-table:begin -->' end='<!-- kernel-table:end -->'
grep -qF "$begin" "$readme" || { echo "table: no $begin in $readme" >&2; exit 1; }
awk -v begin="$begin" -v end="$end" -v table="$table" '
	$0 == begin { print; print table; skip = 1; next }
	$0 == end { skip = 0 }
	!skip' "$readme" > "$readme.new"
mv "$readme.new" "$readme"

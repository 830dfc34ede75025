#!/usr/bin/env bats
# Last of the suite (files run in name order): the kernel guard's tests of
# this run left nothing behind: no cgroup of theirs, no guard attached to
# one, no pin (theirs live on BPF file systems mounted under this run's
# directory, in mount namespaces held by their own processes). Other
# engineers' suites run on this machine at the same time, with guards of
# their own: only this run's names are looked at.

load helpers
load helpers/kernel

@test "kernel leftovers: this run left no test cgroup, nothing attached, nothing pinned" {
	require_kernel_guard
	run find "$CG2" -maxdepth 1 -name "noselfconn-test-$KG_RUN-*"
	echo "cgroups left: $output"
	[ -z "$output" ]
	"$WRAPPER" --audit --json > "$BATS_TEST_TMPDIR/audit.json"
	run python3 "$ROOT/tests/helpers/audit_check.py" json "$BATS_TEST_TMPDIR/audit.json"
	[ "$status" -eq 0 ]
	grep -qx 'kernel_guard.known=true' <<<"$output"
	local places
	places=$(grep -E '^kernel_guard\.places\.[0-9]+\.(cgroup|pinned)=' <<<"$output" || true)
	echo "the guard on this machine: $places"
	[ -z "$(grep -F -e "/noselfconn-test-$KG_RUN-" -e "$BATS_RUN_TMPDIR/" <<<"$places")" ]
	# no process of this run still holds a BPF file system of its own
	run sh -c 'grep -h -F " - bpf " /proc/[0-9]*/mountinfo 2>/dev/null | grep -F " $0/"' \
		"$BATS_RUN_TMPDIR"
	echo "BPF file systems left: $output"
	[ -z "$output" ]
}

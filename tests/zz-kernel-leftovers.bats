#!/usr/bin/env bats
# Last of the suite (files run in name order): the kernel guard's tests left
# nothing behind on the machine that ran them: no cgroup of theirs, no guard
# attached to any cgroup of the tree, nothing pinned on a BPF file system.

load helpers
load helpers/kernel

@test "kernel leftovers: no test cgroup, nothing attached, nothing pinned" {
	require_kernel_guard
	run find "$CG2" -maxdepth 1 -name 'noselfconn-test-*'
	echo "cgroups left: $output"
	[ -z "$output" ]
	run "$WRAPPER" --audit
	echo "$output"
	[[ "$output" == *"Kernel guard (noselfconn --kernel): 0 programs attached, 0 pinned"* ]]
}

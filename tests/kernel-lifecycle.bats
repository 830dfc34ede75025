#!/usr/bin/env bats
# noselfconn --kernel (issue 19, items 6 and 7): what it needs and, without
# it, the one line that names the fall-back; attaching twice, detaching what
# is not attached, SIGKILL, the cgroup removed under it, another detaching
# it; the programs pinned for systemd's BPFProgram= and guarding with no
# daemon; what --audit shows of each, and the command that undoes it.
# Pins live on a BPF file system of the test's own, in a mount namespace
# held by a process of the test's own: gone with it, whatever happens.

load helpers
load helpers/kernel

setup() {
	require_netns
	require_kernel_guard
}

teardown() {
	if [ -n "${MNT_PID:-}" ]; then
		kill "$MNT_PID" 2>/dev/null || true
		wait "$MNT_PID" 2>/dev/null || true
	fi
	kguard_teardown
}

# bats test_tags=no-coverage
@test "kernel lifecycle: without root, one line naming the preload and --supervise, exit 125" {
	kguard_cgroup
	run setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$WRAPPER" --kernel "$KG_CGROUP"
	echo "$output"
	[ "$status" -eq 125 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"needs root (CAP_BPF and CAP_NET_ADMIN)"* ]]
	[[ "$output" == *"the preload (noselfconn COMMAND) or noselfconn --supervise COMMAND"* ]]
}

@test "kernel lifecycle: a kernel without bpf(2), or without bpf_link for cgroups (before 5.7): one line, the fall-back named, nothing attached" {
	kguard_cgroup
	run "$BUILD/tests/oldkernel" -b "$WRAPPER" --kernel "$KG_CGROUP"
	echo "$output"
	[ "$status" -eq 125 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"no bpf(2)"*"use the preload (noselfconn COMMAND) or noselfconn --supervise COMMAND instead"* ]]
	run "$BUILD/tests/oldkernel" -k 5.6 "$WRAPPER" --kernel "$KG_CGROUP"
	echo "$output"
	[ "$status" -eq 125 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"needs Linux 5.7 or later"*"use the preload (noselfconn COMMAND) or noselfconn --supervise COMMAND instead"* ]]
	run "$WRAPPER" --kernel --detach "$KG_CGROUP"
	[[ "$output" == *"is not attached to"* ]]
}

@test "kernel lifecycle: usage errors" {
	run "$WRAPPER" --kernel
	[ "$status" -eq 2 ]
	run "$WRAPPER" --kernel /a /b
	[ "$status" -eq 2 ]
	run "$WRAPPER" --check
	[ "$status" -eq 2 ]
	run "$WRAPPER" --kernel --audit
	[ "$status" -eq 2 ]
	run "$WRAPPER" --kernel --pin /a /b
	[ "$status" -eq 2 ]
	run "$WRAPPER" --kernel /tmp
	echo "$output"
	[ "$status" -eq 125 ]
	[[ "$output" == *"is not a cgroup v2 directory"* ]]
}

@test "kernel lifecycle: attaching twice to one cgroup is refused; the first keeps guarding" {
	kguard_start
	run "$WRAPPER" --kernel "$KG_CGROUP"
	echo "$output"
	[ "$status" -eq 125 ]
	[[ "$output" == *"is guarded already"* ]]
	run in_cgroup in_netns "$DIAL" -n 300 127.0.0.1 "$TARGET"
	expect self 0
	kguard_stop
	[ "$KG_STATUS" -eq 0 ]
	expect_count steered 300
}

@test "kernel lifecycle: detaching what is not attached says so (exit 0)" {
	kguard_cgroup
	run "$WRAPPER" --kernel --detach "$KG_CGROUP"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == "noselfconn: the kernel guard is not attached to $KG_CGROUP" ]]
}

@test "kernel lifecycle: SIGKILL: the links go with the process, nothing is left attached" {
	kguard_start
	run guard_place "$KG_CGROUP"
	[[ "$output" == *"holder_pid=$KG_PID"* ]]
	kill -KILL "$KG_PID"
	wait "$KG_PID" || true
	KG_PID=""
	run "$WRAPPER" --kernel --detach "$KG_CGROUP"
	[[ "$output" == *"is not attached to"* ]]
	run guard_place "$KG_CGROUP"
	echo "$output"
	[ -z "$output" ]
	# and unguarded again, as documented
	run in_cgroup in_netns "$DIAL" -n 300 127.0.0.1 "$TARGET"
	expect_at_least self 1
}

@test "kernel lifecycle: the cgroup removed while attached: the guard says so and exits 0" {
	kguard_start
	rmdir "$KG_CGROUP"
	local status=0
	wait "$KG_PID" || status=$?
	KG_PID=""
	cat "$KG_LOG"
	[ "$status" -eq 0 ]
	grep -q "the guard went with its cgroup, removed: $KG_CGROUP" "$KG_LOG"
}

@test "kernel lifecycle: --detach takes a running guard's links away; the guard says so and exits 0" {
	kguard_start
	run "$WRAPPER" --kernel --detach "$KG_CGROUP"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c 'held by a bpf_link' <<<"$output")" -eq 2 ]
	local status=0
	wait "$KG_PID" || status=$?
	KG_PID=""
	cat "$KG_LOG"
	[ "$status" -eq 0 ]
	grep -q "the guard was detached (BPF_LINK_DETACH) from $KG_CGROUP" "$KG_LOG"
}

@test "kernel lifecycle: --audit shows where the guard is attached, by which link and process, and its counts" {
	kguard_start
	run in_cgroup in_netns "$DIAL" -n 100 127.0.0.1 "$TARGET"
	run "$WRAPPER" --audit
	echo "$output"
	[[ "$output" == *"attached to $KG_CGROUP: nsc_connect4 (program id "*", bpf_link id "*" held by pid $KG_PID \"noselfconn\""* ]]
	[[ "$output" == *"attached to $KG_CGROUP: nsc_connect6"* ]]
	# (other guards of this machine may be listed too: this one's lines)
	grep -A 2 -F "attached to $KG_CGROUP: nsc_connect4" <<<"$output" | grep -q "counted: steered=100 "
	run guard_place "$KG_CGROUP"
	echo "$output"
	[[ "$output" == *"holder_pid=$KG_PID"* ]]
	[[ "$output" == *"counts.steered=100"* ]]
	python3 "$ROOT/tests/helpers/audit_check.py" json "$BATS_TEST_TMPDIR/audit.json" |
		grep -qx 'kernel_guard.known=true'
	# Without CAP_NET_ADMIN the audit cannot tell, and says so
	run setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$WRAPPER" --audit
	[[ "$output" == *"Kernel guard (noselfconn --kernel): unknown"* ]]
}

@test "kernel lifecycle: --status says where the guard is attached, and no more once it is detached" {
	kguard_start
	run "$WRAPPER" --status
	echo "$output"
	grep -qx "  attached to  *$KG_CGROUP (nsc_connect4, program [0-9]*, its link held by pid $KG_PID)" <<<"$output"
	grep -qx "  attached to  *$KG_CGROUP (nsc_connect6, program [0-9]*, its link held by pid $KG_PID)" <<<"$output"
	kguard_stop
	run "$WRAPPER" --status
	! grep -qF "$KG_CGROUP" <<<"$output"
}

# in_bpffs CMD...: CMD in the test's mount namespace, where $PIN_ROOT is a
# BPF file system of its own (started by pin_setup).
pin_setup() {
	PIN_ROOT="$BATS_TEST_TMPDIR/bpffs"
	mkdir -p "$PIN_ROOT"
	unshare -m --propagation private sh -c 'mount -t bpf bpf "$0" && echo mounted > "$0.ready"; exec sleep 600' "$PIN_ROOT" &
	MNT_PID=$!
	until [ -s "$PIN_ROOT.ready" ]; do
		kill -0 "$MNT_PID" || return 1
		sleep 0.05
	done
}
in_bpffs() {
	nsenter -t "$MNT_PID" -m "$@"
}

@test "kernel lifecycle: pinned for BPFProgram=, attached as systemd does, guarding with no daemon; audit, detach, unpin" {
	pin_setup
	local dir="$PIN_ROOT/noselfconn"
	run in_bpffs "$WRAPPER" --kernel --pin "$dir"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"BPFProgram=connect4:$dir/connect4 BPFProgram=connect6:$dir/connect6"* ]]
	run in_bpffs "$WRAPPER" --kernel --pin "$dir"
	[ "$status" -eq 125 ]
	[[ "$output" == *"File exists (noselfconn --kernel --unpin removes it)"* ]]
	# Attached as systemd attaches BPFProgram=, with no noselfconn running
	kguard_cgroup
	in_bpffs "$BUILD/tests/progattach" attach "$KG_CGROUP" connect4 "$dir/connect4"
	in_bpffs "$BUILD/tests/progattach" attach "$KG_CGROUP" connect6 "$dir/connect6"
	local addr
	for addr in 127.0.0.1 ::1 10.99.0.1 fd00::1; do
		run in_netns "$DIAL" -n 300 "$addr" "$TARGET"
		expect_at_least self 1
		run in_cgroup in_netns "$DIAL" -n 300 "$addr" "$TARGET"
		echo "$addr, pinned programs, no daemon: $output"
		expect self 0
		expect refused 300
	done
	run in_bpffs "$WRAPPER" --audit
	echo "$output"
	[[ "$output" == *"pinned at $dir/connect4: nsc_connect4"* ]]
	[[ "$output" == *"attached to $KG_CGROUP: nsc_connect6 (program id "*"), with BPF_PROG_ATTACH"* ]]
	# Maps at their defaults: the daemon's addresses are missing, trial binds stand in
	run guard_place "$dir/connect4" in_bpffs
	echo "$output"
	[ "$(sed -n 's/^counts\.//p' <<<"$output" | tr '\n' ' ')" = "steered=1200 refused=0 listener=0 trial_binds=600 " ]
	run "$WRAPPER" --kernel --detach "$KG_CGROUP"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c 'attached with BPF_PROG_ATTACH' <<<"$output")" -eq 2 ]
	run in_cgroup in_netns "$DIAL" -n 300 127.0.0.1 "$TARGET"
	expect_at_least self 1
	run in_bpffs "$WRAPPER" --kernel --unpin "$dir"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == "noselfconn: unpinned the kernel guard from $dir" ]]
	[ ! -e "$dir" ]
	run in_bpffs "$WRAPPER" --kernel --unpin "$dir"
	[ "$status" -eq 0 ]
	[[ "$output" == "noselfconn: the kernel guard is not pinned in $dir" ]]
	# Neither attached nor pinned any more (other guards of this machine aside)
	run guard_place "$dir/connect4" in_bpffs
	[ -z "$output" ]
	run guard_place "$KG_CGROUP" in_bpffs
	[ -z "$output" ]
}

@test "kernel lifecycle: --pin outside a BPF file system is refused" {
	run "$WRAPPER" --kernel --pin "$BATS_TEST_TMPDIR/not-bpffs"
	echo "$output"
	[ "$status" -eq 125 ]
	[[ "$output" == *"is not on a BPF file system"* ]]
}

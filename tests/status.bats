#!/usr/bin/env bats
# noselfconn --status (issue 22, item 4): what this machine offers each
# guard, asked of the kernel, and what the host uses. Features are taken
# away the way an older kernel lacks them (tests/helpers/oldkernel.c).

load helpers

OLD="$BUILD/tests/oldkernel"

# row NAME: the value --status gives NAME in $output.
row() {
	grep -F "  $1 " <<<"$output" | sed 's/^  .\{38\} //'
}

@test "--status: each guard's kernel features, as this kernel has them and as an old one lacks them" {
	run "${WRAPPER_RUN[@]}" --status
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$(sed -n 1p <<<"$output")" == "noselfconn $("$WRAPPER" --version | cut -d' ' -f2) on Linux $(uname -r) ($(uname -m))" ]]
	# This kernel (6.18) has each of them.
	[[ "$(row 'IP_LOCAL_PORT_RANGE (Linux 6.3)')" == yes:* ]]
	[ "$(row 'seccomp user notification (Linux 5.0)')" = yes ]
	[ "$(row 'pidfd_getfd (Linux 5.6)')" = yes ]
	[ "$(row 'PIDFD_THREAD (Linux 6.9)')" = yes ]
	[ "$(row '--supervise here')" = guards ]
	# Taken away: each says no, and what the guard does instead.
	run "${WRAPPER_RUN[@]}" "$OLD" -r -n -g -t "$WRAPPER" --status
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$(row 'IP_LOCAL_PORT_RANGE (Linux 6.3)')" == "no: a self-connection is refused outright"* ]]
	[ "$(row 'seccomp user notification (Linux 5.0)')" = no ]
	[ "$(row 'pidfd_getfd (Linux 5.6)')" = no ]
	[[ "$(row 'PIDFD_THREAD (Linux 6.9)')" == no:* ]]
	[[ "$(row '--supervise here')" == unavailable:* ]]
	run "${WRAPPER_RUN[@]}" "$OLD" -g "$WRAPPER" --status
	[ "$(row 'seccomp user notification (Linux 5.0)')" = yes ]
	[[ "$(row '--supervise here')" == unavailable:* ]]
}

@test "--status: the kernel guard's needs, as root and as a user without capabilities" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to compare with an unprivileged user"
	run "${WRAPPER_RUN[@]}" --status
	echo "$output"
	[ "$(row 'capabilities')" = "CAP_BPF yes, CAP_NET_ADMIN yes, CAP_SYS_ADMIN yes" ]
	[ "$(row 'bpf(), cgroup connect programs')" = "yes: a connect4 program loads" ]
	[ "$(row 'bpf_link to a cgroup (Linux 5.7)')" = yes ]
	[ "$(row 'cgroup v2')" = "mounted at $(findmnt -n -t cgroup2 -o TARGET | head -n 1)" ]
	local readable
	readable=$(readable_copy "$WRAPPER")
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$readable/noselfconn" --status
	echo "$output"
	[ "$(row 'capabilities')" = "CAP_BPF no, CAP_NET_ADMIN no, CAP_SYS_ADMIN no" ]
	[[ "$(row 'bpf(), cgroup connect programs')" == "not allowed ("*"): run as root, with CAP_BPF and CAP_NET_ADMIN" ]]
	[ "$(row 'bpf_link to a cgroup (Linux 5.7)')" = "unknown (no program could be loaded)" ]
}

@test "--status: the library the wrapper adds, and whether it loads" {
	run "${WRAPPER_RUN[@]}" --status
	[ "$(row 'the wrapper adds')" = "$(every_lib "$BUILD")" ]
	# Already in LD_PRELOAD: the wrapper adds nothing.
	LD_PRELOAD="$SANITIZER_PRELOAD$(every_lib "$BUILD")" run "$WRAPPER" --status
	[ "$(row 'the wrapper adds')" = "nothing: LD_PRELOAD already names it" ]
	# Not found: what the wrapper says.
	local dir="$BATS_TEST_TMPDIR/alone"
	mkdir "$dir"
	cp "$WRAPPER" "$dir/"
	run unshare -m sh -c 'mount -t tmpfs none /usr/local && exec "$@"' status "${WRAPPER_RUN[@]:0:2}" "$dir/noselfconn" --status
	[[ "$(row 'the wrapper adds')" == "nothing: noselfconn: cannot find lib/"*"/noselfconn/libnoselfconn.so"* ]]
}

# The library in /etc/ld.so.preload of a private mount namespace (an
# overlay on /etc) must be a plain one: no sanitizer runtime comes first.
# bats test_tags=no-sanitizer
@test "--status: what /etc/ld.so.preload names, and whether it loads for each architecture" {
	[ "$(id -u)" -eq 0 ] || skip "needs root: a mount namespace with an /etc of its own"
	mkdir -p "$BATS_TEST_TMPDIR/upper" "$BATS_TEST_TMPDIR/work"
	run unshare -m sh -c '
		mount --make-rprivate /
		mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/upper,workdir=$1/work" /etc
		mount -t tmpfs none /usr/local
		mkdir -p "/usr/local/$3" /usr/local/broken
		cp "$2" "/usr/local/$3/"
		rm -f /etc/ld.so.preload
		"$0" --status
		echo "/usr/local/\$LIB/noselfconn/libnoselfconn.so" > /etc/ld.so.preload
		"$0" --status
		echo "not a library" > /usr/local/broken/libnoselfconn.so
		echo "/usr/local/broken/libnoselfconn.so" > /etc/ld.so.preload
		"$0" --status 2>/dev/null' "$WRAPPER" "$BATS_TEST_TMPDIR" "$LIB" "$LIB_SUBDIR"
	echo "$output"
	grep -Fqx "  /etc/ld.so.preload                     absent: nothing is preloaded host-wide" <<<"$output"
	grep -Fqx "  /etc/ld.so.preload                     names /usr/local/\$LIB/noselfconn/libnoselfconn.so (0 other entries)" <<<"$output"
	grep -Fqx "    x86-64 (/lib64/ld-linux-x86-64.so.2): loads /usr/local/$LIB_SUBDIR/libnoselfconn.so" <<<"$output"
	grep -Fq "    x86-64 (/lib64/ld-linux-x86-64.so.2): DOES NOT LOAD: " <<<"$output"
}

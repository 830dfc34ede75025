#!/usr/bin/env bats
# noselfconn --kernel (issue 19, items 2, 4 and 5): nothing else changes
# (live servers, remote destinations through a veth, non-local binds, UDP,
# processes outside the cgroup); each socket's own namespace (its range and
# addresses, changed while the guard runs); other connect programs on the
# same cgroup. Controls first, each with no guard under the same conditions.

load helpers
load helpers/kernel

ECHO="$ROOT/tests/helpers/echo.py"

setup() {
	require_netns
	require_kernel_guard
}

teardown() {
	teardown_rewriter
	kguard_teardown
}

# Item 2 -------------------------------------------------------------------

@test "kernel reach: a live server on an ephemeral port is reached and its data passes unchanged" {
	local script='
		python3 "$0" serve "$1" 50003 > "$2" &
		until grep -qs listening "$2"; do sleep 0.05; done
		python3 "$0" dial "$1" 50003 50
		kill $!'
	local addr
	kguard_start
	for addr in 127.0.0.1 ::1 10.99.0.1; do
		run in_netns sh -c "$script" "$ECHO" "$addr" "$BATS_TEST_TMPDIR/served.$RANDOM"
		echo "$addr without a guard: $output"
		local plain="$output"
		[ "$plain" = "connected=50 intact=50 refused=0 failed=0 self=0" ]
		run in_cgroup in_netns sh -c "$script" "$ECHO" "$addr" "$BATS_TEST_TMPDIR/served.$RANDOM"
		echo "$addr guarded: $output"
		[ "$output" = "$plain" ]
	done
	kguard_stop
	expect_count listener 150
	expect_count steered 0
	expect_count refused 0
}

# remote_script [SYSCTL] [SOCKET OPTION]: run in a namespace of the test's
# own, a second one behind a veth (192.0.2.2, 2001:db8::2, link-local
# fe80::2) serves echo on 50005; 20 dials to each address with data (IPv4,
# IPv6, v4-mapped from an IPv6 socket, link-local), and 5 to a port no one
# holds. Without a socket option, also 5 dials to each from a socket bound
# first to the wildcard and 50005 itself (a peer dialing from its own port):
# the guard must tell them remote, not refuse them as "already bound to the
# target". (An IP_FREEBIND or IP_TRANSPARENT socket bound first is refused:
# noselfconn(1) says so.)
remote_script() {
	local bound=""
	if [ -z "${2:-}" ]; then
		bound='
echo "bound v4 $(python3 "$ECHO" dial 192.0.2.2 50005 5 bound)"
echo "bound v6 $(python3 "$ECHO" dial 2001:db8::2 50005 5 bound)"
echo "bound v4-mapped $(python3 "$ECHO" dial ::ffff:192.0.2.2 50005 5 bound)"
echo "bound link-local $(python3 "$ECHO" dial fe80::2%veth0 50005 5 bound)"'
	fi
	cat <<EOF
set -e
ECHO="$ECHO"
${1:+sysctl -qw $1}
unshare -n sh -c 'echo \$\$ > "\$0/remote"; exec sleep 600' "$BATS_TEST_TMPDIR" &
until [ -s "$BATS_TEST_TMPDIR/remote" ]; do sleep 0.05; done
far=\$(cat "$BATS_TEST_TMPDIR/remote")
ip link add veth0 type veth peer name veth1 netns \$far
ip link set veth0 addrgenmode none
ip addr add 192.0.2.1/24 dev veth0
ip -6 addr add 2001:db8::1/64 dev veth0 nodad
ip -6 addr add fe80::1/64 dev veth0 nodad
ip link set veth0 up
nsenter -t \$far -n sh -c 'ip link set lo up; ip link set veth1 addrgenmode none;
	ip addr add 192.0.2.2/24 dev veth1; ip -6 addr add 2001:db8::2/64 dev veth1 nodad;
	ip -6 addr add fe80::2/64 dev veth1 nodad; ip link set veth1 up'
nsenter -t \$far -n python3 "$ECHO" serve :: 50005 > "$BATS_TEST_TMPDIR/far.log" &
until grep -qs listening "$BATS_TEST_TMPDIR/far.log"; do sleep 0.05; done
echo "v4 \$(python3 "$ECHO" dial 192.0.2.2 50005 20 $2)"
echo "v6 \$(python3 "$ECHO" dial 2001:db8::2 50005 20 $2)"
echo "v4-mapped \$(python3 "$ECHO" dial ::ffff:192.0.2.2 50005 20 $2)"
echo "link-local \$(python3 "$ECHO" dial fe80::2%veth0 50005 20 $2)"
echo "v4 closed \$(python3 "$ECHO" dial 192.0.2.2 50006 5 $2)"
echo "v6 closed \$(python3 "$ECHO" dial 2001:db8::2 50006 5 $2)"$bound
kill \$far \$!
rm -f "$BATS_TEST_TMPDIR/remote" "$BATS_TEST_TMPDIR/far.log"
EOF
}

# remote_same [SYSCTL] [SOCKET OPTION]: the remote dials end alike with and
# without the guard: connected, the data unchanged; refused where no one is.
# Guarded, in a namespace the daemon has read (its steady state; before,
# see noselfconn(1)).
remote_same() {
	run in_netns sh -c "$(remote_script "$@")"
	echo "without a guard: $output"
	[ "$status" -eq 0 ]
	local plain="$output" name
	for name in v4 v6 v4-mapped link-local; do
		[[ "$plain" == *"$name connected=20 intact=20 refused=0 failed=0 self=0"* ]]
		[ -n "${2:-}" ] ||
			[[ "$plain" == *"bound $name connected=5 intact=5 refused=0 failed=0 self=0"* ]]
	done
	[[ "$plain" == *"v4 closed connected=0 intact=0 refused=5 failed=0 self=0"* ]]
	[[ "$plain" == *"v6 closed connected=0 intact=0 refused=5 failed=0 self=0"* ]]
	kguard_start
	held_netns
	[ -z "${1:-}" ] || in_held sysctl -qw $1
	kguard_reread
	run in_held sh -c "$(remote_script "$@")"
	echo "guarded: $output"
	kguard_stop
	[ "$status" -eq 0 ]
	[ "$output" = "$plain" ]
}

@test "kernel reach: remote destinations (a veth to a namespace of the test's own) behave as without the guard" {
	remote_same
	# Not even a source port chosen by the guard, nor a trial that said local
	expect_count steered 0
	expect_count refused 0
	expect_count listener 0
	expect_count trial_binds 0
}

@test "kernel reach: remote destinations with net.ipv4.ip_nonlocal_bind=1 and net.ipv6.ip_nonlocal_bind=1" {
	remote_same "net.ipv4.ip_nonlocal_bind=1 net.ipv6.ip_nonlocal_bind=1"
	expect_count steered 0
	expect_count refused 0
	expect_count trial_binds 0
}

# An IP_FREEBIND or IP_TRANSPARENT socket makes a trial bind to a remote
# address succeed, and a program cannot see the option: such a dial may be
# given a source port by the guard (noselfconn(1)); nothing else changes.
@test "kernel reach: remote destinations from IP_FREEBIND sockets" {
	remote_same "" freebind
	expect_count refused 0
}

@test "kernel reach: remote destinations from IP_TRANSPARENT sockets" {
	remote_same "" transparent
	expect_count refused 0
}

# Where a steered dial is bound: the address the kernel would dial from,
# where a program knows it (one of the namespace's own addresses, no
# device bound), else the wildcard. Port 40000 is outside the range: the
# controls are refused, never met, and the guard steers every port.
STEERED_FROM="$ROOT/tests/helpers/steered_from.py"

@test "kernel reach: a steered dial is bound to the address the kernel dials from (127.0.0.1, ::1, the namespace's own), else to the wildcard" {
	local dials="127.0.0.1 ::1 10.99.0.1 fd00::1 ::ffff:127.0.0.1 127.1.2.3 127.0.0.1%lo ::1%lo"
	run in_netns python3 "$STEERED_FROM" 40000 $dials
	echo "without a guard: $output"
	[ "$status" -eq 0 ]
	[ "$(grep -c ' refused from \(0.0.0.0\|::\) port=other$' <<<"$output")" -eq 8 ]
	kguard_start
	held_netns
	kguard_reread
	run in_held python3 "$STEERED_FROM" 40000 $dials
	echo "guarded: $output"
	kguard_stop
	[ "$status" -eq 0 ]
	[ "$output" = "127.0.0.1 refused from 127.0.0.1 port=other
::1 refused from ::1 port=other
10.99.0.1 refused from 10.99.0.1 port=other
fd00::1 refused from fd00::1 port=other
::ffff:127.0.0.1 refused from ::ffff:127.0.0.1 port=other
127.1.2.3 refused from 0.0.0.0 port=other
127.0.0.1%lo refused from 0.0.0.0 port=other
::1%lo refused from :: port=other" ]
	expect_count steered 8
}

# An address of the namespace the kernel will not bind yet (IPv6, its
# duplicate address detection still running): the guard gives it up for the
# wildcard, and the dial goes on as without it (the kernel dials from
# another address, fd00::1 here, and no one answers).
@test "kernel reach: a dial to a tentative IPv6 address of the namespace goes on as without the guard (bound to the wildcard)" {
	local setup="ip link add v0 type veth peer name v1 && sysctl -qw net.ipv6.conf.v0.dad_transmits=30 &&
		ip link set v0 up && ip link set v1 up && ip -6 addr add fd00::9/64 dev v0"
	local dial="python3 $STEERED_FROM --timeout 1 40000 fd00::9"
	run in_netns sh -c "$setup && $dial"
	echo "without a guard: $output"
	[ "$output" = "fd00::9 timed-out from fd00::1 port=other" ]
	kguard_start
	held_netns
	in_held sh -c "$setup"
	kguard_reread
	in_held ip -6 addr show dev v0 | grep -q 'fd00::9/64 scope global tentative'
	run in_held sh -c "$dial"
	echo "guarded: $output"
	kguard_stop
	[ "$output" = "fd00::9 timed-out from fd00::1 port=other" ]
	expect_count steered 1
}

# POSIX leaves a socket unspecified after a failed connect() and asks for a
# new one; Linux lets it dial again, from where the guard bound it.
@test "kernel reach: a socket dialed again after its steered dial was refused keeps that address: from 127.0.0.1, a remote dial fails (EINVAL, documented)" {
	local script="ip link add v0 type veth peer name v1 && ip addr add 192.0.2.1/24 dev v0 &&
		ip link set v0 up && ip link set v1 up &&
		python3 $STEERED_FROM 40000 127.0.0.1 then 192.0.2.2"
	run in_netns sh -c "$script"
	echo "without a guard: $output"
	[ "$output" = "127.0.0.1 refused from 0.0.0.0 port=other
again 192.0.2.2: OK" ]
	kguard_start
	held_netns
	kguard_reread
	run in_held sh -c "$script"
	echo "guarded: $output"
	kguard_stop
	[ "$output" = "127.0.0.1 refused from 127.0.0.1 port=other
again 192.0.2.2: EINVAL" ]
	expect_count steered 1
}

@test "kernel reach: UDP is untouched (it meets itself as it would)" {
	run in_netns "$DIAL" -u -n 300 127.0.0.1 "$TARGET"
	echo "without a guard: $output"
	expect_at_least self 1
	kguard_start
	run in_cgroup in_netns "$DIAL" -u -n 300 127.0.0.1 "$TARGET"
	echo "guarded: $output"
	expect_at_least self 1
	kguard_stop
	expect_count steered 0
	expect_count refused 0
	expect_count listener 0
}

@test "kernel reach: processes outside the cgroup are untouched" {
	kguard_start
	run in_netns "$DIAL" -n 300 127.0.0.1 "$TARGET"
	echo "outside the guarded cgroup: $output"
	expect_at_least self 1
	kguard_stop
	expect_count steered 0
	expect_count refused 0
}

# Item 4 -------------------------------------------------------------------

@test "kernel reach: a namespace created after attaching, with a range of its own, read by the guard" {
	kguard_start
	NSC_TEST_RANGE="50000 50000" # the target alone: no other port to give
	held_netns
	# Not read yet: guarded with the kernel's default range to choose from
	run in_held "$DIAL" -n 100 127.0.0.1 50000
	echo "before the guard read it: $output"
	expect self 0
	expect refused 100
	kguard_reread
	local steered
	steered=$(kcount steered)
	# Read: no port of its range but the target: every dial refused
	run in_held "$DIAL" -n 100 127.0.0.1 50000
	echo "after: $output"
	expect self 0
	expect refused 100
	kguard_reread
	[ "$(kcount steered)" -eq "$steered" ]
	expect_at_least_count refused 100
}

@test "kernel reach: the range changed at run time, before and after the guard reads it" {
	kguard_start
	held_netns
	kguard_reread
	run in_held "$DIAL" -n 300 127.0.0.1 50000
	expect self 0
	in_held sh -c 'echo "50020 50030" > /proc/sys/net/ipv4/ip_local_port_range'
	run in_held "$DIAL" -n 300 127.0.0.1 50020
	echo "new range, not read yet: $output"
	expect self 0
	expect refused 300
	kguard_reread
	run in_held "$DIAL" -n 300 127.0.0.1 50020
	echo "new range, read: $output"
	expect self 0
	expect refused 300
	# and its control: the same namespace, outside the cgroup
	run nsenter -t "$NS_PID" -n "$DIAL" -n 300 127.0.0.1 50020
	echo "without a guard: $output"
	expect_at_least self 1
}

# The daemon is stopped (SIGSTOP) while the addresses are added: until it
# reads them, unbound sockets are judged by a trial bind; a socket bound to
# the port it dials, by the map alone, so it meets itself (the window
# noselfconn(1) describes). Let go, the daemon reads them at once, told by
# the kernel, with no SIGHUP.
@test "kernel reach: an address added after attaching, before and after the guard reads it" {
	kguard_start
	held_netns
	kguard_reread
	local trials addr own="$ROOT/tests/helpers/own_port.py"
	trials=$(kcount trial_binds)
	kill -STOP "$KG_PID"
	in_held sh -c 'ip addr add 10.99.0.7/32 dev lo; ip -6 addr add fd00::7/128 dev lo nodad'
	for addr in 10.99.0.7 fd00::7; do
		run nsenter -t "$NS_PID" -n "$DIAL" -n 300 "$addr" 50000
		echo "$addr without a guard: $output"
		expect_at_least self 1
		run in_held "$DIAL" -n 300 "$addr" 50000
		echo "$addr guarded, not read yet: $output"
		expect self 0
		expect refused 300
	done
	run in_held python3 "$own" fd00::7 fd00::7 fd00::7
	echo "bound to its own port, not read yet: $output"
	expect self 3
	kguard_counts_now
	# Not in the map yet: a trial bind told each one local
	[ "$(kcount trial_binds)" -eq $((trials + 600)) ]
	trials=$(kcount trial_binds)
	kill -CONT "$KG_PID"
	local i
	for ((i = 0; i < 600; i++)); do
		run in_held python3 "$own" fd00::7
		[ "$(field refused)" -eq 1 ] && break
		sleep 0.1
	done
	echo "bound to its own port, once the daemon woke: $output"
	expect refused 1
	run in_held python3 "$own" fd00::7 fd00::7 fd00::7
	expect refused 3
	for addr in 10.99.0.7 fd00::7; do
		run in_held "$DIAL" -n 300 "$addr" 50000
		echo "$addr guarded, read: $output"
		expect self 0
		expect refused 300
	done
	kguard_stop
	# In the map: no trial any more
	expect_count trial_binds "$trials"
	[ "$(grep -c 'read the values of' "$KG_LOG")" -eq 1 ] # the one SIGHUP above
}

# A socket bound first to the wildcard and the port it dials is judged by
# the namespace's addresses the daemon keeps (no trial bind on a bound IPv6
# socket): a list cut short must not pass for whole.
@test "kernel reach: a namespace with more addresses than the daemon keeps (256): bound IPv6 sockets dialing their own port on any of them are refused" {
	local own="$ROOT/tests/helpers/own_port.py" addrs i add
	addrs=$(for ((i = 0; i < 300; i++)); do printf 'fd00::1:%x ' "$i"; done)
	add="for a in $addrs; do echo \"addr add \$a/128 dev lo nodad\"; done | ip -6 -batch -"
	run in_netns sh -c "$add; exec python3 \"\$0\" $addrs" "$own"
	echo "without a guard: $output"
	expect self 300
	kguard_start
	held_netns
	in_held sh -c "$add"
	kguard_reread
	run in_held python3 "$own" $addrs
	echo "guarded: $output"
	kguard_stop
	expect self 0
	expect refused 300
	expect_count refused 300
}

# Item 5 -------------------------------------------------------------------

# rewriter CGROUP: another program on CGROUP's connect hooks sends dials to
# 192.0.2.9:7 (and [::1]:7) to 127.0.0.1:50000 ([::1]:50000).
rewriter() {
	"$BUILD/tests/rewrite" "$1" 192.0.2.9 7 127.0.0.1 "$TARGET" > "$BATS_TEST_TMPDIR/rewrite.log" &
	REWRITE_PID=$!
	until grep -qs attached "$BATS_TEST_TMPDIR/rewrite.log"; do
		kill -0 "$REWRITE_PID" || return 1
		sleep 0.05
	done
}

teardown_rewriter() {
	if [ -n "${REWRITE_PID:-}" ]; then
		kill "$REWRITE_PID" 2>/dev/null || true
		wait "$REWRITE_PID" 2>/dev/null || true
		REWRITE_PID=""
	fi
}

@test "kernel reach: a program that rewrites the destination, attached before the guard: the guard sees the rewritten one" {
	kguard_cgroup
	rewriter "$KG_CGROUP"
	run in_cgroup in_netns "$DIAL" -n 300 192.0.2.9 7
	echo "rewritten, without a guard: $output"
	expect_at_least self 1
	run in_cgroup in_netns "$DIAL" -n 300 ::1 7
	expect_at_least self 1
	kguard_start "$KG_CGROUP"
	run in_cgroup in_netns "$DIAL" -n 300 192.0.2.9 7
	echo "rewritten, guarded: $output"
	expect self 0
	expect refused 300
	run in_cgroup in_netns "$DIAL" -n 300 ::1 7
	expect self 0
	expect refused 300
	# The rewrite still works: a listener on the new destination is reached
	local script='
		python3 "$0" serve 127.0.0.1 "$1" > "$2" &
		until grep -qs listening "$2"; do sleep 0.05; done
		python3 "$0" dial 192.0.2.9 7 20
		kill $!'
	run in_cgroup in_netns sh -c "$script" "$ECHO" "$TARGET" "$BATS_TEST_TMPDIR/served"
	echo "to a listener: $output"
	[ "$output" = "connected=20 intact=20 refused=0 failed=0 self=0" ]
	kguard_stop
	expect_count steered 600
	expect_count listener 20
	teardown_rewriter
}

@test "kernel reach: a rewriting program on a child cgroup runs first: the guard on the parent sees its rewrite" {
	kguard_start
	local parent="$KG_CGROUP"
	KG_CGROUP="$parent/child"
	mkdir "$KG_CGROUP"
	rewriter "$KG_CGROUP"
	run in_cgroup in_netns "$DIAL" -n 300 192.0.2.9 7
	echo "in the child, guarded on the parent: $output"
	expect self 0
	expect refused 300
	teardown_rewriter
	kguard_stop
	expect_count steered 300
	rmdir "$KG_CGROUP"
}

@test "kernel reach: a rewriting program attached after the guard on the same cgroup: the guard never sees the new destination (documented)" {
	kguard_start
	rewriter "$KG_CGROUP"
	# 192.0.2.9 is remote: the guard lets it go, then it becomes local
	run in_cgroup in_netns "$DIAL" -n 300 192.0.2.9 7
	echo "guarded, rewritten after it: $output"
	expect_at_least self 1
	teardown_rewriter
	kguard_stop
	expect_count steered 0
}

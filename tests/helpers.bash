# Shared by the bats files: paths, the private network namespace, and
# reading the counts the dial helper prints.

bats_require_minimum_version 1.5.0

# shellcheck source=tests/library-calls.sh
. "$BATS_TEST_DIRNAME/library-calls.sh"

ROOT="$(cd "$BATS_TEST_DIRNAME/.." && pwd)"
BUILD="${NSC_BUILD:-$ROOT/build}"   # make sanitize points this elsewhere
LIB="$BUILD/libnoselfconn.so"
WRAPPER="$BUILD/noselfconn"
DIAL="$BUILD/tests/dial"
TARGET=50000              # even, like the range's low end: connect() tries it
# Where make install puts the library under PREFIX: ld.so's $LIB for this
# compiler, then a directory of its own.
LIB_SUBDIR="lib/$(cc -print-multiarch)/noselfconn"
# every_lib ROOT: the path that names ROOT's library for every loader: ld.so
# expands $LIB to its own directory (what the wrapper preloads).
# shellcheck disable=SC2016 # $LIB is for ld.so, not the shell
every_lib() { echo "$1/"'$LIB'"/noselfconn/libnoselfconn.so"; }
NARROW_RANGE="50000 50010"

# readable_copy FILE...: copies of FILE... in a directory of the test's own
# that any user may enter, for what runs as another user: the checkout may
# sit where others cannot go (root's home, a mktemp -d). Prints the directory.
readable_copy() {
	local dir="$BATS_TEST_TMPDIR/readable" up
	mkdir -p "$dir"
	cp "$@" "$dir/"
	chmod a+rX "$dir" "$dir"/*
	# Each directory above it may be entered (not listed) by anyone.
	up=$(dirname "$dir")
	while [ "$up" != / ] && [ "$up" != /tmp ]; do
		chmod a+x "$up"
		up=$(dirname "$up")
	done
	echo "$dir"
}

# Picks how to get a private network namespace, or skips (fails under CI).
require_netns() {
	if unshare -n true 2>/dev/null; then
		UNSHARE=(unshare -n)
	elif unshare -rn true 2>/dev/null; then
		UNSHARE=(unshare -rn)
	else
		local why="needs a private network namespace: run as root, or allow unprivileged user namespaces"
		if [ "${CI:-}" = true ]; then
			echo "$why" >&2
			return 1
		fi
		skip "$why"
	fi
}

# in_netns CMD...: run CMD where lo is up, the ephemeral range is
# $NSC_TEST_RANGE (default: narrow, around $TARGET), 10.99.0.1 and fd00::1
# are this host's own addresses, and no TIME_WAIT hides the next
# self-connection (tcp_max_tw_buckets=0): controls self-connect often.
in_netns() {
	# Without require_netns first, this would change the host's own lo
	# and sysctls: refuse instead.
	if [ "${#UNSHARE[@]}" -eq 0 ]; then
		echo "in_netns: call require_netns first" >&2
		return 1
	fi
	"${UNSHARE[@]}" sh -c '
		set -e
		ip link set lo up
		echo "$1" > /proc/sys/net/ipv4/ip_local_port_range
		echo 0 > /proc/sys/net/ipv4/tcp_max_tw_buckets
		ip addr add 10.99.0.1/32 dev lo
		ip -6 addr add fd00::1/128 dev lo nodad
		shift
		exec "$@"' in_netns "${NSC_TEST_RANGE:-$NARROW_RANGE}" "$@"
}

# Under make sanitize the library needs the sanitizer runtime ahead of it.
SANITIZER_PRELOAD="${NSC_SANITIZER_RUNTIME:+$NSC_SANITIZER_RUNTIME:}"
PRELOAD_LIB="$SANITIZER_PRELOAD$LIB"

# "${WITH_LIB[@]}" CMD...: CMD with the library preloaded.
WITH_LIB=(env LD_PRELOAD="$PRELOAD_LIB")
# "${WRAPPER_RUN[@]}" CMD...: CMD under the wrapper (which keeps LD_PRELOAD).
WRAPPER_RUN=(env LD_PRELOAD="${NSC_SANITIZER_RUNTIME:-}" "$WRAPPER")

# field NAME: the value of NAME=... in $output (the dial helper's counts).
field() {
	local word
	for word in $output; do
		case "$word" in "$1="*) echo "${word#*=}"; return 0 ;; esac
	done
	echo "field $1 missing from: $output" >&2
	return 1
}

# Fails with the whole output shown unless field NAME equals VALUE.
expect() {
	local got
	got="$(field "$1")"
	if [ "$got" != "$2" ]; then
		echo "expected $1=$2, got $1=$got in: $output" >&2
		return 1
	fi
}

# Fails unless field NAME is at least MIN.
expect_at_least() {
	local got
	got="$(field "$1")"
	if [ "$got" -lt "$2" ]; then
		echo "expected $1>=$2, got $1=$got in: $output" >&2
		return 1
	fi
}

# prevented: how many self-connections the library says it prevented, from
# its log lines in $stderr (NOSELFCONN_LOG=1).
prevented() {
	grep -c 'prevented a self-connection' <<<"$stderr" || true
}

# control_meets_itself ADDR [DIAL OPTIONS...]: the control of every guard
# test: with no guard at all, 300 dials ($DIAL) to ADDR:$TARGET in a private
# namespace meet themselves at least once; how many in $CONTROL_SELF.
control_meets_itself() {
	local addr="$1"
	shift
	run in_netns "$DIAL" -n 300 "$@" "$addr" "$TARGET"
	[ "$status" -eq 0 ]
	CONTROL_SELF=$(field self)
	echo "without a guard: $CONTROL_SELF of 300 dials connected to themselves"
	[ "$CONTROL_SELF" -ge 1 ]
}

# bug_then_guard ADDR [DIAL OPTIONS...]: the dial self-connects without the
# library; in every mode that guards, hundreds more dials never do, each is
# refused, no descriptor leaks and the port is free afterwards; in mode
# check the log shows the guard prevented about as many as the control had.
bug_then_guard() {
	local addr="$1"
	shift
	control_meets_itself "$addr" "$@"

	local mode
	for mode in check prebind; do
		run --separate-stderr in_netns env LD_PRELOAD="$PRELOAD_LIB" NOSELFCONN_MODE="$mode" \
			NOSELFCONN_LOG=1 "$DIAL" -n 300 -L "$@" "$addr" "$TARGET"
		[ "$status" -eq 0 ]
		expect self 0
		expect failed 0
		expect fds_leaked 0
		expect bind_after ok
		[ "$(field refused)" -eq "$(field attempts)" ]
		echo "mode $mode: prevented $(prevented)"
		if [ "$mode" = check ]; then
			[ "$(prevented)" -ge $(((CONTROL_SELF + 3) / 4)) ]
		fi
	done
}

# with_syslog PRELOAD CMD...: CMD with NOSELFCONN_LOG=syslog and PRELOAD, in a
# private /dev (mount namespace) whose /dev/log is a listener of ours; $output
# holds CMD's output, then every datagram the listener received.
with_syslog() {
	run in_netns unshare -m sh -c '
		set -e
		listener=$1 preload=$2
		shift 2
		keep=$(mktemp -d)
		mount --bind /dev "$keep"
		mount -t tmpfs none /dev
		for node in null zero urandom; do touch /dev/$node; mount --bind "$keep/$node" /dev/$node; done
		python3 "$listener" /dev/log > "$keep.log" &
		until grep -q listening "$keep.log" 2>/dev/null; do sleep 0.05; done
		NOSELFCONN_LOG=syslog LD_PRELOAD="$preload" "$@"
		wait
		grep -v listening "$keep.log"' with_syslog "$ROOT/tests/helpers/syslog_listener.py" "$@"
}

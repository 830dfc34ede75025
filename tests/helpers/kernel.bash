# The kernel guard's tests share this: a cgroup of the test's own under the
# cgroup v2 mount, a noselfconn --kernel attached to it, the processes the
# test starts moved into it, and all of it removed in teardown, whatever
# happened. Never the root cgroup (that is for the qemu guests alone).

# The cgroup v2 mount: /sys/fs/cgroup, or /sys/fs/cgroup/unified (hybrid).
cgroup2_root() {
	local dir
	for dir in /sys/fs/cgroup /sys/fs/cgroup/unified; do
		if [ "$(stat -f -c %T "$dir" 2>/dev/null)" = cgroup2fs ]; then
			echo "$dir"
			return 0
		fi
	done
	return 1
}

# Skips (fails under CI) unless the guard can run here: root, cgroup v2,
# and a kernel that takes the programs.
require_kernel_guard() {
	local why=""
	if [ "$(id -u)" -ne 0 ]; then
		why="the kernel guard needs root"
	elif ! CG2=$(cgroup2_root); then
		why="no cgroup v2 mount"
	elif ! "$WRAPPER" --kernel --check >/dev/null 2>&1; then
		why="this kernel does not take the guard: $("$WRAPPER" --kernel --check 2>&1 | head -n 1)"
	fi
	if [ -n "$why" ]; then
		if [ "${CI:-}" = true ]; then
			echo "$why" >&2
			return 1
		fi
		skip "$why"
	fi
}

# This run of the suite, in the names of what its tests create: other
# engineers' suites run on this machine at the same time, with guards of
# their own. (bats' root pid, and its run directory's random suffix.)
KG_RUN="${BATS_ROOT_PID:-$$}"
case "${BATS_RUN_TMPDIR:-}" in */bats-run-*) KG_RUN="$KG_RUN-${BATS_RUN_TMPDIR##*/bats-run-}" ;; esac

# kguard_cgroup: a new, empty cgroup of this test's own, in $KG_CGROUP.
kguard_cgroup() {
	KG_CGROUP="$CG2/noselfconn-test-$KG_RUN-$$-${BATS_TEST_NUMBER:-0}-$RANDOM"
	mkdir "$KG_CGROUP"
}

# kguard_start [CGROUP]: noselfconn --kernel on CGROUP (default: a new one
# of the test's own), its stderr in $KG_LOG, returning once it says it
# guards (or failing when it exits first).
kguard_start() {
	if [ $# -eq 0 ]; then
		kguard_cgroup
		set -- "$KG_CGROUP"
	fi
	KG_LOG="$BATS_TEST_TMPDIR/kguard.$RANDOM.log"
	: >"$KG_LOG"
	"$WRAPPER" --kernel "$1" 2>"$KG_LOG" &
	KG_PID=$!
	local i
	for ((i = 0; i < 600; i++)); do
		grep -q '^noselfconn: guarding ' "$KG_LOG" && return 0
		kill -0 "$KG_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "noselfconn --kernel did not start:" >&2
	cat "$KG_LOG" >&2
	return 1
}

# kguard_stop: SIGTERM to the guard; its exit status in $KG_STATUS and
# its last line (the counts) in $KG_COUNTS.
kguard_stop() {
	KG_STATUS=none
	if [ -n "${KG_PID:-}" ]; then
		kill -TERM "$KG_PID" 2>/dev/null || true
		KG_STATUS=0
		wait "$KG_PID" || KG_STATUS=$?
		KG_PID=""
	fi
	KG_COUNTS="$(tail -n 1 "$KG_LOG")"
	echo "guard: $KG_COUNTS"
}

# kcount NAME: a count from the guard's last line (kguard_stop first).
kcount() {
	local word
	for word in ${KG_COUNTS//:/ }; do
		case "$word" in "$1="*) echo "${word#*=}"; return 0 ;; esac
	done
	echo "count $1 missing from: $KG_COUNTS" >&2
	return 1
}

# guard_place CGROUP_OR_PIN [CMD...]: what the audit's JSON says of the
# first place of the guard there (attached to that cgroup, or pinned at
# that file), one key=value a line (cgroup=..., program=...,
# counts.steered=...); nothing when it is not there. Other guards on this
# machine are not looked at. CMD runs the audit (in_bpffs, to see pins).
guard_place() {
	local leaves n
	"${@:2}" "$WRAPPER" --audit --json > "$BATS_TEST_TMPDIR/audit.json" || true
	leaves=$(python3 "$ROOT/tests/helpers/audit_check.py" json "$BATS_TEST_TMPDIR/audit.json")
	n=$(grep -E "^kernel_guard\.places\.[0-9]+\.(cgroup|pinned)=\"$1\"\$" <<<"$leaves" |
		head -n 1 | cut -d . -f 3)
	[ -z "$n" ] || sed -n "s/^kernel_guard\.places\.$n\.//p" <<<"$leaves"
}

# kguard_counts_now: the running guard's counts, as the audit reads them,
# in $KG_COUNTS (for kcount).
kguard_counts_now() {
	KG_COUNTS=$(guard_place "$KG_CGROUP" | sed -n 's/^counts\.//p' | tr '\n' ' ')
	echo "guard: $KG_COUNTS"
}

# in_cgroup CMD...: CMD in the test's cgroup (a subshell moves itself in,
# then runs CMD; the test's own shell stays where it is).
in_cgroup() {
	(echo "$BASHPID" > "$KG_CGROUP/cgroup.procs" && "$@")
}

# kguard_teardown: the guard stopped, the test's cgroups removed (their
# processes are the test's own: ended by pid first).
kguard_teardown() {
	if [ -n "${KG_PID:-}" ]; then
		kill -TERM "$KG_PID" 2>/dev/null || true
		wait "$KG_PID" 2>/dev/null || true
		KG_PID=""
	fi
	local top dir pid
	for top in "$CG2/noselfconn-test-$KG_RUN-$$-"*; do
		[ -d "$top" ] || continue
		# Deepest first: a test's cgroup may have children of its own.
		while read -r dir; do
			for pid in $(cat "$dir/cgroup.procs" 2>/dev/null); do
				kill -KILL "$pid" 2>/dev/null || true
			done
			for _ in 1 2 3 4 5 6 7 8 9 10; do
				rmdir "$dir" 2>/dev/null && break
				sleep 0.2
			done
		done < <(find "$top" -depth -type d)
	done
}

# kernel_case ADDR [DIAL OPTIONS...]: without any guard the dial meets
# itself; in the guarded cgroup, 300 dials never do, each refused as an
# unguarded refused dial is, and the guard counts every one it steered or
# refused. $DIAL is the client ($BIND_AFTER empty for one without -L).
BIND_AFTER=-L
kernel_case() {
	local addr="$1"
	shift
	control_meets_itself "$addr" "$@"
	kguard_start
	run in_cgroup in_netns "$DIAL" -n 300 $BIND_AFTER "$@" "$addr" "$TARGET"
	echo "guarded: $output"
	[ "$status" -eq 0 ]
	expect self 0
	expect failed 0
	if [ -n "$BIND_AFTER" ]; then
		expect fds_leaked 0
		expect bind_after ok
	fi
	[ "$(field refused)" -eq "$(field attempts)" ]
	kguard_stop
	[ "$KG_STATUS" -eq 0 ]
	local prevented=$(($(kcount steered) + $(kcount refused)))
	echo "the guard steered or refused $prevented dials"
	[ "$prevented" -eq "$(dials_seen)" ]
}

# dials_seen: how many dials the last dial run made in $output, each of
# its attempts and each one made again after a spurious ENETUNREACH (the
# dial helper's unreach_retried): what the guard saw.
dials_seen() {
	local retried=0
	[[ "$output" == *unreach_retried=* ]] && retried=$(field unreach_retried)
	echo $(($(field attempts) + retried))
}

# expect_count NAME VALUE: the guard counted exactly VALUE.
expect_count() {
	local got
	got=$(kcount "$1")
	if [ "$got" != "$2" ]; then
		echo "expected the guard's $1=$2, got $got in: $KG_COUNTS" >&2
		return 1
	fi
}

# expect_at_least_count NAME MIN
expect_at_least_count() {
	local got
	got=$(kcount "$1")
	if [ "$got" -lt "$2" ]; then
		echo "expected the guard's $1>=$2, got $got in: $KG_COUNTS" >&2
		return 1
	fi
}

# kguard_reread: SIGHUP to the guard, which reads every namespace's values
# again at once and says so with its counts (in $KG_COUNTS).
kguard_reread() {
	local before i
	before=$(grep -c 'read the values of' "$KG_LOG" || true)
	kill -HUP "$KG_PID"
	for ((i = 0; i < 600; i++)); do
		if [ "$(grep -c 'read the values of' "$KG_LOG" || true)" -gt "$before" ]; then
			KG_COUNTS="$(grep 'read the values of' "$KG_LOG" | tail -n 1)"
			echo "guard: $KG_COUNTS"
			return 0
		fi
		sleep 0.1
	done
	echo "the guard did not answer SIGHUP: $(cat "$KG_LOG")" >&2
	return 1
}

# held_netns: a network namespace set up as in_netns does, held by a
# process of the test's own in the test's cgroup; its pid in $NS_PID.
# (in_held CMD... runs CMD in it, in the cgroup.)
held_netns() {
	local pidfile="$BATS_TEST_TMPDIR/netns.$RANDOM"
	in_cgroup in_netns sh -c 'echo $$ > "$0"; exec sleep 600' "$pidfile" 3>&- &
	local i
	for ((i = 0; i < 600; i++)); do
		[ -s "$pidfile" ] && break
		sleep 0.1
	done
	NS_PID=$(cat "$pidfile")
}

in_held() {
	in_cgroup nsenter -t "$NS_PID" -n "$@"
}

# Shared by tests/supervise*.bats (after helpers.bash).

STATIC="$BUILD/tests/dial-static"
RAWCALL="$BUILD/tests/rawcall"

# "${AS_NOBODY[@]}" CMD...: CMD as an unprivileged user (needs root).
AS_NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)

require_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (to run the supervisor both as root and unprivileged)"
}

# wait_for CMD...: poll (up to 10 s) until CMD succeeds.
wait_for() {
	local i
	for ((i = 0; i < 200; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	echo "timed out waiting for: $*" >&2
	return 1
}

# gone PID...: none of these processes exists any more.
gone() {
	local pid
	for pid in "$@"; do
		! kill -0 "$pid" 2>/dev/null || return 1
	done
}

# has_lines FILE N: FILE exists and has N lines.
has_lines() {
	[ -f "$1" ] && [ "$(wc -l <"$1")" -eq "$2" ]
}

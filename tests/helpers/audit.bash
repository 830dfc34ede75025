# Shared by tests/audit*.bats (after `load helpers`): scenes of real sockets
# in a private namespace, and the strict readers of the audit's output.

# Debian's python3, where python3-prometheus-client is installed.
PYTHON3=/usr/bin/python3
[ -x "$PYTHON3" ] || PYTHON3=python3
AUDIT_CHECK=("$PYTHON3" "$ROOT/tests/helpers/audit_check.py")
HOSTILE="$ROOT/tests/helpers/hostile.py"

# audit_with_scene SCENE READY [AUDIT_ARGS...]: in one namespace, run the
# shell SCENE, where `start CMD...` starts a background process (ended by
# pid afterwards) and `listening PORT` tells whether PORT is listened on;
# wait (polling, 10 s at most) until the shell condition READY holds, then
# run noselfconn --audit AUDIT_ARGS; exit with the audit's status.
audit_with_scene() {
	local scene="$1" ready="$2"
	shift 2
	in_netns sh -c '
		pids=
		start() { "$@" & pids="$pids $!"; }
		listening() { ss -Htln "sport = :$1" | grep -q .; }
		'"$scene"'
		tries=0
		until '"$ready"'; do
			tries=$((tries + 1))
			if [ "$tries" -gt 200 ]; then
				echo "the scene did not settle: '"$ready"'" >&2
				kill $pids
				exit 99
			fi
			sleep 0.05
		done
		"$0" --audit "$@"
		status=$?
		[ -z "$pids" ] || kill $pids 2>/dev/null
		wait
		exit $status' "$WRAPPER" "$@"
}

# held FILE: the scene's condition that dial -H, writing to FILE, holds its
# self-connection.
held() {
	echo "grep -q '^holding self-connection' '$1'"
}

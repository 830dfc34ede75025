#!/usr/bin/env bats
# The original report: `while true; do telnet 127.0.0.1 50000; done`.

load helpers

setup() {
	require_netns
}

# telnet_loop N [PREFIX...]: N telnet runs in one namespace; prints how many
# connected and how many were refused.
telnet_loop() {
	local n="$1"
	shift
	in_netns sh -c '
		n=$1; shift
		connected=0 refused=0
		i=0
		while [ $i -lt "$n" ]; do
			out=$("$@" telnet 127.0.0.1 50000 </dev/null 2>&1)
			case "$out" in
			*"Connected to"*) connected=$((connected + 1)) ;;
			*"Connection refused"*) refused=$((refused + 1)) ;;
			esac
			i=$((i + 1))
		done
		echo "connected=$connected refused=$refused"' telnet_loop "$n" "$@"
}

@test "telnet connects to itself without the library" {
	run telnet_loop 100
	expect_at_least connected 1
}

@test "telnet under noselfconn: every attempt refused, never connected" {
	run telnet_loop 300 "${WRAPPER_RUN[@]}"
	expect connected 0
	expect refused 300
}

@test "telnet with LD_PRELOAD, prebind mode: every attempt refused" {
	run telnet_loop 300 env LD_PRELOAD="$PRELOAD_LIB" NOSELFCONN_MODE=prebind
	expect connected 0
	expect refused 300
}

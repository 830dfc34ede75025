#!/usr/bin/env bats
# What a preload cannot see, kept honest: each limit the README and
# libnoselfconn(7) name is shown to hold, so that the day it no longer does,
# they change.

load helpers

setup() {
	require_netns
}

# bats test_tags=foreign-programs
@test "limit: connect() from a ctypes handle on libc.so.6 is libc's own; from the process's symbols, guarded" {
	local dialer="$ROOT/tests/helpers/ctypes_dial.py"
	run in_netns env LD_PRELOAD="$PRELOAD_LIB" python3 "$dialer" --library libc.so.6 300 127.0.0.1 "$TARGET"
	echo "ctypes.CDLL(\"libc.so.6\"), preloaded: $output"
	expect_at_least self 1
	run in_netns env LD_PRELOAD="$PRELOAD_LIB" python3 "$dialer" --library None 300 127.0.0.1 "$TARGET"
	echo "ctypes.CDLL(None), preloaded: $output"
	expect self 0
}

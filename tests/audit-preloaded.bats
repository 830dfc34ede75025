#!/usr/bin/env bats
# noselfconn --audit --preloaded: which processes carry libnoselfconn.so.

load helpers
load helpers/audit

setup() {
	"${WITH_LIB[@]}" sleep 60 &
	with=$!
	sleep 60 &
	without=$!
	# env execs sleep with the library mapped: poll until it has.
	local tries=0
	until [ "$(cat "/proc/$with/comm")" = sleep ] && grep -q 'libnoselfconn\.so$' "/proc/$with/maps"; do
		tries=$((tries + 1))
		[ "$tries" -le 200 ] || return 1
		sleep 0.05
	done
}

teardown() {
	kill "$with" "$without" 2>/dev/null || true
	wait "$with" "$without" 2>/dev/null || true
}

@test "text: the preloaded process is listed with its user, the other is not; exit 0" {
	run "$WRAPPER" --audit --preloaded
	echo "$output"
	[ "$status" -eq 0 ]
	grep -Eq "^  pid $with \"sleep\" \"sleep\" \"60\"  user $(id -un) \\(uid $(id -u)\\)$" <<<"$output"
	[ "$(grep -c "^  pid $without " <<<"$output")" -eq 0 ]
	grep -Eq '^[0-9]+ with it, [0-9]+ without' <<<"$output"
}

@test "--json: valid, the two processes classified" {
	run "$WRAPPER" --audit --preloaded --json
	[ "$status" -eq 0 ]
	printf '%s' "$output" > "$BATS_TEST_TMPDIR/report.json"
	"$PYTHON3" - "$BATS_TEST_TMPDIR/report.json" "$with" "$without" "$(id -u)" <<'PY'
import json, sys
report = json.loads(open(sys.argv[1], "rb").read().decode("utf-8", "strict"))
assert report["format_version"] == 1
pids = {p["pid"]: p for p in report["preloaded"]}
assert int(sys.argv[2]) in pids and int(sys.argv[3]) not in pids
me = pids[int(sys.argv[2])]
assert (me["command"], me["uid"]) == ("sleep", int(sys.argv[4]))
assert report["count"] == len(report["preloaded"]) and report["without"] >= 1
PY
}

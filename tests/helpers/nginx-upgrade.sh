#!/usr/bin/env bash
# nginx-upgrade.sh DIR LIBRARY ENV_LINE: start nginx (Debian's nginx-light)
# with LIBRARY in LD_PRELOAD and ENV_LINE ("env LD_PRELOAD;" or nothing) in
# its configuration, do the binary upgrade that Debian's package upgrade
# does (SIGUSR2: the master re-executes itself with only the variables its
# env directives name), and print whether each master carries the library:
#   old=yes new=no
# Every step waits for what nginx says in its error log (notice level, read
# through a FIFO as it is written), never for a fixed time; if a step fails,
# the log so far is printed on stderr. Ends both masters (by the pids nginx
# logged) before it returns.
set -euo pipefail
dir=$1 library=$2 env_line=$3
mkdir -p "$dir/logs"
log=$dir/logs/error.log
fifo=$dir/logs/error.fifo
rm -f "$fifo" "$log"
mkfifo "$fifo"
cat > "$dir/nginx.conf" <<CONF
pid $dir/nginx.pid;
error_log $fifo notice;
$env_line
events {}
http {
	access_log off;
	client_body_temp_path $dir;
	proxy_temp_path $dir;
	fastcgi_temp_path $dir;
	uwsgi_temp_path $dir;
	scgi_temp_path $dir;
	server { listen 127.0.0.1:8088; }
}
CONF

# Every line nginx logs, kept in $log, read here one at a time (both ends
# of the FIFO open here first: nginx's open never blocks).
exec 3<>"$fifo"
old="" new=""
fail() {
	local line
	while IFS= read -r -t 1 line <&3; do # what is still in the FIFO
		printf '%s\n' "$line" >> "$log"
	done
	echo "nginx-upgrade: $1; nginx's error log:" >&2
	cat "$log" >&2 2>/dev/null || true
	exit 1
}
cleanup() {
	local pid
	for pid in $new $old; do kill -QUIT "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
# wait_for PATTERN [NOT_PID]: reads log lines until one matches PATTERN
# (from a pid other than NOT_PID); prints that line's pid. A line takes at
# most 60 s to come (a bound for a hung nginx, not a pace).
wait_for() {
	local line pid
	while IFS= read -r -t 60 line <&3; do
		printf '%s\n' "$line" >> "$log"
		pid=$(sed -n 's/^[^[]*\[[a-z]*\] \([0-9]*\)#.*/\1/p' <<<"$line")
		if [[ "$line" =~ $1 ]] && [ "$pid" != "${2:-}" ]; then
			echo "$pid"
			return 0
		fi
	done
	fail "no log line matched '$1'"
}
carries() { grep -q 'libnoselfconn\.so$' "/proc/$1/maps" && echo yes || echo no; }

# By its full path: the upgrade re-executes argv[0] as it stands.
LD_PRELOAD=$library "$(command -v nginx)" -p "$dir" -c "$dir/nginx.conf" -e "$fifo" ||
	fail "nginx did not start"
old=$(wait_for 'start worker processes')
kill -USR2 "$old"
new=$(wait_for 'start worker processes' "$old")
echo "old=$(carries "$old") new=$(carries "$new")"

# The new master first, then the old one: each logs "exit" as it ends.
kill -QUIT "$new"
wait_for "^[^[]*\\[notice\\] $new#[0-9]*: exit\$" >/dev/null
kill -QUIT "$old"
wait_for "^[^[]*\\[notice\\] $old#[0-9]*: exit\$" >/dev/null
# Each has logged its last line; waited for until it is gone (a pidfd
# becomes readable when its process exits).
python3 -c '
import os, select, sys
for pid in map(int, sys.argv[1:]):
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        continue
    select.select([fd], [], [])' "$new" "$old"
new="" old=""

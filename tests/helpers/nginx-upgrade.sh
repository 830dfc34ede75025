#!/bin/sh
# nginx-upgrade.sh DIR LIBRARY ENV_LINE: start nginx (Debian's nginx-light)
# with LIBRARY in LD_PRELOAD and ENV_LINE ("env LD_PRELOAD;" or nothing) in
# its configuration, do the binary upgrade that Debian's package upgrade
# does (SIGUSR2: the master re-executes itself with only the variables its
# env directives name), and print whether each master carries the library:
#   old=yes new=no
# Ends both masters (by the pids nginx wrote) before it returns.
set -eu
dir=$1 library=$2 env_line=$3
mkdir -p "$dir/logs"
cat > "$dir/nginx.conf" <<CONF
pid $dir/nginx.pid;
error_log $dir/logs/error.log;
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
carries() { grep -q 'libnoselfconn\.so$' "/proc/$1/maps" && echo yes || echo no; }
wait_for() { n=0; until [ -s "$1" ]; do n=$((n + 1)); [ $n -lt 500 ] || exit 1; sleep 0.01; done; }

# By its full path: the upgrade re-executes argv[0] as it stands.
LD_PRELOAD=$library "$(command -v nginx)" -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log"
wait_for "$dir/nginx.pid"
old=$(cat "$dir/nginx.pid")
trap 'kill -QUIT "$old" 2>/dev/null || true' EXIT
kill -USR2 "$old"
wait_for "$dir/nginx.pid.oldbin"
n=0
until [ -s "$dir/nginx.pid" ] && [ "$(cat "$dir/nginx.pid" 2>/dev/null)" != "$old" ]; do
	n=$((n + 1)); [ $n -lt 500 ] || exit 1; sleep 0.01
done
new=$(cat "$dir/nginx.pid")
trap 'kill -QUIT "$old" "$new" 2>/dev/null || true' EXIT
echo "old=$(carries "$old") new=$(carries "$new")"
kill -QUIT "$new" "$old"
while kill -0 "$new" 2>/dev/null || kill -0 "$old" 2>/dev/null; do sleep 0.01; done

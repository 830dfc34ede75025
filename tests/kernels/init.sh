#!/bin/sh
# PID 1 of the VMs of make test-kernels (busybox sh): runs the case table
# /nsc/cases against the kernel it booted and reports on the console, one
# "NSC: " line each, which tests/kernels/run.sh reads on the host:
#   NSC: kernel RELEASE / NSC: version UNAME-V / NSC: boot SECONDS / NSC: features ... / NSC: ok|not ok TEXT /
#   NSC: left out TEXT / NSC: done SECONDS
# and, per mode, "NSC: ok did MODE: WHAT", checked against the features.
# Each case first shows the self-connection without the guard (the control),
# then none with it.
PATH=/bin
export PATH
NSC=/nsc
CONTROL_COUNT=200   # the control stops at its first self-connection
GUARDED_COUNT=100   # TCG is slow; every one of these dials must be refused
MAX_SECONDS=120     # one run of the dial helper, or the case fails

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null

say() { echo "NSC: $*"; }

# The host's own non-loopback addresses, as in tests/helpers.bash.
ip link set lo up
ip addr add 10.99.0.1/32 dev lo
ip -6 addr add fd00::1/128 dev lo || say "ip: cannot add fd00::1"
ip -6 addr add fe80::1/64 dev lo || say "ip: cannot add fe80::1"
# No TIME_WAIT: a self-connection closed by one run must not hold the
# target's 4-tuple and keep the next run (the guarded one) from meeting it.
echo 0 > /proc/sys/net/ipv4/tcp_max_tw_buckets

say "kernel $(uname -r)"
say "version $(uname -v)"
say "boot $(cut -d' ' -f1 /proc/uptime)"
features=$("$NSC/tests/kfeatures")
say "features $features"

# field NAME TEXT: NAME's value in the dial helper's line of counts.
field() {
	for word in $2; do
		case "$word" in "$1="*) echo "${word#*=}"; return ;; esac
	done
	echo missing
}

# guarded_verdict OUTPUT: empty when every dial was refused and nothing leaked.
guarded_verdict() {
	[ "$(field self "$1")" = 0 ] || { echo "self-connected"; return; }
	[ "$(field failed "$1")" = 0 ] || { echo "dials failed: $1"; return; }
	[ "$(field refused "$1")" = "$(field attempts "$1")" ] || { echo "not all refused"; return; }
	[ "$(field fds_leaked "$1")" = 0 ] || { echo "descriptors leaked"; return; }
	[ "$(field bind_after "$1")" = ok ] || echo "the target port stayed held"
}

# report VERDICT TEXT: one result line.
report() {
	if [ -z "$1" ]; then say "ok $2"; else say "not ok $2 -- $1"; fi
}

# run_case HOW ADDRESS RANGE OPTIONS: under $OLD, the old-kernel helper or nothing.
run_case() {
	how=$1 address=$2 range=$3 options=$4 port=${3%% *}
	echo "$range" > /proc/sys/net/ipv4/ip_local_port_range
	if [ "$how" = supervise ]; then client="$NSC/tests/dial-static -r"; else client="$NSC/tests/dial"; fi
	label="$PASS$address range ${range% *}-${range#* } $options"
	# shellcheck disable=SC2086 # client and options are lists of words
	control=$(timeout "$MAX_SECONDS" $OLD $client -k -n "$CONTROL_COUNT" $options "$address" "$port" 2>&1)
	verdict=""
	case "$(field self "$control")" in 0 | missing) verdict="control did not self-connect: $control" ;; esac
	summary="control: self after $(field attempts "$control") dials"
	if [ "$how" = supervise ]; then
		# shellcheck disable=SC2086
		out=$(timeout "$MAX_SECONDS" $OLD "$NSC/noselfconn" --supervise $client -n "$GUARDED_COUNT" -L $options "$address" "$port" 2>&1)
		report "${verdict:-$(guarded_verdict "$out")}" \
			"supervise $label: $summary; supervised: self=$(field self "$out") refused=$(field refused "$out")/$(field attempts "$out")"
		return
	fi
	for mode in check prebind; do
		# shellcheck disable=SC2086
		out=$(LD_PRELOAD="$NSC/libnoselfconn.so" NOSELFCONN_MODE=$mode \
			timeout "$MAX_SECONDS" $OLD $client -n "$GUARDED_COUNT" -L $options "$address" "$port" 2>&1)
		report "${verdict:-$(guarded_verdict "$out")}" \
			"$mode $label: $summary; guarded: self=$(field self "$out") refused=$(field refused "$out")/$(field attempts "$out")"
	done
}

# supported OPTIONS: this build's dial helper takes OPTIONS (a refused dial
# to port 1 exits 0; an unknown option or style exits 2).
supported() {
	# shellcheck disable=SC2086
	"$NSC/tests/dial" -n 1 $1 127.0.0.1 1 >/dev/null 2>&1
}

# did MODE: what MODE did here, read from strace of a few dials that meet
# themselves unguarded (the first dial in a 2-port range does).
did() {
	trace=/tmp/trace
	echo "50004 50005" > /proc/sys/net/ipv4/ip_local_port_range
	if [ "$1" = supervise ]; then
		# shellcheck disable=SC2086
		strace -f -qq -o "$trace" -e trace=getsockopt,setsockopt,bind,pidfd_open \
			$OLD "$NSC/noselfconn" --supervise "$NSC/tests/dial-static" -r -n 20 127.0.0.1 50004 >/dev/null 2>&1
	else
		# shellcheck disable=SC2086
		# (check re-dials only a dial under way, non-blocking: a blocking one
		# is refused at once, so that no other holder sees a second dial)
		strace -f -qq -o "$trace" -e trace=getsockopt,setsockopt,bind,pidfd_open \
			-E LD_PRELOAD="$NSC/libnoselfconn.so" -E NOSELFCONN_MODE="$1" \
			$OLD "$NSC/tests/dial" -n 20 -s nonblock 127.0.0.1 50004 >/dev/null 2>&1
	fi
	grep -q 'SOL_IP, 0x33' "$trace" || { echo "never asked for IP_LOCAL_PORT_RANGE"; return; }
	narrowed=no
	grep -qE 'setsockopt\(.*SOL_IP, 0x33 .* = 0$' "$trace" && narrowed=yes
	case "$1" in
	check) [ $narrowed = yes ] && echo "re-dialed with the port excluded" || echo "refused outright" ;;
	prebind) grep -q 'ECONNRESET' "$trace" && echo "fell back to check" || echo "narrowed the range" ;;
	supervise)
		if [ $narrowed = yes ]; then printf "narrowed the range"
		elif grep -qE '^[0-9]+ +bind\(.* = 0$' "$trace"; then printf "bound another port"
		else printf "did nothing"; fi
		if grep -qE 'pidfd_open\([0-9]+, 0x80.* = [0-9]+$' "$trace"; then echo "; pidfd of the thread"
		elif grep -qE 'pidfd_open\([0-9]+, 0\) += [0-9]+$' "$trace"; then echo "; pidfd of the process"
		else echo "; no pidfd"; fi ;;
	esac
}

# check_modes RANGE-OPTION THREAD-PIDFD: each mode took the path the
# kernel's features (yes/no) say it must.
check_modes() {
	for mode in check prebind supervise; do
		case "$mode-$1" in
		check-yes) want="re-dialed with the port excluded" ;;
		check-no) want="refused outright" ;;
		prebind-yes) want="narrowed the range" ;;
		prebind-no) want="fell back to check" ;;
		supervise-yes) want="narrowed the range" ;;
		supervise-no) want="bound another port" ;;
		esac
		if [ $mode = supervise ]; then
			if [ "$2" = yes ]; then want="$want; pidfd of the thread"; else want="$want; pidfd of the process"; fi
		fi
		got=$(did $mode)
		[ "$got" = "$want" ] && verdict="" || verdict="expected: $want"
		report "$verdict" "did $PASS$mode: $got"
	done
}

# kguard_start / kguard_stop: noselfconn --kernel on the root cgroup (the
# whole guest), its stderr in /tmp/kguard.log; kguard_stop leaves its last
# line (the counts) in $kcounts.
kguard_start() {
	rm -f /tmp/kguard.log # the last one's "guarding" must not count
	"$NSC/noselfconn" --kernel /sys/fs/cgroup 2>/tmp/kguard.log &
	kguard=$!
	i=0
	until grep -qs '^noselfconn: guarding' /tmp/kguard.log; do
		kill -0 "$kguard" 2>/dev/null || return 1
		i=$((i + 1))
		[ "$i" -lt 1200 ] || return 1
		sleep 0.1
	done
}
kguard_stop() {
	kill -TERM "$kguard" 2>/dev/null
	wait "$kguard"
	kcounts=$(tail -n 1 /tmp/kguard.log)
}

# kernel_case ADDRESS RANGE OPTIONS: the control with no guard, then the
# same with the guard on the root cgroup; every dial refused, none to itself,
# the guard's counts in the line.
kernel_case() {
	address=$1 range=$2 options=$3 port=${2%% *}
	echo "$range" > /proc/sys/net/ipv4/ip_local_port_range
	client="$NSC/tests/dial" bind_after=-L
	case "$options" in
	dial-static*) client="$NSC/tests/dial-static" options=${options#dial-static} ;;
	uring*) client="$NSC/tests/uring" options=${options#uring} ;;
	esac
	label="kernel $address range ${range% *}-${range#* } $options"
	# shellcheck disable=SC2086 # options is a list of words
	control=$(timeout "$MAX_SECONDS" $client -k -n "$CONTROL_COUNT" $options "$address" "$port" 2>&1)
	verdict=""
	case "$(field self "$control")" in 0 | missing) verdict="control did not self-connect: $control" ;; esac
	if ! kguard_start; then
		report "could not attach: $(cat /tmp/kguard.log)" "$label"
		return
	fi
	# shellcheck disable=SC2086
	out=$(timeout "$MAX_SECONDS" $client -n "$GUARDED_COUNT" $bind_after $options "$address" "$port" 2>&1)
	kguard_stop
	report "${verdict:-$(guarded_verdict "$out")}" \
		"$label: control: self after $(field attempts "$control") dials; guarded: self=$(field self "$out") refused=$(field refused "$out")/$(field attempts "$out"); ${kcounts##*: }"
}

# The kernel guard's own checks: the verifier takes both programs; where
# bpf() or cgroup bpf_link is missing (as before 5.7), one line names the
# fall-back and nothing is attached.
kernel_checks() {
	out=$("$NSC/noselfconn" --kernel --check 2>&1)
	case "$out" in
	*"connect4: "*"accepted"*"connect6: "*"accepted"*) report "" "kernel verifier: $(echo "$out" | tr '\n' ' ')" ;;
	*) report "not accepted: $out" "kernel verifier" ;;
	esac
	for old in "-k 5.6" "-b"; do
		# shellcheck disable=SC2086
		out=$("$NSC/tests/oldkernel" $old "$NSC/noselfconn" --kernel /sys/fs/cgroup 2>&1)
		status=$?
		verdict=""
		[ "$status" = 125 ] || verdict="exit $status"
		[ "$(echo "$out" | wc -l)" = 1 ] || verdict="${verdict:+$verdict, }not one line"
		case "$out" in *"use the preload (noselfconn COMMAND) or noselfconn --supervise COMMAND instead"*) ;;
		*) verdict="${verdict:+$verdict, }no fall-back named" ;; esac
		report "$verdict" "kernel below its oldest (oldkernel $old): $out"
	done
}

# run_table: every case of the table.
run_table() {
	while IFS='|' read -r how address range options when; do
		case "$how" in '#'* | '') continue ;; esac
		if [ "$how" = kernel ]; then
			[ -z "$OLD" ] && kernel_case "$address" "$range" "$options" </dev/null
			continue
		fi
		if [ "$when" = if-supported ] && ! supported "$options"; then
			[ -z "$OLD" ] && say "left out $how $address $options: the dial helper has no such option yet"
			continue
		fi
		run_case "$how" "$address" "$range" "$options" </dev/null
	done < "$NSC/cases"
}

# High descriptors, where a guest may raise RLIMIT_NOFILE: dials on
# descriptor 4464 never wait for another thread's blocking connect() on
# 70000 (a 16-bit mark took 70000 for 4464), guarded or not.
high_descriptors() {
	echo "50000 50010" > /proc/sys/net/ipv4/ip_local_port_range
	for mode in check prebind; do
		for ports in "50005 50007" "40005 40007"; do
			# shellcheck disable=SC2086,SC3045 # two ports; busybox sh has ulimit -n
			out=$(ulimit -n 100000 && strace -f -qq -o /tmp/waits -e trace=sched_yield,nanosleep,clock_nanosleep \
				-E LD_PRELOAD="$NSC/libnoselfconn.so" -E NOSELFCONN_MODE=$mode \
				"$NSC/tests/neighbour" -n 20 -f 70000 127.0.0.1 $ports 2>&1)
			waits=$(grep -c -e sched_yield -e nanosleep /tmp/waits)
			verdict=""
			[ "$(field connected "$out")" = 20 ] && [ "$waits" = 0 ] || verdict="$waits waits: $out"
			report "$verdict" "high descriptors, $mode, ports $ports: dials on 4464 while 70000 is in connect(): $waits waits"
		done
	done
}

# Once as the kernel is; once more without IP_LOCAL_PORT_RANGE, as before
# 6.3 (Debian's 6.1 has it: backported in 6.1.32), so the fall-backs run on
# the older kernel's own code too.
has() { case " $features " in *" $1=yes "*) echo yes ;; *) echo no ;; esac; }
mount -t cgroup2 none /sys/fs/cgroup || say "cannot mount cgroup2"
OLD="" PASS=""
kernel_checks
run_table
check_modes "$(has ip_local_port_range)" "$(has pidfd_thread)"
high_descriptors
OLD="$NSC/tests/oldkernel -r" PASS="without-IP_LOCAL_PORT_RANGE "
run_table
check_modes no "$(has pidfd_thread)"

say "done $(cut -d' ' -f1 /proc/uptime)"
poweroff -f

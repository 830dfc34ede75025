#!/usr/bin/env bash
# make bench: every figure measured with and without the library in the same
# run, alternating batch by batch inside one process (see bench.c), in a
# network namespace of the run's own. Prints one table.
#
#   tests/bench/run.sh [ROUNDS] [SCALE]    (defaults: 15 rounds, full size;
#                                           SCALE divides every count)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${NSC_BUILD:-$ROOT/build}"
LIB="$BUILD/libnoselfconn.so"
BENCH="$BUILD/tests/bench"
DIAL="$BUILD/tests/dial"
EMPTY="$BUILD/tests/empty.so"
ROUNDS="${1:-15}"
SCALE="${2:-1}"
MODES="${MODES:-check prebind}"
# case:operations per batch (about 0.1 s each here)
CASES="churn-client-closes:3000 churn-server-closes:2000 passthrough:3000 refused:8000 threads:3000 capacity:3000"
STARTUP_EXECS=200

DEFAULT_RANGE="32768 60999"
# shellcheck source=tests/library-calls.sh
. "$ROOT/tests/library-calls.sh"
if unshare -n true 2>/dev/null; then NETNS=(unshare -n); else NETNS=(unshare -rn); fi

# in_netns RANGE CMD...: CMD in a fresh network namespace, lo up, that range.
in_netns() {
	# shellcheck disable=SC2016 # expanded by the inner sh, not here
	"${NETNS[@]}" sh -c 'ip link set lo up && echo "$0" >/proc/sys/net/ipv4/ip_local_port_range && exec "$@"' "$@"
}

# bench CASE COUNT MODE [floor]: ROUNDS lines "without with failed_without
# failed_with [floor failed_floor]", from one process in a namespace of its own.
bench() {
	local range="$DEFAULT_RANGE"
	[ "$1" = capacity ] && range="40000 40999"
	in_netns "$range" "$BENCH" "$1" "$(($2 / SCALE))" "$ROUNDS" "$LIB" "$3" ${4:+"$4"}
}

# network_calls_per_dial MODE|none LISTEN_PORT: calls the library can add, per dial.
network_calls_per_dial() {
	local mode="$1" port="$2" preload=() trace n=200
	trace="$(mktemp)"
	[ "$mode" != none ] && preload=(env LD_PRELOAD="$LIB" NOSELFCONN_MODE="$mode")
	in_netns "$DEFAULT_RANGE" strace -f -qq -e trace="$LIBRARY_CALLS" -o "$trace" "${preload[@]}" \
		"$DIAL" -S -n "$n" -s nonblock 127.0.0.1 "$port" >/dev/null
	local calls
	calls=$(count_library_calls "$trace")
	rm -f "$trace"
	echo "$calls $n"
}

# summary [time]: reads "without with failed_without failed_with" rates,
# prints median rates, the median ratio with / without (or, for "time",
# time with / time without) and its min-max, and failures summed.
summary() {
	awk -v time="${1:-}" '
	function median(a, n,   i, j, t) {
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	{ n++; wo[n] = $1; w[n] = $2; fwo += $3; fw += $4
	  r[n] = time ? ($2 > 0 ? $1 / $2 : 0) : ($1 > 0 ? $2 / $1 : 0)
	  if (n == 1 || r[n] < lo) lo = r[n]; if (n == 1 || r[n] > hi) hi = r[n] }
	END { printf "%10.0f %10.0f   %5.3f (%5.3f-%5.3f) %8d %8d\n", median(wo, n), median(w, n), median(r, n), lo, hi, fwo, fw }'
}

echo "noselfconn benchmarks: $(date -u '+%Y-%m-%d'), Linux $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores"
echo "$ROUNDS rounds per figure, batches without and with the library alternating in one process."
echo "ratio: throughput with / without (median, min-max); for startup, time with / time without."
echo "failed: dials that did not end as expected, summed (- without, + with the library)."
echo
printf '%-20s %-18s %10s %10s   %-19s %8s %8s\n' case mode "without/s" "with/s" "ratio (min-max)" "failed-" "failed+"
row() { xargs printf "%-20s %-18s %10s %10s   %s %s %8s %8s\n" "$@"; }

# reference_rows CASE LABEL [time] < LINES: from bench lines with a third
# side, the row "LABEL" (that side against libc alone) and "vs-LABEL" (the
# library against that side, round by round).
reference_rows() {
	local lines
	lines="$(cat)"
	awk '{ print $1, $5, $3, $6 }' <<<"$lines" | summary "${3:-}" | row "$1" "$2"
	awk '{ print $5, $2, $6, $4 }' <<<"$lines" | summary "${3:-}" | row "$1" "vs-${2//[()]/}"
}
for entry in $CASES; do
	case="${entry%%:*}" count="${entry#*:}"
	for mode in $MODES; do
		# The floor, beside the default mode, wherever a guard has to look.
		floor=
		case "$mode:$case" in check:passthrough | check:capacity) ;; check:*) floor=floor ;; esac
		lines="$(bench "$case" "$count" "$mode" ${floor:+"$floor"})"
		summary <<<"$lines" | row "$case" "$mode"
		[ -z "$floor" ] || reference_rows "$case" floor <<<"$lines"
	done
done
for mode in $MODES; do
	floor=
	[ "$mode" = check ] && floor="$EMPTY"
	lines="$("$BENCH" startup "$((STARTUP_EXECS / SCALE))" "$ROUNDS" "$LIB" "$mode" ${floor:+"$floor"})"
	summary time <<<"$lines" | row startup "$mode"
	[ -z "$floor" ] || reference_rows startup "(empty)" time <<<"$lines"
done

# noselfconn --supervise: whole processes, plain and supervised in turn, each
# in a fresh namespace (the filter cannot be lifted inside one process).
supervised() {
	in_netns "$DEFAULT_RANGE" "$@" "$BENCH" "$case" "$((count / SCALE))" 1 - -
}
# supervisor_calls_per_dial: system calls the supervisor makes per trapped
# dial (strace on the supervisor alone, not the command: 1000 refused dials).
supervisor_calls_per_dial() {
	local trace n=1000
	trace="$(mktemp)"
	# shellcheck disable=SC2016 # expanded by the inner sh
	in_netns "$DEFAULT_RANGE" sh -c '
		"$1" --supervise sh -c "sleep 1; exec \"\$0\" -r -n $3 127.0.0.1 40000" "$2" >/dev/null &
		top=$!
		sleep 0.3
		strace -f -qq -o "$4" -p "$(cat "/proc/$top/task/$top/children")" &
		wait "$top"' sh "$BUILD/noselfconn" "$DIAL" "$n" "$trace"
	awk -v n="$n" '!/resumed>|\+\+\+|^[0-9]+ +---/ { c++ } END { printf "%.1f", c / n }' "$trace"
	rm -f "$trace"
}
supervisor_calls="$(supervisor_calls_per_dial)"
# supervised_side plain|supervise|floor|bare: one batch's "rate failed".
supervised_side() {
	case "$1" in
	plain) supervised ;;
	supervise) supervised "$BUILD/noselfconn" --supervise ;;
	floor) supervised "$BUILD/tests/supervise-floor" ;;
	bare) supervised "$BUILD/tests/supervise-floor" --no-read ;;
	esac
}
sides=(plain supervise floor bare)
for entry in churn-client-closes:3000 refused:8000; do
	case="${entry%%:*}" count="${entry#*:}"
	lines="$(for ((round = 0; round < ROUNDS; round++)); do
		declare -A rate=() failed=()
		for ((k = 0; k < ${#sides[@]}; k++)); do # each side first in turn
			side="${sides[(round + k) % ${#sides[@]}]}"
			read -r "rate[$side]" "failed[$side]" < <(supervised_side "$side")
		done
		echo "${rate[plain]} ${rate[supervise]} ${failed[plain]} ${failed[supervise]}" \
			"${rate[floor]} ${failed[floor]} ${rate[bare]} ${failed[bare]}"
	done)"
	summary <<<"$lines" | row "$case" supervise | sed "s|\$|   $supervisor_calls calls/dial|"
	reference_rows "$case" supervise-floor <<<"$lines"
	awk '{ print $1, $7, $3, $8 }' <<<"$lines" | summary | row "$case" supervise-bare
done

# noselfconn --kernel: one process moving itself between a cgroup of the
# run's own where the guard is attached and one where it is not, before each
# chunk of dials (the move untimed). Beside it the programs' own run time per
# guarded dial, from kernel.bpf_stats_enabled, on for a short pass of its own:
# counting costs the guarded side a point or two, which the ratio must not carry.
kernel_rows() {
	local cg2="" dir
	for dir in /sys/fs/cgroup /sys/fs/cgroup/unified; do
		[ "$(stat -f -c %T "$dir" 2>/dev/null)" = cgroup2fs ] && cg2="$dir" && break
	done
	if [ -z "$cg2" ] || ! "$BUILD/noselfconn" --kernel --check >/dev/null 2>&1; then
		echo "kernel: left out (needs root, cgroup v2 and a kernel that takes the guard)"
		return
	fi
	plain="$cg2/noselfconn-bench-$$-plain" guarded="$cg2/noselfconn-bench-$$-guarded"
	stats_before="$(cat /proc/sys/kernel/bpf_stats_enabled)"
	mkdir "$plain" "$guarded"
	guard_log="$(mktemp)"
	"$BUILD/noselfconn" --kernel "$guarded" 2>"$guard_log" &
	guard_pid=$!
	trap kernel_cleanup EXIT
	until grep -qs guarding "$guard_log"; do
		kill -0 "$guard_pid" 2>/dev/null || { cat "$guard_log"; return 1; }
		sleep 0.05
	done
	local entry case count lines before after
	for entry in churn-client-closes:3000 refused:8000 refused-localhost:8000; do
		case="${entry%%:*}" count="${entry#*:}"
		echo 0 > /proc/sys/kernel/bpf_stats_enabled
		lines="$(kernel_dials "$case" "$count" "$ROUNDS")"
		echo 1 > /proc/sys/kernel/bpf_stats_enabled
		read -r -a before < <("$BENCH" progstats)
		kernel_dials "$case" "$count" 3 >/dev/null
		read -r -a after < <("$BENCH" progstats)
		summary <<<"$lines" | row "$case" kernel | sed "s|\$|   $(awk -v ns=$((after[0] - before[0])) \
			-v n=$((after[1] - before[1])) 'BEGIN { printf "%.0f ns/dial in the programs", n ? ns / n : 0 }')|"
	done
	kernel_cleanup
	trap - EXIT
}
# kernel_dials CASE COUNT ROUNDS: the bench's lines, moving between the two cgroups.
kernel_dials() {
	in_netns "$DEFAULT_RANGE" "$BENCH" "$1" "$(($2 / SCALE))" "$3" --cgroups "$plain/cgroup.procs" \
		"$guarded/cgroup.procs"
}
# The guard stopped, its cgroups removed, bpf_stats_enabled as it was.
kernel_cleanup() {
	kill "$guard_pid" 2>/dev/null || true
	wait "$guard_pid" 2>/dev/null || true
	echo "$stats_before" > /proc/sys/kernel/bpf_stats_enabled
	rmdir "$plain" "$guarded" 2>/dev/null || true
	rm -f "$guard_log"
}
kernel_rows
echo "kernel: noselfconn --kernel, one process moving between a guarded and an unguarded cgroup"
echo "       every 100 dials; ns/dial: the programs' own run time per guarded dial (bpf_stats,"
echo "       counted in a 3-round pass of its own). refused dials 127.1.x.y, where the guard binds"
echo "       the wildcard; refused-localhost 127.0.0.1, an address it binds as the kernel would."
echo "calls/dial: system calls the supervisor makes per trapped dial (strace on it alone)."
echo "supervise-floor: a supervisor that only reads each dial's destination and lets it go on,"
echo "       the least --supervise can cost; vs-supervise-floor: --supervise against it."
echo "supervise-bare: the same without the read, the kernel's round trip alone."
echo "floor: no library; libc's connect() and then one getsockname() wherever the kernel"
echo "       chose a port: what any guard that looks after the dial pays, the issue's floor."
echo "vs-floor: check against that floor, round by round (floor/s, check/s): what the"
echo "       library costs beyond the one look."
echo "(empty): a preloaded shared object with no code at all, the floor any preload costs;"
echo "       vs-empty: the library's start-up against it, exec by exec."
echo "The range read (open, fstatfs, read, close of ip_local_port_range), at the first dial that"
echo "  needs it, then at most once a second per dialing process: $(awk -v c="$("$BENCH" range-read 20000)" 'BEGIN { printf "%.1f us, %.4f %% of that second", 1e6 / c, 100 / c }')."
echo "One getsockname() alone, in a tight loop: $(awk -v c="$("$BENCH" getsockname 1000000)" 'BEGIN { printf "%.0f", 1e9 / c }') ns."

# noselfconn --audit against ss -tanp on the same sockets: 2 x 2500 connected
# sockets and a few listeners in one namespace, both run in turn.
AUDIT_PAIRS=$((2500 / SCALE))
audit_vs_ss() {
	# shellcheck disable=SC2016 # expanded by the inner sh, not here
	in_netns "$DEFAULT_RANGE" sh -c '
		"$1" "$2" 8080 > "$3" &
		trap "rm -f \"\$3\"" EXIT
		crowd=$!
		until grep -q ready "$3" 2>/dev/null; do kill -0 "$crowd" || exit 1; sleep 0.05; done
		for round in $(seq "$4"); do
			a=$(date +%s%N); "$5" --audit >/dev/null; b=$(date +%s%N)
			ss -tanp >/dev/null; c=$(date +%s%N)
			echo "$(((c - b) / 1000)) $(((b - a) / 1000)) 0 0"
		done
		kill "$crowd"' sh "$ROOT/tests/helpers/sockets.py" "$AUDIT_PAIRS" "$(mktemp)" "$ROUNDS" \
		"$BUILD/noselfconn"
}
echo
echo "noselfconn --audit against ss -tanp, $((2 * AUDIT_PAIRS)) connected sockets in one namespace"
echo "(times in microseconds; ratio: audit time / ss time, median, min-max):"
printf '%-20s %-18s %10s %10s   %-19s\n' case "" "ss -tanp" "audit" "ratio (min-max)"
audit_vs_ss | summary | row audit-vs-ss ""

echo
echo "System calls per dial (strace, the calls the library can make, 200 non-blocking dials to a listener):"
printf '%-10s %-22s %-22s\n' mode "pass-through (port 8080)" "guarded (port 40000)"
read -r base_pass n < <(network_calls_per_dial none 8080)
read -r base_guard _ < <(network_calls_per_dial none 40000)
for mode in $MODES; do
	read -r pass _ < <(network_calls_per_dial "$mode" 8080)
	read -r guard _ < <(network_calls_per_dial "$mode" 40000)
	printf '%-10s %-22s %-22s\n' "$mode" \
		"+$(awk -v a="$pass" -v b="$base_pass" -v n="$n" 'BEGIN { printf "%.2f", (a - b) / n }')" \
		"+$(awk -v a="$guard" -v b="$base_guard" -v n="$n" 'BEGIN { printf "%.2f", (a - b) / n }')"
done

echo
echo "The bound on a wait for a claim (documented: 50 ms), measured: a prebind dial on a socket"
echo "whose claim another thread holds in a connect() that never completes ($ROUNDS runs, ms):"
waits=""
for _ in $(seq "$ROUNDS"); do
	waits="$waits $(in_netns "50000 50010" env LD_PRELOAD="$LIB" NOSELFCONN_MODE=prebind \
		"$BUILD/tests/neighbour" -n 1 -s 127.0.0.1 50005 50007 | sed -n 's/.*waited_ms_max=//p')"
done
echo "claim-wait $(tr ' ' '\n' <<<"$waits" | sort -n | awk 'NF { v[++n] = $1 } END { printf "median %s, min %s, max %s", v[int((n + 1) / 2)], v[1], v[n] }')"

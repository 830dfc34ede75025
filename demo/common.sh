# shellcheck shell=bash
# Shared by the demos: headings, and the private network namespace they run in.

if [ -t 1 ]; then BOLD=$'\033[1m' PLAIN=$'\033[0m'; else BOLD="" PLAIN=""; fi
say() { printf '\n%s== %s%s\n' "$BOLD" "$*" "$PLAIN"; }

# enter_namespace SCRIPT WRAPPER PACKAGES TOOL...: check the tools and the
# built wrapper, then run SCRIPT --inside in a private network namespace (as
# root, else as an unprivileged user namespace). Returns only by exiting.
enter_namespace() {
	local script="$1" wrapper="$2" packages="$3" tool
	shift 3
	for tool in "$@" ip ss unshare; do
		command -v "$tool" >/dev/null ||
			{ echo "demo: needs $tool (apt-get install $packages iproute2 util-linux)" >&2; exit 1; }
	done
	[ -x "$wrapper" ] || { echo "demo: build first: make" >&2; exit 1; }
	if unshare -n true 2>/dev/null; then
		exec unshare -n "$script" --inside
	elif unshare -rn true 2>/dev/null; then
		exec unshare -rn "$script" --inside
	fi
	cat >&2 <<END
demo: this demo needs a private network namespace, so that it can narrow the
ephemeral port range without touching this host's. Run it as root
(sudo make demo), or allow unprivileged user namespaces
(sudo sysctl -w kernel.unprivileged_userns_clone=1 on Debian).
END
	exit 1
}

#!/bin/sh
# Make sure what the tests (or the demo) need is installed: as root, install
# what is missing with apt-get; otherwise print the exact command and fail.
#   tests/deps.sh [demo|test|kernels]
set -eu

demo_packages="telnet iproute2 util-linux"
kernel_packages="qemu-system-x86 busybox-static"
test_packages="$demo_packages libc6-dev gcc-multilib bats strace binutils clang libclang-rt-14-dev clang-tidy cppcheck shellcheck valgrind musl-tools file lcov groff-base man-db socat netcat-openbsd curl python3 procps nginx-light mptcpize libmptcpwrap0 python3-prometheus-client golang-go"

case "${1:-test}" in
demo) wanted=$demo_packages ;;
test) wanted=$test_packages ;;
kernels) wanted="$test_packages $kernel_packages" ;;
*) echo "usage: $0 [demo|test|kernels]" >&2; exit 2 ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "deps: not a Debian-style system; make sure these are installed: $wanted" >&2
	exit 0
fi

missing=""
for package in $wanted; do
	if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $package"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing" >&2
	echo "deps: install them with: sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086 # one word per package
apt-get install -y -qq $missing >/dev/null

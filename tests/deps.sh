#!/bin/sh
# Make sure what the tests (or the demo) need is installed. As root: say
# what is missing and how much apt-get will fetch and use (its own
# estimate), then install it with no service started (a policy-rc.d that
# refuses, for the time of the install) and none left enabled for the next
# boot. Otherwise: print the exact command and fail.
#   tests/deps.sh [demo|test|kernels|deb|package]
set -eu

demo_packages="telnet iproute2 util-linux"
kernel_packages="qemu-system-x86 busybox-static"
deb_packages="dpkg-dev debhelper"
# On amd64, 32-bit programs too (issue 20, item 4): the multiarch
# libc6:i386, whose loader serves i386 programs (dpkg --add-architecture
# i386). make deb builds the i386 library with gcc -m32 (gcc-multilib; the
# i686 cross compiler conflicts with it), debhelper strips it with the i686
# binutils, and dpkg-shlibdeps finds its libc in libc6:i386. Without them
# (not root) make deb builds the native packages only.
i386_packages=""
deb_i386_packages=""
if [ "$(dpkg --print-architecture 2>/dev/null || true)" = amd64 ]; then
	i386_packages="libc6:i386"
	deb_i386_packages="gcc-multilib binutils-i686-linux-gnu $i386_packages"
fi
# make test-package: lintian, and a fresh Debian root to install into.
package_packages="$deb_packages $deb_i386_packages lintian debootstrap"
test_packages="$demo_packages libc6-dev gcc-multilib bats strace binutils clang libclang-rt-14-dev clang-tidy cppcheck shellcheck valgrind musl-tools file lcov groff-base man-db socat netcat-openbsd curl python3 procps nginx-light mptcpize libmptcpwrap0 python3-prometheus-client golang-go bash-completion $i386_packages"

case "${1:-test}" in
demo) wanted=$demo_packages ;;
test) wanted=$test_packages ;;
kernels) wanted="$test_packages $kernel_packages" ;;
deb)
	wanted="$deb_packages $deb_i386_packages"
	[ "$(id -u)" -eq 0 ] || wanted=$deb_packages
	;;
package) wanted=$package_packages ;;
*) echo "usage: $0 [demo|test|kernels|deb|package]" >&2; exit 2 ;;
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

# A package of another architecture needs that architecture first.
add_i386=""
case $missing in
*:i386*) dpkg --print-foreign-architectures | grep -qx i386 || add_i386=yes ;;
esac

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing" >&2
	echo "deps: install them with: ${add_i386:+sudo dpkg --add-architecture i386 && sudo apt-get update && }sudo apt-get install -y$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if [ -n "$add_i386" ]; then
	echo "deps: adding the i386 architecture (dpkg --add-architecture i386)" >&2
	dpkg --add-architecture i386
fi
apt-get update -qq

# What it will take, as apt-get itself counts it, before anything happens
# (--trivial-only: --assume-no still installs, unasked, when nothing
# beyond the packages named is needed).
# shellcheck disable=SC2086 # one word per package
apt-get install --trivial-only $missing 2>/dev/null | sed -n \
	-e 's/^\([0-9]* upgraded, \([0-9]*\) newly installed.*\)/deps: \2 packages to install (with what they need)/p' \
	-e 's/^\(Need to get .*\)/deps: \1/p' -e 's/^\(After this operation, .*\)/deps: \1/p' >&2 || true
echo "deps: installing$missing" >&2

# No service may start while they install: invoke-rc.d and
# deb-systemd-invoke ask policy-rc.d, and 101 means "not now". One that is
# already there is left as it is.
policy=${DEPS_POLICY_RC_D:-/usr/sbin/policy-rc.d}
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\n# tests/deps.sh: no service starts while it installs.\nexit 101\n' > "$policy"
	chmod 755 "$policy"
	trap 'rm -f "$policy"' EXIT
fi
before=$(dpkg-query -W -f='${Package}\n' | sort)
# shellcheck disable=SC2086 # one word per package
apt-get install -y -qq $missing >/dev/null
after=$(dpkg-query -W -f='${Package}\n' | sort)

# Nor left enabled for the next boot (nginx's unit, on a systemd host).
new=$(printf '%s\n' "$after" | grep -vxF "$before" || true)
# shellcheck disable=SC2086 # one word per package
for file in $(dpkg -L $new 2>/dev/null | grep -E '^(/usr)?/lib/systemd/system/[^/]+\.(service|socket|timer)$|^/etc/init\.d/[^/]+$' | sort -u); do
	name=${file##*/}
	case $file in
	/etc/init.d/*)
		update-rc.d "$name" disable >/dev/null 2>&1 || true
		;;
	*)
		if [ -d /run/systemd/system ]; then
			systemctl disable --now "$name" >/dev/null 2>&1 || true
		fi
		deb-systemd-helper disable "$name" >/dev/null 2>&1 || true
		;;
	esac
	echo "deps: $name installed, not started, disabled" >&2
done

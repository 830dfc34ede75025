#!/usr/bin/env bats
# The newcomer's path (issue 22, item 3): tests/deps.sh says what it will
# install and how much before installing, starts no service while it
# installs (policy-rc.d) and leaves none enabled. apt-get, dpkg and the
# service tools are stand-ins here that record what they were asked: the
# real ones would install packages on this machine.

load helpers

# A fake system: nginx-light missing; installing it brings nginx-common,
# which ships a unit and an init script.
setup() {
	[ "$(id -u)" -eq 0 ] || skip "tests/deps.sh installs only as root"
	FAKE="$BATS_TEST_TMPDIR/fake"
	mkdir -p "$FAKE/bin"
	cat > "$FAKE/bin/dpkg-query" <<'SH'
#!/bin/sh
# -W -f=${Status} PACKAGE, or -W -f=${Package}\n (all installed)
state=$(dirname "$0")/../installed
case "$*" in
*'${Status}'*nginx-light) grep -qx nginx-light "$state" 2>/dev/null && echo "install ok installed" || echo "unknown ok not-installed" ;;
*'${Status}'*) echo "install ok installed" ;;
*'${Package}'*) printf 'bash\ncoreutils\n'; cat "$state" 2>/dev/null ;;
esac
SH
	cat > "$FAKE/bin/apt-get" <<'SH'
#!/bin/sh
log=$(dirname "$0")/../log
echo "apt-get $*" >> "$log"
case "$*" in
update*) ;;
*--trivial-only*)
	printf 'The following NEW packages will be installed:\n  nginx-common nginx-light\n'
	printf '0 upgraded, 2 newly installed, 0 to remove and 0 not upgraded.\n'
	printf 'Need to get 641 kB of archives.\n'
	printf 'After this operation, 1,734 kB of additional disk space will be used.\n'
	printf 'Abort.\n'
	exit 1 ;;
*install*)
	# What nginx-common's postinst does: ask policy-rc.d before starting.
	if "$DEPS_POLICY_RC_D" nginx start; then echo "nginx started" >> "$log"
	else echo "policy-rc.d said $? to starting nginx" >> "$log"; fi
	printf 'nginx-common\nnginx-light\n' > "$(dirname "$0")/../installed" ;;
esac
SH
	cat > "$FAKE/bin/dpkg" <<'SH'
#!/bin/sh
[ "$1" = -L ] || exit 1
for p in "$@"; do
	[ "$p" = nginx-common ] && printf '/lib/systemd/system/nginx.service\n/etc/init.d/nginx\n/usr/share/nginx\n'
done
exit 0
SH
	for tool in deb-systemd-helper update-rc.d systemctl; do
		printf '#!/bin/sh\necho "%s $*" >> "$(dirname "$0")/../log"\n' "$tool" > "$FAKE/bin/$tool"
	done
	chmod 755 "$FAKE"/bin/*
	export DEPS_POLICY_RC_D="$BATS_TEST_TMPDIR/policy-rc.d"
}

@test "deps.sh: apt-get's own estimate first, then the install, no service started, none left enabled" {
	run --separate-stderr env PATH="$FAKE/bin:$PATH" "$ROOT/tests/deps.sh" test
	echo "$stderr"
	cat "$FAKE/log"
	[ "$status" -eq 0 ]
	# Said before installing: how many, how much to fetch, how much room.
	[ "$(sed -n 1p <<<"$stderr")" = "deps: 2 packages to install (with what they need)" ]
	[ "$(sed -n 2p <<<"$stderr")" = "deps: Need to get 641 kB of archives." ]
	[ "$(sed -n 3p <<<"$stderr")" = "deps: After this operation, 1,734 kB of additional disk space will be used." ]
	[ "$(sed -n 4p <<<"$stderr")" = "deps: installing nginx-light" ]
	# The estimate was asked before the install.
	[ "$(grep -n -- '--trivial-only' "$FAKE/log" | cut -d: -f1)" -lt "$(grep -n -- 'install -y' "$FAKE/log" | cut -d: -f1)" ]
	# While installing, policy-rc.d refused every start; it is gone after.
	grep -qx "policy-rc.d said 101 to starting nginx" "$FAKE/log"
	[ -z "$(grep -x 'nginx started' "$FAKE/log")" ]
	[ ! -e "$DEPS_POLICY_RC_D" ]
	# What the new packages brought is disabled for the next boot too.
	grep -qx "deb-systemd-helper disable nginx.service" "$FAKE/log"
	grep -qx "update-rc.d nginx disable" "$FAKE/log"
	grep -qx "deps: nginx.service installed, not started, disabled" <<<"$stderr"
	# Nothing missing now: nothing done.
	: > "$FAKE/log"
	run --separate-stderr env PATH="$FAKE/bin:$PATH" "$ROOT/tests/deps.sh" test
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ ! -s "$FAKE/log" ]
}

@test "deps.sh: a policy-rc.d already there is used and left as it was" {
	printf '#!/bin/sh\nexit 101\n' > "$DEPS_POLICY_RC_D"
	chmod 755 "$DEPS_POLICY_RC_D"
	cp "$DEPS_POLICY_RC_D" "$BATS_TEST_TMPDIR/theirs"
	run --separate-stderr env PATH="$FAKE/bin:$PATH" "$ROOT/tests/deps.sh" test
	[ "$status" -eq 0 ]
	grep -qx "policy-rc.d said 101 to starting nginx" "$FAKE/log"
	cmp "$DEPS_POLICY_RC_D" "$BATS_TEST_TMPDIR/theirs"
}

@test "deps.sh: not root, it names the command and installs nothing" {
	local readable
	readable=$(readable_copy "$ROOT/tests/deps.sh")
	run --separate-stderr setpriv --reuid=65534 --regid=65534 --clear-groups \
		env PATH="$FAKE/bin:$PATH" "$readable/deps.sh" test
	[ "$status" -eq 1 ]
	[ "$stderr" = "deps: missing packages: nginx-light
deps: install them with: sudo apt-get install -y nginx-light" ]
	[ ! -e "$FAKE/log" ]
}

# On amd64 the i386 C library is wanted (the i386 library's tests and
# packages): its architecture is added before apt-get update, once.
@test "deps.sh: a package of another architecture: its architecture is added first; not root, the command says so (make deb does without)" {
	local i386="$FAKE/i386"
	mkdir -p "$i386"
	cat > "$i386/dpkg-query" <<'SH'
#!/bin/sh
case "$*" in
*'${Status}'*libc6:i386) grep -qx i386 "$(dirname "$0")/../arch" 2>/dev/null && echo "install ok installed" || echo "unknown ok not-installed" ;;
*'${Status}'*) echo "install ok installed" ;;
*'${Package}'*) printf 'bash\n' ;;
esac
SH
	cat > "$i386/dpkg" <<'SH'
#!/bin/sh
dir=$(dirname "$0")/..
{ echo "dpkg $*" >> "$dir/log"; } 2>/dev/null || true
case "$1" in
--print-architecture) echo amd64 ;;
--print-foreign-architectures) cat "$dir/arch" 2>/dev/null || true ;;
--add-architecture) echo "$2" >> "$dir/arch" ;;
esac
SH
	chmod 755 "$i386"/*
	run --separate-stderr env PATH="$i386:$FAKE/bin:$PATH" "$ROOT/tests/deps.sh" deb
	echo "$stderr"
	cat "$FAKE/log"
	[ "$status" -eq 0 ]
	grep -qx "deps: adding the i386 architecture (dpkg --add-architecture i386)" <<<"$stderr"
	grep -qx "deps: installing libc6:i386" <<<"$stderr"
	# Added before the package lists are fetched.
	[ "$(grep -n -- '--add-architecture i386' "$FAKE/log" | cut -d: -f1)" -lt "$(grep -n 'apt-get update' "$FAKE/log" | cut -d: -f1)" ]
	# Not root, with the architecture not added: the tests need it, and
	# the command names every step; make deb does without (native only).
	rm "$FAKE/arch"
	local readable
	readable=$(readable_copy "$ROOT/tests/deps.sh")
	chmod a+rx "$i386" "$i386"/* "$FAKE" "$FAKE/bin" "$FAKE"/bin/*
	run --separate-stderr setpriv --reuid=65534 --regid=65534 --clear-groups \
		env PATH="$i386:$FAKE/bin:$PATH" "$readable/deps.sh" test
	echo "$stderr"
	[ "$status" -eq 1 ]
	[ "$stderr" = "deps: missing packages: libc6:i386
deps: install them with: sudo dpkg --add-architecture i386 && sudo apt-get update && sudo apt-get install -y libc6:i386" ]
	run --separate-stderr setpriv --reuid=65534 --regid=65534 --clear-groups \
		env PATH="$i386:$FAKE/bin:$PATH" "$readable/deps.sh" deb
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
}

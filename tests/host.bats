#!/usr/bin/env bats
# The whole host through /etc/ld.so.preload (issue 22, item 2):
# --enable-host and --disable-host, make install by rename, make uninstall
# that refuses. Every test runs in a private mount namespace whose /etc is
# an overlay of the real one (what changes lands in a directory of the
# test's own) and whose /usr/local is a tmpfs holding the library under
# test: the host's own /etc/ld.so.preload is never touched (checked).

load helpers

# The host's own file, before anything: each test checks it is unchanged.
setup() {
	HOST_PRELOAD_BEFORE=$(cat /etc/ld.so.preload 2>/dev/null || echo absent)
	[ "$(id -u)" -eq 0 ] || skip "needs root: a mount namespace with /etc and /usr/local of its own"
}

teardown() {
	[ "$(cat /etc/ld.so.preload 2>/dev/null || echo absent)" = "$HOST_PRELOAD_BEFORE" ]
}

# in_host_ns SCRIPT [ARG...]: SCRIPT (sh) where /etc is an overlay whose
# changes land in a fresh directory $UPPER, /usr/local holds the built
# libraries as make install lays them out (each architecture the build
# tree has, under its $LIB), and the loaders of architectures the build
# has no library for are hidden (their directories empty), so that each
# loader left can load it. $NSC is the command, $LIBRARY the $LIB path.
in_host_ns() {
	local script="$1" dir
	shift
	dir=$(mktemp -d "$BATS_TEST_TMPDIR/overlay.XXXXXX")
	mkdir "$dir/upper" "$dir/work"
	run --separate-stderr unshare -m sh -c '
		set -e
		mount --make-rprivate /
		UPPER=$1/upper
		export UPPER
		mount -t overlay overlay -o "lowerdir=/etc,upperdir=$UPPER,workdir=$1/work" /etc
		mount -t tmpfs none /usr/local
		mkdir -p "/usr/local/$3"
		cp "$2/libnoselfconn.so" "/usr/local/$3/"
		for arch in lib32 libx32 lib/i386-linux-gnu; do
			if [ -e "$2/$arch/noselfconn/libnoselfconn.so" ]; then
				mkdir -p "/usr/local/$arch/noselfconn"
				cp "$2/$arch/noselfconn/libnoselfconn.so" "/usr/local/$arch/noselfconn/"
			elif [ -d "/usr/$arch" ] && [ "${HIDE_LOADERS:-1}" = 1 ]; then
				mount -t tmpfs none "/usr/$arch"
			fi
		done
		shift 3
		script=$1
		shift
		set +e
		NSC=$0 LIBRARY="/usr/local/\$LIB/noselfconn/libnoselfconn.so"
		export NSC LIBRARY
		eval "$script"' "$WRAPPER" "$dir" "$BUILD" "$LIB_SUBDIR" "$script" "$@"
	echo "$output"
	echo "$stderr"
}

# The sanitizer runtime cannot come first in a process that a library in
# /etc/ld.so.preload reaches: the library under test must be a plain one.
# bats test_tags=no-sanitizer
@test "--enable-host adds the library once, keeps other entries; --disable-host undoes it byte for byte" {
	in_host_ns '
		other=/usr/local/other/libother.so
		mkdir -p /usr/local/other
		cp "'"$BUILD/tests/empty.so"'" "$other"
		printf "# kept as it is\n%s\n" "$other" > /etc/ld.so.preload
		cp /etc/ld.so.preload /tmp/before
		sleep 1000 & old=$!                    # started before: never loads it
		"$NSC" --enable-host
		printf "%s\n" "$other" "$LIBRARY" | cmp - /etc/ld.so.preload 2>/dev/null ||
			{ printf "# kept as it is\n%s\n%s\n" "$other" "$LIBRARY" | cmp - /etc/ld.so.preload; }
		grep -q "noselfconn/libnoselfconn.so" /proc/self/maps && echo new: mapped
		grep -q "noselfconn/libnoselfconn.so" /proc/$old/maps || echo old: not mapped
		"$NSC" --enable-host                   # again: nothing added
		[ "$(grep -c noselfconn /etc/ld.so.preload)" -eq 1 ]
		"$NSC" --disable-host
		cmp /tmp/before /etc/ld.so.preload && echo identical
		"$NSC" --disable-host                  # again: nothing to do
		cmp /tmp/before /etc/ld.so.preload && echo still identical
		kill $old
		ls -A "$UPPER" | tr "\n" " "' 
	[ "$status" -eq 0 ]
	# A new process maps it; the one started before does not.
	grep -qx "new: mapped" <<<"$output"
	grep -qx "old: not mapped" <<<"$output"
	grep -qx identical <<<"$output"
	grep -qx "still identical" <<<"$output"
	[[ "$stderr" == *"noselfconn: added /usr/local/\$LIB/noselfconn/libnoselfconn.so to /etc/ld.so.preload"* ]]
	[[ "$stderr" == *"already names"* ]]
	[[ "$stderr" == *"does not name"* ]]
	# Nothing else of /etc was written: only ld.so.preload, in the overlay.
	[ "$(tail -n 1 <<<"$output")" = "ld.so.preload " ]
	# Every line of ours says it is ours.
	[ -z "$(grep -v '^noselfconn: ' <<<"$stderr")" ]
}

# bats test_tags=no-sanitizer
@test "no /etc/ld.so.preload: --enable-host creates it (0644), --disable-host removes it again" {
	in_host_ns '
		[ ! -e /etc/ld.so.preload ] || rm /etc/ld.so.preload
		"$NSC" --enable-host
		stat -c "%a %U %s" /etc/ld.so.preload
		"$NSC" --disable-host
		[ ! -e /etc/ld.so.preload ] && echo gone'
	[ "$status" -eq 0 ]
	[ "$(sed -n 1p <<<"$output")" = "644 root 44" ] # /usr/local/$LIB/noselfconn/libnoselfconn.so
	grep -qx gone <<<"$output"
}

# bats test_tags=no-sanitizer
@test "replaced by rename, never rewritten: a reader of the old file keeps it whole" {
	in_host_ns '
		printf "# before\n" > /etc/ld.so.preload
		exec 3</etc/ld.so.preload
		before=$(stat -c %i /etc/ld.so.preload)
		"$NSC" --enable-host
		[ "$(stat -c %i /etc/ld.so.preload)" != "$before" ] && echo new inode
		cat <&3
		ls -A /etc | grep -c "^\.ld\.so\.preload\." || true'
	[ "$status" -eq 0 ]
	grep -qx "new inode" <<<"$output"
	grep -qx "# before" <<<"$output"
	[ "$(tail -n 1 <<<"$output")" = 0 ] # no temporary file left
}

# bats test_tags=no-sanitizer
@test "refuses, changing nothing, where the library does not load: truncated (SIGBUS), missing, another architecture" {
	# The control: a truncated library named there kills every new process.
	in_host_ns '
		head -c 3000 "/usr/local/'"$LIB_SUBDIR"'/libnoselfconn.so" > /tmp/truncated.so
		cp /tmp/truncated.so "/usr/local/'"$LIB_SUBDIR"'/libnoselfconn.so"
		echo "$LIBRARY" > /etc/ld.so.preload
		/bin/true; echo "true: $?"
		rm /etc/ld.so.preload'
	grep -qx "true: 135" <<<"$output" # 128 + SIGBUS
	# --enable-host finds it first, and writes nothing.
	in_host_ns '
		head -c 3000 "/usr/local/'"$LIB_SUBDIR"'/libnoselfconn.so" > /tmp/truncated.so
		cp /tmp/truncated.so "/usr/local/'"$LIB_SUBDIR"'/libnoselfconn.so"
		printf "# untouched\n" > /etc/ld.so.preload
		"$NSC" --enable-host; echo "status $?"
		cat /etc/ld.so.preload'
	grep -qx "status 125" <<<"$output"
	grep -qx "# untouched" <<<"$output"
	[[ "$stderr" == *"x86-64 (/lib64/ld-linux-x86-64.so.2) cannot load it: "* ]]
	[[ "$stderr" == *"/etc/ld.so.preload not changed"* ]]
	# Missing.
	in_host_ns '
		rm "/usr/local/'"$LIB_SUBDIR"'/libnoselfconn.so"
		"$NSC" --enable-host; echo "status $?"
		[ ! -e /etc/ld.so.preload ] && echo "still absent"'
	grep -qx "status 125" <<<"$output"
	grep -qx "still absent" <<<"$output"
	[[ "$stderr" == *"cannot be preloaded (cannot open shared object file)"* ]]
	# A 32-bit loader here and no 32-bit library: every 32-bit program would
	# print an error at start (where this host runs 32-bit programs).
	if [ -e /lib/ld-linux.so.2 ] && [ ! -e "$BUILD/lib32/noselfconn/libnoselfconn.so" ]; then
		HIDE_LOADERS=0 in_host_ns '"$NSC" --enable-host; echo "status $?"'
		grep -qx "status 125" <<<"$output"
		[[ "$stderr" == *"i386 (/lib/ld-linux.so.2) cannot load it"* ]]
	fi
}

# Both i386 loaders Debian has (tests/deps.sh installs them): multiarch
# libc6:i386's, /lib/ld-linux.so.2 ($LIB is lib/i386-linux-gnu), and
# libc6-i386's, /lib32/ld-linux.so.2 ($LIB is lib32).
# bats test_tags=no-sanitizer
@test "both i386 loaders here: --enable-host asks each, each loads its own library; without either one it refuses" {
	[ "$(readlink -f /lib/ld-linux.so.2)" = "$(readlink -f /lib/i386-linux-gnu/ld-linux.so.2)" ] &&
		[ -e /lib32/ld-linux.so.2 ] && [ -e "$BUILD/lib32/noselfconn/libnoselfconn.so" ] || {
		echo "both i386 loaders and the i386 build needed: tests/deps.sh installs libc6:i386 and gcc-multilib" >&2
		return 1
	}
	# The control: either i386 library missing, every program of that
	# loader would print an error at start; nothing is written.
	local arch
	for arch in lib/i386-linux-gnu lib32; do
		in_host_ns '
			rm "/usr/local/'"$arch"'/noselfconn/libnoselfconn.so"
			"$NSC" --enable-host; echo "status $?"
			grep -qs noselfconn /etc/ld.so.preload || echo "not named"'
		grep -qx "status 125" <<<"$output"
		grep -qx "not named" <<<"$output"
		if [ "$arch" = lib32 ]; then
			[[ "$stderr" == *"i386 (/lib32/ld-linux.so.2) cannot load it: "* ]]
			[[ "$stderr" == *"i386 (/lib/ld-linux.so.2) loads /usr/local/lib/i386-linux-gnu/noselfconn/libnoselfconn.so"* ]]
		else
			[[ "$stderr" == *"i386 (/lib/ld-linux.so.2) cannot load it: "* ]]
			[[ "$stderr" == *"i386 (/lib32/ld-linux.so.2) loads /usr/local/lib32/noselfconn/libnoselfconn.so"* ]]
		fi
	done
	# Both there: every loader loads its own, the line goes in, and a new
	# program of each kind maps its own library and prints nothing.
	in_host_ns '
		"$NSC" --enable-host; echo "status $?"
		for dial in "$1" "$2" "$3"; do
			"$dial" -n 1 127.0.0.2 1 >/dev/null
			env LD_TRACE_LOADED_OBJECTS=1 "$dial" | sed -n "s|.* => \(/usr/local/[^ ]*\) .*|\1|p"
		done
		"$NSC" --disable-host' "$DIAL" "$BUILD/tests/dial-i386" "$BUILD/tests/dial-lib32"
	grep -qx "status 0" <<<"$output"
	[[ "$stderr" == *"noselfconn: i386 (/lib/ld-linux.so.2) loads /usr/local/lib/i386-linux-gnu/noselfconn/libnoselfconn.so"* ]]
	[[ "$stderr" == *"noselfconn: i386 (/lib32/ld-linux.so.2) loads /usr/local/lib32/noselfconn/libnoselfconn.so"* ]]
	[[ "$stderr" == *"noselfconn: x86-64 (/lib64/ld-linux-x86-64.so.2) loads /usr/local/$LIB_SUBDIR/libnoselfconn.so"* ]]
	[[ "$stderr" == *"noselfconn: added /usr/local/\$LIB/noselfconn/libnoselfconn.so to /etc/ld.so.preload"* ]]
	[ "$(grep '^/usr/local/' <<<"$output")" = "$(printf '%s\n' "/usr/local/$LIB_SUBDIR/libnoselfconn.so" \
		/usr/local/lib/i386-linux-gnu/noselfconn/libnoselfconn.so /usr/local/lib32/noselfconn/libnoselfconn.so)" ]
	[ -z "$(grep -v '^noselfconn: ' <<<"$stderr")" ]
}

# bats test_tags=no-sanitizer
@test "another libnoselfconn.so named already: not added twice, not taken out" {
	in_host_ns '
		mkdir -p /usr/local/old
		cp "'"$BUILD/tests/empty.so"'" /usr/local/old/libnoselfconn.so
		echo /usr/local/old/libnoselfconn.so > /etc/ld.so.preload
		"$NSC" --enable-host; echo "enable $?"
		"$NSC" --disable-host; echo "disable $?"
		cat /etc/ld.so.preload'
	grep -qx "enable 125" <<<"$output"
	grep -qx "disable 125" <<<"$output"
	[ "$(tail -n 1 <<<"$output")" = /usr/local/old/libnoselfconn.so ]
	[[ "$stderr" == *"already names /usr/local/old/libnoselfconn.so: take it out first"* ]]
	[[ "$stderr" == *"names /usr/local/old/libnoselfconn.so, not /usr/local/\$LIB/noselfconn/libnoselfconn.so: edit it by hand"* ]]
}

# bats test_tags=no-sanitizer
@test "an entry of /etc/ld.so.preload is printed escaped: no terminal sequence reaches the terminal" {
	in_host_ns '
		dir=$(printf "/usr/local/x\033]0;owned\007")
		mkdir -p "$dir"
		cp "'"$BUILD/tests/empty.so"'" "$dir/libnoselfconn.so"
		echo "$dir/libnoselfconn.so" > /etc/ld.so.preload
		"$NSC" --enable-host; echo "enable $?"'
	grep -qx "enable 125" <<<"$output"
	[[ "$stderr" == *'already names /usr/local/x\x1b]0;owned\x07/libnoselfconn.so: take it out first'* ]]
	! grep -q $'\e' <<<"$stderr"
}

@test "not root: refuses with one line, changes nothing" {
	local readable
	readable=$(readable_copy "$WRAPPER")
	in_host_ns '
		setpriv --reuid=65534 --regid=65534 --clear-groups "$1" --enable-host; echo "status $?"
		[ ! -e /etc/ld.so.preload ] && echo "still absent"' "$readable/noselfconn"
	grep -qx "status 125" <<<"$output"
	grep -qx "still absent" <<<"$output"
	[[ "$stderr" == *"noselfconn: cannot write in /etc: Permission denied (run as root)"* ]]
}

# mapped_like PID FILE: the library PID has mapped holds, at its start,
# the bytes of FILE (read through /proc/PID/map_files: what it runs).
mapped_like() {
	local range
	range=$(grep -m1 'libnoselfconn.so' "/proc/$1/maps" | awk '{print $1}')
	cmp -s -n 4096 "/proc/$1/map_files/$range" "$2"
}

@test "make install replaces the library by rename: a process that maps the old one keeps it intact" {
	local prefix="$BATS_TEST_TMPDIR/prefix" build="$BATS_TEST_TMPDIR/build"
	make -C "$ROOT" -s install PREFIX="$prefix" BUILD="$build" >/dev/null
	local installed="$prefix/$LIB_SUBDIR/libnoselfconn.so" old="$BATS_TEST_TMPDIR/old.so"
	cp "$installed" "$old"
	# Another library, from other flags: a change under a mapping shows.
	make -C "$ROOT" -s BUILD="$BATS_TEST_TMPDIR/other" CFLAGS="-O1" "$BATS_TEST_TMPDIR/other/libnoselfconn.so" >/dev/null
	run cmp -s "$old" "$BATS_TEST_TMPDIR/other/libnoselfconn.so"
	[ "$status" -ne 0 ]

	# The control: written in place, the running process's pages change.
	LD_PRELOAD="$installed" sleep 1000 &
	local running=$!
	mapped_like "$running" "$old"
	cat "$BATS_TEST_TMPDIR/other/libnoselfconn.so" > "$installed"
	run mapped_like "$running" "$old"
	[ "$status" -ne 0 ]
	kill "$running"
	wait "$running" || true

	# make install: a new file renamed over the old; the old one untouched.
	make -C "$ROOT" -s install PREFIX="$prefix" BUILD="$build" >/dev/null
	cmp "$installed" "$old"
	LD_PRELOAD="$installed" sleep 1000 &
	running=$!
	local inode
	inode=$(stat -c %i "$installed")
	make -C "$ROOT" -s install PREFIX="$prefix" BUILD="$BATS_TEST_TMPDIR/other" >/dev/null
	[ "$(stat -c %i "$installed")" != "$inode" ]
	kill -0 "$running"
	mapped_like "$running" "$old"
	# A new process maps the new one.
	LD_PRELOAD="$installed" cat /proc/self/maps | grep -q " $(stat -c %i "$installed") .*libnoselfconn.so"
	kill "$running"
	wait "$running" || true
	[ -z "$(find "$prefix" -name '.*.new')" ]
}

@test "make uninstall refuses while /etc/ld.so.preload names the library" {
	local dest="$BATS_TEST_TMPDIR/dest"
	make -C "$ROOT" -s install DESTDIR="$dest" >/dev/null
	mkdir -p "$dest/etc"
	echo "/usr/local/\$LIB/noselfconn/libnoselfconn.so" > "$dest/etc/ld.so.preload"
	run make -C "$ROOT" -s uninstall DESTDIR="$dest"
	[ "$status" -ne 0 ]
	[[ "$output" == *"noselfconn: $dest/etc/ld.so.preload names the library: run 'noselfconn --disable-host' first"* ]]
	[ -f "$dest/usr/local/$LIB_SUBDIR/libnoselfconn.so" ]
	[ -f "$dest/usr/local/bin/noselfconn" ]
	# The literal path too, with the 64-bit directory in it.
	echo "/usr/local/$LIB_SUBDIR/libnoselfconn.so" > "$dest/etc/ld.so.preload"
	run make -C "$ROOT" -s uninstall DESTDIR="$dest"
	[ "$status" -ne 0 ]
	# Taken out: uninstalled.
	echo "/opt/other.so" > "$dest/etc/ld.so.preload"
	make -C "$ROOT" -s uninstall DESTDIR="$dest"
	[ "$(find "$dest" -type f)" = "$dest/etc/ld.so.preload" ]
}

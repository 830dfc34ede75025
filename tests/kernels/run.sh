#!/usr/bin/env bash
# make test-kernels: boot Debian's cloud kernels under qemu (TCG, no KVM
# needed) with an initramfs of busybox, this build and the test clients, run
# the case table tests/kernels/cases in each (tests/kernels/init.sh is PID 1),
# and print the results as TAP lines. Exits non-zero on any failure, or when
# a VM does not finish.
#   tests/kernels/run.sh BUILD-DIR
# Kernel packages are fetched with apt-get download into BUILD-DIR/kernels
# (never installed); each run's results go to BUILD-DIR/kernels/*.results,
# from which tests/kernels/table.sh writes the table of shim/doc/testing.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "${1:?usage: $0 BUILD-DIR}" && pwd)"
work="$build/kernels"
mkdir -p "$work"

# The Debian series tested, as package-name patterns; the newest of each wins.
SERIES=(
	'linux-image-6\.1\.0-[0-9]+-cloud-amd64-unsigned'
	'linux-image-6\.12\.[0-9]+\+deb12-cloud-amd64-unsigned'
)
VM_SECONDS="${NSC_VM_SECONDS:-900}"   # a VM that has not powered off by then fails

newest_package() {
	apt-cache pkgnames linux-image- | grep -E "^$1\$" | sort -V | tail -n 1
}

# fetch_kernel PATTERN: the path of the newest package's vmlinuz.
fetch_kernel() {
	local package
	package="$(newest_package "$1")"
	if [ -z "$package" ]; then
		apt-get update -qq >&2
		package="$(newest_package "$1")"
	fi
	[ -n "$package" ] || { echo "kernels: no package matches $1" >&2; return 1; }
	local dir="$work/$package"
	if [ ! -d "$dir/boot" ]; then
		rm -rf "$dir" && mkdir -p "$dir"
		(cd "$dir" && apt-get download -q=2 -o APT::Sandbox::User=root "$package" >&2)
		# Only the kernel image: what the cases need is built in, no module.
		dpkg-deb --fsys-tarfile "$dir"/*.deb | tar -x -C "$dir" --wildcards './boot/vmlinuz-*'
		rm -f "$dir"/*.deb
	fi
	echo "$dir"/boot/vmlinuz-*
}

# The initramfs: busybox, the build, the clients, their shared libraries.
make_initramfs() {
	local root="$work/initramfs" file lib
	rm -rf "$root"
	mkdir -p "$root"/{bin,proc,sys,dev,tmp,nsc/tests}
	cp "$(command -v busybox)" "$root/bin/busybox"
	for applet in $(busybox --list); do
		[ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
	done
	cp "$build/libnoselfconn.so" "$build/noselfconn" "$root/nsc/"
	cp "$build/tests/dial" "$build/tests/dial-static" "$build/tests/kfeatures" "$build/tests/oldkernel" \
		"$build/tests/uring" "$build/tests/neighbour" "$root/nsc/tests/"
	cp "$(command -v strace)" "$root/bin/strace"
	cp "$here/init.sh" "$root/init"
	cp "$here/cases" "$root/nsc/cases"
	for file in "$root"/nsc/*.so "$root/nsc/noselfconn" "$root"/nsc/tests/* "$root/bin/strace"; do
		# (ldd says "not a dynamic executable" for the static client)
		for lib in $(ldd "$file" 2>/dev/null | grep -oE '/[^ ]+' || true); do
			mkdir -p "$root$(dirname "$lib")"
			cp -L "$lib" "$root$lib"
		done
	done
	(cd "$root" && find . | busybox cpio -o -H newc 2>/dev/null) | gzip -1 > "$work/initramfs.gz"
}

# boot NAME VMLINUZ: run the VM, its console into $work/NAME.console.
boot() {
	timeout "$VM_SECONDS" qemu-system-x86_64 -accel tcg -cpu max -m 512 -smp 1 \
		-display none -monitor none -no-reboot -serial "file:$work/$1.console" \
		-kernel "$2" -initrd "$work/initramfs.gz" \
		-append "console=ttyS0 quiet panic=-1 rdinit=/init" || true
}

make_initramfs
names=() kernels=()
for pattern in "${SERIES[@]}"; do
	kernel="$(fetch_kernel "$pattern")"
	kernels+=("$kernel")
	names+=("$(basename "$(dirname "$(dirname "$kernel")")")")
done

# The VMs run side by side, one virtual CPU each.
start=$SECONDS
pids=()
for i in "${!kernels[@]}"; do
	( vm_start=$SECONDS; boot "${names[i]}" "${kernels[i]}"
	  echo "$((SECONDS - vm_start))" > "$work/${names[i]}.seconds" ) &
	pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done

# Read each console: NSC lines only, renumbered into one TAP stream.
n=0 failed=0
for name in "${names[@]}"; do
	console="$work/$name.console" results="$work/$name.results"
	tr -d '\r' < "$console" | sed -n 's/^NSC: //p' > "$results"
	echo "wall $(cat "$work/$name.seconds")" >> "$results"
	kernel="$(sed -n 's/^kernel //p' "$results")"
	echo "# $name: kernel ${kernel:-?}, booted in $(sed -n 's/^boot //p' "$results")s, features: $(sed -n 's/^features //p' "$results")"
	while read -r line; do
		case "$line" in
		"ok "*) n=$((n + 1)); echo "ok $n ${kernel}: ${line#ok }" ;;
		"not ok "*) n=$((n + 1)) failed=$((failed + 1)); echo "not ok $n ${kernel}: ${line#not ok }" ;;
		"left out "*) echo "# ${kernel}: left out: ${line#left out }" ;;
		esac
	done < "$results"
	if ! grep -q '^done ' "$results"; then
		n=$((n + 1)) failed=$((failed + 1))
		echo "not ok $n $name: the VM did not finish; its console, last lines:"
		tail -n 20 "$console" | sed 's/^/#   /'
	fi
done
echo "# kernels: $n results, $failed failed, $((SECONDS - start))s"
[ "$n" -gt 0 ] && [ "$failed" -eq 0 ]

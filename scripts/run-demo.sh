#!/bin/sh
# run-demo.sh: boot a demo guest that shows what smolvm does (make run, make run-disk).
#
# Usage: scripts/run-demo.sh [--disk] [SMOLVM-OPTION]...   (extra options go to smolvm)
#   --disk               also attach build/demo/disk.img (ext4, made on first use) as vda,
#                        mounted at /disk in the guest: its files stay across boots
#   SMOLVM_DEMO_CONSOLE  the guest's console device (default ttyS0)
# The guest is the test guest (tests/guest/build-guest.sh) with /demo.sh appended: before its
# prompt it brings eth0 up by DHCP from smolvm's user network, mounts the current directory
# (shared with -share) at /host and greets with what to try. A small web server on this
# machine's loopback answers at the guest's gateway, 192.168.64.1. The smolvm command line is
# printed, to copy and vary.
# Runs directly on /dev/kvm where it can boot Linux, else inside the nested KVM machine.
# Ctrl-A x quits, Ctrl-A h lists the other keys; poweroff or exit in the guest ends it.
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
demo=build/demo # in the repository, which the nested machine shares read-write

# A command line as a user would type it: words quoted only where the shell needs it.
show() {
	for w in "$@"; do
		case $w in
		"" | *[!A-Za-z0-9_./=,:+@%-]*) printf " '%s'" "$(printf '%s' "$w" | sed "s/'/'\\\\''/g")" ;;
		*) printf ' %s' "$w" ;;
		esac
	done | cut -c2-
}

# The guest's additions, appended to its initramfs as an uncompressed cpio archive.
write_demo_files() { # DIR PORT SHARE DISK
	mkdir -p "$1/etc"
	{
		echo "# /demo.sh: sourced by /init before the shell (scripts/run-demo.sh wrote it)."
		echo "port=$2 share='$(printf '%s' "$3" | sed "s/'/'\\\\''/g")' disk=${4:+yes}"
		cat <<'EOF'
mkdir -p /run /host
ip link set eth0 up
if udhcpc -i eth0 -q -n -t 5 -T 2 >/dev/null 2>&1; then
	net="$(cat /run/lease) (DHCP from smolvm's user network)"
else
	net="no DHCP lease (is the guest started with -net none?)"
fi
if mount -t virtiofs host /host 2>/dev/null; then
	host="$share on the host, shared read-write (-share host ..., virtio-fs)"
else
	host="not mounted: no virtio-fs share tagged host"
fi
echo
echo "smolvm demo:"
echo "  eth0   $net"
echo "  /host  $host"
if [ -n "$disk" ]; then
	mkdir -p /disk
	if mount -t ext4 /dev/vda /disk 2>/dev/null; then
		echo "boot $(($(wc -l </disk/boots.txt 2>/dev/null || echo 0) + 1)): $(date)" >>/disk/boots.txt
		sync
		echo "  /disk  build/demo/disk.img on the host, an ext4 disk (vda, -drive) that keeps its files"
	else
		echo "  /disk  not mounted: no ext4 disk on /dev/vda"
	fi
fi
echo "Try:"
try() { printf '  %-38s %s\n' "$1" "$2"; }
try "wget -qO- http://192.168.64.1:$port/" "a page from a web server on the host's loopback"
if [ -n "$disk" ]; then
	try "cat /disk/boots.txt" "a line per boot: make run-disk again adds one"
else
	try "ls /host" "the shared folder; what you write there appears on the host"
fi
try poweroff "shut the guest down and leave (Ctrl-A x quits at once)"
unset -f try
echo
cd /
EOF
	} >"$1/demo.sh"
}

# Serves a page on the loopback at the first free port from 8080: sets port and web_pid.
start_web_server() { # DIR
	mkdir -p "$1"
	cat >"$1/index.html" <<'EOF'
Hello from the host! smolvm's user network (libslirp) took this request from the guest's
gateway address, 192.168.64.1, to a web server on the host's loopback (127.0.0.1).
EOF
	port=8080
	while [ "$port" -lt 8100 ]; do
		busybox httpd -f -p "127.0.0.1:$port" -h "$1" >/dev/null 2>&1 &
		web_pid=$!
		sleep 0.2
		! kill -0 "$web_pid" 2>/dev/null || return 0
		web_pid=""
		port=$((port + 1))
	done
	return 1
}

# Where smolvm runs (here, or inside the nested machine): the web server, the guest's
# initramfs with /demo.sh, the command line, smolvm.
launch() { # NESTED GUEST SHARE DISK [SMOLVM-OPTION]...
	nested=$1 guest=$2 share=$3 disk=$4
	shift 4
	web_pid=""
	trap '[ -z "$web_pid" ] || kill "$web_pid" 2>/dev/null' EXIT
	start_web_server "$demo/www" || { echo "run-demo: no free port for a web server" >&2; exit 1; }
	rm -rf "$demo/root"
	mkdir -p "$demo/root"
	write_demo_files "$demo/root" "$port" "$share" "$disk"
	cp "$guest/initramfs.gz" "$demo/initramfs.gz"
	# The kernel unpacks concatenated archives; an uncompressed one starts 4-byte aligned.
	size=$(wc -c <"$demo/initramfs.gz")
	head -c $(((4 - size % 4) % 4)) /dev/zero >>"$demo/initramfs.gz"
	(cd "$demo/root" && find . | cpio -o -H newc -R 0:0 --quiet) >>"$demo/initramfs.gz"

	console=${SMOLVM_DEMO_CONSOLE:-ttyS0}
	set -- -kernel "$guest/bzImage" -initramfs "$demo/initramfs.gz" \
		-append "console=$console quiet" -m 512M -smp 2 -share host "$share" \
		${disk:+-drive "file=$disk"} "$@"
	# A console demo: no window (the cloud kernel has no display driver) unless asked for.
	case " $* " in *" -display "*) ;; *) set -- "$@" -nographic ;; esac
	echo "run-demo: smolvm's command line (copy it, vary it):" >&2
	if [ "$nested" = yes ]; then
		echo "  scripts/nested-kvm.sh -i -- $(show ./smolvm "$@")" >&2
	else
		echo "  $(show ./smolvm "$@")" >&2
	fi
	status=0
	./smolvm "$@" || status=$?
	exit "$status"
}

if [ "${1:-}" = --launch ]; then
	shift
	cd "$repo"
	launch "$@"
fi

disk=""
if [ "${1:-}" = --disk ]; then
	disk=$demo/disk.img
	shift
fi
share=$PWD
cd "$repo"
guest=$(tests/guest/build-guest.sh)
make -s smolvm
mkdir -p "$demo"
if [ -n "$disk" ] && [ ! -e "$disk" ]; then
	truncate -s 256M "$disk.tmp"
	mkfs.ext4 -q -F -L smolvm-demo "$disk.tmp"
	mv "$disk.tmp" "$disk"
	echo "run-demo: made $disk, an empty ext4 disk image (make clean removes it)" >&2
fi

if grep -qwE 'vmx|svm' /proc/cpuinfo && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
	echo "run-demo: booting the demo guest; Ctrl-A x quits" >&2
	launch no "$guest" "$share" "$disk" "$@"
fi
echo "run-demo: /dev/kvm here cannot boot Linux (no vmx/svm); booting inside the nested KVM machine (slower); Ctrl-A x quits" >&2
set -- --launch yes "$guest" "$share" "$disk" "$@"
case $guest in /tmp/* | /run/* | /dev/shm/*) set -- -w "$guest" -- scripts/run-demo.sh "$@" ;; *) set -- -- scripts/run-demo.sh "$@" ;; esac
case $share in "$repo" | "$repo"/*) ;; *) set -- -w "$share" "$@" ;; esac
# Debian's own QEMU as the outer machine, unless asked otherwise: a first demo should not wait
# 7 minutes for the patched build the tests use (whose races matter over hundreds of boots).
SMOLVM_NESTED_QEMU=${SMOLVM_NESTED_QEMU:-debian} exec scripts/nested-kvm.sh -i -t 86400 "$@"

#!/bin/bash
# nested-kvm.sh: run one command inside a machine whose /dev/kvm is a real KVM.
#
# Why: on our machines /dev/kvm is PVM, which emulates guest ring-0 code about 1000x slower
# than native and fails on some instructions, so a Linux guest cannot boot on it. QEMU's
# software emulation (TCG) emulates AMD SVM, so Debian's stock kernel booted under TCG loads
# kvm_amd and offers a real /dev/kvm. The host's root is shared read-only over 9p, so the
# command sees the host's programs, libraries and files, as root.
#
# Usage: nested-kvm.sh [-w DIR]... [-e NAME]... [-t SECONDS] [-i] -- COMMAND [ARG]...
#   -w DIR   also share DIR read-write at the same path (repeatable; results go there);
#            the current directory is always shared read-write
#   -e NAME  pass the environment variable NAME in (PYTEST_ADDOPTS, CI, TERM, SMOLVM and
#            every SMOLVM_* and BENCH* variable always are)
#   -t SEC   stop the machine after SEC seconds (default 1200)
#   -i       interactive: the terminal reaches the command (Ctrl-C too), for a demo
#   SMOLVM_NESTED_QEMU  the outer QEMU: patched (the default) is Debian's QEMU rebuilt with
#            the fixes in scripts/nested-qemu/*.patch, for races in its emulation of SVM that
#            froze the machine and for EFI firmware under the inner KVM (scripts/nested-qemu/
#            build.sh, built once per machine, about 7 minutes); debian: Debian's own
#            qemu-system-x86_64; debian13: Debian 13's QEMU 10.0 from a cached root
#            (scripts/nested-qemu/debian13.sh). Passed in, so a test can check it.
#   SMOLVM_NESTED_CPUS=N  the machine's CPUs (default 1: with two, QEMU 7.2's multi-threaded
#            TCG can keep running a stale translation of code the nested kernel live-patches,
#            and the machine freezes; scripts/kvm-churn.py shows it, tests/integration/README.md)
#   SMOLVM_NESTED_TCG_THREAD  multi (default): a host thread per CPU; single: one thread
#            runs them in turn
# Exit status: the command's, 124 on timeout, 125 if the machine broke, 128+N on signal N.
#   SMOLVM_NESTED_BOOT_TIMEOUT  seconds the machine has to come up (default 180; it takes 7)
# A broken machine ends fast: its kernel panics on a soft lockup, a hung task or an RCU stall
# (the failures TCG's emulation of SVM has shown) and powers off, and this script then prints
# the last lines of its console.
#
# Inside: /tmp, /run and /dev/shm are fresh tmpfs; HOME=/tmp; the command's stdin is
# /dev/null unless -i; lo is up; tun, veth, bridge and loop are loaded (TAP and netns tests).
# Needs (Debian): qemu-system-x86 busybox-static cpio kmod apt (scripts/deps.sh installs them).
# The kernel and its initramfs are cached in ${XDG_CACHE_HOME:-$HOME/.cache}/smolvm/nested.
set -euo pipefail
# All in braces: bash reads the whole script before running it, so editing it while a
# machine runs (a long test suite) cannot change what the running copy does next.
{
mem_mb=6144
cpus=${SMOLVM_NESTED_CPUS:-1}
tcg_thread=${SMOLVM_NESTED_TCG_THREAD:-multi}
# Loaded in this order inside, each after the modules it depends on.
modules="virtio_pci 9pnet_virtio 9p kvm_amd tun veth bridge loop"

die() {
	echo "nested-kvm: $*" >&2
	exit 125
}
usage() {
	echo "usage: $0 [-w DIR]... [-e NAME]... [-t SEC] [-i] -- COMMAND [ARG]..." >&2
	exit 2
}

timeout_s=1200
boot_timeout=${SMOLVM_NESTED_BOOT_TIMEOUT:-180}
writable=()
pass=()
interactive=""
while [ $# -gt 0 ]; do
	case "$1" in
	-w)
		[ $# -ge 2 ] || usage
		d=$(cd "$2" 2>/dev/null && pwd) || die "no directory $2"
		writable+=("$d")
		shift 2
		;;
	-e) [ $# -ge 2 ] || usage; pass+=("$2"); shift 2 ;;
	-t) [ $# -ge 2 ] || usage; timeout_s=$2; shift 2 ;;
	-i) interactive=1; shift ;;
	--) shift; break ;;
	-*) usage ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || usage
command -v qemu-system-x86_64 >/dev/null || die "no qemu-system-x86_64: run scripts/deps.sh"
qemu="qemu-system-x86_64"
case ${SMOLVM_NESTED_QEMU:=patched} in
debian) ;;
patched)
	qemu=$("$(dirname "$0")/nested-qemu/build.sh") ||
		{ echo "nested-kvm: no patched QEMU (scripts/nested-qemu/build.sh failed)" >&2; exit 1; }
	;;
debian13)
	qemu=$("$(dirname "$0")/nested-qemu/debian13.sh") ||
		{ echo "nested-kvm: no Debian 13 QEMU (scripts/nested-qemu/debian13.sh failed)" >&2; exit 1; }
	;;
*) echo "nested-kvm: SMOLVM_NESTED_QEMU=$SMOLVM_NESTED_QEMU: use debian, debian13 or patched" >&2; exit 2 ;;
esac
export SMOLVM_NESTED_QEMU
# Inside, /tmp is a fresh tmpfs: a working directory there would vanish unless shared.
[ "$PWD" = / ] || writable+=("$PWD")

cache="${XDG_CACHE_HOME:-$HOME/.cache}/smolvm/nested"

# 1. Debian's stock kernel (it has kvm_amd, 9p, tun, veth) and an initramfs, built once.
kernel_package() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }'
}
download() { (cd "$2" && apt-get download "$1" busybox-static >download.log 2>&1); }
build_machine() {
	local kpkg kver work root m f b deps
	work=$(mktemp -d "$cache/tmp.XXXXXX")
	# shellcheck disable=SC2064 # expand $work now
	trap "rm -rf '$work'" EXIT
	# The packages stay in the cache: a new init needs no new download.
	if ! ls "$cache"/linux-image-*.deb "$cache"/busybox-static_*.deb >/dev/null 2>&1; then
		kpkg=$(kernel_package)
		# Missing or stale apt lists (a fresh machine): as root, refresh them once.
		if [ -z "$kpkg" ] && [ "$(id -u)" = 0 ]; then
			apt-get update -qq >/dev/null 2>&1 || true
			kpkg=$(kernel_package)
		fi
		[ -n "$kpkg" ] || die "apt-cache knows no linux-image-amd64: run apt-get update first"
		echo "nested-kvm: downloading $kpkg into $cache" >&2
		rm -f "$cache"/*.deb
		if ! download "$kpkg" "$work"; then
			if [ "$(id -u)" = 0 ]; then
				apt-get update -qq >/dev/null 2>&1 || true
				kpkg=$(kernel_package)
			fi
			download "$kpkg" "$work" ||
				{ cat "$work/download.log" >&2; die "apt-get download $kpkg busybox-static failed"; }
		fi
		mv "$work"/*.deb "$cache/"
	fi
	mkdir "$work/pkg"
	for f in "$cache"/linux-image-*.deb "$cache"/busybox-static_*.deb; do
		dpkg-deb -x "$f" "$work/pkg"
	done
	kver=$(ls "$work/pkg/lib/modules")
	depmod -b "$work/pkg" "$kver"

	root="$work/root"
	mkdir -p "$root"/{bin,dev,proc,sys,host,ctl,mods}
	cp "$work/pkg/bin/busybox" "$root/bin/busybox"
	: >"$root/mods/order"
	for m in $modules; do
		deps=$(modprobe -d "$work/pkg" -S "$kver" --show-depends "$m") || die "$kpkg: no module $m"
		for f in $(echo "$deps" | awk '$1 == "insmod" { print $2 }'); do
			b=$(basename "$f")
			b=${b%.xz}
			[ ! -e "$root/mods/$b" ] || continue
			case $f in *.xz) xz -dc "$f" ;; *) cat "$f" ;; esac >"$root/mods/$b"
			echo "$b" >>"$root/mods/order"
		done
	done
	write_init >"$root/init"
	chmod 755 "$root/init"
	(cd "$root" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1) >"$work/initrd.gz"
	cp "$work/pkg/boot/vmlinuz-$kver" "$work/vmlinuz"
	mv "$work/vmlinuz" "$work/initrd.gz" "$cache/"
	echo "$stamp" >"$cache/stamp"
	rm -rf "$work"
	trap - EXIT
}

# The machine's /init. The command, its shares and its options come from the "ctl" share:
# ctl/shares holds "TAG PATH" lines, ctl/run-me the script run in the host's root, ctl/rc
# receives its exit status.
write_init() {
	cat <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
exec </dev/console >/dev/console 2>&1
for m in $(cat /mods/order); do
	insmod /mods/$m || echo "nested-kvm: insmod $m failed"
done
ip link set lo up
# Only emergencies on the console from here: KVM's notes on the guest's MSRs would otherwise
# land in the middle of the command's output.
dmesg -n 1
o=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o $o,ro,cache=loose hostroot /host || echo "nested-kvm: no host root"
mount -t 9p -o $o ctl /ctl || echo "nested-kvm: no ctl share"
: >/ctl/up # the host's watchdog waits for this, then for the heartbeat
(while :; do : >/ctl/alive; sleep 10; done) &
mount -t proc proc /host/proc
mount -t sysfs sys /host/sys
mount -t devtmpfs dev /host/dev
mkdir -p /host/dev/pts /host/dev/shm
mount -t devpts -o ptmxmode=0666 devpts /host/dev/pts
mount -t tmpfs shm /host/dev/shm
mount -t tmpfs -o mode=1777 tmp /host/tmp
mount -t tmpfs -o mode=755 run /host/run
sort -k2 /ctl/shares | while read -r tag dir; do
	mkdir -p "/host$dir" 2>/dev/null
	mount -t 9p -o $o "$tag" "/host$dir" || echo "nested-kvm: cannot share $dir"
done
mkdir /host/run/nested-kvm
mount -o bind /ctl /host/run/nested-kvm
if grep -q ' nk.i=1' /proc/cmdline; then
	# A controlling terminal (the console), so a program inside sees a tty and Ctrl-C works.
	setsid cttyhack chroot /host /bin/sh /run/nested-kvm/run-me
else
	stty -onlcr
	chroot /host /bin/sh /run/nested-kvm/run-me </dev/null
fi
echo $? >/ctl/rc.tmp && mv /ctl/rc.tmp /ctl/rc
# Not even "reboot: Power down" (an emergency) after the command's output; a panic still
# prints (it raises the level).
echo 0 >/proc/sys/kernel/printk
sync
poweroff -f
EOF
}

mkdir -p "$cache"
(
	flock 9
	stamp="$modules $(write_init | sha256sum | cut -c1-16)"
	if [ ! -e "$cache/initrd.gz" ] || [ "$(cat "$cache/stamp" 2>/dev/null)" != "$stamp" ]; then
		build_machine
	fi
) 9>"$cache/lock"

# 2. The ctl share: the command line, in a script that runs in the host's root.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ctl="$tmp/ctl"
mkdir "$ctl"
quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
{
	echo "cd $(quote "$PWD") || exit 125"
	echo "export HOME=/tmp PYTHONDONTWRITEBYTECODE=1 LANG=C.UTF-8"
	echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for name in $(compgen -e); do
		case " ${pass[*]} " in *" $name "*) ;; *)
			case $name in SMOLVM | SMOLVM_* | BENCH | BENCH_* | PYTEST_ADDOPTS | CI | TERM) ;; *) continue ;; esac ;;
		esac
		echo "export $name=$(quote "${!name}")"
	done
	# Inside, stdout is always a terminal (the console): no colours unless ours is one too.
	[ -n "$interactive" ] || [ -t 1 ] || echo "export TERM=dumb"
	if [ -n "$interactive" ] && size=$(stty size 2>/dev/null); then
		echo "stty rows ${size% *} cols ${size#* } 2>/dev/null"
	fi
	printf 'exec'
	for a in "$@"; do printf ' %s' "$(quote "$a")"; done
	echo
} >"$ctl/run-me"

# shellcheck disable=SC2054 # commas inside QEMU options
args=(-accel tcg,thread=$tcg_thread -cpu EPYC -smp "$cpus" -m "$mem_mb" -nodefaults -display none
	-no-reboot -kernel "$cache/vmlinuz" -initrd "$cache/initrd.gz"
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
	-virtfs "local,path=$ctl,mount_tag=ctl,security_model=none"
	-monitor "unix:$tmp/monitor,server=on,wait=off")
: >"$ctl/shares"
i=0
for w in "${writable[@]}"; do
	case $w in *,*) die "cannot share $w: QEMU options cannot carry a comma in a path" ;; esac
	args+=(-virtfs "local,path=$w,mount_tag=rw$i,security_model=none,multidevs=remap")
	echo "rw$i $w" >>"$ctl/shares"
	i=$((i + 1))
done
# A machine that breaks must end within a minute or two, not hang until the timeout.
append="console=ttyS0 quiet panic=-1 softlockup_panic=1 hung_task_panic=1"
# A busy host slows TCG so much that the boot-time check of the IO-APIC timer can fail
# (a panic, "IO-APIC + timer doesn't work!"): skip it, as VMs usually do.
append+=" no_timer_check"
append+=" sysctl.kernel.panic_on_rcu_stall=1"
# Nothing in the machine sends NMIs; the freeze report's NMI panics it with a backtrace.
append+=" unknown_nmi_panic=1"

# 3. The machine. Its console is our stdout; the exit status comes back through ctl/rc.
if [ -n "$interactive" ]; then
	# --foreground: plain timeout runs QEMU in a background process group, which the first
	# terminal-mode change stops with SIGTTOU. signal=off lets Ctrl-C reach the guest.
	status=0
	timeout --foreground "$timeout_s" "$qemu" "${args[@]}" \
		-chardev stdio,id=s0,signal=off -serial chardev:s0 \
		-append "$append nk.i=1" 2>"$tmp/qemu.err" || status=$?
else
	timeout -k 10 "$timeout_s" "$qemu" "${args[@]}" \
		-chardev "stdio,id=s0,logfile=$tmp/console.log" -serial chardev:s0 \
		-append "$append" </dev/null 2>"$tmp/qemu.err" &
	pid=$!
	# What a frozen machine's CPUs were doing: each one's registers from QEMU's monitor,
	# then an NMI, which the nested kernel answers (unknown_nmi_panic) with a panic and the
	# backtrace of where it was, unless the CPU takes no interrupt at all (e.g. its GIF is
	# clear, a QEMU bug: scripts/nested-qemu/ignne-race.patch).
	freeze_report() {
		/usr/bin/python3 - "$tmp/monitor" <<'PY' >&2 || true
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
def ask(cmd, wait):
    s.sendall(cmd.encode() + b"\n")
    time.sleep(wait)
    out = b""
    try:
        while True:
            s.settimeout(1)
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        pass
    return out.decode(errors="replace")
ask("", 1)
for line in ask("info registers -a", 2).splitlines():
    if line.startswith(("CPU#", "RIP=", "EFL=", "RAX=", "CR0=")) or "HLT=" in line:
        print("nested-kvm: registers |", line.strip())
ask("nmi", 20)
PY
	}
	# A machine that never comes up, or freezes (TCG has frozen some silently, console and
	# all), is stopped: after boot_timeout s without ctl/up, or 90 s without the heartbeat
	# its init writes every 10 s, not after the command's whole timeout.
	(
		for ((s = 0; s < boot_timeout; s++)); do
			[ ! -e "$ctl/up" ] && kill -0 "$pid" 2>/dev/null || break
			sleep 1
		done
		if [ ! -e "$ctl/up" ]; then
			kill -0 "$pid" 2>/dev/null || exit 0
			echo "nested-kvm: the nested machine did not come up within $boot_timeout s" >&2
			kill -TERM "$pid" 2>/dev/null
			exit 0
		fi
		while kill -0 "$pid" 2>/dev/null; do
			sleep 5
			beat=$(stat -c %Y "$ctl/alive" 2>/dev/null || stat -c %Y "$ctl/up")
			if [ $(($(date +%s) - beat)) -gt 90 ]; then
				echo "nested-kvm: the nested machine froze: no heartbeat for 90 s" >&2
				freeze_report
				kill -TERM "$pid" 2>/dev/null
				exit 0
			fi
		done
	) &
	watchdog=$!
	# timeout runs in a process group of its own, so pass our signals on to it.
	signal=""
	trap 'signal=INT; kill -INT $pid 2>/dev/null' INT
	trap 'signal=TERM; kill -TERM $pid 2>/dev/null' TERM
	trap 'signal=HUP; kill -HUP $pid 2>/dev/null' HUP
	status=0
	while :; do
		wait "$pid" && status=0 || status=$?
		kill -0 "$pid" 2>/dev/null || break
	done
	kill "$watchdog" 2>/dev/null || true
	if [ -n "$signal" ]; then
		rm -rf "$tmp"
		trap - "$signal"
		kill -s "$signal" $$
	fi
fi
if [ -e "$ctl/rc" ]; then
	exit "$(cat "$ctl/rc")"
fi
last_lines() {
	[ -s "$tmp/console.log" ] || return 0
	echo "nested-kvm: the last lines of its console:" >&2
	tail -n 45 "$tmp/console.log" | sed 's/^/nested-kvm: | /' >&2
}
if [ "$status" = 124 ]; then
	echo "nested-kvm: timed out after $timeout_s s" >&2
	last_lines
	exit 124
fi
cat "$tmp/qemu.err" >&2
last_lines
die "the nested machine broke: it stopped before the command finished (qemu status $status)"
}

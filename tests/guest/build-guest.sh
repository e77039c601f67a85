#!/bin/bash
# build-guest.sh: build the test guests from Debian's packages, into a cache outside the repo.
#
# Usage: tests/guest/build-guest.sh        (prints the guest directory on stdout)
#   SMOLVM_GUEST_KERNEL  cloud (default): Debian's linux-image-cloud-amd64, small, no graphics;
#                        std: linux-image-amd64, whose modules include virtio_gpu (with the DRM
#                        helpers and fbdev emulation), virtio_input and evdev, for the display tests
#   SMOLVM_GUEST_DIR  where to put the cloud guest (default ${XDG_CACHE_HOME:-$HOME/.cache}/smolvm/guest)
#   SMOLVM_GUEST_STD_DIR  where to put the std guest (default .../smolvm/guest-std): a variable
#                     of its own, so building one kind never replaces the other
#
# Produces, from the current kernel package and busybox-static:
#   bzImage       Debian's vmlinuz as shipped (Linux boot protocol)
#   vmlinux       the ELF kernel inside bzImage's compressed payload (boots through its PVH note)
#   initramfs.gz  busybox + the virtio, ACPI button and evdev modules; /init starts acpid
#                 (power button: /etc/acpi/PWRF/00000080 = power-button.sh), runs /test.sh
#                 if present (then powers off), else an interactive shell on the console. Tests append /test.sh as an
#                 uncompressed cpio archive after this one.
#   version       the kernel release, for messages
# Runs again only when the kernel package, busybox or this script changed.
set -euo pipefail

# Loaded in this order by /init, each after the modules it depends on.
modules="virtio_pci virtio_console virtio_blk virtio_net virtio_rng virtiofs button evdev"
case ${SMOLVM_GUEST_KERNEL:=cloud} in
cloud)
	meta=linux-image-cloud-amd64
	out=${SMOLVM_GUEST_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/smolvm/guest}
	;;
std)
	meta=linux-image-amd64
	out=${SMOLVM_GUEST_STD_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/smolvm/guest-std}
	# The display and its input: the cloud kernel has none of these.
	modules="$modules virtio_gpu virtio_input"
	;;
*)
	echo "build-guest: SMOLVM_GUEST_KERNEL=$SMOLVM_GUEST_KERNEL: use cloud or std" >&2
	exit 2
	;;
esac

die() {
	echo "build-guest: $*" >&2
	exit 1
}

mkdir -p "$(dirname "$out")"
exec 9>"$out.lock"
flock 9

# One apt-cache call (each rebuilds apt's cache where that is disabled): the candidate
# versions of the packages; "(none)" means no apt lists yet.
versions=$(apt-cache policy $meta busybox-static 2>/dev/null |
	awk '/^[^ ]/ { p = $1 } $1 == "Candidate:" && $2 != "(none)" { printf "%s%s ", p, $2 }')
here=$(cd "$(dirname "$0")" && pwd)
stamp="$versions$(cat "$here/build-guest.sh" "$here/init" "$here/udhcpc.script" "$here/power-button.sh" \
	"$here/shutdown.sh" |
	sha256sum | cut -c1-16)"

if [ -e "$out/stamp" ] && [ -e "$out/initramfs.gz" ]; then
	if [ -z "$versions" ] || [ "$(cat "$out/stamp")" = "$stamp" ]; then
		echo "$out"
		exit 0
	fi
fi
# The metapackage depends on the current kernel package, named after the kernel's ABI.
kernel_package() {
	apt-cache depends $meta 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }'
}
# Missing or stale apt lists (a fresh machine): as root, refresh them once and retry.
apt_update() {
	[ "$(id -u)" = 0 ] || die "$1: run apt-get update (as root) first"
	echo "build-guest: $1; running apt-get update" >&2
	apt-get update -qq || die "apt-get update failed"
}
kpkg=$(kernel_package)
if [ -z "$kpkg" ]; then
	apt_update "apt-cache knows no $meta"
	kpkg=$(kernel_package)
	[ -n "$kpkg" ] || die "apt-cache knows no $meta"
fi

work=$(mktemp -d "$out.tmp.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "build-guest: building $out from $kpkg and busybox-static" >&2

# 1. The packages, unpacked.
download() { (cd "$work" && apt-get download "$kpkg" busybox-static >download.log 2>&1); }
if ! download; then
	apt_update "apt-get download $kpkg busybox-static failed"
	kpkg=$(kernel_package)
	download || { cat "$work/download.log" >&2; die "apt-get download $kpkg busybox-static failed"; }
fi
mkdir "$work/pkg"
for deb in "$work"/*.deb; do
	dpkg-deb -x "$deb" "$work/pkg"
done
kver=$(ls "$work/pkg/lib/modules")
[ -n "$kver" ] || die "$kpkg holds no /lib/modules"
mkdir "$work/guest"
echo "$kver" >"$work/guest/version"
cp "$work/pkg/boot/vmlinuz-$kver" "$work/guest/bzImage"

# 2. vmlinux: the setup header (Linux boot protocol, 2.08+) locates the compressed payload.
#    setup_sects (0x1f1, 0 means 4) sectors of real-mode setup follow the boot sector; the
#    payload starts payload_offset (0x248) bytes into the protected-mode part and is
#    payload_length (0x24c) bytes long, the last 4 of which hold the decompressed size.
header_u() { od -An -tu"$2" -j "$(($1))" -N"$2" "$work/guest/bzImage" | tr -d ' '; }
[ "$(od -An -c -j $((0x202)) -N4 "$work/guest/bzImage" | tr -d ' ')" = HdrS ] ||
	die "$kpkg: vmlinuz has no Linux setup header"
setup_sects=$(header_u 0x1f1 1)
[ "$setup_sects" != 0 ] || setup_sects=4
payload_offset=$(header_u 0x248 4)
payload_length=$(header_u 0x24c 4)
start=$(((setup_sects + 1) * 512 + payload_offset))
payload() {
	head -c $((start + payload_length - 4)) "$work/guest/bzImage" | tail -c $((payload_length - 4))
}
case $(od -An -tx1 -j "$start" -N4 "$work/guest/bzImage" | tr -d ' ') in
02214c18) payload | lz4 -dc >"$work/guest/vmlinux" ;;
fd377a58) payload | xz -dc >"$work/guest/vmlinux" ;;
1f8b*) payload | gzip -dc >"$work/guest/vmlinux" ;;
*) die "$kpkg: unknown compression of the bzImage payload" ;;
esac
[ "$(od -An -c -N4 "$work/guest/vmlinux" | tr -d ' ')" = 177ELF ] ||
	die "$kpkg: the bzImage payload is not an ELF kernel"
# XEN_ELFNOTE_PHYS32_ENTRY (18) is the PVH entry point; binutils 2.40 prints its number only.
readelf -n "$work/guest/vmlinux" | grep -Eq '^ *Xen .*(PHYS32_ENTRY|\(0x00000012\))' ||
	die "$kpkg: vmlinux has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)"

# 3. The initramfs: busybox, the modules with their dependencies, /init.
root="$work/root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,root,etc,lib/modules}
cp "$work/pkg/bin/busybox" "$root/bin/busybox"
depmod -b "$work/pkg" "$kver"
: >"$root/lib/modules/order"
for m in $modules; do
	deps=$(modprobe -d "$work/pkg" -S "$kver" --show-depends "$m") ||
		die "$kpkg: no module $m"
	for f in $(echo "$deps" | awk '$1 == "insmod" { print $2 }'); do
		b=$(basename "$f")
		case $b in
		*.ko.xz) b=${b%.xz} ;;
		*.ko.zst) b=${b%.zst} ;;
		*.ko.gz) b=${b%.gz} ;;
		esac
		[ ! -e "$root/lib/modules/$b" ] || continue
		case $f in
		*.xz) xz -dc "$f" ;;
		*.zst) zstd -dcq "$f" ;;
		*.gz) gzip -dc "$f" ;;
		*) cat "$f" ;;
		esac >"$root/lib/modules/$b"
		echo "$b" >>"$root/lib/modules/order"
	done
done
cp "$here/init" "$root/init"
chmod 755 "$root/init"
mkdir -p "$root/etc/udhcpc"
cp "$here/udhcpc.script" "$root/etc/udhcpc/default.script"
chmod 755 "$root/etc/udhcpc/default.script"
cp "$here/shutdown.sh" "$root/sbin/guest-shutdown"
chmod 755 "$root/sbin/guest-shutdown"
mkdir -p "$root/etc/acpi/PWRF"
cp "$here/power-button.sh" "$root/etc/acpi/PWRF/00000080"
chmod 755 "$root/etc/acpi/PWRF/00000080"
(cd "$root" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc -R 0:0 --quiet | gzip -9n) >"$work/guest/initramfs.gz"
echo "$stamp" >"$work/guest/stamp"

# 4. Swap the new guest in whole, so a reader never sees half of one.
rm -rf "$out.old"
[ ! -e "$out" ] || mv "$out" "$out.old"
mv "$work/guest" "$out"
rm -rf "$out.old"
echo "build-guest: $out: Linux $kver, modules: $(tr '\n' ' ' <"$root/lib/modules/order")" >&2
echo "$out"

#!/bin/bash
# build-efi-iso.sh: an EFI-bootable ISO around the test guest, made with GRUB from Debian.
#
# Usage: tests/guest/build-efi-iso.sh [menu]  (prints the path of the ISO on stdout)
#   SMOLVM_GUEST_DIR    the test guest (default ${XDG_CACHE_HOME:-$HOME/.cache}/smolvm/guest),
#                       built first by tests/guest/build-guest.sh if missing
#   SMOLVM_EFI_ISO_DIR  where to put the ISO (default: efi-iso next to the test guest)
#
# The ISO (grub-mkrescue: x86_64-efi only, El Torito with an EFI system partition image)
# holds the guest's bzImage and initramfs.gz and a /test.sh of its own, in a second
# initramfs that GRUB loads after the first. GRUB shows a menu on the console for 1 s, then
# starts Linux; the guest's /init runs /test.sh, which prints
#   SMOLVM-EFI-INIT: Linux <release>, EFI <32|64>-bit firmware
# and powers off. Tests look for the menu's title, "smolvm EFI test guest", and that line.
# With "menu": the same files in efi-menu.iso, whose GRUB menu waits for Enter (a test has
# time to look at it in the window) and whose entry boots with smolvm.wait: /test.sh then
# prints SMOLVM-EFI-READY and waits for the power button, ticking, instead of powering off.
# Runs again only when the guest, the GRUB packages or this script changed. Where the cache is
# read-only (in the nested KVM machine, where the host's files are), a stale or missing ISO
# is built in a fresh directory under ${TMPDIR:-/tmp} instead.
# Needs (Debian, scripts/deps.sh): grub-efi-amd64-bin grub-common xorriso mtools cpio.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
guest=${SMOLVM_GUEST_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/smolvm/guest}
out=${SMOLVM_EFI_ISO_DIR:-$(dirname "$guest")/efi-iso}

die() {
	echo "build-efi-iso: $*" >&2
	exit 1
}

[ -e "$guest/stamp" ] || "$here/build-guest.sh" >/dev/null || die "no test guest in $guest"
versions=$(dpkg-query -W -f='${Package}=${Version} ' grub-efi-amd64-bin grub-common xorriso \
	mtools 2>/dev/null) || die "missing Debian packages: run scripts/deps.sh" \
	"(grub-efi-amd64-bin grub-common xorriso mtools)"
stamp="$(cat "$guest/stamp") $versions$(sha256sum <"$here/build-efi-iso.sh" | cut -c1-16)"
case ${1:-} in
"") iso=efi.iso ;;
menu) iso=efi-menu.iso ;;
*) die "usage: build-efi-iso.sh [menu]" ;;
esac
if [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ] && [ -e "$out/$iso" ]; then
	echo "$out/$iso"
	exit 0
fi
if ! mkdir -p "$out" 2>/dev/null || ! [ -w "$out" ]; then
	out=$(mktemp -d "${TMPDIR:-/tmp}/smolvm-efi-iso.XXXXXX")
fi
exec 9>"$out/lock"
flock 9
if [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ] && [ -e "$out/$iso" ]; then
	echo "$out/$iso"
	exit 0
fi

work=$(mktemp -d "$out/tmp.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/iso/boot/grub" "$work/test"
cp "$guest/bzImage" "$work/iso/boot/bzImage"
cp "$guest/initramfs.gz" "$work/iso/boot/initramfs.gz"
# The second initramfs: /test.sh for the guest's /init.
cat >"$work/test/test.sh" <<'EOF'
bits=none
[ ! -e /sys/firmware/efi/fw_platform_size ] || bits=$(cat /sys/firmware/efi/fw_platform_size)
echo "SMOLVM-EFI-INIT: Linux $(uname -r), EFI $bits-bit firmware"
case " $(cat /proc/cmdline) " in *" smolvm.wait "*)
	echo SMOLVM-EFI-READY
	i=0
	while [ $i -lt 600 ]; do i=$((i+1)); echo "TICK-$i"; sleep 1; done
	echo SMOLVM-EFI-NEVER-PRESSED
esac
EOF
chmod 755 "$work/test/test.sh"
(cd "$work/test" && echo test.sh | cpio -o -H newc -R 0:0 --quiet) >"$work/iso/boot/test.cpio"
# GRUB's console on EFI is the firmware's, which OVMF also shows on the serial port.
cat >"$work/iso/boot/grub/grub.cfg" <<'EOF'
set timeout=1
set default=0
menuentry "smolvm EFI test guest" {
	linux /boot/bzImage console=ttyS0 panic=-1
	initrd /boot/initramfs.gz /boot/test.cpio
}
EOF
sed -e 's/^set timeout=1$/set timeout=-1/' -e 's/ panic=-1$/ panic=-1 smolvm.wait/' \
	-e 's/"smolvm EFI test guest"/"smolvm EFI test guest, waiting for the power button"/' \
	"$work/iso/boot/grub/grub.cfg" >"$work/menu.cfg"
# Only the modules that config needs and the ones grub-mkrescue's own config loads to find
# the ISO (every partition map): a smaller image, made faster.
parts=""
for m in /usr/lib/grub/x86_64-efi/part_*.mod; do
	m=${m##*/}
	parts+=" ${m%.mod}"
done
mkrescue() {
	grub-mkrescue -o "$1" --compress=xz --fonts= --locales= --themes= \
		--install-modules="linux normal echo iso9660 fat search configfile$parts" \
		"$work/iso" >"$work/mkrescue.log" 2>&1 ||
		{ cat "$work/mkrescue.log" >&2; die "grub-mkrescue failed"; }
}
mkrescue "$work/efi.iso"
cp "$work/menu.cfg" "$work/iso/boot/grub/grub.cfg"
mkrescue "$work/efi-menu.iso"
mv "$work/efi.iso" "$work/efi-menu.iso" "$out/"
echo "$stamp" >"$out/stamp"
echo "build-efi-iso: $out/efi.iso, efi-menu.iso ($(du -k "$out/efi.iso" | cut -f1) KiB)" >&2
echo "$out/$iso"

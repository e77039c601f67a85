#!/bin/sh
# deps.sh: install the Debian packages smolvm needs to build and test, if any are missing.
# Fast and silent when everything is present; apt-get update runs only before an install.
set -eu

# Build: the compiler, libslirp for user networking (its slirp.pc requires glib-2.0, whose
# .pc file libslirp-dev does not pull in; smolvm loads the library, libslirp0, which
# libslirp-dev pulls in, when a user network is asked for), libseccomp for the sandbox's filters, SDL2 for the
# ui feature's window (its headers; the window loads the library, libsdl2-2.0-0, which
# libsdl2-dev pulls in, when it opens) and zlib for its PNG screendumps, clang + its runtime
# for the fuzzers.
build="gcc make pkg-config libslirp-dev libglib2.0-dev libseccomp-dev libsdl2-dev zlib1g-dev clang libclang-rt-14-dev binutils"
# Tests: the nested KVM machine and the reference VMM (qemu), test guests from Debian's
# packages (apt-get download, dpkg-deb, busybox, cpio, kmod, lz4, xz, gzip, readelf from
# binutils), the pytest suite (with per-test timeouts), disk images, networking and ACPI
# table tools; for the window's tests an X server of their own (xvfb), xdotool to move,
# click, type and resize, and xwd (x11-apps) to read the window's pixels. make bench: QEMU's
# SDL display (qemu-system-gui) to compare windows with, and the DRM headers (libdrm-dev)
# of the guest tool fbloop.
tests="qemu-system-x86 qemu-system-gui libdrm-dev busybox-static cpio kmod python3 python3-pytest python3-pytest-timeout python3-pexpect
	e2fsprogs lz4 xz-utils gzip iproute2 acpica-tools apt dpkg-dev util-linux mount coreutils
	xvfb xauth xdotool x11-apps"
# The EFI test (tests/integration/test_nested_efi.py): Debian's OVMF, GRUB and the ISO tools
# for its boot image, and what scripts/nested-qemu/build.sh needs to build its outer QEMU.
tests="$tests ovmf grub-efi-amd64-bin grub-common xorriso mtools
	meson ninja-build libpixman-1-dev libfdt-dev libcap-ng-dev patch"

# shellcheck disable=SC2086 # word splitting of the package lists is intended
installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' $build $tests 2>/dev/null |
	awk '$1 == "ii" { print $2 }')
missing=""
for p in $build $tests; do
	printf '%s\n' "$installed" | grep -qx "$p" || missing="$missing $p"
done
[ -n "$missing" ] || exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing Debian packages:$missing" >&2
	echo "deps.sh: run it as root (sudo scripts/deps.sh) or: sudo apt-get install$missing" >&2
	exit 1
fi
echo "deps.sh: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# shellcheck disable=SC2086
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing; } >"$log" 2>&1; then
	cat "$log" >&2
	echo "deps.sh: installing failed" >&2
	exit 1
fi

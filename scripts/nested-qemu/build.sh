#!/bin/bash
# build.sh: build the nested KVM machine's outer QEMU with the fixes EFI firmware needs.
#
# Usage: scripts/nested-qemu/build.sh     (prints the path of qemu-system-x86_64 on stdout)
#
# Why: with EFI firmware under the nested machine's KVM, Debian's QEMU aborts at once
# (cr8-lock.patch) or, about one boot in 25, freezes the machine silently (ignne-race.patch);
# each patch's header says why. This builds the same QEMU from Debian's own source package,
# the version of the installed qemu-system-x86, with the *.patch files next to this script
# applied: only x86_64-softmmu, TCG and 9p (virtfs), nothing else the nested machine does not
# use. It reads the firmware (SeaBIOS, option ROMs) from the installed Debian packages.
#
# Built once per machine, about 7 minutes on 2 cores, into
#   ${XDG_CACHE_HOME:-$HOME/.cache}/smolvm/nested-qemu/VERSION-HASH/bin/qemu-system-x86_64
# keyed on the Debian source version and a hash of the patches and the configure options;
# a new key replaces the old build.
#
# The source comes through apt with a temporary configuration: the machine's own apt
# sources (deb822 .sources files and one-line .list files), turned into deb-src entries, and
# a private lists directory. Nothing under /etc or /var/lib/apt changes.
#
# Needs (Debian, scripts/deps.sh installs them): the build packages listed in $build_deps
# below, and qemu-system-x86 (whose version is built, and whose firmware is used).
set -euo pipefail
# All in braces: bash reads the whole script before running it, so editing it during a build
# cannot change what the running copy does next.
{
here=$(cd "$(dirname "$0")" && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/smolvm/nested-qemu
# What QEMU 7.2's configure needs for this build: meson and ninja run it, python3 runs its
# generators; glib, pixman, zlib and libfdt (x86_64-softmmu requires fdt) are required for any
# system emulator; libcap-ng is required for virtfs (xattr calls come from glibc). patch
# applies our patches, dpkg-source (dpkg-dev) unpacks Debian's.
build_deps="gcc make ninja-build meson python3 pkg-config libglib2.0-dev libpixman-1-dev
	zlib1g-dev libfdt-dev libcap-ng-dev dpkg-dev patch binutils"
# The firmware path is Debian's (debian/rules): the binary lives in our cache (its --prefix,
# so QEMU finds nothing of its own elsewhere), the ROMs stay in qemu-system-data, seabios and
# ipxe-qemu, found by that absolute path.
configure_opts=(--target-list=x86_64-softmmu --without-default-features --enable-tcg
	--enable-virtfs --enable-cap-ng --enable-attr --enable-fdt=system --disable-docs
	--disable-werror --firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu)

die() {
	echo "nested-qemu: $*" >&2
	exit 1
}

ver=$(dpkg-query -W -f='${db:Status-Abbrev} ${source:Version}' qemu-system-x86 2>/dev/null |
	awk '$1 == "ii" { print $2 }')
[ -n "$ver" ] || die "qemu-system-x86 is not installed: run scripts/deps.sh"
hash=$(cat "$here"/*.patch <(printf '%s\n' "${configure_opts[@]}") | sha256sum | cut -c1-12)
key="${ver//[:~]/_}-$hash"
dir="$cache/$key"
qemu="$dir/bin/qemu-system-x86_64"

mkdir -p "$cache"
exec 9>"$cache/lock"
flock 9
if [ -x "$qemu" ]; then
	echo "$qemu"
	exit 0
fi

# shellcheck disable=SC2086 # the list is split on purpose
missing=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' $build_deps 2>/dev/null |
	awk '$1 == "ii" { print $2 }' | sort | comm -13 - <(printf '%s\n' $build_deps | sort) |
	tr '\n' ' ')
if [ -n "$missing" ]; then
	[ "$(id -u)" = 0 ] || die "missing Debian packages: $missing(run scripts/deps.sh as root)"
	echo "nested-qemu: installing $missing" >&2
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing \
		>/dev/null || die "could not install $missing"
fi

work=$(mktemp -d "$cache/tmp.XXXXXX")
trap 'rm -rf "$work"' EXIT
start=$(date +%s)
echo "nested-qemu: building QEMU $ver with $(cd "$here" && echo *.patch) into $dir" \
	"(once per machine, about 7 minutes on 2 cores)" >&2

# 1. Debian's source package, through a temporary apt configuration with deb-src entries.
apt="$work/apt"
mkdir -p "$apt/sources.list.d" "$apt/lists/partial"
if [ -f /etc/apt/sources.list ]; then
	sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' /etc/apt/sources.list >"$apt/sources.list"
fi
for f in /etc/apt/sources.list.d/*.list; do
	[ -f "$f" ] || continue
	sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$f" >"$apt/sources.list.d/${f##*/}"
done
for f in /etc/apt/sources.list.d/*.sources; do
	[ -f "$f" ] || continue
	sed 's/^Types:.*/Types: deb-src/' "$f" >"$apt/sources.list.d/${f##*/}"
done
touch "$apt/sources.list"
aptopts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=$apt/sources.list.d"
	-o "Dir::State::Lists=$apt/lists" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
	-o APT::Sandbox::User=root -o Acquire::Languages=none)
apt-get "${aptopts[@]}" update >"$work/apt.log" 2>&1 ||
	{ cat "$work/apt.log" >&2; die "apt-get update (deb-src) failed"; }
mkdir "$work/src"
(cd "$work/src" && apt-get "${aptopts[@]}" source --download-only "qemu=$ver") >>"$work/apt.log" 2>&1 ||
	{ cat "$work/apt.log" >&2; die "apt-get source qemu=$ver failed"; }
# apt checked the files against the signed archive's hashes; dpkg-source need not.
dpkg-source --no-check -x "$work"/src/qemu_*.dsc "$work/qemu" >>"$work/apt.log" 2>&1 ||
	{ cat "$work/apt.log" >&2; die "dpkg-source could not unpack qemu $ver"; }
rm -rf "$work/src"

# 2. Our patches, then the build.
for p in "$here"/*.patch; do
	patch -d "$work/qemu" -p1 --quiet <"$p" || die "$(basename "$p") does not apply to qemu $ver"
done
mkdir "$work/qemu/b"
log="$work/build.log"
if ! (cd "$work/qemu/b" &&
	../configure --prefix="$dir" --with-pkgversion="Debian $ver, smolvm nested-qemu $hash" \
		"${configure_opts[@]}" && make -j"$(nproc)" qemu-system-x86_64) >"$log" 2>&1; then
	tail -n 40 "$log" >&2
	die "building qemu $ver failed"
fi
mkdir -p "$work/out/bin"
strip -o "$work/out/bin/qemu-system-x86_64" "$work/qemu/b/qemu-system-x86_64"
"$work/out/bin/qemu-system-x86_64" --version >"$work/out/version" ||
	die "the built qemu-system-x86_64 does not run"

# 3. Swap the build in whole; drop builds of other versions or patches (named VERSION-HASH,
#    VERSION starting with its epoch: other files here, e.g. debian13.sh's, stay).
for old in "$cache"/[0-9]*/bin/qemu-system-x86_64; do
	[ -e "$old" ] || continue
	rm -rf "${old%/bin/qemu-system-x86_64}"
done
mv "$work/out" "$dir"
echo "nested-qemu: built in $(($(date +%s) - start)) s: $(head -n 1 "$dir/version")" >&2
echo "$qemu"
}

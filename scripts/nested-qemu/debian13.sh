#!/bin/bash
# debian13.sh: Debian 13's QEMU (10.0) as the nested machine's outer QEMU, on Debian 12.
#
# Usage: scripts/nested-qemu/debian13.sh   (prints the path of a qemu-system-x86_64 on stdout)
#
# Why: issue 10 compares outer QEMUs for speed and reliability; Debian 12 ships 7.2. This
# debootstraps a minimal Debian 13 root holding qemu-system-x86 (about a minute, 385 MB) and
# writes a wrapper that runs that root's QEMU through the root's own dynamic loader and
# libraries, with its firmware (-L), so nothing of Debian 13 touches this machine's system.
# Cached in ${XDG_CACHE_HOME:-$HOME/.cache}/smolvm/nested-qemu/debian13-KEY/, KEY naming the
# suite, the packages and debootstrap's version; made again after 30 days.
# The mirror is the one this machine's apt uses (scripts/apt-mirror.sh).
# Needs root (debootstrap); installs debootstrap if it is missing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
suite=trixie
include=qemu-system-x86
cache=${XDG_CACHE_HOME:-$HOME/.cache}/smolvm/nested-qemu

die() {
	echo "nested-qemu: $*" >&2
	exit 1
}

if ! command -v debootstrap >/dev/null; then
	[ "$(id -u)" = 0 ] || die "needs debootstrap (apt-get install debootstrap, as root)"
	echo "nested-qemu: installing debootstrap" >&2
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends debootstrap; } >/dev/null || die "cannot install debootstrap"
fi
key=$(echo "$suite $include $(dpkg-query -W -f='${Version}' debootstrap)" | sha256sum | cut -c1-12)
dir="$cache/debian13-$key"
wrapper="$dir/qemu-system-x86_64"

mkdir -p "$cache"
exec 9>"$cache/debian13.lock"
flock 9
if [ -x "$wrapper" ] && [ -z "$(find "$wrapper" -mtime +30)" ]; then
	echo "$wrapper"
	exit 0
fi
[ "$(id -u)" = 0 ] || die "needs root to debootstrap Debian 13's QEMU"
# Debian 13 is served by the same archive as this machine's Debian 12.
mirror=$("$here/../apt-mirror.sh" bookworm) || die "no Debian mirror in /etc/apt/sources.list{,.d}"
echo "nested-qemu: debootstrapping Debian 13 with $include into $dir (once, about a minute)" >&2
rm -rf "$dir" "$dir.tmp"
mkdir -p "$dir.tmp"
if ! debootstrap --variant=minbase --include="$include" "$suite" "$dir.tmp/root" "$mirror" \
	>"$dir.tmp/debootstrap.log" 2>&1; then
	tail -n 20 "$dir.tmp/debootstrap.log" >&2
	die "debootstrap of Debian 13 failed"
fi
rm -rf "$dir.tmp"/root/var/cache/apt/archives/*.deb
cat >"$dir.tmp/qemu-system-x86_64" <<EOF
#!/bin/sh
# Debian 13's QEMU from the root beside this file, through that root's loader and libraries.
r="$dir/root"
exec "\$r/lib64/ld-linux-x86-64.so.2" --library-path \\
	"\$r/usr/lib/x86_64-linux-gnu:\$r/lib/x86_64-linux-gnu" "\$r/usr/bin/qemu-system-x86_64" \\
	-L "\$r/usr/share/qemu" -L "\$r/usr/share/seabios" "\$@"
EOF
chmod 755 "$dir.tmp/qemu-system-x86_64"
find "$cache" -maxdepth 1 -name 'debian13-*' ! -name "debian13-$key*" -exec rm -rf {} +
mv "$dir.tmp" "$dir"
"$wrapper" --version | head -n 1 >&2
echo "$wrapper"

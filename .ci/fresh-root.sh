#!/bin/bash
# fresh-root.sh: build and test this tree in a throwaway fresh Debian 12 root, as on a new
# user's machine: `debootstrap --variant=minbase` plus make, nothing else. Inside, as root,
# scripts/deps.sh must install everything the build needs, so a package missing from it
# fails here even where this machine has it installed by hand.
#
# Usage: .ci/fresh-root.sh [-- COMMAND [ARG]...]
#   COMMAND runs in the tree's copy (/root/smolvm) inside the root, with the terminal.
#   Default: scripts/deps.sh, then make smolvm unit; then, for what only the tests need,
#   the fuzzers, the guest tools and the test guest built and the tests of the command line
#   run (pytest, no guest booted). Prints the time it took.
#   SMOLVM_FRESH_ROOT_DAYS  days before the cached base root is debootstrapped again (7)
# The tree copied in is what a clean clone holds: the files git tracks, plus new files it
# does not ignore (so no build/ and no ./smolvm); in CI's clean clone that is HEAD.
# The base root is cached as a tarball in ${XDG_CACHE_HOME:-$HOME/.cache}/smolvm/fresh-root,
# named after what it was made from (suite, variant, extra packages, architecture,
# debootstrap's version). Debian's mirror is the one this machine's apt uses.
# Needs root (debootstrap, chroot, mounts); installs debootstrap if it is missing.
# Exit status: COMMAND's, or 1 if the root cannot be made.
set -euo pipefail
{
suite=bookworm # Debian 12
variant=minbase
include="make"
repo=$(cd "$(dirname "$0")/.." && pwd)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/smolvm/fresh-root"
max_days=${SMOLVM_FRESH_ROOT_DAYS:-7}
step_start=$(date +%s)

die() {
	echo "fresh-root: $*" >&2
	exit 1
}
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, mounts)"
if [ $# -gt 0 ]; then
	if [ "$1" != -- ] || [ $# -lt 2 ]; then die "usage: $0 [-- COMMAND [ARG]...]"; fi
	shift
else
	set -- sh -c 'scripts/deps.sh && make smolvm unit && make fuzz-build guest-tools guest &&
		/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration/test_cli.py'
fi

# Debian's debootstrap (a shell script and wget) on this machine.
if ! command -v debootstrap >/dev/null; then
	echo "fresh-root: installing debootstrap" >&2
	export DEBIAN_FRONTEND=noninteractive
	{ apt-get update -qq && apt-get install -y -qq --no-install-recommends debootstrap; } \
		>/dev/null || die "cannot install debootstrap"
fi

# 1. The base root: debootstrapped once, then kept as a tarball.
arch=$(dpkg --print-architecture)
key=$(echo "$suite $variant $include $arch $(dpkg-query -W -f='${Version}' debootstrap)" |
	sha256sum | cut -c1-12)
tarball="$cache/$suite-$variant-$key.tar.gz"
mkdir -p "$cache"
exec 9>"$cache/lock"
flock 9
if [ -e "$tarball" ] && [ -z "$(find "$tarball" -mtime +"$max_days")" ]; then
	echo "fresh-root: base root $tarball" >&2
else
	mirror=$("$repo/scripts/apt-mirror.sh" "$suite") ||
		die "no Debian $suite mirror in /etc/apt/sources.list{,.d}"
	echo "fresh-root: debootstrap --variant=$variant --include=$include $suite from $mirror" >&2
	base=$(mktemp -d /var/tmp/smolvm-debootstrap.XXXXXX)
	# shellcheck disable=SC2064 # expand $base now
	trap "rm -rf '$base'" EXIT
	start=$(date +%s)
	if ! debootstrap --variant="$variant" --include="$include" --arch="$arch" \
		"$suite" "$base" "$mirror" >"$cache/debootstrap.log" 2>&1; then
		tail -n 20 "$cache/debootstrap.log" >&2
		die "debootstrap failed (log: $cache/debootstrap.log)"
	fi
	rm -rf "$base"/var/cache/apt/archives/*.deb "$base"/var/lib/apt/lists/*_*
	tar -C "$base" -czf "$tarball.tmp" .
	mv "$tarball.tmp" "$tarball"
	find "$cache" -name "$suite-$variant-*.tar.gz" ! -path "$tarball" -delete
	rm -rf "$base"
	trap - EXIT
	echo "fresh-root: debootstrapped in $(($(date +%s) - start)) s, cached as $tarball" >&2
fi

# 2. A throwaway copy of it, with this machine's apt sources (the mirror, updates, security)
#    and network settings, and the tree.
root=$(mktemp -d /var/tmp/smolvm-fresh-root.XXXXXX)
trap 'rm -rf --one-file-system "$root"' EXIT
tar -C "$root" -xzf "$tarball"
rm -f "$root"/etc/apt/sources.list "$root"/etc/apt/sources.list.d/*
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
	[ ! -f "$f" ] || cp "$f" "$root$f"
done
# Settings the archive needs from here (a proxy, a snapshot's expired Release files), without
# replacing Debian's own files.
for f in /etc/apt/apt.conf.d/*; do
	[ ! -f "$f" ] || [ -e "$root$f" ] || cp "$f" "$root$f"
done
cp /etc/resolv.conf /etc/hosts "$root/etc/" 2>/dev/null || true
# No daemons start in a chroot.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
mkdir -p "$root/root/smolvm"
(
	cd "$repo"
	git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do
			# A file deleted in the work tree is not in a clean clone of it either.
			[ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"
		done |
		tar --null -T - -cf -
) | tar -C "$root/root/smolvm" -xf -
exec 9>&-

# 3. The command, as root in the root; /proc, /sys and /dev are there (ASan reads /proc, the
#    nested machine needs /dev). The mounts live in a mount namespace of their own, so they
#    vanish with it.
echo "fresh-root: in a fresh Debian 12 root ($variant + $include):" "$@" >&2
start=$(date +%s)
status=0
# shellcheck disable=SC2016 # expanded by that shell
unshare --mount --propagation private -- /bin/sh -c '
	root=$1; shift
	# The root a mount of its own, so that unshare -m works inside (the tests use it).
	mount --bind "$root" "$root" && mount -t proc proc "$root/proc" &&
		mount -t sysfs sys "$root/sys" && mount --rbind /dev "$root/dev" || exit 1
	cd "$root" || exit 1
	exec chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		/bin/sh -c "cd /root/smolvm && exec \"\$@\"" sh "$@"
' sh "$root" "$@" || status=$?
done=$(date +%s)
rm -rf --one-file-system "$root"
trap - EXIT
now=$(date +%s)
took=$((now - step_start))
echo "fresh-root: $took s in all (the root ready in $((start - step_start)) s, '$*' $((done - start)) s," \
	"removing the root $((now - done)) s; target under 600 s), exit status $status" >&2
[ "$took" -lt 600 ] || echo "fresh-root: WARNING: the fresh-root step took over 10 minutes" >&2
exit "$status"
}

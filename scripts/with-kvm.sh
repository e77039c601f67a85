#!/bin/sh
# with-kvm.sh: run a command where /dev/kvm can boot Linux guests.
#
# Usage: scripts/with-kvm.sh COMMAND [ARG]...
# Runs COMMAND here when the CPU shows vmx or svm and /dev/kvm is usable; otherwise inside
# the nested KVM machine (scripts/nested-kvm.sh), sharing the repository read-write.
#   SMOLVM_NESTED_TIMEOUT  seconds before the nested machine is stopped (default 3600)
# Exit status: COMMAND's; 124/125 from the nested machine (timeout / broken machine).
set -eu

[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARG]..." >&2; exit 2; }
repo=$(cd "$(dirname "$0")/.." && pwd)

if grep -qwE 'vmx|svm' /proc/cpuinfo && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
	echo "with-kvm: /dev/kvm here can boot Linux; running directly" >&2
	exec "$@"
fi

if grep -qwE 'vmx|svm' /proc/cpuinfo; then
	why="/dev/kvm is missing or not readable and writable"
else
	why="/dev/kvm here cannot boot Linux (no vmx/svm)"
fi
command -v qemu-system-x86_64 >/dev/null || {
	echo "with-kvm: $why, and there is no qemu-system-x86_64 for the nested KVM machine: run scripts/deps.sh" >&2
	exit 1
}
echo "with-kvm: $why; running inside the nested KVM machine" >&2

# Inside, HOME is /tmp: name the test guest by its path here. The host's root is visible
# read-only, except the fresh tmpfs on /tmp, /run and /dev/shm: share the test guest and
# the binary under test ($SMOLVM) read-write when they live there.
SMOLVM_GUEST_DIR=${SMOLVM_GUEST_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/smolvm/guest}
SMOLVM_GUEST_STD_DIR=${SMOLVM_GUEST_STD_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/smolvm/guest-std}
export SMOLVM_GUEST_DIR SMOLVM_GUEST_STD_DIR
set -- -w "$repo" -t "${SMOLVM_NESTED_TIMEOUT:-3600}" -- "$@"
for dir in "$SMOLVM_GUEST_DIR" "$SMOLVM_GUEST_STD_DIR" "$(dirname "${SMOLVM:-/}")"; do
	case $dir in
	/tmp/* | /run/* | /dev/shm/*) [ ! -d "$dir" ] || set -- -w "$dir" "$@" ;;
	esac
done
exec "$repo/scripts/nested-kvm.sh" "$@"

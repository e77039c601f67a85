#!/bin/sh
# run-demo.sh: boot the test guest's interactive busybox shell in smolvm (make run).
#
# Usage: scripts/run-demo.sh [SMOLVM-OPTION]...   (extra options go to smolvm)
#   SMOLVM_DEMO_CONSOLE  the guest's console device (default ttyS0)
# Runs directly on /dev/kvm where it can boot Linux, else inside the nested KVM machine.
# Ctrl-A x quits, Ctrl-A h lists the other keys; `exit` in the guest powers it off.
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
guest=$(tests/guest/build-guest.sh)
make -s smolvm
console=${SMOLVM_DEMO_CONSOLE:-ttyS0}
set -- -kernel "$guest/bzImage" -initramfs "$guest/initramfs.gz" \
	-append "console=$console quiet" -m 512M -smp 2 "$@"

if grep -qwE 'vmx|svm' /proc/cpuinfo && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
	echo "run-demo: booting the test guest; Ctrl-A x quits" >&2
	exec ./smolvm "$@"
fi
echo "run-demo: /dev/kvm here cannot boot Linux (no vmx/svm); booting inside the nested KVM machine (slower); Ctrl-A x quits" >&2
share=""
case $guest in /tmp/* | /run/* | /dev/shm/*) share="-w $guest" ;; esac
# shellcheck disable=SC2086 # $share is empty or two words
exec scripts/nested-kvm.sh -i -t 86400 $share -- ./smolvm "$@"

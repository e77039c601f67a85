#!/bin/sh
# /sbin/guest-shutdown in the test guest: power off (or reboot, with "reboot") the way a
# distribution's shutdown does, in small: every other process is stopped and the network
# links go down before the kernel is asked to power off.
#
# Not only tidiness: Debian 12's kernel (6.1.192) marks its virtio queues broken when it
# powers off, and a packet sent after that spins for ever in virtio-net's transmit path with
# the queue's lock held; both CPUs lock up and the VM never exits, under smolvm and QEMU
# alike (tests/integration/README.md). With no sender left and the links down, nothing sends.
how=${1:-poweroff}
# One shutdown at a time: the power button's kills /test.sh, and /init then shuts down too.
# The second waits for the first (never returns: for /init, PID 1, that would be a panic).
mkdir /tmp/.guest-shutdown 2>/dev/null || while :; do sleep 3600; done
# Every process but PID 1 and this one; the kernel finishes the syscalls in flight.
kill -KILL -1 2>/dev/null
for dev in /sys/class/net/*; do
	name=${dev##*/}
	[ "$name" = lo ] || ip link set "$name" down 2>/dev/null
done
sync
exec busybox "$how" -f

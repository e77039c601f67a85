"""A hostile driver on virtio-pci's common configuration (issue 9).

A root guest can drive any virtio device by hand: the test unbinds each device from Linux's
virtio-pci driver in turn and lets tests/guest/tools/virtio_poke.c (built by make
guest-tools) write its status and queue registers out of order, among them status 0x0F,
0x0B, 0x0F twenty times (DRIVER_OK cleared and set again without a reset, which once
started the device's threads anew each time). The transport must follow virtio 1.2
(2.1, 3.1): a device starts at most once between resets; a driver that breaks the
initialisation order reads DEVICE_NEEDS_RESET back and gets a configuration interrupt;
queue registers and driver features are writable only at their stage; status 0 resets.

One boot with every virtio device. For each device the guest prints SAMPLE lines and waits
for a line on its console, while the host counts smolvm's threads and descriptors; then it
binds the device to Linux's driver again and uses it. smolvm must keep running, hold no
more threads or descriptors than before, and exit 0 at poweroff.
"""

import os
import re
import subprocess

import pexpect
import pytest

import vmtest

POKE = vmtest.REPO / "build" / "guest-tools" / "virtio_poke"
# Guest order: virtio-fs last, since a smolvm that crashes there loses the others' results.
DEVICES = [("rng", "0x1044"), ("console", "0x1043"), ("blk", "0x1042"), ("net", "0x1041"),
           ("fs", "0x105a")]
CYCLES = 20  # of 0x0B / 0x0F in virtio_poke.c
# Threads or descriptors that may come and go between two samples for reasons of their own.
SLACK = 4

NEEDS_RESET = 0x40
ISR_CONFIG = 0x2
HOST_SECTOR0 = b"HOST-WROTE-SECTOR-0"
GUEST_SECTOR8 = "GUEST-WROTE-AFTER-POKE"

# Shell functions for a guest script (shared with test_virtio_rings.py): find a virtio
# device's PCI address and driver, and check_NAME ADDR uses device NAME through Linux's
# driver (device_works() reads what they print).
DEVICE_SHELL = r"""
pci_addr() {
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat $d/vendor)" = 0x1af4 ] && [ "$(cat $d/device)" = "$1" ] && basename $d
	done
}
driver_of() { basename "$(readlink /sys/bus/pci/devices/$1/driver)" 2>/dev/null; }
# What the device's Linux driver called it in a class (block, net) after binding.
name_in() { ls /sys/bus/pci/devices/$1/virtio*/$2 2>/dev/null | head -n 1; }

check_rng() {
	echo "RNG-CURRENT=$(cat /sys/class/misc/hw_random/rng_current)"
	echo "RNG-BYTES=$(timeout 20 dd if=/dev/hwrng bs=32 count=1 2>/dev/null | od -An -tx1 | tr -d ' \n')"
}
# The port's hvc number may change on rebinding; the text goes to smolvm's output only.
check_console() {
	for n in 0 1 2 3 4 5 6 7; do
		if { printf 'HVC-%s-%s\n' ALIVE hvc$n >/dev/hvc$n; } 2>/dev/null; then
			echo "HVC-WROTE=hvc$n"
			return
		fi
	done
	echo "HVC-WROTE=none"
}
check_blk() {
	d=$(name_in $1 block)
	echo "BLK-DEV=$d"
	echo "BLK-READ=$(dd if=/dev/$d bs=512 count=1 2>/dev/null | head -c {host_len})"
	printf '{guest_sector8}' | dd of=/dev/$d bs=512 seek=8 conv=fsync 2>/dev/null
	echo 3 >/proc/sys/vm/drop_caches
	echo "BLK-REREAD=$(dd if=/dev/$d bs=512 skip=8 count=1 2>/dev/null | head -c {guest_len})"
}
check_net() {
	i=$(name_in $1 net)
	echo "NET-IF=$i"
	ip link set "$i" up
	udhcpc -i "$i" -q -n -t 5 -T 2 >/dev/null 2>&1
	echo "DHCP-RC=$? LEASE=$(cat /run/lease 2>/dev/null)"
}
check_fs() {
	mkdir -p /mnt/s
	mount -t virtiofs s /mnt/s
	echo "FS-MOUNT-RC=$?"
	echo "FS-HOST-FILE=$(cat /mnt/s/from-host.txt)"
	echo guest-wrote-after-poke >/mnt/s/from-guest.txt
	umount /mnt/s
	echo "FS-UMOUNT-RC=$?"
}
""".replace("{host_len}", str(len(HOST_SECTOR0))).replace(
    "{guest_sector8}", GUEST_SECTOR8).replace("{guest_len}", str(len(GUEST_SECTOR8)))

SCRIPT = DEVICE_SHELL + r"""
# SAMPLE NAME: the host counts smolvm's threads and descriptors, then answers a line.
sample() { echo "SAMPLE $1"; read -r ack; }
poke() {
	name=$1
	addr=$(pci_addr $2)
	echo "DEVICE $name $addr driver=$(driver_of $addr)"
	sample before-$name
	echo $addr >/sys/bus/pci/drivers/virtio-pci/unbind
	{ virtio_poke /sys/bus/pci/devices/$addr 2>&1; echo "RC $?"; } | sed "s/^/POKE $name /"
	sample poked-$name
	echo $addr >/sys/bus/pci/drivers/virtio-pci/bind
	echo "BOUND $name driver=$(driver_of $addr)"
	check_$name $addr
	sample after-$name
}

sample start
""" + "".join(
    f"poke {name} {dev}\n" for name, dev in DEVICES) + "echo ALL-DONE\n"


def virtio_poke():
    if not os.access(POKE, os.X_OK):
        pytest.fail(f"no {POKE}: run make guest-tools", pytrace=False)
    return (POKE.read_bytes(), 0o755)


def resources(pid):
    """smolvm's threads and open descriptors, as the host sees them."""
    return (len(os.listdir(f"/proc/{pid}/task")), len(os.listdir(f"/proc/{pid}/fd")))


def run_guest(vm, samples, sample=resources, echo=False):
    """Answers the guest's SAMPLE lines until smolvm exits, recording sample(pid) for each.
    With echo, each answer is a numbered line the guest must print back as "ECHO line"
    within the timeout (its console still answers). Returns smolvm's exit status (negative:
    killed by that signal) and whether the guest got to the end. Fails the test at once,
    with what was sampled, if smolvm hangs."""
    pid = vm.vm_pid()
    done = False
    answers = 0
    while True:
        index = vm.p.expect([pexpect.TIMEOUT, pexpect.EOF, r"SAMPLE (\S+)\r?\n", "ALL-DONE"],
                            timeout=vm.timeout)
        vm.log += vm.p.before or ""
        if index == 0:
            vm.kill()
            pytest.fail(f"smolvm or its guest hung ({vm.timeout} s without progress)\n"
                        f"threads/fds sampled: {samples}\n--- output ---\n"
                        f"{vmtest.tail(vm.log, 8000)}", pytrace=False)
        if index == 1:
            break
        vm.log += vm.p.after
        if index == 3:
            done = True
        else:
            name = vm.p.match.group(1)
            samples[name] = sample(pid)
            answers += 1
            token = f"go-{answers}"
            vm.sendline(token)
            if echo and vm.p.expect([pexpect.TIMEOUT, pexpect.EOF, f"ECHO {token}\r?\n"],
                                    timeout=vm.timeout) != 2:
                vm.log += vm.p.before or ""
                vm.kill()
                pytest.fail(f"the guest's console did not answer {token!r} at {name}\n"
                            f"--- output ---\n{vmtest.tail(vm.log, 8000)}", pytrace=False)
            if echo:
                vm.log += vm.p.before + vm.p.after
    try:
        return vm.proc.wait(timeout=30), done
    except subprocess.TimeoutExpired:
        vm.kill()
        pytest.fail(f"smolvm closed its output but did not exit\n{vmtest.tail(vm.log, 8000)}",
                    pytrace=False)


def guest_output(log):
    """The guest's console output without smolvm's own messages (stderr joins stdout, so a
    warning of smolvm's can land in the middle of a guest's line)."""
    return re.sub(r"smolvm: [^\n]*\n", "", log)


def poke_lines(log, name):
    """virtio_poke's read-backs for one device: {(kind, step): {field: value}}."""
    out = {}
    for kind, step, fields in re.findall(
            rf"^POKE {name} (STATUS|QUEUE|FEATURES|ISR) step=(\S+) (.*?)\r?$", log, re.M):
        out[(kind, step)] = dict(re.findall(r"(\w+)=(\S+)", fields))
    return out


def read_back_problems(log, name):
    """What is wrong in the status, queue and feature registers virtio_poke read back from
    device name: a list of sentences, empty if nothing."""
    lines = poke_lines(log, name)
    problems = []

    def expect(ok, what):
        if not ok:
            problems.append(f"virtio-{name}: {what}")

    def get(kind, step, field="value"):  # -1: no such line
        v = lines.get((kind, step), {}).get(field, "-1")
        return int(v, 16) if v.startswith("0x") else int(v)

    def status(step):
        return get("STATUS", step)

    def has(value, bit):
        return value >= 0 and value & bit

    rc = re.search(rf"^POKE {name} RC (\d+)", log, re.M)
    if not rc or rc.group(1) != "0" or ("STATUS", "final") not in lines:
        return [f"virtio-{name}: virtio_poke " +
                (f"failed (exit status {rc.group(1)})" if rc else "did not finish")]

    # A proper initialisation reads back what was written.
    for step, want in [("reset", 0), ("acknowledge", 0x01), ("driver", 0x03),
                       ("features-ok", 0x0B), ("driver-ok", 0x0F), ("live", 0x0F),
                       ("3-driver-ok", 0x0F), ("4-driver-ok", 0x0F)]:
        expect(status(step) == want, f"status after {step} is {status(step):#04x}, "
                                     f"expected {want:#04x}")
    # Queue registers: writable only after FEATURES_OK, before DRIVER_OK and before the
    # queue is enabled. Driver features: only before FEATURES_OK.
    expect(get("QUEUE", "before-features-ok", "size") == get("QUEUE", "reset", "size"),
           f"queue_size written before FEATURES_OK took effect: "
           f"{lines.get(('QUEUE', 'before-features-ok'))}")
    expect(get("FEATURES", "after-features-ok", "lo") == 0 and
           get("FEATURES", "after-features-ok", "hi") == 1,
           f"driver features written after FEATURES_OK took effect: "
           f"{lines.get(('FEATURES', 'after-features-ok'))}")
    enabled = lines.get(("QUEUE", "enabled"))
    expect(get("QUEUE", "enabled", "enable") == 1 and get("QUEUE", "enabled", "desc") > 0,
           f"queue 0 did not take its setup: {enabled}")
    for step in ("after-enable", "after-driver-ok"):
        expect(lines.get(("QUEUE", step)) == enabled,
               f"queue registers written {step} took effect: {lines.get(('QUEUE', step))}")
    # Issue 9: DRIVER_OK cleared on a live device: DEVICE_NEEDS_RESET with a configuration
    # interrupt (ISR bit 1, MSI-X being off), and it stays until a reset.
    expect(has(get("ISR", "clear-1"), ISR_CONFIG),
           f"no configuration interrupt after 0x0B (ISR {get('ISR', 'clear-1'):#x})")
    lacking = [f"{step}={status(step):#04x}" for i in range(1, CYCLES + 1)
               for step in (f"clear-{i}", f"set-{i}") if not has(status(step), NEEDS_RESET)]
    expect(not lacking, f"no DEVICE_NEEDS_RESET in {len(lacking)} of the {2 * CYCLES} "
                        f"status read-backs of the 0x0B/0x0F cycles: {' '.join(lacking[:4])} ...")
    # Each broken order sets it; each reset clears it.
    for step in ("driver-ok-without-features-ok", "clear-features-ok", "set-again",
                 "clear-acknowledge"):
        expect(has(status(step), NEEDS_RESET),
               f"status after {step} is {status(step):#04x}, without DEVICE_NEEDS_RESET")
    for step in ("reset-2", "reset-3", "reset-4", "final"):
        expect(status(step) == 0, f"status after {step} is {status(step):#04x}")
    return problems


def test_hostile_driver_cannot_break_or_leak_virtio_devices(guest, tmp_path):
    disk = tmp_path / "disk.img"
    disk.write_bytes(HOST_SECTOR0 + b"\0" * ((1 << 20) - len(HOST_SECTOR0)))
    share = tmp_path / "share"
    share.mkdir()
    (share / "from-host.txt").write_text("host-file\n")
    files = {"bin/virtio_poke": virtio_poke()}
    vm = guest.start(SCRIPT, files=files, timeout=300,
                     extra=["-drive", f"file={disk}", "-share", "s", share, "-net", "user"])
    samples = {}
    status, done = run_guest(vm, samples)
    log = guest_output(vm.log)
    problems = []
    print(f"threads/fds sampled: {samples}")  # shown with -s or -rP

    def expect(ok, what):
        if not ok:
            problems.append(what)

    def marker(name):
        m = re.search(rf"^{re.escape(name)}=(.*?)\r?$", log, re.M)
        return m.group(1) if m else None

    expect(done and status == 0,
           f"smolvm exited with status {status} (negative: killed by that signal)"
           f"{'' if done else ' before the guest was done'}")
    for name, _ in DEVICES:
        if f"before-{name}" not in samples:
            continue  # smolvm died before; said above
        problems += read_back_problems(log, name)
        lines = poke_lines(log, name)
        print(f"virtio-{name} status read-backs:", " ".join(  # shown with -s or -rP
            f"{'isr-' if kind == 'ISR' else ''}{step}={fields.get('value')}"
            for (kind, step), fields in lines.items()
            if kind in ("STATUS", "ISR") and not re.match(r"(clear|set)-([2-9]|1\d)$", step)))

        # A second start would leave threads (and their descriptors) behind: after the
        # poking, and after the device is bound and used again, no more than before.
        before = samples[f"before-{name}"]
        for when in (f"poked-{name}", f"after-{name}"):
            if when in samples:
                threads, fds = samples[when]
                expect(threads <= before[0] + SLACK and fds <= before[1] + SLACK,
                       f"virtio-{name}: {threads} threads and {fds} fds {when.split('-')[0]}, "
                       f"{before[0]} and {before[1]} before")
        if f"after-{name}" in samples:
            expect(re.search(rf"^BOUND {name} driver=virtio-pci\r?$", log, re.M),
                   f"virtio-{name} is not bound to virtio-pci again")
            for ok, what in device_works(name, log, marker, disk, share):
                expect(ok, f"virtio-{name}: {what}")
    if done:
        start, end = samples["start"], samples[f"after-{DEVICES[-1][0]}"]
        expect(end[0] <= start[0] + SLACK and end[1] <= start[1] + SLACK,
               f"smolvm holds {end[0]} threads and {end[1]} fds at the end, {start[0]} and "
               f"{start[1]} at the start")

    assert not problems, "\n".join(problems) + \
        f"\nthreads/fds sampled: {samples}\n--- output ---\n{vmtest.tail(vm.log, 8000)}"


def device_works(name, log, marker, disk, share):
    """(ok, what) checks that device name works through its Linux driver again."""
    if name == "rng":
        rng = marker("RNG-BYTES") or ""
        return [((marker("RNG-CURRENT") or "").startswith("virtio_rng"),
                 f"hw_random's current source is {marker('RNG-CURRENT')!r}"),
                (len(rng) == 64 and rng != "0" * 64, f"no entropy from /dev/hwrng: {rng!r}")]
    if name == "console":
        hvc = marker("HVC-WROTE")
        return [(hvc not in (None, "none") and f"HVC-ALIVE-{hvc}" in log,
                 f"a write to its hvc ({hvc}) did not reach smolvm's output")]
    if name == "blk":
        written = disk.read_bytes()[4096:4096 + len(GUEST_SECTOR8)]
        return [(marker("BLK-READ") == HOST_SECTOR0.decode(),
                 f"read {marker('BLK-READ')!r} from sector 0"),
                (marker("BLK-REREAD") == GUEST_SECTOR8,
                 f"read {marker('BLK-REREAD')!r} back from sector 8"),
                (written == GUEST_SECTOR8.encode(),
                 f"the disk image holds {written!r} where the guest wrote")]
    if name == "net":
        return [(re.fullmatch(r"0 LEASE=\d+\.\d+\.\d+\.\d+/\d+, gateway .*", marker("DHCP-RC") or ""),
                 f"no DHCP lease: {marker('DHCP-RC')!r}")]
    if name == "fs":
        guest_file = share / "from-guest.txt"
        return [(marker("FS-MOUNT-RC") == "0" and marker("FS-UMOUNT-RC") == "0",
                 f"mount {marker('FS-MOUNT-RC')}, umount {marker('FS-UMOUNT-RC')}"),
                (marker("FS-HOST-FILE") == "host-file",
                 f"the host's file reads {marker('FS-HOST-FILE')!r}"),
                (guest_file.is_file() and guest_file.read_text() == "guest-wrote-after-poke\n",
                 "the guest's file is not in the share")]
    raise ValueError(name)

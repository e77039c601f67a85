"""Load (issue 14): many VMs at once, and one VM whose console must answer under heavy I/O.

test_many_vms_at_once boots SMOLVM_LOAD_VMS guests (20 unless set) at the same time, 128 MiB
each; every one writes and reads back its own disk, takes a DHCP lease and talks TCP to a
server on the host through its gateway, writes a file into its own share, and powers off
with exit status 0. Boot times (smolvm started to the guest's first line) are printed as
min/median/max, never asserted beyond the boot timeout.

test_console_answers_under_load times the console's echo of a line, first with the guest idle,
then with a disk, network and share load running in its background (SMOLVM_LOAD_KINDS picks
some of them), and asserts issue 14's 1 s for every answer. On a quiet host the worst is far
below it (0.06 s in CI); on a host busy with other nested machines single answers passed 1 s
even with the guest idle (tests/integration/README.md): SMOLVM_CONSOLE_BOUND=5 there.

Twenty VMs share the nested machine's one CPU: 2 minutes on an idle host, 8 on a busy one,
too long for a part of `make check` (600 s each). So test_many_vms_at_once is marked `load`,
which pytest.ini leaves out unless `-m load` is given: `make check-load` runs it in a part with
a longer timeout (SMOLVM_LOAD_VMS=5 makes it shorter). The console test is part of make check.
"""

import os
import socket
import statistics
import threading
import time

import pytest

import vmtest
from vmtest import show

NETTOOL = vmtest.REPO / "build" / "guest-tools" / "nettool"
VMS = int(os.environ.get("SMOLVM_LOAD_VMS", "20"))
# Every VM boots and works while the others do: in the nested machine, where one emulated
# CPU runs them all, twenty take 2 minutes on an idle host and 8 on a busy one. Only a hang
# should trip this.
MANY_TIMEOUT = float(os.environ.get("SMOLVM_LOAD_TIMEOUT", "1200"))


def nettool():
    if not os.access(NETTOOL, os.X_OK):
        pytest.fail(f"no {NETTOOL}: run make guest-tools", pytrace=False)
    return (NETTOOL.read_bytes(), 0o755)


class LineServer:
    """A TCP server on the host's loopback answering each connection's line with
    "host-ok:LINE", in a thread; the guests reach it as their gateway (192.168.64.1)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.lines = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            # A thread each: a guest the crowd starves of CPU must not hold up the others.
            threading.Thread(target=self._answer, args=(c,), daemon=True).start()

    def _answer(self, c):
        with c:
            try:
                c.settimeout(MANY_TIMEOUT)
                line = c.makefile("rb").readline().strip()
                self.lines.append(line.decode(errors="replace"))
                c.sendall(b"host-ok:" + line + b"\n")
            except OSError:
                pass

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


# One VM's work. The first line is the boot marker; each part prints NAME=value.
MANY_SCRIPT = r"""
echo "BOOTED uptime=$(cut -d' ' -f1 /proc/uptime)"
# Disk: a tag at sector 0 and 1 MiB of random data past it, written through to the image,
# read back from the device (not the page cache).
printf 'smolvm-load-{id}' | dd of=/dev/vda bs=512 conv=sync,fsync 2>/dev/null
dd if=/dev/urandom of=/tmp/data bs=64k count=16 2>/dev/null
dd if=/tmp/data of=/dev/vda bs=64k seek=1 oflag=direct conv=fsync 2>/dev/null
echo "DISK-WRITE=$?"
echo 3 >/proc/sys/vm/drop_caches
a=$(sha256sum </tmp/data | cut -d' ' -f1)
b=$(dd if=/dev/vda bs=64k skip=1 count=16 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)
[ "$a" = "$b" ] && echo "DISK=ok" || echo "DISK=differs"
# Network: a DHCP lease from the user network, then a line to the host and its answer.
ip link set eth0 up
udhcpc -i eth0 -q -n -t 5 -T 3 >/dev/null 2>&1; echo "DHCP-RC=$?"
echo "TCP=$(echo vm-{id} | nc 192.168.64.1 {port})"
# Share: read the host's file, write one back.
mkdir -p /mnt
mount -t virtiofs load /mnt && echo "SHARE-READ=$(cat /mnt/from-host)"
echo "guest-{id}" >/mnt/from-guest && sync && echo "SHARE-WRITE=0"
umount /mnt
echo "LOAD-DONE"
"""


class Booted:
    """One VM of the crowd, followed by a thread of its own (so each boot is timed when its
    marker comes, whatever the others do)."""

    def __init__(self, guest, i, tmp_path, port):
        self.i = i
        self.image = tmp_path / f"disk-{i}.img"
        with open(self.image, "wb") as f:
            f.truncate(4 << 20)
        self.share = tmp_path / f"share-{i}"
        self.share.mkdir()
        (self.share / "from-host").write_text(f"host-{i}\n")
        extra = ["-drive", f"file={self.image},format=raw", "-net", "user",
                 "-share", "load", self.share]
        self.args = guest.args(MANY_SCRIPT.format(id=i, port=port), mem="128M", extra=extra)
        self.guest = guest
        self.vm = None
        self.boot_s = None
        self.guest_uptime = None
        self.status = None
        self.error = None
        self.thread = threading.Thread(target=self._follow, daemon=True)

    def start(self):
        self.started = time.monotonic()
        self.vm = vmtest.Running(self.args, MANY_TIMEOUT, console=False)
        self.guest.running.append(self.vm)
        self.thread.start()

    def _follow(self):
        try:
            m = self.vm.expect(r"BOOTED uptime=([0-9.]+)")
            self.boot_s = time.monotonic() - self.started
            self.guest_uptime = float(m.group(1))
            self.vm.expect("LOAD-DONE")
            self.status = self.vm.wait()
        except BaseException as e:  # pytest.fail raises an outcome, not an Exception
            self.error = str(e)


def marker(text, name):
    for line in text.splitlines():
        if line.startswith(name + "="):
            return line[len(name) + 1:].strip()
    return None


def spread(values):
    return (f"min {min(values):.1f} s, median {statistics.median(values):.1f} s, "
            f"max {max(values):.1f} s")


@pytest.mark.load
@pytest.mark.timeout(MANY_TIMEOUT + 90)
def test_many_vms_at_once(guest, tmp_path, capsys):
    vmtest.require_kvm()
    server = LineServer()
    crowd = [Booted(guest, i, tmp_path, server.port) for i in range(VMS)]
    began = time.monotonic()
    try:
        for b in crowd:
            b.start()
        for b in crowd:
            b.thread.join(MANY_TIMEOUT + 60)
    finally:
        server.close()
    took = time.monotonic() - began

    problems = []
    for b in crowd:
        out = b.vm.log
        if b.error:
            problems.append(f"VM {b.i}: {b.error}")
            continue
        if b.status != 0:
            problems.append(f"VM {b.i}: exit status {b.status}\n{vmtest.tail(out)}")
            continue
        want = {"DISK-WRITE": "0", "DISK": "ok", "DHCP-RC": "0", "TCP": f"host-ok:vm-{b.i}",
                "SHARE-READ": f"host-{b.i}", "SHARE-WRITE": "0"}
        got = {k: marker(out, k) for k in want}
        if got != want:
            seen = f"vm-{b.i}" in server.lines
            problems.append(f"VM {b.i}: {got} (the server got its line: {seen})\n"
                            f"{vmtest.tail(out)}")
            continue
        with open(b.image, "rb") as f:
            tag = f.read(32).rstrip(b"\0").decode(errors="replace")
        if tag != f"smolvm-load-{b.i}":
            problems.append(f"VM {b.i}: the image starts with {tag!r}")
        shared = (b.share / "from-guest").read_text() if (b.share / "from-guest").exists() \
            else None
        if shared != f"guest-{b.i}\n":
            problems.append(f"VM {b.i}: the share holds {shared!r}")
    assert not problems, f"{len(problems)} of {VMS} VMs failed:\n" + "\n".join(problems)
    assert sorted(server.lines) == sorted(f"vm-{i}" for i in range(VMS)), server.lines

    boots = [b.boot_s for b in crowd]
    kernel = [b.guest_uptime for b in crowd]
    show(capsys, f"{VMS} VMs at once, 128 MiB each, all exited 0 after {took:.1f} s")
    show(capsys, f"boot (smolvm started to the guest's first line): {spread(boots)}")
    show(capsys, f"guest uptime at that line: {spread(kernel)}")


LOAD_SCRIPT = r"""
mkdir -p /mnt
mount -t virtiofs load /mnt || echo "MOUNT-FAILED"
ip link set eth0 up
ip addr add 192.168.64.15/24 dev eth0
ip route add default via 192.168.64.1
start_load() {
	# At the lowest priority, so what the echo measures is smolvm's console path beside
	# busy devices, not the guest's scheduler handing its CPUs to the loops first.
	renice -n 19 $$ >/dev/null
	: >/tmp/disk-rounds
	: >/tmp/share-rounds
	# Disk: direct writes and reads of 16 MiB, over and over.
	case " $* " in *" disk "*) (while :; do
		dd if=/dev/zero of=/dev/vda bs=256k count=64 oflag=direct 2>/dev/null
		dd if=/dev/vda of=/dev/null bs=256k count=64 iflag=direct 2>/dev/null
		echo x >>/tmp/disk-rounds
	done) & ;; esac
	# Network: UDP datagrams to the host as fast as the guest can send them.
	case " $* " in *" net "*) (while :; do
		nettool udp-flood 192.168.64.1 {sink} 30 >/dev/null 2>&1
	done) & ;; esac
	# Share: 4 MiB files written, synced and removed.
	case " $* " in *" share "*) (while :; do
		dd if=/dev/zero of=/mnt/load bs=64k count=64 conv=fsync 2>/dev/null
		rm -f /mnt/load
		echo x >>/tmp/share-rounds
	done) & ;; esac
	renice -n 0 $$ >/dev/null
	sleep 2
	echo "LOAD-RUNNING"
}
echo "CONSOLE-READY"
while read -r line; do
	case $line in
	load*) start_load $line ;;
	stop) break ;;
	*) echo "PONG $line" ;;
	esac
done
echo "ROUNDS disk=$(wc -l </tmp/disk-rounds) share=$(wc -l </tmp/share-rounds)"
# The loops, then what they started: a nettool would go on sending for up to 30 s.
kill $(jobs -p) 2>/dev/null
killall nettool dd 2>/dev/null
wait
umount /mnt 2>/dev/null
echo "LOAD-DONE"
"""

IDLE_PINGS = 5
PINGS = int(os.environ.get("SMOLVM_LOAD_PINGS", "15"))
PING_EVERY = 3.0  # seconds
# Which loads run (all three unless set: to find which one slows the console).
LOADS = os.environ.get("SMOLVM_LOAD_KINDS", "disk net share").split()
ISSUE_BOUND = 1.0  # seconds: issue 14's goal for an answer under load, reported
# Issue 14's bound for every answer while the devices are busy. A host busy with other work
# pushes single answers past it even with the guest idle (tests/integration/README.md):
# SMOLVM_CONSOLE_BOUND raises it there.
CONSOLE_BOUND = float(os.environ.get("SMOLVM_CONSOLE_BOUND", "1"))


def ping(vm, name):
    start = time.monotonic()
    vm.sendline(name)
    vm.expect(f"PONG {name}\r?\n", timeout=60)
    return time.monotonic() - start


def test_console_answers_under_load(guest, tmp_path, capsys):
    share = tmp_path / "share"
    share.mkdir()
    image = tmp_path / "disk.img"
    with open(image, "wb") as f:
        f.truncate(64 << 20)
    # A host socket nobody reads: the guest's datagrams pile up in slirp and are dropped.
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    script = LOAD_SCRIPT.replace("{sink}", str(sink.getsockname()[1]))
    idle, loaded = [], []
    try:
        vm = guest.start(script, smp=2, timeout=180,
                         extra=["-drive", f"file={image},format=raw", "-net", "user",
                                "-share", "load", share],
                         files={"bin/nettool": nettool()})
        vm.expect("CONSOLE-READY")
        for i in range(IDLE_PINGS):
            time.sleep(1)
            idle.append(ping(vm, f"idle-{i}"))
        vm.sendline("load " + " ".join(LOADS))
        vm.expect("LOAD-RUNNING", timeout=60)
        for i in range(PINGS):
            time.sleep(PING_EVERY)
            loaded.append(ping(vm, f"busy-{i}"))
        vm.sendline("stop")
        rounds = vm.expect(r"ROUNDS disk=(\d+) share=(\d+)", timeout=120)
        disk_rounds, share_rounds = int(rounds.group(1)), int(rounds.group(2))
        vm.expect("LOAD-DONE", timeout=120)
        assert vm.wait(timeout=60) == 0, vm.log
    finally:
        sink.close()
    assert "MOUNT-FAILED" not in vm.log, vm.log
    # The load really ran all along.
    assert disk_rounds > 0 or "disk" not in LOADS, vm.log
    assert share_rounds > 0 or "share" not in LOADS, vm.log
    worst = max(loaded)
    show(capsys, f"console echo idle, {IDLE_PINGS} lines: worst {max(idle):.2f} s, median "
          f"{statistics.median(idle):.2f} s; under load, {PINGS} lines: worst {worst:.2f} s, "
          f"median {statistics.median(loaded):.2f} s ({sum(x > ISSUE_BOUND for x in loaded)} "
          f"over {ISSUE_BOUND} s); {disk_rounds} disk rounds of 16 MiB, {share_rounds} share "
          f"rounds of 4 MiB")
    assert worst < CONSOLE_BOUND, (
        f"the console took {worst:.2f} s to answer under load (bound {CONSOLE_BOUND} s): "
        f"idle {[round(x, 2) for x in idle]}, loaded {[round(x, 2) for x in loaded]}")

"""A hostile guest's malformed rings and FUSE requests (issue 14, item 5).

A root guest unbinds each virtio device from Linux's driver in turn and drives it itself with
tests/guest/tools/virtio_rings.c (built by make guest-tools): its own split virtqueues in
locked pages, holding descriptor loops, chains longer than the queue, buffers past the end
of RAM, above it and on MMIO (the device's own BAR, the local APIC), indirect tables in the
BAR, nested, of odd or zero length, avail.idx jumps, the used ring on the descriptor table,
queue registers rewritten after DRIVER_OK, rings the device must refuse, and MSI-X with
absurd vectors and junk messages unmasked. On virtio-fs, tests/guest/tools/virtio_fuse.c
then sends malformed FUSE requests over well-formed rings.

What the device must do (virtio 1.2, 2.1.2 and 2.7): refuse each broken chain or ring with
DEVICE_NEEDS_RESET, touch nothing outside guest RAM, serve the well-formed requests between
them, and come back at each reset. What smolvm must do: keep running, keep its console
answering after every case (each case ends with a line the guest must echo), keep its own
memory (RSS without guest RAM), threads and descriptors bounded, leave the host file next to
the share untouched, and exit 0 at poweroff. At the end each device is bound to Linux's
driver again and used.

SMOLVM_RINGS_LOG=FILE copies smolvm's output into FILE as it comes (the nested machine passes
SMOLVM_* variables in and shares the working directory read-write), to see where a run hangs.
"""

import os
import re

import pytest

import test_virtio_hostile as hostile
import vmtest

TOOLS = vmtest.REPO / "build" / "guest-tools"
# Guest order: virtio-fs last, since a smolvm that crashes there loses the others' results.
# The queue each device reads on a kick: blk's requests, rng's, net's and console's transmit
# queues, virtio-fs's request queue.
DEVICES = [("rng", "0x1044", 0), ("console", "0x1043", 1), ("blk", "0x1042", 0),
           ("net", "0x1041", 1), ("fs", "0x105a", 1)]
GUEST_MEM = 256 << 20
# smolvm's own memory may grow this much over the whole run (malloc arenas of threads that
# come and go; the first run grew by 168 KiB); the guest's RAM is left out of the count.
RSS_SLACK_KIB = 4 << 10
SLACK = hostile.SLACK  # threads or descriptors that come and go on their own

# The cases of virtio_rings.c that are well-formed (the device serves them) and those it
# must refuse with DEVICE_NEEDS_RESET.
SERVED = ["good", "kick-storm", "reset-busy", "used-on-desc", "size-after-ok", "msix",
          "good-end"]
EITHER = ["flip"]  # served or refused, as the race goes
REFUSED = ["loop2", "loop1", "ring-loop", "next-range", "head-range", "past-ram", "above-ram",
           "wrap", "len-4g", "in-bar", "lapic", "ind-bar", "ind-nested", "ind-odd",
           "ind-zero", "ind-next", "ind-loop", "ind-long", "ind-next-range", "write-read",
           "avail-jump", "avail-far", "size-3", "size-0", "ring-bar", "ring-past-ram",
           "ring-above-ram", "used-odd"]

EINVAL, ENOENT, EIO, ENAMETOOLONG, ENOSYS = 22, 2, 5, 36, 38
# virtio_fuse.c's requests: the reply's error (None: any error), or "none" for requests that
# take no reply (the device returns the chain with nothing written).
FUSE_EXPECT = {
    "before-init": -EIO, "init": 0, "len-long": -EINVAL, "len-short": -EINVAL,
    "len-4g": -EINVAL, "extlen": -EINVAL, "opcode-9999": -ENOSYS, "opcode-0": -ENOSYS,
    "node-unknown": -ENOENT, "name-no-nul": -EINVAL, "name-long": -ENAMETOOLONG,
    "name-dotdot": None, "name-slash": None, "name-empty": None, "reply-8": "none",
    "reply-none": "none", "split": 0, "lookup": 0, "open": 0, "read-4g": 0,
    "read-bad-fh": None, "write-short": None, "batch-forget": "none",
    "batch-forget-cut": "none", "forget-root": "none", "forget-file": "none",
    "forget-unknown": "none", "lookup-3": 0, "hiprio-batch-forget": "none",
    "hiprio-forget-root": "none", "hiprio-getattr": "none", "getattr-root": 0, "lookup-again": 0, "destroy": 0,
    "after-destroy": -EIO, "init-after-destroy": 0, "getattr-end": 0,
}
CANARY = b"host secret next to the share\n"

SCRIPT = hostile.DEVICE_SHELL + r"""
# SAMPLE NAME: the host looks at smolvm, answers a line, and the guest prints it back.
sample() { echo "SAMPLE $1"; read -r ack; echo "ECHO $ack"; }
rings() {
	name=$1
	addr=$(pci_addr $2)
	echo "DEVICE $name $addr driver=$(driver_of $addr)"
	sample before-$name
	echo $addr >/sys/bus/pci/drivers/virtio-pci/unbind
	# Not through sed, which holds a line back until the next: the tools wait for an
	# answer after each SAMPLE line.
	VQ_SAMPLE=$name virtio_rings /sys/bus/pci/devices/$addr $3 2>&1
	echo "RINGS $name RC $?"
	if [ $name = fs ]; then
		VQ_SAMPLE=fuse virtio_fuse /sys/bus/pci/devices/$addr 2>&1
		echo "FUSE RC $?"
	fi
	sample poked-$name
	echo $addr >/sys/bus/pci/drivers/virtio-pci/bind
	echo "BOUND $name driver=$(driver_of $addr)"
	check_$name $addr
	sample after-$name
}

sample start
""" + "".join(f"rings {name} {dev} {queue}\n" for name, dev, queue in DEVICES) + "echo ALL-DONE\n"


def tool(name):
    path = TOOLS / name
    if not os.access(path, os.X_OK):
        pytest.fail(f"no {path}: run make guest-tools", pytrace=False)
    return (path.read_bytes(), 0o755)


def host_rss_kib(pid):
    """smolvm's resident memory without the guest's RAM (mappings at least GUEST_MEM long),
    which grows with whatever the guest touches."""
    total = guest = 0
    size = 0
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = re.match(r"([0-9a-f]+)-([0-9a-f]+) ", line)
            if m:
                size = int(m.group(2), 16) - int(m.group(1), 16)
            elif line.startswith("Rss:"):
                kib = int(line.split()[1])
                total += kib
                if size >= GUEST_MEM:
                    guest += kib
    return total - guest


def sample(pid):
    return hostile.resources(pid) + (host_rss_kib(pid),)


def case_lines(log, name):
    """virtio_rings' lines for one device: {case: {field: value}}."""
    return {case: dict(re.findall(r"([\w-]+)=(\S*)", fields)) for case, fields in re.findall(
        rf"^RINGS {name} CASE (\S+) (.*?)\r?$", log, re.M)}


def ring_problems(log, name):
    """What is wrong in what virtio_rings read back from device name."""
    rc = re.search(rf"^RINGS {name} RC (\d+)", log, re.M)
    if not rc or rc.group(1) != "0" or not re.search(rf"^RINGS {name} RINGS-DONE", log, re.M):
        return [f"virtio-{name}: virtio_rings " +
                (f"failed (exit status {rc.group(1)})" if rc else "did not finish")]
    cases = case_lines(log, name)
    problems = []

    def expect(ok, what):
        if not ok:
            problems.append(f"virtio-{name}: {what}")

    for case in SERVED + REFUSED + EITHER:
        c = cases.get(case)
        if c is None:
            expect(False, f"no result for case {case}")
            continue
        status, reset = int(c["status"], 16), int(c["reset"], 16)
        if case in SERVED:
            expect(c["result"] == "used" and not status & hostile.NEEDS_RESET,
                   f"{case}: a well-formed request was not served: {c}")
        elif case in EITHER:
            expect(c["result"] == "used" and not status & hostile.NEEDS_RESET or
                   c["result"] == "broken" and status & hostile.NEEDS_RESET,
                   f"{case}: neither served nor refused: {c}")
        else:
            expect(c["result"] == "broken" and status & hostile.NEEDS_RESET,
                   f"{case}: the device did not refuse it with DEVICE_NEEDS_RESET: {c}")
        expect(reset == 0, f"{case}: status {reset:#04x} after the reset")
    served = [cases[c] for c in SERVED if cases.get(c, {}).get("result") == "used"]
    for c in served:
        if name == "blk":
            expect(c.get("blk-status") == "0" and c.get("data") == "HOST-WROTE-SECTOR-0",
                   f"a read of sector 0 got {c}")
        if name == "fs":
            expect(c.get("fuse-error") == "0", f"FUSE_INIT got {c}")
        if name == "rng":
            expect(int(c.get("changed", 0)) >= 48, f"64 bytes of entropy changed {c}")
    if name == "console":
        sent = set(re.findall(r"RINGS-CONSOLE-TX-(\d+)", log))
        expect(len(sent) >= len(served), f"{len(served)} lines sent on the transmit queue, "
                                         f"{len(sent)} in smolvm's output")
    after = cases.get("size-after-ok", {})
    size = re.fullmatch(r"(\d+)\((\d+)\)", after.get("size", ""))
    expect(size and size.group(1) == size.group(2) and after.get("desc-moved") == "0" and
           after.get("enable") == "1",
           f"queue registers written after DRIVER_OK took effect: {after}")
    msix = cases.get("msix", {})
    expect(msix.get("qvec-bad") == "0xffff" and msix.get("qvec") == "0x0" and
           msix.get("cfgvec-bad") == "0xffff", f"MSI-X vector read-backs: {msix}")
    return problems


def fuse_problems(log):
    rc = re.search(r"^FUSE RC (\d+)", log, re.M)
    if not rc or rc.group(1) != "0" or not re.search(r"^FUSE-DONE", log, re.M):
        return ["virtio-fs: virtio_fuse " +
                (f"failed (exit status {rc.group(1)})" if rc else "did not finish")]
    got = {req: dict(re.findall(r"(\w+)=(\S*)", fields)) for req, fields in re.findall(
        r"^FUSE (\S+) (result=.*?)\r?$", log, re.M)}
    problems = []
    for req, want in FUSE_EXPECT.items():
        g = got.get(req)
        if g is None:
            problems.append(f"FUSE {req}: no result")
            continue
        served = g["result"] == "used" and not int(g["status"], 16) & hostile.NEEDS_RESET
        err = int(g["error"])
        ok = served and (int(g["len"]) == 0 if want == "none" else
                         int(g["len"]) >= 16 and (err < 0 if want is None else err == want))
        if not ok:
            problems.append(f"FUSE {req}: expected {want if want is not None else 'an error'}"
                            f", got {g}")
    read = got.get("read-4g", {})
    if read.get("len") != str(16 + len("host-file\n")) or not re.search(
            r"^FUSE read-data host-file", log, re.M):
        problems.append(f"FUSE read-4g did not return the file: {read}")
    if int(got.get("read-4g-small", {}).get("len", 99)) > 20:
        problems.append(f"FUSE read-4g-small overran its 20-byte buffer: {got['read-4g-small']}")
    if not re.search(r"^FUSE reset=0x00", log, re.M):
        problems.append("virtio-fs did not reset after the FUSE requests")
    return problems


@pytest.mark.timeout(900)
def test_malformed_rings_and_fuse_requests_are_refused(guest, tmp_path):
    disk = tmp_path / "disk.img"
    disk.write_bytes(hostile.HOST_SECTOR0 + b"\0" * ((1 << 20) - len(hostile.HOST_SECTOR0)))
    share = tmp_path / "share"
    share.mkdir()
    (share / "from-host.txt").write_text("host-file\n")
    canary = tmp_path / "canary.txt"
    canary.write_bytes(CANARY)
    canary_stat = canary.stat()
    files = {"bin/virtio_rings": tool("virtio_rings"), "bin/virtio_fuse": tool("virtio_fuse")}
    vm = guest.start(SCRIPT, files=files, timeout=300, mem=f"{GUEST_MEM >> 20}M",
                     extra=["-drive", f"file={disk}", "-share", "s", share, "-net", "user"])
    samples = {}
    if os.environ.get("SMOLVM_RINGS_LOG"):
        vm.p.logfile_read = open(os.environ["SMOLVM_RINGS_LOG"], "w")
    status, done = hostile.run_guest(vm, samples, sample=sample, echo=True)
    log = hostile.guest_output(vm.log)
    problems = []

    def expect(ok, what):
        if not ok:
            problems.append(what)

    expect(done and status == 0,
           f"smolvm exited with status {status} (negative: killed by that signal)"
           f"{'' if done else ' before the guest was done'}")
    for name, _, _ in DEVICES:
        if f"before-{name}" not in samples:
            continue  # smolvm died before; said above
        problems += ring_problems(log, name)
        if name == "fs":
            problems += fuse_problems(log)
        before = samples[f"before-{name}"]
        ours = (f"{name}-", "fuse-") if name == "fs" else (f"{name}-",)
        for when, now in samples.items():
            if when.startswith(ours) or when in (f"poked-{name}", f"after-{name}"):
                expect(now[0] <= before[0] + SLACK and now[1] <= before[1] + SLACK,
                       f"virtio-{name}: {now[0]} threads and {now[1]} fds at {when}, "
                       f"{before[0]} and {before[1]} before")
        if f"after-{name}" in samples:
            expect(re.search(rf"^BOUND {name} driver=virtio-pci\r?$", log, re.M),
                   f"virtio-{name} is not bound to virtio-pci again")
            for ok, what in hostile.device_works(name, log, marker(log), disk, share):
                expect(ok, f"virtio-{name}: {what}")
    rss = {when: s[2] for when, s in samples.items()}
    if rss:
        start, top = rss["start"], max(rss.values())
        print(f"smolvm's own RSS: {start} KiB at the start, at most {top} KiB, "
              f"{list(rss.values())[-1]} KiB at the end; {len(samples)} samples")
        expect(top <= start + RSS_SLACK_KIB,
               f"smolvm's own RSS grew from {start} KiB to {top} KiB "
               f"(at {max(rss, key=rss.get)})")
    expect(canary.read_bytes() == CANARY and canary.stat().st_mtime_ns ==
           canary_stat.st_mtime_ns, "the host file next to the share changed")
    expect((share / "from-host.txt").read_text() == "host-file\n",
           "the share's host file changed")
    expect(sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("initramfs"))
           == ["canary.txt", "disk.img", "share"], f"new files beside the share: "
           f"{sorted(p.name for p in tmp_path.iterdir())}")
    assert not problems, "\n".join(problems) + \
        f"\n--- output ---\n{vmtest.tail(vm.log, 8000)}"


def marker(log):
    def value(name):
        m = re.search(rf"^{re.escape(name)}=(.*?)\r?$", log, re.M)
        return m.group(1) if m else None
    return value

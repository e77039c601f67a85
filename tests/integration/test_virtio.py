"""virtio over PCI: every device on the bus with its virtio IDs and MSI-X, entropy from
virtio-rng, the read-write hvc0 console at a terminal, and a guest that triple-faults."""

import re

from vmtest import PROMPT, check_output, marker_value

# Modern virtio-pci device IDs: 0x1040 + the virtio device ID.
VIRTIO_PCI_IDS = {"net": "0x1041", "blk": "0x1042", "console": "0x1043", "rng": "0x1044",
                  "fs": "0x105a"}

# What lspci reads (Debian's busybox-static has no lspci applet): IDs, the bound driver, and
# the interrupt vectors with their kind ("msix") that the driver enabled.
LIST_DEVICES = r"""
for d in /sys/bus/pci/devices/*; do
    msix=$(cat $d/msi_irqs/* 2>/dev/null | grep -c msix)
    echo "PCIDEV $(cat $d/vendor) $(cat $d/device) $msix $(basename $(readlink $d/driver 2>/dev/null) 2>/dev/null)"
done
grep virtio /proc/interrupts | sed 's/^/IRQ /'
echo DONE
"""


def test_every_device_on_the_pci_bus_with_msix(guest, tmp_path):
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\0" * (1 << 20))
    share = tmp_path / "share"
    share.mkdir()
    r = guest.run(LIST_DEVICES, extra=["-drive", f"file={disk}", "-share", "s", share])
    check_output(r, "DONE")
    devices = re.findall(r"^PCIDEV (\S+) (\S+) (\d+) ?(\S*)", r.stdout, re.M)
    virtio = sorted(dev for vendor, dev, _, _ in devices if vendor == "0x1af4")
    assert virtio == sorted(VIRTIO_PCI_IDS.values()), r.describe()
    for vendor, dev, msix, driver in devices:
        if vendor == "0x1af4":
            # Bound to Linux's virtio-pci driver, interrupts by MSI-X: a configuration
            # vector and at least one for the queues.
            assert driver == "virtio-pci", f"{dev} has driver {driver!r}\n{r.describe()}"
            assert int(msix) >= 2, f"{dev} has {msix} MSI-X vectors\n{r.describe()}"


def test_virtio_rng_feeds_the_guest(guest):
    r = guest.run(r"""
echo "RNG=$(cat /sys/class/misc/hw_random/rng_current)"
a=$(dd if=/dev/hwrng bs=64 count=1 2>/dev/null | od -An -tx1 | tr -d ' \n')
b=$(dd if=/dev/hwrng bs=64 count=1 2>/dev/null | od -An -tx1 | tr -d ' \n')
echo "A=$a"
echo "B=$b"
echo DONE
""")
    check_output(r, "DONE")
    assert marker_value(r, "RNG").startswith("virtio_rng"), r.describe()
    a, b = marker_value(r, "A"), marker_value(r, "B")
    assert len(a) == 128 and len(b) == 128, r.describe()
    assert a != b and a != "0" * 128, r.describe()


def test_hvc0_is_an_interactive_read_write_console(guest):
    # The shell on hvc0 (the last console=), the kernel's messages on ttyS0 as well.
    vm = guest.shell(append="loglevel=7 console=hvc0")
    assert "Linux version" in vm.log, vm.log
    vm.sendline("echo TTY=$(tty)")
    vm.expect(r"TTY=/dev/hvc0")
    vm.expect(PROMPT)
    # Line editing and Ctrl-C reach the guest through hvc0.
    vm.send("echo abcX")
    vm.send("\x7f")
    vm.send("def\r")
    vm.expect(r"\nabcdef\r*\n")
    vm.expect(PROMPT)
    vm.sendline("sh -c 'echo SLEEP\"\"ING; exec sleep 100'")
    vm.expect("SLEEPING")
    vm.send("\x03")
    vm.expect(PROMPT, timeout=20)
    # The kernel still writes to ttyS0 while the shell is on hvc0: both reach stdout.
    vm.sendline("echo SERIAL-STILL\"\"-HERE > /dev/ttyS0")
    vm.expect("SERIAL-STILL-HERE")
    vm.sendline("exit")
    assert vm.wait(timeout=20) == 0, vm.log


def test_triple_fault_prints_registers_and_exits_one(guest):
    # reboot=t: the kernel reboots by loading an empty IDT and faulting.
    r = guest.run("echo ABOUT-TO-FAULT; reboot -f", append="reboot=t")
    check_output(r, "ABOUT-TO-FAULT", status=1)
    assert "triple fault" in r.stderr, r.describe()
    assert re.search(r"rip [0-9a-f]{16}", r.stderr), r.describe()

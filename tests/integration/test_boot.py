"""Booting Debian's kernel: bzImage and ELF vmlinux, CPUs, memory, command line, power."""

import re
import time

import pytest

from vmtest import check_output, marker_value


@pytest.mark.parametrize("kernel", ["bzImage", "vmlinux"])
def test_kernel_boots_to_the_test_script(guest, kernel):
    r = guest.run('echo "BOOT-OK-$((20+22))"', kernel=kernel)
    check_output(r, "BOOT-OK-42")


def test_all_virtio_modules_load(guest):
    # The init prints "cannot load module" for any module that fails; lsmod is the proof.
    r = guest.run('lsmod | sed -n "s/^\\(virtio[a-z_]*\\) .*/MOD=\\1/p"; echo DONE')
    check_output(r, "DONE")
    assert "cannot load module" not in r.stdout, r.describe()
    loaded = set(re.findall(r"^MOD=(\S+)", r.stdout, re.M))
    for m in ("virtio_pci", "virtio_console", "virtio_blk", "virtio_net", "virtio_rng",
              "virtiofs"):
        assert m in loaded, f"{m} not loaded\n{r.describe()}"


@pytest.mark.parametrize("smp", [1, 4])
def test_smp_sets_the_cpu_count(guest, smp):
    r = guest.run('echo "NPROC=$(nproc)"', smp=smp)
    check_output(r)
    assert marker_value(r, "NPROC") == str(smp), r.describe()


@pytest.mark.parametrize("mem,mib", [("256M", 256), ("1G", 1024)])
def test_memory_size_reaches_the_guest(guest, mem, mib):
    r = guest.run("echo \"MEMTOTAL=$(sed -n 's/^MemTotal: *\\([0-9]*\\) kB/\\1/p' "
                  '/proc/meminfo)"', mem=mem)
    check_output(r)
    kib = int(marker_value(r, "MEMTOTAL"))
    size = mib * 1024
    # MemTotal leaves out what the kernel reserved: its own image (~40 MiB for Debian's
    # cloud kernel), firmware areas and page tables; that is 15% of 256 MiB.
    low = size - max(size * 0.15, 64 * 1024)
    assert low <= kib <= size, f"MemTotal {kib} kB for -m {mem}\n{r.describe()}"


def test_append_reaches_proc_cmdline(guest):
    r = guest.run('echo "CMDLINE=<$(cat /proc/cmdline)>"', append="smolvm.test=append-ok-17")
    check_output(r)
    cmdline = marker_value(r, "CMDLINE")
    assert "smolvm.test=append-ok-17" in cmdline, r.describe()
    assert "console=ttyS0" in cmdline, r.describe()


def test_poweroff_exits_zero_promptly(guest):
    vm = guest.start('echo "POWEROFF-NOW"; poweroff -f')
    vm.expect("POWEROFF-NOW")
    start = time.monotonic()
    assert vm.wait(timeout=10) == 0, vm.log
    assert time.monotonic() - start < 5, "smolvm took over 5 s to exit after the poweroff"


def test_reboot_with_no_reboot_exits_zero(guest):
    r = guest.run('echo "REBOOT-NOW"; reboot -f', no_reboot=True)
    check_output(r, "REBOOT-NOW")


def test_reboot_without_no_reboot_boots_again(guest):
    vm = guest.start('echo "BOOT-MARKER-$((1+1))"; reboot -f', no_reboot=False, timeout=120)
    vm.expect_count("BOOT-MARKER-2", 2)
    assert vm.alive(), "smolvm exited instead of rebooting the guest"
    vm.kill()


def test_guest_clock_follows_the_host(guest):
    before = time.time()
    r = guest.run('echo "GUEST-TIME=$(date +%s)"')
    after = time.time()
    check_output(r)
    t = int(marker_value(r, "GUEST-TIME"))
    # The RTC counts whole seconds and the guest reads it once at boot.
    assert before - 3 <= t <= after + 3, f"guest time {t}, host {before:.0f}..{after:.0f}"


def test_earlyprintk_reaches_the_serial_port(guest):
    # earlyprintk=serial registers a boot console (earlyser0) that writes straight to the
    # 8250's registers long before the serial driver loads. While a boot console exists, the
    # real console does not replay the kernel log, so the "Kernel command line" notice in the
    # output can only have come through earlyprintk. loglevel=6 lets notices through while
    # keeping the (slow, port-polled) early output short.
    r = guest.run('echo "EARLY-DONE"', append="earlyprintk=serial loglevel=6 early.token=e4rly",
                  timeout=120)
    check_output(r, "EARLY-DONE")
    assert re.search(r"Kernel command line:.*early\.token=e4rly", r.stdout), r.describe()

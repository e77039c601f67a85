"""EFI firmware under KVM: QEMU boots an ISO through Debian's OVMF and GRUB to Linux's init.

This proves the test machine for smolvm's `-cd` work. Where /dev/kvm is the nested machine's
(scripts/nested-kvm.sh), Debian's outer QEMU aborts or freezes once EFI firmware runs under the
inner KVM, so this file runs with the patched outer QEMU (scripts/nested-qemu/build.sh):
scripts/integration.sh reads NESTED_QEMU below and sets SMOLVM_NESTED_QEMU for this part.
The VMM inside is Debian's QEMU. The ISO is grub-mkrescue's, around the test guest
(tests/guest/build-efi-iso.sh).
"""

import pathlib
import re
import shutil
import subprocess
import time

import pexpect
import pexpect.fdpexpect
import pytest

import vmtest

# Read by scripts/integration.sh: this part's nested machine runs the patched outer QEMU.
NESTED_QEMU = "patched"

OVMF_CODE, OVMF_VARS = vmtest.OVMF_CODE, vmtest.OVMF_VARS
STAGE_TIMEOUT = vmtest.EFI_STAGE_TIMEOUT


def require_efi_ground():
    """vmtest's checks, and the QEMU this test runs as the inner VMM."""
    vmtest.require_efi_ground()
    if not shutil.which("qemu-system-x86_64"):
        pytest.fail("no qemu-system-x86_64: install qemu-system-x86 (scripts/deps.sh)",
                    pytrace=False)


@pytest.fixture(scope="module")
def efi_iso():
    """The ISO from tests/guest/build-efi-iso.sh (cached; built here when missing)."""
    script = vmtest.REPO / "tests/guest/build-efi-iso.sh"
    r = subprocess.run([str(script)], capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        pytest.fail(f"{script} failed:\n{r.stderr}", pytrace=False)
    return pathlib.Path(r.stdout.strip().splitlines()[-1])


class Boot:
    """QEMU with OVMF booting an ISO, its serial console read as it comes."""

    def __init__(self, tmp_path, iso):
        vars_fd = tmp_path / "OVMF_VARS.fd"
        shutil.copyfile(OVMF_VARS, vars_fd)
        self.cmd = ["qemu-system-x86_64", "-enable-kvm", "-M", "q35", "-cpu", "host",
                    "-m", "512", "-nodefaults", "-display", "none", "-no-reboot",
                    "-serial", "stdio",
                    "-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}",
                    "-drive", f"if=pflash,format=raw,file={vars_fd}",
                    "-cdrom", str(iso)]
        self.start = time.monotonic()
        self.log = ""
        # Not pexpect's PopenSpawn, which polls in a busy loop (see vmtest.Running).
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.p = pexpect.fdpexpect.fdspawn(self.proc.stdout, timeout=STAGE_TIMEOUT,
                                           encoding="utf-8", codec_errors="replace")
        self.times = {}

    def expect(self, stage, pattern, timeout=STAGE_TIMEOUT):
        """Waits for a regex on the console; fails naming the stage that did not come."""
        index = self.p.expect([pexpect.TIMEOUT, pexpect.EOF, pattern], timeout=timeout)
        self.log += self.p.before or ""
        if index < 2:
            what = "timed out" if index == 0 else "QEMU exited"
            pytest.fail(f"{what} after {time.monotonic() - self.start:.0f} s waiting for "
                        f"{stage} ({pattern!r})\n{' '.join(self.cmd)}\n--- console ---\n"
                        f"{vmtest.tail(_plain(self.log))}", pytrace=False)
        self.log += self.p.after
        self.times[stage] = time.monotonic() - self.start
        return self.p.match

    def wait(self, timeout=60):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"QEMU did not exit within {timeout} s of the guest's poweroff\n"
                        f"--- console ---\n{vmtest.tail(_plain(self.log))}", pytrace=False)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()


def _plain(text):
    """The console without the firmware's and GRUB's terminal escapes, for messages."""
    return re.sub(r"\x1b\[[0-9;=?]*[A-Za-z]", " ", text).replace("\r", "")


@pytest.fixture
def boot(tmp_path, efi_iso):
    require_efi_ground()
    b = Boot(tmp_path, efi_iso)
    yield b
    b.kill()


@pytest.mark.timeout(int(STAGE_TIMEOUT * 2))
def test_ovmf_boots_an_iso_through_the_grub_menu_to_init(boot):
    # The firmware found the ISO's EFI system partition and started GRUB from it.
    boot.expect("OVMF booting the ISO", r"BdsDxe: starting Boot[0-9A-F]+ \"UEFI QEMU DVD-ROM")
    # GRUB's menu on the serial console: its title, our entry, the countdown.
    boot.expect("GRUB's menu", r"GNU GRUB +version")
    boot.expect("the menu entry", r"smolvm EFI test guest")
    boot.expect("the menu's countdown", r"will be executed automatically in")
    boot.expect("GRUB starting the entry", r"Booting `smolvm EFI test guest'")
    boot.expect("Linux", r"Linux version \S+")
    m = boot.expect("the guest's init", r"SMOLVM-EFI-INIT: Linux (\S+), EFI (\S+)-bit firmware")
    assert m.group(2) == "64", f"Linux did not see 64-bit EFI firmware: {m.group(0)}"
    status = boot.wait()
    assert status == 0, f"QEMU exited with status {status}\n{vmtest.tail(_plain(boot.log))}"
    print("efi boot: " + ", ".join(f"{k} {v:.1f} s" for k, v in boot.times.items()))

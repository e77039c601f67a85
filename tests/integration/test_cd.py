"""The firmware machine (the cd feature): smolvm boots an ISO through Debian's OVMF and GRUB.

`smolvm -cd efi.iso` maps OVMF below 4 GiB, attaches the ISO as a read-only virtio disk and
starts the boot vCPU at the reset vector; OVMF finds the ISO's EFI system partition and runs
GRUB, whose menu shows on the serial console, then Linux and the test guest's init. The ISO is
grub-mkrescue's, around the test guest (tests/guest/build-efi-iso.sh), as in
test_nested_efi.py, where QEMU boots the same ISO. The bad command lines of the firmware
machine (a missing or wrong ISO, a missing OVMF, -cd with -kernel, a build without the
feature) need no KVM and are tested in test_cli.py.
"""

import pathlib
import re
import signal
import subprocess
import time

import pytest

import vmtest

# Read by scripts/integration.sh: EFI firmware under the nested KVM needs the patched outer QEMU.
NESTED_QEMU = "patched"

OVMF_VARS = vmtest.OVMF_VARS
STAGE_TIMEOUT = vmtest.EFI_STAGE_TIMEOUT
require_efi_ground = vmtest.require_efi_ground


@pytest.fixture(scope="module")
def efi_iso():
    """The ISO from tests/guest/build-efi-iso.sh (cached; built here when missing)."""
    script = vmtest.REPO / "tests/guest/build-efi-iso.sh"
    r = subprocess.run([str(script)], capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        pytest.fail(f"{script} failed:\n{r.stderr}", pytrace=False)
    return pathlib.Path(r.stdout.strip().splitlines()[-1])


def plain(text):
    """The console without the firmware's and GRUB's terminal escapes, for messages."""
    return re.sub(r"\x1b\[[0-9;=?]*[A-Za-z]", " ", text).replace("\r", "")


@pytest.mark.timeout(int(STAGE_TIMEOUT * 3))
def test_cd_boots_an_iso_through_the_grub_menu_to_init(efi_iso):
    require_efi_ground()
    vm = vmtest.Running(["-cd", efi_iso, "-m", "512M", "-nographic", "-no-reboot"],
                        timeout=STAGE_TIMEOUT, console=False)
    try:
        # The firmware's boot manager started the ISO's EFI system partition.
        vm.expect(r"BdsDxe: starting Boot[0-9A-F]+")
        # GRUB's menu on the serial console: its title, our entry, the countdown.
        vm.expect(r"GNU GRUB +version")
        vm.expect(r"smolvm EFI test guest")
        vm.expect(r"Booting `smolvm EFI test guest'")
        vm.expect(r"Linux version \S+")
        m = vm.expect(r"SMOLVM-EFI-INIT: Linux (\S+), EFI (\S+)-bit firmware")
        assert m.group(2) == "64", f"Linux did not see 64-bit EFI firmware: {m.group(0)}"
        status = vm.wait(60)
        assert status == 0, f"smolvm exited with {status}\n{vmtest.tail(plain(vm.log))}"
    finally:
        vm.kill()


def boot_to_init(args, marker=r"SMOLVM-EFI-INIT: [^\n]*"):
    """Boots smolvm with args through the firmware to the guest's marker line; returns the
    console and the line. The guest powers off after it: smolvm must exit 0."""
    vm = vmtest.Running([*map(str, args), "-m", "512M", "-nographic", "-no-reboot"],
                        timeout=STAGE_TIMEOUT, console=False)
    try:
        vm.expect(r"BdsDxe: starting Boot[0-9A-F]+")
        line = vm.expect(marker).group(0)
        status = vm.wait(60)
        assert status == 0, f"smolvm exited with {status}\n{vmtest.tail(plain(vm.log))}"
        return plain(vm.log), line
    finally:
        vm.kill()


def variable_names(path):
    """The EFI variable names (UTF-16) in a variable store file that we look for."""
    data = path.read_bytes()
    return {n for n in ("BootOrder", "Boot0000", "Boot0001", "Boot0002", "Timeout")
            if n.encode("utf-16-le") in data}


@pytest.mark.timeout(int(STAGE_TIMEOUT * 3))
def test_efivars_keeps_the_boot_entries_in_a_file(tmp_path, efi_iso):
    require_efi_ground()
    store = tmp_path / "vars.fd"
    # The first run makes the file from OVMF's template and the firmware writes its boot
    # entries into it, through the flash commands (the template has none).
    assert not variable_names(OVMF_VARS), "OVMF's template already holds boot entries"
    boot_to_init(["-cd", efi_iso, "-efivars", store])
    assert store.stat().st_size == OVMF_VARS.stat().st_size
    first = variable_names(store)
    assert {"BootOrder", "Boot0001"} <= first, f"no boot entries written to {store}: {first}"
    # The second run boots with them, and keeps them.
    before = store.read_bytes()
    boot_to_init(["-cd", efi_iso, "-efivars", store])
    assert first <= variable_names(store)
    assert store.read_bytes() != b"" and len(before) == store.stat().st_size


@pytest.fixture(scope="module")
def efi_menu_iso(efi_iso):
    """The ISO whose GRUB menu waits and whose guest waits for the power button."""
    script = vmtest.REPO / "tests/guest/build-efi-iso.sh"
    r = subprocess.run([str(script), "menu"], capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        pytest.fail(f"{script} menu failed:\n{r.stderr}", pytrace=False)
    return pathlib.Path(r.stdout.strip().splitlines()[-1])


# GRUB's menu on the firmware's console: white or grey text on black (OVMF's
# GraphicsConsoleDxe draws it in the GOP mode it chose).
MENU_ENTRY = "smolvm EFI test guest, waiting for the power button"
SANE_MODES = {(640, 480), (800, 600), (1024, 768), (1280, 720), (1280, 800), (1280, 1024),
              (1920, 1080)}
HANDLER_MARKER = "guest-acpi: power button pressed, powering off"  # tests/guest/power-button.sh


def lit_pixels(path):
    """(width, height, pixels that are not black) of a P6 screendump."""
    from test_gpu import read_ppm  # noqa: E402  (the ui tests' PPM reader)
    width, height, _ = read_ppm(path)
    data = path.read_bytes()[-width * height * 3:]
    lit = sum(1 for i in range(0, len(data), 3) if data[i:i + 3] != b"\0\0\0")
    return width, height, lit


@pytest.mark.timeout(int(STAGE_TIMEOUT * 3))
def test_cd_grub_in_the_window_and_the_power_button(tmp_path, efi_menu_iso):
    """One boot for item 4: OVMF's VirtioGpuDxe drives our virtio-gpu, GRUB's menu shows in
    it and on the serial console; then the EFI-booted Linux powers off on SIGTERM, through
    the GED of our DSDT (which OVMF installs from fw_cfg) and the guest's acpid."""
    require_efi_ground()
    if "ui" not in vmtest.run_smolvm(["-version"], timeout=10).stdout:
        pytest.fail("smolvm was built without the ui feature: it has no display to test",
                    pytrace=False)
    from test_gpu import monitor_command  # noqa: E402
    sock = tmp_path / "monitor.sock"
    vm = vmtest.Running(["-cd", efi_menu_iso, "-m", "512M", "-display", "none",
                         "-monitor", f"unix:{sock}", "-no-reboot"],
                        timeout=STAGE_TIMEOUT, console=False)
    try:
        vm.expect(r"BdsDxe: starting Boot[0-9A-F]+")
        vm.expect(r"GNU GRUB +version")
        vm.expect(MENU_ENTRY)
        # The menu waits: the serial text and the window are drawn by the same ConOut
        # writes, but give the last ones a moment.
        dump = tmp_path / "grub.ppm"
        deadline = time.monotonic() + 20
        while True:
            time.sleep(1)
            assert monitor_command(sock, f"screendump {dump}") == "ok"
            width, height, lit = lit_pixels(dump)
            if lit > 2000 or time.monotonic() > deadline:
                break
        print(f"window: {width}x{height}, {lit} lit pixels")  # shown with pytest -rP
        assert (width, height) in SANE_MODES, f"the window is {width}x{height}"
        # The menu's frame and three lines of text are thousands of pixels; a blank or
        # cleared screen none.
        assert lit > 2000, f"the window shows {lit} lit pixels of {width}x{height}"
        # Enter boots the entry; the guest waits for the power button.
        vm.send("\r")
        vm.expect(r"Linux version \S+")
        vm.expect("SMOLVM-EFI-READY")
        vm.expect("TICK-2")
        vm.signal(signal.SIGTERM)
        vm.expect(HANDLER_MARKER, timeout=120)
        status = vm.wait(120)
        assert status == 0, f"smolvm exited with {status}\n{vmtest.tail(plain(vm.log))}"
        assert "SMOLVM-EFI-NEVER-PRESSED" not in vm.log
    finally:
        vm.kill()

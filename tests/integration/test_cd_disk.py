"""The firmware machine (the cd feature) booting a disk: `smolvm -drive file=disk.img` alone
boots a GPT disk image with an EFI system partition through OVMF and GRUB, and what the guest
wrote to the disk is there on the next boot. Apart from test_cd.py so that each file's boots
fit one nested machine's time (scripts/integration.sh: SMOLVM_PART_TIMEOUT).
"""

import struct
import subprocess
import uuid
import zlib

import pytest

import vmtest
from test_cd import STAGE_TIMEOUT, boot_to_init, require_efi_ground

# Read by scripts/integration.sh: EFI firmware under the nested KVM needs the patched outer QEMU.
NESTED_QEMU = "patched"

# A GPT disk image with an EFI system partition (FAT, \EFI\BOOT\BOOTX64.EFI from
# grub-mkstandalone, the test guest's kernel and initramfs) and a raw data partition, made here
# without root: the partition table by hand, the FAT with mtools.
SECTOR = 512
DISK_SECTORS = 96 * 2048           # 96 MiB
ESP_FIRST, ESP_SECTORS = 2048, 80 * 2048
DATA_FIRST, DATA_SECTORS = ESP_FIRST + ESP_SECTORS, 2048
ESP_TYPE = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
LINUX_DATA_TYPE = "0fc63daf-8483-4772-8e79-3d69d8477de4"

DISK_TEST_SH = """\
seen=$(dd if=/dev/vda2 bs=512 count=1 2>/dev/null | tr -d '\\000' | head -c 64)
echo "SMOLVM-DISK: seen=[$seen]"
echo "written-by-the-guest" | dd of=/dev/vda2 bs=512 count=1 conv=sync 2>/dev/null
sync
"""

DISK_GRUB_CFG = """\
insmod part_gpt
insmod fat
search --no-floppy --set=root --file /boot/smolvm-disk
set timeout=1
menuentry "smolvm EFI disk" {
	linux /boot/bzImage console=ttyS0 panic=-1
	initrd /boot/initramfs.gz /boot/test.cpio
}
"""


def gpt_write(f, parts):
    """A protective MBR and both GPT headers with their entry arrays, for parts: (type uuid,
    first sector, sectors, name)."""
    mbr = bytearray(SECTOR)
    mbr[446:462] = struct.pack("<BBBBBBBBII", 0, 0, 2, 0, 0xEE, 0xff, 0xff, 0xff, 1,
                               min(DISK_SECTORS - 1, 0xffffffff))
    mbr[510:512] = b"\x55\xaa"
    entries = bytearray(128 * 128)
    for i, (ptype, first, count, name) in enumerate(parts):
        entries[i * 128:(i + 1) * 128] = (uuid.UUID(ptype).bytes_le + uuid.uuid4().bytes_le +
                                          struct.pack("<QQQ", first, first + count - 1, 0) +
                                          name.encode("utf-16-le").ljust(72, b"\0"))
    disk_guid = uuid.uuid4().bytes_le

    def header(current, backup, entries_lba):
        h = struct.pack("<8sIIIIQQQQ16sQIII", b"EFI PART", 0x00010000, 92, 0, 0, current,
                        backup, 34, DISK_SECTORS - 34, disk_guid, entries_lba, 128, 128,
                        zlib.crc32(entries))
        h = h[:16] + struct.pack("<I", zlib.crc32(h)) + h[20:]
        return h.ljust(SECTOR, b"\0")

    f.seek(0)
    f.write(mbr + header(1, DISK_SECTORS - 1, 2) + entries)
    f.seek((DISK_SECTORS - 33) * SECTOR)
    f.write(entries + header(DISK_SECTORS - 1, 1, DISK_SECTORS - 33))


def make_gpt_disk(path):
    """The disk image's partition table, and an empty FAT on its ESP; returns the ESP for
    mtools' -i."""
    with open(path, "wb") as f:
        f.truncate(DISK_SECTORS * SECTOR)
        gpt_write(f, [(ESP_TYPE, ESP_FIRST, ESP_SECTORS, "ESP"),
                      (LINUX_DATA_TYPE, DATA_FIRST, DATA_SECTORS, "data")])
    esp = f"{path}@@{ESP_FIRST * SECTOR}"
    mtools(["mformat", "-i", esp, "-T", str(ESP_SECTORS), "-h", "64", "-s", "32", "-v", "ESP",
            "::"])
    return esp


def mtools(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"{' '.join(cmd)}: {r.stderr}"


def make_efi_disk(tmp_path):
    """The disk image, with its boot loader and the test guest on the ESP."""
    work = tmp_path / "disk-files"
    work.mkdir()
    (work / "grub.cfg").write_text(DISK_GRUB_CFG)
    (work / "test.cpio").write_bytes(vmtest.cpio_newc({"test.sh": (DISK_TEST_SH, 0o755)}))
    (work / "smolvm-disk").write_text("the ESP of test_cd.py\n")
    r = subprocess.run(["grub-mkstandalone", "-O", "x86_64-efi", "-o", str(work / "BOOTX64.EFI"),
                        "--fonts=", "--locales=", "--themes=",
                        "--install-modules=linux normal echo search search_fs_file part_gpt "
                        "fat configfile",
                        f"boot/grub/grub.cfg={work / 'grub.cfg'}"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    disk = tmp_path / "disk.img"
    esp = make_gpt_disk(disk)
    steps = [["mmd", "-i", esp, "::/EFI", "::/EFI/BOOT", "::/boot"],
             ["mcopy", "-i", esp, str(work / "BOOTX64.EFI"), "::/EFI/BOOT/BOOTX64.EFI"],
             ["mcopy", "-i", esp, str(vmtest.guest_file("bzImage")),
              str(vmtest.guest_file("initramfs.gz")), str(work / "test.cpio"),
              str(work / "smolvm-disk"), "::/boot/"]]
    for cmd in steps:
        mtools(cmd)
    return disk


@pytest.mark.timeout(int(STAGE_TIMEOUT * 3))
def test_drive_alone_boots_a_gpt_disk_and_keeps_what_the_guest_wrote(tmp_path):
    require_efi_ground()
    disk = make_efi_disk(tmp_path)
    log, line = boot_to_init(["-drive", f"file={disk}"], r"SMOLVM-DISK: seen=\[[^\]\n]*\]")
    assert "smolvm EFI disk" in log, f"GRUB's menu was not on the console\n{vmtest.tail(log)}"
    assert line == "SMOLVM-DISK: seen=[]", line
    _, line = boot_to_init(["-drive", f"file={disk}"], r"SMOLVM-DISK: seen=\[[^\]\n]*\]")
    assert line == "SMOLVM-DISK: seen=[written-by-the-guest]", line


@pytest.mark.timeout(int(STAGE_TIMEOUT * 2))
def test_uefi_shell_runs_startup_nsh(tmp_path):
    """An ESP without a boot loader: OVMF falls back to its built-in UEFI shell, which runs
    the startup.nsh it finds there (after its 5 s countdown) on the serial console."""
    require_efi_ground()
    disk = tmp_path / "disk.img"
    script = tmp_path / "startup.nsh"
    # Without echo, the command lines themselves stay off the console: only the output.
    script.write_text("@echo -off\r\necho SMOLVM-SHELL-STARTUP\r\nreset -s\r\n")
    mtools(["mcopy", "-i", make_gpt_disk(disk), str(script), "::/startup.nsh"])
    vm = vmtest.Running(["-drive", f"file={disk}", "-net", "none", "-m", "512M", "-nographic",
                         "-no-reboot"], timeout=STAGE_TIMEOUT, console=False)
    try:
        vm.expect(r"\nSMOLVM-SHELL-STARTUP")
        status = vm.wait(60)  # reset -s: the shell powers the machine off
        assert status == 0, f"smolvm exited with {status}\n{vmtest.tail(vm.log)}"
    finally:
        vm.kill()

"""Faults on the host side of a device (issue 14): what the guest sees, and that smolvm
neither crashes nor hangs.

- a disk image on a full file system: the guest's writes fail with I/O errors; once space is
  freed they succeed again, and the image's ext4 is clean;
- a share whose host directory is removed while the guest has it mounted: errors, no hang,
  and a clean power-off;
- SIGKILL of smolvm leaves no stale image lock, while a running smolvm's lock refuses a
  second one with one line and exit status 2.

The full file system is a small tmpfs mounted by the test, so this file needs root (the
nested machine runs the suite as root).
"""

import errno
import os
import shutil
import signal
import subprocess

import pytest

import vmtest
from vmtest import marker_value, show

QUICK = 30  # seconds: smolvm refuses these before any guest boots


def require_root():
    if os.geteuid() != 0:
        pytest.fail("needs root to mount a small tmpfs: run it through scripts/with-kvm.sh, "
                    "whose nested machine runs the suite as root", pytrace=False)


def tool(name):
    path = shutil.which(name) or f"/sbin/{name}"
    if not os.access(path, os.X_OK):
        pytest.fail(f"no {name}: install e2fsprogs (scripts/deps.sh)", pytrace=False)
    return path


def fill(path):
    """Writes zeroes to path until its file system is full; returns the bytes written."""
    block = bytes(1 << 20)
    total = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        while True:
            try:
                n = os.write(fd, block)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                return total
            total += n
    finally:
        os.close(fd)


@pytest.fixture
def small_fs(tmp_path):
    """A 16 MiB tmpfs of the test's own, unmounted afterwards."""
    require_root()
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "smolvm-full", str(mnt)],
                   check=True, capture_output=True)
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


FULL_DISK_SCRIPT = r"""
mkdir -p /mnt
mount /dev/vda /mnt || echo "MOUNT-FAILED"
echo "FULL-READY"
read -r line
# The host's file system is full: 4 MiB of new data cannot land in the image.
dd if=/dev/urandom of=/mnt/lost bs=64k count=64 conv=fsync 2>/tmp/dd.err
echo "LOST-RC=$?"
echo "LOST-ERR=$(tail -n 1 /tmp/dd.err)"
echo "KERNEL-IO-ERRORS=$(dmesg | grep -c 'I/O error')"
dmesg | grep -m 3 'I/O error' | sed 's/^/KERNEL: /'
echo "FREE-NOW"
read -r line
# Space is back: the same device takes writes again.
dd if=/dev/urandom of=/tmp/data bs=64k count=32 2>/dev/null
dd if=/tmp/data of=/mnt/kept bs=64k conv=fsync 2>/dev/null
echo "KEPT-RC=$?"
echo 3 >/proc/sys/vm/drop_caches
[ "$(sha256sum </tmp/data)" = "$(sha256sum </mnt/kept)" ] && echo "KEPT=same" || echo "KEPT=differs"
rm -f /mnt/lost
sync
umount /mnt
echo "UMOUNT=$?"
"""


def test_full_host_file_system_gives_io_errors_then_recovers(guest, small_fs, capsys):
    image = small_fs / "disk.img"
    with open(image, "wb") as f:
        f.truncate(64 << 20)
    # Every block of metadata written now (no lazy init), so what the guest writes later into
    # the sparse rest is its files' data.
    subprocess.run([tool("mkfs.ext4"), "-q", "-F", "-b", "4096", "-N", "256", "-J", "size=4",
                    "-E", "lazy_itable_init=0,lazy_journal_init=0", str(image)],
                   check=True, capture_output=True)
    vm = guest.start(FULL_DISK_SCRIPT, timeout=180,
                     extra=["-drive", f"file={image},format=raw"])
    vm.expect("FULL-READY")
    filler = small_fs / "filler"
    filled = fill(filler)
    free = os.statvfs(small_fs).f_bavail * os.statvfs(small_fs).f_frsize
    vm.sendline("go")
    vm.expect("FREE-NOW", timeout=120)
    assert vm.alive(), vm.log
    filler.unlink()
    vm.sendline("go")
    vm.expect(r"UMOUNT=\d+", timeout=120)
    assert vm.wait(timeout=60) == 0, vm.log
    r = vmtest.Result(0, vm.log, "", 0)
    assert "MOUNT-FAILED" not in vm.log, vm.log
    assert filled > 0 and free == 0, f"the tmpfs is not full: {free} bytes free"
    # The guest saw the failure as an I/O error: dd failed, and its kernel said why.
    assert marker_value(r, "LOST-RC") != "0", vm.log
    assert "I/O error" in marker_value(r, "LOST-ERR") or \
        "Input/output error" in marker_value(r, "LOST-ERR"), vm.log
    assert int(marker_value(r, "KERNEL-IO-ERRORS")) > 0, vm.log
    # ...and after space came back, the device worked again.
    assert marker_value(r, "KEPT-RC") == "0", vm.log
    assert marker_value(r, "KEPT") == "same", vm.log
    assert marker_value(r, "UMOUNT") == "0", vm.log
    fsck = subprocess.run([tool("e2fsck"), "-fn", str(image)], capture_output=True, text=True)
    assert fsck.returncode == 0, f"e2fsck -fn:\n{fsck.stdout}\n{fsck.stderr}\n{vm.log}"
    show(capsys, f"full file system: guest write failed ({marker_value(r, 'LOST-ERR')}), "
          f"{marker_value(r, 'KERNEL-IO-ERRORS')} kernel I/O error lines; after freeing "
          f"space the write succeeded and e2fsck -fn is clean")


SHARE_GONE_SCRIPT = r"""
mkdir -p /mnt
mount -t virtiofs gone /mnt || echo "MOUNT-FAILED"
echo "BEFORE=$(cat /mnt/old)"
exec 3</mnt/old # open across the removal
echo "SHARE-READY"
read -r line
# Each in a time limit: a hang would show as status 143 (timeout's SIGTERM).
try() {
	name=$1; shift
	out=$(timeout 30 "$@" 2>&1); rc=$?
	echo "$name-RC=$rc"
	echo "$name-OUT=$(echo "$out" | tail -n 1)"
}
try LS ls /mnt
try READ cat /mnt/old
try CREATE sh -c 'echo new >/mnt/new'
try MKDIR mkdir /mnt/dir
try STAT stat /mnt
echo "OPEN-READ=$(timeout 30 cat <&3)"
exec 3<&-
umount /mnt
echo "UMOUNT=$?"
"""


ENOENT_OR_ESTALE = ("No such file", "nonexistent directory", "Stale file handle")


def test_share_directory_removed_while_mounted(guest, tmp_path, capsys):
    share = tmp_path / "share"
    share.mkdir()
    (share / "old").write_text("old-content\n")
    (share / "sub").mkdir()
    (share / "sub" / "deep").write_text("x")
    vm = guest.start(SHARE_GONE_SCRIPT, timeout=120, extra=["-share", "gone", share])
    vm.expect("SHARE-READY")
    shutil.rmtree(share)
    vm.sendline("go")
    vm.expect(r"UMOUNT=\d+", timeout=240)
    assert vm.wait(timeout=60) == 0, vm.log
    r = vmtest.Result(0, vm.log, "", 0)
    assert "MOUNT-FAILED" not in vm.log, vm.log
    assert marker_value(r, "BEFORE") == "old-content", vm.log
    rcs = {n: marker_value(r, f"{n}-RC") for n in ("LS", "READ", "CREATE", "MKDIR", "STAT")}
    outs = {n: marker_value(r, f"{n}-OUT") for n in rcs}
    # Nothing hung (timeout's status would be 143).
    assert "143" not in rcs.values(), f"{rcs}\n{vm.log}"
    # Nothing can be made in a directory that no longer exists (busybox's shell says
    # "nonexistent directory" for ENOENT)...
    for n in ("CREATE", "MKDIR"):
        assert rcs[n] != "0", f"{n} succeeded in a removed directory\n{vm.log}"
        assert any(e in outs[n] for e in ENOENT_OR_ESTALE), vm.log
    # ...nor can a file that went with it be opened again...
    assert rcs["READ"] != "0", vm.log
    assert any(e in outs["READ"] for e in ENOENT_OR_ESTALE), vm.log
    # ...while one opened before stays readable, as a removed file does on any POSIX system.
    assert marker_value(r, "OPEN-READ") == "old-content", vm.log
    assert not share.exists(), "the guest brought the directory back"
    show(capsys, f"share removed while mounted: {rcs}, {outs}")


HOLD_SCRIPT = r"""
echo "HOLDING"
sleep 600
"""


def test_sigkill_leaves_no_stale_lock(guest, tmp_path, capsys):
    image = tmp_path / "disk.img"
    with open(image, "wb") as f:
        f.truncate(8 << 20)
    first = guest.start(HOLD_SCRIPT, extra=["-drive", f"file={image},format=raw"])
    first.expect("HOLDING")
    # While the first runs, a second smolvm is refused: one line, exit status 2.
    r = vmtest.run_smolvm(guest.args("echo SHOULD-NOT-BOOT",
                                     extra=["-drive", f"file={image},format=raw"]),
                          timeout=QUICK)
    line = vmtest.check_refused(r, 2, image)
    assert "in use" in line, r.describe()
    assert "SHOULD-NOT-BOOT" not in r.stdout, r.describe()
    # SIGKILL: no chance to clean up, and no lock file to leave behind either.
    first.signal(signal.SIGKILL)
    assert first.wait(timeout=30) == 128 + signal.SIGKILL, first.log
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("disk")) == \
        ["disk.img"], list(tmp_path.iterdir())
    r = guest.run("echo OPENED-AGAIN", extra=["-drive", f"file={image},format=raw"])
    vmtest.check_output(r, "OPENED-AGAIN")
    show(capsys, f"second smolvm while the first ran: exit 2, {line!r}; after SIGKILL the "
          "image opened again")

"""virtio-blk with the guest's own virtio_blk driver: two disks (one readonly=on), the image
lock, synced data surviving a SIGKILL of smolvm, discard giving space back to the host, and
bad -drive files refused with one line and exit status 2.

Three guest boots in all; each checks several things.
"""

import fcntl
import os
import re
import shutil
import signal
import struct
import subprocess

import pytest

import vmtest

from vmtest import check_output, marker_value, run_smolvm

QUICK = 30  # seconds: smolvm refuses these before any guest boots

# Written into the images by the host, read back by the guest (and the other way round).
HOST_TAG_A = b"host-wrote-disk-a"
HOST_TAG_B = b"host-wrote-disk-b"
GUEST_TAG = "guest-wrote-this"


def make_image(path, size, tag=b"", offset=0):
    """A sparse raw image of size bytes with tag at offset."""
    with open(path, "wb") as f:
        f.truncate(size)
        if tag:
            f.seek(offset)
            f.write(tag)
    return path


def allocated(path):
    """Bytes the host file system holds for path."""
    return os.stat(path).st_blocks * 512


def ofd_lock(path, write):
    """Try an open file description lock on the whole file, as smolvm takes it. Returns the
    open file (keep it to keep the lock) or None when another process holds a conflicting
    one."""
    f = open(path, "r+b" if write else "rb")
    lock = struct.pack("hhqqi", fcntl.F_WRLCK if write else fcntl.F_RDLCK, os.SEEK_SET, 0, 0, 0)
    try:
        fcntl.fcntl(f, fcntl.F_OFD_SETLK, lock)
    except OSError:
        f.close()
        return None
    return f


def log_value(text, name):
    """The text after "name=" on a line of a running VM's output."""
    m = re.search(rf"^{re.escape(name)}=(.*?)\r?$", text, re.M)
    assert m, f"no {name}= line in the output\n{text}"
    return m.group(1)


def check_refused(r, name):
    """Exit status 2 and one stderr line, naming name (the device could not be made)."""
    return vmtest.check_refused(r, 2, name)


TWO_DISKS = r"""
for d in vda vdb; do
    echo "RO_$d=$(cat /sys/block/$d/ro)"
    echo "SECTORS_$d=$(cat /sys/block/$d/size)"
    echo "SERIAL_$d=$(cat /sys/block/$d/serial)"
    echo "HEAD_$d=$(head -c 17 /dev/$d)"
done
echo "HWQUEUES=$(ls /sys/block/vda/mq | wc -l)"
echo "WCACHE=$(cat /sys/block/vda/queue/write_cache)"
echo "MAXSEG=$(cat /sys/block/vda/queue/max_segments)"
echo "DISCARD_MAX=$(cat /sys/block/vda/queue/discard_max_hw_bytes)"
echo "DISCARD_MAX_RO=$(cat /sys/block/vdb/queue/discard_max_hw_bytes)"
# A write through the guest's driver to each disk: the readonly one must refuse it.
printf '%s' "GUEST_TAG" | dd of=/dev/vda bs=512 seek=8 conv=notrunc,sync,fsync 2>/dev/null
echo "WRITE_vda=$?"
printf '%s' "GUEST_TAG" | dd of=/dev/vdb bs=512 seek=8 conv=notrunc,sync,fsync 2>/dev/null
echo "WRITE_vdb=$?"
# Even with the block layer's read-only flag cleared, the device itself refuses.
blockdev --setrw /dev/vdb 2>/dev/null
dd if=/dev/zero of=/dev/vdb bs=4096 count=1 oflag=direct 2>/dev/null
echo "DIRECT_WRITE_vdb=$?"
echo 3 > /proc/sys/vm/drop_caches
echo "BACK_vda=$(dd if=/dev/vda bs=512 skip=8 count=1 2>/dev/null | head -c 16)"
echo "LOCK-CHECK-NOW"
read -t 60 line
echo "RESUMED:$line"
""".replace("GUEST_TAG", GUEST_TAG)


def test_two_disks_readonly_and_the_lock(guest, tmp_path):
    a = make_image(tmp_path / "a.img", 64 << 20, HOST_TAG_A)
    b = make_image(tmp_path / "b.img", 8 << 20, HOST_TAG_B)
    b_before = b.read_bytes()
    vm = guest.start(TWO_DISKS, smp=2, extra=["-drive", f"file={a},format=raw,cache=none",
                                              "-drive", f"file={b},readonly=on"])
    vm.expect("LOCK-CHECK-NOW")

    # While the guest runs: a second smolvm may not open the writable image...
    r = run_smolvm(guest.args("echo SHOULD-NOT-BOOT", extra=["-hda", a]), timeout=QUICK)
    line = check_refused(r, a)
    assert "in use" in line, r.describe()
    # ...nor may anyone else take a lock on it; the readonly image takes more readers only.
    assert ofd_lock(a, write=False) is None
    assert ofd_lock(b, write=True) is None
    reader = ofd_lock(b, write=False)
    assert reader is not None, "a second reader of the readonly=on image was refused"
    reader.close()

    vm.sendline("go")
    vm.expect("RESUMED:go")
    assert vm.wait() == 0, vm.log
    out = vm.log

    def value(name):
        return log_value(out, name)

    assert value("RO_vda") == "0" and value("RO_vdb") == "1", out
    assert value("SECTORS_vda") == str((64 << 20) // 512), out
    assert value("SECTORS_vdb") == str((8 << 20) // 512), out
    assert value("SERIAL_vda") == "smolvm-vda" and value("SERIAL_vdb") == "smolvm-vdb", out
    assert value("HEAD_vda") == HOST_TAG_A.decode(), out
    assert value("HEAD_vdb") == HOST_TAG_B.decode(), out
    assert value("HWQUEUES") == "2", out  # a queue per vCPU
    assert value("WCACHE") == "write back", out  # so the guest sends flushes
    assert int(value("MAXSEG")) >= 256, out  # 1 MiB of 4 KiB pages in one request
    assert int(value("DISCARD_MAX")) > 0 and value("DISCARD_MAX_RO") == "0", out
    assert value("WRITE_vda") == "0", out
    assert value("WRITE_vdb") != "0", out
    assert value("DIRECT_WRITE_vdb") != "0", out
    assert value("BACK_vda") == GUEST_TAG, out

    with open(a, "rb") as f:
        f.seek(8 * 512)
        assert f.read(len(GUEST_TAG)) == GUEST_TAG.encode()
    assert b.read_bytes() == b_before, "the readonly=on image changed"
    # smolvm is gone, and its locks with it.
    lock = ofd_lock(a, write=True)
    assert lock is not None, "the image is still locked after smolvm exited"
    lock.close()


FILL_AND_SYNC = r"""
mke2fs -F -q /dev/vda >/dev/null 2>&1 || mke2fs -F /dev/vda
mkdir -p /mnt
mount /dev/vda /mnt || echo "MOUNT-FAILED"
echo "FSTYPE=$(awk '$2 == "/mnt" { print $3 }' /proc/mounts)"
mkdir -p /mnt/dir
dd if=/dev/urandom of=/mnt/big bs=64k count=48 2>/dev/null
dd if=/dev/urandom of=/mnt/dir/small bs=1000 count=3 2>/dev/null
for i in 1 2 3 4 5 6 7 8; do echo "file $i $(date +%N)" > /mnt/dir/f$i; done
(cd /mnt && find . -type f | sort | xargs sha256sum) | sed 's/^/SUM /'
sync
echo "SYNCED-MARKER"
sleep 600
"""

CHECK_AND_TRIM = r"""
mkdir -p /mnt
mount /dev/vda /mnt || echo "MOUNT-FAILED"
(cd /mnt && find . -type f | sort | xargs sha256sum) | sed 's/^/SUM /'
echo "SUMS-DONE"
# Space the file system used and gave back: discard must reach the host's file.
dd if=/dev/zero of=/mnt/junk bs=1M count=24 conv=fsync 2>/dev/null
rm /mnt/junk
sync
echo "TRIMMED=$(fstrim -v /mnt 2>&1)"
umount /mnt
echo "UMOUNT=$?"
"""


def sums(text):
    return sorted(line.split(None, 1)[1].strip() for line in text.splitlines()
                  if line.startswith("SUM "))


def test_synced_data_survives_sigkill_and_discard_frees_space(guest, tmp_path):
    img = make_image(tmp_path / "fs.img", 96 << 20)
    vm = guest.start(FILL_AND_SYNC, extra=["-drive", f"file={img}"])
    vm.expect("SYNCED-MARKER", timeout=120)
    # At once: whatever the guest's sync returned for must be in the file already.
    vm.signal(signal.SIGKILL)
    assert vm.wait() == 128 + signal.SIGKILL, vm.log
    written = sums(vm.log)
    assert len(written) == 10, vm.log
    assert "FSTYPE=ext" in vm.log, vm.log

    fsck = shutil.which("e2fsck") or "/sbin/e2fsck"
    r = subprocess.run([fsck, "-fn", str(img)], capture_output=True, text=True)
    assert r.returncode == 0, f"e2fsck -fn found problems:\n{r.stdout}\n{r.stderr}"

    before_trim = allocated(img)
    r = guest.run(CHECK_AND_TRIM, extra=["-drive", f"file={img}"], timeout=120)
    check_output(r, "SUMS-DONE", "UMOUNT=0")
    assert "MOUNT-FAILED" not in r.stdout, r.describe()
    assert sums(r.stdout) == written, f"the files changed across the kill\n{r.describe()}"
    trimmed = marker_value(r, "TRIMMED")
    assert "trimmed" in trimmed and not trimmed.startswith("/mnt: 0 B"), r.describe()
    # The 24 MiB written and deleted were given back (and more: fstrim trims all free space).
    after_trim = allocated(img)
    assert after_trim < before_trim + (4 << 20), (
        f"{img} holds {after_trim} bytes after fstrim, {before_trim} before the guest wrote "
        f"24 MiB and deleted them\n{r.describe()}")
    r = subprocess.run([fsck, "-fn", str(img)], capture_output=True, text=True)
    assert r.returncode == 0, f"e2fsck -fn after the second boot:\n{r.stdout}\n{r.stderr}"


def without_capabilities():
    """A command prefix that runs smolvm as root without capabilities, so file permissions
    apply to it as to any user (root's CAP_DAC_OVERRIDE would open any file)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if not setpriv:
        pytest.fail("tests run as root need setpriv (util-linux) to drop capabilities")
    return [setpriv, "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all"]


def test_bad_drive_files_are_refused(guest, tmp_path):
    base = guest.args("echo SHOULD-NOT-BOOT")

    missing = tmp_path / "missing.img"
    r = run_smolvm(base + ["-drive", f"file={missing}"], timeout=QUICK)
    assert "No such file" in check_refused(r, missing), r.describe()

    r = run_smolvm(base + ["-hda", tmp_path], timeout=QUICK)
    assert "directory" in check_refused(r, tmp_path), r.describe()

    # A file the user may only read, as a writable drive: refused, with the way out named.
    ro_file = make_image(tmp_path / "readable-only.img", 1 << 20)
    os.chmod(ro_file, 0o444)
    r = run_smolvm(base + ["-drive", f"file={ro_file}"], timeout=QUICK,
                   wrap=without_capabilities())
    line = check_refused(r, ro_file)
    assert "Permission denied" in line and "readonly=on" in line, r.describe()
    # A file the user may not read at all, even read-only.
    os.chmod(ro_file, 0o000)
    r = run_smolvm(base + ["-drive", f"file={ro_file},readonly=on"], timeout=QUICK,
                   wrap=without_capabilities())
    assert "Permission denied" in check_refused(r, ro_file), r.describe()

    # An image another process holds locked.
    locked = make_image(tmp_path / "locked.img", 1 << 20)
    holder = ofd_lock(locked, write=True)
    assert holder is not None
    try:
        r = run_smolvm(base + ["-drive", f"file={locked},readonly=on"], timeout=QUICK)
        assert "in use" in check_refused(r, locked), r.describe()
    finally:
        holder.close()

    # The same image twice in one command line is the same conflict.
    twice = make_image(tmp_path / "twice.img", 1 << 20)
    r = run_smolvm(base + ["-hda", twice, "-drive", f"file={twice}"], timeout=QUICK)
    assert "in use" in check_refused(r, twice), r.describe()

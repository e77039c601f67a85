"""The command line: help, version, and bad input refused with one line and exit status 2
(exit status 1 when the VM itself cannot be made). No guest boots here."""

import gzip
import os
import shutil

import pytest

from vmtest import check_refused, guest_file, run_smolvm

QUICK = 20  # seconds: none of these boots a guest


@pytest.mark.parametrize("opt", ["-h", "--help"])
def test_help_prints_usage(opt):
    r = run_smolvm([opt], timeout=QUICK)
    assert r.returncode == 0, r.describe()
    assert "-kernel" in r.stdout and "usage" in r.stdout.lower(), r.describe()


def test_version():
    r = run_smolvm(["--version"], timeout=QUICK)
    assert r.returncode == 0, r.describe()
    assert "smolvm" in r.stdout, r.describe()


def test_unknown_option_is_named():
    r = run_smolvm(["-kernel", guest_file("bzImage"), "--frobnicate"], timeout=QUICK)
    check_refused(r, 2, "--frobnicate", hint=True)


@pytest.mark.parametrize("value", ["0", "99999999G", "abc"])
def test_bad_memory_size(value):
    r = run_smolvm(["-kernel", guest_file("bzImage"), "-m", value], timeout=QUICK)
    check_refused(r, 2, value, hint=True)


@pytest.mark.parametrize("value", ["0", "1000", "x"])
def test_bad_cpu_count(value):
    r = run_smolvm(["-kernel", guest_file("bzImage"), "-smp", value], timeout=QUICK)
    check_refused(r, 2, value, hint=True)


def test_kernel_option_without_its_value():
    r = run_smolvm(["-kernel"], timeout=QUICK)
    check_refused(r, 2, "-kernel", hint=True)


def test_no_kernel_at_all():
    r = run_smolvm(["-m", "256M"], timeout=QUICK)
    check_refused(r, 2, "-kernel", hint=True)


def bad_kernel(tmp_path, kind):
    """A file that is not a kernel smolvm can boot."""
    path = tmp_path / kind
    if kind == "missing":
        pass
    elif kind == "directory":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated-bzimage":
        path.write_bytes(guest_file("bzImage").read_bytes()[:1000])
    elif kind == "gzip":
        path.write_bytes(gzip.compress(b"not a kernel\n" * 1000))
    elif kind == "elf-without-pvh":
        shutil.copy("/bin/true", path)
    elif kind == "pe-only":
        # An EFI application: MZ header pointing at a PE header, no Linux "HdrS" at 0x202.
        data = bytearray(4096)
        data[0:2] = b"MZ"
        data[0x3c:0x40] = (0x80).to_bytes(4, "little")
        data[0x80:0x84] = b"PE\0\0"
        data[0x84:0x86] = (0x8664).to_bytes(2, "little")
        path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("kind", ["missing", "directory", "empty", "truncated-bzimage", "gzip",
                                  "elf-without-pvh", "pe-only"])
def test_unbootable_kernel_file_is_named(tmp_path, kind):
    path = bad_kernel(tmp_path, kind)
    r = run_smolvm(["-kernel", path], timeout=QUICK)
    check_refused(r, 2, str(path))


def require_root():
    if os.geteuid() != 0:
        pytest.fail("needs root (a private mount namespace hides /dev/kvm)", pytrace=False)


def test_missing_dev_kvm(tmp_path):
    require_root()
    # A private mount namespace whose /dev holds only the usual character devices.
    hide = ("mount -t tmpfs tmpfs /dev && mknod -m 666 /dev/null c 1 3 && "
            "mknod -m 666 /dev/zero c 1 5 && mknod -m 666 /dev/urandom c 1 9 && "
            'exec "$0" "$@"')
    r = run_smolvm(["-kernel", guest_file("bzImage")], timeout=QUICK,
                   wrap=["unshare", "-m", "sh", "-c", hide])
    check_refused(r, 1, "/dev/kvm")


def test_dev_kvm_that_is_not_kvm(tmp_path):
    require_root()
    hide = 'mount --bind /dev/null /dev/kvm && exec "$0" "$@"'
    r = run_smolvm(["-kernel", guest_file("bzImage")], timeout=QUICK,
                   wrap=["unshare", "-m", "sh", "-c", hide])
    check_refused(r, 1, "/dev/kvm")

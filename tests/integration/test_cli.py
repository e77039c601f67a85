"""The command line: help, version, the man page, and bad input refused with one line and
exit status 2 (exit status 1 when the VM itself cannot be made). No guest boots here."""

import gzip
import os
import re
import shutil
import subprocess

import pytest

from vmtest import REPO, check_refused, guest_file, run_smolvm

QUICK = 20  # seconds: none of these boots a guest
MAN_PAGE = REPO / "docs" / "smolvm.1"


def option_table():
    """The names and aliases in src/cli/options.c's option table, plus the built-in ones."""
    text = (REPO / "src" / "cli" / "options.c").read_text()
    start = text.index("option_table[] = {")
    table = text[start:text.index("};", start)]
    names = re.findall(r'\.(?:name|alias)\s*=\s*"([^"]+)"', table)
    assert len(names) >= 10, f"the option table was not found in options.c: {names}"
    return names + ["-h", "--help", "--version"]


def man_page_text():
    """docs/smolvm.1 with roff's escapes for dashes and fonts taken out."""
    text = MAN_PAGE.read_text()
    return re.sub(r"\\f[BIRP]|\\&", "", text).replace("\\-", "-").replace("\\e", "\\")


def missing_options(text):
    return [o for o in option_table() if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", text)]


def makefile_version():
    m = re.search(r"^VERSION\s*:?=\s*(\S+)", (REPO / "Makefile").read_text(), re.M)
    assert m, "no VERSION in the Makefile"
    return m.group(1)


def makefile_features():
    """The default features (FEATURES_DEFAULT), as --version lists them: sorted, or "none"."""
    m = re.search(r"^FEATURES_DEFAULT\s*:?=[ \t]*(.*)$", (REPO / "Makefile").read_text(), re.M)
    assert m, "no FEATURES_DEFAULT in the Makefile"
    return " ".join(sorted(m.group(1).split())) or "none"


def version_line():
    return f"smolvm {makefile_version()} (features: {makefile_features()})\n"


def test_every_option_is_in_the_man_page():
    assert not missing_options(man_page_text()), f"not in {MAN_PAGE}"


def test_every_option_is_in_help():
    r = run_smolvm(["--help"], timeout=QUICK)
    assert r.returncode == 0, r.describe()
    assert not missing_options(r.stdout), r.describe()


def test_man_page_sections():
    text = man_page_text()
    sections = re.findall(r"^\.SH (.*)$", text, re.M)
    for name in ["NAME", "SYNOPSIS", "OPTIONS", "CONSOLE AND ESCAPE KEYS", "NETWORKING",
                 "SHARED FOLDERS", "EXIT STATUS", "EXAMPLES"]:
        assert name in sections, f"no {name} section in {MAN_PAGE}"
    for words in ["Ctrl-A x", "Ctrl-A h", "192.168.64.15", "hostfwd", "virtiofs", "128+"]:
        assert words in text, f"no {words!r} in {MAN_PAGE}"
    assert '.TH SMOLVM 1 "" "smolvm @VERSION@"' in text, "make install puts the version there"


def test_version_is_the_makefiles():
    r = run_smolvm(["--version"], timeout=QUICK)
    assert r.returncode == 0, r.describe()
    assert r.stdout == version_line(), r.describe()


def test_make_install(tmp_path):
    """make install PREFIX=/usr DESTDIR=...: the binary and smolvm(1) with the version."""
    r = subprocess.run(["make", "-s", "-C", str(REPO), "install", "PREFIX=/usr",
                        f"DESTDIR={tmp_path}"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    binary, man = tmp_path / "usr/bin/smolvm", tmp_path / "usr/share/man/man1/smolvm.1"
    assert os.access(binary, os.X_OK) and man.is_file(), sorted(map(str, tmp_path.rglob("*")))
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=QUICK)
    assert version.stdout == version_line()
    th = [line for line in man.read_text().splitlines() if line.startswith(".TH ")]
    assert th and f'"smolvm {makefile_version()}"' in th[0], th


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

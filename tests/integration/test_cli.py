"""The command line: help, version, the man page, and bad input refused with one line and
exit status 2 (exit status 1 when the VM itself cannot be made). No guest boots here."""

import gzip
import os
import re
import shutil
import subprocess

import pytest

import vmtest
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
                 "SHARED FOLDERS", "SANDBOX", "EXIT STATUS", "EXAMPLES"]:
        assert name in sections, f"no {name} section in {MAN_PAGE}"
    for words in ["Ctrl-A x", "Ctrl-A h", "192.168.64.15", "hostfwd", "virtiofs", "128+",
                  "159", "SMOLVM_SANDBOX_SELFTEST"]:
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


@pytest.mark.parametrize("value", ["yes", "0", ""])
def test_bad_sandbox_value(value):
    r = run_smolvm(["-kernel", guest_file("bzImage"), "-sandbox", value], timeout=QUICK)
    line = check_refused(r, 2, "-sandbox", hint=True)
    assert f"'{value}' is not on or off" in line, r.describe()


def test_help_names_the_sandbox_status():
    r = run_smolvm(["--help"], timeout=QUICK)
    assert "-sandbox on|off" in r.stdout and "159" in r.stdout, r.describe()


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


# The firmware machine's command line (-cd, -bios, -efivars, a -drive alone): every bad input
# is refused before KVM is opened, so none of these needs /dev/kvm.

def iso_image(path):
    """The smallest file smolvm takes for an ISO 9660 image: CD001 at byte 0x8001."""
    data = bytearray(0x8800)
    data[0x8000:0x8006] = b"\x01CD001"
    path.write_bytes(bytes(data))
    return path


def test_cd_missing_file(tmp_path):
    r = run_smolvm(["-cd", tmp_path / "missing.iso"], timeout=QUICK)
    check_refused(r, 2, "-cd", str(tmp_path / "missing.iso"), "No such file")


def test_cd_unreadable_file(tmp_path):
    path = iso_image(tmp_path / "locked.iso")
    path.chmod(0)
    # Root reads any file: as root, smolvm runs without the capabilities that let it (as
    # nobody it might not reach the binary or its libraries, e.g. under /root).
    wrap = (["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]
            if os.geteuid() == 0 else [])
    r = run_smolvm(["-cd", path], timeout=QUICK, wrap=wrap)
    check_refused(r, 2, str(path), "Permission denied")


@pytest.mark.parametrize("kind", ["empty", "text", "disk"])
def test_cd_that_is_not_an_iso(tmp_path, kind):
    path = tmp_path / f"{kind}.iso"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("not an ISO\n" * 10000)
    else:  # a disk image with an MBR is not a CD
        data = bytearray(1 << 20)
        data[510:512] = b"\x55\xaa"
        path.write_bytes(bytes(data))
    r = run_smolvm(["-cd", path], timeout=QUICK)
    check_refused(r, 2, str(path), "ISO 9660")


def test_cd_with_kernel(tmp_path):
    r = run_smolvm(["-kernel", guest_file("bzImage"), "-cd", iso_image(tmp_path / "a.iso")],
                   timeout=QUICK)
    check_refused(r, 2, "-cd", "-kernel", hint=True)


@pytest.mark.parametrize("content", ["empty", "zeros", "text"])
def test_drive_alone_that_cannot_boot(tmp_path, content):
    path = tmp_path / "disk.img"
    path.write_bytes({"empty": b"", "zeros": bytes(1 << 20), "text": b"hello\n" * 1000}[content])
    r = run_smolvm(["-drive", f"file={path}"], timeout=QUICK)
    check_refused(r, 2, str(path), "0x55AA")


def test_missing_bios_file(tmp_path):
    r = run_smolvm(["-cd", iso_image(tmp_path / "a.iso"), "-bios", tmp_path / "OVMF_CODE.fd"],
                   timeout=QUICK)
    check_refused(r, 2, "-bios", str(tmp_path / "OVMF_CODE.fd"))


def test_bios_that_is_not_a_firmware_image(tmp_path):
    bios = tmp_path / "bios.bin"
    bios.write_bytes(b"x" * 1000)  # not whole 4 KiB pages
    r = run_smolvm(["-cd", iso_image(tmp_path / "a.iso"), "-bios", bios], timeout=QUICK)
    check_refused(r, 2, "-bios", str(bios))


def test_missing_ovmf_names_the_package(tmp_path):
    require_root()
    # A private mount namespace where /usr/share/OVMF is empty.
    hide = 'mount -t tmpfs tmpfs /usr/share/OVMF && exec "$0" "$@"'
    r = run_smolvm(["-cd", iso_image(tmp_path / "a.iso")], timeout=QUICK,
                   wrap=["unshare", "-m", "sh", "-c", hide])
    check_refused(r, 2, "/usr/share/OVMF/OVMF_CODE_4M.fd", "ovmf")


def test_efivars_of_the_wrong_size(tmp_path):
    vars_file = tmp_path / "vars.fd"
    vars_file.write_bytes(bytes(4096))
    r = run_smolvm(["-cd", iso_image(tmp_path / "a.iso"), "-efivars", vars_file], timeout=QUICK)
    check_refused(r, 2, "-efivars", str(vars_file))


@pytest.mark.parametrize("opt", ["-bios", "-efivars"])
def test_firmware_options_with_kernel(tmp_path, opt):
    r = run_smolvm(["-kernel", guest_file("bzImage"), opt, tmp_path / "x.fd"], timeout=QUICK)
    check_refused(r, 2, opt, "-kernel", hint=True)


@pytest.mark.parametrize("opt", ["-append", "-initramfs"])
def test_kernel_options_without_kernel(tmp_path, opt):
    r = run_smolvm(["-cd", iso_image(tmp_path / "a.iso"), opt, "x"], timeout=QUICK)
    check_refused(r, 2, opt, "-kernel", hint=True)


@pytest.mark.parametrize("value,named", [("pci-ports=maybe", "maybe"), ("q35", "q35"),
                                         ("pci-ports=on,smm=off", "smm")])
def test_bad_machine_property(value, named):
    r = run_smolvm(["-kernel", guest_file("bzImage"), "-machine", value], timeout=QUICK)
    check_refused(r, 2, "-machine", named, hint=True)


def test_firmware_machine_keeps_its_pci_ports(tmp_path):
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\0" * (1 << 20))
    r = run_smolvm(["-drive", f"file={disk}", "-M", "pci-ports=off"], timeout=QUICK)
    check_refused(r, 2, "pci-ports=off", "firmware", hint=True)


@pytest.fixture(scope="module")
def nofeat_smolvm():
    """smolvm built without any feature (make features=), as CI's check-nofeat builds it."""
    binary = REPO / "build/nofeat/smolvm"
    r = subprocess.run(["make", "-s", "-C", str(REPO), "features=", f"BIN={binary}",
                        str(binary)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    return binary


@pytest.mark.parametrize("opt", ["-cd", "-bios", "-efivars"])
def test_build_without_cd_refuses_firmware_options(tmp_path, nofeat_smolvm, opt):
    iso = iso_image(tmp_path / "a.iso")
    r = subprocess.run([nofeat_smolvm, opt, iso], capture_output=True, text=True,
                       timeout=QUICK, stdin=subprocess.DEVNULL)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.returncode == 2, r.stderr
    assert len(lines) == 2 and opt in lines[0] and "cd feature" in lines[0], r.stderr


def test_build_without_cd_wants_a_kernel_for_a_drive(tmp_path, nofeat_smolvm):
    disk = tmp_path / "disk.img"
    disk.write_bytes(bytes(510) + b"\x55\xaa")
    r = subprocess.run([nofeat_smolvm, "-drive", f"file={disk}"], capture_output=True,
                       text=True, timeout=QUICK, stdin=subprocess.DEVNULL)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.returncode == 2, r.stderr
    assert len(lines) == 2 and "-kernel" in lines[0] and "cd feature" in lines[0], r.stderr


def test_a_failure_message_keeps_the_whole_log_in_a_file(tmp_path, monkeypatch):
    """Not smolvm's command line but these tests' own failure messages: one cut to its last
    lines names a file with all of it (a guest's backtrace was once lost to the cut)."""
    monkeypatch.setattr(vmtest, "TEST_LOGS", tmp_path / "logs")
    text = "".join(f"line {i}\n" for i in range(2000))
    assert vmtest.tail(text[:90], 100) == text[:90]
    saved = []
    for _ in range(2):
        short = vmtest.tail(text, 100)
        m = re.match(r"\[\.\.\. whole log \((\d+) characters\): (\S+)\]\n", short)
        assert m, short
        assert int(m[1]) == len(text) and short[m.end():] == text[-100:]
        assert open(m[2]).read() == text
        assert "test_a_failure_message_keeps_the_whole_log_in_a_file" in m[2], m[2]
        saved.append(m[2])
    assert saved[0] != saved[1], "a second cut log overwrote the first"

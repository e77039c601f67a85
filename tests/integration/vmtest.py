"""Helpers for smolvm's integration tests: the test guest, per-test initramfs, running smolvm.

A test that boots a guest gives it a shell script: `Guest.run(script)` appends it as /test.sh
to a copy of the test guest's initramfs (tests/guest/build-guest.sh), boots smolvm with it and
returns the exit status and output. /init runs the script on the console and powers off.
`Guest.start()` returns a running VM on pipes to `expect()` on; `Guest.console()` one in a
pseudo-terminal, as a user at a terminal would run it.
"""

import dataclasses
import functools
import os
import pathlib
import re
import signal
import subprocess
import time

import pexpect
import pexpect.fdpexpect
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
SMOLVM = os.environ.get("SMOLVM", str(REPO / "smolvm"))
# Generous for one boot in the nested machine (5-10 s there, 50 s seen on a loaded host), so
# only a hang trips it.
BOOT_TIMEOUT = float(os.environ.get("SMOLVM_TEST_TIMEOUT", "120"))
# Quiet and fast: the test's own output is what the tests read. panic=-1 turns a guest panic
# into a reboot, which -no-reboot turns into an exit instead of a hang.
BASE_APPEND = "console=ttyS0 quiet panic=-1"


# The test guests build-guest.sh makes: kernel kind -> (directory variable, default name).
# "cloud" (Debian's cloud kernel) is every test's; "std" (Debian's standard kernel, with
# virtio_gpu and virtio_input) is the display tests'.
GUEST_KINDS = {"cloud": ("SMOLVM_GUEST_DIR", "guest"), "std": ("SMOLVM_GUEST_STD_DIR", "guest-std")}


def guest_dir(kind="cloud"):
    """The directory build-guest.sh fills (same default and override as the script)."""
    var, name = GUEST_KINDS[kind]
    if os.environ.get(var):
        return pathlib.Path(os.environ[var])
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return pathlib.Path(cache) / "smolvm" / name


def guest_file(name, kind="cloud"):
    """bzImage, vmlinux or initramfs.gz of a test guest; fails the test if not built."""
    path = guest_dir(kind) / name
    if not path.is_file():
        how = ("tests/guest/build-guest.sh (make guest)" if kind == "cloud" else
               f"SMOLVM_GUEST_KERNEL={kind} tests/guest/build-guest.sh (make guest-{kind})")
        pytest.fail(f"no test guest {path}: run {how} first", pytrace=False)
    return path


@functools.lru_cache(maxsize=None)
def kvm_problem():
    """Why /dev/kvm here cannot boot a Linux guest, or None if it can."""
    if not os.path.exists("/dev/kvm"):
        return "no /dev/kvm"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "/dev/kvm is not readable and writable for this user"
    with open("/proc/cpuinfo") as f:
        flags = re.search(r"^flags\s*:(.*)$", f.read(), re.M)
    if not flags or not {"vmx", "svm"} & set(flags.group(1).split()):
        return ("the CPU shows neither vmx nor svm, so /dev/kvm cannot boot Linux "
                "(run the suite through scripts/with-kvm.sh)")
    return None


def require_kvm():
    """Fails (never skips) a test that boots a guest where no guest can boot."""
    problem = kvm_problem()
    if problem:
        pytest.fail(f"cannot boot a guest here: {problem}", pytrace=False)


# EFI firmware: Debian's OVMF, for the -cd tests (smolvm) and test_nested_efi.py (QEMU).
OVMF_CODE = pathlib.Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
OVMF_VARS = pathlib.Path("/usr/share/OVMF/OVMF_VARS_4M.fd")
# OVMF takes one to two minutes to reach GRUB in the nested machine (each port and MMIO
# access is a round trip through two levels of emulated SVM); a stage that has not come
# within this has hung.
EFI_STAGE_TIMEOUT = float(os.environ.get("SMOLVM_EFI_TIMEOUT", "300"))


def require_efi_ground():
    """Fails (never skips) where EFI firmware cannot run: no KVM, no OVMF, Debian's outer QEMU."""
    require_kvm()
    outer = os.environ.get("SMOLVM_NESTED_QEMU", "patched")
    if outer != "patched":
        pytest.fail(f"the nested machine's outer QEMU is {outer!r}, which aborts or freezes "
                    "under EFI firmware: run this file through scripts/integration.sh "
                    "(make integration), or with SMOLVM_NESTED_QEMU=patched", pytrace=False)
    for f in (OVMF_CODE, OVMF_VARS):
        if not f.is_file():
            pytest.fail(f"no {f}: install Debian's ovmf (scripts/deps.sh)", pytrace=False)


def start_xvfb(timeout=20):
    """An X server of its own (Xvfb from Debian's xvfb) on the first free display from :42.

    Returns (process, DISPLAY); raises RuntimeError if it does not come up in time."""
    for n in range(42, 80):
        if not os.path.exists(f"/tmp/.X11-unix/X{n}") and not os.path.exists(f"/tmp/.X{n}-lock"):
            break
    proc = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while not os.path.exists(f"/tmp/.X11-unix/X{n}"):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise RuntimeError("Xvfb did not start")
        time.sleep(0.05)
    return proc, f":{n}"


def smolvm():
    """The smolvm binary under test ($SMOLVM, default ./smolvm in the repository)."""
    if not os.access(SMOLVM, os.X_OK):
        pytest.fail(f"no smolvm binary at {SMOLVM}: run make (or set SMOLVM)", pytrace=False)
    return SMOLVM


def cpio_newc(files):
    """An uncompressed cpio archive (newc format, as the kernel's initramfs unpacker reads).

    files maps a path inside the guest to str or bytes content, or to (content, mode);
    missing parent directories are added. Ends with the TRAILER!!! entry.
    """
    out = bytearray()
    inode = 1
    mtime = int(time.time())

    def entry(name, mode, data=b""):
        nonlocal inode
        inode += 1
        name_z = name.encode() + b"\0"
        fields = (inode, mode, 0, 0, 2 if mode & 0o040000 else 1, mtime, len(data),
                  0, 0, 0, 0, len(name_z), 0)
        out.extend(b"070701" + "".join(f"{v:08x}" for v in fields).encode() + name_z)
        out.extend(b"\0" * (-len(out) % 4))
        out.extend(data)
        out.extend(b"\0" * (-len(out) % 4))

    dirs = set()
    for path, content in files.items():
        path = path.strip("/")
        parts = path.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if parent not in dirs:
                dirs.add(parent)
                entry(parent, 0o040755)
        mode = 0o644
        if isinstance(content, tuple):
            content, mode = content
        if isinstance(content, str):
            content = content.encode()
        entry(path, 0o100000 | mode, content)
    entry("TRAILER!!!", 0)
    return bytes(out)


@functools.lru_cache(maxsize=None)
def _base_initramfs(kind="cloud"):
    return guest_file("initramfs.gz", kind).read_bytes()


def make_initramfs(dest, script, files=None, kind="cloud"):
    """Writes the test guest's initramfs plus /test.sh (and files) to the file dest.

    The kernel unpacks concatenated archives in turn; an uncompressed one must start
    4-byte aligned, hence the zero padding (which the unpacker skips).
    """
    base = _base_initramfs(kind)
    extra = dict(files or {})
    extra["test.sh"] = (script, 0o755)
    dest = pathlib.Path(dest)
    dest.write_bytes(base + b"\0" * (-len(base) % 4) + cpio_newc(extra))
    return dest


# Where tail() keeps the whole of a log it cut. In the repository, not the test's tmp_path:
# inside the nested machine /tmp is the machine's own and goes with it.
TEST_LOGS = REPO / "build" / "test-logs"


def tail(text, n=3000):
    """The last n characters of text for a failure's message. When that cuts it, the whole
    text goes to a file in build/test-logs, named at the top of what is returned."""
    text = text or ""
    if len(text) <= n:
        return text
    test = os.environ.get("PYTEST_CURRENT_TEST", "log").split(" ")[0]
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", test.rsplit("/", 1)[-1])
    try:
        TEST_LOGS.mkdir(parents=True, exist_ok=True)
        k = 1
        while (TEST_LOGS / f"{stem}-{k}.log").exists():
            k += 1
        path = TEST_LOGS / f"{stem}-{k}.log"
        path.write_text(text)
        where = f"whole log ({len(text)} characters): {path}"
    except OSError as e:
        where = f"the whole log could not be saved: {e}"
    return f"[... {where}]\n" + text[-n:]


@dataclasses.dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def describe(self):
        return (f"exit status {self.returncode} after {self.seconds:.1f} s\n"
                f"--- stdout ---\n{tail(self.stdout)}\n--- stderr ---\n{tail(self.stderr)}")


def _text(data):
    if isinstance(data, bytes):
        return data.decode(errors="replace")
    return data or ""


PROMPT = "guest:/# "  # the test guest's shell prompt (tests/guest/init)
USAGE_HINT = "Try 'smolvm -h' for more information."


def check_refused(r, status, *names, hint=False):
    """Exit status, one stderr line naming each of names, and after it the usage hint when
    hint (a malformed command line) and nothing else. Returns the line."""
    assert r.returncode == status, f"expected exit status {status}\n{r.describe()}"
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    expected = 2 if hint else 1
    assert len(lines) == expected, f"expected {expected} line(s) on stderr\n{r.describe()}"
    if hint:
        assert lines[1] == USAGE_HINT, f"the second line is not the usage hint\n{r.describe()}"
    for name in names:
        assert str(name) in lines[0], f"the message does not name {name!r}\n{r.describe()}"
    return lines[0]


def run_smolvm(args, timeout=BOOT_TIMEOUT, input=None, env=None, wrap=()):
    """Runs smolvm with args (stdin: input or /dev/null) until it exits.

    wrap is a command prefix (e.g. unshare). Kills it and fails the test after timeout.
    """
    cmd = [*wrap, smolvm(), *map(str, args)]
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, input=input.encode() if isinstance(input, str) else input,
                              stdin=None if input is not None else subprocess.DEVNULL,
                              capture_output=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as e:
        timed_out = e
    else:
        return Result(proc.returncode, _text(proc.stdout), _text(proc.stderr),
                      time.monotonic() - start)
    pytest.fail(f"{' '.join(cmd)}\ndid not exit within {timeout} s (killed)\n"
                f"--- stdout ---\n{tail(_text(timed_out.stdout))}\n"
                f"--- stderr ---\n{tail(_text(timed_out.stderr))}", pytrace=False)


def vm_process(pid, timeout=10):
    """The one child of smolvm's supervising process pid, the VM's process."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                children = f.read().split()
        except FileNotFoundError:
            children = []
        if len(children) == 1:
            return int(children[0])
        assert time.monotonic() < deadline, f"smolvm {pid} has children {children}, not one"
        time.sleep(0.05)


class Running:
    """A smolvm process to expect() on: pexpect on pipes, or in a pty (console=True)."""

    def __init__(self, args, timeout, console):
        cmd = smolvm()
        self.args = [str(a) for a in args]
        self.timeout = timeout
        self.console = console
        self.log = ""  # everything read so far, for failure messages
        opts = dict(timeout=timeout, encoding="utf-8", codec_errors="replace")
        if console:
            self.p = pexpect.spawn(cmd, self.args, dimensions=(24, 80), **opts)
        else:
            # Not pexpect's PopenSpawn: its reader polls in a busy loop, which takes the CPU
            # from the guest on the nested machine. fdspawn waits in select().
            self.proc = subprocess.Popen([cmd, *self.args], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            self.p = pexpect.fdpexpect.fdspawn(self.proc.stdout, **opts)

    def _fail(self, what):
        pytest.fail(f"{what}\nsmolvm {' '.join(self.args)}\n--- output ---\n{tail(self.log)}",
                    pytrace=False)

    def expect(self, pattern, timeout=None):
        """Waits for a regex; returns the match. Fails the test if the output does not come
        within timeout or smolvm exits first."""
        timeout = self.timeout if timeout is None else timeout
        index = self.p.expect([pexpect.TIMEOUT, pexpect.EOF, pattern], timeout=timeout)
        self.log += self.p.before or ""
        if index < 2:
            what = "timed out" if index == 0 else "smolvm exited"
            self._fail(f"{what} waiting for {pattern!r} ({timeout} s)")
        self.log += self.p.after
        return self.p.match

    def expect_count(self, pattern, count, timeout=None):
        """Waits until pattern has been seen count times in all."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        for _ in range(count):
            self.expect(pattern, max(0.1, deadline - time.monotonic()))

    def send(self, data):
        if self.console:
            self.p.send(data)
        else:
            self.proc.stdin.write(data.encode())
            self.proc.stdin.flush()

    def sendline(self, line):
        """A line as typed: Enter is CR at a terminal, a newline on a pipe."""
        self.send(line + ("\r" if self.console else "\n"))

    def close_stdin(self):
        """End of file on stdin (pipes only)."""
        self.proc.stdin.close()

    def signal(self, sig):
        if self.console:
            self.p.kill(sig)
        else:
            self.proc.send_signal(sig)

    def wait(self, timeout=None):
        """Waits for smolvm to exit and returns its status (128+N after signal N, as a shell
        shows it). Kills it and fails the test if it does not exit within timeout."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        index = self.p.expect([pexpect.TIMEOUT, pexpect.EOF], timeout=timeout)
        self.log += self.p.before or ""
        if index == 0:
            self.kill()
            self._fail(f"smolvm did not exit within {timeout} s (killed)")
        if not self.console:
            try:
                status = self.proc.wait(timeout=max(1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.kill()
                self._fail(f"smolvm closed its output but did not exit within {timeout} s")
            return 128 - status if status < 0 else status
        # The pty can close before the process is reaped; close() would signal it.
        while self.p.isalive():
            if time.monotonic() > deadline:
                self.kill()
                self._fail(f"smolvm closed its terminal but did not exit within {timeout} s")
            time.sleep(0.05)
        self.p.close()
        if self.p.signalstatus is not None:
            return 128 + self.p.signalstatus
        return self.p.exitstatus

    def alive(self):
        return self.p.isalive() if self.console else self.proc.poll() is None

    def pid(self):
        return self.p.pid if self.console else self.proc.pid

    def vm_pid(self):
        """The VM's process: smolvm's first process only supervises it
        (src/vmm/supervise.c) and starts a new one at each guest reboot."""
        return vm_process(self.pid())

    def has_mapped(self, name):
        """Whether the running VM's process has a file whose path contains name mapped."""
        with open(f"/proc/{self.vm_pid()}/maps") as f:
            return name in f.read()

    def kill(self):
        """SIGKILL if still running (test teardown)."""
        if not self.console:
            if self.proc.poll() is None:
                self.proc.kill()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass  # stuck in the kernel; nothing more a test can do
            for f in (self.proc.stdin, self.proc.stdout):
                try:
                    f.close()
                except OSError:
                    pass
            return
        if self.p.isalive():
            self.p.kill(signal.SIGKILL)
            deadline = time.monotonic() + 10
            while self.p.isalive() and time.monotonic() < deadline:
                time.sleep(0.05)
        try:
            self.p.close(force=True)
        except pexpect.ExceptionPexpect:
            pass


class Guest:
    """Boots the test guest for one test; the `guest` fixture makes one per test."""

    def __init__(self, tmp_path, kind="cloud"):
        self.tmp_path = tmp_path
        self.kind = kind  # which test guest boots (GUEST_KINDS)
        self.running = []
        self._n = 0

    def initramfs(self, script, files=None):
        """A fresh initramfs with /test.sh = script (plus files) in the test's tmp dir."""
        self._n += 1
        return make_initramfs(self.tmp_path / f"initramfs-{self._n}.img", script, files,
                              self.kind)

    def args(self, script=None, files=None, kernel="bzImage", append="", mem="256M", smp=None,
             no_reboot=True, extra=()):
        """smolvm arguments booting the test guest; script None = the interactive shell."""
        require_kvm()
        if script is None:
            initramfs = guest_file("initramfs.gz", self.kind)
        else:
            initramfs = self.initramfs(script, files)
        args = ["-kernel", guest_file(kernel, self.kind), "-initramfs", initramfs,
                "-append", f"{BASE_APPEND} {append}".strip()]
        if mem:
            args += ["-m", mem]
        if smp:
            args += ["-smp", str(smp)]
        if no_reboot:
            args.append("-no-reboot")
        if "-display" not in extra:
            args.append("-nographic")  # no window where $DISPLAY is set, as in CI
        return args + list(extra)

    def run(self, script, timeout=BOOT_TIMEOUT, input=None, **kw):
        """Boots with /test.sh = script and waits for smolvm to exit; returns a Result."""
        return run_smolvm(self.args(script, **kw), timeout=timeout, input=input)

    def start(self, script=None, timeout=BOOT_TIMEOUT, **kw):
        """Boots with stdin and stdout on pipes (stderr joins stdout); returns a Running."""
        vm = Running(self.args(script, **kw), timeout, console=False)
        self.running.append(vm)
        return vm

    def console(self, script=None, timeout=BOOT_TIMEOUT, **kw):
        """Boots in a pseudo-terminal, as at a user's terminal; returns a Running."""
        vm = Running(self.args(script, **kw), timeout, console=True)
        self.running.append(vm)
        return vm

    def shell(self, append=""):
        """The test guest's interactive shell at a terminal, at its prompt."""
        vm = self.console(append=append)
        vm.expect("smolvm test guest")
        vm.expect(PROMPT)
        return vm

    def cleanup(self):
        for vm in self.running:
            vm.kill()


def check_output(result, *markers, status=0):
    """Asserts the exit status and that each marker appears in stdout, with a useful message."""
    assert result.returncode == status, f"expected exit status {status}\n{result.describe()}"
    for marker in markers:
        assert marker in result.stdout, f"no {marker!r} in the output\n{result.describe()}"


def marker_value(result, name):
    """The text after "name=" on a line of the output (the tests print NAME=value lines)."""
    m = re.search(rf"^{re.escape(name)}=(.*?)\r?$", result.stdout, re.M)
    assert m, f"no {name}= line in the output\n{result.describe()}"
    return m.group(1)


def show(capsys, text):
    """Prints a test's figures (timings, outcomes) past pytest's capture, so the log of
    `make integration` has them whether the test passes or not."""
    with capsys.disabled():
        print(f"\n{text}", flush=True)

"""The sandbox (src/sandbox/): every thread of the VM's process runs under the seccomp filter
of its kind, with no_new_privs and no capabilities; a forbidden system call ends smolvm with
status 159 and one line naming the thread's kind and the call. SMOLVM_SANDBOX_SELFTEST=KIND
makes the first thread of that kind make one (process_vm_readv, which no filter allows).
A guest reboot starts a fresh process (src/vmm/supervise.c), sandboxed again."""

import os
import re
import signal
import termios
import time

import pexpect
import pytest

import vmtest
from test_window import xvfb  # noqa: F401 (a fixture)
from vmtest import check_output, run_smolvm

VIOLATION = 159
# Brings up every device's thread: the console's and rng's workers start at boot, the
# network thread when eth0's driver is ready, the block and virtio-fs workers on first use.
BUSY_SCRIPT = """
ip link set eth0 up
mkdir -p /mnt && mount -t virtiofs share /mnt && ls /mnt >/dev/null
dd if=/dev/vda of=/dev/null bs=4k count=16 2>/dev/null
echo "SANDBOX-SURVIVED"
"""


def line_for(kind):
    return f"smolvm: sandbox: {kind} thread made forbidden system call process_vm_readv"


def busy_devices(tmp_path):
    """A disk and a share, so that every kind of device thread starts."""
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\0" * (1 << 20))
    share = tmp_path / "share"
    share.mkdir(exist_ok=True)
    return ["-drive", f"file={disk}", "-share", "share", str(share)]


def busy_args(guest, tmp_path):
    return guest.args(BUSY_SCRIPT, extra=busy_devices(tmp_path))


def selftest_env(kind):
    return dict(os.environ, SMOLVM_SANDBOX_SELFTEST=kind)


@pytest.mark.parametrize("kind", ["vcpu", "device", "net", "main"])
def test_each_thread_kind_dies_of_a_forbidden_call(guest, tmp_path, kind):
    r = run_smolvm(busy_args(guest, tmp_path), env=selftest_env(kind))
    assert r.returncode == VIOLATION, r.describe()
    assert line_for(kind) in r.stderr.splitlines(), r.describe()
    assert "SANDBOX-SURVIVED" not in r.stdout, r.describe()


def test_the_window_thread_dies_of_a_forbidden_call(std_guest, xvfb):  # noqa: F811
    args = std_guest.args("echo SANDBOX-SURVIVED; sleep 60", extra=["-display", "sdl"],
                          mem="512M")
    r = run_smolvm(args, env=selftest_env("window"))
    assert r.returncode == VIOLATION, r.describe()
    assert line_for("window") in r.stderr.splitlines(), r.describe()


def terminal_is_cooked(vm):
    """Whether smolvm's terminal (the pty pexpect holds) is back in its cooked mode."""
    lflag = termios.tcgetattr(vm.p.child_fd)[3]
    return bool(lflag & termios.ICANON) and bool(lflag & termios.ECHO)


@pytest.mark.parametrize("kind", ["vcpu", "main"])
def test_the_terminal_comes_back_after_a_violation(guest, monkeypatch, kind):
    # The thread dies in raw mode, from a signal handler: the supervisor restores the mode.
    monkeypatch.setenv("SMOLVM_SANDBOX_SELFTEST", kind)
    vm = guest.console("sleep 600")
    vm.p.expect(pexpect.EOF, timeout=vm.timeout)
    assert terminal_is_cooked(vm), "the terminal stayed in raw mode"
    assert line_for(kind) in vm.p.before, vm.p.before
    assert vm.wait() == VIOLATION


def test_the_terminal_comes_back_after_a_crash(guest):
    vm = guest.console("echo 'CRASH-''READY'; sleep 600")
    vm.expect("CRASH-READY")
    assert not terminal_is_cooked(vm), "smolvm did not put its terminal in raw mode"
    os.kill(vm.vm_pid(), signal.SIGSEGV)
    vm.p.expect(pexpect.EOF, timeout=60)
    assert terminal_is_cooked(vm), "the terminal stayed in raw mode"
    assert vm.wait() == 128 + signal.SIGSEGV


def test_sandbox_off_lets_the_same_call_through(guest, tmp_path):
    # Without a filter the self-test's call is harmless (no process 0): the guest runs on.
    for kind in ("vcpu", "device", "net", "main"):
        r = run_smolvm([*busy_args(guest, tmp_path), "-sandbox", "off"],
                       env=selftest_env(kind))
        check_output(r, "SANDBOX-SURVIVED")
        assert "sandbox" not in r.stderr, r.describe()


def test_a_bad_selftest_kind_is_refused(guest):
    r = run_smolvm(guest.args("true"), env=selftest_env("gpu"))
    vmtest.check_refused(r, 2, "SMOLVM_SANDBOX_SELFTEST", "'gpu'")


def status_fields(path):
    with open(path) as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def threads(pid):
    """{thread name: [status fields of each thread of that name]} of process pid."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            out.setdefault(name, []).append(status_fields(f"/proc/{pid}/task/{tid}/status"))
        except FileNotFoundError:
            pass  # a worker that ended
    return out


def ram_mapping_flags(pid, size):
    """The VmFlags of the mapping of guest RAM (the one of its size) in /proc/pid/smaps."""
    flags, cur = None, 0
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) ", line)
            if m:
                cur = int(m.group(2), 16) - int(m.group(1), 16)
            elif line.startswith("VmFlags:") and cur == size:
                flags = line.split()[1:]
    return flags


def wait_for_threads(pid, names, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        got = threads(pid)
        if all(n in got for n in names) or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def test_proc_status_shows_every_thread_sandboxed(guest, tmp_path):
    script = BUSY_SCRIPT + "echo SANDBOX-READY; sleep 600\n"
    vm = guest.start(script, extra=busy_devices(tmp_path))
    vm.expect("SANDBOX-READY")
    pid = vm.vm_pid()
    main = status_fields(f"/proc/{pid}/status")
    assert main["Seccomp"] == "2", main
    assert int(main["Seccomp_filters"]) >= 1, main
    assert main["NoNewPrivs"] == "1", main
    assert int(main["CapEff"], 16) == 0 and int(main["CapPrm"], 16) == 0, main
    got = wait_for_threads(pid, ["vcpu0", "virtio-net", "virtio-fs"])
    for name, sts in got.items():
        for st in sts:
            assert st["Seccomp"] == "2", f"thread {name} is not filtered: {st}"
            assert st["NoNewPrivs"] == "1", f"thread {name}: {st}"
    # A worker carries the vCPU thread's filter that started it, and its own.
    assert got["vcpu0"][0]["Seccomp_filters"] == "1", got["vcpu0"]
    assert int(got["virtio-net"][0]["Seccomp_filters"]) == 2, got["virtio-net"]
    assert all(int(st["Seccomp_filters"]) == 2 for st in got["virtio-fs"]), got["virtio-fs"]
    # Only the share's file capabilities (as root), and only in the vCPU threads and the
    # device workers they start; none in the main loop and the network thread.
    file_caps = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 27)
    for name, sts in got.items():
        for st in sts:
            allowed = 0 if name in ("smolvm", "virtio-net") else file_caps
            assert int(st["CapEff"], 16) & ~allowed == 0, f"thread {name}: {st['CapEff']}"
    # The guest's RAM never goes into a core dump.
    flags = ram_mapping_flags(pid, 256 << 20)
    assert flags is not None, "no mapping of guest RAM's size in smaps"
    assert "dd" in flags, f"guest RAM is not MADV_DONTDUMP: {flags}"
    vm.kill()


def test_no_share_no_capability(guest):
    vm = guest.start("echo SANDBOX-READY; sleep 600")
    vm.expect("SANDBOX-READY")
    pid = vm.vm_pid()
    for name, sts in threads(pid).items():
        for st in sts:
            assert int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0, (name, st)
            assert st["Seccomp"] == "2", (name, st)
    vm.kill()


def test_reboot_starts_a_fresh_sandboxed_process(guest):
    vm = guest.start('echo "BOOT-MARKER-$((1+1))"; reboot -f', no_reboot=False, timeout=120)
    vm.expect("BOOT-MARKER-2")
    first = vm.vm_pid()
    vm.expect("BOOT-MARKER-2")
    deadline = time.monotonic() + 30
    while (second := vm.vm_pid()) == first and time.monotonic() < deadline:
        time.sleep(0.1)
    assert second != first, "the second boot runs in the first one's process"
    st = status_fields(f"/proc/{second}/status")
    assert st["Seccomp"] == "2" and st["NoNewPrivs"] == "1", st
    assert vm.alive(), "smolvm exited instead of rebooting the guest"
    vm.kill()

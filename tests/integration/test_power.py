"""The ACPI power button and the monitor: system_powerdown and SIGTERM press the button, the
guest's acpid runs /etc/acpi/PWRF/00000080 (tests/guest/power-button.sh), which prints a
marker and powers off, and smolvm exits 0. A guest that ignores the button is stopped after
-shutdown-timeout with 143. The monitor answers one line per command, whatever its clients do.
"""

import os
import signal
import socket
import stat
import time

from vmtest import check_refused, guest_file, run_smolvm

HANDLER_MARKER = "guest-acpi: power button pressed, powering off"  # power-button.sh
# The guest waits for the button; it prints a tick now and then to show it still runs.
WAIT_SCRIPT = """
echo POWER-READY
i=0
while [ $i -lt 600 ]; do i=$((i+1)); echo "TICK-$i"; sleep 1; done
echo POWER-NEVER-PRESSED
"""


class Monitor:
    """One client of smolvm's -monitor socket: a line out, a line back."""

    def __init__(self, path, timeout=30):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def readline(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(4096)
            assert chunk, f"the monitor closed the connection; unanswered: {self.buf!r}"
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def command(self, line):
        self.send(line.encode() + b"\n")
        return self.readline()

    def close(self):
        self.sock.close()


def boot_with_monitor(guest, tmp_path, script=WAIT_SCRIPT, extra=()):
    path = tmp_path / "monitor.sock"
    vm = guest.start(script, extra=["-monitor", f"unix:{path}", *extra])
    vm.expect("POWER-READY")
    return vm, path


def test_system_powerdown_runs_the_guests_acpid_handler(guest, tmp_path):
    vm, path = boot_with_monitor(guest, tmp_path)
    mon = Monitor(path)
    assert mon.command("info status") == "running"
    assert mon.command("system_powerdown") == "ok"
    vm.expect(HANDLER_MARKER, timeout=60)
    assert vm.wait(timeout=60) == 0, vm.log
    assert "POWER-NEVER-PRESSED" not in vm.log
    assert not path.exists(), "smolvm left its monitor socket behind"


def test_sigterm_runs_the_guests_acpid_handler(guest):
    vm = guest.start(WAIT_SCRIPT)
    vm.expect("POWER-READY")
    vm.signal(signal.SIGTERM)
    vm.expect(HANDLER_MARKER, timeout=60)
    assert vm.wait(timeout=60) == 0, vm.log


def test_guest_ignoring_the_button_is_stopped_after_the_timeout(guest):
    script = "killall acpid\n" + WAIT_SCRIPT
    vm = guest.start(script, extra=["-shutdown-timeout", "5"])
    vm.expect("POWER-READY")
    start = time.monotonic()
    vm.signal(signal.SIGTERM)
    status = vm.wait(timeout=90)
    seconds = time.monotonic() - start
    assert status == 128 + signal.SIGTERM, vm.log
    assert seconds >= 4.5, f"stopped {seconds:.1f} s after SIGTERM, before the timeout\n{vm.log}"
    assert HANDLER_MARKER not in vm.log
    assert "did not power off within 5 s" in vm.log
    # The guest ran on until it was stopped: it is the timeout that ended it.
    assert "TICK-3" in vm.log, vm.log


def test_second_sigterm_stops_at_once(guest):
    vm = guest.start("killall acpid\n" + WAIT_SCRIPT)  # default timeout: 30 s
    vm.expect("POWER-READY")
    vm.signal(signal.SIGTERM)
    time.sleep(0.5)
    start = time.monotonic()
    vm.signal(signal.SIGTERM)
    assert vm.wait(timeout=20) == 128 + signal.SIGTERM, vm.log
    assert time.monotonic() - start < 15, vm.log


def test_monitor_quit_exits_zero_and_removes_the_socket(guest, tmp_path):
    vm, path = boot_with_monitor(guest, tmp_path)
    assert stat.S_ISSOCK(path.stat().st_mode)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    mon = Monitor(path)
    assert mon.command("info status") == "running"
    assert mon.command("quit") == "ok"
    assert vm.wait(timeout=30) == 0, vm.log
    assert HANDLER_MARKER not in vm.log  # quit stops the VM; it does not ask the guest
    assert not path.exists(), "smolvm left its monitor socket behind"


def test_monitor_survives_hostile_clients(guest, tmp_path):
    vm, path = boot_with_monitor(guest, tmp_path)
    # A line far past the limit: one error, then the next line is served as usual.
    a = Monitor(path)
    a.send(b"x" * 5000 + b"\n")
    assert a.readline().startswith("error: line longer than")
    assert a.command("info status") == "running"
    # Junk and unknown commands: one error line each.
    assert a.command("no_such_command \x01\x7f").startswith("error: unknown command")
    assert a.command("quit please").startswith("error: quit takes no arguments")
    a.send(b"\n  \t\r\n")  # blank lines get no answer...
    assert a.command("info status") == "running"  # ...so this is the next reply
    # A client that sends a flood of commands and never reads its answers.
    flood = Monitor(path)
    flood.sock.setblocking(False)
    sent = 0
    try:
        while sent < 4 << 20:
            sent += flood.sock.send(b"info status\n" * 1000)
    except BlockingIOError:
        pass
    # Others are still served, and the guest still runs (no vCPU waits on the monitor).
    clients = [Monitor(path) for _ in range(5)]
    for c in clients:
        assert c.command("info status") == "running"
    ticks = vm.expect(r"TICK-(\d+)").group(1)
    vm.expect(f"TICK-{int(ticks) + 2}", timeout=30)
    # 8 clients at once at most (a, flood and 5 others make 7): the 9th hears why it is refused.
    eighth = Monitor(path)
    assert eighth.command("info status") == "running"
    ninth = Monitor(path)
    assert ninth.readline() == "error: too many monitor clients"
    ninth.close()
    # One leaving makes room again.
    eighth.close()
    time.sleep(0.5)
    again = Monitor(path)
    assert again.command("info status") == "running"
    assert a.command("quit") == "ok"
    assert vm.wait(timeout=30) == 0, vm.log
    assert not path.exists()


def test_monitor_refuses_an_existing_file(tmp_path):
    path = tmp_path / "not-a-socket"
    path.write_text("precious\n")
    r = run_smolvm(["-kernel", guest_file("bzImage"), "-monitor", f"unix:{path}"], timeout=20)
    check_refused(r, 2, path)
    assert path.read_text() == "precious\n", "smolvm touched a file that is not its socket"
    os.unlink(path)

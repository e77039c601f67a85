"""The serial console: a user at a terminal (pexpect in a pty), and stdin/stdout as pipes."""

import signal

import pytest

from vmtest import PROMPT

# Lines end in \r\n from the guest's terminal; a host terminal left with output processing
# on makes that \r\r\n: patterns match either.


def test_shell_runs_a_command_and_exit_powers_off(guest):
    vm = guest.shell()
    vm.sendline("echo $((6*7))")
    vm.expect(r"\n42\r*\n")
    vm.expect(PROMPT)
    vm.sendline("exit")
    assert vm.wait(timeout=20) == 0, vm.log


def test_ctrl_c_interrupts_the_guest_command_not_smolvm(guest):
    vm = guest.shell()
    # The marker comes from the foreground job itself, so Ctrl-C cannot race its start.
    # (The quotes keep the echo of the typed line from matching.)
    vm.sendline("sh -c 'echo SLEEP\"\"ING; exec sleep 100'")
    vm.expect("SLEEPING")
    vm.send("\x03")
    vm.expect(PROMPT, timeout=20)
    # Still sleeping, the shell would not answer this for 100 s.
    vm.sendline("echo CTRL-C-$((1+1))")
    vm.expect("CTRL-C-2", timeout=20)
    assert vm.alive()


def test_line_editing(guest):
    vm = guest.shell()
    vm.send("echo abcX")
    vm.send("\x7f")  # Backspace
    vm.send("def\r")
    vm.expect(r"\nabcdef\r*\n")
    vm.expect(PROMPT)
    vm.send("echo 13")
    vm.send("\x1b[D")  # Left arrow
    vm.send("2\r")
    vm.expect(r"\n123\r*\n")


def test_ctrl_a_h_prints_help_and_the_guest_goes_on(guest):
    vm = guest.shell()
    vm.send("\x01h")
    vm.expect(r"(?i)(quit|exit)", timeout=10)
    vm.sendline("echo AFTER-HELP-$((2+3))")
    vm.expect("AFTER-HELP-5")


def test_ctrl_a_x_quits_with_status_zero(guest):
    vm = guest.shell()
    vm.send("\x01x")
    assert vm.wait(timeout=10) == 0, vm.log


def test_ctrl_a_ctrl_a_sends_a_literal_ctrl_a(guest):
    vm = guest.shell()
    # Prints the bytes read in hex between A and Z: "A01Z" for one Ctrl-A.
    vm.sendline("echo READ\"\"Y; read -r x; echo \"A$(printf %s \"$x\" | od -An -tx1 | tr -d ' ')Z\"")
    vm.expect("READY")
    vm.send("\x01\x01\r")
    vm.expect("A01Z", timeout=10)
    assert vm.alive()


def test_piped_input_reaches_the_guest(guest):
    vm = guest.start('echo "READY-FOR-INPUT"; read line; echo "GOT:$line:END"')
    vm.expect("READY-FOR-INPUT")
    vm.sendline("piped-hello")
    vm.expect("GOT:piped-hello:END")
    assert vm.wait() == 0, vm.log


def test_end_of_input_does_not_stop_the_guest(guest):
    # stdin at end of file from the start: the guest runs on and powers off by itself.
    r = guest.run('echo "EOF-START"; sleep 2; echo "STILL-RUNNING"', input="")
    assert r.returncode == 0, r.describe()
    assert "STILL-RUNNING" in r.stdout, r.describe()


# SIGINT and SIGHUP stop the VM at once; SIGTERM presses the guest's power button, whose
# handler powers it off (test_power.py has the rest of that).
@pytest.mark.parametrize("sig,status", [(signal.SIGTERM, 0), (signal.SIGINT, 130),
                                        (signal.SIGHUP, 129)])
def test_signal_stops_smolvm_when_stdin_is_not_a_terminal(guest, sig, status):
    vm = guest.start('echo "WAITING-FOR-SIGNAL"; sleep 1000')
    vm.expect("WAITING-FOR-SIGNAL")
    vm.signal(sig)
    assert vm.wait(timeout=10) == status, vm.log
    if sig == signal.SIGTERM:
        assert "guest-acpi: power button pressed" in vm.log, vm.log

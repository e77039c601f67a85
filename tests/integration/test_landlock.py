"""The Landlock sandbox (-sandbox on, the default): once setup is done smolvm reaches only its
shares (read-only ones read-only) and the monitor socket's directory, in every thread.

SMOLVM_SANDBOX_PROBE makes smolvm try opens of its own once restricted and print each outcome:
that shows the rules themselves, beneath the FUSE server's own checks (a read-only share is
not writable even by smolvm's own code). The guest then tries to get out of its share, with the
share inside a directory that holds a secret beside it; one escape the FUSE server alone does
not stop (a directory the host moves out of the share while the guest holds it) runs with
-sandbox off too, where it does get out, so the test can fail.
"""

import ctypes
import os
import pathlib

import pytest

import vmtest

SECRET = "TOP-SECRET-7f3a"
SECRET2 = "MOVED-SECRET-91c4"
SYS_LANDLOCK_CREATE_RULESET = 444


def landlock_abi():
    """The kernel's Landlock ABI version, or 0: the one this machine's smolvm would use."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    abi = libc.syscall(ctypes.c_long(SYS_LANDLOCK_CREATE_RULESET), None, ctypes.c_size_t(0),
                       ctypes.c_uint32(1))
    return max(abi, 0)


def require_landlock():
    if landlock_abi() < 1:
        pytest.fail("this kernel has no Landlock (the nested machine's Debian kernel has it): "
                    "nothing to test", pytrace=False)


def make_tree(tmp_path):
    """parent/secret beside parent/share (read-write) and a read-only share elsewhere."""
    parent = tmp_path / "parent"
    share = parent / "share"
    share.mkdir(parents=True)
    (parent / "secret").write_text(SECRET + "\n")
    (share / "inside").write_text("inside the share\n")
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "file").write_text("read-only share\n")
    mon = tmp_path / "mon"
    mon.mkdir()
    return parent, share, ro, mon


def threads(pid):
    """(name, NoNewPrivs) of each of the process's threads; KVM's kernel workers left out."""
    out = []
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        try:
            status = (task / "status").read_text()
        except FileNotFoundError:
            continue  # it has just exited
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        if not fields["Name"].startswith("kvm-"):
            out.append((fields["Name"].strip(), fields["NoNewPrivs"].strip()))
    return out


PROBE_SCRIPT = r"""
mkdir -p /rw /ro
mount -t virtiofs rw /rw && mount -t virtiofs ro /ro || echo MOUNT-FAILED
cat /ro/file > /dev/null
echo from-guest > /rw/guest-made
echo WORKERS-RUNNING
read line
umount /rw /ro
echo PROBE-DONE
"""


@pytest.mark.parametrize("sandbox", ["on", "off"])
def test_landlock_rules_hold_in_every_thread(guest, tmp_path, monkeypatch, sandbox):
    """(a) and (c): what smolvm itself may open once restricted, and every thread restricted."""
    require_landlock()
    parent, share, ro, mon = make_tree(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probes = {
        f"r:{parent}/secret": "Permission denied",
        f"r:{share}/../secret": "Permission denied",
        "r:/etc/passwd": "Permission denied",
        f"r:{share}/inside": "ok",
        f"c:{share}/made-by-smolvm": "ok",
        f"r:{ro}/file": "ok",
        f"w:{ro}/file": "Permission denied",  # (c): even smolvm's own code cannot write it
        f"c:{ro}/new": "Permission denied",
        f"c:{mon}/dump.ppm": "ok",  # screendumps go beside the monitor's socket
        f"r:{mon}/dump.ppm": "Permission denied",  # ... which is not readable
        f"c:{elsewhere}/dump.ppm": "Permission denied",
    }
    monkeypatch.setenv("SMOLVM_SANDBOX_PROBE", "\n".join(probes))
    vm = guest.start(PROBE_SCRIPT, extra=["-share", "rw", share, "-share", "ro", f"{ro},readonly",
                                          "-monitor", f"unix:{mon}/m.sock", "-sandbox", sandbox],
                     timeout=180)
    vm.expect("WORKERS-RUNNING")
    seen = threads(vm.vm_pid())
    vm.sendline("go")
    vm.expect("PROBE-DONE")
    assert vm.wait() == 0, vm.log
    assert "MOUNT-FAILED" not in vm.log, vm.log
    names = [name for name, _ in seen]
    assert "vcpu0" in names and "virtio-fs" in names, f"threads: {seen}"
    if sandbox == "on":
        for probe, outcome in probes.items():
            assert f"sandbox probe: {probe}: {outcome}" in vm.log, vm.log
        assert all(nnp == "1" for _, nnp in seen), f"a thread without no_new_privs: {seen}"
        assert not (ro / "new").exists()
    else:
        for probe in probes:
            assert f"sandbox probe: {probe}: ok" in vm.log, vm.log
        assert all(nnp == "0" for _, nnp in seen), f"threads: {seen}"
    assert (share / "guest-made").read_text() == "from-guest\n"
    assert not (mon / "m.sock").exists(), "the monitor's socket was left behind"


ESCAPE_SCRIPT = r"""
mkdir -p /mnt
mount -t virtiofs share /mnt || echo MOUNT-FAILED
try() { echo "TRY $*: $(sh -c "$*" 2>&1 | head -c 200 | tr '\n' ' ')"; }
# Symbolic links the host made: the guest resolves them in its own file system.
try cat /mnt/esc /mnt/abs /mnt/up/secret /mnt/absdir/secret
try readlink /mnt/esc /mnt/abs /mnt/up /mnt/absdir
try cat /mnt/../secret
try ls -a /mnt/..
# Links and renames out of the share.
try ln -s ../secret /mnt/mine
try cat /mnt/mine
try ln /mnt/esc /mnt/hard-to-symlink
try cat /mnt/hard-to-symlink
try mv /mnt/inside /mnt/../escaped
try ls /escaped
try mkdir /mnt/d
try mv /mnt/d /mnt/../d-out
# A directory the host moves out of the share while the guest is in it.
mkdir -p /mnt/sub && echo sub-file > /mnt/sub/f
cd /mnt/sub
echo HOLDING-SUB
read line
try cat secret2
try ls -a .
try 'echo planted > planted'
try cat ../secret
try 'ln -s secret2 link; cat link'
cd /
umount /mnt
echo ESCAPES-DONE
"""


@pytest.mark.parametrize("sandbox", ["on", "off"])
def test_guest_cannot_escape_the_share(guest, tmp_path, sandbox):
    """(b): every way out of the share the guest has, the secret beside it never read or
    changed. Without the sandbox, only the moved directory's file leaks: that one the FUSE
    server's own checks cannot stop (its descriptor of the directory moved too)."""
    require_landlock()
    parent, share, _, _ = make_tree(tmp_path)
    os.symlink("../secret", share / "esc")
    os.symlink(parent / "secret", share / "abs")
    os.symlink("..", share / "up")
    os.symlink(parent, share / "absdir")
    before = sorted(os.listdir(parent))
    vm = guest.start(ESCAPE_SCRIPT, extra=["-share", "share", share, "-sandbox", sandbox],
                     timeout=180)
    vm.expect("HOLDING-SUB")
    (share / "sub").rename(parent / "moved")
    (parent / "moved" / "secret2").write_text(SECRET2 + "\n")
    vm.sendline("go")
    vm.expect("ESCAPES-DONE")
    assert vm.wait() == 0, vm.log
    assert "MOUNT-FAILED" not in vm.log, vm.log
    assert SECRET not in vm.log, f"the guest read the secret\n{vm.log}"
    assert (parent / "secret").read_text() == SECRET + "\n"
    assert sorted(os.listdir(parent)) == sorted(before + ["moved"]), os.listdir(parent)
    assert not (parent / "escaped").exists() and not (parent / "d-out").exists()
    moved = sorted(os.listdir(parent / "moved"))
    if sandbox == "on":
        assert SECRET2 not in vm.log, f"the guest read a file outside its share\n{vm.log}"
        assert moved == ["f", "secret2"], f"the guest changed a directory outside: {moved}"
    else:
        # The gap Landlock closes: proof that this test sees an escape when there is one.
        assert SECRET2 in vm.log, vm.log


REBOOT_SCRIPT = r"""
mkdir -p /mnt
mount -t virtiofs share /mnt || echo MOUNT-FAILED
if [ -e /mnt/booted-once ]; then
	echo SECOND-BOOT
else
	touch /mnt/booted-once
	echo FIRST-BOOT
	umount /mnt
	reboot -f
fi
"""


def test_reboot_stays_in_the_sandbox(guest, tmp_path, monkeypatch):
    """A guest reboot re-executes smolvm inside the same Landlock domain (a domain is never
    lifted): the new process still starts (kernel, initramfs, /dev/kvm, the share) and is
    still confined."""
    require_landlock()
    parent, share, _, _ = make_tree(tmp_path)
    probes = [f"r:{parent}/secret", f"r:{share}/inside"]
    monkeypatch.setenv("SMOLVM_SANDBOX_PROBE", "\n".join(probes))
    r = vmtest.run_smolvm(guest.args(REBOOT_SCRIPT, no_reboot=False,
                                     extra=["-share", "share", share]), timeout=240)
    assert r.returncode == 0, r.describe()
    assert "FIRST-BOOT" in r.stdout and "SECOND-BOOT" in r.stdout, r.describe()
    assert "MOUNT-FAILED" not in r.stdout, r.describe()
    assert r.stderr.count(f"sandbox probe: {probes[0]}: Permission denied") == 2, r.describe()
    assert r.stderr.count(f"sandbox probe: {probes[1]}: ok") == 2, r.describe()

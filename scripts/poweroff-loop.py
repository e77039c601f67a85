#!/usr/bin/python3
"""poweroff-loop.py: power the test guest off in the middle of a UDP flood (test_net.py's
test_guest_powers_off_while_sending), many times, and count the guests that never exit.

Usage: scripts/with-kvm.sh /usr/bin/python3 scripts/poweroff-loop.py N [VMM] [HOW]
  N     boots (-smp 2, user networking)
  VMM   smolvm (default) or qemu (-M pc with virtio-net-pci, the same kernel and initramfs:
        a hang both share is the guest's, not smolvm's)
  HOW   shutdown (default): the guest's own /sbin/guest-shutdown (tests/guest/shutdown.sh);
        raw: `poweroff -f` with the flood still sending, as the test guest did before
Debian 12's kernel spins for ever on a packet sent after it broke its virtio queues for the
power-off (tests/integration/README.md has the results). A guest that has not exited 60 s
after it started counts as hung. Each console goes to build/poweroff-loop/VMM-HOW-I.log
(in the repository: inside the nested machine /tmp is the machine's own).
"""
import os
import pathlib
import socket
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests/integration"))
import vmtest  # noqa: E402
from test_net import NETTOOL, SEND_AT_POWEROFF_SCRIPT  # noqa: E402

vmm = sys.argv[2] if len(sys.argv) > 2 else "smolvm"
how = sys.argv[3] if len(sys.argv) > 3 else "shutdown"
if len(sys.argv) < 2 or not sys.argv[1].isdigit() or vmm not in ("smolvm", "qemu") or \
        how not in ("shutdown", "raw"):
    print("usage: poweroff-loop.py N [smolvm|qemu] [shutdown|raw]", file=sys.stderr)
    sys.exit(2)
n = int(sys.argv[1])
tmp = pathlib.Path(os.environ.get("TMPDIR", "/tmp"))
logs = vmtest.REPO / "build" / "poweroff-loop"
logs.mkdir(parents=True, exist_ok=True)
sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # nobody reads it
sink.bind(("127.0.0.1", 0))
# test_net.py's guest: a flood in the background, then the script ends and /init shuts down.
script = SEND_AT_POWEROFF_SCRIPT.format(sink=sink.getsockname()[1])
if how == "raw":
    script += "busybox poweroff -f\n"
initrd = vmtest.make_initramfs(tmp / "poweroff-loop-initrd.img", script,
                               {"bin/nettool": (NETTOOL.read_bytes(), 0o755)})
kernel, append = str(vmtest.guest_file("bzImage")), "console=ttyS0 panic=-1"
if vmm == "smolvm":
    cmd = [os.environ.get("SMOLVM", "./smolvm"), "-kernel", kernel, "-initramfs", str(initrd),
           "-append", append, "-m", "256M", "-smp", "2", "-no-reboot", "-nographic",
           "-net", "user"]
else:
    cmd = ["qemu-system-x86_64", "-enable-kvm", "-cpu", "host", "-M", "pc", "-m", "256M",
           "-smp", "2", "-no-reboot", "-display", "none", "-nodefaults", "-serial", "stdio",
           "-kernel", kernel, "-initrd", str(initrd), "-append", append,
           "-netdev", "user,id=n0,net=192.168.64.0/24,host=192.168.64.1",
           "-device", "virtio-net-pci,netdev=n0"]
hung = 0
for i in range(n):
    start = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    try:
        out, _ = p.communicate(timeout=60)
        state = f"exit {p.returncode}"
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        state, hung = "HUNG", hung + 1
    text = out.decode(errors="replace")
    if "STILL-SENDING=yes" not in text:
        state += " (the flood never started)"
    (logs / f"{vmm}-{how}-{i}.log").write_text(text)
    print(f"boot {i}: {state}, {time.monotonic() - start:.0f} s", flush=True)
print(f"poweroff-loop: {vmm}, {how}: {hung} of {n} hung")
sys.exit(1 if hung else 0)

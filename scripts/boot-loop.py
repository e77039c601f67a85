#!/usr/bin/python3
"""boot-loop.py: boot the test guest many times and count the boots that died.

Usage: scripts/with-kvm.sh /usr/bin/python3 scripts/boot-loop.py N SMP [KERNEL] [VMM]
  N       boots; SMP: vCPUs; KERNEL: bzImage or vmlinux (PVH, the default)
  VMM     smolvm (default) or qemu (microvm, the same kernel and initramfs: a failure both
          share is the machine's, not smolvm's)
Each boot prints NPROC and powers off; one that does not (or exits non-zero) is printed with
the end of its console and stderr. Made for issue 10's PVH -smp 4 deaths
(tests/integration/README.md has the results).
"""
import os
import pathlib
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests/integration"))
import vmtest  # noqa: E402

n, smp = int(sys.argv[1]), sys.argv[2]
kernel = sys.argv[3] if len(sys.argv) > 3 else "vmlinux"
vmm = sys.argv[4] if len(sys.argv) > 4 else "smolvm"
guest = pathlib.Path(vmtest.guest_file(kernel)).parent
initrd = pathlib.Path(os.environ.get("TMPDIR", "/tmp")) / "boot-loop-initrd.img"
vmtest.make_initramfs(initrd, 'echo "NPROC=$(nproc)"\n')
append = "console=ttyS0 earlyprintk=serial panic=-1"
if vmm == "smolvm":
    cmd = [os.environ.get("SMOLVM", "./smolvm"), "-nographic", "-no-reboot", "-m", "256M",
           "-smp", smp, "-append", append]
else:
    cmd = ["qemu-system-x86_64", "-enable-kvm", "-cpu", "host", "-M", "microvm,acpi=on",
           "-nodefaults", "-display", "none", "-serial", "stdio", "-no-reboot", "-m", "256M",
           "-smp", smp, "-append", append]
cmd += ["-kernel", str(guest / kernel), "-initramfs" if vmm == "smolvm" else "-initrd", str(initrd)]
died = 0
for i in range(n):
    start = time.monotonic()
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       errors="replace", timeout=600)
    ok = r.returncode == 0 and f"NPROC={smp}" in r.stdout
    died += not ok
    print(f"boot {i}: exit {r.returncode}, {'ok' if ok else 'DIED'}, "
          f"{time.monotonic() - start:.0f} s", flush=True)
    if not ok:
        print(f"--- console ---\n{r.stdout[-1500:]}\n--- stderr ---\n{r.stderr[-2500:]}", flush=True)
print(f"boot-loop: {vmm} {kernel} -smp {smp}: {n - died} of {n} booted")
sys.exit(1 if died else 0)

"""Where boot time goes: smolvm's SMOLVM_STATS table and the guest's own timeline.

Not part of `make bench` (it measures, it does not compare): run it where /dev/kvm boots
Linux, e.g. `scripts/with-kvm.sh /usr/bin/python3 bench/profile_boot.py`. It boots bench_boot's
guest under smolvm with SMOLVM_STATS=1 and prints the table; then boots it under smolvm and
QEMU pc with printk.time=1, has the guest print its kernel log (dmesg) before it powers off,
and prints, for each, the longest gaps between consecutive kernel messages and when
the kernel reached init. PROFILE_APPEND adds to the kernel command line of every run.
"""

import os
import re
import subprocess
import sys
import time

import benchlib as b

MEM = "512M"
EXTRA_APPEND = os.environ.get("PROFILE_APPEND", "")
GAPS = int(os.environ.get("PROFILE_GAPS", "12"))
STAMP = re.compile(r"^\[\s*(\d+\.\d+)\] (.*)$")


def append(extra=""):
    return " ".join(x for x in (b.APPEND, "printk.time=1", EXTRA_APPEND, extra) if x)


def stats_run(initrd):
    cmd = b.smolvm_cmd(initrd, MEM, append=append())
    start = time.monotonic()
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=300,
                       env={**os.environ, "SMOLVM_STATS": "1"})
    took = time.monotonic() - start
    err = p.stderr.decode(errors="replace")
    print(f"\n### smolvm with SMOLVM_STATS=1: {took:.2f} s wall, exit {p.returncode}\n")
    print("```\n" + err[err.find("smolvm: stats"):].rstrip() + "\n```")


def guest_timeline(name, cmd):
    start = time.monotonic()
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
    took = time.monotonic() - start
    lines = []
    for line in p.stdout.decode(errors="replace").splitlines():
        m = STAMP.match(line.strip())
        if m:
            lines.append((float(m.group(1)), m.group(2)))
    print(f"\n### {name}: {took:.2f} s wall (with the log dump), exit {p.returncode}; "
          f"{len(lines)} kernel messages, the last at {lines[-1][0] if lines else 0:.3f} s\n")
    gaps = sorted(((lines[i][0] - lines[i - 1][0], lines[i - 1][0], lines[i - 1][1],
                    lines[i][1]) for i in range(1, len(lines))), reverse=True)[:GAPS]
    print("| gap s | at s | after | before |\n|---|---|---|---|")
    for gap, at, before, after in gaps:
        print(f"| {gap:.3f} | {at:.3f} | {before[:60]} | {after[:60]} |")
    for t, msg in lines:
        if "Run /init" in msg or "Freeing unused kernel" in msg:
            print(f"\n{msg[:60]} at {t:.3f} s")
    sys.stdout.flush()


def main():
    boot = b.initramfs("profile-boot", "echo BENCH-BOOTED\n")
    dump = b.initramfs("profile-dmesg", "dmesg\necho BENCH-BOOTED\n")
    stats_run(boot)
    guest_timeline("smolvm", b.smolvm_cmd(dump, MEM, append=append()))
    guest_timeline("QEMU pc", b.qemu_cmd("pc", dump, MEM, append=append()))


if __name__ == "__main__":
    main()

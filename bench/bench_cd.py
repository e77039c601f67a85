"""Booting an ISO through EFI firmware: smolvm -cd against QEMU q35, with the same OVMF.

The ISO is the integration tests' (tests/guest/build-efi-iso.sh: grub-mkrescue around the
test guest, GRUB's menu for 1 s, then Linux, whose init prints a marker and powers off).
smolvm boots it with -cd; QEMU with Debian's OVMF_CODE_4M.fd as read-only pflash, a fresh
copy of OVMF_VARS_4M.fd as the second pflash and the ISO as -cdrom. Both are headless with
the serial console on stdout. Each run is timed from starting the VMM to GRUB's first line
on the console and to the guest's init marker; the table has the medians of RUNS runs,
alternating between the VMMs.
"""

import os
import re
import select
import shutil
import statistics
import subprocess
import sys
import time

import benchlib as b

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
MEM = "512M"
OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"
# GRUB's first line: Debian's GRUB greets before its menu; the menu's title if it does not.
STAGES = [("GRUB", re.compile(rb"Welcome to GRUB|GNU GRUB")),
          ("init", re.compile(rb"SMOLVM-EFI-INIT: "))]
TIMEOUT = 600


def efi_iso():
    script = b.REPO / "tests/guest/build-efi-iso.sh"
    r = subprocess.run([str(script)], capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise SystemExit(f"bench_cd: {script} failed:\n{r.stderr}")
    return r.stdout.strip().splitlines()[-1]


def timed_boot(cmd):
    """Runs cmd to its exit; returns {stage: seconds from start} for STAGES."""
    start = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    out, times = b"", {}
    try:
        while True:
            left = start + TIMEOUT - time.monotonic()
            if left <= 0:
                raise SystemExit(f"bench_cd: {' '.join(cmd)} did not finish in {TIMEOUT} s\n"
                                 f"{out[-2000:].decode(errors='replace')}")
            ready, _, _ = select.select([p.stdout], [], [], left)
            chunk = os.read(p.stdout.fileno(), 65536) if ready else b""
            if ready and not chunk:
                break
            now = time.monotonic() - start
            # Search only the new bytes and a tail in which a marker may have been split.
            tail = out[-64:] + chunk
            out += chunk
            for name, pattern in STAGES:
                if name not in times and pattern.search(tail):
                    times[name] = now
        status = p.wait(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    missing = [name for name, _ in STAGES if name not in times]
    if status != 0 or missing:
        raise SystemExit(f"bench_cd: {' '.join(cmd)} exited {status}, never reached {missing}\n"
                         f"{out[-2000:].decode(errors='replace')}")
    return times


def main():
    iso = efi_iso()
    vars_copy = b.WORK / "OVMF_VARS_4M.fd"

    def qemu():
        shutil.copyfile(OVMF_VARS, vars_copy)  # a fresh variable store for every boot
        return [b.QEMU, "-M", "q35", "-enable-kvm", "-cpu", "host", "-nodefaults",
                "-no-user-config", "-m", MEM, "-smp", "1", "-display", "none",
                "-serial", "stdio", "-no-reboot",
                "-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}",
                "-drive", f"if=pflash,format=raw,file={vars_copy}", "-cdrom", iso]

    vmms = [("smolvm -cd", lambda: [b.SMOLVM, "-cd", iso, "-m", MEM, "-smp", "1",
                                    "-nographic", "-no-reboot"]),
            ("QEMU q35 + OVMF", qemu)]
    times = {name: {stage: [] for stage, _ in STAGES} for name, _ in vmms}
    for _ in range(RUNS):
        for name, cmd in vmms:
            t = timed_boot(cmd())
            for stage, _ in STAGES:
                times[name][stage].append(t[stage])
            print(f"bench_cd: {name}: GRUB {t['GRUB']:.1f} s, init {t['init']:.1f} s",
                  file=sys.stderr, flush=True)
    med = {name: {stage: statistics.median(v) for stage, v in st.items()}
           for name, st in times.items()}
    ours, theirs = med["smolvm -cd"], med["QEMU q35 + OVMF"]
    rows = [(name, f"{m['GRUB']:.1f}", f"{m['init']:.1f}") for name, m in med.items()]
    rows.append(("smolvm / QEMU", f"{ours['GRUB'] / theirs['GRUB']:.2f}",
                 f"{ours['init'] / theirs['init']:.2f}"))
    b.table(f"ISO boot through OVMF (median of {RUNS}; -m {MEM} -smp 1, serial console)",
            ["VMM", "seconds to GRUB", "seconds to init"], rows)
    for stage, _ in STAGES:
        b.record("cd", f"seconds to {stage}", ours[stage], theirs[stage],
                 ours[stage] / theirs[stage], "QEMU q35 + OVMF")
    print(f"\nsmolvm / QEMU: {ours['GRUB'] / theirs['GRUB']:.2f} to GRUB, "
          f"{ours['init'] / theirs['init']:.2f} to init (target <= 0.80)")


if __name__ == "__main__":
    main()

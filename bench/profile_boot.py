"""Where boot time goes: smolvm's SMOLVM_STATS table and the guest's own timeline.

Not part of `make bench` (it measures, it does not compare): run it where /dev/kvm boots
Linux, e.g. `scripts/with-kvm.sh /usr/bin/python3 bench/profile_boot.py`. It boots bench_boot's
guest under smolvm with SMOLVM_STATS=1 and prints the table; then boots it under smolvm and
QEMU pc with printk.time=1, has the guest print its kernel log (dmesg) before it powers off,
and prints, for each, the longest gaps between consecutive kernel messages and when
the kernel reached init. BENCH_PROFILE_APPEND adds to the kernel command line of every run;
BENCH_BENCH_PROFILE_SAVE=1 keeps each guest's whole output in build/bench/dmesg-VMM.txt.
BENCH_PROFILE_VERBOSE=1 instead boots each VMM once without quiet, with earlyprintk, and
prints the host's clock at the first guest line of each boot phase. BENCH_PROFILE_QUIET=1
instead boots each quietly BENCH_RUNS times (3), alternating, and prints the host's clock
when init speaks and at exit, and the guest's own uptime when init speaks.
"""

import os
import re
import subprocess
import sys
import time

import benchlib as b

MEM = "512M"
EXTRA_APPEND = os.environ.get("BENCH_PROFILE_APPEND", "")
GAPS = int(os.environ.get("BENCH_PROFILE_GAPS", "12"))
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
    if os.environ.get("BENCH_PROFILE_SAVE"):
        out = b.REPO / "build" / "bench" / f"dmesg-{name.replace(' ', '-')}.txt"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(p.stdout)
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


def stamped_run(name, cmd):
    """The host's clock on every line of the guest's output, as it arrives: the decompressor's
    and the kernel's messages (not quiet, earlyprintk) place their phases in wall time."""
    start = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    stamped, buf = [], b""
    while chunk := os.read(p.stdout.fileno(), 65536):
        buf += chunk
        *done, buf = buf.split(b"\n")
        now = time.monotonic() - start
        stamped += [(now, line.decode(errors="replace").strip()) for line in done]
    p.wait()
    end = time.monotonic() - start
    if os.environ.get("BENCH_PROFILE_SAVE"):
        out = b.REPO / "build" / "bench" / f"stamped-{name.replace(' ', '-')}.txt"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(f"{t:8.3f} {line}\n" for t, line in stamped))
    print(f"\n### {name}, verbose: {end:.2f} s wall; host clock at the first line of each "
          "phase\n")
    print("| wall s | guest line |\n|---|---|")
    keys = ("Decompressing", "Booting the kernel", "Linux version", "Run /init",
            "Freeing unused kernel image (initmem)", "BENCH-BOOTED", "reboot: Power down")
    seen = set()
    for t, line in stamped:
        key = next((k for k in keys if k in line), None)
        if line and (not stamped or t == stamped[0][0] and not seen) or key and key not in seen:
            seen.add(key)
            print(f"| {t:.3f} | {line[:90]} |")
    print(f"| {end:.3f} | (exit {p.returncode}) |")
    sys.stdout.flush()


def quiet_runs(boot, runs):
    """bench_boot's boot (quiet) under both VMMs, alternating: the host's clock when the
    guest's init speaks and when the VMM exits, and the guest's own uptime at that moment."""
    vmms = [("smolvm", b.smolvm_cmd(boot, MEM)), ("QEMU pc", b.qemu_cmd("pc", boot, MEM))]
    print(f"\n### Quiet boots, {runs} alternating runs each\n")
    print("| VMM | wall s at init's echo | guest uptime s then | wall s at exit |")
    print("|---|---|---|---|")
    for _ in range(runs):
        for name, cmd in vmms:
            start = time.monotonic()
            p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT)
            buf, seen = b"", None
            while chunk := os.read(p.stdout.fileno(), 4096):
                buf += chunk
                if seen is None and b"BENCH-UPTIME=" in buf:
                    seen = time.monotonic() - start
            p.wait()
            end = time.monotonic() - start
            m = re.search(rb"BENCH-UPTIME=([0-9.]+)", buf)
            print(f"| {name} | {seen or 0:.2f} | {m.group(1).decode() if m else '?'} | "
                  f"{end:.2f} |", flush=True)


def main():
    boot = b.initramfs("profile-boot", "echo BENCH-BOOTED\n")
    if os.environ.get("BENCH_PROFILE_QUIET"):
        uptime = b.initramfs("profile-uptime", "echo BENCH-UPTIME=$(cut -d' ' -f1 /proc/uptime)\n")
        quiet_runs(uptime, int(os.environ.get("BENCH_RUNS", "3")))
        return
    if os.environ.get("BENCH_PROFILE_VERBOSE"):
        verbose = append("earlyprintk=ttyS0").replace(" quiet", "")
        stamped_run("smolvm", b.smolvm_cmd(boot, MEM, append=verbose))
        stamped_run("QEMU pc", b.qemu_cmd("pc", boot, MEM, append=verbose))
        return
    dump = b.initramfs("profile-dmesg", "dmesg\necho BENCH-BOOTED\n")
    stats_run(boot)
    guest_timeline("smolvm", b.smolvm_cmd(dump, MEM, append=append()))
    guest_timeline("QEMU pc", b.qemu_cmd("pc", dump, MEM, append=append()))


if __name__ == "__main__":
    main()

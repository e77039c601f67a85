"""Shared pieces of smolvm's benchmarks: the test guest, timed runs, tables, memory.

Benchmarks run inside the nested KVM machine (make bench), one VMM after the other on the
same guest, and print markdown tables of smolvm against QEMU.
"""

import json
import math
import os
import pathlib
import statistics
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
import vmtest  # noqa: E402  (the test guest and its initramfs builder)

SMOLVM = os.environ.get("SMOLVM", str(REPO / "smolvm"))
QEMU = "qemu-system-x86_64"
APPEND = "console=ttyS0 quiet panic=-1"
WORK = pathlib.Path(os.environ.get("BENCH_DIR", "/tmp/smolvm-bench"))
WORK.mkdir(parents=True, exist_ok=True)


def guest(name, kind="cloud"):
    """A file of a test guest: kind "cloud" (every bench's) or "std" (the display's)."""
    return vmtest.guest_dir(kind) / name


def initramfs(name, script, files=None, kind="cloud"):
    """The test guest's initramfs with /test.sh = script, under WORK."""
    return vmtest.make_initramfs(WORK / f"{name}.img", script, files, kind)


def smolvm_cmd(initrd, mem="512M", smp=1, extra=(), kernel="bzImage", append=APPEND,
               kind="cloud"):
    return [SMOLVM, "-kernel", str(guest(kernel, kind)), "-initramfs", str(initrd),
            "-append", append, "-m", mem, "-smp", str(smp), "-no-reboot", *extra]


def qemu_cmd(machine, initrd, mem="512M", smp=1, extra=(), kernel="bzImage", append=APPEND,
             kind="cloud", display="none"):
    return [QEMU, "-M", machine, "-enable-kvm", "-cpu", "host", "-nodefaults", "-no-user-config",
            "-m", mem, "-smp", str(smp), "-display", display, "-serial", "stdio",
            "-kernel", str(guest(kernel, kind)), "-initrd", str(initrd), "-append", append,
            "-no-reboot", *extra]


def run(cmd, timeout=300):
    """Runs a VMM to completion; returns (seconds, output). Fails loudly on error."""
    start = time.monotonic()
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    elapsed = time.monotonic() - start
    out = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
    if p.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd)} exited {p.returncode}\n{out[-2000:]}")
    return elapsed, out


def median_run(cmd, runs, timeout=300):
    return statistics.median(run(cmd, timeout)[0] for _ in range(runs))


def own_rss_kib(pid, guest_ram_bytes):
    """Resident memory of pid outside its guest-RAM mapping(s): every mapping counts except
    anonymous ones at least as large as guest RAM (the RAM itself, in smolvm and QEMU).
    smolvm's VM runs in a child of its supervising first process, forked from it and mapping
    the same libraries: the child counts whole, the supervisor only its private pages, so
    no page is counted twice."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = [int(c) for c in f.read().split()]
    except FileNotFoundError:
        children = []
    if not children:
        return _own_kib(pid, guest_ram_bytes, ("Rss:",))
    return _own_kib(pid, guest_ram_bytes, ("Private_Clean:", "Private_Dirty:")) + sum(
        own_rss_kib(c, guest_ram_bytes) for c in children)


def _own_kib(pid, guest_ram_bytes, fields):
    total = 0
    size = 0
    name = ""
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if "-" in parts[0] and len(parts) >= 5:  # a mapping's header line
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                size = hi - lo
                name = parts[5] if len(parts) > 5 else ""
            elif parts[0] in fields:
                is_ram = size >= guest_ram_bytes and name in ("", "[anon]") or "memfd" in name
                if not is_ram:
                    total += int(parts[1])
    return total


def sample_rss(cmd, guest_ram_bytes, marker="BENCH-IDLE", settle=1.0, timeout=120):
    """Starts the VMM, waits for marker in its output (the guest idles after printing it),
    waits settle seconds and returns its own resident memory in KiB; lets it finish."""
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    buf = b""
    deadline = time.monotonic() + timeout
    try:
        while marker.encode() not in buf:
            chunk = os.read(p.stdout.fileno(), 4096)
            if not chunk or time.monotonic() > deadline:
                raise SystemExit(f"bench: no {marker} from {' '.join(cmd)}\n{buf[-2000:]}")
            buf += chunk
        time.sleep(settle)
        return own_rss_kib(p.pid, guest_ram_bytes)
    finally:
        p.kill()
        p.wait()


def table(title, header, rows):
    """Prints a markdown table."""
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    sys.stdout.flush()


def record(part, row, smolvm, qemu, ratio, against="QEMU"):
    """One row for the summary that ends `make bench` (bench/summary.py), appended as a JSON
    line to $BENCH_ROWS when set (bench/run.sh sets it). smolvm and qemu are the figures as
    the part's table shows them, ratio the part's own ratio (bench/targets.py says which way
    is better); None, or NaN, where every run failed."""
    path = os.environ.get("BENCH_ROWS")
    if not path:
        return

    def clean(v):
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)

    with open(path, "a") as f:
        f.write(json.dumps({"part": part, "row": row, "smolvm": clean(smolvm),
                            "qemu": clean(qemu), "ratio": clean(ratio),
                            "against": against}) + "\n")

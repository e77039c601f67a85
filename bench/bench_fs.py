#!/usr/bin/python3
"""virtio-fs benchmark: smolvm's in-process FUSE server against QEMU with virtiofsd.

Runs where /dev/kvm can boot Linux (make bench puts it inside the nested machine). Both VMMs
boot the same test guest (tests/guest/build-guest.sh) with the same memory and CPU count and
share a fresh copy of the same directory; the guest times each row itself and prints it:

  write    dd of a 256 MiB file, bs=1M, then fsync (MB/s)
  read     dd of it back after dropping the guest's caches (MB/s)
  find     find + stat over a tree of 10,000 files made on the host before boot (s)
  create   2,000 small files made with echo (s)
  delete   the same 2,000 removed with rm -r (s)

Each row runs in each cache mode, smolvm's -share ...,cache=MODE against virtiofsd's in the
same mode: auto (1 s for names and attributes, no data kept across opens), always (a day, data
and listings kept across opens) and never (nothing kept, direct I/O, no READDIRPLUS), which
Debian's virtiofsd (QEMU 7.2's C daemon) calls none.

QEMU runs as Debian ships it: -M pc -cpu host -enable-kvm -nodefaults, guest RAM in a shared
memfd, vhost-user-fs-pci with queue-size=1024, /usr/lib/qemu/virtiofsd -o cache=MODE.

Prints a markdown table: row (named with its mode, "cache=always: find + stat, ..."), smolvm,
QEMU+virtiofsd, ratio (> 1: smolvm is faster), target (issue 15: at least 1.0x on every row,
1.3x on the metadata rows with cache=always) and whether it is met; each cell the median of
--runs boots. Usage: bench/bench_fs.py [--runs N] [--only smolvm|qemu] [--modes auto,...]
"""

import argparse
import os
import pathlib
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
import vmtest  # noqa: E402  (the test guest and its initramfs)

import benchlib  # noqa: E402  (record: the summary's rows)

TAG = "bench"
MEM = "1G"
CPUS = 1
FILE_MB = 256
TREE_DIRS, TREE_FILES = 100, 100  # 10,000 files
SMALL_FILES = 2000
VIRTIOFSD = "/usr/lib/qemu/virtiofsd"
TIMEOUT = 1800

# Rows: name, unit, whether bigger is better, whether a metadata row.
ROWS = [
    ("write 256 MiB (dd bs=1M)", "MB/s", True, False),
    ("read 256 MiB (dd bs=1M, cold)", "MB/s", True, False),
    ("find + stat, 10,000 files", "s", False, True),
    ("create 2,000 files", "s", False, True),
    ("delete 2,000 files", "s", False, True),
]

# smolvm's cache modes and what Debian's virtiofsd calls each.
MODES = ["auto", "always", "never"]
VIRTIOFSD_CACHE = {"auto": "auto", "always": "always", "never": "none"}


def target(mode, metadata):
    """Issue 15's target ratio for a row."""
    return 1.3 if mode == "always" and metadata else 1.0

# The guest's side. /proc/uptime has 10 ms steps, fine for rows that take seconds.
GUEST_SCRIPT = r"""
now() { cut -d' ' -f1 /proc/uptime; }
took() { echo "$2 $1" | awk '{ printf "%.3f", $1 - $2 }'; }
mkdir -p /mnt
mount -t virtiofs {tag} /mnt || { echo "BENCH-ERROR=mount"; exit 1; }
cd /mnt
t=$(now); dd if=/dev/zero of=/mnt/big bs=1M count={mb} conv=fsync 2>/dev/null; t=$(took $t $(now))
echo "BENCH-ROW0=$(echo {mb} $t | awk '{ printf "%.1f", $1 * 1.048576 / $2 }')"
sync; echo 3 > /proc/sys/vm/drop_caches
t=$(now); dd if=/mnt/big of=/dev/null bs=1M 2>/dev/null; t=$(took $t $(now))
echo "BENCH-ROW1=$(echo {mb} $t | awk '{ printf "%.1f", $1 * 1.048576 / $2 }')"
rm /mnt/big
sync; echo 3 > /proc/sys/vm/drop_caches
t=$(now); n=$(find /mnt/tree | xargs stat | grep -c '^ *File:'); t=$(took $t $(now))
echo "BENCH-ROW2=$t"
echo "BENCH-STATLINES=$n"
mkdir /mnt/small
t=$(now); i=0
while [ $i -lt {small} ]; do echo x > /mnt/small/f$i; i=$((i + 1)); done
t=$(took $t $(now))
echo "BENCH-ROW3=$t"
echo "BENCH-CREATED=$(ls /mnt/small | wc -l)"
t=$(now); rm -r /mnt/small; t=$(took $t $(now))
echo "BENCH-ROW4=$t"
cd /
umount /mnt
echo BENCH-DONE
"""


def make_tree(root):
    tree = root / "tree"
    for d in range(TREE_DIRS):
        sub = tree / f"d{d:03}"
        sub.mkdir(parents=True)
        for f in range(TREE_FILES):
            (sub / f"f{f:03}").write_bytes(b"x" * (f % 7))


def fresh_share(work, name):
    share = work / name
    if share.exists():
        shutil.rmtree(share)
    share.mkdir()
    make_tree(share)
    return share


def parse(output, who):
    print(f"bench_fs: {who}: " + " ".join(re.findall(r"^BENCH-\S+", output, re.M)),
          file=sys.stderr)
    values = []
    for i in range(len(ROWS)):
        m = re.search(rf"^BENCH-ROW{i}=([0-9.]+)\r?$", output, re.M)
        if not m:
            raise SystemExit(f"bench_fs: {who}: no row {i} in the guest's output:\n"
                             f"{output[-3000:]}")
        values.append(float(m.group(1)))
    stat_lines = re.search(r"^BENCH-STATLINES=(\d+)", output, re.M)
    created = re.search(r"^BENCH-CREATED=(\d+)", output, re.M)
    # Every file and directory must have been seen.
    want = 1 + TREE_DIRS + TREE_DIRS * TREE_FILES
    if not stat_lines or int(stat_lines.group(1)) != want:
        raise SystemExit(f"bench_fs: {who}: stat saw {stat_lines and stat_lines.group(1)} "
                         f"lines, expected {want}")
    if not created or int(created.group(1)) != SMALL_FILES:
        raise SystemExit(f"bench_fs: {who}: created {created and created.group(1)} files")
    return values


def run_smolvm(initramfs, share, mode):
    args = [vmtest.SMOLVM, "-kernel", vmtest.guest_file("bzImage"), "-initramfs", initramfs,
            "-append", vmtest.BASE_APPEND, "-m", MEM, "-smp", str(CPUS), "-no-reboot",
            "-share", TAG, f"{share},cache={mode}"]
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=TIMEOUT,
                       stdin=subprocess.DEVNULL)
    if r.returncode != 0 or "BENCH-DONE" not in r.stdout:
        raise SystemExit(f"bench_fs: smolvm failed ({r.returncode}):\n{r.stdout[-3000:]}\n"
                         f"{r.stderr[-2000:]}")
    return parse(r.stdout, "smolvm")


def run_qemu(initramfs, share, work, mode):
    sock = work / "virtiofsd.sock"
    if sock.exists():
        sock.unlink()
    fsd = subprocess.Popen([VIRTIOFSD, f"--socket-path={sock}", "-o", f"source={share}",
                            "-o", f"cache={VIRTIOFSD_CACHE[mode]}"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not sock.exists():
            if fsd.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"bench_fs: virtiofsd did not start: "
                                 f"{fsd.stderr.read().decode(errors='replace')}")
            time.sleep(0.05)
        args = ["qemu-system-x86_64", "-M", "pc", "-cpu", "host", "-enable-kvm", "-nodefaults",
                "-display", "none", "-no-reboot", "-m", MEM, "-smp", str(CPUS),
                "-object", f"memory-backend-memfd,id=mem,size={MEM},share=on",
                "-numa", "node,memdev=mem",
                "-chardev", f"socket,id=char0,path={sock}",
                "-device", f"vhost-user-fs-pci,queue-size=1024,chardev=char0,tag={TAG}",
                "-kernel", str(vmtest.guest_file("bzImage")), "-initrd", str(initramfs),
                "-append", vmtest.BASE_APPEND, "-serial", "stdio"]
        r = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT,
                           stdin=subprocess.DEVNULL)
        if r.returncode != 0 or "BENCH-DONE" not in r.stdout:
            raise SystemExit(f"bench_fs: qemu failed ({r.returncode}):\n{r.stdout[-3000:]}\n"
                             f"{r.stderr[-2000:]}")
        return parse(r.stdout, "qemu")
    finally:
        if fsd.poll() is None:
            fsd.terminate()
        try:
            fsd.wait(timeout=10)
        except subprocess.TimeoutExpired:
            fsd.kill()
            fsd.wait()


def show(value, unit):
    """A table cell: '-' for a side not run, 'failed' for one whose every run failed."""
    if value is None:
        return "-"
    if not value:
        return "failed"
    return f"{value:.1f} {unit}" if unit == "MB/s" else f"{value:.2f} {unit}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "2")),
                    help="boots per VMM (median is shown)")
    ap.add_argument("--only", choices=["smolvm", "qemu"], help="run one side only")
    ap.add_argument("--modes", default=",".join(MODES),
                    help="cache modes to run, comma-separated (default: all three)")
    opts = ap.parse_args()
    modes = opts.modes.split(",")
    if any(m not in MODES for m in modes):
        raise SystemExit(f"bench_fs: --modes {opts.modes}: each one of {', '.join(MODES)}")
    problem = vmtest.kvm_problem()
    if problem:
        raise SystemExit(f"bench_fs: cannot boot a guest here: {problem} "
                         "(run through scripts/with-kvm.sh)")
    work = pathlib.Path(tempfile.mkdtemp(prefix="bench_fs."))
    try:
        script = GUEST_SCRIPT.replace("{tag}", TAG).replace("{mb}", str(FILE_MB)).replace(
            "{small}", str(SMALL_FILES))
        initramfs = vmtest.make_initramfs(work / "initramfs.img", script)
        sides = [opts.only] if opts.only else ["smolvm", "qemu"]
        results = {(mode, side): [] for mode in modes for side in sides}
        # Rounds of every mode and side in turn, so a slow spell of the host hits them alike.
        for run in range(opts.runs):
            for mode in modes:
                for side in sides:
                    share = fresh_share(work, "share")
                    start = time.monotonic()
                    try:
                        if side == "smolvm":
                            values = run_smolvm(initramfs, share, mode)
                        else:
                            values = run_qemu(initramfs, share, work, mode)
                    except (SystemExit, subprocess.TimeoutExpired) as e:
                        # One broken boot (the nested machine has its moments) costs that
                        # run, not the whole benchmark; "failed" if no run succeeds.
                        print(f"bench_fs: run {run + 1} cache={mode} {side} failed: {e}",
                              file=sys.stderr, flush=True)
                        continue
                    print(f"bench_fs: run {run + 1} cache={mode} {side}: {values} "
                          f"({time.monotonic() - start:.0f} s)", file=sys.stderr, flush=True)
                    results[(mode, side)].append(values)
        med = {key: [statistics.median(v[i] for v in runs) if runs else 0
                     for i in range(len(ROWS))]
               for key, runs in results.items()}
        print(f"| virtio-fs, {opts.runs} run(s), median | smolvm | QEMU+virtiofsd | ratio "
              "| target |")
        print("|---|---|---|---|---|")
        for mode in modes:
            for i, (row, unit, bigger, metadata) in enumerate(ROWS):
                name = f"cache={mode}: {row}"
                s = med[(mode, "smolvm")][i] if (mode, "smolvm") in med else None
                q = med[(mode, "qemu")][i] if (mode, "qemu") in med else None
                ratio = (s / q if bigger else q / s) if s and q else None
                want = target(mode, metadata)
                verdict = "-" if ratio is None else "met" if ratio >= want else "missed"
                shown = f"{ratio:.2f}x" if ratio is not None else "-"
                print(f"| {name} | {show(s, unit)} | {show(q, unit)} | {shown} "
                      f"| >= {want:.1f}x {verdict} |")
                benchlib.record("fs", f"{name} ({unit})", s or None, q or None, ratio,
                                "QEMU+virtiofsd")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

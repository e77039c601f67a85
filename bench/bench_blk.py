#!/usr/bin/python3
"""virtio-blk benchmark: smolvm against QEMU on the same raw image, both with cache=none.

Runs where /dev/kvm can boot Linux (make bench puts it inside the nested machine). Both
VMMs boot the same test guest (tests/guest/build-guest.sh) with -m 1G -smp 2 and one disk,
a 512 MiB raw image written full of zeroes beforehand (every block allocated, so reads
reach the file system rather than a hole), and the guest times each row itself:

  seq read     busybox dd if=/dev/vda bs=1M count=256 iflag=direct (MiB/s)
  seq write    busybox dd of=/dev/vda bs=1M count=256 oflag=direct (MiB/s)
  rand read    randread (tests/guest/tools): 4 KiB O_DIRECT reads at random offsets for
               8 s, one thread (queue depth 1), then four threads (depth 4) (IOPS)

Both open the image with O_DIRECT: where the work directory's file system has none (the
nested machine's /tmp is tmpfs), they get a loop device over the image file instead. QEMU runs
as `-M pc -cpu host -enable-kvm -nodefaults -drive file=IMG,if=virtio,format=raw,
cache=none,aio=threads`; smolvm as `-drive file=IMG,format=raw,cache=none`.

Each guest repeats the dd rows REPEAT times; each VMM boots --runs times, alternating.
Prints a markdown table: row, smolvm, QEMU, ratio (smolvm / QEMU: > 1 is smolvm faster),
each cell the best run. Usage: bench/bench_blk.py [--runs N] [--only smolvm|qemu]
"""

import argparse
import contextlib
import os
import re
import subprocess
import sys
import tempfile

import benchlib as b

IMAGE_MIB = 512
SEQ_MIB = 256
REPEAT = 3
RAND_SECONDS = 8
MEM = "1G"
SMP = 2

GUEST = r"""
now() { cut -d' ' -f1 /proc/uptime; }
for i in $(seq REPEAT); do
    t0=$(now); dd if=/dev/vda of=/dev/null bs=1M count=SEQ iflag=direct 2>/dev/null; t1=$(now)
    echo "ROW seqread $(awk "BEGIN { print SEQ / ($t1 - $t0) }")"
    t0=$(now); dd if=/dev/zero of=/dev/vda bs=1M count=SEQ oflag=direct 2>/dev/null; t1=$(now)
    echo "ROW seqwrite $(awk "BEGIN { print SEQ / ($t1 - $t0) }")"
done
/randread -t RAND /dev/vda | sed -n 's/.* iops=\([0-9.]*\).*/ROW randread1 \1/p'
/randread -t RAND -j 4 /dev/vda | sed -n 's/.* iops=\([0-9.]*\).*/ROW randread4 \1/p'
echo BENCH-DONE
"""

ROWS = [
    ("seqread", "seq read 1 MiB, O_DIRECT (MiB/s)"),
    ("seqwrite", "seq write 1 MiB, O_DIRECT (MiB/s)"),
    ("randread1", "rand read 4 KiB, 1 thread (IOPS)"),
    ("randread4", "rand read 4 KiB, 4 threads (IOPS)"),
]


def direct_io_works(directory):
    path = os.path.join(directory, ".odirect-probe")
    try:
        fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_DIRECT, 0o600)
    except OSError:
        return False
    os.close(fd)
    os.unlink(path)
    return True


@contextlib.contextmanager
def disk_image(work):
    """The raw image both VMMs get, on something that takes O_DIRECT: a file in work, or,
    where work has no O_DIRECT (the nested machine's /tmp is tmpfs, and its kernel has no
    ext4 loaded), a loop device over a file in work."""
    path = os.path.join(work, "disk.img")
    make_image(path)
    if direct_io_works(work):
        yield path
        return
    if os.geteuid() != 0:
        raise SystemExit(f"bench_blk: {work} has no O_DIRECT and only root can use a loop device")
    loop = subprocess.run(["losetup", "--find", "--show", path], check=True,
                          capture_output=True, text=True).stdout.strip()
    print(f"bench_blk: the image is {loop} over {path} ({work} has no O_DIRECT)",
          file=sys.stderr)
    try:
        yield loop
    finally:
        subprocess.run(["losetup", "-d", loop], check=False)


def make_image(path):
    chunk = b"\0" * (1 << 20)
    with open(path, "wb") as f:
        for _ in range(IMAGE_MIB):
            f.write(chunk)
        f.flush()
        os.fsync(f.fileno())


def parse(output, who):
    rows = {}
    for name, value in re.findall(r"^ROW (\S+) ([0-9.]+)\s*$", output, re.M):
        rows.setdefault(name, []).append(float(value))
    missing = [name for name, _ in ROWS if name not in rows]
    if missing or "BENCH-DONE" not in output:
        raise SystemExit(f"bench_blk: {who}: no result for {missing}\n{output[-3000:]}")
    return {name: max(values) for name, values in rows.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "3")))
    ap.add_argument("--only", choices=["smolvm", "qemu"], help="run one side only")
    opts = ap.parse_args()

    randread = b.REPO / "build" / "guest-tools" / "randread"
    if not randread.is_file():
        raise SystemExit(f"bench_blk: no {randread}: run make guest-tools first")
    script = (GUEST.replace("REPEAT", str(REPEAT)).replace("SEQ", str(SEQ_MIB))
              .replace("RAND", str(RAND_SECONDS)))
    initrd = b.initramfs("blk", script, {"randread": (randread.read_bytes(), 0o755)})

    with tempfile.TemporaryDirectory(dir=b.WORK) as work, disk_image(work) as img:
        cmds = {
            "smolvm": b.smolvm_cmd(initrd, MEM, SMP,
                                   ["-drive", f"file={img},format=raw,cache=none"]),
            "qemu": b.qemu_cmd("pc", initrd, MEM, SMP,
                               ["-drive", f"file={img},if=virtio,format=raw,cache=none,"
                                "aio=threads"]),
        }
        sides = [opts.only] if opts.only else ["smolvm", "qemu"]
        results = {side: [] for side in sides}
        for run in range(opts.runs):
            for side in sides:
                try:
                    seconds, out = b.run(cmds[side], timeout=900)
                    values = parse(out, side)
                except SystemExit as e:
                    # One broken boot (the nested machine has its moments) costs that run,
                    # not the whole benchmark; the table says "failed" if no run succeeds.
                    print(f"bench_blk: {side} run {run + 1} failed: {e}", file=sys.stderr)
                    continue
                results[side].append(values)
                print(f"bench_blk: {side} run {run + 1}: " +
                      ", ".join(f"{k} {v:.1f}" for k, v in sorted(values.items())) +
                      f" ({seconds:.0f} s)", file=sys.stderr, flush=True)

    best = {side: {name: max((r[name] for r in runs), default=None) for name, _ in ROWS}
            for side, runs in results.items()}
    rows = []
    for name, label in ROWS:
        s = best.get("smolvm", {}).get(name)
        q = best.get("qemu", {}).get(name)
        ratio = f"{s / q:.2f}" if s and q else "-"
        rows.append((label, f"{s:.1f}" if s else "failed", f"{q:.1f}" if q else "failed",
                     ratio))
        b.record("blk", label, s, q, s / q if s and q else None)
    b.table(f"virtio-blk, cache=none, {IMAGE_MIB} MiB raw image, -m {MEM} -smp {SMP} "
            f"(best of {opts.runs} boots x {REPEAT} for dd)",
            ["row", "smolvm", "QEMU", "ratio (smolvm/QEMU)"], rows)


if __name__ == "__main__":
    main()

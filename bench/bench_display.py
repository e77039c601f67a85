"""The display: frames per second of a guest redrawing its whole 800 x 600 screen, and each
VMM's own memory with its window open. smolvm `-display sdl` against QEMU `-M pc -device
virtio-gpu-pci,xres=800,yres=600 -device virtio-keyboard-pci -device virtio-tablet-pci
-display sdl` (the input devices because smolvm's window brings the same two), both under
one Xvfb of their own, both booting the std test guest (Debian's standard kernel, with
virtio_gpu; make guest-std).

The guest runs tests/guest/tools/fbloop, which writes every pixel of a frame and then:

  drm    DRM_IOCTL_MODE_DIRTYFB on a dumb buffer (the row to compare): virtio_gpu sends
         TRANSFER_TO_HOST_2D + RESOURCE_FLUSH for the whole frame at once. The driver does not
         wait for their answers but does wait for room in the control queue, so once the
         queue has filled (2 s not counted) the guest draws at the rate the device takes
         frames in: each counted frame is one the VMM copied out of guest memory into the
         scanout the window shows. smolvm's window then shows the newest at its own pace
         (a slow window never holds up the guest); QEMU presents each flush before it takes
         the next command.
  fbdev  /dev/fb0 through mmap: the frames the guest wrote, and the RESOURCE_FLUSHes its
         driver sent (from its trace events). The fbdev emulation's deferred I/O flushes at
         most 20 times a second whatever the VMM does, so this row shows that cap, not the VMM.

smolvm draws its window with SDL's software renderer into the X server's shared memory;
QEMU takes SDL's default, which under Xvfb is OpenGL on Mesa's llvmpipe. A third column runs
QEMU with SDL_RENDER_DRIVER=software SDL_FRAMEBUFFER_ACCELERATION=0, smolvm's choice, to
tell what the renderer accounts for from what the VMMs do.

Own memory is bench_boot's measure (benchlib.own_rss_kib: resident memory outside the
guest-RAM mapping), sampled with the window showing the last drm frame. Each VMM boots RUNS
times (BENCH_RUNS, default 3), alternating; the table shows the median.
"""

import os
import re
import statistics
import subprocess
import sys
import time

import benchlib as b

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SECONDS = 8
MEM = "512M"
MEM_BYTES = 512 << 20
FBLOOP = b.REPO / "build" / "guest-tools" / "fbloop"
APPEND = b.APPEND + " vt.global_cursor_default=0"

GUEST = rf"""
/fbloop drm {SECONDS} 2 || echo BENCH-FAILED
echo BENCH-IDLE
sleep 3
t=/sys/kernel/tracing
mount -t tracefs nodev $t
echo 1 > $t/events/virtio_gpu/virtio_gpu_cmd_queue/enable
echo > $t/trace
/fbloop fb {SECONDS} 0 || echo BENCH-FAILED
echo "FLUSHES=$(grep -c 'cmd_queue:.*type=0x104' $t/trace)"
echo BENCH-DONE
"""


def run_one(cmd, env, timeout=300):
    """Boots one VMM; returns (output, own RSS KiB sampled at BENCH-IDLE)."""
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, env=env)
    buf, rss = b"", None
    deadline = time.monotonic() + timeout
    try:
        while True:
            chunk = os.read(p.stdout.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
            if rss is None and b"BENCH-IDLE" in buf:
                time.sleep(1)  # the window has drawn the last frame
                rss = b.own_rss_kib(p.pid, MEM_BYTES)
            if time.monotonic() > deadline:
                raise SystemExit(f"bench_display: {cmd[0]} timed out\n{buf[-2000:]}")
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    out = buf.decode(errors="replace")
    if p.returncode != 0 or "BENCH-DONE" not in out or "BENCH-FAILED" in out or rss is None:
        raise SystemExit(f"bench_display: {' '.join(cmd)} exited {p.returncode}\n{out[-3000:]}")
    return out, rss


def parse(out):
    rows = {}
    for mode, w, h, fps in re.findall(r"fbloop: (\w+) (\d+)x(\d+) frames=\d+ seconds=\S+ fps=(\S+)",
                                      out):
        if (w, h) != ("800", "600"):
            raise SystemExit(f"bench_display: the guest's screen is {w}x{h}, not 800x600\n{out}")
        rows[mode] = float(fps)
    m = re.search(r"FLUSHES=(\d+)", out)
    if set(rows) != {"drm", "fb"} or not m:
        raise SystemExit(f"bench_display: no result\n{out[-3000:]}")
    rows["flush"] = int(m.group(1)) / SECONDS
    return rows


def main():
    if not FBLOOP.is_file():
        raise SystemExit(f"bench_display: no {FBLOOP}: run make guest-tools first")
    initrd = b.initramfs("display", GUEST, {"fbloop": (FBLOOP.read_bytes(), 0o755)}, kind="std")
    qemu = b.qemu_cmd("pc", initrd, MEM, append=APPEND, kind="std", display="sdl",
                      extra=["-device", "virtio-gpu-pci,xres=800,yres=600",
                             "-device", "virtio-keyboard-pci", "-device", "virtio-tablet-pci"])
    software = {"SDL_RENDER_DRIVER": "software", "SDL_FRAMEBUFFER_ACCELERATION": "0"}
    # name -> (command, environment added)
    vmms = {
        "smolvm": (b.smolvm_cmd(initrd, MEM, extra=["-display", "sdl"], append=APPEND,
                                kind="std"), {}),
        "QEMU pc": (qemu, {}),
        "QEMU pc, SDL software": (qemu, software),
    }
    try:
        xvfb, display = b.vmtest.start_xvfb()
    except RuntimeError as e:
        raise SystemExit(f"bench_display: {e}")
    env = dict(os.environ, DISPLAY=display)
    for var in ("WAYLAND_DISPLAY", *software):
        env.pop(var, None)
    results = {name: [] for name in vmms}
    try:
        for run in range(RUNS):
            for name, (cmd, extra_env) in vmms.items():
                try:
                    out, rss = run_one(cmd, dict(env, **extra_env))
                    rows = parse(out)
                except SystemExit as e:
                    print(f"bench_display: {name} run {run + 1} failed: {e}", file=sys.stderr)
                    continue
                rows["rss"] = rss
                results[name].append(rows)
                print(f"bench_display: {name} run {run + 1}: drm {rows['drm']:.1f} fps, "
                      f"fbdev {rows['fb']:.1f} fps / {rows['flush']:.1f} flushes/s, "
                      f"own RSS {rss / 1024:.1f} MiB", file=sys.stderr, flush=True)
    finally:
        xvfb.kill()
        xvfb.wait()

    med = {name: {k: statistics.median(r[k] for r in runs) for k in runs[0]}
           for name, runs in results.items() if runs}
    for m in med.values():
        m["rss"] /= 1024  # MiB
    s, q, qs = (med.get(n) for n in vmms)

    def cell(m, key):
        return f"{m[key]:.1f}" if m else "failed"

    def ratio(key, other):
        return f"{s[key] / other[key]:.2f}" if s and other and other[key] else "-"

    rows = [(label, cell(s, key), cell(q, key), cell(qs, key), ratio(key, q), ratio(key, qs))
            for label, key in [("frames/s, DRM dumb buffer + DIRTYFB", "drm"),
                               ("frames/s written to /dev/fb0 (mmap)", "fb"),
                               ("flushes/s of /dev/fb0 (deferred I/O)", "flush"),
                               ("own RSS MiB, window open", "rss")]]
    for label, key in [("frames/s, DRM dumb buffer + DIRTYFB", "drm"),
                       ("frames/s written to /dev/fb0 (mmap)", "fb"),
                       ("flushes/s of /dev/fb0 (deferred I/O)", "flush"),
                       ("own RSS MiB, window open", "rss")]:
        b.record("display", label, s[key] if s else None, q[key] if q else None,
                 s[key] / q[key] if s and q and q[key] else None, "QEMU pc")
    b.table(f"Display: 800x600 full-frame redraws for {SECONDS} s, -display sdl under Xvfb, "
            f"-m {MEM} (median of {RUNS})",
            ["row", "smolvm", "QEMU pc", "QEMU pc, SDL software", "smolvm/QEMU",
             "smolvm/QEMU SDL software"], rows)
    if s and q:
        print(f"\nsmolvm / QEMU frame rate: {s['drm'] / q['drm']:.2f} (target >= 1.0); "
              f"own memory with a window: {s['rss'] / q['rss']:.2f} of QEMU's (target <= 0.5)")


if __name__ == "__main__":
    main()

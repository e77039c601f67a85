"""Boot to poweroff, and each VMM's own memory: smolvm against QEMU microvm and pc.

The same Debian cloud bzImage and busybox initramfs; boot time is the median of RUNS runs
(alternating between the VMMs) from starting the VMM to its exit after the guest's
poweroff. Memory is the VMM's resident memory outside the guest-RAM mapping, sampled while
the booted guest idles.
"""

import os
import statistics
import sys

import benchlib as b

RUNS = int(os.environ.get("BENCH_RUNS", "5"))
MEM = "512M"
MEM_BYTES = 512 << 20


def main():
    boot = b.initramfs("boot", "echo BENCH-BOOTED\n")
    idle = b.initramfs("idle", "echo BENCH-IDLE\nsleep 3\n")
    vmms = [
        ("smolvm", lambda i: b.smolvm_cmd(i, MEM)),
        # The same devices as QEMU's runs, which have no network either (issue 15).
        ("smolvm -net none", lambda i: b.smolvm_cmd(i, MEM, extra=["-net", "none"])),
        ("QEMU microvm", lambda i: b.qemu_cmd("microvm", i, MEM)),
        ("QEMU pc", lambda i: b.qemu_cmd("pc", i, MEM)),
    ]
    # Runs alternate between the VMMs, so a slow minute on the machine hits them alike.
    for _, cmd in vmms:
        b.run(cmd(boot))  # warm the page cache: every VMM reads the same files
    times = {name: [] for name, _ in vmms}
    for _ in range(RUNS):
        for name, cmd in vmms:
            times[name].append(b.run(cmd(boot))[0])
            print(f"bench_boot: {name} {times[name][-1]:.2f} s", file=sys.stderr, flush=True)
    results = {}
    for name, cmd in vmms:
        seconds = statistics.median(times[name])
        rss = b.sample_rss(cmd(idle), MEM_BYTES)
        results[name] = (seconds, rss)
        print(f"bench_boot: {name}: {' '.join(f'{t:.2f}' for t in times[name])} s, "
              f"{rss / 1024:.1f} MiB", file=sys.stderr)
    best_qemu = min(results["QEMU microvm"][0], results["QEMU pc"][0])
    ours = results["smolvm"]
    rows = []
    for name, (seconds, rss) in results.items():
        mine = name.startswith("smolvm")
        ratio = seconds / best_qemu if mine else seconds / ours[0]
        rows.append((name, f"{seconds:.2f}", f"{rss / 1024:.1f}",
                     f"{ratio:.2f}" + (" (vs faster QEMU)" if mine else " (vs smolvm)")))
    b.table(f"Boot to poweroff (median of {RUNS}; -m {MEM} -smp 1) and own memory",
            ["VMM", "seconds", "own RSS MiB", "time ratio"], rows)
    print(f"\nsmolvm / faster QEMU: {ours[0] / best_qemu:.2f} (target <= 0.70); "
          f"smolvm own memory {ours[1] / 1024:.1f} MiB (target <= 3)")
    for name in ("smolvm", "smolvm -net none"):
        seconds, rss = results[name]
        suffix = "" if name == "smolvm" else ", -net none"
        b.record("boot", f"boot to poweroff (s{suffix})", seconds, best_qemu,
                 seconds / best_qemu, "faster QEMU")
        b.record("boot", f"own memory (MiB{suffix})", rss / 1024,
                 results["QEMU pc"][1] / 1024, rss / results["QEMU pc"][1], "QEMU pc")


if __name__ == "__main__":
    main()

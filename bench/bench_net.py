"""Networking: smolvm against QEMU, user-mode (both libslirp) and TAP (QEMU with vhost off).

The same test guest runs tests/guest/tools/nettool servers (bulk sink, bulk source, echo);
the host's client (this file, `client` mode) drives them: over hostfwd ports on 127.0.0.1
for user networking, or straight to the guest's address through a TAP device in a network
namespace of our own. Throughput moves BYTES each way (host to guest, guest to host);
latency is a 64-byte TCP request/response round trip, and a fresh TCP connection with one
exchange. Also: each VMM's own resident memory after the transfers (outside guest RAM).

Other work on the machine swings these figures by several times from minute to minute, so
smolvm and QEMU run side by side and every measurement alternates between them (the order
flipping each round); each figure is the median of RUNS rounds.
"""

import json
import math
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

import benchlib as b

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
# 64 MiB by default: 256 MiB each way for 3 rounds broke the nested machine (issue 15).
BYTES = int(os.environ.get("BENCH_NET_BYTES", str(64 << 20)))
RR_COUNT = 500
CONNECT_COUNT = 100
MEM = "256M"
MEM_BYTES = 256 << 20
NETNS = f"smolvm-bench-{os.getpid()}"
TAPS = ("smbench0", "smbench1")
SINK, SOURCE, ECHO = 5001, 5002, 5003
NETTOOL = b.REPO / "build" / "guest-tools" / "nettool"
METRICS = ("to_guest", "from_guest", "rr", "connect")

UDHCPC = """#!/bin/sh
[ "$1" = bound ] || exit 0
ip addr add "$ip/$mask" dev "$interface"
ip route add default via "$router" dev "$interface"
"""

GUEST = """
ip link set eth0 up
{net}
nettool tcp-sink {sink} >/dev/null &
nettool tcp-source {source} >/dev/null &
nettool tcp-echo {echo} >/dev/null &
sleep 1
echo BENCH-READY
sleep 100000
"""


# --- client mode: runs in the namespace that reaches the guest, prints JSON ------------

def to_guest(host, port, nbytes):
    block = memoryview(bytes(1 << 20))
    start = time.monotonic()
    with socket.create_connection((host, port), timeout=60) as s:
        left = nbytes
        while left:
            n = min(left, len(block))
            s.sendall(block[:n])
            left -= n
        s.shutdown(socket.SHUT_WR)
        answer = s.makefile("rb").readline().decode().strip()
    elapsed = time.monotonic() - start
    if answer != f"OK {nbytes}":
        raise SystemExit(f"bench: the guest's sink answered {answer!r}")
    return nbytes / elapsed / (1 << 20)


def from_guest(host, port, nbytes):
    buf = bytearray(1 << 20)
    got = 0
    start = time.monotonic()
    with socket.create_connection((host, port), timeout=60) as s:
        s.sendall(f"{nbytes}\n".encode())
        while n := s.recv_into(buf):
            got += n
    elapsed = time.monotonic() - start
    if got != nbytes:
        raise SystemExit(f"bench: got {got} of {nbytes} bytes from the guest")
    return nbytes / elapsed / (1 << 20)


def exchange(s, msg):
    s.sendall(msg)
    got = 0
    while got < len(msg):
        n = len(s.recv(len(msg) - got))
        if not n:
            raise SystemExit("bench: the guest's echo closed")
        got += n


def rr_us(host, port, count):
    msg = b"r" * 64
    with socket.create_connection((host, port), timeout=30) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        exchange(s, msg)  # warm up
        start = time.monotonic()
        for _ in range(count):
            exchange(s, msg)
        return (time.monotonic() - start) / count * 1e6


def connect_ms(host, port, count):
    start = time.monotonic()
    for _ in range(count):
        with socket.create_connection((host, port), timeout=30) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            exchange(s, b"c")
    return (time.monotonic() - start) / count * 1e3


def measure_once(metric, t):
    host = t["host"]
    if metric == "to_guest":
        return to_guest(host, t["sink"], BYTES)
    if metric == "from_guest":
        return from_guest(host, t["source"], BYTES)
    if metric == "rr":
        return rr_us(host, t["echo"], RR_COUNT)
    return connect_ms(host, t["echo"], CONNECT_COUNT)


def client(targets):
    """Every metric RUNS times per target, alternating targets (order flipped each round);
    prints the medians, one dict per target, as JSON."""
    results = [{m: [] for m in METRICS} for _ in targets]
    for r in range(RUNS):
        for metric in METRICS:
            order = list(range(len(targets)))
            if r % 2:
                order.reverse()
            for i in order:
                try:
                    value = measure_once(metric, targets[i])
                except (OSError, SystemExit) as e:
                    # A stalled transfer (seen with QEMU's slirp in the nested machine) is a
                    # result too: it shows as "failed" instead of ending the benchmark.
                    print(f"bench_net: {metric} target {i} failed: {e}", file=sys.stderr)
                    value = math.nan
                results[i][metric].append(value)
                print(f"bench_net: round {r + 1} {metric} target {i}: "
                      f"{results[i][metric][-1]:.2f}", file=sys.stderr, flush=True)
    print(json.dumps([{m: median_of_successes(v) for m, v in res.items()} for res in results]))


def median_of_successes(values):
    ok = [v for v in values if not math.isnan(v)]
    return statistics.median(ok) if ok else math.nan


# --- the benchmark ---------------------------------------------------------------------

def sh(*cmd):
    subprocess.run(cmd, check=True, capture_output=True, timeout=30)


def netns_up():
    """Our namespace, with one TAP device per VMM: 10.78.0.1/24 and 10.79.0.1/24."""
    sh("ip", "netns", "add", NETNS)
    ns = ["ip", "netns", "exec", NETNS]
    sh(*ns, "ip", "link", "set", "lo", "up")
    for i, tap in enumerate(TAPS):
        sh(*ns, "ip", "tuntap", "add", "dev", tap, "mode", "tap")
        sh(*ns, "ip", "addr", "add", f"10.{78 + i}.0.1/24", "dev", tap)
        sh(*ns, "ip", "link", "set", tap, "up")
    return ns


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class VM:
    """A VMM running the guest's servers until stopped."""

    def __init__(self, cmd, wrap=()):
        self.cmd = [*wrap, *cmd]
        self.p = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
        self.out = b""
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while chunk := os.read(self.p.stdout.fileno(), 65536):
            self.out += chunk
            if b"BENCH-READY" in self.out:
                self.ready.set()

    def wait_ready(self):
        if not self.ready.wait(180):
            raise SystemExit(f"bench: no BENCH-READY from {' '.join(self.cmd)}\n"
                             f"{self.out[-3000:].decode(errors='replace')}")

    def rss_mib(self):
        """Its own memory; NaN (and why, on stderr) if it is no longer running."""
        if self.p.poll() is not None:
            print(f"bench_net: {' '.join(self.cmd)} ended early (status {self.p.returncode}):\n"
                  f"{self.out[-2000:].decode(errors='replace')}", file=sys.stderr)
            return math.nan
        # Under `ip netns exec` the VMM is the same process (it execs).
        return b.own_rss_kib(self.p.pid, MEM_BYTES) / 1024

    def stop(self):
        self.p.kill()
        self.p.wait()


def images():
    files = {"bin/nettool": (NETTOOL.read_bytes(), 0o755), "etc/udhcpc.sh": (UDHCPC, 0o755)}
    servers = dict(sink=SINK, source=SOURCE, echo=ECHO)
    dhcp = "udhcpc -i eth0 -s /etc/udhcpc.sh -q -n >/dev/null 2>&1"
    user = b.initramfs("net-user", GUEST.format(net=dhcp, **servers), files)
    taps = [b.initramfs(f"net-tap{i}", GUEST.format(
        net=f"ip addr add 10.{78 + i}.0.2/24 dev eth0", **servers), files) for i in range(2)]
    return user, taps


def user_contenders(img):
    """(name, command, target) for smolvm and QEMU, each with its own hostfwd ports."""
    out = []
    for vmm in ("smolvm", "QEMU"):
        ports = free_ports(3)
        fwd = ",".join(f"hostfwd=tcp:127.0.0.1:{h}-:{g}"
                       for h, g in zip(ports, (SINK, SOURCE, ECHO)))
        if vmm == "smolvm":
            cmd = b.smolvm_cmd(img, MEM, extra=["-net", "user," + fwd])
        else:
            cmd = b.qemu_cmd("pc", img, MEM, extra=["-netdev", "user,id=n0," + fwd,
                                                    "-device", "virtio-net-pci,netdev=n0"])
        out.append((vmm, cmd, dict(host="127.0.0.1", sink=ports[0], source=ports[1],
                                   echo=ports[2])))
    return out


def tap_contenders(imgs):
    out = []
    for i, vmm in enumerate(("smolvm", "QEMU")):
        if vmm == "smolvm":
            cmd = b.smolvm_cmd(imgs[i], MEM, extra=["-net", f"tap,ifname={TAPS[i]}"])
        else:
            cmd = b.qemu_cmd("pc", imgs[i], MEM, extra=[
                "-netdev", f"tap,id=n0,ifname={TAPS[i]},script=no,downscript=no,vhost=off",
                "-device", "virtio-net-pci,netdev=n0"])
        out.append((vmm, cmd, dict(host=f"10.{78 + i}.0.2", sink=SINK, source=SOURCE,
                                   echo=ECHO)))
    return out


def compare(contenders, wrap=()):
    """Runs the contenders side by side; returns {name: {metric: value, "rss": MiB}}."""
    vms = [VM(cmd, wrap) for _, cmd, _ in contenders]
    try:
        for vm in vms:
            vm.wait_ready()
        c = subprocess.run([*wrap, sys.executable, __file__, "client",
                            json.dumps([t for _, _, t in contenders])],
                           stdout=subprocess.PIPE, text=True, timeout=7200)
        if c.returncode != 0:
            raise SystemExit(f"bench: client failed:\n{c.stdout}")
        results = json.loads(c.stdout)
        for r, vm in zip(results, vms):
            r["rss"] = vm.rss_mib()
        return {name: r for (name, _, _), r in zip(contenders, results)}
    finally:
        for vm in vms:
            vm.stop()


def cell(fmt, value):
    return "failed" if math.isnan(value) else fmt.format(value)


def main():
    if not os.access(NETTOOL, os.X_OK):
        raise SystemExit(f"bench: no {NETTOOL}: run make guest-tools")
    user_img, tap_imgs = images()
    results = {"user": compare(user_contenders(user_img))}
    ns = netns_up()
    try:
        results["tap"] = compare(tap_contenders(tap_imgs), ns)
    finally:
        subprocess.run(["ip", "netns", "del", NETNS], capture_output=True, timeout=30)

    rows = []
    for mode in ("user", "tap"):
        s, q = results[mode]["smolvm"], results[mode]["QEMU"]
        for key, label, unit, fmt in (
                ("to_guest", "host to guest TCP", "MiB/s", "{:.1f}"),
                ("from_guest", "guest to host TCP", "MiB/s", "{:.1f}"),
                ("rr", "TCP request/response round trip", "µs", "{:.0f}"),
                ("connect", "TCP connect + one exchange", "ms", "{:.2f}"),
                ("rss", "VMM resident memory outside guest RAM", "MiB", "{:.1f}")):
            rows.append((f"{mode}: {label} ({unit})", cell(fmt, s[key]), cell(fmt, q[key]),
                         cell("{:.2f}", s[key] / q[key] if q[key] else math.nan)))
            b.record("net", f"{mode}: {label} ({unit})", s[key], q[key],
                     s[key] / q[key] if q[key] else None)
    b.table(f"Networking (median of {RUNS} alternating rounds; {BYTES >> 20} MiB per "
            f"transfer; -m {MEM} -smp 1; throughput: higher is better, target ratio >= 1.0; "
            "latency and memory: lower is better, target ratio <= 1.0)",
            ["row", "smolvm", "QEMU", "ratio"], rows)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "client":
        client(json.loads(sys.argv[2]))
    else:
        main()

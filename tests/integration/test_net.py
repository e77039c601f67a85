"""Networking: virtio-net with user-mode NAT (libslirp) by default, TAP, or none.

The guest's own virtio_net driver talks to smolvm; every peer is on the host's loopback or in
a network namespace the test makes, never outside. One boot checks the user network from
end to end: DHCP lease, default route, DNS through slirp's forwarder, TCP and UDP to the
host's loopback through the gateway address, bulk transfers both ways, a host peer that
resets mid-transfer, and hostfwd (TCP and UDP) into the guest.

DNS: slirp forwards queries for 192.168.64.3 to the first nameserver in the host's
/etc/resolv.conf. To make that a responder the test controls, smolvm runs in a private
mount namespace (unshare -m) where a resolv.conf naming 127.0.0.1 is bind-mounted over
/etc/resolv.conf, and the test answers on 127.0.0.1:53. That, the netns for TAP and port 53
need root: run the suite through scripts/with-kvm.sh (the nested machine runs it as root).
"""

import os
import re
import socket
import struct
import subprocess
import threading
import time

import pytest

import vmtest
from vmtest import check_output, marker_value

NETTOOL = vmtest.REPO / "build" / "guest-tools" / "nettool"
QUICK = 30  # seconds: no guest boots
DNS_NAME = "smolvm-test.example"
DNS_ADDR = "10.11.12.13"
BULK = 8_000_000

# The virtio feature bits the driver accepted, as a string of 0/1 (bit 0 first).
FEATURES = 'for d in /sys/bus/virtio/devices/*; do [ "$(cat $d/device)" = 0x0001 ] && ' \
           'echo "FEATURES=$(cat $d/features)"; done'


def require_root():
    if os.geteuid() != 0:
        pytest.fail("needs root (port 53, mount and network namespaces): run it through "
                    "scripts/with-kvm.sh, whose nested machine runs the suite as root",
                    pytrace=False)


def nettool():
    if not os.access(NETTOOL, os.X_OK):
        pytest.fail(f"no {NETTOOL}: run make guest-tools", pytrace=False)
    return (NETTOOL.read_bytes(), 0o755)


def feature(features, bit):
    return features[bit] == "1"


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Servers:
    """The host's side of the user-network boot, each on 127.0.0.1 in a thread: a DNS
    responder, a line server, a UDP echo, a bulk sink, and a peer that resets mid-stream."""

    def __init__(self, dns=True):
        self.dns_queries = []
        self.peers = []
        self.socks = []
        self.dns = self._bind(socket.SOCK_DGRAM, 53) if dns else None
        self.line = self._listen()
        self.udp = self._bind(socket.SOCK_DGRAM, 0)
        self.sink = self._listen()
        self.vanish = self._listen()
        for target, sock in ((self._serve_dns, self.dns), (self._serve_udp, self.udp),
                             (self._serve_line, self.line), (self._serve_sink, self.sink),
                             (self._serve_vanish, self.vanish)):
            if sock is None:
                continue
            threading.Thread(target=target, args=(sock,), daemon=True).start()

    def _bind(self, kind, port):
        s = socket.socket(socket.AF_INET, kind)
        s.bind(("127.0.0.1", port))
        self.socks.append(s)
        return s

    def _listen(self):
        s = self._bind(socket.SOCK_STREAM, 0)
        s.listen(8)
        return s

    @staticmethod
    def port(sock):
        return sock.getsockname()[1]

    def close(self):
        for s in self.socks:
            # Wakes the thread blocked on it (close alone would leave the port bound).
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _serve_dns(self, s):
        while True:
            try:
                query, peer = s.recvfrom(512)
            except OSError:
                return
            if peer is None:  # shut down
                return
            labels, i = [], 12
            while i < len(query) and query[i]:
                labels.append(query[i + 1:i + 1 + query[i]].decode(errors="replace"))
                i += 1 + query[i]
            qtype = struct.unpack(">H", query[i + 1:i + 3])[0] if i + 3 <= len(query) else 0
            name = ".".join(labels)
            self.dns_queries.append((name, qtype))
            question = query[12:i + 5]
            answers = b""
            if name == DNS_NAME and qtype == 1:
                answers = (b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) +
                           socket.inet_aton(DNS_ADDR))
            rcode = 0 if name == DNS_NAME else 3
            header = query[:2] + struct.pack(">HHHHH", 0x8180 | rcode, 1, 1 if answers else 0,
                                             0, 0)
            s.sendto(header + question + answers, peer)

    def _serve_udp(self, s):
        while True:
            try:
                msg, peer = s.recvfrom(2048)
            except OSError:
                return
            if peer is None:
                return
            s.sendto(b"host-udp:" + msg, peer)

    def _accept_loop(self, s, handle):
        while True:
            try:
                c, peer = s.accept()
            except OSError:
                return
            self.peers.append(peer)
            with c:
                try:
                    handle(c)
                except OSError:
                    pass

    def _serve_line(self, s):
        def handle(c):
            line = c.makefile("rb").readline().strip()
            c.sendall(b"host-tcp-ok:" + line + b"\n")
        self._accept_loop(s, handle)

    def _serve_sink(self, s):
        def handle(c):
            total = 0
            while chunk := c.recv(1 << 20):
                total += len(chunk)
            c.sendall(f"OK {total}\n".encode())
        self._accept_loop(s, handle)

    def _serve_vanish(self, s):
        def handle(c):
            got = 0
            while got < 200_000:
                chunk = c.recv(65536)
                if not chunk:
                    return
                got += len(chunk)
            # Abort: an RST in the middle of the guest's transfer.
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._accept_loop(s, handle)


def resolv_wrapper(tmp_path):
    """A smolvm that sees a resolv.conf naming 127.0.0.1, in a mount namespace of its own."""
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\n")
    wrapper = tmp_path / "smolvm-resolv"
    wrapper.write_text(
        "#!/bin/sh\n"
        f"exec unshare -m sh -c 'mount --bind \"$0\" /etc/resolv.conf && exec \"$@\"' "
        f"'{resolv}' '{vmtest.smolvm()}' \"$@\"\n")
    wrapper.chmod(0o755)
    return wrapper


def rss_outside_guest_ram(pid, guest_bytes):
    """Resident KiB of the process, leaving out guest RAM (the mapping of its size)."""
    total, size = 0, 0
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
                size = hi - lo
            elif line.startswith("Rss:") and size != guest_bytes:
                total += int(line.split()[1])
    return total


USER_SCRIPT = """
ip link set eth0 up
echo "MAC=$(cat /sys/class/net/eth0/address)"
echo "MTU=$(cat /sys/class/net/eth0/mtu)"
{features}
udhcpc -i eth0 -q -n -t 5 -T 2 >/dev/null 2>&1; echo "DHCP-RC=$?"
echo "ADDR=$(ip -4 -o addr show dev eth0 | awk '{{print $4}}')"
echo "ROUTE=$(ip route show default)"
echo "RESOLV=$(grep nameserver /etc/resolv.conf)"
nslookup {dns_name} 2>&1 | sed -n 's/^Address: *\\([0-9.]*\\)$/DNS-ANSWER=\\1/p'
echo "TCP=$(echo guest-line | nc 192.168.64.1 {line})"
nettool udp-send 192.168.64.1 {udp} ping
nettool tcp-send 192.168.64.1 {sink} {bulk}
nettool tcp-send 192.168.64.1 {vanish} 100000000 >/dev/null 2>&1; echo "VANISH-RC=$?"
echo "TCP-AFTER=$(echo still-here | nc 192.168.64.1 {line})"
echo hostfwd-reply | nc -l -p 7001 >/tmp/fwd-tcp &
fwd=$!
nettool udp-echo 7002 1 &
udp=$!
nettool tcp-sink 7003 &
sleep 1
echo GUEST-READY
wait $fwd
echo "FWD-TCP=$(cat /tmp/fwd-tcp)"
wait $udp
read -r line
echo "GUEST-DONE $line"
"""


def host_bulk_to_guest(port, nbytes):
    """Send nbytes through a hostfwd port to the guest's tcp-sink; returns its answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        block = bytes(range(256)) * 4096
        left = nbytes
        while left:
            n = min(left, len(block))
            s.sendall(block[:n])
            left -= n
        s.shutdown(socket.SHUT_WR)
        return s.makefile("rb").readline().decode().strip()


def test_user_network_end_to_end(guest, tmp_path, monkeypatch):
    require_root()
    servers = Servers()
    fwd_tcp, fwd_udp, fwd_bulk = free_port(), free_port(socket.SOCK_DGRAM), free_port()
    script = USER_SCRIPT.format(
        features=FEATURES, dns_name=DNS_NAME, line=servers.port(servers.line),
        udp=servers.port(servers.udp), sink=servers.port(servers.sink), bulk=BULK,
        vanish=servers.port(servers.vanish))
    net = (f"user,hostfwd=tcp::{fwd_tcp}-:7001,hostfwd=udp:127.0.0.1:{fwd_udp}-:7002,"
           f"hostfwd=tcp:127.0.0.1:{fwd_bulk}-192.168.64.15:7003")
    # Running has no command prefix (run_smolvm's wrap=): the wrapper stands in for smolvm.
    monkeypatch.setattr(vmtest, "SMOLVM", str(resolv_wrapper(tmp_path)))
    try:
        vm = guest.start(script, timeout=150, extra=["-net", net],
                         files={"bin/nettool": nettool()})
        vm.expect("GUEST-READY")
        assert vm.has_mapped("libslirp"), "a user network without libslirp mapped?"
        with socket.create_connection(("127.0.0.1", fwd_tcp), timeout=20) as s:
            s.sendall(b"hello-from-host\n")
            fwd_reply = s.makefile("rb").readline().decode().strip()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.settimeout(10)
            u.sendto(b"udp-in", ("127.0.0.1", fwd_udp))
            udp_reply = u.recvfrom(2048)[0].decode()
        bulk_answer = host_bulk_to_guest(fwd_bulk, BULK)
        rss_kib = rss_outside_guest_ram(vm.vm_pid(), 256 << 20)
        vm.sendline("bye")
        vm.expect("GUEST-DONE")
        assert vm.wait(timeout=30) == 0, vm.log
    finally:
        servers.close()
    out = vm.log
    r = vmtest.Result(0, out, "", 0)

    def val(name):
        return marker_value(r, name)

    assert val("MAC") == "52:54:00:12:34:56", out
    assert val("DHCP-RC") == "0", out
    assert val("ADDR") == "192.168.64.15/24", out
    assert "default via 192.168.64.1 dev eth0" in val("ROUTE"), out
    assert val("RESOLV") == "nameserver 192.168.64.3", out
    # The lease's DNS server answered, through slirp's forwarder, from our responder.
    assert val("DNS-ANSWER") == DNS_ADDR, out
    assert (DNS_NAME, 1) in servers.dns_queries, f"{servers.dns_queries}\n{out}"
    # Guest to host: the gateway is the host's loopback.
    assert val("TCP") == "host-tcp-ok:guest-line", out
    assert val("UDP-REPLY") == "host-udp:ping", out
    assert val("TCP-ANSWER") == f"OK {BULK}", out
    # A peer that reset mid-transfer fails that transfer only.
    assert val("VANISH-RC") != "0", out
    assert val("TCP-AFTER") == "host-tcp-ok:still-here", out
    # Host to guest through hostfwd.
    assert fwd_reply == "hostfwd-reply", out
    assert val("FWD-TCP") == "hello-from-host", out
    assert udp_reply == "echo:udp-in", out
    assert val("UDP-GOT") == "udp-in", out
    assert bulk_answer == f"OK {BULK}", out
    # Offloads: mergeable buffers and checksums (completed by smolvm), libslirp's MTU,
    # and no segmentation (libslirp takes whole packets).
    features = val("FEATURES")
    for bit in (0, 1, 3, 5, 15, 16):  # CSUM, GUEST_CSUM, MTU, MAC, MRG_RXBUF, STATUS
        assert feature(features, bit), f"feature bit {bit} not negotiated: {features}"
    for bit in (7, 8, 11, 12):  # GUEST_TSO4/6, HOST_TSO4/6
        assert not feature(features, bit), f"feature bit {bit} negotiated: {features}"
    assert val("MTU") == "65520", out
    # Bounded queues: megabytes moved both ways, and smolvm stays small beside guest RAM.
    assert rss_kib < 32 * 1024, f"{rss_kib} KiB resident outside guest RAM"


FLOOD_SCRIPT = """
ip link set eth0 up
ip addr add 192.168.64.15/24 dev eth0
ip route add default via 192.168.64.1
nettool udp-flood 192.168.64.1 {sink} {seconds} &
flood=$!
nettool udp-echo 7002 0 >/dev/null &
echo GUEST-READY
i=0
while [ $i -lt {pings} ]; do read -r line; echo "PONG $line"; i=$((i+1)); done
wait $flood
echo "TCP-AFTER=$(echo after-flood | nc 192.168.64.1 {line})"
"""


def test_flood_both_ways_stays_bounded_and_responsive(guest):
    """The guest floods the host with UDP while the host floods a forwarded port the guest
    never reads: the console keeps answering, smolvm's memory stays bounded, and TCP works
    afterwards."""
    seconds, pings = 12, 6
    servers = Servers(dns=False)
    # A host socket that nobody reads: the guest's datagrams pile up and are dropped.
    sink = servers._bind(socket.SOCK_DGRAM, 0)
    fwd_udp = free_port(socket.SOCK_DGRAM)
    script = FLOOD_SCRIPT.format(sink=servers.port(sink), seconds=seconds, pings=pings,
                                 line=servers.port(servers.line))
    stop = threading.Event()

    def flood_in():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            while not stop.is_set():
                for _ in range(64):
                    u.sendto(b"x" * 1400, ("127.0.0.1", fwd_udp))
                time.sleep(0.001)

    try:
        vm = guest.start(script, smp=2, timeout=150,
                         extra=["-net", f"user,hostfwd=udp:127.0.0.1:{fwd_udp}-:7002"],
                         files={"bin/nettool": nettool()})
        vm.expect("GUEST-READY")
        threading.Thread(target=flood_in, daemon=True).start()
        worst = 0.0
        for i in range(pings):
            time.sleep(1)
            start = time.monotonic()
            vm.sendline(f"ping-{i}")
            vm.expect(f"PONG ping-{i}", timeout=30)
            worst = max(worst, time.monotonic() - start)
        rss_kib = rss_outside_guest_ram(vm.vm_pid(), 256 << 20)
        stop.set()
        vm.expect(r"FLOOD-SENT=(\d+)\r?\n", timeout=60)
        sent = int(vm.p.match.group(1))
        vm.expect("TCP-AFTER=(.*)\r?\n", timeout=60)
        after = vm.p.match.group(1).strip()
        assert vm.wait(timeout=30) == 0, vm.log
    finally:
        stop.set()
        servers.close()
    assert sent > 1000, vm.log
    assert after == "host-tcp-ok:after-flood", vm.log
    assert rss_kib < 32 * 1024, f"{rss_kib} KiB resident outside guest RAM"
    print(f"flood: {sent} datagrams out, slowest console answer {worst:.2f} s, "
          f"{rss_kib} KiB resident")


SEND_AT_POWEROFF_SCRIPT = """
ip link set eth0 up
ip addr add 192.168.64.15/24 dev eth0
ip route add default via 192.168.64.1
nettool udp-flood 192.168.64.1 {sink} 120 >/dev/null &
sleep 2
echo "STILL-SENDING=$(kill -0 $! && echo yes)"
"""


def test_guest_powers_off_while_sending(guest):
    """A guest that powers off while a process floods UDP exits. Debian 12's kernel spins for
    ever on a packet sent after it broke its virtio queues for the power-off (QEMU's guests
    too: tests/integration/README.md); the test guest's shutdown (tests/guest/shutdown.sh)
    stops every sender and takes the links down first. Before that, about half such
    power-offs hung (22 of 40 across smolvm and QEMU): three boots."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        script = SEND_AT_POWEROFF_SCRIPT.format(sink=sink.getsockname()[1])
        for _ in range(3):
            vm = guest.start(script, smp=2, extra=["-net", "user"],
                             files={"bin/nettool": nettool()})
            vm.expect("STILL-SENDING=yes")
            assert vm.wait(timeout=60) == 0, vmtest.tail(vm.log)


def test_net_none_has_no_nic(guest):
    r = guest.run("ls /sys/class/net | tr '\\n' ' ' | sed 's/^/NETDEVS=/'; echo", extra=["-net", "none"])
    check_output(r)
    assert marker_value(r, "NETDEVS").split() == ["lo"], r.describe()


def test_net_none_maps_no_libslirp(guest):
    """libslirp and GLib are loaded only for a user network (src/net/slirp_api.h): a VM
    without one never maps them. test_user_network_end_to_end checks the other way."""
    vm = guest.start("echo BOOTED-NO-NET; sleep 60", extra=["-net", "none"])
    vm.expect("BOOTED-NO-NET")
    for lib in ("libslirp", "libglib", "libpcre2"):
        assert not vm.has_mapped(lib), f"{lib} is mapped with -net none"
    vm.kill()


@pytest.mark.parametrize("spec", ["tcp:2222-:22", "tcp::2222:22", "icmp::2222-:22",
                                  "tcp::99999-:22", "tcp::2222-:0", "tcp:1.2.3:2222-:22"])
def test_bad_hostfwd_is_refused(spec):
    r = vmtest.run_smolvm(["-kernel", vmtest.guest_file("bzImage"),
                           "-net", f"user,hostfwd={spec}"], timeout=QUICK)
    vmtest.check_refused(r, 2, f"hostfwd={spec}", hint=True)


@pytest.mark.parametrize("kind", [socket.SOCK_STREAM, socket.SOCK_DGRAM])
def test_hostfwd_port_in_use_is_named(kind):
    vmtest.require_kvm()
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        if kind == socket.SOCK_STREAM:
            s.listen(1)
        port = s.getsockname()[1]
        proto = "tcp" if kind == socket.SOCK_STREAM else "udp"
        r = vmtest.run_smolvm(["-kernel", vmtest.guest_file("bzImage"),
                               "-net", f"user,hostfwd={proto}:127.0.0.1:{port}-:22"],
                              timeout=QUICK)
    assert "in use" in vmtest.check_refused(r, 2, f"host port {port}"), r.describe()


class Netns:
    """A network namespace with a persistent TAP device 10.77.0.1/24, and host-side servers
    in it: a bulk sink (5001), a bulk source (5002) and a UDP echo (5003)."""

    SERVERS = r"""
import socket, sys, threading
def serve(port, handle):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("10.77.0.1", port)); s.listen(4)
    def loop():
        while True:
            c, _ = s.accept()
            with c:
                handle(c)
    threading.Thread(target=loop, daemon=True).start()
def sink(c):
    total = 0
    while chunk := c.recv(1 << 20):
        total += len(chunk)
    c.sendall(f"OK {total}\n".encode())
def source(c):
    block = b"z" * (1 << 20)
    for _ in range(8):
        c.sendall(block)
serve(5001, sink)
serve(5002, source)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("10.77.0.1", 5003))
print("ready", flush=True)
while True:
    m, p = u.recvfrom(2048)
    u.sendto(b"tap-udp:" + m, p)
"""

    def __init__(self):
        self.name = f"smolvm-net-{os.getpid()}"
        self.proc = None
        self._ip("netns", "add", self.name)
        self.run("ip", "link", "set", "lo", "up")
        self.run("ip", "tuntap", "add", "dev", "smtap0", "mode", "tap")
        self.run("ip", "addr", "add", "10.77.0.1/24", "dev", "smtap0")
        self.run("ip", "link", "set", "smtap0", "up")

    @staticmethod
    def _ip(*args):
        subprocess.run(["ip", *args], check=True, capture_output=True, timeout=QUICK)

    def prefix(self):
        return ["ip", "netns", "exec", self.name]

    def run(self, *cmd):
        subprocess.run([*self.prefix(), *cmd], check=True, capture_output=True, timeout=QUICK)

    def start_servers(self):
        self.proc = subprocess.Popen([*self.prefix(), "/usr/bin/python3", "-c", self.SERVERS],
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"

    def close(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=QUICK)


TAP_SCRIPT = """
echo "MAC=$(cat /sys/class/net/eth0/address)"
{features}
ip link set eth0 up
udhcpc -i eth0 -q -n -t 2 -T 1 >/dev/null 2>&1; echo "DHCP-RC=$?"
ip addr add 10.77.0.2/24 dev eth0
ping -c 2 -W 5 10.77.0.1 >/dev/null 2>&1; echo "PING-RC=$?"
nettool tcp-send 10.77.0.1 5001 {bulk}
echo "SOURCE-BYTES=$(nc 10.77.0.1 5002 </dev/null | wc -c)"
nettool udp-send 10.77.0.1 5003 hi
"""


def test_tap_in_a_network_namespace(guest):
    require_root()
    ns = Netns()
    try:
        ns.start_servers()
        args = guest.args(TAP_SCRIPT.format(features=FEATURES, bulk=BULK),
                          files={"bin/nettool": nettool()},
                          extra=["-net", "tap,ifname=smtap0,mac=52:54:00:aa:bb:cc"])
        r = vmtest.run_smolvm(args, timeout=120, wrap=ns.prefix())
    finally:
        ns.close()
    check_output(r)
    assert marker_value(r, "MAC") == "52:54:00:aa:bb:cc", r.describe()
    assert marker_value(r, "DHCP-RC") != "0", "a DHCP server answered on TAP\n" + r.describe()
    assert marker_value(r, "PING-RC") == "0", r.describe()
    assert marker_value(r, "TCP-ANSWER") == f"OK {BULK}", r.describe()
    assert marker_value(r, "SOURCE-BYTES") == str(8 << 20), r.describe()
    assert marker_value(r, "UDP-REPLY") == "tap-udp:hi", r.describe()
    # The host kernel takes and gives checksum and TCP segmentation offloads.
    features = marker_value(r, "FEATURES")
    for bit in (0, 1, 7, 8, 11, 12, 15):
        assert feature(features, bit), f"feature bit {bit} not negotiated: {features}"


def test_tap_without_cap_net_admin_is_refused():
    require_root()
    vmtest.require_kvm()
    ns = Netns()
    try:
        # Making a TAP device takes CAP_NET_ADMIN (attaching to one that has no owner
        # does not): root without it is refused, with a message saying what is missing.
        r = vmtest.run_smolvm(["-kernel", vmtest.guest_file("bzImage"),
                               "-net", "tap,ifname=smtapnew0"], timeout=QUICK,
                              wrap=[*ns.prefix(), "setpriv", "--bounding-set=-net_admin",
                                    "--inh-caps=-net_admin"])
    finally:
        ns.close()
    vmtest.check_refused(r, 2, "smtapnew0", "CAP_NET_ADMIN")
